#include <fmt/format.h>
#include <unistd.h>

#include "cli/commands.h"
#include "measure/engines.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/progress.h"
#include "util/strings.h"

namespace gocrate::cli {

int measure_command(Globals& globals, int argc, char** argv) {
  CLI::App app{
      "Run an image under gocrate and, where they can run, under the bare binary, Docker and Podman; "
      "report start time, peak memory and image size, and the seed's model: R_sav = R_s - R_c, "
      "S_imp = S_s - S_c. Arguments after -- go to the program.",
      "measure"};
  MeasureRequest request;
  request.args = take_arguments_after_double_dash(argc, argv);
  std::string ready, chart, against = "bare,docker,podman";
  double timeout_seconds = 30;
  bool as_json = false;
  add_global_options(app, globals);
  app.add_option("image", request.image, "The image to measure")->required();
  app.add_option("--ready", ready,
                 "Measure start until http://HOST:PORT/PATH answers 2xx, or tcp://HOST:PORT accepts");
  app.add_option("--against", against, "Baselines: bare, docker, podman (comma-separated)")
      ->capture_default_str();
  app.add_option("--runs", request.runs, "Runs per engine, after one that is not counted")
      ->capture_default_str();
  app.add_option("--timeout", timeout_seconds, "Seconds one run may take")->capture_default_str();
  app.add_option("--chart", chart, "Also write the figures as an SVG bar chart");
  app.add_flag("--json", as_json, "Print the figures as JSON");
  parse_command_line(app, argc, argv);
  if (::geteuid() != 0) fail("gocrate measure runs containers and makes cgroups: run it as root (sudo)");

  if (!ready.empty()) request.ready = ready;
  for (const auto& engine : split(against, ',')) {
    if (!trim(engine).empty()) request.against.emplace_back(trim(engine));
  }
  request.timeout = std::chrono::milliseconds(static_cast<int64_t>(timeout_seconds * 1000));
  request.gocrate_binary = gocrate_executable();
  Progress progress(!as_json && Progress::stderr_is_terminal());
  std::map<std::string, size_t> lines;
  request.on_run = [&](const std::string& engine, int run, int runs) {
    if (!lines.contains(engine)) lines[engine] = progress.add(engine);
    progress.set(lines[engine], fmt::format("run {}/{}", run, runs));
  };

  Store store = open_store(globals);
  std::vector<EngineResult> results = measure_image(store, request);
  progress.finish();
  std::vector<ModelRow> model = seed_model(results.front(), results);
  if (!chart.empty())
    write_file_atomic(absolute_path(chart), render_svg_chart(request.image, results, model));
  if (as_json) {
    fmt::print("{}\n", report_json(request.image, results, model).dump(2));
  } else {
    fmt::print("{}", render_table(request.image, results, model));
  }
  return 0;
}

}  // namespace gocrate::cli
