#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "layer/layer_writer.h"
#include "layer/tar.h"
#include "util/fs.h"

namespace gocrate {

// The files of one layer, kept sorted by path with every parent directory
// present, so that the tar written from them is the same whatever order they
// were added in. Owners, modes and times are fixed, never taken from the
// build machine: files are root-owned, 0755 if executable else 0644.
class LayerContents {
 public:
  // Paths are absolute image paths ("/app/hello"); ".." is refused.
  void add_directory(std::string_view path, uint32_t mode = 0755, uint32_t uid = 0, uint32_t gid = 0);
  void add_bytes(std::string_view path, std::string content, uint32_t mode = 0644);
  // Maps a file from the build machine; its content fingerprint identifies it.
  void add_file(std::string_view path, const std::string& host_path);
  // Adds a file already mapped, whose content `identity` names (a Go build
  // ID or a digest the caller computed).
  void add_mapped_file(std::string_view path, std::shared_ptr<MappedFile> file, std::string identity);
  void add_symlink(std::string_view path, std::string target);
  // Adds a host directory's files, directories and symlinks under `path`.
  void add_tree(std::string_view path, const std::string& host_dir);

  bool empty() const { return entries_.empty(); }
  // A digest of everything that decides the layer's bytes (with the time and
  // compression chosen), for the build cache.
  std::string cache_key(int64_t mtime, const CompressionSettings& compression) const;
  LayerDigests write(LayerWriter& writer, int64_t mtime) const;

  // "/app//x/" -> "app/x"; throws on "..".
  static std::string normalize_path(std::string_view path);

 private:
  struct Entry {
    TarHeader header;
    std::string content;
    std::shared_ptr<MappedFile> file;
    std::string identity;
  };
  void add_parents(const std::string& path);
  std::map<std::string, Entry> entries_;
};

}  // namespace gocrate
