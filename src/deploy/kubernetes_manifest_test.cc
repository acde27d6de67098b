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

TEST(KubernetesManifest, Names) {
  EXPECT_EQ(workload_name_for("localhost:5000/team/Web_App:v1"), "web-app");
  EXPECT_EQ(workload_name_for("hello"), "hello");
  EXPECT_THROW(workload_name_for("___"), Error);
}

}  // namespace
}  // namespace gocrate
