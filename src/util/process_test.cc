#include "util/process.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

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

}  // namespace
}  // namespace gocrate
