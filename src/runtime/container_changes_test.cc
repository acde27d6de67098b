#include "runtime/container_changes.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "layer/tar.h"
#include "util/byte_reader.h"
#include "util/error.h"
#include "util/error_for_tests.h"
#include "util/fs.h"

namespace gocrate {
namespace {

class UpperLayerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "LOUD: overlay whiteouts (0:0 devices, trusted xattrs) need root";
    lower_ = work_.path() + "/lower";
    upper_ = work_.path() + "/upper";
    for (const auto& d : {"/etc", "/usr/bin", "/data", "/var/log"}) make_directories(lower_ + d);
    write_file_replace(lower_ + "/etc/passwd", "root\n");
    write_file_replace(lower_ + "/etc/group", "root\n");
    write_file_replace(lower_ + "/usr/bin/tool", "tool\n");
    write_file_replace(lower_ + "/data/old", "old\n");
    make_directories(upper_);
  }

  // A directory in the upper layer as overlay copies it up: same mode and
  // times as below.
  void copy_up(const std::string& dir) {
    make_directories(upper_ + dir);
    struct stat st;
    ASSERT_EQ(::stat((lower_ + dir).c_str(), &st), 0);
    ASSERT_EQ(::chmod((upper_ + dir).c_str(), st.st_mode & 07777), 0);
    timespec times[2] = {st.st_atim, st.st_mtim};
    ASSERT_EQ(::utimensat(AT_FDCWD, (upper_ + dir).c_str(), times, 0), 0);
  }
  void whiteout(const std::string& path) {
    ASSERT_EQ(::mknod((upper_ + path).c_str(), S_IFCHR | 0000, makedev(0, 0)), 0);
  }
  void opaque(const std::string& dir) {
    ASSERT_EQ(::setxattr((upper_ + dir).c_str(), "trusted.overlay.opaque", "y", 1, 0), 0);
  }
  std::string changes() {
    std::string out;
    for (const auto& c : upper_layer_changes(upper_, {lower_}))
      out += std::string(1, c.kind) + " " + c.path + "\n";
    return out;
  }

  TempDir work_;
  std::string lower_, upper_;
};

TEST_F(UpperLayerTest, ListsChangesAsDockerComparesTheTrees) {
  // /etc: a file changed in place (the directory copied up unchanged) and
  // one added, which changes the directory too.
  copy_up("/etc");
  write_file_replace(upper_ + "/etc/passwd", "root\nuser\n");
  write_file_replace(upper_ + "/etc/zz-new", "new\n");
  // /usr/bin/tool deleted: /usr and /usr/bin copied up unchanged.
  copy_up("/usr");
  copy_up("/usr/bin");
  whiteout("/usr/bin/tool");
  // A new directory with a file.
  make_directories(upper_ + "/new/sub");
  write_file_replace(upper_ + "/new/sub/file", "x");
  // A file at the root.
  write_file_replace(upper_ + "/top", "x");
  EXPECT_EQ(changes(),
            "C /etc\n"
            "C /etc/passwd\n"
            "A /etc/zz-new\n"
            "A /new\n"
            "A /new/sub\n"
            "A /new/sub/file\n"
            "A /top\n"
            "C /usr\n"
            "C /usr/bin\n"
            "D /usr/bin/tool\n");
}

TEST_F(UpperLayerTest, ChangedDirectoryComesBeforeWhatItHolds) {
  make_directories(upper_ + "/etc");  // a new mtime: changed
  write_file_replace(upper_ + "/etc/added", "x");
  whiteout("/etc/group");
  EXPECT_EQ(changes(), "C /etc\nA /etc/added\nD /etc/group\n");
}

TEST_F(UpperLayerTest, OpaqueDirectoryListsWhatItHidesAsDeleted) {
  make_directories(upper_ + "/data");
  opaque("/data");
  write_file_replace(upper_ + "/data/fresh", "x");
  make_directories(upper_ + "/brand-new");
  opaque("/brand-new");  // nothing below to hide: an addition
  EXPECT_EQ(changes(), "A /brand-new\nC /data\nA /data/fresh\nD /data/old\n");
}

TEST_F(UpperLayerTest, LowerSymlinksNeverLeadOutOfTheirLayer) {
  // The lower layer's /var/log is a symlink to an absolute host path that
  // exists; the upper's /var/log/x must not be found there.
  remove_tree(lower_ + "/var/log");
  make_directories(work_.path() + "/host/x");
  ASSERT_EQ(::symlink((work_.path() + "/host").c_str(), (lower_ + "/var/log").c_str()), 0);
  copy_up("/var");
  make_directories(upper_ + "/var/log");
  opaque("/var/log");
  write_file_replace(upper_ + "/var/log/x", "x");
  std::string out = changes();
  EXPECT_NE(out.find("A /var/log/x\n"), std::string::npos) << out;
}

std::vector<std::string> entry_names(const std::string& tar) {
  StringReader in(tar);
  TarReader reader(in, "test layer");
  std::vector<std::string> names;
  TarHeader h;
  while (reader.next(h)) names.push_back(h.path);
  return names;
}

TEST_F(UpperLayerTest, LayerHasOciWhiteoutsAndIsTheSameEveryTime) {
  copy_up("/usr");
  copy_up("/usr/bin");
  whiteout("/usr/bin/tool");
  make_directories(upper_ + "/data");
  opaque("/data");
  write_file_replace(upper_ + "/data/fresh", "fresh");
  ASSERT_EQ(::link((upper_ + "/data/fresh").c_str(), (upper_ + "/data/linked").c_str()), 0);
  auto layer = [&] {
    std::string out;
    TarWriter tar([&](std::string_view d) { out.append(d); });
    write_upper_layer(upper_, tar);
    tar.finish();
    return out;
  };
  std::string first = layer();
  EXPECT_EQ(first, layer());
  std::vector<std::string> expected = {"data", "data/.wh..wh..opq", "data/fresh",      "data/linked",
                                       "usr",  "usr/bin",           "usr/bin/.wh.tool"};
  EXPECT_EQ(entry_names(first), expected);
  StringReader in(first);
  TarReader reader(in, "test layer");
  TarHeader h;
  while (reader.next(h)) {
    if (h.path == "data/linked") {
      EXPECT_EQ(h.type, TarHeader::Type::hardlink);
      EXPECT_EQ(h.link_target, "data/fresh");
    }
  }
}

std::string layer_of(const std::string& upper) {
  std::string out;
  TarWriter tar([&](std::string_view d) { out.append(d); });
  write_upper_layer(upper, tar);
  tar.finish();
  return out;
}

TEST_F(UpperLayerTest, RedirectsAndMetacopiesAreRefusedNamingTheFile) {
  copy_up("/data");
  make_directories(upper_ + "/data/renamed");
  ASSERT_EQ(::setxattr((upper_ + "/data/renamed").c_str(), "trusted.overlay.redirect", "/data/was", 9, 0), 0);
  std::string error = error_of([&] { changes(); });
  EXPECT_NE(error.find(upper_ + "/data/renamed"), std::string::npos) << error;
  EXPECT_NE(error.find("trusted.overlay.redirect"), std::string::npos) << error;
  error = error_of([&] { layer_of(upper_); });
  EXPECT_NE(error.find(upper_ + "/data/renamed"), std::string::npos) << error;
  remove_tree(upper_ + "/data/renamed");

  write_file_replace(upper_ + "/data/old", "");
  ASSERT_EQ(::setxattr((upper_ + "/data/old").c_str(), "trusted.overlay.metacopy", "", 0, 0), 0);
  error = error_of([&] { changes(); });
  EXPECT_NE(error.find("trusted.overlay.metacopy"), std::string::npos) << error;
  error = error_of([&] { layer_of(upper_); });
  EXPECT_NE(error.find(upper_ + "/data/old"), std::string::npos) << error;
  EXPECT_EQ(error.find('\n'), std::string::npos) << error;
}

TEST_F(UpperLayerTest, AFifoSwappedInNeverBlocksTheLayer) {
  // A file of the upper layer and a FIFO outside it trade places over and
  // over while the layer is written; each time, the FIFO is opened for
  // writing and closed again, which releases a reader stuck on it (it then
  // reads nothing). Each layer must be written whole, or refused because a
  // FIFO took the file's place.
  write_file_replace(upper_ + "/x", "content");
  std::string fifo = work_.path() + "/fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0644), 0);
  std::atomic<bool> done = false;
  std::thread swapper([&] {
    bool fifo_inside = false;
    while (!done) {
      if (::renameat2(AT_FDCWD, (upper_ + "/x").c_str(), AT_FDCWD, fifo.c_str(), RENAME_EXCHANGE) != 0) break;
      fifo_inside = !fifo_inside;
      UniqueFd writer(
          ::open((fifo_inside ? upper_ + "/x" : fifo).c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC));
    }
  });
  for (int i = 0; i < 3000; ++i) {
    try {
      layer_of(upper_);
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("was replaced by a FIFO"), std::string::npos) << e.what();
    }
  }
  done = true;
  swapper.join();
}

TEST_F(UpperLayerTest, ADeepTreeIsCommitted) {
  UniqueFd dir = open_or_fail(upper_, O_RDONLY | O_DIRECTORY);
  for (int i = 0; i < 1000; ++i) {
    ASSERT_EQ(::mkdirat(dir.get(), "d", 0755), 0);
    dir = openat_or_fail(dir.get(), "d", O_RDONLY | O_DIRECTORY);
  }
  EXPECT_EQ(entry_names(layer_of(upper_)).size(), 1000u);
  EXPECT_EQ(changes().size(), 3u * 1000 + 2 * (1000 * 1001 / 2));  // "A /d/d...\n" for every level
}

}  // namespace
}  // namespace gocrate
