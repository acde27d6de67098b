// gocrate-runtime: runc's command line over gocrate's OCI runtime, for the
// engines (containerd's shim, Podman's conmon) that run one.

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <exception>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "runtime_cli/commands.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/strings.h"

namespace gocrate::oci::cli {
namespace {

constexpr Verb kHelpVerb{
    "help", "Shows a list of commands or help for one command", "[command]", {}, FlagOrder::anywhere, 0, 1,
    nullptr};
constexpr Verb kCheckpointVerb{"checkpoint",
                               "checkpoint a running container (not supported)",
                               "<container-id>",
                               {},
                               FlagOrder::anywhere,
                               0,
                               0,
                               nullptr,
                               "checkpoint is not supported by gocrate-runtime (no CRIU)"};
constexpr Verb kRestoreVerb{"restore",
                            "restore a container from a previous checkpoint (not supported)",
                            "<container-id>",
                            {},
                            FlagOrder::anywhere,
                            0,
                            0,
                            nullptr,
                            "restore is not supported by gocrate-runtime (no CRIU)"};
constexpr Verb kEventsVerb{
    "events",
    "display container events and statistics (not supported)",
    "<container-id>",
    {},
    FlagOrder::anywhere,
    0,
    0,
    nullptr,
    "events is not supported by gocrate-runtime: read the statistics from the container's "
    "cgroup files (its cgroupsPath under /sys/fs/cgroup)"};

constexpr const Verb* kVerbs[] = {&kCheckpointVerb, &kCreateVerb,   &kDeleteVerb, &kEventsVerb, &kExecVerb,
                                  &kKillVerb,       &kListVerb,     &kPauseVerb,  &kPsVerb,     &kRestoreVerb,
                                  &kResumeVerb,     &kRunVerb,      &kSpecVerb,   &kStartVerb,  &kStateVerb,
                                  &kUpdateVerb,     &kFeaturesVerb, &kHelpVerb};

const Verb* find_verb(std::string_view name) {
  if (name == "h") return &kHelpVerb;
  for (const Verb* verb : kVerbs)
    if (verb->name == name) return verb;
  return nullptr;
}

void print(std::string_view text) {
  std::fwrite(text.data(), 1, text.size(), stdout);
}

std::string options_text(std::span<const FlagSpec> flags, bool with_help) {
  std::vector<std::pair<std::string, std::string_view>> lines;
  for (const FlagSpec& flag : flags) lines.emplace_back(flag_synopsis(flag), flag.help);
  if (with_help) lines.emplace_back("--help, -h", "show help");
  size_t width = 0;
  for (const auto& [synopsis, help] : lines) width = std::max(width, synopsis.size());
  std::string text;
  for (const auto& [synopsis, help] : lines) text += fmt::format("   {:<{}}  {}\n", synopsis, width, help);
  return text;
}

void print_global_help() {
  std::string text =
      "NAME:\n"
      "   gocrate-runtime - Open Container Initiative runtime\n\n"
      "gocrate-runtime runs containers from OCI bundles (a config.json and a root\n"
      "filesystem) with runc's commands and flags, for engines such as containerd and\n"
      "Podman.\n\n"
      "USAGE:\n"
      "   gocrate-runtime [global options] command [command options] [arguments...]\n\n"
      "VERSION:\n"
      "   " GOCRATE_VERSION
      "\n\n"
      "COMMANDS:\n";
  for (const Verb* verb : kVerbs)
    text += fmt::format("   {:<10}  {}\n", verb == &kHelpVerb ? "help, h" : verb->name, verb->summary);
  text += "\nGLOBAL OPTIONS:\n" + options_text(kGlobalFlags, true);
  print(text);
}

void print_verb_help(const Verb& verb) {
  std::string text =
      fmt::format("NAME:\n   gocrate-runtime {} - {}\n\nUSAGE:\n   gocrate-runtime {}{}{}{}\n", verb.name,
                  verb.summary, verb.name, verb.flags.empty() ? "" : " [command options]",
                  verb.arguments.empty() ? "" : " ", verb.arguments);
  if (!verb.flags.empty()) text += "\nOPTIONS:\n" + options_text(verb.flags, false);
  print(text);
}

std::string usage_hint(const Verb& verb) {
  return fmt::format("usage: gocrate-runtime {}{}{}; see gocrate-runtime {} --help", verb.name,
                     verb.arguments.empty() ? "" : " ", verb.arguments, verb.name);
}

int run_verb(const GlobalOptions& global) {
  if (global.version) {
    print("gocrate-runtime version " GOCRATE_VERSION "\nspec: " + std::string(kSpecVersion) + "\n");
    return 0;
  }
  if (global.help || global.command.empty()) {
    print_global_help();
    return 0;
  }
  const std::string& name = global.command[0];
  const Verb* verb = find_verb(name);
  if (!verb) fail("unknown command \"{}\": see gocrate-runtime --help", name);
  if (!verb->refusal.empty()) fail("{}", verb->refusal);
  std::span<const std::string> rest(global.command.begin() + 1, global.command.end());
  Flags flags = parse_flags(verb->flags, rest, verb->order, verb->name);
  if (verb == &kHelpVerb) {
    if (flags.help || flags.args.empty()) {
      print_global_help();
      return 0;
    }
    const Verb* topic = find_verb(flags.args[0]);
    if (!topic) fail("no help topic for \"{}\": see gocrate-runtime --help", flags.args[0]);
    print_verb_help(*topic);
    return 0;
  }
  if (flags.help) {
    print_verb_help(*verb);
    return 0;
  }
  if (flags.args.size() < verb->min_args)
    fail("{} needs {}: {}", verb->name, verb->arguments, usage_hint(*verb));
  if (flags.args.size() > verb->max_args)
    fail("unexpected argument \"{}\" for {}: {}", flags.args[verb->max_args], verb->name, usage_hint(*verb));
  check_global_options(global);
  return verb->run(global, flags);
}

std::string json_string(std::string_view text) {
  return nlohmann::json(text).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// Engines read errors from the --log file: logrus's line formats, as runc writes them.
void log_error(const GlobalOptions& global, std::string_view message) {
  if (global.log_file.empty()) return;
  std::string time = rfc3339_utc(std::time(nullptr));
  std::string line =
      global.log_format == "json"
          ? fmt::format("{{\"level\":\"error\",\"msg\":{},\"time\":\"{}\"}}\n", json_string(message), time)
          : fmt::format("time=\"{}\" level=error msg={}\n", time, json_string(message));
  int fd = ::open(global.log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) {
    std::fprintf(stderr, "gocrate-runtime: cannot open the --log file %s: %s\n", global.log_file.c_str(),
                 errno_text(errno).c_str());
    return;
  }
  UniqueFd file(fd);
  if (::write(file.get(), line.data(), line.size()) < 0) {
    std::fprintf(stderr, "gocrate-runtime: cannot write the --log file %s: %s\n", global.log_file.c_str(),
                 errno_text(errno).c_str());
  }
}

int report(const GlobalOptions* global, std::string_view message, int exit_code) {
  std::fflush(stdout);
  std::fprintf(stderr, "gocrate-runtime: %.*s\n", static_cast<int>(message.size()), message.data());
  if (global) log_error(*global, message);
  return exit_code;
}

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  GlobalOptions global;
  try {
    global = parse_global_options(args);
  } catch (const Error& e) {
    return report(nullptr, e.what(), 1);
  }
  try {
    int code = run_verb(global);
    std::fflush(stdout);
    return code;
  } catch (const Error& e) {
    return report(&global, e.what(), e.exit_code());
  } catch (const std::exception& e) {
    return report(&global, e.what(), 1);
  }
}

}  // namespace
}  // namespace gocrate::oci::cli

int main(int argc, char** argv) {
  return gocrate::oci::cli::main(argc, argv);
}
