#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "measure/report.h"
#include "store/store.h"

namespace gocrate {

// What to measure: one image, run the same way under every engine. Without
// `ready` a run lasts from start to exit (the engines use no network); with
// it, from start until `ready` answers (an http:// URL that must return 2xx,
// or tcp://HOST:PORT that must accept), the engines using the host's
// network; then the container is stopped with SIGTERM.
struct MeasureRequest {
  std::string image;
  std::vector<std::string> args;
  std::optional<std::string> ready;
  std::vector<std::string> against;  // "bare", "docker", "podman"
  int runs = 5;
  std::chrono::milliseconds timeout{30000};
  std::string gocrate_binary;  // the gocrate to run containers with
  std::function<void(const std::string& engine, int run, int runs)> on_run;
};

// Peak memory and CPU are read from a cgroup made for each run, which the
// engine is told to put its container under (--cgroup-parent; the bare
// process joins it itself). An engine that cannot run here is reported as
// skipped with the reason; gocrate itself must run, or this throws naming
// what went wrong and after how long.
std::vector<EngineResult> measure_image(Store& store, const MeasureRequest& request);

// What a measurement left for `gocrate manifest`: the gocrate runs' peak
// memory and their highest average CPU use, saved per image digest.
struct ResourceMeasurement {
  uint64_t peak_memory_bytes = 0;
  double peak_cpu_cores = 0;
};
void save_measurement(Store& store, const std::string& manifest_digest, const ResourceMeasurement& m);
std::optional<ResourceMeasurement> load_measurement(Store& store, const std::string& manifest_digest);

}  // namespace gocrate
