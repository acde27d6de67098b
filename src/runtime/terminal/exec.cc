#include "runtime/terminal/exec.h"

#include <fcntl.h>
#include <linux/sched.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

#include "image/platform.h"
#include "runtime/container.h"
#include "runtime/containment/cgroups.h"
#include "runtime/containment/process_setup.h"
#include "runtime/containment/sealed_program.h"
#include "runtime/containment/seccomp.h"
#include "runtime/containment/seccomp_profile.h"
#include "runtime/containment/users.h"
#include "util/error.h"

namespace gocrate {

namespace {

// Entered at once, with the pid namespace for the new process's children.
constexpr int kJoinedNamespaces =
    CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET | CLONE_NEWCGROUP | CLONE_NEWPID;

// What the new process needs, prepared by the starter.
struct ExecContext {
  const ContainerState* container;
  const ExecSpec* spec;
  const ExecIo* io;
  int container_pidfd = -1;
  const std::vector<UniqueFd>* cgroup_entries;
  std::string seccomp_program;
  std::vector<Ulimit> ulimits;  // the container's --ulimit, inherited as in Docker
  int init_fd = -1;             // the sealed gocrate-init that starts the program inside
  int sync_fd = -1;             // carries the terminal's master back
  int error_fd = -1;            // EOF without data means the program was executed
};

[[noreturn]] void fail_not_running(const ContainerState& state) {
  fail("container {} is not running: see `gocrate ps -a`", state.name);
}

// The kernel forgets the parent-death signal when credentials change; the
// starter may have died before it was set.
void arm_parent_death_signal(int error_fd) {
  ::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  pollfd report{error_fd, POLLOUT, 0};
  if (::poll(&report, 1, 0) == 1 && (report.revents & POLLERR)) ::_exit(kExitRuntimeFailure);
}

// Runs in gocrate's pid namespace, where nothing in the container can see
// it: it takes every namespace of the container at once, and with them its
// root and working directory, then the container's user and restrictions,
// and becomes gocrate-init (a sealed memfd), which starts the program as its
// child in the container's pid namespace. So the first process that appears
// there already holds the container's root and cwd, and only init's sealed
// executable, never the host's root or gocrate's binary, even to a container
// with CAP_SYS_PTRACE.
[[noreturn]] void run_exec_process(const ExecContext& c) {
  const ExecSpec& spec = *c.spec;
  arm_parent_death_signal(c.error_fd);
  for (const auto& entry : *c.cgroup_entries) {
    if (::write(entry.get(), "0", 1) != 1) fail_errno("cannot join the container's cgroup");
  }
  if (::setns(c.container_pidfd, kJoinedNamespaces) != 0)
    fail_errno("cannot enter the container's namespaces");
  UniqueFd root = open_or_fail("/", O_PATH | O_DIRECTORY);
  ContainerUser user = resolve_user(root.get(), spec.user, c.container->image);
  add_groups(root.get(), user, c.container->group_add, c.container->image);
  enter_workdir(root.get(), spec.workdir, false, false);
  std::string program = find_program(spec.args[0], spec.env, c.container->image);
  check_architecture(program);
  if (c.io->terminal) {
    attach_new_terminal(c.sync_fd, c.io->terminal_size);
  } else {
    if (::setsid() < 0) fail_errno("cannot start a session for the process");
    connect_stdio(c.io->stdin_fd, c.io->stdout_fd, c.io->stderr_fd);
  }
  reset_signals();
  std::vector<std::string> env = spec.env;
  if (env_value(env, "HOME").empty()) env.push_back("HOME=" + user.home);
  apply_ulimits(c.ulimits);
  restrict_privileges(c.container->capabilities, user, c.seccomp_program,
                      [&c] { arm_parent_death_signal(c.error_fd); });
  std::vector<std::string> argv = {"gocrate-init", "-e", std::to_string(c.error_fd), program};
  argv.insert(argv.end(), spec.args.begin(), spec.args.end());
  auto argv_ptrs = string_pointers(argv);
  auto env_ptrs = string_pointers(env);
  close_on_exec_from(3);
  ::fcntl(c.error_fd, F_SETFD, 0);
  ::syscall(SYS_execveat, c.init_fd, "", argv_ptrs.data(), env_ptrs.data(), AT_EMPTY_PATH);
  fail_errno("cannot start gocrate-init in the container");
}

pid_t clone_process(UniqueFd& pidfd) {
  int pidfd_value = -1;
  clone_args args{};
  args.flags = CLONE_PIDFD;
  args.pidfd = reinterpret_cast<uint64_t>(&pidfd_value);
  args.exit_signal = SIGCHLD;
  std::fflush(nullptr);
  long pid = ::syscall(SYS_clone3, &args, sizeof args);
  if (pid < 0) fail_errno("cannot start a process in the container");
  if (pid > 0) pidfd.reset(pidfd_value);
  return static_cast<pid_t>(pid);
}

std::string seccomp_program_for(const std::string& store_root, const ContainerState& container) {
  if (!container.seccomp) return {};
  std::string image_architecture = Platform::host().architecture;
  if (!container.platform.empty()) image_architecture = Platform::parse(container.platform).architecture;
  auto profile = container_seccomp_profile(container.seccomp_profile, container.capabilities,
                                           Platform::host().architecture, image_architecture);
  return cached_seccomp_program(profile, store_root + "/.gocrate/seccomp");
}

struct Channel {
  UniqueFd parent_end;
  UniqueFd child_end;
};

Channel make_channel(bool socket) {
  int fds[2];
  if (socket ? ::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) != 0
             : ::pipe2(fds, O_CLOEXEC) != 0) {
    fail_errno("cannot create a channel to the new process");
  }
  return {UniqueFd(fds[0]), UniqueFd(fds[1])};
}

}  // namespace

UniqueFd open_container_pidfd(const ContainerState& state) {
  if (state.pid <= 0 || state.status != ContainerStatus::running) fail_not_running(state);
  UniqueFd fd(static_cast<int>(::syscall(SYS_pidfd_open, state.pid, 0)));
  if (!fd) fail_not_running(state);
  auto cgroups = read_file_if_exists(fmt::format("/proc/{}/cgroup", state.pid));
  if (!cgroups || cgroups->find("/gocrate/" + state.id) == std::string::npos) fail_not_running(state);
  pollfd exited{fd.get(), POLLIN, 0};
  if (::poll(&exited, 1, 0) == 1) fail_not_running(state);
  return fd;
}

ExecProcess ExecProcess::start(const std::string& store_root, const ContainerState& container,
                               const ExecSpec& spec, const ExecIo& io) {
  if (spec.args.empty()) fail("no command to run in container {}", container.name);
  UniqueFd target = open_container_pidfd(container);
  std::vector<UniqueFd> cgroup_entries;
  try {
    cgroup_entries = Cgroup(container.cgroup_dirs, container.cgroup_v2).open_join_files();
  } catch (const Error&) {
    fail_not_running(container);
  }
  ExecContext c;
  c.container = &container;
  c.spec = &spec;
  c.io = &io;
  c.container_pidfd = target.get();
  for (const auto& u : container.ulimits) c.ulimits.push_back(parse_ulimit(u));
  c.cgroup_entries = &cgroup_entries;
  c.seccomp_program = seccomp_program_for(store_root, container);
  UniqueFd init = init_program();
  c.init_fd = init.get();
  Channel sync = make_channel(true);
  Channel report = make_channel(false);
  c.sync_fd = sync.child_end.get();
  c.error_fd = report.child_end.get();

  if (::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) fail_errno("cannot make gocrate non-dumpable");
  ExecProcess process;
  process.pid_ = clone_process(process.pidfd_);
  if (process.pid_ == 0) run_reporting_failure(c.error_fd, [&c] { run_exec_process(c); });
  sync.child_end.reset();
  report.child_end.reset();
  if (io.terminal) {
    process.terminal_ = receive_terminal(sync.parent_end.get());
    if (!process.terminal_) rethrow_child_failure(report.parent_end.get(), spec.user);
  }
  rethrow_child_failure(report.parent_end.get(), spec.user);
  if (io.terminal && !process.terminal_) fail("the terminal of the new process was not handed over");
  return process;
}

ExecProcess::ExecProcess(ExecProcess&& other) noexcept
    : pid_(std::exchange(other.pid_, 0)),
      pidfd_(std::move(other.pidfd_)),
      terminal_(std::move(other.terminal_)) {}

ExecProcess::~ExecProcess() {
  if (!pidfd_) return;
  signal(SIGKILL);
  try {
    wait();
  } catch (...) {
  }
}

void ExecProcess::signal(int sig) const {
  if (pidfd_) ::syscall(SYS_pidfd_send_signal, pidfd_.get(), sig, nullptr, 0);
}

int ExecProcess::wait() {
  siginfo_t info{};
  while (::waitid(static_cast<idtype_t>(P_PIDFD), pidfd_.get(), &info, WEXITED) != 0) {
    if (errno != EINTR) fail_errno("cannot wait for the process in the container");
  }
  pidfd_.reset();
  terminal_.reset();
  pid_ = 0;
  return info.si_code == CLD_EXITED ? info.si_status : 128 + info.si_status;
}

}  // namespace gocrate
