#include "unpack/rootfs_copy.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "util/fs.h"

namespace gocrate {
namespace {

TEST(RootfsCopy, MergesLayersApplyingWhiteoutsAndOpaqueDirectories) {
  if (::geteuid() != 0) GTEST_SKIP() << "overlay whiteouts (0:0 devices, trusted xattrs) need root";
  TempDir work;
  std::string lower = work.path() + "/lower", upper = work.path() + "/upper", dest = work.path() + "/dest";
  for (const auto& d : {lower + "/etc", lower + "/var/cache", upper + "/etc", upper + "/var/cache", dest}) {
    make_directories(d);
  }
  write_file_atomic(lower + "/etc/passwd", "lower");
  write_file_atomic(lower + "/etc/gone", "lower");
  write_file_atomic(lower + "/var/cache/old", "lower");
  write_file_atomic(upper + "/etc/passwd", "upper");
  write_file_atomic(upper + "/var/cache/new", "upper");
  ASSERT_EQ(::mknod((upper + "/etc/gone").c_str(), S_IFCHR, makedev(0, 0)), 0);
  ASSERT_EQ(::setxattr((upper + "/var/cache").c_str(), "trusted.overlay.opaque", "y", 1, 0), 0);
  ASSERT_EQ(::symlink("passwd", (upper + "/etc/link").c_str()), 0);

  copy_layers({upper, lower}, dest);
  EXPECT_EQ(read_file(dest + "/etc/passwd"), "upper");
  EXPECT_FALSE(path_exists(dest + "/etc/gone"));
  EXPECT_FALSE(path_exists(dest + "/var/cache/old"));
  EXPECT_EQ(read_file(dest + "/var/cache/new"), "upper");
  EXPECT_EQ(read_file(dest + "/etc/link"), "upper");
  struct stat st;
  ASSERT_EQ(::lstat((dest + "/etc/link").c_str(), &st), 0);
  EXPECT_TRUE(S_ISLNK(st.st_mode));
}

TEST(RootfsCopy, MethodCanBeForced) {
  TempDir work;
  ::setenv("GOCRATE_ROOTFS", "copy", 1);
  EXPECT_EQ(rootfs_method(work.path()), RootfsMethod::copy);
  ::setenv("GOCRATE_ROOTFS", "overlay", 1);
  EXPECT_EQ(rootfs_method(work.path()), RootfsMethod::overlay);
  ::unsetenv("GOCRATE_ROOTFS");
}

TEST(RootfsCopy, ProbesOverlayOnceAndRemembers) {
  if (::geteuid() != 0) GTEST_SKIP() << "mounting an overlay needs root";
  TempDir work;
  RootfsMethod first = rootfs_method(work.path());
  auto recorded = read_file(work.path() + "/overlay-check");
  EXPECT_TRUE(recorded.starts_with("ok") || recorded.starts_with("unsupported")) << recorded;
  EXPECT_EQ(first == RootfsMethod::overlay, recorded.starts_with("ok"));
  EXPECT_EQ(rootfs_method(work.path()), first);
  std::printf("overlayfs on this test directory: %s", recorded.c_str());
}

}  // namespace
}  // namespace gocrate
