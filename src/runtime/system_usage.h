#pragma once

#include <cstdint>
#include <ctime>
#include <optional>
#include <string>
#include <vector>

namespace gocrate {

// `system df`: what the store holds, in Docker's terms.
struct ImageUsage {
  std::string name;    // empty for an image without one (dangling)
  std::string digest;  // of its root (index or manifest)
  std::string id;      // config digest of its first platform
  std::string created;
  uint64_t size = 0;         // every blob it reaches
  uint64_t shared_size = 0;  // of those, what another image reaches too
  int containers = 0;
};
struct ContainerUsage {
  std::string id, name, image, command, created, status;
  bool running = false;
  uint64_t size = 0;  // its upper layer
  uint64_t log_size = 0;
  int local_volumes = 0;
};
struct VolumeUsage {
  std::string name;
  int links = 0;
  uint64_t size = 0;
};
struct UsageRow {
  std::string type;  // Images, Containers, Local Volumes, Build Cache, Layer Cache, Logs
  int total = 0;
  int active = 0;
  uint64_t size = 0;
  uint64_t reclaimable = 0;
};
struct SystemUsage {
  std::vector<ImageUsage> images;
  std::vector<ContainerUsage> containers;
  std::vector<VolumeUsage> volumes;
  std::vector<UsageRow> rows;
};
SystemUsage system_usage(const std::string& store_root);

// Docker's --filter until=: a duration back from now ("24h", "90m", "1h30m")
// or a time (RFC 3339, "2006-01-02", Unix seconds). Errors name the value.
time_t parse_until(const std::string& value, time_t now);

struct SystemPruneOptions {
  bool all = false;             // every image no container uses, not only those without a name
  bool volumes = false;         // and every anonymous volume no container uses (never a named one)
  std::optional<time_t> until;  // only containers and images created before
};
struct SystemPruneReport {
  std::vector<std::string> containers;  // ids
  std::vector<std::string> untagged;    // names
  std::vector<std::string> deleted;     // image digests
  std::vector<std::string> volumes;
  int cache_entries = 0;
  int layers = 0;
  uint64_t reclaimed = 0;
};
// Removes stopped containers, images as asked, build cache, unpacked layers
// no image needs and, with `volumes`, unused anonymous volumes. Never what a
// container that still exists uses: its image, its layers, its volumes; what
// is in use is decided while the store is held exclusively, so a container
// being made keeps its image.
SystemPruneReport system_prune(const std::string& store_root, const SystemPruneOptions& options);

}  // namespace gocrate
