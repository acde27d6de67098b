#include "runtime/container_copy.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include "layer/tar_for_tests.h"
#include "runtime/container_file_verbs.h"
#include "util/byte_reader.h"
#include "util/error_for_tests.h"
#include "util/fs.h"

namespace gocrate {
namespace {

// A container root and a host directory, both in a temporary directory; the
// "host" side resolves from the real "/".
class CopyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = work_.path() + "/root";
    host_ = work_.path() + "/host";
    canary_ = work_.path() + "/canary";
    for (const auto& d : {root_ + "/etc", root_ + "/data/sub", host_, canary_}) make_directories(d);
    write_file_replace(root_ + "/etc/shadow", "container shadow\n");
    write_file_replace(root_ + "/data/a", "a\n");
    write_file_replace(root_ + "/data/sub/b", "b\n");
    write_file_replace(canary_ + "/keep", "canary\n");
    // Links that would leave the root if they were resolved on the host.
    symlink("/etc/shadow", root_ + "/shadow-link");
    symlink("../../../../../../../../etc/shadow", root_ + "/up-link");
    symlink(canary_, root_ + "/escape-dir");
    make_directories(root_ + canary_);  // where the link leads, taken inside the root
    root_fd_ = open_or_fail(root_, O_PATH | O_DIRECTORY);
    host_fd_ = open_or_fail("/", O_PATH | O_DIRECTORY);
  }
  void symlink(const std::string& target, const std::string& at) {
    ASSERT_EQ(::symlink(target.c_str(), at.c_str()), 0);
  }

  TreePath in_container(const std::string& path) { return {root_fd_.get(), path, true, "container test"}; }
  TreePath on_host(const std::string& path) { return {host_fd_.get(), host_ + path, false, "the host"}; }
  void out(const std::string& from, const std::string& to, bool follow = false) {
    copy_tree_path(in_container(from), on_host(to), follow, false, {::geteuid(), ::getegid()});
  }
  void in(const std::string& from, const std::string& to) {
    copy_tree_path(on_host(from), in_container(to), false, false, {0, 0});
  }
  std::string host_file(const std::string& p) { return read_file_if_exists(host_ + p).value_or("<missing>"); }
  bool host_is_symlink(const std::string& p) {
    struct stat st;
    return ::lstat((host_ + p).c_str(), &st) == 0 && S_ISLNK(st.st_mode);
  }

  TempDir work_;
  std::string root_, host_, canary_;
  UniqueFd root_fd_, host_fd_;
};

TEST_F(CopyTest, SymlinksResolveInsideTheContainerRoot) {
  out("/shadow-link", "/followed", true);
  EXPECT_EQ(host_file("/followed"), "container shadow\n");
  out("/up-link", "/up", true);
  EXPECT_EQ(host_file("/up"), "container shadow\n");
  out("/../../../../etc/shadow", "/dotdot");
  EXPECT_EQ(host_file("/dotdot"), "container shadow\n");
  // Without -L the link itself is copied, as it is.
  out("/shadow-link", "/as-link");
  EXPECT_TRUE(host_is_symlink("/as-link"));
}

TEST_F(CopyTest, CopyIntoASymlinkedDirectoryStaysInTheContainer) {
  write_file_replace(host_ + "/payload", "payload\n");
  in("/payload", "/escape-dir/");
  EXPECT_EQ(read_file(canary_ + "/keep"), "canary\n");
  EXPECT_FALSE(path_exists(canary_ + "/payload"));
  // The link's target, taken inside the root.
  EXPECT_EQ(read_file(root_ + canary_ + "/payload"), "payload\n");
}

TEST_F(CopyTest, DockersRulesForDirectoriesAndFiles) {
  out("/data", "/new");  // missing destination: becomes the copy
  EXPECT_EQ(host_file("/new/a"), "a\n");
  EXPECT_EQ(host_file("/new/sub/b"), "b\n");
  out("/data", "/new");  // an existing directory receives it by name
  EXPECT_EQ(host_file("/new/data/sub/b"), "b\n");
  make_directories(host_ + "/contents");
  out("/data/.", "/contents");  // SRC/. : the contents
  EXPECT_EQ(host_file("/contents/a"), "a\n");
  out("/etc/shadow", "/contents");  // a file into a directory
  EXPECT_EQ(host_file("/contents/shadow"), "container shadow\n");
  out("/etc/shadow", "/contents/a");  // over a file
  EXPECT_EQ(host_file("/contents/a"), "container shadow\n");
  EXPECT_NE(error_of([&] { out("/data", "/contents/a"); }).find("it is a file"), std::string::npos);
  EXPECT_NE(error_of([&] { out("/etc/shadow", "/missing/"); }).find("does not exist"), std::string::npos);
  EXPECT_NE(error_of([&] { out("/etc/shadow/", "/x"); }).find("is not a directory"), std::string::npos);
  EXPECT_NE(error_of([&] { out("/nothing", "/x"); }).find("does not exist"), std::string::npos);
}

TEST_F(CopyTest, ArchiveEntriesThatLeaveTheDestinationAreRefused) {
  for (const auto& name : {"../escaped", "/absolute", "a/../../escaped"}) {
    std::string tar = tar_of(name, "x");
    StringReader reader(tar);
    std::string error = error_of([&] { copy_archive_into(reader, in_container("/data"), false, {0, 0}); });
    EXPECT_NE(error.find("is refused"), std::string::npos) << name << ": " << error;
  }
  std::string tar = tar_of({{"fresh/file", "x"}});
  StringReader reader(tar);
  copy_archive_into(reader, in_container("/escape-dir"), false, {0, 0});
  EXPECT_EQ(read_file(root_ + canary_ + "/fresh/file"), "x");
  EXPECT_FALSE(path_exists(canary_ + "/fresh"));
}

TEST_F(CopyTest, HostSideNeverWritesThroughASymlinkInTheArchive) {
  // A tar that makes a link to the canary, then writes below it.
  std::string data;
  TarWriter writer([&](std::string_view d) { data.append(d); });
  TarHeader link;
  link.path = "link";
  link.type = TarHeader::Type::symlink;
  link.link_target = canary_;
  writer.add(link);
  TarHeader f;
  f.path = "link/planted";
  f.size = 1;
  writer.add(f, "x");
  writer.finish();
  StringReader reader(data);
  std::string error = error_of([&] { extract_archive(reader, "test", on_host(""), {}); });
  EXPECT_NE(error.find("goes through a symlink"), std::string::npos) << error;
  EXPECT_FALSE(path_exists(canary_ + "/planted"));
}

TEST(CpLocation, SplitsAsDocker) {
  auto l = parse_cp_location("web:/etc/passwd");
  EXPECT_EQ(l.container, "web");
  EXPECT_EQ(l.path, "/etc/passwd");
  EXPECT_EQ(parse_cp_location("web:etc").path, "/etc");
  EXPECT_EQ(parse_cp_location("web:../../etc/./shadow").path, "/etc/shadow");
  EXPECT_EQ(parse_cp_location("web:/data/.").path, "/data/.");
  EXPECT_EQ(parse_cp_location("web:data/").path, "/data/");
  EXPECT_EQ(parse_cp_location("web:").path, "/");
  EXPECT_EQ(parse_cp_location("/abs:olute").container, "");
  EXPECT_EQ(parse_cp_location("./file:name").container, "");
  EXPECT_EQ(parse_cp_location("plain").container, "");
  EXPECT_TRUE(parse_cp_location("-").stream);
}

}  // namespace
}  // namespace gocrate
