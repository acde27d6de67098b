#include "util/fs.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <vector>

#include "util/error.h"
#include "util/writer_process_for_tests.h"

namespace gocrate {
namespace {

std::vector<std::string> names_in(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) names.push_back(entry.path().filename());
  std::sort(names.begin(), names.end());
  return names;
}

class HeldEntriesTest : public ::testing::Test {
 protected:
  TempDir work_;
  std::string parent() const { return work_.path(); }
};

TEST(FileLocks, ExclusiveLockShowsAsHeldAndKeepsOthersOut) {
  TempDir work;
  UniqueFd holder = open_or_fail(work.path(), O_RDONLY | O_DIRECTORY);
  UniqueFd other = open_or_fail(work.path(), O_RDONLY | O_DIRECTORY);
  EXPECT_FALSE(is_file_locked(other.get()));
  lock_file(holder.get(), LockMode::exclusive, "the directory");
  EXPECT_TRUE(is_file_locked(other.get()));
  EXPECT_FALSE(try_lock_file(other.get(), LockMode::shared, "the directory"));
  holder.reset();
  EXPECT_FALSE(is_file_locked(other.get()));
  EXPECT_TRUE(try_lock_file(other.get(), LockMode::exclusive, "the directory"));
}

TEST_F(HeldEntriesTest, HeldDirectoryHasALockFileBesideItAndLeavesNothing) {
  std::string path;
  {
    TempDir dir = TempDir::held(parent(), "scratch-");
    path = dir.path();
    EXPECT_EQ(dir_name(path), parent());
    EXPECT_TRUE(base_name(path).starts_with("scratch-"));
    EXPECT_TRUE(is_directory(path));
    EXPECT_TRUE(path_exists(path + ".lock"));
    write_file_atomic(path + "/inside", "x");
    TempDir moved = std::move(dir);
    EXPECT_EQ(moved.path(), path);
    remove_unheld_entries(parent());
    EXPECT_TRUE(path_exists(path + "/inside"));
  }
  EXPECT_FALSE(path_exists(path));
  EXPECT_TRUE(names_in(parent()).empty());
}

TEST_F(HeldEntriesTest, HeldEntriesSurviveACleanupFromAnotherProcess) {
  WriterProcess writer([&](WriterProcess::Child& child) {
    TempDir dir = TempDir::held(parent(), "scratch-");
    write_file_atomic(dir.path() + "/work", "in progress");
    HeldFile file = create_held_file(parent());
    write_all(file.fd.get(), "half a blob", file.path);
    child.ready(dir.path());
    ::unlink(file.path.c_str());
  });
  ASSERT_FALSE(writer.path().empty());
  auto before = names_in(parent());
  ASSERT_EQ(before.size(), 3u);  // the directory, its lock file and the file
  remove_unheld_entries(parent());
  EXPECT_EQ(names_in(parent()), before);
  EXPECT_EQ(read_file(writer.path() + "/work"), "in progress");
  EXPECT_EQ(writer.let_go(), 0);
  EXPECT_TRUE(names_in(parent()).empty());
}

TEST_F(HeldEntriesTest, EntriesOfAKilledWriterAreRemoved) {
  WriterProcess writer([&](WriterProcess::Child& child) {
    TempDir dir = TempDir::held(parent(), "scratch-");
    make_directories(dir.path() + "/deep/er");
    write_file_atomic(dir.path() + "/deep/er/file", "x");
    HeldFile file = create_held_file(parent());
    child.ready(dir.path());
  });
  ASSERT_FALSE(writer.path().empty());
  ASSERT_EQ(names_in(parent()).size(), 3u);
  writer.kill();
  ASSERT_EQ(names_in(parent()).size(), 3u);
  remove_unheld_entries(parent());
  EXPECT_TRUE(names_in(parent()).empty());
}

// What happens to a writer's pid does not matter. Here the writer is gone
// while its pid lives on, as a recycled pid would: the process replaced
// itself with another program, which closed the locked descriptors.
TEST_F(HeldEntriesTest, AWriterGoneWhileItsPidLivesIsGone) {
  WriterProcess writer([&](WriterProcess::Child& child) {
    auto* dir = new TempDir(TempDir::held(parent(), "scratch-"));
    auto* file = new HeldFile(create_held_file(parent()));
    write_all(file->fd.get(), "half a blob", file->path);
    child.report(dir->path());
    child.become_another_program();
  });
  ASSERT_FALSE(writer.path().empty());
  writer.read_line();  // the other program runs
  ASSERT_EQ(::kill(writer.pid(), 0), 0);
  ASSERT_NE(std::filesystem::read_symlink(fmt::format("/proc/{}/exe", writer.pid())),
            std::filesystem::read_symlink("/proc/self/exe"));
  ASSERT_EQ(names_in(parent()).size(), 3u);
  remove_unheld_entries(parent());
  EXPECT_TRUE(names_in(parent()).empty());
  EXPECT_EQ(::kill(writer.pid(), 0), 0);
}

TEST_F(HeldEntriesTest, LeftoversNobodyHoldsAreRemoved) {
  // As older versions left them: a directory without a lock file, a file
  // nobody locks, a lock file without its directory, a symbolic link.
  make_directories(parent() + "/1234-abcdef/sub");
  write_file_atomic(parent() + "/1234-abcdef/sub/file", "x");
  write_file_atomic(parent() + "/4321-0123456789abcdef", "half a blob");
  write_file_atomic(parent() + "/orphan.lock", "");
  ASSERT_EQ(::symlink("/", (parent() + "/link").c_str()), 0);
  TempDir live = TempDir::held(parent(), "live-");
  HeldFile live_file = create_held_file(parent(), "live-");
  remove_unheld_entries(parent());
  std::vector<std::string> expected{base_name(live.path()), base_name(live.path()) + ".lock",
                                    base_name(live_file.path)};
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(names_in(parent()), expected);
  remove_unheld_entries(parent() + "/missing");
}

// Writers and cleaners at once: between making an entry and locking it, a
// writer may see it removed, but never one it has been given.
TEST_F(HeldEntriesTest, CleanersRacingWritersNeverTakeAHeldEntry) {
  auto churn = [&](WriterProcess::Child& child) {
    child.report("started");
    for (int i = 0; i < 300; ++i) {
      TempDir dir = TempDir::held(parent(), "race-");
      HeldFile file = create_held_file(parent(), "race-");
      remove_unheld_entries(parent());
      if (!is_directory(dir.path()) || !path_exists(dir.path() + ".lock") || !path_exists(file.path)) {
        ::_exit(3);
      }
      ::unlink(file.path.c_str());
    }
  };
  std::vector<std::unique_ptr<WriterProcess>> writers;
  for (int i = 0; i < 4; ++i) writers.push_back(std::make_unique<WriterProcess>(churn));
  for (auto& writer : writers) EXPECT_EQ(writer->let_go(), 0);
  EXPECT_TRUE(names_in(parent()).empty());
}

}  // namespace
}  // namespace gocrate
