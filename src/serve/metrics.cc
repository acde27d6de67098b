#include "serve/metrics.h"

#include <fmt/format.h>

#include <functional>

namespace gocrate {

namespace {

// A metric family, written only when it has a sample.
class Family {
 public:
  Family(std::string name, std::string type, std::string help)
      : name_(std::move(name)), type_(std::move(type)), help_(std::move(help)) {}

  void add(const std::string& labels, double value) { add_suffixed("", labels, value); }
  void add(const std::string& labels, uint64_t value) { add_suffixed("", labels, value); }
  // A summary's or histogram's own series: NAME_sum, NAME_count.
  template <typename Value>
  void add_suffixed(std::string_view suffix, const std::string& labels, Value value) {
    samples_ += name_;
    samples_ += suffix;
    if (!labels.empty()) samples_ += "{" + labels + "}";
    samples_ += fmt::format(" {}\n", value);
  }
  void write(std::string& out) const {
    if (samples_.empty()) return;
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name_, help_, name_, type_);
    out += samples_;
  }

 private:
  std::string name_, type_, help_, samples_;
};

std::string label(std::string_view name, std::string_view value) {
  return fmt::format("{}=\"{}\"", name, escape_label_value(value));
}

std::string container_labels(const ContainerSample& c) {
  const ContainerState& s = c.view.state;
  return label("id", "/gocrate/" + s.id) + "," + label("image", s.image) + "," + label("name", s.name);
}

constexpr std::string_view kStates[] = {"created", "running", "paused", "restarting", "exited", "dead"};

}  // namespace

std::string escape_label_value(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char ch : value) {
    if (ch == '\\')
      out += "\\\\";
    else if (ch == '"')
      out += "\\\"";
    else if (ch == '\n')
      out += "\\n";
    else
      out += ch;
  }
  return out;
}

std::string counted_action(std::string_view action) {
  size_t colon = action.find(':');
  if (colon == std::string_view::npos) return std::string(action);
  std::string_view name = action.substr(0, colon);
  if (name != "health_status") return std::string(name);
  std::string_view status = action.substr(colon + 1);
  while (!status.empty() && status.front() == ' ') status.remove_prefix(1);
  return fmt::format("{}: {}", name, status);
}

std::string prometheus_text(const std::vector<ContainerSample>& containers,
                            const std::vector<ImageSample>& images, const EventCounts& events,
                            int64_t now_ms) {
  Family cpu("container_cpu_usage_seconds_total", "counter", "Cumulative cpu time consumed in seconds.");
  Family periods("container_cpu_cfs_periods_total", "counter",
                 "Number of elapsed enforcement period intervals.");
  Family throttled_periods("container_cpu_cfs_throttled_periods_total", "counter",
                           "Number of throttled period intervals.");
  Family throttled("container_cpu_cfs_throttled_seconds_total", "counter",
                   "Total time duration the container has been throttled.");
  Family usage("container_memory_usage_bytes", "gauge",
               "Current memory usage in bytes, including all memory regardless of when it was accessed");
  Family working_set("container_memory_working_set_bytes", "gauge", "Current working set in bytes.");
  Family rss("container_memory_rss", "gauge", "Size of RSS in bytes.");
  Family cache("container_memory_cache", "gauge", "Number of bytes of page cache memory.");
  Family max_usage("container_memory_max_usage_bytes", "gauge", "Maximum memory usage recorded in bytes");
  Family limit("container_spec_memory_limit_bytes", "gauge", "Memory limit for the container.");
  Family processes("container_processes", "gauge", "Number of processes running inside the container.");
  Family start("container_start_time_seconds", "gauge",
               "Start time of the container since unix epoch in seconds.");
  Family last_seen("container_last_seen", "gauge", "Last time a container was seen by the exporter");
  Family oom("container_oom_events_total", "counter",
             "Count of out of memory events observed for the container");
  Family rx_bytes("container_network_receive_bytes_total", "counter", "Cumulative count of bytes received");
  Family rx_packets("container_network_receive_packets_total", "counter",
                    "Cumulative count of packets received");
  Family rx_errors("container_network_receive_errors_total", "counter",
                   "Cumulative count of errors encountered while receiving");
  Family rx_dropped("container_network_receive_packets_dropped_total", "counter",
                    "Cumulative count of packets dropped while receiving");
  Family tx_bytes("container_network_transmit_bytes_total", "counter",
                  "Cumulative count of bytes transmitted");
  Family tx_packets("container_network_transmit_packets_total", "counter",
                    "Cumulative count of packets transmitted");
  Family tx_errors("container_network_transmit_errors_total", "counter",
                   "Cumulative count of errors encountered while transmitting");
  Family tx_dropped("container_network_transmit_packets_dropped_total", "counter",
                    "Cumulative count of packets dropped while transmitting");
  Family restarts("gocrate_container_restarts_total", "counter",
                  "Times the supervisor restarted the container (restart policy or health action).");
  Family health("gocrate_container_health", "gauge",
                "1 when the container's health check passes, 0 while starting or unhealthy.");
  Family state("gocrate_container_state", "gauge", "1 for the container's current state, 0 for the others.");
  Family image_size("gocrate_image_size_bytes", "gauge",
                    "Compressed size of an image in the store: each distinct blob once.");
  Family image_signatures("gocrate_image_signatures", "gauge",
                          "Signatures stored with an image (not verified).");
  Family event_count("gocrate_events_total", "counter",
                     "Records of the events journal by type and action since the journal's oldest record.");
  Family durations("gocrate_image_operation_duration_seconds", "summary",
                   "Time the image builds, pulls and pushes in the events journal took.");

  double now_seconds = static_cast<double>(now_ms) / 1000.0;
  for (const auto& c : containers) {
    const ContainerState& s = c.view.state;
    std::string labels = container_labels(c);
    for (auto name : kStates)
      state.add(labels + "," + label("state", name), uint64_t(c.state == name ? 1 : 0));
    restarts.add(labels, uint64_t(s.restart_count));
    if (!s.health.empty()) health.add(labels, uint64_t(s.health == "healthy" ? 1 : 0));
    if (!c.measured) continue;
    cpu.add(labels + ",cpu=\"total\"", static_cast<double>(c.cgroup.cpu_usage_ns) / 1e9);
    if (c.cgroup.cpu_periods) {
      periods.add(labels, c.cgroup.cpu_periods);
      throttled_periods.add(labels, c.cgroup.cpu_throttled_periods);
      throttled.add(labels, static_cast<double>(c.cgroup.cpu_throttled_ns) / 1e9);
    }
    usage.add(labels, c.memory.usage);
    working_set.add(labels, c.memory.working_set);
    rss.add(labels, c.memory.rss);
    cache.add(labels, c.memory.cache);
    if (c.cgroup.memory_peak_bytes) max_usage.add(labels, c.cgroup.memory_peak_bytes);
    limit.add(labels, c.memory_limit);
    processes.add(labels, c.cgroup.pids);
    start.add(labels, static_cast<double>(c.start_time));
    last_seen.add(labels, now_seconds);
    oom.add(labels, c.cgroup.oom_kills);
    for (const auto& i : c.network) {
      std::string with = labels + "," + label("interface", i.name);
      rx_bytes.add(with, i.receive_bytes);
      rx_packets.add(with, i.receive_packets);
      rx_errors.add(with, i.receive_errors);
      rx_dropped.add(with, i.receive_dropped);
      tx_bytes.add(with, i.transmit_bytes);
      tx_packets.add(with, i.transmit_packets);
      tx_errors.add(with, i.transmit_errors);
      tx_dropped.add(with, i.transmit_dropped);
    }
  }
  for (const auto& image : images) {
    std::string labels = label("digest", image.digest) + "," + label("image", image.name);
    image_size.add(labels, image.size);
    image_signatures.add(labels, uint64_t(image.signatures.size()));
  }
  std::map<std::pair<std::string, std::string>, EventTally> by_labels;
  for (const auto& [key, tally] : events) {
    std::string action = counted_action(key.second);
    std::string labels;
    if (size_t colon = action.find(": "); colon != std::string::npos) {
      labels = label("action", action.substr(0, colon)) + "," + label("status", action.substr(colon + 2));
    } else {
      labels = label("action", action);
    }
    EventTally& sum = by_labels[{labels, key.first}];
    sum.count += tally.count;
    sum.timed += tally.timed;
    sum.seconds += tally.seconds;
  }
  for (const auto& [key, tally] : by_labels) {
    const auto& [labels, type] = key;
    event_count.add(labels + "," + label("type", type), tally.count);
    if (tally.timed == 0) continue;
    durations.add_suffixed("_sum", labels, tally.seconds);
    durations.add_suffixed("_count", labels, tally.timed);
  }

  std::string out;
  for (const Family* f : {&cpu,       &periods,    &throttled_periods, &throttled,   &usage,     &working_set,
                          &rss,       &cache,      &max_usage,         &limit,       &processes, &start,
                          &last_seen, &oom,        &rx_bytes,          &rx_packets,  &rx_errors, &rx_dropped,
                          &tx_bytes,  &tx_packets, &tx_errors,         &tx_dropped,  &restarts,  &health,
                          &state,     &image_size, &image_signatures,  &event_count, &durations})
    f->write(out);
  return out;
}

}  // namespace gocrate
