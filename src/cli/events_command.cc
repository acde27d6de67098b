// gocrate events: what the journal of the store (store/events.h) recorded.
#include <cstdio>
#include <ctime>

#include "cli/commands.h"
#include "store/events.h"
#include "util/error.h"
#include "util/go_template.h"

namespace gocrate::cli {

int events_command(Globals& globals, int argc, char** argv) {
  CLI::App app{
      "Show what happens to containers and images: new events as they happen, or past ones with --since or "
      "--until",
      "events"};
  std::string since, until, format;
  std::vector<std::string> filters;
  add_global_options(app, globals);
  app.add_option("--since", since,
                 "Show events from this time (without it and --until, only new ones): RFC 3339 "
                 "(2024-01-31T15:04:05Z), Unix seconds, or a duration before now (10m)");
  app.add_option("--until", until, "Show events up to this time (same forms), then end instead of waiting");
  app.add_option("-f,--filter", filters,
                 "Filter: container=, image=, event=, type=container|image|volume, label=KEY[=VALUE]")
      ->allow_extra_args(false);
  app.add_option("--format", format,
                 "A Go template ({{.Actor.Attributes.name}}), or json (one object a line)");
  parse_command_line(app, argc, argv);

  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  int64_t now = int64_t(ts.tv_sec) * 1000000000 + ts.tv_nsec;
  EventQuery query;
  if (!since.empty()) query.since = parse_event_time(since, now);
  if (!until.empty()) query.until = parse_event_time(until, now);
  // As Docker: without either, only what happens from now on; --until alone
  // shows the past up to it.
  if (since.empty() && until.empty()) query.since = now;
  query.filters = parse_event_filters(filters);
  std::optional<GoTemplate> row_template;
  if (!format.empty() && format != "json") row_template = GoTemplate::parse(format);

  bool follow = !query.until || *query.until > now;
  Store store = open_store(globals);
  read_events(store.dir(), query, follow, [&](const Event& event) {
    std::string line;
    if (format == "json") {
      line = event_json_line(event);
    } else if (row_template) {
      line = row_template->execute(event_to_docker_json(event));
    } else {
      line = format_event_line(event);
    }
    line += '\n';
    // A reader that went away (`| head`) ends the command quietly.
    if (std::fwrite(line.data(), 1, line.size(), stdout) != line.size()) return false;
    if (follow && std::fflush(stdout) != 0) return false;
    return true;
  });
  std::fflush(stdout);
  return 0;
}

}  // namespace gocrate::cli
