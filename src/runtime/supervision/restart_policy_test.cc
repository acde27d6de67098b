#include "runtime/supervision/restart_policy.h"

#include <gtest/gtest.h>

#include "runtime/terminal/signal_names.h"
#include "util/error.h"

namespace gocrate {
namespace {

using std::chrono::milliseconds;
using Kind = RestartPolicy::Kind;

TEST(RestartPolicy, ParsesDockersForms) {
  EXPECT_EQ(RestartPolicy::parse("no").kind, Kind::no);
  EXPECT_EQ(RestartPolicy::parse("always").kind, Kind::always);
  EXPECT_EQ(RestartPolicy::parse("unless-stopped").kind, Kind::unless_stopped);
  RestartPolicy limited = RestartPolicy::parse("on-failure:3");
  EXPECT_EQ(limited.kind, Kind::on_failure);
  EXPECT_EQ(limited.max_retries, 3);
  EXPECT_EQ(limited.str(), "on-failure:3");
  EXPECT_EQ(RestartPolicy::parse("on-failure").max_retries, 0);
  EXPECT_EQ(RestartPolicy::parse("on-failure").str(), "on-failure");
}

TEST(RestartPolicy, RefusesWhatDockerRefuses) {
  for (const char* bad : {"sometimes", "always:3", "on-failure:x", "on-failure:-1", "no:1", "On-Failure"}) {
    EXPECT_THROW(RestartPolicy::parse(bad), Error) << bad;
  }
}

TEST(RestartPolicy, DecidesRestarts) {
  RestartPolicy limited = RestartPolicy::parse("on-failure:2");
  EXPECT_TRUE(limited.should_restart(1, 0, false));
  EXPECT_TRUE(limited.should_restart(1, 1, false));
  EXPECT_FALSE(limited.should_restart(1, 2, false));
  EXPECT_FALSE(limited.should_restart(0, 0, false));
  EXPECT_TRUE(RestartPolicy::parse("on-failure").should_restart(3, 1000, false));
  EXPECT_TRUE(RestartPolicy::parse("always").should_restart(0, 5, false));
  EXPECT_FALSE(RestartPolicy::parse("always").should_restart(1, 0, true));
  EXPECT_FALSE(RestartPolicy::parse("no").should_restart(1, 0, false));
}

TEST(RestartPolicy, BootStartsAlwaysAndUnstoppedUnlessStopped) {
  EXPECT_TRUE(RestartPolicy::parse("always").starts_at_boot(true));
  EXPECT_TRUE(RestartPolicy::parse("unless-stopped").starts_at_boot(false));
  EXPECT_FALSE(RestartPolicy::parse("unless-stopped").starts_at_boot(true));
  EXPECT_FALSE(RestartPolicy::parse("on-failure").starts_at_boot(false));
  EXPECT_FALSE(RestartPolicy::parse("no").starts_at_boot(false));
}

TEST(RestartBackoff, DoublesFromOneTenthUpToAMinuteAndResetsAfterTenSeconds) {
  RestartBackoff backoff;
  std::vector<int64_t> delays;
  for (int i = 0; i < 12; ++i) delays.push_back(backoff.next_delay(milliseconds(5)).count());
  EXPECT_EQ(delays,
            (std::vector<int64_t>{100, 200, 400, 800, 1600, 3200, 6400, 12800, 25600, 51200, 60000, 60000}));
  EXPECT_EQ(backoff.next_delay(milliseconds(10000)).count(), 100);
  EXPECT_EQ(backoff.next_delay(milliseconds(9999)).count(), 200);
}

TEST(SignalNames, ParsesNamesAndNumbers) {
  EXPECT_EQ(parse_signal("SIGTERM", "-s"), 15);
  EXPECT_EQ(parse_signal("term", "-s"), 15);
  EXPECT_EQ(parse_signal("KILL", "-s"), 9);
  EXPECT_EQ(parse_signal("10", "-s"), 10);
  EXPECT_EQ(signal_name(3), "SIGQUIT");
  EXPECT_THROW(parse_signal("SIGNOPE", "-s"), Error);
  EXPECT_THROW(parse_signal("0", "-s"), Error);
  EXPECT_THROW(parse_signal("", "-s"), Error);
}

}  // namespace
}  // namespace gocrate
