#include "runtime/container_filter.h"

#include <algorithm>
#include <cmath>

#include "util/error.h"
#include "util/strings.h"

namespace gocrate {

namespace {

const std::vector<std::string_view> kStates = {"created", "restarting", "running", "removing",
                                               "paused",  "exited",     "dead"};

bool is_hex(std::string_view s) {
  return !s.empty() && s.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

bool ancestor_matches(const std::string& wanted, const ContainerFacts& c, const ImageRefsOf& image_refs_of) {
  std::vector<std::string> names = image_refs_of ? image_refs_of(wanted) : std::vector<std::string>{};
  names.push_back(wanted);
  for (const auto& ref : c.image_refs) {
    if (std::find(names.begin(), names.end(), ref) != names.end()) return true;
    // An image id: a prefix of the digest's hex, or the digest itself.
    std::string_view hex = ref;
    if (hex.starts_with("sha256:")) hex.remove_prefix(7);
    std::string_view given = wanted;
    if (given.starts_with("sha256:")) given.remove_prefix(7);
    if (hex.size() == 64 && is_hex(given) && hex.starts_with(given)) return true;
  }
  return false;
}

}  // namespace

ContainerFilter ContainerFilter::parse(const std::vector<std::string>& flags) {
  ContainerFilter f;
  f.args_ =
      FilterArgs::parse(flags, {"id", "name", "label", "status", "ancestor", "exited", "health", "volume"},
                        {"before", "since", "network", "publish", "expose", "isolation", "is-task"});
  for (const auto& s : f.args_.values("status")) {
    if (std::find(kStates.begin(), kStates.end(), s) == kStates.end())
      fail("invalid filter 'status={}': use created, restarting, running, removing, paused, exited or dead",
           s);
  }
  for (const auto& code : f.args_.values("exited")) {
    int64_t value = 0;
    if (!parse_int(code, INT32_MIN, INT32_MAX, value))
      fail("invalid filter 'exited={}': use an exit code, such as exited=0", code);
  }
  for (const auto& h : f.args_.values("health")) {
    if (h != "starting" && h != "healthy" && h != "unhealthy" && h != "none")
      fail("invalid filter 'health={}': use starting, healthy, unhealthy or none", h);
  }
  return f;
}

bool ContainerFilter::matches(const ContainerFacts& c, const ImageRefsOf& image_refs_of) const {
  return args_.any("id", [&](const std::string& v) { return regex_search(v, c.id, "id"); }) &&
         args_.any("name", [&](const std::string& v) { return regex_search(v, "/" + c.name, "name"); }) &&
         args_.any("status", [&](const std::string& v) { return v == c.state; }) &&
         args_.any("exited",
                   [&](const std::string& v) {
                     return c.state == "exited" && c.exit_code && std::to_string(*c.exit_code) == v;
                   }) &&
         args_.any("health",
                   [&](const std::string& v) { return v == (c.health.empty() ? "none" : c.health); }) &&
         args_.any("ancestor", [&](const std::string& v) { return ancestor_matches(v, c, image_refs_of); }) &&
         args_.any("volume",
                   [&](const std::string& v) {
                     return std::find(c.volumes.begin(), c.volumes.end(), v) != c.volumes.end();
                   }) &&
         args_.labels_match(c.labels);
}

std::string human_duration(int64_t seconds) {
  if (seconds < 1) return "Less than a second";
  if (seconds == 1) return "1 second";
  if (seconds < 60) return fmt::format("{} seconds", seconds);
  int64_t minutes = seconds / 60;
  if (minutes == 1) return "About a minute";
  if (minutes < 60) return fmt::format("{} minutes", minutes);
  int64_t hours = static_cast<int64_t>(std::llround(static_cast<double>(seconds) / 3600));
  if (hours == 1) return "About an hour";
  if (hours < 48) return fmt::format("{} hours", hours);
  if (hours < 24 * 7 * 2) return fmt::format("{} days", hours / 24);
  if (hours < 24 * 30 * 2) return fmt::format("{} weeks", hours / 24 / 7);
  if (hours < 24 * 365 * 2) return fmt::format("{} months", hours / 24 / 30);
  return fmt::format("{} years", seconds / 3600 / 24 / 365);
}

std::string docker_status_text(const std::string& state, const std::string& health,
                               std::optional<int> exit_code, time_t started, time_t finished, time_t now) {
  auto since = [now](time_t t) { return human_duration(t ? std::max<int64_t>(0, now - t) : 0); };
  if (state == "running") {
    std::string text = "Up " + since(started);
    if (health == "starting")
      text += " (health: starting)";
    else if (!health.empty())
      text += " (" + health + ")";
    return text;
  }
  if (state == "paused") return "Up " + since(started) + " (Paused)";
  if (state == "restarting")
    return fmt::format("Restarting ({}) {} ago", exit_code.value_or(0), since(finished));
  if (state == "exited") {
    if (!finished) return fmt::format("Exited ({})", exit_code.value_or(0));
    return fmt::format("Exited ({}) {} ago", exit_code.value_or(0), since(finished));
  }
  if (state == "created") return "Created";
  if (state == "removing") return "Removal In Progress";
  if (state == "dead") return "Dead";
  return state;
}

time_t parse_rfc3339_seconds(const std::string& text) {
  tm t{};
  if (!::strptime(text.c_str(), "%Y-%m-%dT%H:%M:%S", &t)) return 0;
  return ::timegm(&t);
}

std::string go_time_text(time_t t) {
  tm local{};
  ::localtime_r(&t, &local);
  char buffer[96];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%d %H:%M:%S %z %Z", &local);
  return buffer;
}

}  // namespace gocrate
