#include "unpack/layer_extractor.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>

#include "layer/tar.h"
#include "util/error.h"
#include "util/fs.h"

namespace gocrate {
namespace {

using Entries = std::vector<std::pair<TarHeader, std::string>>;

TarHeader file(std::string path, std::string_view content, uint32_t mode = 0644) {
  TarHeader h;
  h.path = std::move(path);
  h.size = static_cast<int64_t>(content.size());
  h.mode = mode;
  return h;
}

TarHeader directory(std::string path, uint32_t mode = 0755) {
  TarHeader h;
  h.path = std::move(path);
  h.type = TarHeader::Type::directory;
  h.mode = mode;
  return h;
}

TarHeader link(std::string path, std::string target, TarHeader::Type type = TarHeader::Type::symlink) {
  TarHeader h;
  h.path = std::move(path);
  h.type = type;
  h.link_target = std::move(target);
  return h;
}

// A layer root with a sibling directory holding a file a hostile layer
// would like to reach.
class Extraction : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = work_.path() + "/root";
    outside_ = work_.path() + "/outside";
    make_directories(root_);
    make_directories(outside_);
    write_file_atomic(outside_ + "/secret", "original");
  }

  void extract(const Entries& entries) {
    std::string tar;
    TarWriter writer([&](std::string_view d) { tar.append(d); });
    for (const auto& [h, content] : entries) writer.add(h, content);
    writer.finish();
    StringReader in(tar);
    UniqueFd root = open_or_fail(root_, O_RDONLY | O_DIRECTORY);
    extract_layer(in, root.get(), "sha256:feed");
  }

  // Expects refusal naming the layer and the entry, and nothing outside.
  void expect_refused(const Entries& entries, const std::string& entry, const std::string& why) {
    try {
      extract(entries);
      FAIL() << "layer with " << entry << " was accepted";
    } catch (const Error& e) {
      std::string message = e.what();
      EXPECT_NE(message.find("sha256:feed"), std::string::npos) << message;
      EXPECT_NE(message.find("\"" + entry + "\""), std::string::npos) << message;
      EXPECT_NE(message.find(why), std::string::npos) << message;
    }
    EXPECT_EQ(read_file(outside_ + "/secret"), "original");
    EXPECT_FALSE(path_exists(outside_ + "/x"));
    EXPECT_FALSE(path_exists(work_.path() + "/x"));
  }

  TempDir work_;
  std::string root_;
  std::string outside_;
};

TEST_F(Extraction, UnpacksFilesDirectoriesLinksAndImplicitParents) {
  TarHeader owned = file("home/nonroot/data", "d", 0600);
  owned.uid = 65532;
  owned.gid = 65532;
  extract({{directory("app"), ""},
           {file("./app/hello", "binary", 0755), "binary"},
           {link("app/current", "hello"), ""},
           {link("app/abs", "/etc/passwd"), ""},
           {link("app/hard", "app/hello", TarHeader::Type::hardlink), ""},
           {owned, "d"},
           {directory("tmp", 01777), ""}});
  EXPECT_EQ(read_file(root_ + "/app/hello"), "binary");
  struct stat st;
  ASSERT_EQ(::stat((root_ + "/app/hello").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0755u);
  EXPECT_EQ(st.st_nlink, 2u);
  ASSERT_EQ(::stat((root_ + "/home/nonroot/data").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 65532u);
  ASSERT_EQ(::stat((root_ + "/home").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0755u);
  ASSERT_EQ(::stat((root_ + "/tmp").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 01777u);
  char target[64] = {};
  ASSERT_GT(::readlink((root_ + "/app/abs").c_str(), target, sizeof target), 0);
  EXPECT_STREQ(target, "/etc/passwd");
}

TEST_F(Extraction, LaterEntriesReplaceEarlierOnes) {
  extract({{file("a", "one"), "one"},
           {file("a", "two"), "two"},
           {link("b", "a"), ""},
           {file("b", "file"), "file"}});
  EXPECT_EQ(read_file(root_ + "/a"), "two");
  EXPECT_EQ(read_file(root_ + "/b"), "file");
}

TEST_F(Extraction, ConvertsWhiteoutsToOverlayForm) {
  extract({{directory("etc"), ""},
           {file("etc/.wh.gone", ""), ""},
           {directory("var"), ""},
           {file("var/.wh..wh..opq", ""), ""},
           {file("var/kept", "k"), "k"}});
  struct stat st;
  ASSERT_EQ(::lstat((root_ + "/etc/gone").c_str(), &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode));
  EXPECT_EQ(st.st_rdev, makedev(0, 0));
  EXPECT_FALSE(path_exists(root_ + "/etc/.wh.gone"));
  char value[8] = {};
  ASSERT_EQ(::getxattr((root_ + "/var").c_str(), "trusted.overlay.opaque", value, sizeof value), 1);
  EXPECT_EQ(value[0], 'y');
  EXPECT_FALSE(path_exists(root_ + "/var/.wh..wh..opq"));
  EXPECT_EQ(read_file(root_ + "/var/kept"), "k");
}

TEST_F(Extraction, AWhiteoutDoesNotHideTheLayersOwnEntry) {
  extract({{file("a", "mine"), "mine"}, {file(".wh.a", ""), ""}});
  EXPECT_EQ(read_file(root_ + "/a"), "mine");
}

TEST_F(Extraction, RefusesPathTraversal) {
  expect_refused({{file("../x", "evil"), "evil"}}, "../x", "contains a .. component");
  expect_refused({{file("a/../../x", "evil"), "evil"}}, "a/../../x", "contains a .. component");
}

TEST_F(Extraction, RefusesAbsoluteNames) {
  std::string target = work_.path() + "/x";
  expect_refused({{file(target, "evil"), "evil"}}, target, "absolute name");
}

TEST_F(Extraction, RefusesWritingThroughAnAbsoluteSymlink) {
  expect_refused({{link("escape", outside_), ""}, {file("escape/x", "evil"), "evil"}}, "escape/x",
                 "goes through a symlink");
  expect_refused({{link("escape2", outside_ + "/secret"), ""}, {file("escape2/y", "evil"), "evil"}},
                 "escape2/y", "goes through a symlink");
}

TEST_F(Extraction, RefusesWritingThroughARelativeSymlink) {
  expect_refused({{link("up", "../outside"), ""}, {file("up/x", "evil"), "evil"}}, "up/x",
                 "goes through a symlink");
  expect_refused({{directory("d"), ""}, {link("d/in", "."), ""}, {file("d/in/x", "v"), "v"}}, "d/in/x",
                 "goes through a symlink");
}

TEST_F(Extraction, ReplacingASymlinkNeverWritesThroughIt) {
  extract({{link("secret", outside_ + "/secret"), ""}, {file("secret", "evil"), "evil"}});
  EXPECT_EQ(read_file(root_ + "/secret"), "evil");
  EXPECT_EQ(read_file(outside_ + "/secret"), "original");
}

TEST_F(Extraction, RefusesHardlinksLeavingTheRoot) {
  expect_refused({{link("h", "../outside/secret", TarHeader::Type::hardlink), ""}}, "h",
                 "contains a .. component");
  expect_refused({{link("h2", outside_ + "/secret", TarHeader::Type::hardlink), ""}}, "h2", "absolute name");
  expect_refused({{link("out", outside_), ""}, {link("h3", "out/secret", TarHeader::Type::hardlink), ""}},
                 "h3", "goes through a symlink");
  expect_refused({{link("h4", "missing", TarHeader::Type::hardlink), ""}}, "h4", "not in the layer");
}

TEST_F(Extraction, RefusesBadWhiteouts) {
  expect_refused({{file("../.wh.secret", ""), ""}}, "../.wh.secret", "contains a .. component");
  expect_refused({{file(".wh..", ""), ""}}, ".wh..", "whiteout of no valid name");
  expect_refused({{file(".wh..wh..plnk", ""), ""}}, ".wh..wh..plnk", "unknown reserved whiteout");
  expect_refused({{directory(".wh.dir"), ""}}, ".wh.dir", "not a regular file");
  expect_refused({{link("l", outside_), ""}, {file("l/.wh.secret", ""), ""}}, "l/.wh.secret",
                 "goes through a symlink");
}

TarHeader device_node(std::string path, TarHeader::Type type, uint32_t major, uint32_t minor) {
  TarHeader h;
  h.path = std::move(path);
  h.type = type;
  h.mode = 06777;
  h.dev_major = major;
  h.dev_minor = minor;
  return h;
}

bool absent(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) != 0 && errno == ENOENT;
}

// What debootstrap and `docker import` layers carry: the nodes are left out
// wherever they are and whatever they name, and so are hardlinks to them.
TEST_F(Extraction, DeviceNodesAreNeverCreated) {
  extract({{directory("dev"), ""},
           {device_node("dev/null", TarHeader::Type::char_device, 1, 3), ""},
           {device_node("./dev/full", TarHeader::Type::char_device, 1, 7), ""},
           {device_node("dev/sda", TarHeader::Type::block_device, 8, 0), ""},
           {device_node("kmem", TarHeader::Type::char_device, 1, 2), ""},
           {device_node("deep/er/mem", TarHeader::Type::char_device, 1, 1), ""},
           {link("dev/mem-link", "kmem", TarHeader::Type::hardlink), ""},
           {link("dev/mem-link2", "dev/mem-link", TarHeader::Type::hardlink), ""},
           {file("dev/after", "x"), "x"}});
  for (auto path :
       {"dev/null", "dev/full", "dev/sda", "kmem", "deep/er/mem", "dev/mem-link", "dev/mem-link2"})
    EXPECT_TRUE(absent(root_ + "/" + path)) << path;
  EXPECT_TRUE(is_directory(root_ + "/deep/er"));
  EXPECT_EQ(read_file(root_ + "/dev/after"), "x");
}

TEST_F(Extraction, ADeviceNodeReplacesAnEarlierEntryAndALaterEntryReplacesIt) {
  extract({{file("a", "file"), "file"},
           {device_node("a", TarHeader::Type::char_device, 1, 2), ""},
           {device_node("b", TarHeader::Type::block_device, 8, 1), ""},
           {file("b", "mine"), "mine"},
           {link("b2", "b", TarHeader::Type::hardlink), ""},
           {link("c", "/etc/passwd"), ""},
           {device_node("c", TarHeader::Type::char_device, 1, 2), ""}});
  EXPECT_TRUE(absent(root_ + "/a"));
  EXPECT_EQ(read_file(root_ + "/b"), "mine");
  EXPECT_EQ(read_file(root_ + "/b2"), "mine");
  EXPECT_TRUE(absent(root_ + "/c"));
  expect_refused({{file("d", "dir"), "dir"},
                  {device_node("e", TarHeader::Type::char_device, 1, 2), ""},
                  {link("f", "e/x", TarHeader::Type::hardlink), ""}},
                 "f", "not in the layer");
}

TEST_F(Extraction, ADeviceNodeNeverGoesThroughASymlink) {
  expect_refused(
      {{link("escape", outside_), ""}, {device_node("escape/x", TarHeader::Type::char_device, 1, 3), ""}},
      "escape/x", "goes through a symlink");
  expect_refused({{device_node("../x", TarHeader::Type::char_device, 1, 3), ""}}, "../x",
                 "contains a .. component");
}

TEST_F(Extraction, RefusesOverlayAttributes) {
  TarHeader d = directory("d");
  d.xattrs["trusted.overlay.redirect"] = "/etc";
  expect_refused({{d, ""}}, "d", "overlay attribute");
}

}  // namespace
}  // namespace gocrate
