#include "measure/report.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <numeric>

#include "util/strings.h"

namespace gocrate {

double EngineResult::mean_seconds() const {
  if (start_seconds.empty()) return 0;
  return std::accumulate(start_seconds.begin(), start_seconds.end(), 0.0) / start_seconds.size();
}

double EngineResult::median_seconds() const {
  if (start_seconds.empty()) return 0;
  std::vector<double> sorted = start_seconds;
  std::sort(sorted.begin(), sorted.end());
  size_t n = sorted.size();
  return n % 2 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
}

double EngineResult::stddev_seconds() const {
  if (start_seconds.size() < 2) return 0;
  double mean = mean_seconds(), sum = 0;
  for (double s : start_seconds) sum += (s - mean) * (s - mean);
  return std::sqrt(sum / (start_seconds.size() - 1));
}

std::vector<ModelRow> seed_model(const EngineResult& gocrate, const std::vector<EngineResult>& baselines) {
  std::vector<ModelRow> rows;
  for (const auto& b : baselines) {
    if (b.skipped || b.engine == gocrate.engine) continue;
    ModelRow row;
    row.baseline = b.engine;
    row.r_c = static_cast<double>(gocrate.peak_memory_bytes);
    row.r_s = static_cast<double>(b.peak_memory_bytes);
    row.r_sav = row.r_s - row.r_c;
    row.s_c = gocrate.mean_seconds();
    row.s_s = b.mean_seconds();
    row.s_imp = row.s_s - row.s_c;
    rows.push_back(row);
  }
  return rows;
}

namespace {

std::string mib(double bytes) {
  return fmt::format("{:.1f} MiB", bytes / (1 << 20));
}
std::string ms(double seconds) {
  return fmt::format("{:.1f} ms", seconds * 1000);
}
std::string signed_mib(double bytes) {
  return fmt::format("{:+.1f} MiB", bytes / (1 << 20));
}
std::string signed_ms(double seconds) {
  return fmt::format("{:+.1f} ms", seconds * 1000);
}

std::string table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths(rows[0].size(), 0);
  for (const auto& row : rows) {
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) line += fmt::format("{:<{}}  ", row[i], widths[i]);
    out += std::string(trim(line)) + "\n";
  }
  return out;
}

std::string escape_xml(std::string_view text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '&':
        out += "&amp;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

}  // namespace

std::string render_table(const std::string& image, const std::vector<EngineResult>& results,
                         const std::vector<ModelRow>& model) {
  std::vector<std::vector<std::string>> rows{{"ENGINE", "START (MEAN)", "MEDIAN", "STDDEV", "RUNS",
                                              "PEAK MEMORY", "IMAGE (COMPRESSED)", "IMAGE (UNPACKED)"}};
  std::string skipped;
  for (const auto& r : results) {
    if (r.skipped) {
      skipped += fmt::format("  {} skipped: {}\n", r.engine, *r.skipped);
      continue;
    }
    rows.push_back({r.engine, ms(r.mean_seconds()), ms(r.median_seconds()), ms(r.stddev_seconds()),
                    std::to_string(r.start_seconds.size()), mib(r.peak_memory_bytes),
                    r.image_compressed_bytes ? human_size(r.image_compressed_bytes) : "-",
                    r.image_unpacked_bytes ? human_size(r.image_unpacked_bytes) : "-"});
  }
  std::vector<std::vector<std::string>> model_rows{
      {"BASELINE", "R_c", "R_s", "R_sav = R_s - R_c", "S_c", "S_s", "S_imp = S_s - S_c"}};
  for (const auto& m : model) {
    model_rows.push_back(
        {m.baseline, mib(m.r_c), mib(m.r_s), signed_mib(m.r_sav), ms(m.s_c), ms(m.s_s), signed_ms(m.s_imp)});
  }
  std::string out = fmt::format("{}\n\n{}", image, table(rows));
  if (!skipped.empty()) out += "\n" + skipped;
  out += "\nThe model (R: peak memory, S: start time; c: gocrate, s: the baseline)\n";
  out += model.empty() ? "  no baseline ran\n" : table(model_rows);
  return out;
}

nlohmann::json report_json(const std::string& image, const std::vector<EngineResult>& results,
                           const std::vector<ModelRow>& model) {
  nlohmann::json engines = nlohmann::json::array();
  for (const auto& r : results) {
    nlohmann::json e = {{"engine", r.engine}};
    if (r.skipped) {
      e["skipped"] = *r.skipped;
    } else {
      e["runs"] = r.start_seconds.size();
      e["startSeconds"] = {{"mean", r.mean_seconds()},
                           {"median", r.median_seconds()},
                           {"stddev", r.stddev_seconds()},
                           {"samples", r.start_seconds}};
      e["peakMemoryBytes"] = r.peak_memory_bytes;
      e["imageCompressedBytes"] = r.image_compressed_bytes;
      e["imageUnpackedBytes"] = r.image_unpacked_bytes;
    }
    engines.push_back(e);
  }
  nlohmann::json rows = nlohmann::json::array();
  for (const auto& m : model) {
    rows.push_back({{"baseline", m.baseline},
                    {"R_c", m.r_c},
                    {"R_s", m.r_s},
                    {"R_sav", m.r_sav},
                    {"S_c", m.s_c},
                    {"S_s", m.s_s},
                    {"S_imp", m.s_imp}});
  }
  return {{"image", image}, {"engines", engines}, {"model", rows}};
}

std::string render_svg_chart(const std::string& image, const std::vector<EngineResult>& results,
                             const std::vector<ModelRow>& model) {
  std::vector<const EngineResult*> ran;
  for (const auto& r : results) {
    if (!r.skipped) ran.push_back(&r);
  }
  struct Panel {
    std::string title;
    std::function<double(const EngineResult&)> value;
    std::function<std::string(double)> label;
  };
  std::vector<Panel> panels{
      {"Start time (mean)", [](const EngineResult& r) { return r.mean_seconds(); }, ms},
      {"Peak memory", [](const EngineResult& r) { return static_cast<double>(r.peak_memory_bytes); }, mib},
      {"Image (compressed)",
       [](const EngineResult& r) { return static_cast<double>(r.image_compressed_bytes); },
       [](double v) { return v > 0 ? human_size(static_cast<uint64_t>(v)) : std::string("no image"); }},
  };
  const int width = 960, panel_width = 300, bar_height = 26, gap = 10, label_width = 80, top = 96;
  int height = top + static_cast<int>(ran.size()) * (bar_height + gap) + 70;
  std::string svg =
      fmt::format(R"(<svg xmlns="http://www.w3.org/2000/svg" width="{0}" height="{1}" viewBox="0 0 {0} {1}" )"
                  R"(font-family="DejaVu Sans, Arial, sans-serif">)"
                  "\n<rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n",
                  width, height);
  svg +=
      fmt::format("<text x=\"20\" y=\"32\" font-size=\"20\" font-weight=\"bold\" fill=\"#111\">{}</text>\n",
                  escape_xml("What containerizing " + image + " with gocrate saves"));
  std::vector<std::string> savings;
  for (const auto& m : model) {
    savings.push_back(
        fmt::format("vs {}: R_sav {}, S_imp {}", m.baseline, signed_mib(m.r_sav), signed_ms(m.s_imp)));
  }
  svg +=
      fmt::format("<text x=\"20\" y=\"58\" font-size=\"13\" fill=\"#444\">{}</text>\n",
                  escape_xml(savings.empty() ? "no baseline could run here" : join(savings, "  \u00b7  ")));
  for (size_t p = 0; p < panels.size(); ++p) {
    int x0 = 20 + static_cast<int>(p) * (panel_width + 15);
    svg +=
        fmt::format("<text x=\"{}\" y=\"{}\" font-size=\"14\" font-weight=\"bold\" fill=\"#222\">{}</text>\n",
                    x0, top - 12, escape_xml(panels[p].title));
    double max_value = 0;
    for (const auto* r : ran) max_value = std::max(max_value, panels[p].value(*r));
    for (size_t i = 0; i < ran.size(); ++i) {
      const EngineResult& r = *ran[i];
      double value = panels[p].value(r);
      int y = top + static_cast<int>(i) * (bar_height + gap);
      int bar_max = panel_width - label_width - 80;
      int bar = max_value > 0 && value > 0 ? std::max(2, static_cast<int>(bar_max * value / max_value)) : 0;
      const char* color = r.engine == "gocrate" ? "#1a7f37" : "#8c959f";
      svg += fmt::format("<text x=\"{}\" y=\"{}\" font-size=\"13\" fill=\"#222\">{}</text>\n", x0,
                         y + bar_height - 8, escape_xml(r.engine));
      svg += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" rx=\"3\" fill=\"{}\"/>\n",
                         x0 + label_width, y, bar, bar_height, color);
      svg += fmt::format("<text x=\"{}\" y=\"{}\" font-size=\"12\" fill=\"#222\">{}</text>\n",
                         x0 + label_width + bar + 6, y + bar_height - 8, escape_xml(panels[p].label(value)));
    }
  }
  std::vector<std::string> skipped;
  for (const auto& r : results) {
    if (r.skipped) skipped.push_back(r.engine + " skipped: " + *r.skipped);
  }
  svg += fmt::format(
      "<text x=\"20\" y=\"{}\" font-size=\"12\" fill=\"#666\">{}</text>\n", height - 20,
      escape_xml(skipped.empty() ? "Shorter bars are better. Green: gocrate." : join(skipped, "; ")));
  svg += "</svg>\n";
  return svg;
}

}  // namespace gocrate
