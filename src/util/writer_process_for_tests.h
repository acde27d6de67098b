#pragma once

// For tests only: a forked process that makes something, reports a path and
// then waits to be let go or killed, so that a test can act beside a live
// writer, a killed one, or one that is gone while its pid lives on.

#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <functional>
#include <string>

namespace gocrate {

class WriterProcess {
 public:
  // What the child's body is given.
  class Child {
   public:
    Child(int report_fd, int go_fd) : report_fd_(report_fd), go_fd_(go_fd) {}
    // Sends `path` to the parent.
    void report(const std::string& path) const {
      std::string line = path + "\n";
      if (::write(report_fd_, line.data(), line.size()) != static_cast<ssize_t>(line.size())) ::_exit(2);
    }
    // Reports `path`, then returns once the parent calls let_go().
    void ready(const std::string& path) const {
      report(path);
      char byte;
      while (::read(go_fd_, &byte, 1) < 0 && errno == EINTR) {
      }
    }

    // Replaces this process with another program (a shell, then sleep),
    // which closes every close-on-exec descriptor: what this process held
    // is given up while its pid lives on. The parent's read_line() returns
    // once the new program runs.
    [[noreturn]] void become_another_program() const {
      ::fcntl(report_fd_, F_SETFD, 0);
      std::string script = "echo >&" + std::to_string(report_fd_) + "; exec sleep 600";
      ::execlp("sh", "sh", "-c", script.c_str(), nullptr);
      ::_exit(127);
    }

   private:
    int report_fd_;
    int go_fd_;
  };

  // Runs `body` in a forked child, which exits 0 when it returns and 1 when
  // it throws; returns once the child has reported a path or ended.
  explicit WriterProcess(const std::function<void(Child&)>& body) {
    int report[2], go[2];
    if (::pipe2(report, O_CLOEXEC) != 0 || ::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, go) != 0) {
      ::abort();
    }
    pid_ = ::fork();
    if (pid_ < 0) ::abort();
    if (pid_ == 0) {
      ::close(report[0]);
      ::close(go[1]);
      Child child(report[1], go[0]);
      try {
        body(child);
      } catch (...) {
        ::_exit(1);
      }
      ::_exit(0);
    }
    ::close(report[1]);
    ::close(go[0]);
    report_fd_ = report[0];
    go_fd_ = go[1];
    path_ = read_line();
  }
  WriterProcess(const WriterProcess&) = delete;
  WriterProcess& operator=(const WriterProcess&) = delete;
  ~WriterProcess() {
    kill();
    ::close(report_fd_);
  }

  pid_t pid() const { return pid_; }
  // The path the child reported; empty if it ended first.
  const std::string& path() const { return path_; }
  // The next line the child reports (without its newline); empty at the end.
  std::string read_line() {
    std::string line;
    char byte;
    for (;;) {
      ssize_t n = ::read(report_fd_, &byte, 1);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0 || byte == '\n') return line;
      line += byte;
    }
  }
  // Lets ready() return and waits for the child to end; its exit code.
  int let_go() {
    // A byte rather than the end of the stream: children forked later hold
    // copies of this end. The child may have ended already: no SIGPIPE.
    ::send(go_fd_, "g", 1, MSG_NOSIGNAL);
    ::close(go_fd_);
    go_fd_ = -1;
    return wait();
  }
  void kill() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    wait();
  }

 private:
  int wait() {
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
    if (go_fd_ >= 0) ::close(go_fd_);
    go_fd_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  pid_t pid_ = -1;
  int report_fd_ = -1;
  int go_fd_ = -1;
  std::string path_;
};

}  // namespace gocrate
