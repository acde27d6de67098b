// state, list, ps, features: what the runtime knows, printed as runc prints it.

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "runtime/oci/runtime.h"
#include "runtime/oci/spec.h"
#include "runtime_cli/commands.h"
#include "util/error.h"
#include "util/process.h"
#include "util/strings.h"

namespace gocrate::oci::cli {
namespace {

constexpr FlagSpec kListFlags[] = {
    {"format", "f", true, "select one of: table or json (default: \"table\")"},
    {"quiet", "q", false, "display only container IDs"},
};

constexpr FlagSpec kPsFlags[] = {
    {"format", "f", true, "select one of: table or json (default: \"table\")"},
};

void print(std::string_view text) {
  std::fwrite(text.data(), 1, text.size(), stdout);
}

std::string output_format(const Flags& flags) {
  std::string format = flags.value("format", "table");
  if (format != "table" && format != "json") fail("invalid --format \"{}\": use table or json", format);
  return format;
}

std::string owner_name(const State& state) {
  return state.owner.empty() ? "root" : state.owner;
}

// Go's text/tabwriter as runc sets it up: cells padded by 3 to at least 12
// columns; the last cell of a line is not padded.
std::string table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths;
  for (const auto& row : rows)
    for (size_t i = 0; i + 1 < row.size(); ++i) {
      if (widths.size() <= i) widths.resize(i + 1, 0);
      widths[i] = std::max({widths[i], row[i].size() + 3, size_t{12}});
    }
  std::string text;
  for (const auto& row : rows) {
    for (size_t i = 0; i < row.size(); ++i) {
      text += row[i];
      if (i + 1 < row.size()) text.append(widths[i] - row[i].size(), ' ');
    }
    text += '\n';
  }
  return text;
}

int state_command(const GlobalOptions& global, const Flags& flags) {
  std::string text = state_json_text(state(global.runtime, flags.args[0]));
  if (!text.ends_with('\n')) text += '\n';
  print(text);
  return 0;
}

int list_command(const GlobalOptions& global, const Flags& flags) {
  std::string format = output_format(flags);
  std::vector<State> containers = list(global.runtime);
  if (flags.enabled("quiet")) {
    for (const State& container : containers) print(container.id + "\n");
    return 0;
  }
  if (format == "json") {
    // runc encodes an empty list as null.
    nlohmann::ordered_json array =
        containers.empty() ? nlohmann::ordered_json() : nlohmann::ordered_json::array();
    for (const State& c : containers) {
      nlohmann::ordered_json item{{"ociVersion", c.oci_version},
                                  {"id", c.id},
                                  {"pid", c.pid},
                                  {"status", status_name(c.status)},
                                  {"bundle", c.bundle},
                                  {"rootfs", c.rootfs},
                                  {"created", c.created}};
      if (!c.annotations.empty()) item["annotations"] = c.annotations;
      item["owner"] = owner_name(c);
      array.push_back(std::move(item));
    }
    print(array.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
    return 0;
  }
  std::vector<std::vector<std::string>> rows{{"ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"}};
  for (const State& c : containers)
    rows.push_back({c.id, std::to_string(c.pid), std::string(status_name(c.status)), c.bundle, c.created,
                    owner_name(c)});
  print(table(rows));
  return 0;
}

// runc's ps: the host's `ps` (-ef unless options follow the id), keeping the
// header and the lines of the container's pids.
int ps_command(const GlobalOptions& global, const Flags& flags) {
  std::string format = output_format(flags);
  std::vector<pid_t> pids = processes(global.runtime, flags.args[0]);
  if (format == "json") {
    nlohmann::json array = pids.empty() ? nlohmann::json() : nlohmann::json(pids);
    print(array.dump() + "\n");
    return 0;
  }
  std::vector<std::string> argv{"ps"};
  argv.insert(argv.end(), flags.args.begin() + 1, flags.args.end());
  if (argv.size() == 1) argv.push_back("-ef");
  ProcessResult ps = run_process(argv);
  if (ps.exit_code != 0)
    fail("{} exited with status {}: {}", join(argv, " "), ps.exit_code, trim(ps.err + ps.out));
  std::vector<std::string> lines = split(ps.out, '\n');
  std::vector<std::string> header = lines.empty() ? std::vector<std::string>{} : split(lines[0], ' ');
  std::erase(header, "");
  auto pid_column = std::find(header.begin(), header.end(), "PID");
  if (pid_column == header.end())
    fail("couldn't find PID field in ps output: give ps options that show the PID column, such as -ef");
  size_t index = static_cast<size_t>(pid_column - header.begin());
  std::string text = lines[0] + "\n";
  for (size_t i = 1; i < lines.size(); ++i) {
    std::vector<std::string> fields = split(lines[i], ' ');
    std::erase(fields, "");
    if (fields.empty()) continue;
    int64_t pid = 0;
    if (fields.size() <= index || !parse_int(fields[index], 0, INT32_MAX, pid))
      fail("unable to parse pid from ps output line \"{}\"", lines[i]);
    if (std::find(pids.begin(), pids.end(), static_cast<pid_t>(pid)) != pids.end()) text += lines[i] + "\n";
  }
  print(text);
  return 0;
}

int features_command(const GlobalOptions&, const Flags&) {
  std::string text = features_json_text();
  if (!text.ends_with('\n')) text += '\n';
  print(text);
  return 0;
}

}  // namespace

constexpr Verb kStateVerb{
    "state",      "output the state of a container", "<container-id>", {}, FlagOrder::anywhere, 1, 1,
    state_command};
constexpr Verb kListVerb{"list",
                         "lists containers started by gocrate-runtime with the given root",
                         "",
                         kListFlags,
                         FlagOrder::anywhere,
                         0,
                         0,
                         list_command};
constexpr Verb kPsVerb{"ps",
                       "ps displays the processes running inside a container",
                       "<container-id> [ps options]",
                       kPsFlags,
                       FlagOrder::before_arguments,
                       1,
                       SIZE_MAX,
                       ps_command};
constexpr Verb kFeaturesVerb{"features",      "show the enabled features", "", {}, FlagOrder::anywhere, 0, 0,
                             features_command};

}  // namespace gocrate::oci::cli
