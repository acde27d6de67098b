#include "runtime/supervision/cid_file.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include "util/error_for_tests.h"
#include "util/fs.h"

namespace gocrate {
namespace {

TEST(CidFile, WritesTheIdIntoANewFile) {
  TempDir dir;
  std::string path = dir.path() + "/cid";
  {
    CidFile file = CidFile::create(path);
    EXPECT_EQ(read_file(path), "");  // there before the container is made
    file.write("abc123");
  }
  EXPECT_EQ(read_file(path), "abc123");
}

TEST(CidFile, RefusesAnExistingFileOrLinkAsDockerDoes) {
  TempDir dir;
  std::string path = dir.path() + "/cid";
  write_file_replace(path, "old");
  EXPECT_EQ(error_of([&] { CidFile::create(path); }),
            "Container ID file found, make sure the other container isn't running or delete " + path);
  EXPECT_EQ(read_file(path), "old");
  std::string target = dir.path() + "/target";
  ASSERT_EQ(::symlink(target.c_str(), (dir.path() + "/link").c_str()), 0);
  EXPECT_NE(error_of([&] { CidFile::create(dir.path() + "/link"); }).find("Container ID file found"),
            std::string::npos);
  EXPECT_FALSE(path_exists(target));  // a dangling link is not followed
  EXPECT_NE(error_of([&] { CidFile::create(dir.path() + "/no/such/dir/cid"); }).find("--cidfile"),
            std::string::npos);
}

TEST(CidFile, IsRemovedWhenNoContainerWasMade) {
  TempDir dir;
  std::string path = dir.path() + "/cid";
  { CidFile file = CidFile::create(path); }
  EXPECT_FALSE(path_exists(path));
  CidFile none = CidFile::create("");
  none.write("x");  // no file asked for
}

}  // namespace
}  // namespace gocrate
