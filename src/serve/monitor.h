#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "runtime/container_lifecycle.h"
#include "store/store.h"

namespace gocrate {

// What `serve` shows, read from the same files the CLI reads (state.json,
// health.json, the logs, the cgroups, the store) each time it is asked:
// nothing is kept that another gocrate process could not read itself.

// The counters of one network interface of a container's network namespace
// (/proc/<pid>/net/dev).
struct InterfaceCounters {
  std::string name;
  uint64_t receive_bytes = 0, receive_packets = 0, receive_errors = 0, receive_dropped = 0;
  uint64_t transmit_bytes = 0, transmit_packets = 0, transmit_errors = 0, transmit_dropped = 0;
};

// The interfaces of /proc/<pid>/net/dev's text, loopback left out.
std::vector<InterfaceCounters> parse_net_dev(std::string_view text);

// One key of a memory.stat or cpu.stat text; nullopt when absent.
std::optional<uint64_t> stat_value(std::string_view text, std::string_view key);

// cAdvisor's reading of a cgroup's memory: working set is usage less
// inactive file pages (never below 0); RSS is anonymous memory.
struct MemoryFigures {
  uint64_t usage = 0;
  uint64_t working_set = 0;
  uint64_t rss = 0;
  uint64_t cache = 0;
};
// `v2`: memory.stat keys of cgroup v2 (anon, inactive_file), else v1's
// hierarchical totals (total_rss, total_inactive_file).
MemoryFigures memory_figures(uint64_t usage, std::string_view memory_stat, bool v2);

struct ContainerSample {
  ContainerView view;
  std::string state;  // Docker's State.Status: created, running, paused, restarting, exited, dead
  // Counters are read only for a running container.
  bool measured = false;
  CgroupStats cgroup;
  MemoryFigures memory;
  uint64_t memory_limit = 0;  // 0: none
  // From the container's own network namespace; empty when it shares the
  // host's (--network host) or is not running.
  std::vector<InterfaceCounters> network;
  int64_t start_time = 0;  // seconds since the epoch: the latest start, else creation
  int64_t sampled_at_ms = 0;
};

struct SignatureSummary {
  std::string identity;  // the docker-reference the payload names
  std::string digest;    // the manifest digest it signs
  std::string kind;      // "simple signing", "DSSE"
};

struct ImageSample {
  std::string name;
  std::string digest;
  std::string media_type;
  uint64_t size = 0;  // compressed: each distinct blob once, as `images` counts
  std::vector<std::string> platforms;
  std::string created;
  // Stored with the image (gocrate sign, pull): listed, not verified (a key is
  // needed for that: `gocrate verify`).
  std::vector<SignatureSummary> signatures;
};

inline constexpr size_t kLogTailBytes = 64 << 10;

// One line of a container's log.
struct LogLine {
  std::string time;
  std::string stream;  // stdout, stderr
  std::string text;
  bool partial = false;
};

class Monitor {
 public:
  explicit Monitor(std::string store_root);

  const std::string& store_root() const { return store_root_; }
  // Every container, the last created first, counters read now.
  std::vector<ContainerSample> containers() const;
  // One container by id, id prefix or name (an Error when there is none).
  ContainerSample container(const std::string& ref) const;
  std::vector<ImageSample> images();
  // The last `lines` lines of a detached container's log, at most about
  // kLogTailBytes of them; empty when it has none.
  std::vector<LogLine> log_tail(const ContainerView& c, size_t lines) const;

 private:
  ContainerSample sample(ContainerView view) const;

  std::string store_root_;
  ContainerDirectory directory_;
  // Sizes, platforms and signatures of a root digest: its blobs never
  // change, so they are read once. Signatures are read again every time.
  struct ImageFacts {
    std::string media_type;
    uint64_t size = 0;
    std::vector<std::string> platforms;
    std::string created;
  };
  std::mutex mutex_;
  std::map<std::string, ImageFacts> image_facts_;
};

// The JSON of /api/containers and /api/images.
nlohmann::json container_json(const ContainerSample& c);
nlohmann::json image_json(const ImageSample& image);
nlohmann::json log_json(const std::vector<LogLine>& lines);

}  // namespace gocrate
