#include "deploy/kubernetes_manifest.h"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include "util/error.h"

namespace gocrate {
namespace {

TEST(KubernetesManifest, DeploymentServiceAndAutoscaler) {
  WorkloadSpec spec;
  spec.name = "hello";
  spec.image = "registry.local/hello@sha256:abc";
  spec.port = 8080;
  spec.probe_path = "/";
  spec.resources = resources_from_measurement(6 << 20, 0.02);
  auto docs = YAML::LoadAll(kubernetes_manifest(spec));
  ASSERT_EQ(docs.size(), 3u);
  EXPECT_EQ(docs[0]["kind"].as<std::string>(), "Deployment");
  EXPECT_EQ(docs[1]["kind"].as<std::string>(), "Service");
  EXPECT_EQ(docs[2]["kind"].as<std::string>(), "HorizontalPodAutoscaler");
  auto container = docs[0]["spec"]["template"]["spec"]["containers"][0];
  EXPECT_EQ(container["image"].as<std::string>(), spec.image);
  auto security = container["securityContext"];
  EXPECT_TRUE(security["runAsNonRoot"].as<bool>());
  EXPECT_TRUE(security["readOnlyRootFilesystem"].as<bool>());
  EXPECT_FALSE(security["allowPrivilegeEscalation"].as<bool>());
  EXPECT_EQ(security["capabilities"]["drop"][0].as<std::string>(), "ALL");
  EXPECT_EQ(security["seccompProfile"]["type"].as<std::string>(), "RuntimeDefault");
  EXPECT_EQ(container["readinessProbe"]["httpGet"]["port"].as<int>(), 8080);
  EXPECT_EQ(container["resources"]["requests"]["memory"].as<std::string>(), "8Mi");
  EXPECT_EQ(container["resources"]["limits"]["memory"].as<std::string>(), "24Mi");
  EXPECT_EQ(container["resources"]["requests"]["cpu"].as<std::string>(), "30m");
  EXPECT_EQ(docs[1]["spec"]["ports"][0]["port"].as<int>(), 8080);
}

TEST(KubernetesManifest, NoPortNoServiceTcpProbeWhenNoPath) {
  WorkloadSpec spec{.name = "job", .image = "x"};
  auto docs = YAML::LoadAll(kubernetes_manifest(spec));
  ASSERT_EQ(docs.size(), 1u);
  EXPECT_FALSE(docs[0]["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]);
  spec.port = 9000;
  docs = YAML::LoadAll(kubernetes_manifest(spec));
  EXPECT_EQ(
      docs[0]["spec"]["template"]["spec"]["containers"][0]["livenessProbe"]["tcpSocket"]["port"].as<int>(),
      9000);
}

TEST(KubernetesManifest, GocrateUserWhenTheImageHasNone) {
  WorkloadSpec spec{.name = "web", .image = "registry.local/web:v1"};
  spec.user = pod_user_for("", std::nullopt, std::nullopt);
  auto docs = YAML::LoadAll(kubernetes_manifest(spec));
  auto pod = docs[0]["spec"]["template"]["spec"];
  EXPECT_TRUE(pod["securityContext"]["runAsNonRoot"].as<bool>());
  auto security = pod["containers"][0]["securityContext"];
  EXPECT_TRUE(security["runAsNonRoot"].as<bool>());
  EXPECT_EQ(security["runAsUser"].as<int>(), 65532);
  EXPECT_EQ(security["runAsGroup"].as<int>(), 65532);
}

TEST(KubernetesManifest, TheImagesOwnUserIsKept) {
  const std::string passwd =
      "root:x:0:0:root:/root:/bin/sh\n# a comment\nbroken line\napp:x:1001:1002::/home/app:/bin/sh\n"
      "weird:x:notanumber:5::/:/bin/sh\n";
  const std::string group = "root:x:0:\nstaff:x:50:\napp:x:1002:\n";
  struct Case {
    std::string user;
    std::optional<uint32_t> uid, gid;
    bool non_root;
    bool warns;
  };
  std::vector<Case> cases = {
      {"1000:1000", 1000, 1000, true, false},
      {"1000", 1000, std::nullopt, true, false},  // no entry: the runtime's default group
      {"1001", 1001, 1002, true, false},          // primary group from /etc/passwd
      {"app", 1001, 1002, true, false},
      {"app:staff", 1001, 50, true, false},
      {"app:7", 1001, 7, true, false},
      {"0", 0, 0, false, false},  // root's group from /etc/passwd
      {"root", 0, 0, false, false},
      {"0:0", 0, 0, false, false},
      {"nobody", std::nullopt, std::nullopt, true, true},      // not in /etc/passwd
      {"1000:nogroup", 1000, std::nullopt, true, true},        // not in /etc/group
      {"weird", std::nullopt, std::nullopt, true, true},       // a malformed entry is no entry
      {"4294967295", std::nullopt, std::nullopt, true, true},  // not a uid: a name nobody has
      {"-1", std::nullopt, std::nullopt, true, true},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.user);
    PodUser user = pod_user_for(c.user, passwd, group);
    EXPECT_EQ(user.uid, c.uid);
    EXPECT_EQ(user.gid, c.gid);
    EXPECT_EQ(user.non_root, c.non_root);
    EXPECT_EQ(!user.warning.empty(), c.warns) << user.warning;
  }
  // Without /etc/passwd a name stays a name.
  EXPECT_FALSE(pod_user_for("app", std::nullopt, std::nullopt).uid);
}

TEST(KubernetesManifest, SecurityContextFollowsTheUser) {
  WorkloadSpec spec{.name = "web", .image = "registry.local/web:v1"};
  spec.user = pod_user_for("1000:1000", std::nullopt, std::nullopt);
  auto pod = YAML::LoadAll(kubernetes_manifest(spec))[0]["spec"]["template"]["spec"];
  EXPECT_EQ(pod["containers"][0]["securityContext"]["runAsUser"].as<int>(), 1000);
  EXPECT_EQ(pod["containers"][0]["securityContext"]["runAsGroup"].as<int>(), 1000);

  spec.user = pod_user_for("root", "root:x:0:0::/root:/bin/sh\n", std::nullopt);
  pod = YAML::LoadAll(kubernetes_manifest(spec))[0]["spec"]["template"]["spec"];
  EXPECT_FALSE(pod["securityContext"]["runAsNonRoot"]);
  EXPECT_FALSE(pod["containers"][0]["securityContext"]["runAsNonRoot"]);
  EXPECT_EQ(pod["containers"][0]["securityContext"]["runAsUser"].as<int>(), 0);
  // The rest of the hardening stays.
  EXPECT_FALSE(pod["containers"][0]["securityContext"]["allowPrivilegeEscalation"].as<bool>());

  // A name that could not become a number: runAsNonRoot alone, and the
  // reason beside it in the YAML.
  spec.user = pod_user_for("app", std::nullopt, std::nullopt);
  std::string text = kubernetes_manifest(spec);
  pod = YAML::LoadAll(text)[0]["spec"]["template"]["spec"];
  EXPECT_TRUE(pod["containers"][0]["securityContext"]["runAsNonRoot"].as<bool>());
  EXPECT_FALSE(pod["containers"][0]["securityContext"]["runAsUser"]);
  EXPECT_NE(text.find("# the image's USER \"app\" is not in its /etc/passwd"), std::string::npos) << text;
}

TEST(KubernetesManifest, UnpullableImages) {
  EXPECT_NE(unpullable_image_warning("web:v1").find("GOCRATE_DOCKER_REPO"), std::string::npos);
  EXPECT_NE(unpullable_image_warning("web:v1").find("--push"), std::string::npos);
  EXPECT_NE(unpullable_image_warning("team/web").find("team/web"), std::string::npos);
  EXPECT_EQ(unpullable_image_warning("registry.local/team/web@sha256:" + std::string(64, 'a')), "");
  EXPECT_EQ(unpullable_image_warning("localhost:5000/web:v1"), "");
  EXPECT_EQ(unpullable_image_warning("localhost/web:v1"), "");
}

TEST(KubernetesManifest, Names) {
  EXPECT_EQ(workload_name_for("localhost:5000/team/Web_App:v1"), "web-app");
  EXPECT_EQ(workload_name_for("hello"), "hello");
  EXPECT_THROW(workload_name_for("___"), Error);
}

}  // namespace
}  // namespace gocrate
