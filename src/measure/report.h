#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace gocrate {

// What one engine did with the image: how long each run took from start to
// exit (or to ready), how much memory the container used at its peak, and how
// large the image is for it.
struct EngineResult {
  std::string engine;                  // "gocrate", "bare", "docker", "podman"
  std::optional<std::string> skipped;  // why it could not run here
  std::vector<double> start_seconds;
  uint64_t peak_memory_bytes = 0;
  uint64_t image_compressed_bytes = 0;
  uint64_t image_unpacked_bytes = 0;

  double mean_seconds() const;
  double median_seconds() const;
  double stddev_seconds() const;
};

// The seed's model for one baseline: R (resources, peak memory in bytes) and
// S (start time in seconds), c for the gocrate container, s for the baseline.
// R_sav = R_s - R_c is the memory saved, S_imp = S_s - S_c the time saved.
struct ModelRow {
  std::string baseline;
  double r_c = 0, r_s = 0, r_sav = 0;
  double s_c = 0, s_s = 0, s_imp = 0;
};

std::vector<ModelRow> seed_model(const EngineResult& gocrate, const std::vector<EngineResult>& baselines);

std::string render_table(const std::string& image, const std::vector<EngineResult>& results,
                         const std::vector<ModelRow>& model);
nlohmann::json report_json(const std::string& image, const std::vector<EngineResult>& results,
                           const std::vector<ModelRow>& model);
// A bar chart a person reads at a glance: start time, peak memory and image
// size per engine, gocrate's bars highlighted, the model's savings in the title.
std::string render_svg_chart(const std::string& image, const std::vector<EngineResult>& results,
                             const std::vector<ModelRow>& model);

}  // namespace gocrate
