#include "runtime/containment/process_setup.h"

#include <fcntl.h>
#include <linux/close_range.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

#include "image/platform.h"
#include "runtime/container.h"
#include "runtime/containment/emulator.h"
#include "runtime/containment/mounts.h"
#include "runtime/containment/seccomp.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/rooted_open.h"
#include "util/strings.h"

namespace gocrate {

void report_and_exit(int error_fd, int code, std::string_view message) {
  std::string text = fmt::format("{} {}", code, message);
  [[maybe_unused]] ssize_t n = ::write(error_fd, text.data(), text.size());
  ::_exit(code);
}

void run_reporting_failure(int error_fd, const std::function<void()>& step) {
  try {
    step();
    report_and_exit(error_fd, kExitRuntimeFailure, "the process returned instead of executing its program");
  } catch (const Error& e) {
    int code = e.exit_code() == 1 ? kExitRuntimeFailure : e.exit_code();
    report_and_exit(error_fd, code, e.what());
  } catch (const std::exception& e) {
    report_and_exit(error_fd, kExitRuntimeFailure, e.what());
  }
}

std::string env_value(const std::vector<std::string>& env, std::string_view key) {
  for (const auto& e : env) {
    if (e.size() > key.size() && e.starts_with(key) && e[key.size()] == '=') return e.substr(key.size() + 1);
  }
  return {};
}

void enter_workdir(int root_fd, const std::string& workdir_flag, bool may_create, bool read_only) {
  std::string workdir = workdir_flag.empty() ? "/" : workdir_flag;
  if (!workdir.starts_with('/')) fail("the working directory \"{}\" is not an absolute path", workdir);
  UniqueFd dir(open_in_root(root_fd, workdir, O_PATH | O_DIRECTORY));
  if (!dir && errno == ENOENT && may_create && !read_only) {
    make_directories_in_root(root_fd, workdir);
    dir.reset(open_in_root(root_fd, workdir, O_PATH | O_DIRECTORY));
  }
  if (!dir) {
    if (errno == ENOENT && read_only) {
      fail(
          "the working directory {} does not exist in the read-only container: create it in the image or "
          "drop "
          "--read-only",
          workdir);
    }
    if (errno == ENOENT) fail("the working directory {} does not exist in the container", workdir);
    fail_errno(fmt::format("cannot enter the working directory {}", workdir));
  }
  if (::fchdir(dir.get()) != 0) fail_errno(fmt::format("cannot enter the working directory {}", workdir));
}

namespace {

bool is_executable_regular(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0111);
}

}  // namespace

std::string find_program(const std::string& name, const std::vector<std::string>& env,
                         std::string_view image) {
  if (name.find('/') != std::string::npos) {
    struct stat st;
    if (::stat(name.c_str(), &st) != 0) {
      fail_with_code(kExitNotFound, "cannot run {}: no such file in the image {}", name, image);
    }
    if (S_ISDIR(st.st_mode)) fail_with_code(kExitNotExecutable, "cannot run {}: it is a directory", name);
    if (!S_ISREG(st.st_mode) || !(st.st_mode & 0111)) {
      fail_with_code(kExitNotExecutable, "cannot run {}: it is not executable (mode {:o})", name,
                     st.st_mode & 07777);
    }
    return name;
  }
  std::string path = env_value(env, "PATH");
  for (const auto& dir : split(path, ':')) {
    std::string candidate = (dir.empty() ? "." : dir) + "/" + name;
    if (is_executable_regular(candidate)) return candidate;
  }
  fail_with_code(kExitNotFound, "cannot run {}: executable file not found in $PATH ({}) of the image {}",
                 name, path, image);
}

void check_architecture(const std::string& program) {
  UniqueFd fd(::open(program.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY));
  struct stat st;
  if (!fd || ::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) return;
  char header[64];
  ssize_t n = ::read(fd.get(), header, sizeof header);
  if (n <= 0) return;
  std::string arch = elf_architecture(std::string_view(header, n));
  Platform host = Platform::host();
  if (arch.empty() || arch == host.architecture || (host.architecture == "amd64" && arch == "386")) return;
  fail_with_code(
      kExitNotExecutable,
      "cannot run {}: exec format error: it is a linux/{} program and this host is {}; run the image's "
      "linux/{} variant with --platform linux/{} (needs qemu-user-static)",
      program, arch, host.str(), arch, arch);
}

void connect_stdio(int in, int out, int err) {
  UniqueFd null_device;
  if (in < 0) {
    null_device.reset(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    if (!null_device) fail_errno("cannot open /dev/null in the container");
    in = null_device.get();
  }
  for (auto [from, to] : {std::pair{in, 0}, {out, 1}, {err, 2}}) {
    if (from != to && ::dup2(from, to) < 0) fail_errno("cannot connect the container's standard streams");
  }
}

void reset_signals() {
  // Handlers reset themselves on exec; only ignored signals stay ignored,
  // and only the classic ones are ever ignored by a parent.
  for (int sig = 1; sig < 32; ++sig) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    ::signal(sig, SIG_DFL);
  }
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
}

void restrict_privileges(CapabilitySet capabilities, const ContainerUser& user,
                         std::string_view seccomp_program, const std::function<void()>& after_user_switch) {
  limit_bounding_set(capabilities);
  switch_to_user(user);
  if (after_user_switch) after_user_switch();
  set_process_capabilities(capabilities);
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) fail_errno("cannot set no_new_privs");
  if (!seccomp_program.empty()) load_seccomp_program(seccomp_program);
}

void close_on_exec_from(int first) {
  if (::syscall(SYS_close_range, first, ~0U, CLOSE_RANGE_CLOEXEC) != 0)
    fail_errno("cannot close gocrate's files");
}

std::vector<char*> string_pointers(std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (auto& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

void explain_exec_failure(const std::string& program, const std::string& user, int err) {
  if (err == ENOENT) fail_with_code(kExitNotFound, "cannot run {}: {}", program, errno_text(err));
  if (err == EACCES) {
    fail_with_code(kExitNotExecutable, "cannot run {}: permission denied for user \"{}\"", program,
                   user.empty() ? "root" : user);
  }
  if (err == ENOEXEC) {
    fail_with_code(kExitNotExecutable,
                   "cannot run {}: exec format error: it is not a program this host can run", program);
  }
  fail_with_code(kExitNotExecutable, "cannot run {}: {}", program, errno_text(err));
}

namespace {

std::string read_report(int fd) {
  std::string text;
  char buffer[4096];
  for (;;) {
    ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    text.append(buffer, n);
  }
  return text;
}

}  // namespace

void rethrow_child_failure(int report_fd, std::string_view user) {
  std::string failure = read_report(report_fd);
  if (failure.empty()) return;
  int code = kExitRuntimeFailure;
  std::string message = failure;
  if (size_t space = failure.find(' '); space != std::string::npos) {
    code = std::atoi(failure.substr(0, space).c_str());
    message = failure.substr(space + 1);
  }
  constexpr std::string_view kInitExecFailure = "exec-errno ";
  if (message.starts_with(kInitExecFailure)) {
    std::string rest = message.substr(kInitExecFailure.size());
    size_t space = rest.find(' ');
    if (space != std::string::npos)
      explain_exec_failure(rest.substr(space + 1), std::string(user), std::atoi(rest.c_str()));
  }
  throw Error(message, code);
}

void rethrow_reported_failure(int report_fd, std::string_view user) {
  pollfd ready{report_fd, POLLIN, 0};
  if (::poll(&ready, 1, 0) == 1 && (ready.revents & POLLIN)) rethrow_child_failure(report_fd, user);
}

}  // namespace gocrate
