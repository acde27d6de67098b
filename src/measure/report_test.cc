#include "measure/report.h"

#include <gtest/gtest.h>

namespace gocrate {
namespace {

std::vector<EngineResult> sample() {
  EngineResult gocrate{"gocrate", std::nullopt, {0.004, 0.005, 0.006}, 6 << 20, 2'100'000, 4'700'000};
  EngineResult docker{"docker", std::nullopt, {0.170, 0.180}, 9 << 20, 2'100'000, 4'700'000};
  EngineResult podman{"podman", std::string("podman is not installed"), {}, 0, 0, 0};
  return {gocrate, docker, podman};
}

TEST(MeasureReport, ModelIsBaselineMinusGocrate) {
  auto results = sample();
  auto model = seed_model(results[0], results);
  ASSERT_EQ(model.size(), 1u);  // the skipped engine has no row
  EXPECT_EQ(model[0].baseline, "docker");
  EXPECT_DOUBLE_EQ(model[0].r_sav, (9 << 20) - (6 << 20));
  EXPECT_NEAR(model[0].s_imp, 0.175 - 0.005, 1e-12);
  EXPECT_NEAR(results[0].median_seconds(), 0.005, 1e-12);
}

TEST(MeasureReport, TableJsonAndChartCarryEveryFigure) {
  auto results = sample();
  auto model = seed_model(results[0], results);
  std::string table = render_table("hello:latest", results, model);
  for (const char* text : {"R_c", "R_s", "R_sav", "S_c", "S_s", "S_imp", "+3.0 MiB", "+170.0 ms",
                           "podman skipped: podman is not installed"}) {
    EXPECT_NE(table.find(text), std::string::npos) << text << "\n" << table;
  }
  auto json = report_json("hello:latest", results, model);
  EXPECT_EQ(json["model"][0]["baseline"], "docker");
  EXPECT_EQ(json["engines"][2]["skipped"], "podman is not installed");
  std::string svg = render_svg_chart("hello:latest", results, model);
  EXPECT_TRUE(svg.starts_with("<svg"));
  EXPECT_NE(svg.find("#1a7f37"), std::string::npos);
  EXPECT_NE(svg.find("vs docker: R_sav +3.0 MiB, S_imp +170.0 ms"), std::string::npos);
}

}  // namespace
}  // namespace gocrate
