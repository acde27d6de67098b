#include "unpack/layer_cache.h"

#include <dirent.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image/media_types.h"
#include "layer/tar.h"
#include "store/oci_layout.h"
#include "util/error.h"
#include "util/fs.h"

namespace gocrate {
namespace {

std::string tar_of(const std::vector<std::pair<std::string, std::string>>& files) {
  std::string out;
  TarWriter writer([&](std::string_view d) { out.append(d); });
  for (const auto& [path, content] : files) {
    TarHeader h;
    h.path = path;
    h.size = static_cast<int64_t>(content.size());
    h.mode = 0755;
    writer.add(h, content);
  }
  writer.finish();
  return out;
}

size_t entries_in(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (!d) return 0;
  size_t n = 0;
  while (dirent* e = ::readdir(d))
    n += std::string_view(e->d_name) != "." && std::string_view(e->d_name) != "..";
  ::closedir(d);
  return n;
}

class LayerCacheTest : public ::testing::Test {
 protected:
  TempDir work_;
  OciLayout layout_{work_.path() + "/layout", true};
  LayerCache cache_{work_.path() + "/layers"};
};

TEST_F(LayerCacheTest, UnpacksOnceAndNeverRereadsTheBlob) {
  Descriptor layer =
      layout_.write_blob(tar_of({{"app/hello", "binary"}}), std::string(media_type::oci_layer_tar));
  std::string dir = cache_.ensure(layout_, layer);
  EXPECT_EQ(dir, cache_.path_of(layer.digest));
  EXPECT_EQ(read_file(dir + "/app/hello"), "binary");
  struct stat first;
  ASSERT_EQ(::stat(dir.c_str(), &first), 0);
  EXPECT_EQ(first.st_mode & 07777, 0755u);
  // With the blob gone, only the cache can answer.
  ASSERT_EQ(::unlink(layout_.blob_path(layer.digest).c_str()), 0);
  EXPECT_EQ(cache_.ensure(layout_, layer), dir);
  struct stat second;
  ASSERT_EQ(::stat(dir.c_str(), &second), 0);
  EXPECT_EQ(first.st_ino, second.st_ino);
  EXPECT_EQ(entries_in(work_.path() + "/layers/tmp"), 0u);
}

TEST_F(LayerCacheTest, LowerDirectoriesAreTopmostFirstWithTheRuntimeBaseLast) {
  Descriptor bottom = layout_.write_blob(tar_of({{"a", "1"}}), std::string(media_type::oci_layer_tar));
  Descriptor top = layout_.write_blob(tar_of({{"b", "2"}}), std::string(media_type::oci_layer_tar));
  auto dirs = image_lower_dirs(cache_, layout_, {bottom, top});
  ASSERT_EQ(dirs.size(), 3u);
  EXPECT_EQ(dirs[0], cache_.path_of(top.digest));
  EXPECT_EQ(dirs[1], cache_.path_of(bottom.digest));
  for (auto mount_point : {"/proc", "/dev", "/sys"})
    EXPECT_TRUE(is_directory(dirs[2] + mount_point)) << mount_point;
}

TEST_F(LayerCacheTest, ARefusedLayerLeavesNothing) {
  std::string tar;
  TarWriter writer([&](std::string_view d) { tar.append(d); });
  TarHeader evil;
  evil.path = "../escape";
  evil.size = 1;
  writer.add(evil, "x");
  writer.finish();
  Descriptor layer = layout_.write_blob(tar, std::string(media_type::oci_layer_tar));
  EXPECT_THROW(cache_.ensure(layout_, layer), Error);
  EXPECT_FALSE(path_exists(cache_.path_of(layer.digest)));
  EXPECT_EQ(entries_in(work_.path() + "/layers/tmp"), 0u);
  EXPECT_FALSE(path_exists(work_.path() + "/layers/escape"));
}

TEST_F(LayerCacheTest, ACorruptBlobIsNotCached) {
  Descriptor layer = layout_.write_blob(tar_of({{"f", "content"}}), std::string(media_type::oci_layer_tar));
  std::string blob = read_file(layout_.blob_path(layer.digest));
  blob[blob.find("content")] = 'C';
  ::chmod(layout_.blob_path(layer.digest).c_str(), 0644);
  write_file_atomic(layout_.blob_path(layer.digest), blob);
  try {
    cache_.ensure(layout_, layer);
    FAIL() << "a blob that does not match its digest was unpacked";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(layer.digest.str()), std::string::npos) << e.what();
  }
  EXPECT_FALSE(path_exists(cache_.path_of(layer.digest)));
}

}  // namespace
}  // namespace gocrate
