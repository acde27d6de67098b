#include "util/process.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string_view>

#include "util/error.h"
#include "util/fs.h"

extern char** environ;

namespace gocrate {

namespace {

// Runs in a vfork-like child on gocrate's memory with a copy of its
// descriptor table: only raw system calls. It keeps just `fd`, hands it to a
// grandchild of its own (which init or the nearest subreaper reaps) and
// exits at once.
int hand_to_grandchild(void* arg) {
  auto fd = static_cast<unsigned>(*static_cast<int*>(arg));
  if (fd > 0) ::syscall(SYS_close_range, 0U, fd - 1, 0U);
  ::syscall(SYS_close_range, fd + 1, ~0U, 0U);
  if (::syscall(SYS_clone, SIGCHLD, nullptr, nullptr, nullptr, 0UL) == 0) {
    ::syscall(SYS_close, fd);
    ::syscall(SYS_exit, 0);
  }
  return 0;
}

}  // namespace

void close_detached(UniqueFd fd) {
  if (!fd) return;
  alignas(16) char stack[8 * 1024];
  int raw = fd.get();
  pid_t child = ::clone(hand_to_grandchild, stack + sizeof stack, CLONE_VM | CLONE_VFORK | SIGCHLD, &raw);
  if (child < 0) return;
  while (::waitpid(child, nullptr, 0) < 0 && errno == EINTR) {
  }
}

std::optional<std::string> find_executable(const std::string& name) {
  if (name.find('/') != std::string::npos) {
    if (is_executable_file(name)) return name;
    return std::nullopt;
  }
  const char* path = std::getenv("PATH");
  std::string_view dirs = path ? path : "/usr/local/bin:/usr/bin:/bin";
  while (true) {
    auto colon = dirs.find(':');
    std::string dir(dirs.substr(0, colon));
    std::string candidate = (dir.empty() ? "." : dir) + "/" + name;
    if (is_executable_file(candidate)) return candidate;
    if (colon == std::string_view::npos) break;
    dirs.remove_prefix(colon + 1);
  }
  return std::nullopt;
}

namespace {

std::vector<std::string> merged_environment(const std::map<std::string, std::string>& overrides) {
  std::vector<std::string> env;
  for (char** entry = environ; *entry; ++entry) {
    std::string_view item = *entry;
    auto key = item.substr(0, item.find('='));
    if (!overrides.contains(std::string(key))) env.emplace_back(item);
  }
  for (const auto& [key, value] : overrides) env.push_back(key + "=" + value);
  return env;
}

std::vector<char*> pointers(std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (auto& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

void make_pipe(UniqueFd& read_end, UniqueFd& write_end) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) fail_errno("cannot create a pipe");
  read_end.reset(fds[0]);
  write_end.reset(fds[1]);
}

// Feeds stdin and drains stdout/stderr together, so that no pipe fills up
// while the child waits on another.
void pump(UniqueFd& in, std::string_view input, UniqueFd& out, std::string& out_text, UniqueFd& err,
          std::string& err_text) {
  char buffer[65536];
  while (in || out || err) {
    pollfd fds[3];
    int count = 0;
    auto add = [&](UniqueFd& fd, short events) {
      if (fd) fds[count++] = {fd.get(), events, 0};
    };
    add(in, POLLOUT);
    add(out, POLLIN);
    add(err, POLLIN);
    if (::poll(fds, count, -1) < 0) {
      if (errno == EINTR) continue;
      fail_errno("poll failed");
    }
    for (int i = 0; i < count; ++i) {
      if (!fds[i].revents) continue;
      if (in && fds[i].fd == in.get()) {
        ssize_t n = ::write(in.get(), input.data(), input.size());
        if (n > 0) input.remove_prefix(n);
        if (n < 0 && errno != EINTR && errno != EAGAIN) input = {};
        if (input.empty()) in.reset();
        continue;
      }
      UniqueFd& fd = (out && fds[i].fd == out.get()) ? out : err;
      std::string& text = (&fd == &out) ? out_text : err_text;
      ssize_t n = ::read(fd.get(), buffer, sizeof buffer);
      if (n > 0) {
        text.append(buffer, n);
      } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
        fd.reset();
      }
    }
  }
}

// What the child of spawn() does before it runs the program.
struct SpawnRequest {
  const char* program;
  char* const* argv;
  char* const* envp;
  int stdin_fd;             // -1: /dev/null
  int stdout_fd;            // -1: inherited
  int stderr_fd;            // -1: inherited
  const char* working_dir;  // nullptr: inherited
  pid_t parent;
  sigset_t mask;  // the caller's signal mask, the program's too
  int error = 0;  // set by the child when a step fails
};

// Puts `fd` at `target` without close-on-exec.
bool move_fd(int fd, int target) {
  if (fd == target) return ::fcntl(fd, F_SETFD, 0) == 0;
  return ::dup2(fd, target) == target;
}

// Runs in a vfork-like child on the caller's memory, with every signal
// blocked: only system calls, and the result left in the request.
int spawn_child(void* arg) {
  auto* r = static_cast<SpawnRequest*>(arg);
  auto give_up = [r] {
    r->error = errno;
    ::_exit(127);
  };
  // gocrate's signal handlers must not run here, nor in the program.
  for (int sig = 1; sig < NSIG; ++sig) {
    struct sigaction action;
    if (::sigaction(sig, nullptr, &action) != 0) continue;
    if (action.sa_handler == SIG_IGN || action.sa_handler == SIG_DFL) continue;
    action.sa_handler = SIG_DFL;
    action.sa_flags = 0;
    ::sigaction(sig, &action, nullptr);
  }
  // The program ends with the caller, also when the caller is killed: nobody
  // waits for its result then, and what it writes (a go build's binary into
  // a store's scratch directory, say) would land after the caller's
  // temporary files were cleared.
  if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) give_up();
  if (::getppid() != r->parent) ::_exit(127);  // the caller is gone already
  if (r->stdin_fd >= 0) {
    if (!move_fd(r->stdin_fd, 0)) give_up();
  } else {
    int null = ::open("/dev/null", O_RDONLY);
    if (null < 0 || !move_fd(null, 0)) give_up();
    if (null != 0) ::close(null);
  }
  if (r->stdout_fd >= 0 && !move_fd(r->stdout_fd, 1)) give_up();
  if (r->stderr_fd >= 0 && !move_fd(r->stderr_fd, 2)) give_up();
  if (r->working_dir && ::chdir(r->working_dir) != 0) give_up();
  ::sigprocmask(SIG_SETMASK, &r->mask, nullptr);
  ::execve(r->program, r->argv, r->envp);
  give_up();
  return 127;
}

// posix_spawn(), plus the parent-death signal, which posix_spawn() cannot
// set. Fails with an error naming `what`.
pid_t spawn(SpawnRequest& request, const std::string& what) {
  constexpr size_t kStackSize = 64 * 1024;
  auto stack = std::make_unique<char[]>(kStackSize);
  sigset_t all;
  ::sigfillset(&all);
  ::pthread_sigmask(SIG_SETMASK, &all, &request.mask);
  request.parent = ::getpid();
  pid_t pid = ::clone(spawn_child, stack.get() + kStackSize, CLONE_VM | CLONE_VFORK | SIGCHLD, &request);
  int clone_error = errno;
  ::pthread_sigmask(SIG_SETMASK, &request.mask, nullptr);
  if (pid < 0) fail_errno(fmt::format("cannot start {}", what), clone_error);
  if (request.error != 0) {
    while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
    fail_errno(fmt::format("cannot start {}", what), request.error);
  }
  return pid;
}

}  // namespace

ProcessResult run_process(const std::vector<std::string>& argv, const ProcessOptions& options) {
  auto program = find_executable(argv.at(0));
  if (!program) fail("{} not found in PATH", argv[0]);

  UniqueFd in_read, in_write, out_read, out_write, err_read, err_write;
  if (options.stdin_data) make_pipe(in_read, in_write);
  if (options.capture_stdout) make_pipe(out_read, out_write);
  if (options.capture_stderr) make_pipe(err_read, err_write);

  std::vector<std::string> args = argv;
  std::vector<std::string> env = merged_environment(options.env_overrides);
  auto arg_pointers = pointers(args);
  auto env_pointers = pointers(env);
  SpawnRequest request{};
  request.program = program->c_str();
  request.argv = arg_pointers.data();
  request.envp = env_pointers.data();
  request.stdin_fd = in_read.get();
  request.stdout_fd = out_write.get();
  request.stderr_fd = err_write.get();
  request.working_dir = options.working_dir.empty() ? nullptr : options.working_dir.c_str();
  pid_t pid = spawn(request, argv[0]);
  in_read.reset();
  out_write.reset();
  err_write.reset();

  ProcessResult result;
  std::string_view input = options.stdin_data ? std::string_view(*options.stdin_data) : std::string_view();
  pump(in_write, input, out_read, result.out, err_read, result.err);

  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) fail_errno(fmt::format("cannot wait for {}", argv[0]));
  }
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

namespace {
const std::chrono::steady_clock::time_point process_start = std::chrono::steady_clock::now();
}  // namespace

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

double seconds_since_process_start() {
  return seconds_since(process_start);
}

}  // namespace gocrate
