#pragma once

// `ps` as Docker shows and filters containers: its -f keys and the texts
// its --format fields give.

#include <ctime>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "util/filters.h"

namespace gocrate {

// What ps filters look at.
struct ContainerFacts {
  std::string id;
  std::string name;
  std::string state;   // Docker's State.Status: created, running, restarting, exited, dead
  std::string health;  // starting, healthy, unhealthy; empty: no health check
  std::optional<int> exit_code;
  std::map<std::string, std::string> labels;
  // The image: as the user named it, its canonical name and the digest of
  // what ran ("sha256:...").
  std::vector<std::string> image_refs;
  std::vector<std::string> volumes;  // host sources and container destinations
};

// What an ancestor= value names in the store: its canonical name and
// digests (index and platform manifests); empty when it names no image.
using ImageRefsOf = std::function<std::vector<std::string>(const std::string& ref)>;

class ContainerFilter {
 public:
  // Refuses unknown keys ("invalid filter 'x'") and bad status=, exited=
  // and health= values.
  static ContainerFilter parse(const std::vector<std::string>& flags);

  // A status= filter lists stopped containers without -a, as Docker does.
  bool lists_stopped() const { return args_.has("status"); }
  bool empty() const { return args_.empty(); }
  bool matches(const ContainerFacts& c, const ImageRefsOf& image_refs_of) const;

 private:
  FilterArgs args_;
};

// Docker's units.HumanDuration: "Less than a second", "About a minute",
// "3 hours", "2 weeks".
std::string human_duration(int64_t seconds);

// Docker's container Status text: "Up 5 minutes (healthy)", "Exited (1) 2
// hours ago", "Created", "Restarting (1) 3 seconds ago", "Dead".
std::string docker_status_text(const std::string& state, const std::string& health,
                               std::optional<int> exit_code, time_t started, time_t finished, time_t now);

// Seconds since the epoch of an RFC 3339 time ("2024-05-01T10:00:00.123Z");
// 0 when it is not one.
time_t parse_rfc3339_seconds(const std::string& text);

// Go's time.Time.String() in local time: "2024-05-01 10:00:00 +0000 UTC".
std::string go_time_text(time_t t);

}  // namespace gocrate
