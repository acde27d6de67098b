#include "gobuild/layer_contents.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/error.h"
#include "util/sha256.h"
#include "util/strings.h"

namespace gocrate {

std::string LayerContents::normalize_path(std::string_view path) {
  std::vector<std::string> parts;
  for (const auto& part : split(path, '/')) {
    if (part.empty() || part == ".") continue;
    if (part == "..") fail("image path {} must not contain \"..\"", path);
    parts.push_back(part);
  }
  if (parts.empty()) fail("image path \"{}\" names the root directory; give a file path", path);
  return join(parts, "/");
}

void LayerContents::add_parents(const std::string& path) {
  for (auto slash = path.find('/'); slash != std::string::npos; slash = path.find('/', slash + 1)) {
    std::string parent = path.substr(0, slash);
    if (!entries_.contains(parent)) {
      Entry e;
      e.header.path = parent;
      e.header.type = TarHeader::Type::directory;
      e.header.mode = 0755;
      entries_[parent] = std::move(e);
    }
  }
}

void LayerContents::add_directory(std::string_view path, uint32_t mode, uint32_t uid, uint32_t gid) {
  std::string p = normalize_path(path);
  add_parents(p);
  Entry e;
  e.header.path = p;
  e.header.type = TarHeader::Type::directory;
  e.header.mode = mode;
  e.header.uid = uid;
  e.header.gid = gid;
  entries_[p] = std::move(e);
}

void LayerContents::add_bytes(std::string_view path, std::string content, uint32_t mode) {
  std::string p = normalize_path(path);
  add_parents(p);
  Entry e;
  e.header.path = p;
  e.header.mode = mode;
  e.header.size = static_cast<int64_t>(content.size());
  e.identity = sha256_hex(content);
  e.content = std::move(content);
  entries_[p] = std::move(e);
}

void LayerContents::add_file(std::string_view path, const std::string& host_path) {
  auto file = std::make_shared<MappedFile>(host_path);
  std::string identity = content_fingerprint(file->data());
  add_mapped_file(path, std::move(file), std::move(identity));
}

void LayerContents::add_mapped_file(std::string_view path, std::shared_ptr<MappedFile> file,
                                    std::string identity) {
  std::string p = normalize_path(path);
  add_parents(p);
  Entry e;
  e.header.path = p;
  e.header.mode = (file->mode() & 0111) ? 0755 : 0644;
  e.header.size = static_cast<int64_t>(file->size());
  e.identity = std::move(identity);
  e.file = std::move(file);
  entries_[p] = std::move(e);
}

void LayerContents::add_symlink(std::string_view path, std::string target) {
  std::string p = normalize_path(path);
  add_parents(p);
  Entry e;
  e.header.path = p;
  e.header.type = TarHeader::Type::symlink;
  e.header.mode = 0777;
  e.header.link_target = std::move(target);
  entries_[p] = std::move(e);
}

void LayerContents::add_tree(std::string_view path, const std::string& host_dir) {
  std::string base = normalize_path(path);
  add_directory(base);
  DIR* dir = ::opendir(host_dir.c_str());
  if (!dir) fail_errno(fmt::format("cannot read directory {}", host_dir));
  std::vector<std::string> names;
  while (dirent* entry = ::readdir(dir)) {
    std::string name = entry->d_name;
    if (name != "." && name != "..") names.push_back(name);
  }
  ::closedir(dir);
  for (const auto& name : names) {
    std::string host = host_dir + "/" + name;
    std::string image = base + "/" + name;
    struct stat st;
    if (::lstat(host.c_str(), &st) != 0) fail_errno(fmt::format("cannot read {}", host));
    if (S_ISDIR(st.st_mode)) {
      add_tree(image, host);
    } else if (S_ISREG(st.st_mode)) {
      add_file(image, host);
    } else if (S_ISLNK(st.st_mode)) {
      char target[4096];
      ssize_t n = ::readlink(host.c_str(), target, sizeof target);
      if (n < 0) fail_errno(fmt::format("cannot read link {}", host));
      add_symlink(image, std::string(target, n));
    } else {
      fail("{} is neither a file, a directory nor a symlink: it cannot go into an image", host);
    }
  }
}

std::string LayerContents::cache_key(int64_t mtime, const CompressionSettings& compression) const {
  Sha256 hash;
  hash.update(
      fmt::format("layer-v1 {} {} {}\n", mtime, static_cast<int>(compression.algorithm), compression.level));
  for (const auto& [path, e] : entries_) {
    const TarHeader& h = e.header;
    hash.update(fmt::format("{} {} {:o} {} {} {} {} {}\n", path.size(), path, h.mode, h.uid, h.gid,
                            static_cast<int>(h.type), h.link_target, e.identity));
  }
  return hash.finish_hex();
}

LayerDigests LayerContents::write(LayerWriter& writer, int64_t mtime) const {
  for (const auto& [path, e] : entries_) {
    TarHeader header = e.header;
    header.mtime = mtime;
    if (e.file) {
      writer.tar().add(header, e.file->data());
    } else {
      writer.tar().add(header, e.content);
    }
  }
  return writer.finish();
}

}  // namespace gocrate
