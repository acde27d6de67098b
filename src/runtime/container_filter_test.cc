#include "runtime/container_filter.h"

#include <gtest/gtest.h>

#include "image/image_filter.h"
#include "util/error_for_tests.h"

namespace gocrate {
namespace {

const std::string kDigest = "sha256:" + std::string(64, 'a');

ContainerFacts web() {
  ContainerFacts c;
  c.id = "4f2a9c0e1b7d" + std::string(52, '0');
  c.name = "web";
  c.state = "running";
  c.labels = {{"a", "b"}, {"tier", "front"}};
  c.image_refs = {"web", "web:latest", kDigest};
  c.volumes = {"/srv", "/data"};
  return c;
}

bool keeps(const std::vector<std::string>& flags, const ContainerFacts& c = web()) {
  auto refs_of = [](const std::string& ref) {
    return ref == "web:latest" || ref == "web" ? std::vector<std::string>{"web:latest", kDigest}
                                               : std::vector<std::string>{};
  };
  return ContainerFilter::parse(flags).matches(c, refs_of);
}

TEST(ContainerFilter, KeysAsDockerReadsThem) {
  EXPECT_TRUE(keeps({}));
  EXPECT_TRUE(keeps({"name=web"}));
  EXPECT_TRUE(keeps({"name=^/web$"}));
  EXPECT_TRUE(keeps({"name=e"}));  // a search, as Docker's regexp
  EXPECT_FALSE(keeps({"name=^/we$"}));
  EXPECT_TRUE(keeps({"name=db", "name=web"}));  // one key: any value
  EXPECT_TRUE(keeps({"id=4f2a9c"}));
  EXPECT_FALSE(keeps({"id=ffff"}));
  EXPECT_TRUE(keeps({"status=running"}));
  EXPECT_FALSE(keeps({"status=exited"}));
  EXPECT_TRUE(keeps({"status=exited", "status=running"}));
  EXPECT_TRUE(keeps({"label=a"}));
  EXPECT_TRUE(keeps({"label=a=b"}));
  EXPECT_FALSE(keeps({"label=a=c"}));
  EXPECT_FALSE(keeps({"label=a=b", "label=nope"}));  // labels: every one, as Docker
  EXPECT_TRUE(keeps({"ancestor=web"}));
  EXPECT_TRUE(keeps({"ancestor=web:latest"}));
  EXPECT_TRUE(keeps({"ancestor=aaaaaaaaaaaa"}));
  EXPECT_TRUE(keeps({"ancestor=" + kDigest}));
  EXPECT_FALSE(keeps({"ancestor=other"}));
  EXPECT_FALSE(keeps({"ancestor=bbbb"}));
  EXPECT_FALSE(keeps({"name=web", "status=exited"}));  // different keys: all
  EXPECT_TRUE(keeps({"volume=/data"}));
  EXPECT_TRUE(keeps({"health=none"}));
  ContainerFacts exited = web();
  exited.state = "exited";
  exited.exit_code = 3;
  EXPECT_TRUE(keeps({"exited=3"}, exited));
  EXPECT_FALSE(keeps({"exited=0"}, exited));
  EXPECT_FALSE(keeps({"exited=3"}));
  EXPECT_TRUE(ContainerFilter::parse({"status=exited"}).lists_stopped());
}

TEST(ContainerFilter, BadFiltersAreRefusedNamingThem) {
  EXPECT_EQ(error_of([] { ContainerFilter::parse({"x=1"}); }).substr(0, 19), "invalid filter 'x':");
  EXPECT_NE(error_of([] { ContainerFilter::parse({"status=up"}); }).find("'status=up'"), std::string::npos);
  EXPECT_NE(error_of([] { ContainerFilter::parse({"exited=x"}); }).find("'exited=x'"), std::string::npos);
  EXPECT_NE(error_of([] { ContainerFilter::parse({"name"}); }).find("expected name=value"),
            std::string::npos);
  EXPECT_NE(error_of([] { ContainerFilter::parse({"network=host"}); }).find("not supported"),
            std::string::npos);
  EXPECT_NE(error_of([] { keeps({"name=("}); }).find("not a valid regular expression"), std::string::npos);
}

TEST(ContainerFilter, StatusTextsAsDockers) {
  EXPECT_EQ(human_duration(0), "Less than a second");
  EXPECT_EQ(human_duration(1), "1 second");
  EXPECT_EQ(human_duration(59), "59 seconds");
  EXPECT_EQ(human_duration(90), "About a minute");
  EXPECT_EQ(human_duration(600), "10 minutes");
  EXPECT_EQ(human_duration(3600), "About an hour");
  EXPECT_EQ(human_duration(5 * 3600), "5 hours");
  EXPECT_EQ(human_duration(3 * 86400), "3 days");
  EXPECT_EQ(human_duration(21 * 86400), "3 weeks");
  time_t now = 1000000;
  EXPECT_EQ(docker_status_text("running", "healthy", {}, now - 120, 0, now), "Up 2 minutes (healthy)");
  EXPECT_EQ(docker_status_text("running", "starting", {}, now - 5, 0, now),
            "Up 5 seconds (health: starting)");
  EXPECT_EQ(docker_status_text("exited", "", 1, now - 100, now - 10, now), "Exited (1) 10 seconds ago");
  EXPECT_EQ(docker_status_text("created", "", {}, 0, 0, now), "Created");
  EXPECT_EQ(docker_status_text("paused", "healthy", {}, now - 120, 0, now), "Up 2 minutes (Paused)");
  EXPECT_EQ(parse_rfc3339_seconds("1970-01-01T00:01:40.5Z"), 100);
}

TEST(ImageFilter, ReferenceLabelDanglingBeforeSince) {
  auto created_of = [](const std::string& ref) -> std::optional<time_t> {
    if (ref == "old") return 100;
    return std::nullopt;
  };
  ImageFacts web{"web:v1", {{"a", "b"}}, 200, false};
  ImageFacts hub{"docker.io/library/alpine:3", {}, 50, false};
  auto keeps_image = [&](const std::vector<std::string>& flags, const ImageFacts& i) {
    return ImageFilter::parse(flags, created_of).matches(i);
  };
  EXPECT_TRUE(keeps_image({"reference=web"}, web));
  EXPECT_TRUE(keeps_image({"reference=web:v1"}, web));
  EXPECT_TRUE(keeps_image({"reference=w*"}, web));
  EXPECT_TRUE(keeps_image({"reference=*:v?"}, web));
  EXPECT_FALSE(keeps_image({"reference=web:v2"}, web));
  EXPECT_TRUE(keeps_image({"reference=alpine"}, hub));
  EXPECT_TRUE(keeps_image({"reference=alpine:*"}, hub));
  EXPECT_FALSE(keeps_image({"reference=*"}, ImageFacts{"registry.io/team/app:1", {}, 0, false}));
  EXPECT_TRUE(keeps_image({"reference=*/*/*"}, ImageFacts{"registry.io/team/app:1", {}, 0, false}));
  EXPECT_TRUE(keeps_image({"label=a=b"}, web));
  EXPECT_FALSE(keeps_image({"label=a"}, hub));
  EXPECT_TRUE(keeps_image({"dangling=false"}, web));
  EXPECT_FALSE(keeps_image({"dangling=true"}, web));
  EXPECT_TRUE(keeps_image({"since=old"}, web));
  EXPECT_TRUE(keeps_image({"before=old"}, hub));
  EXPECT_FALSE(keeps_image({"before=old"}, web));
  EXPECT_NE(error_of([&] { keeps_image({"before=nope"}, web); }).find("no such image"), std::string::npos);
  EXPECT_NE(error_of([&] { keeps_image({"dangling=maybe"}, web); }).find("dangling=maybe"),
            std::string::npos);
  EXPECT_EQ(docker_human_size(7500000), "7.5MB");
  EXPECT_EQ(docker_human_size(123456), "123kB");
  EXPECT_EQ(docker_human_size(999), "999B");
  EXPECT_EQ(docker_human_size(1234567890), "1.23GB");
}

}  // namespace
}  // namespace gocrate
