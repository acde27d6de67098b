#include "runtime/supervision/health.h"

#include <gtest/gtest.h>

#include "util/error.h"
#include "util/error_for_tests.h"

namespace gocrate {
namespace {

using std::chrono::milliseconds;

TEST(Duration, ParsesGoSyntax) {
  EXPECT_EQ(parse_duration("30s", "f").count(), 30000);
  EXPECT_EQ(parse_duration("1m30s", "f").count(), 90000);
  EXPECT_EQ(parse_duration("500ms", "f").count(), 500);
  EXPECT_EQ(parse_duration("1.5s", "f").count(), 1500);
  EXPECT_EQ(parse_duration("2h", "f").count(), 7200000);
  EXPECT_EQ(parse_duration("0", "f").count(), 0);
  for (const char* bad : {"", "5", "s", "5x", "1h2", "-1s", "1..5s"}) {
    EXPECT_THROW(parse_duration(bad, "f"), Error) << bad;
  }
}

TEST(CommandLine, SplitsLikeAShellWithoutExpansions) {
  using Words = std::vector<std::string>;
  EXPECT_EQ(split_command_line("/app/svc check", "f"), (Words{"/app/svc", "check"}));
  EXPECT_EQ(split_command_line("  a  'b c'  \"d \\\"e\\\"\" f\\ g ", "f"),
            (Words{"a", "b c", "d \"e\"", "f g"}));
  EXPECT_EQ(split_command_line("a ''", "f"), (Words{"a", ""}));
  EXPECT_EQ(split_command_line("[\"/bin/x\", \"$HOME\"]", "f"), (Words{"/bin/x", "$HOME"}));
  for (const char* bad : {"", "   ", "'open", "[1, 2]", "[]"}) {
    EXPECT_THROW(split_command_line(bad, "f"), Error) << bad;
  }
}

TEST(HealthFlags, TakeDockersDefaultsAndRefuseNonsense) {
  HealthCheck none = parse_health_check({});
  EXPECT_FALSE(none.enabled());
  HealthCheck http = parse_health_check({.http = "8080/healthz"});
  EXPECT_EQ(http.http_port, 8080);
  EXPECT_EQ(http.http_path, "/healthz");
  EXPECT_EQ(http.interval.count(), 30000);
  EXPECT_EQ(http.timeout.count(), 30000);
  EXPECT_EQ(http.retries, 3);
  EXPECT_EQ(http.test(), (std::vector<std::string>{"HTTP", "8080/healthz"}));
  EXPECT_EQ(parse_health_check({.http = "80"}).http_path, "/");
  HealthCheck cmd = parse_health_check(
      {.command = "/app/check -q", .interval = "1s", .timeout = "2s", .start_period = "0s", .retries = 5});
  EXPECT_EQ(cmd.command, (std::vector<std::string>{"/app/check", "-q"}));
  EXPECT_EQ(cmd.test(), (std::vector<std::string>{"CMD", "/app/check", "-q"}));
  EXPECT_EQ(cmd.interval.count(), 1000);
  EXPECT_EQ(cmd.retries, 5);
  std::vector<HealthFlags> bad = {
      {.command = "x", .http = "80"},
      {.interval = "1s"},
      {.retries = 3},
      {.http = "x/y"},
      {.http = "0/"},
      {.http = "70000/"},
      {.http = "80/a b"},
      {.command = "x", .interval = "0s"},
      {.command = "x", .retries = 0},
      {.command = "x", .timeout = "soon"},
  };
  for (const auto& flags : bad) EXPECT_THROW(parse_health_check(flags), Error);
}

HealthResult result(int code) {
  return {"start", "end", code, code ? "bad" : "good"};
}

TEST(HealthState, FollowsDockersRules) {
  HealthCheck check = parse_health_check({.command = "x", .start_period = "10s", .retries = 2});
  HealthState state;
  EXPECT_EQ(state.status(), "starting");
  // Failures in the start period do not count.
  EXPECT_FALSE(state.record(result(1), milliseconds(1000), check));
  EXPECT_FALSE(state.record(result(1), milliseconds(2000), check));
  EXPECT_EQ(state.failing_streak(), 0);
  EXPECT_EQ(state.status(), "starting");
  EXPECT_TRUE(state.record(result(0), milliseconds(3000), check));
  EXPECT_EQ(state.status(), "healthy");
  // Once healthy, the period no longer protects: retries failures in a row.
  EXPECT_FALSE(state.record(result(1), milliseconds(4000), check));
  EXPECT_EQ(state.status(), "healthy");
  EXPECT_TRUE(state.record(result(1), milliseconds(5000), check));
  EXPECT_EQ(state.status(), "unhealthy");
  EXPECT_EQ(state.failing_streak(), 2);
  EXPECT_EQ(state.log().size(), HealthState::kLogEntries);
  EXPECT_TRUE(state.record(result(0), milliseconds(6000), check));
  EXPECT_EQ(state.failing_streak(), 0);
  state.restart();
  EXPECT_EQ(state.status(), "starting");
}

TEST(HealthState, EndsUnhealthyAfterTheStartPeriodAndCutsOutput) {
  HealthCheck check = parse_health_check({.command = "x", .start_period = "1s", .retries = 1});
  HealthState state;
  EXPECT_FALSE(state.record(result(1), milliseconds(500), check));
  HealthResult long_output = result(1);
  long_output.output.assign(10000, 'x');
  EXPECT_TRUE(state.record(long_output, milliseconds(1500), check));
  EXPECT_EQ(state.status(), "unhealthy");
  EXPECT_EQ(state.log().back().output.size(), HealthState::kOutputLimit);
}

TEST(HealthOnFailure, ParsesPodmansActions) {
  EXPECT_EQ(parse_health_on_failure("none"), HealthOnFailure::none);
  EXPECT_EQ(parse_health_on_failure("kill"), HealthOnFailure::kill);
  EXPECT_EQ(parse_health_on_failure("restart"), HealthOnFailure::restart);
  EXPECT_EQ(parse_health_on_failure("stop"), HealthOnFailure::stop);
  EXPECT_EQ(health_on_failure_name(HealthOnFailure::restart), "restart");
  EXPECT_NE(error_of([] { parse_health_on_failure("reboot"); }).find("none, kill, restart or stop"),
            std::string::npos);
}

}  // namespace
}  // namespace gocrate
