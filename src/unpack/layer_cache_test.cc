#include "unpack/layer_cache.h"

#include <dirent.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image/media_types.h"
#include "layer/compress.h"
#include "layer/tar_for_tests.h"
#include "store/oci_layout.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/writer_process_for_tests.h"

namespace gocrate {
namespace {

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

TEST_F(LayerCacheTest, AFileIsReadAsTheLayersStackIt) {
  if (::geteuid() != 0) GTEST_SKIP() << "whiteouts are device nodes and trusted xattrs: this needs root";
  auto layer = [&](std::vector<std::pair<std::string, std::string>> files) {
    return layout_.write_blob(tar_of(files), std::string(media_type::oci_layer_tar));
  };
  Descriptor base = layer({{"etc/passwd", "base\n"}, {"etc/group", "base\n"}});
  Descriptor changed = layer({{"etc/passwd", "changed\n"}});
  Descriptor deleted = layer({{"etc/.wh.passwd", ""}});
  Descriptor opaque = layer({{"etc/.wh..wh..opq", ""}, {"etc/hostname", "x\n"}});
  Descriptor unrelated = layer({{"app/hello", "binary"}});

  auto read = [&](std::vector<Descriptor> layers, const char* path) {
    return read_file_in_layers(image_lower_dirs(cache_, layout_, layers), path);
  };
  EXPECT_EQ(read({base}, "/etc/passwd"), "base\n");
  EXPECT_EQ(read({base, changed, unrelated}, "/etc/passwd"), "changed\n");
  EXPECT_EQ(read({base, changed}, "/etc/group"), "base\n");
  EXPECT_EQ(read({base, deleted}, "/etc/passwd"), std::nullopt);
  EXPECT_EQ(read({base, deleted}, "/etc/group"), "base\n");
  EXPECT_EQ(read({base, opaque}, "/etc/group"), std::nullopt);
  EXPECT_EQ(read({base, opaque, changed}, "/etc/passwd"), "changed\n");
  EXPECT_EQ(read({unrelated}, "/etc/passwd"), std::nullopt);
  // Never out of the layers: a symbolic link is not followed.
  Descriptor link_layer = layout_.write_blob(
      [] {
        std::string out;
        TarWriter writer([&](std::string_view data) { out.append(data); });
        TarHeader header;
        header.path = "etc/passwd";
        header.type = TarHeader::Type::symlink;
        header.link_target = "/proc/self/environ";
        writer.add(header, "");
        writer.finish();
        return out;
      }(),
      std::string(media_type::oci_layer_tar));
  EXPECT_EQ(read({base, link_layer}, "/etc/passwd"), std::nullopt);
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

// An unpack (or an overlay probe) under way in another process keeps its
// directory through the next unpack's cleanup; a killed one's is removed.
TEST_F(LayerCacheTest, TheNextUnpackRemovesOnlyTheTemporariesOfKilledRuns) {
  std::string tmp = work_.path() + "/layers/tmp";
  make_directories(tmp);
  auto hold = [&](std::string prefix) {
    return std::make_unique<WriterProcess>([tmp, prefix](WriterProcess::Child& child) {
      TempDir dir = TempDir::held(tmp, prefix);
      write_file_atomic(dir.path() + "/half", "unpacked");
      child.ready(dir.path());
    });
  };
  Descriptor other = layout_.write_blob(tar_of({{"o", "1"}}), std::string(media_type::oci_layer_tar));
  Descriptor layer = layout_.write_blob(tar_of({{"f", "2"}}), std::string(media_type::oci_layer_tar));
  auto live_unpack = hold(other.digest.hex + ".");
  auto live_probe = hold("overlay-probe.");
  auto killed_unpack = hold(layer.digest.hex + ".");
  auto killed_probe = hold("overlay-probe.");
  killed_unpack->kill();
  killed_probe->kill();
  ASSERT_EQ(entries_in(tmp), 8u);
  cache_.ensure(layout_, layer);
  EXPECT_EQ(entries_in(tmp), 4u);
  EXPECT_EQ(read_file(live_unpack->path() + "/half"), "unpacked");
  EXPECT_EQ(read_file(live_probe->path() + "/half"), "unpacked");
  EXPECT_FALSE(path_exists(killed_unpack->path()));
  EXPECT_FALSE(path_exists(killed_probe->path()));
  EXPECT_EQ(live_unpack->let_go(), 0);
  EXPECT_EQ(live_probe->let_go(), 0);
  EXPECT_EQ(entries_in(tmp), 0u);
}

class LayerCacheDiffIdTest : public ::testing::Test {
 protected:
  TempDir work_;
  OciLayout layout_{work_.path() + "/layout", true};
  LayerCache cache_{work_.path() + "/layers"};
  std::string real_ = tar_of("app/hello", "the real program");
  std::string swapped_ = tar_of("app/hello", "something else entirely");
};

TEST_F(LayerCacheDiffIdTest, ALayerThatHashesToItsDiffIdIsUnpacked) {
  for (auto algorithm : {media_type::Compression::none, media_type::Compression::gzip}) {
    std::string blob = compress_chunk(real_, {algorithm, 1});
    Descriptor layer = layout_.write_blob(blob, algorithm == media_type::Compression::gzip
                                                    ? std::string(media_type::oci_layer_gzip)
                                                    : std::string(media_type::oci_layer_tar));
    std::string dir = cache_.ensure(layout_, layer, Digest::of(real_), "hello:latest");
    EXPECT_EQ(read_file(dir + "/app/hello"), "the real program");
  }
}

TEST_F(LayerCacheDiffIdTest, ASwappedLayerIsRefusedAndItsPartialDirectoryRemoved) {
  std::string blob = compress_chunk(swapped_, {media_type::Compression::gzip, 1});
  Descriptor layer = layout_.write_blob(blob, std::string(media_type::oci_layer_gzip));
  std::string message;
  try {
    cache_.ensure(layout_, layer, Digest::of(real_), "hello:latest");
  } catch (const Error& e) {
    message = e.what();
  }
  for (const auto& part :
       {layer.digest.str(), Digest::of(real_).str(), Digest::of(swapped_).str(), std::string("hello:latest")})
    EXPECT_NE(message.find(part), std::string::npos) << part << " not in: " << message;
  EXPECT_FALSE(path_exists(cache_.path_of(layer.digest)));
  EXPECT_EQ(entries_in(work_.path() + "/layers/tmp"), 0u);
}

TEST_F(LayerCacheDiffIdTest, LowerDirectoriesCheckEachLayerAgainstItsOwnDiffId) {
  Descriptor bottom = layout_.write_blob(tar_of("a", "1"), std::string(media_type::oci_layer_tar));
  Descriptor top = layout_.write_blob(real_, std::string(media_type::oci_layer_tar));
  auto dirs = image_lower_dirs(cache_, layout_, {bottom, top},
                               {Digest::of(tar_of("a", "1")), Digest::of(real_)}, "hello:latest");
  ASSERT_EQ(dirs.size(), 3u);
  EXPECT_EQ(dirs[0], cache_.path_of(top.digest));
  Descriptor other = layout_.write_blob(swapped_, std::string(media_type::oci_layer_tar));
  EXPECT_THROW(image_lower_dirs(cache_, layout_, {bottom, other},
                                {Digest::of(tar_of("a", "1")), Digest::of(real_)}, "evil:v1"),
               Error);
  EXPECT_FALSE(path_exists(cache_.path_of(other.digest)));
  EXPECT_THROW(image_lower_dirs(cache_, layout_, {bottom, top}, {Digest::of(real_)}, "short:v1"), Error);
}

}  // namespace
}  // namespace gocrate
