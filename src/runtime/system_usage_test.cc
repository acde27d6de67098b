#include "runtime/system_usage.h"

#include <gtest/gtest.h>

#include "image/config.h"
#include "runtime/container_commit.h"
#include "store/store.h"
#include "store/volumes.h"
#include "util/error_for_tests.h"
#include "util/fs.h"

namespace gocrate {
namespace {

TEST(SystemPrune, RemovesOnlyAnonymousVolumes) {
  TempDir dir;
  std::string root = dir.path() + "/store";
  Store store(root);
  VolumeStore volumes(root);
  volumes.create("named");
  volumes.create("made-without-a-name", {{std::string(kAnonymousVolumeLabel), ""}});
  SystemPruneOptions options;
  options.volumes = true;
  SystemPruneReport report = system_prune(root, options);
  EXPECT_EQ(report.volumes, std::vector<std::string>{"made-without-a-name"});
  EXPECT_TRUE(volumes.find("named"));
  EXPECT_FALSE(volumes.find("made-without-a-name"));
}

TEST(ParseUntil, DurationsAndTimes) {
  time_t now = 1'700'000'000;
  EXPECT_EQ(parse_until("24h", now), now - 86400);
  EXPECT_EQ(parse_until("1h30m", now), now - 5400);
  EXPECT_EQ(parse_until("10s", now), now - 10);
  EXPECT_EQ(parse_until("1600000000", now), 1'600'000'000);
  EXPECT_EQ(parse_until("2020-09-13", now), 1'599'955'200);
  EXPECT_EQ(parse_until("2020-09-13T12:26:40Z", now), 1'600'000'000);
  EXPECT_NE(error_of([&] { parse_until("yesterday", now); }).find("invalid filter until=yesterday"),
            std::string::npos);
  EXPECT_NE(error_of([&] { parse_until("5d", now); }).find("until=5d"), std::string::npos);
}

TEST(CommitChange, DockerfileInstructions) {
  RunConfig c;
  apply_config_change(c, "CMD [\"/app\", \"--serve\"]");
  EXPECT_EQ(*c.cmd, (std::vector<std::string>{"/app", "--serve"}));
  apply_config_change(c, "CMD echo hi");
  EXPECT_EQ(*c.cmd, (std::vector<std::string>{"/bin/sh", "-c", "echo hi"}));
  apply_config_change(c, "ENV A=1 B=two");
  apply_config_change(c, "ENV C three");
  EXPECT_EQ(c.env, (std::vector<std::string>{"A=1", "B=two", "C=three"}));
  apply_config_change(c, "EXPOSE 8080 53/udp");
  EXPECT_TRUE(c.exposed_ports.contains("8080/tcp"));
  EXPECT_TRUE(c.exposed_ports.contains("53/udp"));
  apply_config_change(c, "LABEL team=core");
  EXPECT_EQ(c.labels["team"], "core");
  apply_config_change(c, "user nobody");
  EXPECT_EQ(c.user, "nobody");
  EXPECT_NE(error_of([&] { apply_config_change(c, "RUN rm -rf /"); }).find("RUN is not one commit applies"),
            std::string::npos);
}

}  // namespace
}  // namespace gocrate
