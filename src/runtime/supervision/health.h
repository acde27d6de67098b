#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/terminal/exec.h"
#include "util/fs.h"

namespace gocrate {

// --health-cmd / --health-http and their timing, with Docker's defaults.
struct HealthCheck {
  std::vector<std::string> command;  // run in the container as exec does; 0 = healthy
  uint16_t http_port = 0;            // GET http://127.0.0.1:PORT/PATH in the container's network namespace
  std::string http_path = "/";
  std::chrono::milliseconds interval{30000};
  std::chrono::milliseconds timeout{30000};
  std::chrono::milliseconds start_period{0};
  int retries = 3;

  bool enabled() const { return !command.empty() || http_port != 0; }
  // Docker's Healthcheck.Test: ["CMD", args...], or ["HTTP", "PORT/PATH"].
  std::vector<std::string> test() const;
};

// --health-on-failure (Podman's): what the supervisor does once the check
// makes the container unhealthy. kill: SIGKILL, then its restart policy
// decides; restart: a restart whatever the policy, counted; stop: stopped
// for good, as by `stop`.
enum class HealthOnFailure { none, kill, restart, stop };
// An error naming the value for anything but none, kill, restart and stop.
HealthOnFailure parse_health_on_failure(std::string_view text);
std::string_view health_on_failure_name(HealthOnFailure action);

// The flags as given; parse_health_check() checks them together.
struct HealthFlags {
  std::string command;
  std::string http;
  std::string interval;
  std::string timeout;
  std::string start_period;
  std::optional<int64_t> retries;
};
HealthCheck parse_health_check(const HealthFlags& flags);

// Go's duration syntax, as Docker's flags take it: "30s", "1m30s", "500ms".
std::chrono::milliseconds parse_duration(std::string_view text, std::string_view flag);
// The words of a command line: spaces separate, quotes group, backslash
// escapes; no expansions (images built by gocrate have no shell). A JSON
// array is taken as the words themselves.
std::vector<std::string> split_command_line(std::string_view text, std::string_view flag);

// One check, as `inspect` shows it (Docker's Health.Log).
struct HealthResult {
  std::string start;
  std::string end;
  int exit_code = 0;  // 0 healthy, 1 unhealthy, -1 the check itself failed or timed out
  std::string output;
};

// Docker's rules: "starting" until the first success; failures during the
// start period do not count; `retries` failures in a row make "unhealthy",
// one success "healthy". The last five results are kept.
class HealthState {
 public:
  static constexpr size_t kLogEntries = 5;
  static constexpr size_t kOutputLimit = 4096;

  void restart();  // the container (re)started: starting again
  // Records a result of a check that began `since_start` after the start;
  // true when the status changed.
  bool record(HealthResult result, std::chrono::milliseconds since_start, const HealthCheck& check);

  std::string_view status() const { return status_; }
  int failing_streak() const { return failing_streak_; }
  const std::deque<HealthResult>& log() const { return log_; }
  std::string to_json_text() const;

 private:
  std::string_view status_ = "starting";
  int failing_streak_ = 0;
  std::deque<HealthResult> log_;
};

// Health.{Status, FailingStreak, Log} of <container dir>/health.json, as
// JSON text for inspect; empty when there is none.
std::string read_health_json(const std::string& container_dir);
void write_health_json(const std::string& container_dir, const HealthState& state);

// A check in flight, driven by the supervisor's poll loop: the descriptors
// to watch, then step() on readiness until it is done. A command runs as
// exec does; an HTTP check makes its socket in the container's network
// namespace (by setns of the supervisor's thread there and back) and
// connects to 127.0.0.1.
class HealthProbe {
 public:
  static HealthProbe start_command(const std::string& store_root, const ContainerState& container,
                                   const std::vector<std::string>& command);
  static HealthProbe start_http(int container_pidfd, uint16_t port, const std::string& path);

  HealthProbe(HealthProbe&&) = default;
  HealthProbe& operator=(HealthProbe&&) = default;

  // (fd, events) pairs to poll; the probe is done once step() says so.
  size_t poll_fds(int* fds, short* events) const;
  // Reads what is ready; true once the check has a result.
  bool step();
  // The result; a check that is not done was too slow and is stopped.
  HealthResult finish(std::chrono::milliseconds timeout);

 private:
  HealthProbe() = default;
  void read_output(int fd);
  void advance_http();

  std::string start_;
  std::optional<ExecProcess> process_;
  UniqueFd output_;
  UniqueFd socket_;
  std::string request_;
  size_t sent_ = 0;
  std::string output_text_;
  int exit_code_ = -1;
  bool done_ = false;
};

std::string health_timestamp();

}  // namespace gocrate
