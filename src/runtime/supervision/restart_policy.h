#pragma once

#include <chrono>
#include <string>
#include <string_view>

namespace gocrate {

// --restart, with Docker's meaning. Without a daemon, "always" and
// "unless-stopped" differ only for `gocrate start --boot` (what a boot-time
// unit runs): it starts "always" containers whatever stopped them, and
// "unless-stopped" ones only when stop or kill did not.
struct RestartPolicy {
  enum class Kind { no, on_failure, always, unless_stopped };
  Kind kind = Kind::no;
  int max_retries = 0;  // on-failure:N; 0: no limit

  // "no", "on-failure", "on-failure:3", "always", "unless-stopped"; anything
  // else is an error naming the value.
  static RestartPolicy parse(std::string_view text);
  std::string str() const;
  std::string_view name() const;

  // Whether a container that exited with `exit_code` after `restarts`
  // restarts is started again. A container stopped by the user never is.
  bool should_restart(int exit_code, int restarts, bool stopped_by_user) const;
  // Whether `start --boot` starts a container that is not running.
  bool starts_at_boot(bool stopped_by_user) const;
};

// Docker's delay before a restart: 100 ms, doubled after each run shorter
// than 10 s up to a minute, and back to 100 ms after a run of 10 s or more.
class RestartBackoff {
 public:
  static constexpr std::chrono::milliseconds kInitial{100};
  static constexpr std::chrono::milliseconds kMaximum{60000};
  static constexpr std::chrono::seconds kResetAfter{10};

  // The delay before the next start, given how long the last run lasted.
  std::chrono::milliseconds next_delay(std::chrono::milliseconds ran_for);

 private:
  std::chrono::milliseconds delay_{0};
};

}  // namespace gocrate
