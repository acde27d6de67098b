#include "util/process.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "util/error.h"
#include "util/fs.h"

namespace gocrate {
namespace {

TEST(CloseDetached, TheDescriptorIsClosedAndNoChildIsLeftToReap) {
  int fds[2];
  ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
  UniqueFd read_end(fds[0]);
  UniqueFd other(::open("/dev/null", O_RDONLY | O_CLOEXEC));  // a descriptor the grandchild must drop too
  close_detached(UniqueFd(fds[1]));

  // End of file: no copy of the write end is left anywhere.
  pollfd ready{read_end.get(), POLLIN, 0};
  ASSERT_EQ(::poll(&ready, 1, 5000), 1);
  char byte;
  EXPECT_EQ(::read(read_end.get(), &byte, 1), 0);
  EXPECT_EQ(::fcntl(fds[1], F_GETFD), -1);
  EXPECT_EQ(::waitpid(-1, nullptr, WNOHANG), -1);
  EXPECT_EQ(errno, ECHILD);
}

TEST(CloseDetached, AnEmptyDescriptorIsNothingToDo) {
  close_detached(UniqueFd());
  EXPECT_EQ(::waitpid(-1, nullptr, WNOHANG), -1);
}

TEST(RunProcess, FeedsStdinAndCapturesOutputAndExitCode) {
  ProcessOptions options;
  options.stdin_data = "from stdin";
  options.env_overrides["GOCRATE_TEST_VALUE"] = "from env";
  TempDir dir;
  options.working_dir = dir.path();
  auto result =
      run_process({"sh", "-c", "cat; echo \" $GOCRATE_TEST_VALUE $(pwd)\"; echo oops >&2; exit 3"}, options);
  EXPECT_EQ(result.out, "from stdin from env " + dir.path() + "\n");
  EXPECT_EQ(result.err, "oops\n");
  EXPECT_EQ(result.exit_code, 3);
}

TEST(RunProcess, WithoutStdinDataTheProgramReadsNothing) {
  EXPECT_EQ(run_process({"sh", "-c", "cat; echo end"}).out, "end\n");
}

TEST(RunProcess, AProgramThatCannotStartIsAnError) {
  EXPECT_THROW(run_process({"gocrate-no-such-program"}), Error);
  TempDir dir;
  ProcessOptions options;
  options.working_dir = dir.path() + "/missing";
  EXPECT_THROW(run_process({"true"}, options), Error);
  EXPECT_EQ(::waitpid(-1, nullptr, WNOHANG), -1);  // nothing left to reap
}

// A program still running when gocrate is killed dies with it, rather than
// go on writing where the next gocrate has cleared up.
TEST(RunProcess, TheProgramDiesWithItsCaller) {
  TempDir dir;
  std::string pid_file = dir.path() + "/pid";
  pid_t caller = ::fork();
  if (caller == 0) {
    run_process(
        {"sh", "-c",
         "echo $$ > " + pid_file + ".new && mv " + pid_file + ".new " + pid_file + " && exec sleep 600"});
    ::_exit(0);
  }
  std::optional<std::string> text;
  for (int i = 0; i < 500 && !(text = read_file_if_exists(pid_file)); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_TRUE(text);
  pid_t program = std::stoi(*text);
  ASSERT_EQ(::kill(program, 0), 0);
  ::kill(caller, SIGKILL);
  ::waitpid(caller, nullptr, 0);
  // Gone, or a zombie that whoever adopted it has yet to reap.
  auto running = [&] {
    auto stat = read_file_if_exists(fmt::format("/proc/{}/stat", program));
    return stat && stat->find(") Z") == std::string::npos;
  };
  for (int i = 0; i < 500 && running(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_FALSE(running());
}

}  // namespace
}  // namespace gocrate
