#include "runtime/container_changes.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <utility>

#include "util/error.h"
#include "util/fs.h"
#include "util/rooted_open.h"

namespace gocrate {

namespace {

// overlayfs' own pointers into the lower layers: a directory renamed on a
// mount with redirect_dir, or a file whose data stayed below (metacopy).
// Neither can be read from the upper layer alone: refused, naming the file.
void refuse_overlay_pointers(int parent_fd, const std::string& name, const struct stat& st,
                             const std::string& shown) {
  if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode)) return;
  UniqueFd fd(::openat(parent_fd, name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) return;  // removed meanwhile
  std::string proc = fmt::format("/proc/self/fd/{}", fd.get());
  for (const char* attribute : {"trusted.overlay.redirect", "trusted.overlay.metacopy"}) {
    if (::getxattr(proc.c_str(), attribute, nullptr, 0) >= 0)
      fail(
          "{} has overlayfs' {} attribute ({}): its content is in a lower layer, which diff and commit do "
          "not "
          "follow; copy the files out with cp instead",
          shown, attribute,
          S_ISDIR(st.st_mode) ? "a directory renamed on a mount with redirect_dir" : "a metadata-only copy");
  }
}

// Calls `visit` for every entry below `dir_fd`, depth first, names sorted;
// `path` is absolute ("/etc/passwd"). Never follows a symlink; entries
// removed meanwhile are left out. No recursion: the depth is bounded by
// what can be opened, not by the stack.
std::string child_path(const std::string& dir, const std::string& name) {
  return dir == "/" ? "/" + name : dir + "/" + name;
}

using Visit = std::function<void(int parent_fd, const std::string& name, const std::string& path,
                                 const struct stat& st)>;
void walk(int dir_fd, const std::string& path, const std::string& what, const Visit& visit) {
  struct Level {
    UniqueFd dir;
    std::string path;
    std::vector<std::string> names;
    size_t next = 0;
  };
  std::vector<Level> levels;
  UniqueFd top(::fcntl(dir_fd, F_DUPFD_CLOEXEC, 0));
  if (!top) fail_errno(fmt::format("cannot read the directory {}{}", what, path));
  std::vector<std::string> top_names = sorted_directory_names(top.get(), what + path);
  levels.push_back(Level{std::move(top), path, std::move(top_names), 0});
  while (!levels.empty()) {
    Level& level = levels.back();
    if (level.next == level.names.size()) {
      levels.pop_back();
      continue;
    }
    const std::string name = level.names[level.next++];
    std::string child = child_path(level.path, name);
    struct stat st;
    if (::fstatat(level.dir.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno == ENOENT) continue;
      fail_errno(fmt::format("cannot read {}{}", what, child));
    }
    refuse_overlay_pointers(level.dir.get(), name, st, what + child);
    visit(level.dir.get(), name, child, st);
    if (!S_ISDIR(st.st_mode)) continue;
    UniqueFd sub(::openat(level.dir.get(), name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!sub && errno == ENOENT) continue;
    if (!sub) fail_errno(fmt::format("cannot open {}{}", what, child));
    std::vector<std::string> names = sorted_directory_names(sub.get(), what + child);
    levels.push_back(Level{std::move(sub), child, std::move(names), 0});
  }
}

bool is_whiteout(const struct stat& st) {
  return S_ISCHR(st.st_mode) && major(st.st_rdev) == 0 && minor(st.st_rdev) == 0;
}

bool is_opaque(int parent_fd, const std::string& name) {
  UniqueFd fd(::openat(parent_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) return false;
  char value[4];
  ssize_t n = ::fgetxattr(fd.get(), "trusted.overlay.opaque", value, sizeof value);
  return n == 1 && value[0] == 'y';
}

// The image's layers stacked as overlay stacks them, without mounting:
// what the container started from.
class LowerView {
 public:
  explicit LowerView(const std::vector<std::string>& dirs) {
    for (const auto& dir : dirs) layers_.push_back(open_or_fail(dir, O_PATH | O_DIRECTORY));
  }

  // The entry at `path` ("/a/b") in the stacked layers, if there is one.
  std::optional<struct stat> stat(const std::string& path) const {
    std::vector<size_t> candidates;
    for (size_t i = 0; i < layers_.size(); ++i) candidates.push_back(i);
    std::string prefix;
    std::optional<struct stat> found;
    std::vector<std::string> parts = components(path);
    for (size_t depth = 0; depth < parts.size(); ++depth) {
      prefix += "/" + parts[depth];
      found.reset();
      std::vector<size_t> below;
      for (size_t i : candidates) {
        struct stat st;
        if (!entry_in_layer(i, prefix, st)) continue;
        if (!found) {
          if (is_whiteout(st)) return std::nullopt;
          found = st;
        } else if (!S_ISDIR(st.st_mode) || !S_ISDIR(found->st_mode)) {
          break;  // a directory above hides what is not one below
        }
        below.push_back(i);
        if (S_ISDIR(st.st_mode) && opaque_in_layer(i, prefix)) break;
        if (!S_ISDIR(st.st_mode)) break;
      }
      if (!found) return std::nullopt;
      candidates = std::move(below);
    }
    return found;
  }

  // The names in the directory `path` of the stacked layers.
  std::set<std::string> list(const std::string& path) const {
    std::set<std::string> names;
    std::set<std::string> hidden;
    auto top = stat(path);
    if (!top || !S_ISDIR(top->st_mode)) return names;
    for (size_t i = 0; i < layers_.size(); ++i) {
      struct stat st;
      if (!entry_in_layer(i, path, st)) continue;
      if (!S_ISDIR(st.st_mode)) break;
      UniqueFd dir(open_in_root(layers_[i].get(), path, O_RDONLY | O_DIRECTORY, RootedResolve::strict));
      if (!dir) break;
      for (const auto& name : sorted_directory_names(dir.get(), path)) {
        if (hidden.contains(name) || names.contains(name)) continue;
        struct stat child;
        if (::fstatat(dir.get(), name.c_str(), &child, AT_SYMLINK_NOFOLLOW) != 0) continue;
        if (is_whiteout(child)) {
          hidden.insert(name);
        } else {
          names.insert(name);
        }
      }
      if (opaque_in_layer(i, path)) break;
    }
    return names;
  }

 private:
  static std::vector<std::string> components(const std::string& path) {
    std::vector<std::string> parts;
    size_t i = 0;
    while (i < path.size()) {
      size_t j = path.find('/', i);
      if (j == std::string::npos) j = path.size();
      if (j > i) parts.push_back(path.substr(i, j - i));
      i = j + 1;
    }
    return parts;
  }
  // The entry itself (never through a symlink, never out of the layer).
  bool entry_in_layer(size_t layer, const std::string& path, struct stat& st) const {
    UniqueFd fd(open_in_root(layers_[layer].get(), path, O_PATH | O_NOFOLLOW, RootedResolve::strict));
    return fd && ::fstat(fd.get(), &st) == 0;
  }
  bool opaque_in_layer(size_t layer, const std::string& path) const {
    UniqueFd fd(open_in_root(layers_[layer].get(), path, O_RDONLY | O_DIRECTORY, RootedResolve::strict));
    char value[4];
    return fd && ::fgetxattr(fd.get(), "trusted.overlay.opaque", value, sizeof value) == 1 && value[0] == 'y';
  }
  std::vector<UniqueFd> layers_;
};

// Docker's statDifferent: mode, owner and device always; size and mtime
// only for what is not a directory.
bool stat_different(const struct stat& a, const struct stat& b) {
  if (a.st_mode != b.st_mode || a.st_uid != b.st_uid || a.st_gid != b.st_gid || a.st_rdev != b.st_rdev)
    return true;
  if (S_ISDIR(a.st_mode)) return false;
  bool same_time = a.st_mtim.tv_sec == b.st_mtim.tv_sec && (a.st_mtim.tv_nsec == b.st_mtim.tv_nsec ||
                                                            a.st_mtim.tv_nsec == 0 || b.st_mtim.tv_nsec == 0);
  return !same_time || a.st_size != b.st_size;
}

class ChangeLister {
 public:
  ChangeLister(const std::string& upper_dir, const LowerView& lower) : upper_dir_(upper_dir), lower_(lower) {}

  // The directory `path` of the upper layer; `in_lower`: the image has a
  // directory there, `opaque`: the upper one hides it.
  void directory(int dir_fd, const std::string& path, bool in_lower, bool opaque) {
    std::set<std::string> gone;
    if (in_lower && opaque) gone = lower_.list(path);
    std::vector<std::string> upper = sorted_directory_names(dir_fd, upper_dir_ + path);
    for (const auto& n : upper) gone.erase(n);
    std::vector<std::string> names = upper;
    names.insert(names.end(), gone.begin(), gone.end());
    std::sort(names.begin(), names.end());
    for (const auto& name : names) {
      std::string child = child_path(path, name);
      if (gone.contains(name)) {
        out.push_back({'D', child});
        continue;
      }
      struct stat st;
      if (::fstatat(dir_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
        if (errno == ENOENT) continue;  // removed meanwhile
        fail_errno(fmt::format("cannot read {}{}", upper_dir_, child));
      }
      refuse_overlay_pointers(dir_fd, name, st, upper_dir_ + child);
      std::optional<struct stat> below = in_lower ? lower_.stat(child) : std::nullopt;
      if (is_whiteout(st)) {
        if (below) out.push_back({'D', child});
        continue;
      }
      size_t at = out.size();
      bool listed = !below || stat_different(*below, st);
      if (listed) out.push_back({below ? 'C' : 'A', child});
      if (!S_ISDIR(st.st_mode)) continue;
      UniqueFd sub(::openat(dir_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (!sub && errno == ENOENT) continue;
      if (!sub) fail_errno(fmt::format("cannot open {}{}", upper_dir_, child));
      bool lower_dir = below && S_ISDIR(below->st_mode);
      directory(sub.get(), child, lower_dir, lower_dir && is_opaque(dir_fd, name));
      // A directory with changes inside is changed itself, listed first.
      if (!listed && out.size() > at) out.insert(out.begin() + static_cast<long>(at), FileChange{'C', child});
    }
  }

  std::vector<FileChange> out;

 private:
  const std::string& upper_dir_;
  const LowerView& lower_;
};

}  // namespace

std::vector<FileChange> upper_layer_changes(const std::string& upper_dir,
                                            const std::vector<std::string>& lower_dirs) {
  UniqueFd upper = open_or_fail(upper_dir, O_RDONLY | O_DIRECTORY);
  LowerView lower(lower_dirs);
  ChangeLister lister(upper_dir, lower);
  lister.directory(upper.get(), "/", true, false);
  return std::move(lister.out);
}

void write_upper_layer(const std::string& upper_dir, TarWriter& tar) {
  UniqueFd upper = open_or_fail(upper_dir, O_RDONLY | O_DIRECTORY);
  std::map<std::pair<dev_t, ino_t>, std::string> linked;
  walk(upper.get(), "/", upper_dir,
       [&](int parent, const std::string& name, const std::string& path, const struct stat& st) {
         TarHeader h;
         h.path = path.substr(1);
         h.mode = st.st_mode & 07777;
         h.uid = st.st_uid;
         h.gid = st.st_gid;
         h.mtime = st.st_mtim.tv_sec;
         std::string what = upper_dir + path;
         if (is_whiteout(st)) {
           std::string parent_path = dir_name(h.path);
           h.path = (parent_path == "." || parent_path.empty() ? "" : parent_path + "/") + ".wh." + name;
           h.type = TarHeader::Type::file;
           h.mode = 0;
           h.size = 0;
           tar.add(h);
           return;
         }
         if (S_ISDIR(st.st_mode)) {
           h.type = TarHeader::Type::directory;
           tar.add(h);
           if (is_opaque(parent, name)) {
             TarHeader opaque = h;
             opaque.path = h.path + "/.wh..wh..opq";
             opaque.type = TarHeader::Type::file;
             opaque.mode = h.mode & 0777;
             tar.add(opaque);
           }
           return;
         }
         if (S_ISLNK(st.st_mode)) {
           std::string target(static_cast<size_t>(st.st_size) + 1, '\0');
           ssize_t n = ::readlinkat(parent, name.c_str(), target.data(), target.size());
           if (n < 0) fail_errno(fmt::format("cannot read the symlink {}", what));
           target.resize(static_cast<size_t>(n));
           h.type = TarHeader::Type::symlink;
           h.link_target = target;
           tar.add(h);
           return;
         }
         if (!S_ISDIR(st.st_mode) && st.st_nlink > 1) {
           auto [it, first] = linked.try_emplace({st.st_dev, st.st_ino}, h.path);
           if (!first) {
             h.type = TarHeader::Type::hardlink;
             h.link_target = it->second;
             tar.add(h);
             return;
           }
         }
         if (S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
           h.type = S_ISFIFO(st.st_mode)  ? TarHeader::Type::fifo
                    : S_ISCHR(st.st_mode) ? TarHeader::Type::char_device
                                          : TarHeader::Type::block_device;
           h.dev_major = major(st.st_rdev);
           h.dev_minor = minor(st.st_rdev);
           tar.add(h);
           return;
         }
         if (!S_ISREG(st.st_mode)) return;  // sockets: tar has no such entry
         // Never blocking on a FIFO swapped in meanwhile; what is read is
         // what this descriptor is.
         UniqueFd file(::openat(parent, name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
         if (!file && errno == ENOENT) return;  // removed meanwhile
         if (!file) fail_errno(fmt::format("cannot open {}", what));
         struct stat opened;
         if (::fstat(file.get(), &opened) != 0) fail_errno(fmt::format("cannot read {}", what));
         if (!S_ISREG(opened.st_mode))
           fail("{} was replaced by {} while it was read: commit again once it is no longer written", what,
                file_type_name(opened.st_mode));
         h.mode = opened.st_mode & 07777;
         h.uid = opened.st_uid;
         h.gid = opened.st_gid;
         h.mtime = opened.st_mtim.tv_sec;
         char capability[256];
         ssize_t n = ::fgetxattr(file.get(), "security.capability", capability, sizeof capability);
         if (n > 0) h.xattrs["security.capability"] = std::string(capability, static_cast<size_t>(n));
         h.type = TarHeader::Type::file;
         h.size = opened.st_size;
         tar.begin(h);
         char buffer[128 * 1024];
         int64_t left = opened.st_size;
         while (left > 0) {
           ssize_t got =
               ::read(file.get(), buffer, static_cast<size_t>(std::min<int64_t>(left, sizeof buffer)));
           if (got < 0 && errno == EINTR) continue;
           if (got < 0) fail_errno(fmt::format("cannot read {}", what));
           if (got == 0)
             fail("{} shrank while it was being read: commit again once it is no longer written", what);
           tar.write(std::string_view(buffer, static_cast<size_t>(got)));
           left -= got;
         }
       });
}

}  // namespace gocrate
