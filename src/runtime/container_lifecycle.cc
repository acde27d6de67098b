#include "runtime/container_lifecycle.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/inotify.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>

#include "runtime/container_config.h"
#include "runtime/container_events.h"
#include "runtime/containment/freezer.h"
#include "runtime/supervision/container_control.h"
#include "runtime/supervision/supervisor.h"
#include "runtime/terminal/signal_names.h"
#include "runtime/terminal/stdio_relay.h"
#include "runtime/terminal/terminal.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/strings.h"

namespace gocrate {

namespace {

constexpr auto kReleaseTimeout = std::chrono::seconds(30);
// How long rm -f lets a starting container answer before it kills its owner.
constexpr auto kStuckStartTimeout = std::chrono::seconds(1);

const std::vector<int> kForwardedSignals = {SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2};

// An owner saves the final state before it lets go: when the container has
// no owner, the state is read again, so that one read just before the end
// does not pass for a container whose owner died.
ContainerView view_of(const ContainerDirectory& directory, ContainerState state) {
  std::string dir = directory.dir_of(state.id);
  bool owned = container_is_owned(dir);
  if (!owned) {
    if (auto final_state = directory.find(state.id)) state = std::move(*final_state);
  }
  if (owned && state.status == ContainerStatus::running && container_cgroup_frozen(state.cgroup_dirs))
    state.status = ContainerStatus::paused;
  return {std::move(state), std::move(dir), owned};
}

bool is_hex(std::string_view text) {
  return !text.empty() && text.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

void send_signal(int pidfd, int sig) {
  ::syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0);
}

// The image's StopSignal, or SIGTERM when it has none (or one gocrate does
// not know), as the supervisor does.
int stop_signal_of(const ContainerState& s) {
  try {
    return s.stop_signal.empty() ? SIGTERM : parse_signal(s.stop_signal, "StopSignal");
  } catch (const Error&) {
    return SIGTERM;
  }
}

// A paused container gets a signal once it is thawed, as Docker does.
void thaw_after_signal(const ContainerView& c) {
  if (!c.paused()) return;
  try {
    thaw_container_cgroup(c.state.cgroup_dirs);
  } catch (const Error&) {
    // It ended meanwhile.
  }
}

// A foreground container has no supervisor: gocrate signals it itself, and
// its own gocrate records the exit.
void stop_foreground(const ContainerView& c, int timeout_seconds) {
  UniqueFd pidfd = open_container_pidfd(c.state);
  send_signal(pidfd.get(), stop_signal_of(c.state));
  thaw_after_signal(c);
  pollfd exited{pidfd.get(), POLLIN, 0};
  if (::poll(&exited, 1, timeout_seconds * 1000) == 0) send_signal(pidfd.get(), SIGKILL);
}

// Every cgroup directory a container may have left, from its state or, for
// one whose state lacks them, by its id.
void remove_container_cgroups(const ContainerState& s) {
  std::vector<std::string> dirs = s.cgroup_dirs;
  for (const auto& h : CgroupLayout::detect().hierarchies) {
    std::string dir = h.mount + "/gocrate/" + s.id;
    if (path_exists(dir) && std::find(dirs.begin(), dirs.end(), dir) == dirs.end()) dirs.push_back(dir);
  }
  remove_added_cgroups(dirs);
  Cgroup(dirs, s.cgroup_v2).remove();
}

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

}  // namespace

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

std::string status_text(const ContainerView& c) {
  const ContainerState& s = c.state;
  std::string code = s.exit_code ? fmt::format(" ({})", *s.exit_code) : "";
  std::string gone = s.supervised ? "dead (supervisor gone)" : "dead (gocrate gone)";
  if (s.status == ContainerStatus::dead) return gone;
  if (s.status == ContainerStatus::exited) return "exited" + code + (s.oom_killed ? " OOMKilled" : "");
  // Made by `create` and never started, or a foreground run not started yet.
  if (!c.owned)
    return s.status == ContainerStatus::created && (!s.supervised || s.started.empty()) ? "created" : gone;
  if (s.status == ContainerStatus::restarting) return "restarting" + code;
  return std::string(status_name(s.status));
}

void fail_not_running(const ContainerView& c) {
  fail("container {} is not running: see `gocrate ps -a`", c.state.name);
}

void stop_container(const std::string& store_root, const std::string& ref,
                    std::optional<int> timeout_seconds) {
  ContainerView c = find_container(ContainerDirectory(store_root), ref);
  if (!c.active() || c.state.status == ContainerStatus::created) fail_not_running(c);
  int seconds = timeout_seconds.value_or(10);
  if (c.state.supervised) {
    if (!timeout_seconds) {
      if (auto config = read_container_config(c.dir)) seconds = config->supervision.stop_timeout;
    }
    if (!send_supervisor_request(c.dir, fmt::format("stop {}", seconds))) fail_not_running(c);
  } else {
    record_container_event(store_root, c.state, "kill",
                           {{"signal", std::to_string(stop_signal_of(c.state))}});
    stop_foreground(c, seconds);
  }
  if (!wait_until_released(c.dir, std::chrono::seconds(seconds) + kReleaseTimeout)) {
    fail("container {} did not stop within {} s of SIGKILL: its supervisor may hang; see `gocrate ps`",
         c.state.name, kReleaseTimeout.count());
  }
  record_container_event(store_root, c.state, "stop");
}

void kill_container(const std::string& store_root, const std::string& ref, int signal) {
  ContainerView c = find_container(ContainerDirectory(store_root), ref);
  if (!c.running()) fail_not_running(c);
  if (c.state.supervised) {
    if (!send_supervisor_request(c.dir, fmt::format("kill {}", signal))) fail_not_running(c);
  } else {
    UniqueFd pidfd = open_container_pidfd(c.state);
    record_container_event(store_root, c.state, "kill", {{"signal", std::to_string(signal)}});
    send_signal(pidfd.get(), signal);
    thaw_after_signal(c);
  }
}

void remove_container(const std::string& store_root, const std::string& ref, bool force) {
  ContainerDirectory directory(store_root);
  ContainerView c = find_container(directory, ref);
  if (c.active()) {
    if (!force) {
      fail("container {} is {}: stop it first, or remove it with rm -f", c.state.name, status_text(c));
    }
    if (c.state.supervised) {
      send_supervisor_request(c.dir, "stop 0");
    } else if (c.running()) {
      UniqueFd pidfd = open_container_pidfd(c.state);
      record_container_event(store_root, c.state, "kill", {{"signal", std::to_string(SIGKILL)}});
      send_signal(pidfd.get(), SIGKILL);
      thaw_after_signal(c);
    }
    // A start that never finishes answers no request: its owner goes, and
    // the container with it.
    if (c.state.status == ContainerStatus::created && !wait_until_released(c.dir, kStuckStartTimeout))
      kill_stuck_owner(c.dir, c.state.owner_pid);
    if (!wait_until_released(c.dir, kReleaseTimeout)) {
      fail("container {} did not stop: its supervisor does not answer; see `gocrate ps`", c.state.name);
    }
  } else if (c.owned && !wait_until_released(c.dir, kReleaseTimeout)) {
    // Its program ended (as `wait` reports) and its supervisor is finishing.
    fail("container {} ended but its supervisor does not let go: see `gocrate ps`", c.state.name);
  }
  UniqueFd lock(::open(c.dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!lock) return;  // removed by its own gocrate (--rm)
  if (!try_lock_file(lock.get(), LockMode::exclusive, c.dir)) {
    fail("container {} was started again meanwhile: stop it first", c.state.name);
  }
  auto state = directory.find(c.state.id);
  if (!state) return;
  remove_container_cgroups(*state);
  directory.remove(*state);
  record_container_event(store_root, *state, "destroy");
}

int wait_container(const std::string& store_root, const std::string& ref) {
  ContainerDirectory directory(store_root);
  ContainerView c = find_container(directory, ref);
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
    bool starting_or_running =
        state->status == ContainerStatus::running || state->status == ContainerStatus::created;
    if (!starting_or_running) return state->exit_code.value_or(0);
    if (!owned) return state->exit_code && !state->supervised ? *state->exit_code : 128 + SIGKILL;
    watch.wait(std::chrono::milliseconds(250));
  }
}

void follow_container(const std::string& container_dir, const std::function<void()>& read_new) {
  DirectoryWatch watch(container_dir);
  for (;;) {
    bool owned = container_is_owned(container_dir);
    read_new();
    if (!owned || !path_exists(container_dir)) return;
    watch.wait(std::chrono::milliseconds(250));
  }
}

std::vector<std::string> containers_to_start_at_boot(const std::string& store_root) {
  std::vector<std::string> names;
  for (const auto& c : all_containers(ContainerDirectory(store_root))) {
    auto config = read_container_config(c.dir);
    if (c.owned || !config || !config->supervision.restart.starts_at_boot(c.state.stopped_by_user)) continue;
    names.push_back(c.state.name);
  }
  return names;
}

void start_container(const std::string& store_root, const std::string& ref) {
  ContainerView c = find_container(ContainerDirectory(store_root), ref);
  if (c.active()) fail("container {} is already running", c.state.name);
  start_detached(store_root, c.state.id);
}

int exec_in_container(const std::string& store_root, const ContainerState& container, const ExecSpec& spec,
                      bool tty, bool interactive) {
  std::string exec_id = new_container_id();
  std::string command = join(spec.args, " ");
  record_container_event(store_root, container, "exec_create: " + command, {{"execID", exec_id}});
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
  ExecProcess process = ExecProcess::start(store_root, container, spec, io);
  record_container_event(store_root, container, "exec_start: " + command, {{"execID", exec_id}});
  if (pipes) {
    pipes->run(process.pidfd(), kForwardedSignals, [&process](int sig) { process.signal(sig); });
  } else {
    TerminalRelay relay(process.terminal(), 0, 1, interactive);
    relay.run(process.pidfd(), kForwardedSignals, [&process](int sig) { process.signal(sig); });
  }
  int code = process.wait();
  record_container_event(store_root, container, "exec_die",
                         {{"execID", exec_id}, {"exitCode", std::to_string(code)}});
  return code;
}

CgroupStats container_stats(const ContainerState& s) {
  return Cgroup(s.cgroup_dirs, s.cgroup_v2).stats();
}

uint64_t host_memory_bytes() {
  auto text = read_file_if_exists("/proc/meminfo");
  if (!text) return 0;
  for (const auto& line : split(*text, '\n')) {
    if (line.starts_with("MemTotal:")) return std::stoull(line.substr(9)) * 1024;
  }
  return 0;
}

uint64_t container_memory_limit(const ContainerState& s, uint64_t host) {
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

}  // namespace gocrate
