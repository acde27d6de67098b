#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "serve/monitor.h"

namespace gocrate {

// What the events journal holds for one (type, action): its records, and of
// those that say how long they took (build, pull, push) their number and the
// seconds they add up to.
struct EventTally {
  uint64_t count = 0;
  uint64_t timed = 0;
  double seconds = 0;
};
// Counted since `serve` began reading the journal, its whole history
// included, by type and counted_action.
using EventCounts = std::map<std::pair<std::string, std::string>, EventTally>;

// An action as it is counted: "exec_start: sh -c ..." is "exec_start" (a
// command would make a series of its own, and show in the metrics);
// "health_status: healthy" keeps its status, which /metrics labels status=.
std::string counted_action(std::string_view action);

// The Prometheus text exposition (format 0.0.4) of `containers` and
// `images`: cAdvisor's metric names and labels (id="/gocrate/<id>", name,
// image) for running containers, and gocrate's own (restarts, health, state,
// image size, event counts, durations of build, pull and push). `now_ms` is container_last_seen.
std::string prometheus_text(const std::vector<ContainerSample>& containers,
                            const std::vector<ImageSample>& images, const EventCounts& events,
                            int64_t now_ms);

// A label value as the text format writes it: \, " and newline escaped.
std::string escape_label_value(std::string_view value);

}  // namespace gocrate
