#include "runtime/oci/hooks.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>

#include "runtime/containment/process_setup.h"
#include "util/error.h"
#include "util/fs.h"

namespace gocrate::oci {

namespace {

void run_hook(const Hook& hook, std::string_view kind, const std::string& state_json) {
  std::string what = fmt::format("{} hook {}", kind, hook.path);
  int input[2];
  if (::pipe2(input, O_CLOEXEC) != 0) fail_errno(fmt::format("cannot run {}", what));
  UniqueFd read_end(input[0]), write_end(input[1]);
  std::vector<std::string> args = hook.args.empty() ? std::vector<std::string>{hook.path} : hook.args;
  std::vector<std::string> env = hook.env;
  auto argv = string_pointers(args);
  auto envp = string_pointers(env);
  pid_t pid = ::fork();
  if (pid < 0) fail_errno(fmt::format("cannot run {}", what));
  if (pid == 0) {
    ::dup2(read_end.get(), 0);
    ::execve(hook.path.c_str(), argv.data(), envp.data());
    ::_exit(127);
  }
  read_end.reset();
  UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  // A hook that does not read its stdin must not block us: the state is
  // small enough for the pipe's buffer.
  [[maybe_unused]] ssize_t n = ::write(write_end.get(), state_json.data(), state_json.size());
  write_end.reset();
  int timeout_ms = hook.timeout ? *hook.timeout * 1000 : -1;
  if (pidfd) {
    pollfd ready{pidfd.get(), POLLIN, 0};
    int rc;
    while ((rc = ::poll(&ready, 1, timeout_ms)) < 0 && errno == EINTR) {
    }
    if (rc == 0) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
      fail("{} timed out after {} s", what, *hook.timeout);
    }
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return;
  if (WIFEXITED(status) && WEXITSTATUS(status) == 127) fail("{} could not be executed", what);
  if (WIFSIGNALED(status)) fail("{} was killed by signal {}", what, WTERMSIG(status));
  fail("{} exited {}", what, WEXITSTATUS(status));
}

}  // namespace

void run_hooks(const std::vector<Hook>& hooks, std::string_view kind, const std::string& state_json) {
  for (const auto& hook : hooks) run_hook(hook, kind, state_json);
}

void run_hooks_warning(const std::vector<Hook>& hooks, std::string_view kind, const std::string& state_json) {
  for (const auto& hook : hooks) {
    try {
      run_hook(hook, kind, state_json);
    } catch (const Error& e) {
      fmt::print(stderr, "gocrate-runtime: warning: {}\n", e.what());
    }
  }
}

}  // namespace gocrate::oci
