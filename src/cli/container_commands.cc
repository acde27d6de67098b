// Commands on containers that exist: everything they know is in the files of
// the state directory (runtime/README.md), so each is a fresh process that
// reads them and, for a running container, talks to its supervisor or
// signals it.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <deque>
#include <nlohmann/json.hpp>
#include <thread>

#include "cli/commands.h"
#include "cli/docker_flags.h"
#include "runtime/container.h"
#include "runtime/container_config.h"
#include "runtime/container_control.h"
#include "runtime/container_filter.h"
#include "runtime/container_log.h"
#include "runtime/env_file.h"
#include "runtime/exec.h"
#include "runtime/mount_options.h"
#include "runtime/signal_names.h"
#include "runtime/stdio_relay.h"
#include "runtime/supervisor.h"
#include "runtime/terminal.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/go_template.h"
#include "util/strings.h"

namespace gocrate::cli {

using nlohmann::json;

namespace {

constexpr auto kReleaseTimeout = std::chrono::seconds(30);
// How long rm -f lets a starting container answer before it kills its owner.
constexpr auto kStuckStartTimeout = std::chrono::seconds(1);

// ---- Finding containers ------------------------------------------------------

// A container as the commands see it: its state and whether a process (its
// supervisor or foreground gocrate) still owns it.
struct ContainerView {
  ContainerState state;
  std::string dir;
  bool owned = false;

  bool running() const { return owned && state.status == "running"; }
  bool active() const {
    return owned && (state.status == "running" || state.status == "restarting" || state.status == "created");
  }
};

// An owner saves the final state before it lets go: when the container has
// no owner, the state is read again, so that one read just before the end
// does not pass for a container whose owner died.
ContainerView view_of(const ContainerDirectory& directory, ContainerState state) {
  std::string dir = directory.dir_of(state.id);
  bool owned = container_is_owned(dir);
  if (!owned) {
    if (auto final_state = directory.find(state.id)) state = std::move(*final_state);
  }
  return {std::move(state), std::move(dir), owned};
}

bool is_hex(std::string_view text) {
  return !text.empty() && text.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

// A full id, a name, or a prefix of exactly one id.
ContainerView find_container(const ContainerDirectory& directory, const std::string& ref) {
  if (auto state = directory.find(ref)) return view_of(directory, std::move(*state));
  if (is_hex(ref)) {
    std::vector<std::string> matches;
    for (const auto& id : directory.ids()) {
      if (id.starts_with(ref)) matches.push_back(id);
    }
    if (matches.size() > 1) {
      fail("\"{}\" is the start of {} container ids: give more of the id, or the name", ref, matches.size());
    }
    if (matches.size() == 1) {
      if (auto state = directory.find(matches[0])) return view_of(directory, std::move(*state));
    }
  }
  fail("no container \"{}\": see `gocrate ps -a` for the containers there are", ref);
}

std::vector<ContainerView> all_containers(const ContainerDirectory& directory) {
  std::vector<ContainerView> views;
  for (auto& state : directory.list()) views.push_back(view_of(directory, std::move(state)));
  std::sort(views.begin(), views.end(),
            [](const ContainerView& a, const ContainerView& b) { return a.state.created > b.state.created; });
  return views;
}

[[noreturn]] void fail_not_running(const ContainerView& c) {
  fail("container {} is not running: see `gocrate ps -a`", c.state.name);
}

// "running", "exited (1)", "restarting (1)", "dead (supervisor gone)".
std::string status_text(const ContainerView& c) {
  const ContainerState& s = c.state;
  std::string code = s.exit_code ? fmt::format(" ({})", *s.exit_code) : "";
  std::string gone = s.supervised ? "dead (supervisor gone)" : "dead (gocrate gone)";
  if (s.status == "dead") return gone;
  if (s.status == "exited") return "exited" + code + (s.oom_killed ? " OOMKilled" : "");
  // Made by `create` and never started, or a foreground run not started yet.
  if (!c.owned) return s.status == "created" && (!s.supervised || s.started.empty()) ? "created" : gone;
  if (s.status == "restarting") return "restarting" + code;
  return s.status;
}

// Docker's State.Status.
std::string docker_status(const ContainerView& c) {
  std::string text = status_text(c);
  return text.substr(0, text.find(' '));
}

std::optional<ContainerConfig> config_of(const ContainerView& c) {
  return read_container_config(c.dir);
}

std::string short_id(const std::string& id) {
  return id.substr(0, 12);
}

time_t parse_rfc3339(const std::string& text) {
  tm t{};
  if (!::strptime(text.c_str(), "%Y-%m-%dT%H:%M:%S", &t)) return 0;
  return ::timegm(&t);
}

std::string ago(const std::string& when) {
  time_t then = parse_rfc3339(when);
  if (!then) return "";
  int64_t s = std::max<int64_t>(0, ::time(nullptr) - then);
  auto unit = [](int64_t n, const char* name) {
    return fmt::format("{} {}{} ago", n, name, n == 1 ? "" : "s");
  };
  if (s < 1) return "Less than a second ago";  // Docker's words
  if (s < 60) return unit(s, "second");
  if (s < 3600) return unit(s / 60, "minute");
  if (s < 86400) return unit(s / 3600, "hour");
  return unit(s / 86400, "day");
}

std::string command_text(const ContainerState& s) {
  std::string text = join(s.command, " ");
  return text.size() > 24 ? text.substr(0, 23) + "…" : text;
}

std::string ports_text(const ContainerState& s) {
  std::vector<std::string> ports;
  for (const auto& p : s.ports) ports.push_back(port_mapping_text(p));
  return join(ports, ", ");
}

// Runs `action` for each reference, printing what `action` returns; an
// error is printed and the others still run, as Docker does.
int for_each_container(const std::vector<std::string>& refs,
                       const std::function<std::string(const std::string&)>& action) {
  int code = 0;
  for (const auto& ref : refs) {
    try {
      std::string out = action(ref);
      if (!out.empty()) fmt::print("{}\n", out);
      std::fflush(stdout);
    } catch (const Error& e) {
      fmt::print(stderr, "gocrate: {}\n", e.what());
      code = 1;
    }
  }
  return code;
}

// ---- ps ------------------------------------------------------------------------

json ps_json(const ContainerView& c) {
  const ContainerState& s = c.state;
  return {{"ID", s.id},
          {"Names", s.name},
          {"Image", s.image},
          {"Command", join(s.command, " ")},
          {"CreatedAt", s.created},
          {"RunningFor", ago(s.created)},
          {"State", docker_status(c)},
          {"Status", status_text(c)},
          {"Health", s.health},
          {"RestartCount", s.restart_count},
          {"Ports", ports_text(s)},
          {"ExitCode", s.exit_code ? *s.exit_code : 0},
          {"OOMKilled", s.oom_killed},
          {"Pid", c.running() ? s.pid : 0}};
}

// A config.json that cannot be read leaves the fields it gives empty; ps
// still lists the container.
std::optional<ContainerConfig> config_of_quietly(const ContainerView& c) {
  try {
    return config_of(c);
  } catch (const Error&) {
    return std::nullopt;
  }
}

// The mounts a container was given: recorded in its state, or for a
// detached container whose state lacks them, in its config.
std::vector<MountRecord> mount_records(const ContainerView& c, const std::optional<ContainerConfig>& config) {
  if (!c.state.mounts.empty() || !config) return c.state.mounts;
  std::vector<MountRecord> records;
  for (const auto& v : config->spec.volumes) records.push_back(mount_record(v));
  return records;
}

const std::map<std::string, std::string>& labels_of(const ContainerView& c,
                                                    const std::optional<ContainerConfig>& config) {
  return c.state.labels.empty() && config ? config->spec.labels : c.state.labels;
}

// What a ps filter's ancestor= value names in the store: the name, the
// index's and each platform manifest's digest.
std::vector<std::string> image_refs_in_store(Store& store, const std::string& ref) {
  std::vector<std::string> refs;
  try {
    auto image = store.find(ref);
    if (!image) return refs;
    refs.push_back(image->name);
    refs.push_back(image->descriptor.digest.str());
    for (const auto& p : load_all_platform_images(store, image->descriptor, image->name))
      refs.push_back(p.descriptor.digest.str());
  } catch (const Error&) {
  }
  return refs;
}

ContainerFacts container_facts(const ContainerView& c, const std::optional<ContainerConfig>& config) {
  const ContainerState& s = c.state;
  ContainerFacts f;
  f.id = s.id;
  f.name = s.name;
  f.state = docker_status(c);
  f.health = s.health;
  f.exit_code = s.exit_code;
  f.labels = labels_of(c, config);
  f.image_refs = {s.image, s.image_digest};
  try {
    f.image_refs.push_back(Store::canonical_name(s.image));
  } catch (const Error&) {
  }
  for (const auto& m : mount_records(c, config)) {
    if (!m.name.empty()) f.volumes.push_back(m.name);
    if (!m.source.empty()) f.volumes.push_back(m.source);
    f.volumes.push_back(m.destination);
  }
  return f;
}

// Docker's formatter.Ellipsis: at most `width` characters, the last one "…".
std::string ellipsis(const std::string& text, size_t width) {
  std::vector<size_t> starts;
  for (size_t i = 0; i < text.size(); ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) starts.push_back(i);
  }
  if (starts.size() <= width) return text;
  return text.substr(0, starts[width - 1]) + "…";
}

// The fields of Docker's ps --format (cli/command/formatter/container.go).
json ps_context(const ContainerView& c, const std::optional<ContainerConfig>& config, bool trunc,
                time_t now) {
  const ContainerState& s = c.state;
  std::string command = join(s.command, " ");
  if (trunc) command = ellipsis(command, 20);
  std::vector<std::string> labels, mounts;
  for (const auto& [k, v] : labels_of(c, config)) labels.push_back(k + "=" + v);
  int local_volumes = 0;
  for (const auto& m : mount_records(c, config)) {
    if (m.tmpfs_flag) continue;
    std::string name = m.name.empty() ? m.source : m.name;
    mounts.push_back(trunc ? ellipsis(name, 15) : name);
    if (m.type == "volume") ++local_volumes;
  }
  time_t created = parse_rfc3339_seconds(s.created);
  time_t started = parse_rfc3339_seconds(s.started);
  time_t finished = parse_rfc3339_seconds(s.finished);
  return {{"ID", trunc ? short_id(s.id) : s.id},
          {"Image", s.image},
          {"Command", go_quote(command)},
          {"CreatedAt", go_time_text(created)},
          {"RunningFor", human_duration(std::max<int64_t>(0, now - created)) + " ago"},
          {"Ports", ports_text(s)},
          {"State", docker_status(c)},
          {"Status", docker_status_text(docker_status(c), s.health, s.exit_code, started, finished, now)},
          {"Size", "0B"},
          {"Names", s.name},
          {"Labels", join(labels, ",")},
          {"Mounts", join(mounts, ",")},
          {"Networks", s.network},
          {"LocalVolumes", std::to_string(local_volumes)}};
}

// Docker's ps table headers, what `table` templates print as their first line.
json ps_header() {
  return {{"ID", "CONTAINER ID"},    {"Image", "IMAGE"},
          {"Command", "COMMAND"},    {"CreatedAt", "CREATED AT"},
          {"RunningFor", "CREATED"}, {"Ports", "PORTS"},
          {"State", "STATE"},        {"Status", "STATUS"},
          {"Size", "SIZE"},          {"Names", "NAMES"},
          {"Labels", "LABELS"},      {"Mounts", "MOUNTS"},
          {"Networks", "NETWORKS"},  {"LocalVolumes", "LOCAL VOLUMES"}};
}

void print_table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths;
  for (const auto& row : rows) {
    widths.resize(std::max(widths.size(), row.size()));
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(widths[i] - row[i].size() + 3, ' ');
    }
    fmt::print("{}\n", trim(line));
  }
}

}  // namespace

int ps_command(Globals& globals, int argc, char** argv) {
  CLI::App app{"List containers (running ones; -a: all)", "ps"};
  bool all = false, quiet = false, no_trunc = false, latest = false;
  int last = -1;
  std::string format;
  std::vector<std::string> filters;
  add_global_options(app, globals);
  app.add_flag("-a,--all", all, "Show every container, not only running ones");
  app.add_flag("-q,--quiet", quiet, "Show only ids");
  app.add_option("-f,--filter", filters,
                 "Filter: id=, name= (regular expressions), status=, label=KEY[=VALUE], ancestor=IMAGE, "
                 "exited=CODE, health=, volume=")
      ->allow_extra_args(false);
  app.add_option(
      "--format", format,
      "A Go template ({{.Names}}\\t{{.Status}}), table TEMPLATE, table, or json (one JSON object a line)");
  app.add_flag("--no-trunc", no_trunc, "Do not truncate ids and commands");
  app.add_option("-n,--last", last, "Show the N last created containers (all states)");
  app.add_flag("-l,--latest", latest, "Show the last created container (all states)");
  parse_command_line(app, argc, argv);
  if (latest) last = 1;
  ContainerFilter filter = ContainerFilter::parse(filters);
  std::optional<DockerFormat> docker_format;
  std::optional<GoTemplate> row_template;
  if (!quiet && !format.empty() && format != "json" && format != "table") {
    docker_format = parse_docker_format(format);
    row_template = GoTemplate::parse(docker_format->text);
  }
  Store store = open_store(globals);
  ContainerDirectory directory(store.dir());
  ImageRefsOf image_refs_of = [&store](const std::string& ref) { return image_refs_in_store(store, ref); };
  time_t now = ::time(nullptr);
  std::vector<std::vector<std::string>> rows = {
      {"CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "HEALTH", "RESTARTS", "PORTS", "NAMES"}};
  std::string formatted;
  int shown = 0;
  bool show_stopped = all || filter.lists_stopped() || last >= 0;
  for (const auto& c : all_containers(directory)) {
    if (!show_stopped && !c.active()) continue;
    if (last >= 0 && shown >= last) break;
    std::optional<ContainerConfig> config;
    if (!filter.empty() || row_template) config = config_of_quietly(c);
    if (!filter.matches(container_facts(c, config), image_refs_of)) continue;
    ++shown;
    if (quiet) {
      fmt::print("{}\n", no_trunc ? c.state.id : short_id(c.state.id));
    } else if (format == "json") {
      fmt::print("{}\n", ps_json(c).dump());
    } else if (row_template) {
      GoTemplateOptions options;
      options.struct_type = "*formatter.ContainerContext";
      std::map<std::string, std::string> labels =
          c.state.labels.empty() && config ? config->spec.labels : c.state.labels;
      options.methods["Label"] = [labels](const json&, const std::vector<json>& args) -> json {
        if (args.size() != 1 || !args[0].is_string())
          fail("wrong number of args for Label: want 1 got {}", args.size());
        auto it = labels.find(args[0].get<std::string>());
        return it == labels.end() ? "" : it->second;
      };
      formatted += row_template->execute(ps_context(c, config, !no_trunc, now), options) + "\n";
    } else {
      rows.push_back({short_id(c.state.id), c.state.image, "\"" + command_text(c.state) + "\"",
                      ago(c.state.created), status_text(c), c.state.health,
                      std::to_string(c.state.restart_count), ports_text(c.state), c.state.name});
    }
  }
  if (quiet || format == "json") return 0;
  if (!row_template) {
    print_table(rows);
  } else if (docker_format->table) {
    GoTemplateOptions header;
    header.header = true;
    std::string text = row_template->execute(ps_header(), header) + "\n" + formatted;
    fmt::print("{}", align_docker_columns(text));
  } else {
    fmt::print("{}", formatted);
  }
  return 0;
}

// ---- stop, kill ------------------------------------------------------------------

namespace {

// The image's StopSignal, or SIGTERM when it has none (or one gocrate does
// not know), as the supervisor does.
int stop_signal_of(const ContainerState& s) {
  try {
    return s.stop_signal.empty() ? SIGTERM : parse_signal(s.stop_signal, "StopSignal");
  } catch (const Error&) {
    return SIGTERM;
  }
}

// A foreground container has no supervisor: gocrate signals it itself, and
// its own gocrate records the exit.
void stop_foreground(const ContainerView& c, int timeout_seconds) {
  UniqueFd pidfd = open_container_pidfd(c.state);
  ::syscall(SYS_pidfd_send_signal, pidfd.get(), stop_signal_of(c.state), nullptr, 0);
  pollfd exited{pidfd.get(), POLLIN, 0};
  if (::poll(&exited, 1, timeout_seconds * 1000) == 0) {
    ::syscall(SYS_pidfd_send_signal, pidfd.get(), SIGKILL, nullptr, 0);
  }
}

void stop_container(const ContainerView& c, std::optional<int> timeout) {
  if (!c.active() || c.state.status == "created") fail_not_running(c);
  int seconds = timeout.value_or(10);
  if (c.state.supervised) {
    if (!timeout) {
      if (auto config = config_of(c)) seconds = config->supervision.stop_timeout;
    }
    if (!send_supervisor_request(c.dir, fmt::format("stop {}", seconds))) fail_not_running(c);
  } else {
    stop_foreground(c, seconds);
  }
  if (!wait_until_released(c.dir, std::chrono::seconds(seconds) + kReleaseTimeout)) {
    fail("container {} did not stop within {} s of SIGKILL: its supervisor may hang; see `gocrate ps`",
         c.state.name, kReleaseTimeout.count());
  }
}

}  // namespace

int stop_command(Globals& globals, int argc, char** argv) {
  CLI::App app{"Stop running containers: the stop signal, then SIGKILL after -t seconds", "stop"};
  std::optional<int> timeout;
  std::vector<std::string> refs;
  add_global_options(app, globals);
  app.add_option("-t,--time", timeout, "Seconds to wait before SIGKILL (default: the container's, 10)");
  app.add_option("CONTAINER", refs, "Containers: ids, id prefixes or names")->required();
  parse_command_line(app, argc, argv);
  if (timeout && *timeout < 0) fail("invalid -t {}: use a number of seconds from 0 up", *timeout);
  require_root("stop");
  ContainerDirectory directory(open_store(globals).dir());
  return for_each_container(refs, [&](const std::string& ref) {
    stop_container(find_container(directory, ref), timeout);
    return ref;
  });
}

int kill_command(Globals& globals, int argc, char** argv) {
  CLI::App app{"Send a signal to running containers (default SIGKILL)", "kill"};
  std::string signal_text = "KILL";
  std::vector<std::string> refs;
  add_global_options(app, globals);
  app.add_option("-s,--signal", signal_text, "Signal: a name (SIGTERM, TERM) or a number");
  app.add_option("CONTAINER", refs, "Containers: ids, id prefixes or names")->required();
  parse_command_line(app, argc, argv);
  int sig = parse_signal(signal_text, "--signal");
  require_root("kill");
  ContainerDirectory directory(open_store(globals).dir());
  return for_each_container(refs, [&](const std::string& ref) {
    ContainerView c = find_container(directory, ref);
    if (!c.running()) fail_not_running(c);
    if (c.state.supervised) {
      if (!send_supervisor_request(c.dir, fmt::format("kill {}", sig))) fail_not_running(c);
    } else {
      UniqueFd pidfd = open_container_pidfd(c.state);
      ::syscall(SYS_pidfd_send_signal, pidfd.get(), sig, nullptr, 0);
    }
    return ref;
  });
}

// ---- rm ----------------------------------------------------------------------

namespace {

// Every cgroup directory a container may have left, from its state or, for
// one whose state lacks them, by its id.
void remove_container_cgroups(const ContainerState& s) {
  std::vector<std::string> dirs = s.cgroup_dirs;
  for (const auto& h : CgroupLayout::detect().hierarchies) {
    std::string dir = h.mount + "/gocrate/" + s.id;
    if (path_exists(dir) && std::find(dirs.begin(), dirs.end(), dir) == dirs.end()) dirs.push_back(dir);
  }
  Cgroup(dirs, s.cgroup_v2).remove();
}

void remove_container(const ContainerDirectory& directory, ContainerView c, bool force) {
  if (c.active()) {
    if (!force) {
      fail("container {} is {}: stop it first, or remove it with rm -f", c.state.name, status_text(c));
    }
    if (c.state.supervised) {
      send_supervisor_request(c.dir, "stop 0");
    } else if (c.running()) {
      UniqueFd pidfd = open_container_pidfd(c.state);
      ::syscall(SYS_pidfd_send_signal, pidfd.get(), SIGKILL, nullptr, 0);
    }
    // A start that never finishes answers no request: its owner goes, and
    // the container with it.
    if (c.state.status == "created" && !wait_until_released(c.dir, kStuckStartTimeout))
      kill_stuck_owner(c.dir, c.state.owner_pid);
    if (!wait_until_released(c.dir, kReleaseTimeout)) {
      fail("container {} did not stop: its supervisor does not answer; see `gocrate ps`", c.state.name);
    }
  }
  UniqueFd lock(::open(c.dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!lock) return;  // removed by its own gocrate (--rm)
  if (::flock(lock.get(), LOCK_EX | LOCK_NB) != 0) {
    fail("container {} was started again meanwhile: stop it first", c.state.name);
  }
  auto state = directory.find(c.state.id);
  if (!state) return;
  remove_container_cgroups(*state);
  directory.remove(*state);
}

}  // namespace

int rm_command(Globals& globals, int argc, char** argv) {
  CLI::App app{"Remove containers: state, log, upper layer, cgroup", "rm"};
  bool force = false;
  std::vector<std::string> refs;
  add_global_options(app, globals);
  app.add_flag("-f,--force", force, "Kill running containers first");
  app.add_option("CONTAINER", refs, "Containers: ids, id prefixes or names")->required();
  parse_command_line(app, argc, argv);
  require_root("rm");
  ContainerDirectory directory(open_store(globals).dir());
  return for_each_container(refs, [&](const std::string& ref) {
    remove_container(directory, find_container(directory, ref), force);
    return ref;
  });
}

// ---- wait ----------------------------------------------------------------------

namespace {

// Watches a container's directory: any change wakes the caller.
class DirectoryWatch {
 public:
  explicit DirectoryWatch(const std::string& dir) : fd_(::inotify_init1(IN_CLOEXEC | IN_NONBLOCK)) {
    if (fd_)
      ::inotify_add_watch(fd_.get(), dir.c_str(), IN_MODIFY | IN_CREATE | IN_MOVED_TO | IN_DELETE_SELF);
  }
  // Until something changes or `timeout` passes.
  void wait(std::chrono::milliseconds timeout) const {
    pollfd ready{fd_.get(), POLLIN, 0};
    if (::poll(&ready, 1, static_cast<int>(timeout.count())) > 0) {
      char buffer[4096];
      while (::read(fd_.get(), buffer, sizeof buffer) > 0) {
      }
    }
  }

 private:
  UniqueFd fd_;
};

int wait_for_container(const ContainerDirectory& directory, const ContainerView& c) {
  DirectoryWatch watch(c.dir);
  std::optional<int> last_code;
  for (;;) {
    // Ownership first: an owner saves the final state before it lets go, so
    // a state read after an unowned check is final.
    bool owned = container_is_owned(c.dir);
    auto state = directory.find(c.state.id);
    if (!state) {
      if (last_code) return *last_code;
      fail("container {} was removed (--rm) before its exit code could be read", c.state.name);
    }
    if (state->exit_code) last_code = state->exit_code;
    bool starting_or_running = state->status == "running" || state->status == "created";
    if (!starting_or_running) return state->exit_code.value_or(0);
    if (!owned) return state->exit_code && !state->supervised ? *state->exit_code : 128 + SIGKILL;
    watch.wait(std::chrono::milliseconds(250));
  }
}

}  // namespace

int wait_command(Globals& globals, int argc, char** argv) {
  CLI::App app{"Wait until containers stop; print their exit codes", "wait"};
  std::vector<std::string> refs;
  add_global_options(app, globals);
  app.add_option("CONTAINER", refs, "Containers: ids, id prefixes or names")->required();
  parse_command_line(app, argc, argv);
  ContainerDirectory directory(open_store(globals).dir());
  return for_each_container(refs, [&](const std::string& ref) {
    return std::to_string(wait_for_container(directory, find_container(directory, ref)));
  });
}

// ---- logs --------------------------------------------------------------------

namespace {

struct OwnedEntry {
  std::string time;
  LogStream stream;
  bool partial;
  std::string text;
};

class LogPrinter {
 public:
  explicit LogPrinter(bool timestamps) : timestamps_(timestamps) {}
  void print(std::string_view time, LogStream stream, bool partial, std::string_view text) {
    FILE* out = stream == LogStream::out ? stdout : stderr;
    bool& at_start = stream == LogStream::out ? out_at_start_ : err_at_start_;
    if (timestamps_ && at_start) fmt::print(out, "{} ", time);
    std::fwrite(text.data(), 1, text.size(), out);
    if (!partial) std::fputc('\n', out);
    at_start = !partial;
  }
  void flush() {
    std::fflush(stdout);
    std::fflush(stderr);
  }

 private:
  bool timestamps_;
  bool out_at_start_ = true;
  bool err_at_start_ = true;
};

// The entries that make up the last `lines` lines.
std::deque<OwnedEntry> last_lines(ContainerLogReader& reader, int64_t lines) {
  std::deque<OwnedEntry> kept;
  int64_t complete = 0;
  reader.read_all([&](const LogEntry& e) {
    kept.push_back({std::string(e.time), e.stream, e.partial, std::string(e.text)});
    if (!e.partial) ++complete;
    while (complete > lines && !kept.empty()) {
      if (!kept.front().partial) --complete;
      kept.pop_front();
    }
  });
  return kept;
}

}  // namespace

int logs_command(Globals& globals, int argc, char** argv) {
  CLI::App app{"Show what a detached container wrote to stdout and stderr", "logs"};
  bool follow = false, timestamps = false;
  std::optional<int64_t> tail;
  std::string ref;
  add_global_options(app, globals);
  app.add_flag("-f,--follow", follow, "Keep printing what it writes until it stops");
  app.add_flag("-t,--timestamps", timestamps, "Show when each line was written");
  app.add_option("-n,--tail", tail, "Only the last N lines");
  app.add_option("CONTAINER", ref, "Container: id, id prefix or name")->required();
  parse_command_line(app, argc, argv);
  if (tail && *tail < 0) fail("invalid --tail {}: use a number of lines from 0 up", *tail);
  ContainerDirectory directory(open_store(globals).dir());
  ContainerView c = find_container(directory, ref);
  if (!c.state.supervised) {
    fail("container {} ran in the foreground: its output went to its gocrate's terminal, not to a log",
         c.state.name);
  }
  if (auto config = read_container_config(c.dir);
      config && config->supervision.log.driver == LogDriver::none) {
    fail(
        "container {} has no logs: it was run with --log-driver none, which keeps nothing (as Docker's, "
        "\"configured logging driver does not support reading\")",
        c.state.name);
  }
  LogPrinter printer(timestamps);
  auto print = [&printer](const LogEntry& e) { printer.print(e.time, e.stream, e.partial, e.text); };
  ContainerLogReader reader(c.dir);
  if (tail) {
    for (const auto& e : last_lines(reader, *tail)) printer.print(e.time, e.stream, e.partial, e.text);
  } else {
    reader.read_all(print);
  }
  printer.flush();
  if (!follow) return 0;
  DirectoryWatch watch(c.dir);
  for (;;) {
    bool owned = container_is_owned(c.dir);
    reader.read_new(print);
    printer.flush();
    if (!owned || !path_exists(c.dir)) return 0;
    watch.wait(std::chrono::milliseconds(250));
  }
}

// ---- inspect -------------------------------------------------------------------

namespace {

json health_json(const ContainerView& c) {
  std::string text = read_health_json(c.dir);
  if (!text.empty()) {
    json h = json::parse(text, nullptr, false);
    if (!h.is_discarded()) {
      if (c.state.health.empty())
        h["Status"] = c.running() ? "starting" : "";
      else
        h["Status"] = c.state.health;
      return h;
    }
  }
  return {{"Status", c.state.health}, {"FailingStreak", 0}, {"Log", json::array()}};
}

// Docker's {"8080/tcp": [{"HostIp", "HostPort"}]}.
json port_map(const std::vector<PortMapping>& ports, bool show_any_address) {
  json out = json::object();
  for (const auto& p : ports) {
    std::string ip = p.host_ip.empty() && show_any_address ? "0.0.0.0" : p.host_ip;
    out[fmt::format("{}/{}", p.container_port, protocol_name(p.protocol))].push_back(
        {{"HostIp", ip}, {"HostPort", p.host_port ? std::to_string(p.host_port) : ""}});
  }
  return out;
}

json state_json(const ContainerView& c) {
  const ContainerState& s = c.state;
  json state = {{"Status", docker_status(c)},
                {"Running", c.running()},
                {"Paused", false},
                {"Restarting", c.owned && s.status == "restarting"},
                {"OOMKilled", s.oom_killed},
                {"Dead", docker_status(c) == "dead"},
                {"Pid", c.running() ? s.pid : 0},
                {"ExitCode", s.exit_code.value_or(0)},
                {"Error", s.error},
                {"StartedAt", s.started},
                {"FinishedAt", s.finished},
                {"SupervisorPid", c.owned && s.supervised ? s.owner_pid : 0}};
  if (!c.owned && s.supervised && s.status != "exited")
    state["Error"] = "supervisor gone: " + (s.error.empty() ? "it was killed" : s.error);
  return state;
}

json config_json(const ContainerState& s, const std::optional<ContainerConfig>& config) {
  json cfg = {{"Hostname", s.hostname},
              {"User", s.user},
              {"Env", s.env},
              {"Cmd", s.command},
              {"Image", s.image},
              {"WorkingDir", s.workdir},
              {"StopSignal", s.stop_signal.empty() ? "SIGTERM" : s.stop_signal},
              {"Labels", s.labels.empty() && config ? config->spec.labels : s.labels}};
  if (!config) return cfg;
  const SupervisorOptions& o = config->supervision;
  cfg["Domainname"] = config->spec.domainname;
  cfg["StopTimeout"] = o.stop_timeout;
  if (!config->spec.exposed_ports.empty()) {
    json exposed = json::object();
    for (const auto& port : config->spec.exposed_ports) exposed[port] = json::object();
    cfg["ExposedPorts"] = exposed;
  }
  if (o.health.enabled()) {
    cfg["Healthcheck"] = {{"Test", o.health.test()},
                          {"Interval", o.health.interval.count() * 1000000},
                          {"Timeout", o.health.timeout.count() * 1000000},
                          {"StartPeriod", o.health.start_period.count() * 1000000},
                          {"Retries", o.health.retries}};
  }
  return cfg;
}

json host_config_json(const ContainerState& s, const std::optional<ContainerConfig>& config) {
  json host = {{"NetworkMode", s.network},
               {"AutoRemove", s.auto_remove},
               {"Capabilities", capability_names(s.capabilities)},
               {"RestartPolicy", {{"Name", "no"}, {"MaximumRetryCount", 0}}}};
  if (!config) return host;
  const SupervisorOptions& o = config->supervision;
  const ContainerSpec& spec = config->spec;
  host["RestartPolicy"] = {{"Name", o.restart.name()}, {"MaximumRetryCount", o.restart.max_retries}};
  json log_config = json::object();
  if (o.log.driver != LogDriver::none) {
    log_config["max-size"] = o.log.max_size == UINT64_MAX ? "-1" : std::to_string(o.log.max_size);
    log_config["max-file"] = std::to_string(o.log.max_files);
  }
  host["LogConfig"] = {{"Type", log_driver_name(o.log.driver)}, {"Config", log_config}};
  host["PortBindings"] = port_map(spec.ports, false);
  host["PublishAllPorts"] = spec.publish_all;
  host["Memory"] = spec.limits.memory_bytes.value_or(0);
  // Docker's: -1 unlimited swap, equal to Memory no swap (gocrate's default with -m), 0 no limit.
  host["MemorySwap"] =
      spec.limits.memory_swap_bytes.value_or(static_cast<int64_t>(spec.limits.memory_bytes.value_or(0)));
  host["MemoryReservation"] = spec.limits.memory_reservation_bytes.value_or(0);
  host["OomKillDisable"] = spec.limits.oom_kill_disable;
  host["CpuShares"] = spec.limits.cpu_shares.value_or(0);
  host["CpusetCpus"] = spec.limits.cpuset_cpus;
  host["NanoCpus"] = static_cast<int64_t>(spec.limits.cpus.value_or(0) * 1e9);
  host["PidsLimit"] = spec.limits.pids.value_or(0);
  host["ReadonlyRootfs"] = spec.read_only;
  host["Init"] = spec.init;
  json binds = json::array();
  for (const auto& v : spec.volumes)
    binds.push_back(fmt::format("{}:{}{}", v.source, v.target, v.read_only ? ":ro" : ""));
  host["Binds"] = binds;
  json devices = json::array();
  for (const auto& d : spec.devices) {
    devices.push_back({{"PathOnHost", d.host_path},
                       {"PathInContainer", d.container_path},
                       {"CgroupPermissions", device_access_text(d.access)}});
  }
  host["Devices"] = devices;
  json extra_hosts = json::array();
  for (const auto& h : spec.extra_hosts) extra_hosts.push_back(h.name + ":" + h.address);
  host["ExtraHosts"] = extra_hosts;
  host["Dns"] = spec.dns.servers;
  host["DnsSearch"] = spec.dns.search;
  host["DnsOptions"] = spec.dns.options;
  host["ShmSize"] = spec.shm_bytes;
  return host;
}

// Docker's .Mounts: -v, --mount and --mount type=tmpfs (--tmpfs mounts are
// HostConfig.Tmpfs).
json mounts_json(const std::vector<MountRecord>& records) {
  json mounts = json::array();
  for (const auto& m : records) {
    if (m.tmpfs_flag) continue;
    json entry = {{"Type", m.type},
                  {"Source", m.source},
                  {"Destination", m.destination},
                  {"Mode", m.mode},
                  {"RW", m.rw},
                  {"Propagation", m.propagation.empty() && m.type == "bind" ? "rprivate" : m.propagation}};
    if (m.type == "volume") {
      entry["Name"] = m.name;
      entry["Driver"] = "local";
    }
    mounts.push_back(entry);
  }
  return mounts;
}

json inspect_json(const ContainerView& c) {
  const ContainerState& s = c.state;
  auto config = config_of(c);
  json out = {{"Id", s.id},
              {"Created", s.created},
              {"Path", s.command.empty() ? "" : s.command[0]},
              {"Args", s.command.size() > 1 ? std::vector<std::string>(s.command.begin() + 1, s.command.end())
                                            : std::vector<std::string>{}},
              {"State", state_json(c)},
              {"Image", s.image_digest},
              {"Name", "/" + s.name},
              {"RestartCount", s.restart_count},
              {"Platform", s.platform},
              {"LogPath", s.supervised && !(config && config->supervision.log.driver == LogDriver::none)
                              ? container_log_path(c.dir)
                              : ""},
              {"NetworkSettings", {{"Ports", port_map(s.ports, true)}}},
              {"Config", config_json(s, config)},
              {"HostConfig", host_config_json(s, config)}};
  if (config && config->supervision.health.enabled()) out["State"]["Health"] = health_json(c);
  std::vector<MountRecord> records = mount_records(c, config);
  out["Mounts"] = mounts_json(records);
  if (!out["HostConfig"].contains("Tmpfs")) {
    json tmpfs = json::object();
    for (const auto& m : records) {
      if (m.tmpfs_flag) tmpfs[m.destination] = m.tmpfs_options;
    }
    if (!tmpfs.empty()) out["HostConfig"]["Tmpfs"] = tmpfs;
  }
  return out;
}

}  // namespace

// Containers first, as docker inspect does; images otherwise.
int inspect_any_command(Globals& globals, int argc, char** argv) {
  CLI::App app{"Show containers or images as JSON", "inspect"};
  std::string type, format;
  std::vector<std::string> refs;
  add_global_options(app, globals);
  app.add_option("--type", type, "container or image (default: a container if one has that name)");
  app.add_option("-f,--format", format, "Print each object through a Go template ({{.State.Status}})");
  app.add_option("REF", refs, "Containers (ids, prefixes, names) or images")->required();
  parse_command_line(app, argc, argv);
  if (!type.empty() && type != "container" && type != "image") {
    fail("unknown --type \"{}\": use container or image", type);
  }
  ContainerDirectory directory(open_store(globals).dir());
  bool containers = type == "container";
  if (type.empty()) {
    try {
      find_container(directory, refs[0]);
      containers = true;
    } catch (const Error&) {
    }
  }
  if (!containers) {
    std::vector<char*> image_args;
    for (int i = 0; i < argc; ++i) {
      std::string_view arg = argv[i];
      if (arg == "--type") {
        ++i;
        continue;
      }
      if (!arg.starts_with("--type=")) image_args.push_back(argv[i]);
    }
    return inspect_command(globals, static_cast<int>(image_args.size()), image_args.data());
  }
  json out = json::array();
  for (const auto& ref : refs) out.push_back(inspect_json(find_container(directory, ref)));
  if (!format.empty()) {
    fmt::print("{}", docker_inspect_format(format, out));
    return 0;
  }
  fmt::print("{}\n", out.dump(2));
  return 0;
}

// ---- stats ---------------------------------------------------------------------

namespace {

uint64_t host_memory_bytes() {
  auto text = read_file_if_exists("/proc/meminfo");
  if (!text) return 0;
  for (const auto& line : split(*text, '\n')) {
    if (line.starts_with("MemTotal:")) return std::stoull(line.substr(9)) * 1024;
  }
  return 0;
}

uint64_t memory_limit(const ContainerState& s, uint64_t host) {
  for (const auto& dir : s.cgroup_dirs) {
    for (const char* file : {"/memory.limit_in_bytes", "/memory.max"}) {
      auto text = read_file_if_exists(dir + file);
      if (!text) continue;
      std::string value(trim(*text));
      if (value == "max") return host;
      uint64_t limit = std::strtoull(value.c_str(), nullptr, 10);
      return limit && limit < host ? limit : host;
    }
  }
  return host;
}

struct Sample {
  CgroupStats stats;
  std::chrono::steady_clock::time_point at;
};

Sample sample(const ContainerState& s) {
  return {Cgroup(s.cgroup_dirs, s.cgroup_v2).stats(), std::chrono::steady_clock::now()};
}

std::string binary_size(uint64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double value = static_cast<double>(bytes);
  int unit = 0;
  while (value >= 1024 && unit < 4) {
    value /= 1024;
    ++unit;
  }
  return fmt::format("{:.{}f}{}", value, unit == 0 ? 0 : 2, units[unit]);
}

std::vector<std::string> stats_row(const ContainerState& s, const Sample& before, const Sample& after,
                                   uint64_t host) {
  double wall = std::chrono::duration<double, std::nano>(after.at - before.at).count();
  // A container that ended meanwhile reads as zero.
  uint64_t used = after.stats.cpu_usage_ns > before.stats.cpu_usage_ns
                      ? after.stats.cpu_usage_ns - before.stats.cpu_usage_ns
                      : 0;
  double cpu = wall > 0 ? 100.0 * static_cast<double>(used) / wall : 0;
  uint64_t limit = memory_limit(s, host);
  double memory_percent =
      limit ? 100.0 * static_cast<double>(after.stats.memory_bytes) / static_cast<double>(limit) : 0;
  return {short_id(s.id),
          s.name,
          fmt::format("{:.2f}%", cpu),
          binary_size(after.stats.memory_bytes) + " / " + binary_size(limit),
          fmt::format("{:.2f}%", memory_percent),
          std::to_string(after.stats.pids)};
}

}  // namespace

int stats_command(Globals& globals, int argc, char** argv) {
  CLI::App app{"Show running containers' CPU, memory and process counts from their cgroups", "stats"};
  bool no_stream = false;
  std::vector<std::string> refs;
  add_global_options(app, globals);
  app.add_flag("--no-stream", no_stream, "Print one sample and exit");
  app.add_option("CONTAINER", refs, "Containers (default: every running one)");
  parse_command_line(app, argc, argv);
  ContainerDirectory directory(open_store(globals).dir());
  std::vector<ContainerView> containers;
  if (refs.empty()) {
    for (auto& c : all_containers(directory)) {
      if (c.running()) containers.push_back(std::move(c));
    }
  } else {
    for (const auto& ref : refs) {
      ContainerView c = find_container(directory, ref);
      if (!c.running()) fail_not_running(c);
      containers.push_back(std::move(c));
    }
  }
  uint64_t host = host_memory_bytes();
  std::vector<Sample> before;
  for (const auto& c : containers) before.push_back(sample(c.state));
  for (;;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(no_stream ? 500 : 1000));
    std::vector<std::vector<std::string>> rows = {
        {"CONTAINER ID", "NAME", "CPU %", "MEM USAGE / LIMIT", "MEM %", "PIDS"}};
    for (size_t i = 0; i < containers.size(); ++i) {
      Sample after = sample(containers[i].state);
      rows.push_back(stats_row(containers[i].state, before[i], after, host));
      before[i] = after;
    }
    if (!no_stream) fmt::print("\033[2J\033[H");
    print_table(rows);
    std::fflush(stdout);
    if (no_stream) return 0;
  }
}

// ---- exec ----------------------------------------------------------------------

namespace {

const std::vector<int> kForwardedSignals = {SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2};

std::vector<std::string> exec_env(const ContainerState& s, const std::vector<std::string>& flags) {
  std::vector<std::string> env = s.env;
  for (const auto& entry : flags) {
    size_t eq = entry.find('=');
    std::string key = entry.substr(0, eq);
    if (key.empty()) fail("invalid -e \"{}\": use KEY=VALUE", entry);
    std::string value;
    if (eq == std::string::npos) {
      const char* host = std::getenv(key.c_str());
      if (!host) continue;
      value = host;
    } else {
      value = entry.substr(eq + 1);
    }
    std::erase_if(env, [&](const std::string& e) { return e.starts_with(key + "="); });
    env.push_back(key + "=" + value);
  }
  return env;
}

}  // namespace

int exec_command(Globals& globals, int argc, char** argv) {
  FlagSet flags("exec", "gocrate exec [OPTIONS] CONTAINER COMMAND [ARG...]",
                "Run a command in a running container, under its restrictions");
  bool interactive = false, tty = false;
  std::string user, workdir;
  std::vector<std::string> env, env_files;
  flags.add_string("root", globals.root, "gocrate's state directory (default /var/lib/gocrate)");
  flags.add_bool("i,interactive", interactive, "Keep STDIN open even if not attached");
  flags.add_bool("t,tty", tty, "Allocate a pseudo-TTY");
  flags.add_string("u,user", user,
                   "Username or UID (format: <name|uid>[:<group|gid>]; default: the container's)");
  flags.add_string("w,workdir", workdir, "Working directory inside the container (default: the container's)");
  flags.add_list("e,env", env, "Set environment variables (KEY=VALUE, or KEY to pass gocrate's)");
  flags.add_list("env-file", env_files, "Read in a file of environment variables");
  flags.add_refused(
      "d,detach", false,
      "an exec'd command ends with the gocrate that started it; run it in the background with &",
      [](std::string_view v) { return v == "false"; });
  flags.add_refused("detach-keys", true, "gocrate does not attach; end the command to detach");
  flags.add_refused("privileged", false,
                    "an exec'd command has the container's privileges; run the container with --privileged",
                    [](std::string_view v) { return v == "false"; });
  std::vector<std::string> command;
  std::string ref;
  try {
    command = flags.parse(argc, argv, 2);
  } catch (const Error& e) {
    throw Error(e.what(), kExitRuntimeFailure);
  }
  ref = command[0];
  command.erase(command.begin());
  std::vector<std::string> from_files;
  for (const auto& file : env_files) {
    for (auto& entry : read_env_file(file)) from_files.push_back(std::move(entry));
  }
  env.insert(env.begin(), from_files.begin(), from_files.end());
  if (!workdir.empty() && !workdir.starts_with('/'))
    fail("invalid --workdir \"{}\": it must be an absolute path", workdir);
  require_root("exec");
  Store store = open_store(globals);
  ContainerDirectory directory(store.dir());
  ContainerView c = find_container(directory, ref);
  if (!c.running()) fail_not_running(c);
  ExecSpec spec{command, exec_env(c.state, env), user.empty() ? c.state.user : user,
                workdir.empty() ? c.state.workdir : workdir};
  ExecIo io;
  std::optional<StdioRelay> pipes;
  if (tty) {
    io.terminal = true;
    io.terminal_size = terminal_size(::isatty(0) ? 0 : 1);
  } else {
    pipes.emplace(0, 1, 2, interactive);
    io.stdin_fd = pipes->container_stdin();
    io.stdout_fd = pipes->container_stdout();
    io.stderr_fd = pipes->container_stderr();
  }
  sigset_t set;
  sigemptyset(&set);
  for (int sig : kForwardedSignals) sigaddset(&set, sig);
  sigaddset(&set, SIGWINCH);
  ::sigprocmask(SIG_BLOCK, &set, nullptr);
  ExecProcess process = ExecProcess::start(store.dir(), c.state, spec, io);
  if (pipes) {
    pipes->run(process.pidfd(), kForwardedSignals, [&process](int sig) { process.signal(sig); });
    return process.wait();
  }
  {
    TerminalRelay relay(process.terminal(), 0, 1, interactive);
    relay.run(process.pidfd(), kForwardedSignals, [&process](int sig) { process.signal(sig); });
  }
  return process.wait();
}

// ---- start ---------------------------------------------------------------------

int start_command(Globals& globals, int argc, char** argv) {
  CLI::App app{"Start detached containers that are not running again", "start"};
  bool boot = false;
  std::vector<std::string> refs;
  add_global_options(app, globals);
  app.add_flag("--boot", boot,
               "Start every container a reboot or a lost supervisor stopped: --restart always ones, and "
               "unless-stopped ones that stop or kill did not stop (for a boot-time unit)");
  app.add_option("CONTAINER", refs, "Containers: ids, id prefixes or names");
  parse_command_line(app, argc, argv);
  if (boot == !refs.empty()) fail("give containers to start, or --boot (not both)");
  require_root("start");
  std::string root = open_store(globals).dir();
  ContainerDirectory directory(root);
  if (boot) {
    std::vector<std::string> names;
    for (const auto& c : all_containers(directory)) {
      auto config = config_of(c);
      if (c.owned || !config || !config->supervision.restart.starts_at_boot(c.state.stopped_by_user))
        continue;
      names.push_back(c.state.name);
    }
    return for_each_container(names, [&](const std::string& name) {
      start_detached(root, find_container(directory, name).state.id);
      return name;
    });
  }
  return for_each_container(refs, [&](const std::string& ref) {
    ContainerView c = find_container(directory, ref);
    if (c.active()) fail("container {} is already running", c.state.name);
    start_detached(root, c.state.id);
    return ref;
  });
}

}  // namespace gocrate::cli
