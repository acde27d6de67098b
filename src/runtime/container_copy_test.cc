#include "runtime/container_copy.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <functional>

#include "layer/tar_for_tests.h"
#include "runtime/container_file_verbs.h"
#include "util/byte_reader.h"
#include "util/error.h"
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
    copy_tree_path(in_container(from), on_host(to), follow, std::pair{::geteuid(), ::getegid()});
  }
  void in(const std::string& from, const std::string& to) {
    copy_tree_path(on_host(from), in_container(to), false, std::pair{0u, 0u});
  }
  // A chain of `depth` directories named "d" below `top` in the container.
  void deep_tree(const std::string& top, int depth) {
    make_directories(root_ + top);
    UniqueFd dir = open_or_fail(root_ + top, O_RDONLY | O_DIRECTORY);
    for (int i = 0; i < depth; ++i) {
      ASSERT_EQ(::mkdirat(dir.get(), "d", 0755), 0);
      dir = openat_or_fail(dir.get(), "d", O_RDONLY | O_DIRECTORY);
    }
    write_file_replace(fmt::format("/proc/self/fd/{}/bottom", dir.get()), "bottom\n");
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
    std::string error = error_of([&] {
      copy_archive_into(reader, in_container("/data"), std::pair{0u, 0u});
    });
    EXPECT_NE(error.find("is refused"), std::string::npos) << name << ": " << error;
  }
  std::string tar = tar_of({{"fresh/file", "x"}});
  StringReader reader(tar);
  copy_archive_into(reader, in_container("/escape-dir"), std::pair{0u, 0u});
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

// Passes a stream on in blocks of 512 bytes and, once the first `at` bytes
// are read, does `act` (what a container's process does meanwhile).
class SwappingReader : public ByteReader {
 public:
  SwappingReader(std::string data, size_t at, std::function<void()> act)
      : data_(std::move(data)), at_(at), act_(std::move(act)) {}
  size_t read(void* buffer, size_t size) override {
    if (offset_ >= at_ && act_) std::exchange(act_, nullptr)();
    size_t n = std::min({size, size_t{512}, data_.size() - offset_});
    std::memcpy(buffer, data_.data() + offset_, n);
    offset_ += n;
    return n;
  }

 private:
  std::string data_;
  size_t offset_ = 0;
  size_t at_;
  std::function<void()> act_;
};

TEST_F(CopyTest, ModeIsNeverSetThroughASymlinkSwappedInWhileAFileIsWritten) {
  struct stat before;
  ASSERT_EQ(::stat((canary_ + "/keep").c_str(), &before), 0);
  std::string data;
  TarWriter writer([&](std::string_view d) { data.append(d); });
  TarHeader f;
  f.path = "victim";
  f.mode = 04777;
  f.uid = 4321;
  f.gid = 4321;
  f.mtime = 1000;
  f.size = 4;
  writer.add(f, "evil");
  writer.finish();
  // While the body is read, the file is renamed away and a link to a host
  // file takes its name.
  SwappingReader reader(data, 512, [&] {
    ASSERT_EQ(::rename((root_ + "/data/victim").c_str(), (root_ + "/data/moved").c_str()), 0);
    symlink(canary_ + "/keep", root_ + "/data/victim");
  });
  copy_archive_into(reader, in_container("/data"), std::nullopt);
  struct stat after;
  ASSERT_EQ(::stat((canary_ + "/keep").c_str(), &after), 0);
  EXPECT_EQ(after.st_mode, before.st_mode);
  EXPECT_EQ(after.st_uid, before.st_uid);
  EXPECT_EQ(after.st_mtim.tv_sec, before.st_mtim.tv_sec);
  EXPECT_EQ(read_file(canary_ + "/keep"), "canary\n");
  struct stat moved;
  ASSERT_EQ(::stat((root_ + "/data/moved").c_str(), &moved), 0);
  EXPECT_EQ(moved.st_mode & 07777, 04777u);
  if (::geteuid() == 0) EXPECT_EQ(moved.st_uid, 4321u);
}

TEST_F(CopyTest, SpecialFilesGetTheirModeAndOwnerThemselves) {
  std::string data;
  TarWriter writer([&](std::string_view d) { data.append(d); });
  TarHeader fifo;
  fifo.path = "fifo";
  fifo.type = TarHeader::Type::fifo;
  fifo.mode = 0620;
  fifo.mtime = 1000;
  writer.add(fifo);
  TarHeader link;
  link.path = "link";
  link.type = TarHeader::Type::symlink;
  link.link_target = canary_ + "/keep";
  link.mode = 0777;
  link.mtime = 1000;
  writer.add(link);
  writer.finish();
  StringReader reader(data);
  copy_archive_into(reader, in_container("/data"), std::pair{::geteuid(), ::getegid()});
  struct stat st;
  ASSERT_EQ(::lstat((root_ + "/data/fifo").c_str(), &st), 0);
  EXPECT_TRUE(S_ISFIFO(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0620u);
  EXPECT_EQ(st.st_mtim.tv_sec, 1000);
  ASSERT_EQ(::lstat((root_ + "/data/link").c_str(), &st), 0);
  EXPECT_TRUE(S_ISLNK(st.st_mode));
  EXPECT_EQ(st.st_mtim.tv_sec, 1000);
  // The link's target keeps its own mode and time.
  ASSERT_EQ(::stat((canary_ + "/keep").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0644u);
  EXPECT_NE(st.st_mtim.tv_sec, 1000);
}

TEST_F(CopyTest, TheErrorThatStoppedTheCopyIsTheOneShown) {
  // A file bigger than a socket's buffer, whose name is a directory with
  // something in it at the destination: the reader gives up first.
  make_directories(host_ + "/payload");
  write_file_replace(host_ + "/payload/big", std::string(8 << 20, 'x'));
  make_directories(root_ + "/data/payload/big");
  write_file_replace(root_ + "/data/payload/big/inside", "i");
  std::string error = error_of([&] { in("/payload", "/data"); });
  EXPECT_NE(error.find("would replace a directory that is not empty"), std::string::npos) << error;
}

TEST_F(CopyTest, ADeepTreeIsCopiedOutAndArchived) {
  deep_tree("/deep", 1000);
  out("/deep", "/deep");
  std::string bottom = host_ + "/deep";
  for (int i = 0; i < 1000; ++i) bottom += "/d";
  EXPECT_EQ(read_file_if_exists(bottom + "/bottom").value_or("<missing>"), "bottom\n");
  size_t entries = 0;
  std::string tar;
  TarWriter writer([&](std::string_view d) { tar.append(d); });
  copy_tree_path_to_archive(in_container("/deep"), false, writer);
  StringReader reader(tar);
  TarReader read(reader, "the archive");
  TarHeader h;
  while (read.next(h)) ++entries;
  EXPECT_EQ(entries, 1002u);  // deep, 1000 directories, the file
}

TEST_F(CopyTest, AFailedCopyToTheHostLeavesNothingBehind) {
  // Deeper than a path on the host can reach: the copy fails part way.
  deep_tree("/deeper", 2100);
  std::string error = error_of([&] { out("/deeper", "/partial"); });
  EXPECT_FALSE(error.empty());
  EXPECT_FALSE(path_exists(host_ + "/partial")) << error;
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
