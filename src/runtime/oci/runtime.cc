#include "runtime/oci/runtime.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstring>
#include <nlohmann/json.hpp>
#include <thread>

#include "runtime/containment/cgroups.h"
#include "runtime/oci/containment.h"
#include "runtime/oci/hooks.h"
#include "runtime/oci/oci_cgroups.h"
#include "runtime/terminal/terminal.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/strings.h"

namespace gocrate::oci {

using json = nlohmann::ordered_json;

namespace {

constexpr std::string_view kStateFile = "state.json";
constexpr std::string_view kConfigFile = "config.json";
constexpr std::string_view kExecFifo = "exec.fifo";

// What the runtime keeps of a container (<root>/<id>/state.json).
struct Record {
  State state;
  uint64_t start_time = 0;  // of the init, from /proc/<pid>/stat: a reused pid is not the container
  std::vector<std::string> cgroup_dirs;
  bool cgroup_v2 = false;
};

std::string now_rfc3339_nanoseconds() {
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  tm parts{};
  ::gmtime_r(&ts.tv_sec, &parts);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:09}Z", parts.tm_year + 1900, parts.tm_mon + 1,
                     parts.tm_mday, parts.tm_hour, parts.tm_min, parts.tm_sec, ts.tv_nsec);
}

void check_id(const std::string& id) {
  bool ok = !id.empty() && id.size() <= 1024 && id != "." && id != "..";
  for (char c : id)
    ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.');
  if (!ok) fail("invalid container id \"{}\": use letters, digits, '_', '-' and '.'", id);
}

std::string container_dir(const RuntimeOptions& runtime, const std::string& id) {
  check_id(id);
  return runtime.root + "/" + id;
}

std::string record_json(const Record& r) {
  json j = json::parse(state_json_text(r.state));
  j["startTime"] = r.start_time;
  j["cgroupDirs"] = r.cgroup_dirs;
  j["cgroupV2"] = r.cgroup_v2;
  j["created"] = r.state.created;
  j["owner"] = r.state.owner;
  j["rootfs"] = r.state.rootfs;
  return j.dump();
}

Record load_record(const RuntimeOptions& runtime, const std::string& id) {
  std::string dir = container_dir(runtime, id);
  auto text = read_file_if_exists(dir + "/" + std::string(kStateFile));
  if (!text) fail("container \"{}\" does not exist", id);
  Record r;
  try {
    json j = json::parse(*text);
    r.state.id = j.at("id").get<std::string>();
    r.state.pid = j.value("pid", 0);
    r.state.bundle = j.value("bundle", "");
    r.state.created = j.value("created", "");
    r.state.owner = j.value("owner", "");
    r.state.rootfs = j.value("rootfs", "");
    if (j.contains("annotations"))
      r.state.annotations = j["annotations"].get<std::map<std::string, std::string>>();
    r.start_time = j.value("startTime", uint64_t{0});
    r.cgroup_dirs = j.value("cgroupDirs", std::vector<std::string>{});
    r.cgroup_v2 = j.value("cgroupV2", false);
  } catch (const json::exception& e) {
    fail("the state of container \"{}\" ({}) is damaged: {}; remove it with delete --force", id, dir,
         e.what());
  }
  return r;
}

void save_record(const RuntimeOptions& runtime, const Record& r) {
  write_file_replace(container_dir(runtime, r.state.id) + "/" + std::string(kStateFile), record_json(r),
                     0600);
}

// The start time of `pid` (clock ticks since boot) and whether it is a
// zombie; 0 when there is no such process.
uint64_t process_start_time(pid_t pid, bool* zombie = nullptr) {
  std::optional<std::string> text;
  try {
    text = read_file_if_exists(fmt::format("/proc/{}/stat", pid));
  } catch (const Error&) {
    return 0;  // it ended while being read (ESRCH)
  }
  if (!text) return 0;
  size_t close = text->rfind(')');
  if (close == std::string::npos) return 0;
  auto fields = split(std::string_view(*text).substr(close + 2), ' ');
  if (fields.size() < 20) return 0;
  if (zombie) *zombie = fields[0] == "Z" || fields[0] == "X";
  return std::strtoull(fields[19].c_str(), nullptr, 10);
}

Cgroup cgroup_of(const Record& r) {
  return Cgroup(r.cgroup_dirs, r.cgroup_v2);
}

bool init_alive(const Record& r) {
  if (r.state.pid <= 0) return false;
  bool zombie = false;
  uint64_t start = process_start_time(r.state.pid, &zombie);
  return start != 0 && start == r.start_time && !zombie;
}

Status status_of(const RuntimeOptions& runtime, const Record& r) {
  if (!init_alive(r)) return Status::stopped;
  if (path_exists(container_dir(runtime, r.state.id) + "/" + std::string(kExecFifo))) return Status::created;
  if (cgroup_frozen(cgroup_of(r))) return Status::paused;
  return Status::running;
}

// A pidfd for the container's init, checked to be that process.
UniqueFd init_pidfd(const Record& r) {
  UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, r.state.pid, 0)));
  if (!pidfd || !init_alive(r)) fail("container \"{}\" is not running", r.state.id);
  return pidfd;
}

// Waits up to `timeout` for the process behind `pidfd` to end.
bool wait_for_exit(int pidfd, std::chrono::milliseconds timeout) {
  pollfd ready{pidfd, POLLIN, 0};
  int rc;
  while ((rc = ::poll(&ready, 1, static_cast<int>(timeout.count()))) < 0 && errno == EINTR) {
  }
  return rc == 1;
}

std::string owner_name() {
  uid_t uid = ::geteuid();
  if (passwd* pw = ::getpwuid(uid)) return pw->pw_name;
  return std::to_string(uid);
}

std::string stored_config(const RuntimeOptions& runtime, const std::string& id) {
  return read_file(container_dir(runtime, id) + "/" + std::string(kConfigFile));
}

UniqueFd connect_console(const std::string& path) {
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (path.size() >= sizeof address.sun_path) fail("--console-socket path {} is too long", path);
  std::memcpy(address.sun_path, path.c_str(), path.size());
  if (!fd || ::connect(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) != 0)
    fail_errno(fmt::format("cannot connect to --console-socket {}", path));
  return fd;
}

std::pair<UniqueFd, UniqueFd> sync_pair() {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) != 0)
    fail_errno("cannot make a socket pair");
  return {UniqueFd(fds[0]), UniqueFd(fds[1])};
}

std::pair<UniqueFd, UniqueFd> stream_pair() {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) fail_errno("cannot make a socket pair");
  return {UniqueFd(fds[0]), UniqueFd(fds[1])};
}

// Relays the caller's terminal to the pty whose master comes over `socket`
// until our child `pid` exits; its exit code.
int relay_terminal(int socket, pid_t pid) {
  UniqueFd master = receive_terminal(socket);
  if (!master) fail("the container's process ended before it had a terminal");
  std::vector<int> forward = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH};
  sigset_t blocked, previous;
  sigemptyset(&blocked);
  for (int s : forward) sigaddset(&blocked, s);
  ::sigprocmask(SIG_BLOCK, &blocked, &previous);
  UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  {
    TerminalRelay relay(master.get(), 0, 1, true);
    relay.run(pidfd.get(), forward, [pid](int s) { ::kill(pid, s); });
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  ::sigprocmask(SIG_SETMASK, &previous, nullptr);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

pid_t raw_clone(unsigned long flags) {
  return static_cast<pid_t>(::syscall(SYS_clone, flags | SIGCHLD, nullptr, nullptr, nullptr, 0));
}

// Runs `child` in a new process with `flags`, through a short-lived process
// that first joins `join` (namespaces given by path) when there are any; the
// new process is this process's child either way.
template <typename Child, typename Join>
pid_t spawn(unsigned long flags, bool through_joiner, Join join, Child child) {
  if (!through_joiner) {
    pid_t pid = raw_clone(flags);
    if (pid < 0) fail_errno("cannot create the container's process");
    if (pid == 0) child();
    return pid;
  }
  int report[2];
  if (::pipe2(report, O_CLOEXEC) != 0) fail_errno("cannot make a pipe");
  UniqueFd read_end(report[0]), write_end(report[1]);
  pid_t joiner = ::fork();
  if (joiner < 0) fail_errno("cannot create the container's process");
  if (joiner == 0) {
    read_end.reset();
    pid_t pid = -1;
    std::string error;
    try {
      join();
      pid = raw_clone(flags | CLONE_PARENT);
      if (pid == 0) {
        write_end.reset();  // the runtime reads the pipe until every writer is gone
        child();
      }
      if (pid < 0) error = fmt::format("cannot create the container's process: {}", errno_text(errno));
    } catch (const std::exception& e) {
      error = e.what();
    }
    std::string message = pid > 0 ? std::to_string(pid) : "E" + error;
    [[maybe_unused]] ssize_t n = ::write(write_end.get(), message.data(), message.size());
    ::_exit(0);
  }
  write_end.reset();
  std::string message = read_fd(read_end.get());
  while (::waitpid(joiner, nullptr, 0) < 0 && errno == EINTR) {
  }
  if (message.empty()) fail("the process joining the container's namespaces died");
  if (message[0] == 'E') fail("{}", message.substr(1));
  return std::atoi(message.c_str());
}

void write_id_map(pid_t pid, std::string_view file, const std::vector<IdMapping>& mappings) {
  if (mappings.empty())
    fail("linux.{}Mappings is empty: a new user namespace needs them", file == "uid_map" ? "uid" : "gid");
  std::string text;
  for (const auto& m : mappings) text += fmt::format("{} {} {}\n", m.container_id, m.host_id, m.size);
  std::string path = fmt::format("/proc/{}/{}", pid, file);
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd || ::write(fd.get(), text.data(), text.size()) < 0)
    fail_errno(fmt::format("cannot write the container's {} ({})", file, text));
}

// runc's rules that every container gets on top of the spec's: the nodes a
// process needs, and mknod of anything (opening stays governed by the rules).
std::vector<DeviceCgroupRule> device_rules_of(const Spec& spec) {
  std::vector<DeviceCgroupRule> rules;
  if (spec.linux && spec.linux->resources) rules = spec.linux->resources->devices;
  if (spec.linux) {
    for (const auto& d : spec.linux->devices) {
      if (d.type == 'c' || d.type == 'b' || d.type == 'u')
        rules.push_back({true, d.type == 'b' ? 'b' : 'c', d.major, d.minor, "rwm"});
    }
  }
  if (rules.empty()) return rules;
  auto allow = [&](char type, std::optional<int64_t> major, std::optional<int64_t> minor,
                   const char* access) {
    rules.push_back({true, type, major, minor, access});
  };
  allow('c', std::nullopt, std::nullopt, "m");
  allow('b', std::nullopt, std::nullopt, "m");
  for (auto [major, minor] : {std::pair{1, 3}, {1, 5}, {1, 7}, {1, 8}, {1, 9}, {5, 0}, {5, 2}})
    allow('c', major, minor, "rwm");
  allow('c', 136, std::nullopt, "rwm");
  return rules;
}

void write_pid_file(const std::string& path, pid_t pid) {
  if (path.empty()) return;
  write_file_atomic(absolute_path(path), std::to_string(pid), 0644);
}

// Waits for our child `pid`, passing on the signals a shell sends; its exit
// code (128 + signal).
int wait_forwarding(pid_t pid) {
  sigset_t forwarded;
  sigemptyset(&forwarded);
  for (int s : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH, SIGCONT})
    sigaddset(&forwarded, s);
  sigset_t previous;
  ::sigprocmask(SIG_BLOCK, &forwarded, &previous);
  UniqueFd signals(::signalfd(-1, &forwarded, SFD_CLOEXEC));
  UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  for (;;) {
    pollfd fds[2] = {{pidfd.get(), POLLIN, 0}, {signals.get(), POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0 && errno != EINTR) break;
    if (fds[1].revents & POLLIN) {
      signalfd_siginfo info{};
      if (::read(signals.get(), &info, sizeof info) == sizeof info)
        ::kill(pid, static_cast<int>(info.ssi_signo));
    }
    if (fds[0].revents & POLLIN) break;
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  ::sigprocmask(SIG_SETMASK, &previous, nullptr);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

void destroy(const RuntimeOptions& runtime, const Record& r) {
  std::string dir = container_dir(runtime, r.state.id);
  Cgroup cgroup = cgroup_of(r);
  cgroup.remove();
  if (auto config = read_file_if_exists(dir + "/" + std::string(kConfigFile))) {
    try {
      Spec spec = parse_spec(*config);
      State stopped = r.state;
      stopped.status = Status::stopped;
      run_hooks_warning(spec.hooks.poststop, "poststop", state_json_text(stopped));
    } catch (const Error& e) {
      fmt::print(stderr, "gocrate-runtime: warning: poststop hooks not run: {}\n", e.what());
    }
  }
  remove_tree(dir);
}

}  // namespace

std::string_view status_name(Status status) {
  switch (status) {
    case Status::creating:
      return "creating";
    case Status::created:
      return "created";
    case Status::running:
      return "running";
    case Status::paused:
      return "paused";
    case Status::stopped:
      return "stopped";
  }
  return "unknown";
}

std::string state_json_text(const State& s) {
  json j;
  j["ociVersion"] = s.oci_version;
  j["id"] = s.id;
  j["status"] = status_name(s.status);
  if (s.status != Status::stopped || s.pid) j["pid"] = s.pid;
  j["bundle"] = s.bundle;
  if (!s.annotations.empty()) j["annotations"] = s.annotations;
  // runc's additions, which engines and users read from `state`.
  if (!s.rootfs.empty()) j["rootfs"] = s.rootfs;
  if (!s.created.empty()) j["created"] = s.created;
  if (!s.owner.empty()) j["owner"] = s.owner;
  return j.dump();
}

void create(const RuntimeOptions& runtime, const std::string& id, const CreateOptions& given) {
  // The caller's relative paths, before the bundle becomes the working directory.
  CreateOptions options = given;
  if (!options.pid_file.empty()) options.pid_file = absolute_path(options.pid_file);
  if (!options.console_socket.empty()) options.console_socket = absolute_path(options.console_socket);
  if (runtime.systemd_cgroup)
    fail("--systemd-cgroup: gocrate-runtime has no systemd cgroup driver; configure the engine for cgroupfs");
  std::string dir = container_dir(runtime, id);
  std::string bundle = absolute_path(options.bundle);
  while (bundle.size() > 1 && bundle.ends_with('/')) bundle.pop_back();
  // Relative paths in config.json (root.path, mount sources) are the bundle's.
  if (::chdir(bundle.c_str()) != 0) fail_errno(fmt::format("cannot enter the bundle {}", bundle));
  std::string config_path = bundle + "/config.json";
  auto text = read_file_if_exists(config_path);
  if (!text) fail("cannot read {}: is {} an OCI bundle?", config_path, bundle);
  Spec spec = parse_spec(*text, config_path);
  if (!spec.linux) spec.linux = Linux{};
  // A label asked for and silently dropped would be confinement the user
  // believes in but does not get.
  bool apparmor = trim(read_file_if_exists("/sys/module/apparmor/parameters/enabled").value_or("")) == "Y";
  bool selinux = path_exists("/sys/fs/selinux/enforce");
  if (spec.process && !spec.process->apparmor_profile.empty() && !apparmor)
    fail("process.apparmorProfile \"{}\": AppArmor is not enabled on this host; drop it",
         spec.process->apparmor_profile);
  if (spec.process && !spec.process->selinux_label.empty() && !selinux)
    fail("process.selinuxLabel: SELinux is not enabled on this host; drop it");
  if (!spec.linux->mount_label.empty() && !selinux)
    fail("linux.mountLabel: SELinux is not enabled on this host; drop it");
  if ((apparmor || selinux) &&
      ((spec.process && (!spec.process->apparmor_profile.empty() || !spec.process->selinux_label.empty())) ||
       !spec.linux->mount_label.empty()))
    fail(
        "process.apparmorProfile, process.selinuxLabel and linux.mountLabel are not applied by "
        "gocrate-runtime "
        "yet; drop them or use runc");
  std::string rootfs = spec.root.path.starts_with('/') ? spec.root.path : bundle + "/" + spec.root.path;
  if (!is_directory(rootfs)) fail("root.path {} is not a directory", rootfs);
  rootfs = absolute_path(rootfs);

  make_directories(runtime.root, 0711);
  if (::mkdir(dir.c_str(), 0711) != 0) {
    if (errno != EEXIST) fail_errno(fmt::format("cannot create {}", dir));
    // A directory without state whose creator is gone (killed mid-create)
    // is debris: the id is free.
    UniqueFd existing(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!existing || path_exists(dir + "/" + std::string(kStateFile)) ||
        !try_lock_file(existing.get(), LockMode::exclusive, dir))
      fail("container \"{}\" already exists", id);
    remove_tree(dir);
    if (::mkdir(dir.c_str(), 0711) != 0) fail_errno(fmt::format("cannot create {}", dir));
  }
  UniqueFd creating(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!creating) fail_errno(fmt::format("cannot open {}", dir));
  lock_file(creating.get(), LockMode::exclusive, dir);
  pid_t pid = -1;
  Cgroup cgroup;
  try {
    write_file_replace(dir + "/" + std::string(kConfigFile), *text, 0600);
    std::string fifo_path = dir + "/" + std::string(kExecFifo);
    // Writable by the process's user, whoever that is (the umask would take it away).
    if (::mkfifo(fifo_path.c_str(), 0622) != 0 || ::chmod(fifo_path.c_str(), 0622) != 0)
      fail_errno(fmt::format("cannot create {}", fifo_path));
    UniqueFd fifo(::open(fifo_path.c_str(), O_PATH | O_CLOEXEC));
    if (!fifo) fail_errno(fmt::format("cannot open {}", fifo_path));

    Resources resources = spec.linux->resources.value_or(Resources{});
    resources.devices = device_rules_of(spec);
    std::string relative_cgroup;
    cgroup = create_cgroup(spec.linux->cgroups_path, id, &resources, &relative_cgroup);

    UniqueFd console;
    if (spec.process && spec.process->terminal) {
      if (options.console_fd >= 0) {
        console.reset(::fcntl(options.console_fd, F_DUPFD_CLOEXEC, 3));
      } else if (options.console_socket.empty()) {
        fail("process.terminal is true: give --console-socket to receive the terminal, or set it false");
      } else {
        console = connect_console(options.console_socket);
      }
    }
    auto [ours, theirs] = sync_pair();
    std::vector<UniqueFd> join_files = cgroup.open_join_files();
    InitContext context{&spec,
                        rootfs,
                        relative_cgroup,
                        theirs.get(),
                        console.get(),
                        fifo.get(),
                        options.preserve_fds,
                        options.no_pivot,
                        options.no_new_keyring,
                        id};
    context.cgroup_join_files = &join_files;
    bool joins = std::any_of(spec.linux->namespaces.begin(), spec.linux->namespaces.end(),
                             [](const Namespace& ns) { return !ns.path.empty(); });
    unsigned long flags = clone_flags(spec);
    pid = spawn(
        flags, joins, [&] { join_namespaces_by_path(spec); },
        [&] {
          ours.reset();
          container_init(context);
        });
    theirs.reset();
    if (flags & CLONE_NEWUSER) {
      write_id_map(pid, "uid_map", spec.linux->uid_mappings);
      write_id_map(pid, "gid_map", spec.linux->gid_mappings);
    }
    if (spec.process && spec.process->oom_score_adj) {
      std::string value = std::to_string(*spec.process->oom_score_adj);
      UniqueFd adj(::open(fmt::format("/proc/{}/oom_score_adj", pid).c_str(), O_WRONLY | O_CLOEXEC));
      if (!adj || ::write(adj.get(), value.data(), value.size()) < 0)
        fail_errno(fmt::format("cannot set process.oomScoreAdj to {}", value));
    }
    send_message(ours.get(), "go");
    expect_message(ours.get(), "hooks");

    Record record;
    record.state.id = id;
    record.state.pid = pid;
    record.state.bundle = bundle;
    record.state.annotations = spec.annotations;
    record.state.created = now_rfc3339_nanoseconds();
    record.state.owner = owner_name();
    record.state.rootfs = rootfs;
    record.state.status = Status::creating;
    record.start_time = process_start_time(pid);
    record.cgroup_dirs = cgroup.dirs();
    record.cgroup_v2 = cgroup.v2();
    std::string state = state_json_text(record.state);
    // runtime-tools expects prestart hooks (run where runc ran them, once the
    // container exists) to see it created.
    State created = record.state;
    created.status = Status::created;
    run_hooks(spec.hooks.prestart, "prestart", state_json_text(created));
    run_hooks(spec.hooks.create_runtime, "createRuntime", state);
    send_message(ours.get(), "go " + state);
    expect_message(ours.get(), "ready");
    save_record(runtime, record);
    write_pid_file(options.pid_file, pid);
  } catch (...) {
    if (pid > 0) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
    try {
      cgroup.remove();
    } catch (const Error&) {
    }
    remove_tree(dir);
    throw;
  }
}

void start(const RuntimeOptions& runtime, const std::string& id) {
  Record r = load_record(runtime, id);
  Status status = status_of(runtime, r);
  if (status != Status::created)
    fail("cannot start container \"{}\": it is {}, not created", id, status_name(status));
  // The pidfd first: once the FIFO is open the program runs, and may be gone.
  UniqueFd pidfd = init_pidfd(r);
  std::string fifo_path = container_dir(runtime, id) + "/" + std::string(kExecFifo);
  UniqueFd fifo(::open(fifo_path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
  if (!fifo) fail_errno(fmt::format("cannot open {}", fifo_path));
  pollfd fds[2] = {{fifo.get(), POLLIN, 0}, {pidfd.get(), POLLIN, 0}};
  for (;;) {
    int rc = ::poll(fds, 2, -1);
    if (rc < 0 && errno == EINTR) continue;
    if (rc < 0) fail_errno("cannot wait for the container's init");
    break;
  }
  char byte = 0;
  if (!(fds[0].revents & POLLIN) || ::read(fifo.get(), &byte, 1) != 1)
    fail("container \"{}\" ended before it could start", id);
  ::unlink(fifo_path.c_str());
  if (auto config = read_file_if_exists(container_dir(runtime, id) + "/" + std::string(kConfigFile))) {
    Spec spec = parse_spec(*config);
    r.state.status = Status::running;
    run_hooks_warning(spec.hooks.poststart, "poststart", state_json_text(r.state));
  }
}

int run(const RuntimeOptions& runtime, const std::string& id, const CreateOptions& given, bool detach) {
  // In the foreground without --console-socket, a terminal the process asks
  // for is relayed to the caller's, as runc does.
  CreateOptions options = given;
  UniqueFd terminal_socket, theirs;
  if (!detach && options.console_socket.empty()) {
    auto config = read_file_if_exists(absolute_path(options.bundle) + "/config.json");
    if (config && parse_spec(*config).process.value_or(Process{}).terminal) {
      std::tie(terminal_socket, theirs) = stream_pair();
      options.console_fd = theirs.get();
    }
  }
  create(runtime, id, options);
  theirs.reset();
  try {
    start(runtime, id);
  } catch (...) {
    remove(runtime, id, true);
    throw;
  }
  if (detach) return 0;
  Record r = load_record(runtime, id);
  int code =
      terminal_socket ? relay_terminal(terminal_socket.get(), r.state.pid) : wait_forwarding(r.state.pid);
  remove(runtime, id, true);
  return code;
}

State state(const RuntimeOptions& runtime, const std::string& id) {
  Record r = load_record(runtime, id);
  r.state.status = status_of(runtime, r);
  if (r.state.status == Status::stopped) r.state.pid = 0;
  return r.state;
}

std::vector<State> list(const RuntimeOptions& runtime) {
  std::vector<State> states;
  std::unique_ptr<DIR, int (*)(DIR*)> dir(::opendir(runtime.root.c_str()), ::closedir);
  if (!dir) return states;
  std::vector<std::string> ids;
  while (dirent* entry = ::readdir(dir.get())) {
    std::string name = entry->d_name;
    if (name == "." || name == "..") continue;
    if (path_exists(runtime.root + "/" + name + "/" + std::string(kStateFile))) ids.push_back(name);
  }
  std::sort(ids.begin(), ids.end());
  for (const auto& id : ids) {
    try {
      states.push_back(state(runtime, id));
    } catch (const Error&) {
    }
  }
  return states;
}

void kill(const RuntimeOptions& runtime, const std::string& id, int signal, bool all) {
  Record r = load_record(runtime, id);
  Status status = status_of(runtime, r);
  if (status == Status::stopped && !all) fail("cannot kill container \"{}\": it is not running", id);
  if (all) {
    for (pid_t pid : cgroup_pids(cgroup_of(r))) ::kill(pid, signal);
    if (status == Status::paused && signal == SIGKILL) freeze_cgroup(cgroup_of(r), false);
    return;
  }
  UniqueFd pidfd = init_pidfd(r);
  if (::syscall(SYS_pidfd_send_signal, pidfd.get(), signal, nullptr, 0) != 0)
    fail_errno(fmt::format("cannot signal container \"{}\"", id));
}

void remove(const RuntimeOptions& runtime, const std::string& id, bool force) {
  Record r = load_record(runtime, id);
  Status status = status_of(runtime, r);
  if (status != Status::stopped && !force)
    fail("cannot delete container \"{}\" that is not stopped: {}", id, status_name(status));
  if (status != Status::stopped) {
    UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, r.state.pid, 0)));
    Cgroup cgroup = cgroup_of(r);
    for (pid_t pid : cgroup_pids(cgroup)) ::kill(pid, SIGKILL);
    if (status == Status::paused) freeze_cgroup(cgroup, false);
    if (pidfd && init_alive(r)) {
      ::syscall(SYS_pidfd_send_signal, pidfd.get(), SIGKILL, nullptr, 0);
      if (!wait_for_exit(pidfd.get(), std::chrono::seconds(10)))
        fail("container \"{}\" did not die within 10 s of SIGKILL", id);
    }
    // Our own child (run): reap it.
    ::waitpid(r.state.pid, nullptr, WNOHANG);
  }
  destroy(runtime, r);
}

int exec(const RuntimeOptions& runtime, const std::string& id, const ExecOptions& options) {
  Record r = load_record(runtime, id);
  Status status = status_of(runtime, r);
  if (status != Status::running && status != Status::created)
    fail("cannot exec in container \"{}\": it is {}", id, status_name(status));
  Spec spec = parse_spec(stored_config(runtime, id));
  UniqueFd target = init_pidfd(r);
  unsigned long flags = 0;
  for (auto [name, flag] : {std::pair{"user", CLONE_NEWUSER},
                            {"mnt", CLONE_NEWNS},
                            {"pid", CLONE_NEWPID},
                            {"net", CLONE_NEWNET},
                            {"ipc", CLONE_NEWIPC},
                            {"uts", CLONE_NEWUTS},
                            {"cgroup", CLONE_NEWCGROUP}}) {
    struct stat ours, theirs;
    if (::stat(fmt::format("/proc/self/ns/{}", name).c_str(), &ours) != 0 ||
        ::stat(fmt::format("/proc/{}/ns/{}", r.state.pid, name).c_str(), &theirs) != 0)
      continue;
    if (ours.st_ino != theirs.st_ino || ours.st_dev != theirs.st_dev) flags |= flag;
  }
  UniqueFd console, terminal_socket;
  if (options.process.terminal && !options.console_socket.empty()) {
    console = connect_console(options.console_socket);
  } else if (options.process.terminal) {
    if (options.detach) fail("exec --detach --tty needs --console-socket to receive the terminal");
    std::tie(terminal_socket, console) = stream_pair();
  }
  auto [ours, theirs] = sync_pair();
  ExecContext context{&options.process, &spec, theirs.get(), console.get(), options.preserve_fds};
  std::vector<UniqueFd> join_files = cgroup_of(r).open_join_files();
  pid_t pid = spawn(
      0, true,
      [&] {
        Cgroup::join(join_files);
        if (flags && ::setns(target.get(), static_cast<int>(flags)) != 0)
          fail_errno(fmt::format("cannot join the namespaces of container \"{}\"", id));
      },
      [&] {
        ours.reset();
        exec_init(context);
      });
  theirs.reset();
  try {
    expect_message(ours.get(), "ready");
  } catch (...) {
    ::waitpid(pid, nullptr, 0);
    throw;
  }
  write_pid_file(options.pid_file, pid);
  if (options.detach) return 0;
  console.reset();
  return terminal_socket ? relay_terminal(terminal_socket.get(), pid) : wait_forwarding(pid);
}

std::vector<pid_t> processes(const RuntimeOptions& runtime, const std::string& id) {
  Record r = load_record(runtime, id);
  return cgroup_pids(cgroup_of(r));
}

void pause(const RuntimeOptions& runtime, const std::string& id) {
  Record r = load_record(runtime, id);
  Status status = status_of(runtime, r);
  if (status != Status::running) fail("cannot pause container \"{}\": it is {}", id, status_name(status));
  freeze_cgroup(cgroup_of(r), true);
}

void resume(const RuntimeOptions& runtime, const std::string& id) {
  Record r = load_record(runtime, id);
  Status status = status_of(runtime, r);
  if (status != Status::paused) fail("cannot resume container \"{}\": it is {}", id, status_name(status));
  freeze_cgroup(cgroup_of(r), false);
}

void update(const RuntimeOptions& runtime, const std::string& id, const Resources& resources) {
  Record r = load_record(runtime, id);
  Status status = status_of(runtime, r);
  if (status == Status::stopped) fail("cannot update container \"{}\": it is stopped", id);
  update_cgroup(cgroup_of(r), resources);
}

}  // namespace gocrate::oci
