#include "unpack/layer_cache.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "image/media_types.h"
#include "layer/diff_id.h"
#include "runtime/containment/users.h"
#include "unpack/layer_extractor.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/strings.h"

namespace gocrate {

namespace {

constexpr std::string_view kRuntimeBaseName = "runtime-base-v3";

bool directory_exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// Makes `temp` appear as `final` in one step, after its content is durable.
void publish(const TempDir& temp, const std::string& final_path) {
  UniqueFd fd = open_or_fail(temp.path(), O_RDONLY | O_DIRECTORY);
  if (::chmod(temp.path().c_str(), 0755) != 0)
    fail_errno(fmt::format("cannot set the mode of {}", temp.path()));
  if (::syncfs(fd.get()) != 0) fail_errno(fmt::format("cannot flush {}", temp.path()));
  if (::rename(temp.path().c_str(), final_path.c_str()) != 0) {
    fail_errno(fmt::format("cannot move an unpacked layer to {}", final_path));
  }
  fsync_directory(dir_name(final_path));
}

}  // namespace

LayerCache::LayerCache(std::string dir) : dir_(std::move(dir)) {}

std::string LayerCache::path_of(const Digest& digest) const {
  return dir_ + "/sha256/" + digest.hex;
}

int LayerCache::remove_unused(const std::set<Digest>& live) {
  std::string unpacked = dir_ + "/sha256";
  std::vector<std::string> unused;
  if (DIR* d = ::opendir(unpacked.c_str())) {
    while (dirent* e = ::readdir(d)) {
      std::string name = e->d_name;
      if (name == "." || name == "..") continue;
      auto digest = Digest::try_parse("sha256:" + name);
      if (!digest || !live.contains(*digest)) unused.push_back(unpacked + "/" + name);
    }
    ::closedir(d);
  }
  for (const auto& path : unused) remove_tree(path);
  return static_cast<int>(unused.size());
}

std::string LayerCache::ensure(BlobSource& source, const Descriptor& layer,
                               const std::optional<Digest>& diff_id, std::string_view image) {
  std::string final_path = path_of(layer.digest);
  if (directory_exists(final_path)) return final_path;
  make_directories(dir_ + "/sha256");
  make_directories(dir_ + "/tmp");
  make_directories(dir_ + "/locks");
  FileLock lock(dir_ + "/locks/" + layer.digest.hex + ".lock", FileLock::Mode::exclusive);
  if (directory_exists(final_path)) return final_path;  // another run unpacked it meanwhile
  // Whatever unpacks that were killed left, of this layer or another.
  remove_unheld_entries(dir_ + "/tmp");
  TempDir temp = TempDir::held(dir_ + "/tmp", layer.digest.hex + ".");
  unpack(source, layer, temp.path(), diff_id, image);
  publish(temp, final_path);
  return final_path;
}

void LayerCache::unpack(BlobSource& source, const Descriptor& layer, const std::string& into,
                        const std::optional<Digest>& diff_id, std::string_view image) {
  media_type::Compression compression;
  if (!media_type::layer_compression(layer.media_type, compression)) {
    fail("layer {} has media type {}, which is not an image layer gocrate can unpack", layer.digest.str(),
         layer.media_type);
  }
  auto blob = source.open_blob(layer);
  LayerContentReader tar(*blob, layer);
  UniqueFd root = open_or_fail(into, O_RDONLY | O_DIRECTORY);
  extract_layer(tar, root.get(), layer.digest.str());
  // Reading to the end checks the blob against its digest, and hashes the
  // whole tar stream; before the rename, so a mismatch leaves nothing.
  Digest actual = tar.finish();
  if (diff_id) check_diff_id(layer.digest, *diff_id, actual, image.empty() ? "<unnamed>" : image);
}

std::string LayerCache::ensure_runtime_base() {
  std::string final_path = dir_ + "/" + std::string(kRuntimeBaseName);
  if (directory_exists(final_path)) return final_path;
  make_directories(dir_ + "/tmp");
  make_directories(dir_ + "/locks");
  FileLock lock(dir_ + "/locks/" + std::string(kRuntimeBaseName) + ".lock", FileLock::Mode::exclusive);
  if (directory_exists(final_path)) return final_path;
  remove_unheld_entries(dir_ + "/tmp");
  TempDir temp = TempDir::held(dir_ + "/tmp", std::string(kRuntimeBaseName) + ".");
  for (auto [name, mode] : {std::pair{"proc", 0555}, {"dev", 0755}, {"sys", 0555}, {"etc", 0755}}) {
    std::string path = temp.path() + "/" + name;
    if (::mkdir(path.c_str(), mode) != 0 || ::chmod(path.c_str(), mode) != 0) {
      fail_errno(fmt::format("cannot create {}", path));
    }
  }
  // The mount points of the generated /etc files, also in read-only
  // containers of images without them.
  for (auto name : {"hosts", "hostname", "resolv.conf"})
    write_file_replace(temp.path() + "/etc/" + name, "", 0644);
  publish(temp, final_path);
  return final_path;
}

std::vector<std::string> image_lower_dirs(LayerCache& cache, BlobSource& source,
                                          const std::vector<Descriptor>& layers,
                                          const std::vector<Digest>& diff_ids, std::string_view image) {
  if (!diff_ids.empty() && diff_ids.size() != layers.size()) {
    fail("image {} is inconsistent: its manifest lists {} layers but its config {}", image, layers.size(),
         diff_ids.size());
  }
  std::vector<std::string> dirs;
  for (size_t i = layers.size(); i-- > 0;) {
    std::optional<Digest> diff_id;
    if (!diff_ids.empty()) diff_id = diff_ids[i];
    dirs.push_back(cache.ensure(source, layers[i], diff_id, image));
  }
  dirs.push_back(cache.ensure_runtime_base());
  return dirs;
}

std::optional<std::string> read_file_in_layers(const std::vector<std::string>& lower_dirs,
                                               std::string_view path, std::string_view image) {
  std::vector<std::string> parts;
  for (const auto& part : split(path, '/')) {
    if (!part.empty() && part != ".") parts.push_back(part);
  }
  if (parts.empty()) return std::nullopt;
  for (const auto& layer : lower_dirs) {
    UniqueFd root(::open(layer.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!root) continue;
    std::string relative;
    bool hidden_below = false;  // an opaque directory on the way: lower layers do not show through
    for (size_t i = 0; i < parts.size(); ++i) {
      relative += (relative.empty() ? "" : "/") + parts[i];
      struct stat st;
      if (::fstatat(root.get(), relative.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) break;
      if (S_ISCHR(st.st_mode) && st.st_rdev == 0) return std::nullopt;  // a whiteout
      if (i + 1 == parts.size()) {
        if (!S_ISREG(st.st_mode)) return std::nullopt;
        try {
          return read_image_file(root.get(), path, image);
        } catch (const Error&) {
          return std::nullopt;
        }
      }
      if (!S_ISDIR(st.st_mode)) return std::nullopt;
      char opaque = 0;
      std::string full = layer + "/" + relative;
      if (::lgetxattr(full.c_str(), "trusted.overlay.opaque", &opaque, 1) == 1 && opaque == 'y')
        hidden_below = true;
    }
    if (hidden_below) return std::nullopt;
  }
  return std::nullopt;
}

}  // namespace gocrate
