#include "runtime/supervision/restart_policy.h"

#include <algorithm>

#include "util/error.h"
#include "util/strings.h"

namespace gocrate {

RestartPolicy RestartPolicy::parse(std::string_view text) {
  RestartPolicy policy;
  std::string_view name = text.substr(0, text.find(':'));
  bool has_count = name.size() < text.size();
  if (name == "no" || name.empty()) {
    policy.kind = Kind::no;
  } else if (name == "on-failure") {
    policy.kind = Kind::on_failure;
  } else if (name == "always") {
    policy.kind = Kind::always;
  } else if (name == "unless-stopped") {
    policy.kind = Kind::unless_stopped;
  } else {
    fail("invalid --restart \"{}\": use no, on-failure[:MAX_RETRIES], always or unless-stopped", text);
  }
  if (has_count) {
    int64_t count = 0;
    if (policy.kind != Kind::on_failure) {
      fail("invalid --restart \"{}\": only on-failure takes a retry count (on-failure:3)", text);
    }
    if (!parse_int(text.substr(name.size() + 1), 0, 1000000, count)) {
      fail("invalid --restart \"{}\": the retry count must be a number from 0 up (on-failure:3)", text);
    }
    policy.max_retries = static_cast<int>(count);
  }
  return policy;
}

std::string_view RestartPolicy::name() const {
  switch (kind) {
    case Kind::on_failure:
      return "on-failure";
    case Kind::always:
      return "always";
    case Kind::unless_stopped:
      return "unless-stopped";
    case Kind::no:
      break;
  }
  return "no";
}

std::string RestartPolicy::str() const {
  if (kind == Kind::on_failure && max_retries > 0) return fmt::format("on-failure:{}", max_retries);
  return std::string(name());
}

bool RestartPolicy::should_restart(int exit_code, int restarts, bool stopped_by_user) const {
  if (stopped_by_user) return false;
  switch (kind) {
    case Kind::no:
      return false;
    case Kind::on_failure:
      return exit_code != 0 && (max_retries == 0 || restarts < max_retries);
    case Kind::always:
    case Kind::unless_stopped:
      return true;
  }
  return false;
}

bool RestartPolicy::starts_at_boot(bool stopped_by_user) const {
  return kind == Kind::always || (kind == Kind::unless_stopped && !stopped_by_user);
}

std::chrono::milliseconds RestartBackoff::next_delay(std::chrono::milliseconds ran_for) {
  if (ran_for >= kResetAfter || delay_.count() == 0) {
    delay_ = kInitial;
  } else {
    delay_ = std::min(delay_ * 2, kMaximum);
  }
  return delay_;
}

}  // namespace gocrate
