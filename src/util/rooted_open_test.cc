#include "util/rooted_open.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cerrno>

#include "util/fs.h"

namespace gocrate {
namespace {

class RootedOpenTest : public ::testing::Test {
 protected:
  void SetUp() override {
    make_directories(work_.path() + "/root/etc");
    write_file_replace(work_.path() + "/root/etc/passwd", "inside\n");
    ASSERT_EQ(::symlink("/etc", (work_.path() + "/root/absolute").c_str()), 0);
    ASSERT_EQ(::symlink("../../../../../../..", (work_.path() + "/root/up").c_str()), 0);
    root_ = open_or_fail(work_.path() + "/root", O_RDONLY | O_DIRECTORY);
  }

  std::string read_through(std::string_view path, RootedResolve resolve) {
    UniqueFd fd(open_in_root(root_.get(), path, O_RDONLY, resolve));
    if (!fd) return "errno " + std::to_string(errno);
    char buffer[64];
    ssize_t n = ::read(fd.get(), buffer, sizeof buffer);
    return n < 0 ? "read failed" : std::string(buffer, static_cast<size_t>(n));
  }

  TempDir work_;
  UniqueFd root_;
};

TEST_F(RootedOpenTest, InRootResolvesSymlinksAsIfTheRootWereSlash) {
  EXPECT_EQ(read_through("/etc/passwd", RootedResolve::in_root), "inside\n");
  EXPECT_EQ(read_through("absolute/passwd", RootedResolve::in_root), "inside\n");
  EXPECT_EQ(read_through("up/etc/passwd", RootedResolve::in_root), "inside\n");
  EXPECT_EQ(read_through("../../etc/passwd", RootedResolve::in_root), "inside\n");
}

TEST_F(RootedOpenTest, StrictRefusesEverySymlink) {
  EXPECT_EQ(read_through("etc/passwd", RootedResolve::strict), "inside\n");
  EXPECT_EQ(read_through("absolute/passwd", RootedResolve::strict), "errno " + std::to_string(ELOOP));
  EXPECT_EQ(read_through("up/etc/passwd", RootedResolve::strict), "errno " + std::to_string(ELOOP));
}

}  // namespace
}  // namespace gocrate
