#include "runtime/terminal/stdio_relay.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>

#include "util/fs.h"

namespace gocrate {
namespace {

struct HostPipe {
  UniqueFd read_end, write_end;
  HostPipe() {
    int fds[2];
    EXPECT_EQ(::pipe2(fds, O_CLOEXEC), 0);
    read_end.reset(fds[0]);
    write_end.reset(fds[1]);
  }
};

// Starts `body` in a child whose standard streams are the relay's container
// ends, as a container process gets them; returns its pidfd.
template <typename Body>
UniqueFd start_child(StdioRelay& relay, pid_t& pid, Body body) {
  pid = ::fork();
  if (pid == 0) {
    int in = relay.container_stdin() >= 0 ? relay.container_stdin() : ::open("/dev/null", O_RDONLY);
    ::dup2(in, 0);
    ::dup2(relay.container_stdout(), 1);
    ::dup2(relay.container_stderr(), 2);
    ::syscall(SYS_close_range, 3, ~0U, 0);  // what an exec would close: the relay's own ends
    ::_exit(body());
  }
  UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  relay.close_container_ends();
  return pidfd;
}

int exit_code(pid_t pid) {
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

TEST(StdioRelay, CopiesEveryByteValueAndInputToItsEnd) {
  std::string all_bytes;
  for (int i = 0; i < 256; ++i) all_bytes.push_back(static_cast<char>(i));
  std::string input;
  for (int i = 0; i < 5000; ++i) input += all_bytes;  // more than a pipe holds
  TempDir dir;
  write_file_atomic(dir.path() + "/in", input);
  UniqueFd in = open_or_fail(dir.path() + "/in", O_RDONLY);
  UniqueFd out = open_or_fail(dir.path() + "/out", O_WRONLY | O_CREAT | O_TRUNC);
  UniqueFd err = open_or_fail(dir.path() + "/err", O_WRONLY | O_CREAT | O_TRUNC);
  StdioRelay relay(in.get(), out.get(), err.get(), true);
  pid_t pid = 0;
  UniqueFd pidfd = start_child(relay, pid, [] {
    // Echo stdin to stdout until end of file, then a marker on stderr.
    char buffer[4096];
    ssize_t n;
    while ((n = ::read(0, buffer, sizeof buffer)) > 0) {
      if (::write(1, buffer, n) != n) return 3;
    }
    return ::write(2, "eof\n", 4) == 4 ? 7 : 4;
  });
  relay.run(pidfd.get(), {}, [](int) {});
  EXPECT_EQ(exit_code(pid), 7);
  EXPECT_EQ(read_file(dir.path() + "/out"), input);
  EXPECT_EQ(read_file(dir.path() + "/err"), "eof\n");
}

TEST(StdioRelay, WithoutInputTheProcessReadsNothing) {
  HostPipe out, err;
  StdioRelay relay(0, out.write_end.get(), err.write_end.get(), false);
  EXPECT_EQ(relay.container_stdin(), -1);
  pid_t pid = 0;
  UniqueFd pidfd = start_child(relay, pid, [] {
    char c;
    return ::read(0, &c, 1) == 0 ? 0 : 1;
  });
  relay.run(pidfd.get(), {}, [](int) {});
  EXPECT_EQ(exit_code(pid), 0);
}

// A closed host output reaches the program as EPIPE, as without a relay.
TEST(StdioRelay, AClosedHostOutputClosesTheProgramsPipe) {
  HostPipe out, err;
  out.read_end.reset();
  StdioRelay relay(0, out.write_end.get(), err.write_end.get(), false);
  pid_t pid = 0;
  UniqueFd pidfd = start_child(relay, pid, [] {
    ::signal(SIGPIPE, SIG_IGN);
    std::string chunk(65536, 'x');
    for (int i = 0; i < 1000; ++i) {
      if (::write(1, chunk.data(), chunk.size()) < 0) return errno == EPIPE ? 0 : 2;
    }
    return 1;
  });
  relay.run(pidfd.get(), {}, [](int) {});
  EXPECT_EQ(exit_code(pid), 0);
}

}  // namespace
}  // namespace gocrate
