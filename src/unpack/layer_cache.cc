#include "unpack/layer_cache.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image/media_types.h"
#include "unpack/layer_extractor.h"
#include "util/error.h"
#include "util/fs.h"

namespace gocrate {

namespace {

constexpr std::string_view kRuntimeBaseName = "runtime-base-v2";

bool directory_exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// Temporary directories of unpacks that were killed (their lock is free).
void remove_stale_temps(const std::string& tmp_dir, const std::string& prefix) {
  DIR* dir = ::opendir(tmp_dir.c_str());
  if (!dir) return;
  std::vector<std::string> stale;
  while (dirent* entry = ::readdir(dir)) {
    if (std::string_view(entry->d_name).starts_with(prefix)) stale.push_back(entry->d_name);
  }
  ::closedir(dir);
  for (const auto& name : stale) remove_tree(tmp_dir + "/" + name);
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

std::string LayerCache::ensure(BlobSource& source, const Descriptor& layer) {
  std::string final_path = path_of(layer.digest);
  if (directory_exists(final_path)) return final_path;
  make_directories(dir_ + "/sha256");
  make_directories(dir_ + "/tmp");
  make_directories(dir_ + "/locks");
  FileLock lock(dir_ + "/locks/" + layer.digest.hex + ".lock", FileLock::Mode::exclusive);
  if (directory_exists(final_path)) return final_path;  // another run unpacked it meanwhile
  remove_stale_temps(dir_ + "/tmp", layer.digest.hex + ".");
  TempDir temp(dir_ + "/tmp", layer.digest.hex + ".");
  unpack(source, layer, temp.path());
  publish(temp, final_path);
  return final_path;
}

void LayerCache::unpack(BlobSource& source, const Descriptor& layer, const std::string& into) {
  media_type::Compression compression;
  if (!media_type::layer_compression(layer.media_type, compression)) {
    fail("layer {} has media type {}, which is not an image layer gocrate can unpack", layer.digest.str(),
         layer.media_type);
  }
  auto blob = source.open_blob(layer);
  auto tar = decompressing_reader(*blob, compression, layer.digest.str());
  UniqueFd root = open_or_fail(into, O_RDONLY | O_DIRECTORY);
  extract_layer(*tar, root.get(), layer.digest.str());
  // The blob's digest is checked when its reader reaches the end.
  drain(*tar);
  drain(*blob);
}

std::string LayerCache::ensure_runtime_base() {
  std::string final_path = dir_ + "/" + std::string(kRuntimeBaseName);
  if (directory_exists(final_path)) return final_path;
  make_directories(dir_ + "/tmp");
  make_directories(dir_ + "/locks");
  FileLock lock(dir_ + "/locks/" + std::string(kRuntimeBaseName) + ".lock", FileLock::Mode::exclusive);
  if (directory_exists(final_path)) return final_path;
  remove_stale_temps(dir_ + "/tmp", std::string(kRuntimeBaseName) + ".");
  TempDir temp(dir_ + "/tmp", std::string(kRuntimeBaseName) + ".");
  for (auto [name, mode] : {std::pair{"proc", 0555}, {"dev", 0755}, {"sys", 0555}, {"etc", 0755}}) {
    std::string path = temp.path() + "/" + name;
    if (::mkdir(path.c_str(), mode) != 0 || ::chmod(path.c_str(), mode) != 0) {
      fail_errno(fmt::format("cannot create {}", path));
    }
  }
  // The mount point of the generated /etc/resolv.conf, also in read-only
  // containers of images without one.
  write_file_replace(temp.path() + "/etc/resolv.conf", "", 0644);
  publish(temp, final_path);
  return final_path;
}

std::vector<std::string> image_lower_dirs(LayerCache& cache, BlobSource& source,
                                          const std::vector<Descriptor>& layers) {
  std::vector<std::string> dirs;
  for (auto it = layers.rbegin(); it != layers.rend(); ++it) dirs.push_back(cache.ensure(source, *it));
  dirs.push_back(cache.ensure_runtime_base());
  return dirs;
}

}  // namespace gocrate
