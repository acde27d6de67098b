#include "store/volumes.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <ctime>
#include <nlohmann/json.hpp>

#include "util/error.h"
#include "util/sha256.h"
#include "util/strings.h"

namespace gocrate {

using nlohmann::json;

namespace {

constexpr std::string_view kTempDir = ".tmp";  // not a valid volume name

std::optional<VolumeInfo> read_volume(const std::string& dir, const std::string& name) {
  std::string base = dir + "/" + name;
  if (!is_directory(base + "/_data")) return std::nullopt;
  VolumeInfo v;
  v.name = name;
  v.mountpoint = base + "/_data";
  if (auto text = read_file_if_exists(base + "/volume.json")) {
    try {
      json j = json::parse(*text);
      v.created_at = j.value("CreatedAt", "");
      v.labels = j.value("Labels", std::map<std::string, std::string>{});
    } catch (const json::exception&) {
      // A damaged description does not make the data unusable.
    }
  }
  return v;
}

bool same_file(int fd, const std::string& path) {
  struct stat a, b;
  return ::fstat(fd, &a) == 0 && ::stat(path.c_str(), &b) == 0 && a.st_dev == b.st_dev &&
         a.st_ino == b.st_ino;
}

// The volume's directory, locked (`mode`) and still in place; nullopt
// when there is no such volume.
std::optional<UniqueFd> open_locked(const std::string& dir, const std::string& name, LockMode mode) {
  std::string path = dir + "/" + name;
  for (;;) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd) {
      if (errno == ENOENT) return std::nullopt;
      fail_errno(fmt::format("cannot open volume {}", name));
    }
    lock_file(fd.get(), mode, "volume " + name);
    // Removed (renamed away) while this waited: look again.
    if (same_file(fd.get(), path)) return fd;
  }
}

}  // namespace

bool valid_volume_name(std::string_view name) {
  if (name.empty() || name.size() > 255 || !std::isalnum(static_cast<unsigned char>(name[0]))) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-';
  });
}

void check_volume_name(std::string_view name, std::string_view what) {
  if (valid_volume_name(name)) return;
  fail(
      "bad {}: \"{}\" includes invalid characters for a local volume name, only [a-zA-Z0-9][a-zA-Z0-9_.-] "
      "are allowed; to mount a host directory, give its absolute path",
      what, name);
}

std::string new_volume_name() {
  uint8_t bytes[32];
  if (::getrandom(bytes, sizeof bytes, 0) != sizeof bytes) fail_errno("cannot draw a random volume name");
  return to_hex(bytes, sizeof bytes);
}

std::string VolumeInfo::to_json_text(int indent) const {
  json j = {{"CreatedAt", created_at},  {"Driver", "local"}, {"Labels", labels},
            {"Mountpoint", mountpoint}, {"Name", name},      {"Options", json::object()},
            {"Scope", "local"}};
  return j.dump(indent);
}

VolumeStore::VolumeStore(const std::string& store_root) : dir_(store_root + "/volumes") {}

VolumeInfo VolumeStore::create(const std::string& name, const std::map<std::string, std::string>& labels) {
  check_volume_name(name, "volume name");
  if (auto existing = find(name)) return *existing;
  std::string temp_parent = dir_ + "/" + std::string(kTempDir);
  make_directories(temp_parent, 0700);
  remove_unheld_entries(temp_parent);
  TempDir temp = TempDir::held(temp_parent, "new-");
  std::string staged = temp.path() + "/volume";
  make_directories(staged + "/_data", 0755);
  if (::chmod((staged + "/_data").c_str(), 0755) != 0)
    fail_errno(fmt::format("cannot create volume {}", name));
  json description = {{"Name", name}, {"CreatedAt", rfc3339_utc(::time(nullptr))}, {"Labels", labels}};
  write_file_atomic(staged + "/volume.json", description.dump(2) + "\n", 0644);
  std::string path = dir_ + "/" + name;
  if (::renameat2(AT_FDCWD, staged.c_str(), AT_FDCWD, path.c_str(), RENAME_NOREPLACE) != 0) {
    // Another gocrate made it meanwhile: theirs is as good.
    if (errno != EEXIST) fail_errno(fmt::format("cannot create volume {}", name));
  } else {
    fsync_directory(dir_);
  }
  auto made = find(name);
  if (!made) fail("volume {} was removed while it was being created; try again", name);
  return *made;
}

std::optional<VolumeInfo> VolumeStore::find(const std::string& name) const {
  if (!valid_volume_name(name)) return std::nullopt;
  return read_volume(dir_, name);
}

std::vector<VolumeInfo> VolumeStore::list() const {
  std::vector<VolumeInfo> volumes;
  DIR* dir = ::opendir(dir_.c_str());
  if (!dir) {
    if (errno == ENOENT) return volumes;
    fail_errno(fmt::format("cannot read {}", dir_));
  }
  std::vector<std::string> names;
  while (dirent* entry = ::readdir(dir)) {
    if (valid_volume_name(entry->d_name)) names.emplace_back(entry->d_name);
  }
  ::closedir(dir);
  std::sort(names.begin(), names.end());
  for (const auto& name : names) {
    if (auto v = read_volume(dir_, name)) volumes.push_back(std::move(*v));
  }
  return volumes;
}

VolumeUse VolumeStore::use(const std::string& name) {
  for (;;) {
    create(name);
    auto fd = open_locked(dir_, name, LockMode::shared);
    if (!fd) continue;  // removed between the two steps
    auto info = find(name);
    if (!info) continue;
    return {std::move(*info), std::move(*fd)};
  }
}

void VolumeStore::remove(const std::string& name,
                         const std::function<std::vector<std::string>(const std::string&)>& users) {
  if (!valid_volume_name(name)) fail("no such volume: {}", name);
  auto fd = open_locked(dir_, name, LockMode::exclusive);
  if (!fd) fail("no such volume: {}", name);
  auto used_by = users(name);
  if (!used_by.empty()) {
    fail("remove {}: volume is in use - [{}]; remove the containers first (gocrate rm)", name,
         join(used_by, ", "));
  }
  std::string temp_parent = dir_ + "/" + std::string(kTempDir);
  make_directories(temp_parent, 0700);
  TempDir trash = TempDir::held(temp_parent, "rm-");
  std::string path = dir_ + "/" + name;
  if (::rename(path.c_str(), (trash.path() + "/volume").c_str()) != 0)
    fail_errno(fmt::format("cannot remove volume {}", name));
  fd->reset();
  // The TempDir removes the contents as it goes.
}

std::vector<std::string> VolumeStore::prune(
    const std::function<std::vector<std::string>(const std::string&)>& users,
    const std::function<bool(const VolumeInfo&)>& keep) {
  std::vector<std::string> removed;
  for (const auto& v : list()) {
    if (keep && keep(v)) continue;
    try {
      remove(v.name, users);
      removed.push_back(v.name);
    } catch (const Error&) {
      // In use, or removed by another gocrate meanwhile.
    }
  }
  remove_unheld_entries(dir_ + "/" + std::string(kTempDir));
  return removed;
}

}  // namespace gocrate
