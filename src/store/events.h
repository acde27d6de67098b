#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "util/filters.h"

namespace gocrate {

enum class EventType { container, image, volume };

// One thing that happened, in Docker's event model (Type, Action, Actor).
struct Event {
  EventType type = EventType::container;
  // Docker's actions: create, start, die, oom, kill, stop, restart,
  // "health_status: healthy", exec_create, exec_start, exec_die, pause,
  // unpause, destroy, rename, update; build, pull, push, tag, untag, delete,
  // load, save, sign.
  std::string action;
  std::string id;  // container id, or image digest
  // name, image, exitCode, signal, oldName, ... (Docker's Actor.Attributes,
  // the container's labels included).
  std::map<std::string, std::string> attributes;
  int64_t time_nano = 0;  // 0: now, filled in by record_event
};

// Appends `event` to the journal of the store at `store_root`. Safe from any
// number of processes at once. Never throws: recording must not make the
// command that did the work fail (a failure is reported on stderr once).
void record_event(const std::string& store_root, Event event);
// An image event: Actor.ID the image's digest, Attributes {name: `name`}
// when a name is given, and {duration: seconds} for work that took time
// (build, pull, push), which `serve` sums up for its metrics.
void record_image_event(const std::string& store_root, std::string action, const std::string& digest,
                        const std::string& name, std::optional<double> duration_seconds = {});

// The journal: <store_root>/events/journal, and journal.1, the previous one.
// A journal is rotated when a record would take it past
// $GOCRATE_EVENTS_MAX_SIZE bytes (default 16 MiB).
std::string events_directory(const std::string& store_root);

std::string_view event_type_name(EventType type);

// Which events `gocrate events` shows: Docker's --since, --until (ns since
// the epoch) and --filter container=, image=, event=, type=, label=.
struct EventQuery {
  std::optional<int64_t> since;
  std::optional<int64_t> until;
  FilterArgs filters;
};
FilterArgs parse_event_filters(const std::vector<std::string>& flags);
bool event_matches(const EventQuery& query, const Event& event);

// Calls `emit` for each recorded event the query selects, oldest file first
// and in the order of the records. With `follow`, then waits (inotify) for
// new records until `query.until` passes, `emit` returns false or, when
// called from the main thread, SIGINT or SIGTERM arrives. Damaged records are skipped and counted once per
// file on stderr ("gocrate: events: skipped N damaged record(s) in FILE").
void read_events(const std::string& store_root, const EventQuery& query, bool follow,
                 const std::function<bool(const Event&)>& emit);

// Docker's events.Message: {"status","id","from","Type","Action","Actor":
// {"ID","Attributes"},"scope","time","timeNano"}.
nlohmann::json event_to_docker_json(const Event& event);
// The same as one line of JSON with the fields in Docker's order.
std::string event_json_line(const Event& event);
// docker events' line: "2024-01-01T00:00:00.000000000Z container start ID
// (image=hello, name=x)", the time in the local zone.
std::string format_event_line(const Event& event);

// Docker's time arguments of --since and --until (api/types/time): a Go
// duration before `now_nano` ("10m", "1h30m"), Unix seconds with optional
// ".nanoseconds", RFC 3339 dates and times with or without fractional
// seconds and zone (the local zone when none is given); also "now".
// Returns ns since the epoch.
int64_t parse_event_time(std::string_view text, int64_t now_nano);

}  // namespace gocrate
