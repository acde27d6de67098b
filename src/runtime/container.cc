#include "runtime/container.h"

#include <fcntl.h>
#include <linux/close_range.h>
#include <linux/sched.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <ctime>
#include <functional>

#include "runtime/container_events.h"
#include "runtime/containment/cgroup_view.h"
#include "runtime/containment/emulator.h"
#include "runtime/containment/handover.h"
#include "runtime/containment/mount_options.h"
#include "runtime/containment/process_setup.h"
#include "runtime/containment/sealed_program.h"
#include "runtime/containment/seccomp.h"
#include "runtime/containment/seccomp_profile.h"
#include "runtime/containment/users.h"
#include "unpack/rootfs_copy.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/strings.h"

namespace gocrate {

namespace {
// What the container's first process needs, prepared by the parent so that
// the child only makes system calls.
struct ChildContext {
  const ContainerSpec* spec;
  const StartOptions* options;
  RootfsPlan rootfs;
  std::string seccomp_program;
  std::vector<EtcFile> etc_files;  // /etc/hosts, /etc/hostname, /etc/resolv.conf
  std::string etc_dir;             // where they are written: the container's directory or scratch tmpfs
  std::string cgroup_path;         // "/gocrate/<id>": the container's cgroup in each hierarchy
  int init_fd = -1;                // sealed init program
  int emulator_fd = -1;            // sealed emulator
  int sync_fd = -1;   // socket: the parent's "go" once the child is in its cgroup, with its network namespace
  int error_fd = -1;  // close-on-exec: EOF without data means the program was executed
};

// Runs `undo` unless dismissed: what start() made is removed when it fails.
class Rollback {
 public:
  void add(std::function<void()> undo) { steps_.push_back(std::move(undo)); }
  void dismiss() { steps_.clear(); }
  ~Rollback() {
    for (auto it = steps_.rbegin(); it != steps_.rend(); ++it) {
      try {
        (*it)();
      } catch (...) {
      }
    }
  }

 private:
  std::vector<std::function<void()>> steps_;
};

std::string now_rfc3339() {
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return rfc3339_utc(ts.tv_sec);
}

// ---- The container's first process --------------------------------------

void prepare_process(const ChildContext& c) {
  // Nothing of this process may be read or traced from inside once the
  // container's file system is visible (CVE-2019-5736).
  if (::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) fail_errno("cannot make the container process non-dumpable");
  if (c.options->kill_with_parent) ::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  // A session of its own, without a controlling terminal: the host's
  // terminal is never the container's (/dev/tty fails, TIOCSTI has no
  // target), and a ^C there reaches the program once, forwarded by gocrate.
  if (::setsid() < 0) fail_errno("cannot start a session for the container");
}

Handover wait_for_parent(const ChildContext& c) {
  Handover handover = receive_handover(c.sync_fd);
  // The socket carries the terminal back, if there is one.
  if (!c.options->terminal) ::close(c.sync_fd);
  return handover;
}

void set_domainname(const std::string& name) {
  if (::setdomainname(name.data(), name.size()) != 0)
    fail_errno(fmt::format("cannot set the domain name to \"{}\"", name));
}

void build_file_system(const ChildContext& c) {
  const ContainerSpec& spec = *c.spec;
  make_mounts_private();
  // A read-only root that gets mounts is writable until they are made (on
  // an upper layer of its own, or the copy), so that their mount points can
  // be created, then made read-only (remount_root_read_only).
  bool seal_later = spec.read_only && (!c.rootfs.upper_dir.empty() || !c.rootfs.copy_dir.empty());
  mount_rootfs(c.rootfs, spec.read_only && !seal_later);
  bool create_targets = !spec.read_only || seal_later;
  UniqueFd root = open_or_fail(c.rootfs.mount_point, O_PATH | O_DIRECTORY);
  // Before /proc, /sys and /dev: whatever a symbolic link in the image led a
  // mount to there is covered by them.
  mount_etc_files(root.get(), c.etc_files, c.etc_dir, create_targets, spec.read_only);
  mount_volumes(root.get(), spec.volumes, create_targets);
  mount_proc_and_dev(root.get(), spec.shm_bytes);
  if (spec.ipc == IpcMode::none || spec.ipc == IpcMode::host)
    replace_dev_shm(root.get(), spec.ipc == IpcMode::host);
  make_device_nodes(root.get(), spec.devices, spec.privileged);
}

// Joins the namespaces the parent made, and mounts what shows them.
void enter_namespaces(const ChildContext& c, Handover& handover) {
  if (handover.ipc_namespace) join_namespace(handover.ipc_namespace.get(), CLONE_NEWIPC);
  if (handover.network_namespace) join_namespace(handover.network_namespace.get(), CLONE_NEWNET);
  UniqueFd root = open_or_fail("/", O_PATH | O_DIRECTORY);
  mount_mqueue(root.get());
  mount_sys(root.get(), !c.spec->privileged);
  apply_sysctls(root.get(), c.spec->sysctls);
  if (!c.spec->privileged) mask_kernel_paths(root.get());
  if (c.spec->network != NetworkMode::host) bring_up_loopback();
}

void connect_streams(const ChildContext& c) {
  if (c.options->terminal) {
    attach_new_terminal(c.sync_fd, c.options->terminal_size);
    ::close(c.sync_fd);
    return;
  }
  connect_stdio(c.options->stdin_fd, c.options->stdout_fd, c.options->stderr_fd);
}

// The kernel forgets the parent-death signal when credentials change.
void rearm_parent_death_signal(const ChildContext& c) {
  if (!c.options->kill_with_parent) return;
  ::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  pollfd report{c.error_fd, POLLOUT, 0};
  if (::poll(&report, 1, 0) == 1 && (report.revents & POLLERR)) ::_exit(kExitRuntimeFailure);  // gocrate died
}

[[noreturn]] void execute(const ChildContext& c, const std::string& program, std::vector<std::string> env) {
  const ContainerSpec& spec = *c.spec;
  std::vector<std::string> argv;
  int exec_fd = -1;
  if (spec.init) {
    argv = {"gocrate-init"};
    if (c.emulator_fd >= 0) argv.insert(argv.end(), {"-f", std::to_string(c.emulator_fd)});
    argv.push_back(program);
    exec_fd = c.init_fd;
  } else if (c.emulator_fd >= 0) {
    exec_fd = c.emulator_fd;
  }
  if (c.emulator_fd >= 0)
    argv.insert(argv.end(), {base_name(*spec.emulator), "-0", spec.args[0], program});
  else
    argv.push_back(spec.args[0]);
  argv.insert(argv.end(), spec.args.begin() + 1, spec.args.end());
  auto argv_ptrs = string_pointers(argv);
  auto env_ptrs = string_pointers(env);

  // Every descriptor but the standard three closes on exec; the emulator's
  // stays open for init, which executes it.
  close_on_exec_from(3);
  if (spec.init && c.emulator_fd >= 0) ::fcntl(c.emulator_fd, F_SETFD, 0);
  if (exec_fd >= 0) {
    ::syscall(SYS_execveat, exec_fd, "", argv_ptrs.data(), env_ptrs.data(), AT_EMPTY_PATH);
  } else {
    ::execve(program.c_str(), argv_ptrs.data(), env_ptrs.data());
  }
  explain_exec_failure(program, spec.user, errno);
}

// The containment sequence, in order. Each step fails with an Error that
// reaches the parent through the error pipe.
[[noreturn]] void run_container_process(const ChildContext& c) {
  const ContainerSpec& spec = *c.spec;
  prepare_process(c);
  enter_private_namespaces(!spec.host_uts);
  build_file_system(c);
  pivot_into(c.rootfs.mount_point);
  if (!spec.host_uts) set_hostname(spec.hostname);
  if (!spec.host_uts && !spec.domainname.empty()) set_domainname(spec.domainname);
  // Meanwhile the parent made the cgroup and the network namespace.
  Handover handover = wait_for_parent(c);
  Cgroup::join(handover.cgroup_entries);
  // Read before the cgroup namespace hides the paths.
  auto own_cgroups = own_cgroup_hierarchies(read_file("/proc/self/cgroup"), c.cgroup_path);
  enter_namespaces(c, handover);
  enter_cgroup_namespace();
  UniqueFd root = open_or_fail("/", O_PATH | O_DIRECTORY);
  mount_cgroup_view(root.get(), own_cgroups, spec.privileged);
  ContainerUser user = resolve_user(root.get(), spec.user, spec.image);
  add_groups(root.get(), user, spec.group_add, spec.image);
  enter_workdir(root.get(), spec.workdir, true, spec.read_only);
  std::string program = find_program(spec.args[0], spec.env, spec.image);
  if (!spec.emulator) check_architecture(program);
  if (spec.read_only && (!c.rootfs.copy_dir.empty() || !c.rootfs.upper_dir.empty())) remount_root_read_only();
  connect_streams(c);
  reset_signals();
  std::vector<std::string> env = spec.env;
  if (env_value(env, "HOME").empty()) env.push_back("HOME=" + user.home);
  std::string_view seccomp = spec.seccomp ? std::string_view(c.seccomp_program) : std::string_view();
  apply_ulimits(spec.ulimits);
  restrict_privileges(spec.capabilities, user, seccomp, [&c] { rearm_parent_death_signal(c); });
  execute(c, program, std::move(env));
}

[[noreturn]] void container_process(const ChildContext& c) {
  run_reporting_failure(c.error_fd, [&c] { run_container_process(c); });
}

// ---- The parent ---------------------------------------------------------

struct Pipe {
  UniqueFd read_end;
  UniqueFd write_end;
};

Pipe make_socket_pair() {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) != 0)
    fail_errno("cannot create a socket pair");
  return {UniqueFd(fds[0]), UniqueFd(fds[1])};
}

Pipe make_pipe() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) fail_errno("cannot create a pipe");
  return {UniqueFd(fds[0]), UniqueFd(fds[1])};
}

pid_t clone_container(unsigned long flags, int cgroup_fd, UniqueFd& pidfd) {
  int pidfd_value = -1;
  clone_args args{};
  args.flags = flags | CLONE_PIDFD;
  if (cgroup_fd >= 0) {
    args.flags |= CLONE_INTO_CGROUP;
    args.cgroup = static_cast<uint64_t>(cgroup_fd);
  }
  args.pidfd = reinterpret_cast<uint64_t>(&pidfd_value);
  args.exit_signal = SIGCHLD;
  std::fflush(nullptr);
  long pid = ::syscall(SYS_clone3, &args, sizeof args);
  if (pid < 0) fail_errno("cannot create the container's namespaces");
  if (pid > 0) pidfd.reset(pidfd_value);
  return static_cast<pid_t>(pid);
}

int wait_for_exit(int pidfd, int* signal_number) {
  siginfo_t info{};
  while (::waitid(static_cast<idtype_t>(P_PIDFD), pidfd, &info, WEXITED) != 0) {
    if (errno != EINTR) fail_errno("cannot wait for the container");
  }
  if (info.si_code == CLD_EXITED) {
    *signal_number = 0;
    return info.si_status;
  }
  *signal_number = info.si_status;
  return 128 + info.si_status;
}

std::string host_architecture_for_seccomp() {
  return Platform::host().architecture;
}

// A supervisor's container dies with it (the parent-death signal); one that
// was waiting to be restarted keeps its last exit code.
void record_supervisor_gone(ContainerState& state) {
  if (state.status != ContainerStatus::restarting) {
    state.exit_code = 128 + SIGKILL;
    state.finished = now_rfc3339();
  }
  state.status = ContainerStatus::dead;
  state.health.clear();
  state.error = "its supervisor was killed, and the container with it; gocrate start brings it back";
}

// Waits for the lock: another gocrate's remove_stale may hold it for a moment
// while it looks at the new directory.
UniqueFd lock_container(const std::string& dir) {
  UniqueFd fd = open_or_fail(dir, O_RDONLY | O_DIRECTORY);
  lock_file(fd.get(), LockMode::exclusive, dir);
  return fd;
}

RootfsPlan plan_rootfs(const ContainerSpec& spec, RootfsMethod method, const ContainerDirectory& directory,
                       std::string& copy_dir) {
  RootfsPlan plan;
  plan.layers_dir = spec.layers_dir;
  std::string dir = directory.dir_of(spec.id);
  if (method == RootfsMethod::copy) {
    plan.mount_point = dir + "/rootfs";
    make_directories(plan.mount_point, 0700);
    copy_dir = dir + "/rootfs-copy";
    make_directories(copy_dir, 0755);
    copy_layers(spec.lower_dirs, copy_dir);
    plan.copy_dir = copy_dir;
    return plan;
  }
  std::string prefix = spec.layers_dir + "/";
  for (const auto& lower : spec.lower_dirs) {
    plan.lower_dirs.push_back(lower.starts_with(prefix) ? lower.substr(prefix.size()) : lower);
  }
  // A container that is removed when it ends keeps its writes in memory
  // (charged to its memory cgroup), on a tmpfs mounted in its own mount
  // namespace over the containers directory; one that is kept, on disk.
  if (spec.auto_remove) {
    plan.scratch_dir = directory.dir();
    dir = plan.scratch_dir;
  }
  plan.mount_point = dir + "/rootfs";
  // A read-only container with mounts gets an upper layer for their mount
  // points; its root is made read-only once they are made.
  if (!spec.read_only || !spec.volumes.empty()) {
    plan.upper_dir = dir + "/upper";
    plan.work_dir = dir + "/work";
  }
  if (!spec.auto_remove) {
    for (const auto& [path, mode] :
         {std::pair{plan.mount_point, 0700}, {plan.upper_dir, 0755}, {plan.work_dir, 0700}}) {
      if (!path.empty()) make_directories(path, mode);
    }
  }
  return plan;
}

}  // namespace

ContainerState state_of(const ContainerSpec& spec) {
  ContainerState state;
  state.id = spec.id;
  state.name = spec.name;
  state.image = spec.image;
  state.image_digest = spec.image_digest;
  state.platform = spec.platform.str();
  state.hostname = spec.hostname;
  state.command = spec.args;
  state.network = std::string(network_mode_name(spec.network));
  state.ports = spec.ports;
  state.created = now_rfc3339();
  state.auto_remove = spec.auto_remove;
  state.env = spec.env;
  state.user = spec.user;
  state.workdir = spec.workdir;
  state.capabilities = spec.capabilities;
  state.seccomp = spec.seccomp;
  state.seccomp_profile = spec.seccomp_profile;
  state.privileged = spec.privileged;
  state.stop_signal = spec.stop_signal;
  state.labels = spec.labels;
  for (const auto& v : spec.volumes) state.mounts.push_back(mount_record(v));
  for (const auto& u : spec.ulimits) state.ulimits.push_back(u.str());
  state.group_add = spec.group_add;
  return state;
}

Container Container::start(const std::string& store_root, ContainerSpec spec, const StartOptions& options) {
  if (spec.args.empty())
    fail("image {} has no entrypoint or command: give one with --entrypoint or as arguments", spec.image);
  if (!spec.ports.empty() && spec.network != NetworkMode::private_network) {
    fail("ports cannot be published with --network {}: use --network private",
         network_mode_name(spec.network));
  }
  check_ulimits(spec.ulimits);
  check_sysctls(spec.sysctls, spec.network == NetworkMode::host, spec.ipc == IpcMode::host);
  // Held until the state names the volumes: `volume rm` waits, then sees them in use.
  std::vector<UniqueFd> volume_holds = claim_volumes(store_root, spec.volumes);
  check_volume_sources(spec.volumes, store_root);
  if (spec.id.empty()) spec.id = new_container_id();
  if (spec.name.empty()) spec.name = spec.id.substr(0, 12);
  check_container_name(spec.name);
  if (spec.hostname.empty()) spec.hostname = spec.name;

  Container container;
  container.store_root_ = store_root;
  ContainerState& state = container.state_;
  state = state_of(spec);
  state.owner_pid = ::getpid();
  state.supervised = options.supervised;
  container.supervised_ = options.supervised;

  ContainerDirectory directory(store_root);
  directory.ensure_exists();
  // A supervisor made the directory and holds it.
  bool have_directory = options.supervised;
  // Undone in reverse: the child is killed before its cgroup and directory go.
  Rollback rollback;
  rollback.add([&] {
    if (have_directory && !options.supervised) directory.remove(state);
  });
  rollback.add([&container] { container.cgroup_.remove(); });
  auto make_directory = [&] {
    directory.create(state);
    have_directory = true;
    container.lock_ = lock_container(directory.dir_of(state.id));
  };
  // A container kept on disk, or built by copying, needs its directory
  // before it starts; the usual --rm one only later, for its state.
  // Asked once: the answer decides both when the directory is made and how
  // the root is built.
  RootfsMethod method = rootfs_method(spec.layers_dir);
  bool scratch = spec.auto_remove && method == RootfsMethod::overlay;
  if (!scratch && !have_directory) make_directory();

  bool outbound = spec.network == NetworkMode::private_network;
  std::string slirp4netns = outbound ? find_slirp4netns() : "";
  ChildContext child;
  child.spec = &spec;
  child.options = &options;
  child.rootfs = plan_rootfs(spec, method, directory, container.copy_dir_);
  child.etc_files = make_container_etc_files({.hostname = spec.hostname,
                                              .domainname = spec.host_uts ? "" : spec.domainname,
                                              .extra_hosts = spec.extra_hosts,
                                              .dns = spec.dns,
                                              .network = spec.network});
  child.etc_dir = child.rootfs.scratch_dir.empty() ? directory.dir_of(spec.id) : child.rootfs.scratch_dir;
  child.cgroup_path = "/" + spec.cgroup_parent + "/" + spec.id;
  if (spec.seccomp) {
    auto profile = container_seccomp_profile(spec.seccomp_profile, spec.capabilities,
                                             host_architecture_for_seccomp(), spec.platform.architecture);
    child.seccomp_program = cached_seccomp_program(profile, store_root + "/.gocrate/seccomp");
  }
  UniqueFd init_fd, emulator_fd;
  if (spec.init) init_fd = init_program();
  if (spec.emulator) emulator_fd = sealed_program_from_file(base_name(*spec.emulator), *spec.emulator);
  child.init_fd = init_fd.get();
  child.emulator_fd = emulator_fd.get();

  Pipe sync = make_socket_pair();
  Pipe report = make_pipe();
  child.sync_fd = sync.read_end.get();
  child.error_fd = report.write_end.get();
  CgroupLayout layout = CgroupLayout::detect();
  auto make_cgroup = [&] {
    container.cgroup_ = Cgroup::create(
        layout, spec.cgroup_parent + "/" + state.id, spec.limits,
        container_device_policy(spec.device_rules, spec.privileged, spec.capabilities, spec.devices));
    state.cgroup_dirs = container.cgroup_.dirs();
    state.cgroup_v2 = container.cgroup_.v2();
  };
  // On cgroup v2 the child is born in its cgroup. Elsewhere gocrate makes
  // the cgroup while the child builds its file system, and the child moves
  // itself in.
  UniqueFd cgroup_fd;
  if (layout.pure_v2()) {
    make_cgroup();
    cgroup_fd = open_or_fail(container.cgroup_.dirs()[0], O_PATH | O_DIRECTORY);
  }
  pid_t pid = clone_container(spec.host_pid ? 0 : CLONE_NEWPID, cgroup_fd.get(), container.pidfd_);
  if (pid == 0) container_process(child);
  rollback.add([&container] {
    ::syscall(SYS_pidfd_send_signal, container.pidfd_.get(), SIGKILL, nullptr, 0);
    int sig = 0;
    wait_for_exit(container.pidfd_.get(), &sig);
  });
  sync.read_end.reset();
  report.write_end.reset();

  UniqueFd outbound_tap;
  try {
    if (!have_directory) make_directory();
    std::vector<UniqueFd> cgroup_entries;
    if (!cgroup_fd) {
      make_cgroup();
      cgroup_entries = container.cgroup_.open_join_files();
    }
    ContainerNamespaces namespaces =
        create_container_namespaces(spec.network != NetworkMode::host, outbound, spec.ipc != IpcMode::host);
    send_handover(sync.write_end.get(), namespaces.ipc.get(), namespaces.network.get(), cgroup_entries);
    container.network_namespace_ = std::move(namespaces.network);
    outbound_tap = std::move(namespaces.outbound_tap);
  } catch (const Error&) {
    rethrow_reported_failure(report.read_end.get());  // the child's own reason, if it failed first
    throw;
  }
  if (options.terminal) {
    container.terminal_ = receive_terminal(sync.write_end.get());
    if (!container.terminal_) rethrow_child_failure(report.read_end.get());
  }
  sync.write_end.reset();
  rethrow_child_failure(report.read_end.get());
  if (options.terminal && !container.terminal_) fail("the container's terminal was not handed over");
  state.pid = pid;
  state.status = ContainerStatus::running;
  state.started = now_rfc3339();
  if (!options.supervised) directory.save(state);
  if (outbound_tap) {
    container.outbound_ = std::make_unique<OutboundNetwork>(std::move(outbound_tap), slirp4netns,
                                                            container.network_namespace_.get(), state.name);
  }
  rollback.dismiss();
  container.finished_ = false;
  // A supervisor records its container's events itself.
  if (!options.supervised) {
    record_container_event(store_root, state, "create");
    record_container_event(store_root, state, "start");
  }
  return container;
}

Container::Container(Container&& other) noexcept
    : store_root_(std::move(other.store_root_)),
      state_(std::move(other.state_)),
      network_namespace_(std::move(other.network_namespace_)),
      outbound_(std::move(other.outbound_)),
      cgroup_(std::move(other.cgroup_)),
      pidfd_(std::move(other.pidfd_)),
      terminal_(std::move(other.terminal_)),
      lock_(std::move(other.lock_)),
      copy_dir_(std::move(other.copy_dir_)),
      supervised_(other.supervised_),
      finished_(std::exchange(other.finished_, true)) {}

Container::~Container() {
  if (finished_) return;
  signal(SIGKILL);
  try {
    wait();
  } catch (...) {
  }
}

void Container::signal(int sig) const {
  if (pidfd_) ::syscall(SYS_pidfd_send_signal, pidfd_.get(), sig, nullptr, 0);
}

ExitStatus Container::wait(const std::vector<int>& forward) {
  UniqueFd signals;
  if (!forward.empty()) {
    sigset_t set;
    sigemptyset(&set);
    for (int sig : forward) sigaddset(&set, sig);
    signals.reset(::signalfd(-1, &set, SFD_CLOEXEC));
  }
  for (;;) {
    pollfd fds[2] = {{pidfd_.get(), POLLIN, 0}, {signals.get(), POLLIN, 0}};
    int n = ::poll(fds, signals ? 2 : 1, -1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail_errno("cannot wait for the container");
    if (signals && (fds[1].revents & POLLIN)) {
      signalfd_siginfo info{};
      if (::read(signals.get(), &info, sizeof info) == sizeof info) signal(static_cast<int>(info.ssi_signo));
    }
    if (fds[0].revents & (POLLIN | POLLHUP)) break;
  }
  ExitStatus status;
  status.code = wait_for_exit(pidfd_.get(), &status.signal);
  status.stats = cgroup_.stats();
  status.oom_killed = status.stats.oom_kills > 0;
  cleanup(&status);
  return status;
}

void Container::cleanup(const ExitStatus* status) {
  finished_ = true;
  cgroup_.remove();
  pidfd_.reset();
  terminal_.reset();
  outbound_.reset();
  network_namespace_.reset();
  ContainerDirectory directory(store_root_);
  if (!supervised_) {
    if (status && status->oom_killed) record_container_event(store_root_, state_, "oom");
    record_container_event(store_root_, state_, "die",
                           {{"exitCode", std::to_string(status ? status->code : 128 + SIGKILL)}});
  }
  if (state_.auto_remove && !supervised_) {
    directory.remove(state_);
    record_container_event(store_root_, state_, "destroy");
    return;
  }
  if (!copy_dir_.empty()) remove_tree(copy_dir_);
  state_.status = ContainerStatus::exited;
  state_.pid = 0;
  state_.finished = now_rfc3339();
  if (status) {
    state_.exit_code = status->code;
    state_.oom_killed = status->oom_killed;
    state_.stats = status->stats;
  }
  if (supervised_) return;
  directory.save(state_);
  directory.mark_ended(state_.id);
  lock_.reset();
}

void Container::remove_stale(const std::string& store_root) {
  ContainerDirectory directory(store_root);
  std::optional<CgroupLayout> layout;
  for (const auto& id : directory.ids()) {
    std::string dir = directory.dir_of(id);
    if (directory.is_ended(id)) continue;
    UniqueFd lock(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!lock || !try_lock_file(lock.get(), LockMode::exclusive, dir)) continue;  // alive
    auto state = directory.find(id);
    if (state && state->status == ContainerStatus::exited) {
      directory.mark_ended(id);
      continue;
    }
    struct stat st;
    // A directory without state may be one a starter made a moment ago and
    // has not locked yet.
    if (!state && (::fstat(lock.get(), &st) != 0 || ::time(nullptr) - st.st_mtime < 60)) continue;
    if (!layout) layout = CgroupLayout::detect();
    std::vector<std::string> dirs;
    if (state && !state->cgroup_dirs.empty()) {
      for (const auto& cgroup_dir : state->cgroup_dirs) {
        if (path_exists(cgroup_dir)) dirs.push_back(cgroup_dir);
      }
    } else {
      for (const auto& h : layout->hierarchies) {
        std::string cgroup_dir = h.mount + "/gocrate/" + id;
        if (std::find(dirs.begin(), dirs.end(), cgroup_dir) == dirs.end() && path_exists(cgroup_dir)) {
          dirs.push_back(cgroup_dir);
        }
      }
    }
    try {
      Cgroup(dirs, false).remove();
      if (!state || state->auto_remove) {
        remove_tree(dir);
        if (state) directory.remove(*state);
        continue;
      }
      if (state->supervised) {
        record_supervisor_gone(*state);
      } else {
        state->status = ContainerStatus::exited;
        state->finished = now_rfc3339();
      }
      state->pid = 0;
      directory.save(*state);
      directory.mark_ended(id);
    } catch (const Error&) {
      // Another gocrate may be cleaning the same container up.
    }
  }
}

}  // namespace gocrate
