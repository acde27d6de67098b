#include "runtime/containment/ulimits.h"

#include <sys/syscall.h>
#include <unistd.h>

#include <optional>

#include "util/error.h"
#include "util/fs.h"
#include "util/strings.h"

namespace gocrate {

namespace {

struct Resource {
  std::string_view name;
  int resource;
};
constexpr Resource kResources[] = {
    {"core", RLIMIT_CORE},         {"cpu", RLIMIT_CPU},
    {"data", RLIMIT_DATA},         {"fsize", RLIMIT_FSIZE},
    {"locks", RLIMIT_LOCKS},       {"memlock", RLIMIT_MEMLOCK},
    {"msgqueue", RLIMIT_MSGQUEUE}, {"nice", RLIMIT_NICE},
    {"nofile", RLIMIT_NOFILE},     {"nproc", RLIMIT_NPROC},
    {"rss", RLIMIT_RSS},           {"rtprio", RLIMIT_RTPRIO},
    {"rttime", RLIMIT_RTTIME},     {"sigpending", RLIMIT_SIGPENDING},
    {"stack", RLIMIT_STACK},
};

std::optional<uint64_t> parse_limit(std::string_view text) {
  if (text == "-1") return RLIM_INFINITY;
  int64_t value = 0;
  if (!parse_int(text, 0, INT64_MAX, value)) return std::nullopt;
  return static_cast<uint64_t>(value);
}

std::string limit_text(uint64_t value) {
  return value == RLIM_INFINITY ? "-1" : std::to_string(value);
}

std::string limit_words(uint64_t value) {
  return value == RLIM_INFINITY ? "unlimited" : std::to_string(value);
}

bool has_sys_resource() {
  auto status = read_file_if_exists("/proc/self/status");
  if (!status) return false;
  for (const auto& line : split(*status, '\n')) {
    if (!line.starts_with("CapEff:")) continue;
    uint64_t caps = std::stoull(std::string(trim(line.substr(7))), nullptr, 16);
    return caps & (uint64_t{1} << 24);  // CAP_SYS_RESOURCE
  }
  return false;
}

}  // namespace

std::string Ulimit::str() const {
  return fmt::format("{}={}:{}", name, limit_text(soft), limit_text(hard));
}

Ulimit parse_ulimit(std::string_view text) {
  size_t eq = text.find('=');
  if (eq == std::string_view::npos) {
    fail("invalid --ulimit \"{}\": use NAME=SOFT[:HARD] such as nofile=1024:2048", text);
  }
  std::string_view name = text.substr(0, eq);
  std::string_view values = text.substr(eq + 1);
  Ulimit u;
  bool known = false;
  for (const auto& r : kResources) {
    if (r.name == name) {
      u.name = r.name;
      u.resource = r.resource;
      known = true;
    }
  }
  if (!known) {
    fail(
        "invalid --ulimit \"{}\": unknown limit {}; use core, cpu, data, fsize, locks, memlock, msgqueue, "
        "nice, nofile, nproc, rss, rtprio, rttime, sigpending or stack",
        text, name);
  }
  size_t colon = values.find(':');
  auto soft = parse_limit(values.substr(0, colon));
  auto hard = colon == std::string_view::npos ? soft : parse_limit(values.substr(colon + 1));
  if (!soft || !hard) {
    fail("invalid --ulimit \"{}\": the limits must be numbers (or -1 for unlimited): NAME=SOFT[:HARD]", text);
  }
  if (*soft > *hard) {
    fail("invalid --ulimit \"{}\": the soft limit must be at most the hard limit: {} > {}", text,
         limit_words(*soft), limit_words(*hard));
  }
  u.soft = *soft;
  u.hard = *hard;
  return u;
}

void check_ulimits(const std::vector<Ulimit>& limits) {
  if (limits.empty()) return;
  bool may_raise = has_sys_resource();
  for (const auto& u : limits) {
    rlimit current{};
    if (::getrlimit(u.resource, &current) != 0) fail_errno(fmt::format("cannot read the {} limit", u.name));
    if (!may_raise && u.hard > current.rlim_max) {
      fail(
          "--ulimit {}: the hard limit {} is above this host's maximum of {} for {} (gocrate has no "
          "CAP_SYS_RESOURCE to raise it); use at most {}",
          u.str(), limit_words(u.hard), limit_words(current.rlim_max), u.name, limit_words(current.rlim_max));
    }
    if (u.resource == RLIMIT_NOFILE) {
      int64_t nr_open = 0;
      auto text = read_file_if_exists("/proc/sys/fs/nr_open");
      if (text && parse_int(trim(*text), 1, INT64_MAX, nr_open) && u.hard > static_cast<uint64_t>(nr_open)) {
        fail("--ulimit {}: the hard limit {} is above this host's fs.nr_open ({}); use at most {}", u.str(),
             limit_words(u.hard), nr_open, nr_open);
      }
    }
  }
}

void apply_ulimits(const std::vector<Ulimit>& limits) {
  for (const auto& u : limits) {
    rlimit value{u.soft, u.hard};
    if (::syscall(SYS_prlimit64, 0, u.resource, &value, nullptr) != 0)
      fail_errno(fmt::format("cannot set --ulimit {}", u.str()));
  }
}

}  // namespace gocrate
