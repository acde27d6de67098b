#include "unpack/layer_extractor.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <optional>
#include <set>
#include <vector>

#include "layer/tar.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/rooted_open.h"
#include "util/strings.h"

namespace gocrate {

namespace {

constexpr std::string_view kWhiteoutPrefix = ".wh.";
constexpr std::string_view kOpaqueMarker = ".wh..wh..opq";
constexpr std::string_view kReservedPrefix = ".wh..wh.";

struct EntryPath {
  std::string parent;  // components joined by '/', empty for the root
  std::string name;    // last component, empty for the root itself
};

// Splits a tar name into parent and name, or says why it is refused.
std::optional<std::string> split_entry_path(std::string_view raw, EntryPath& out) {
  if (raw.starts_with('/')) return "is an absolute name";
  std::vector<std::string> parts;
  for (const auto& part : split(raw, '/')) {
    if (part.empty() || part == ".") continue;
    if (part == "..") return "contains a .. component";
    parts.push_back(part);
  }
  if (parts.empty()) return std::nullopt;
  out.name = parts.back();
  parts.pop_back();
  out.parent = join(parts, "/");
  return std::nullopt;
}

int open_beneath(int dir_fd, const std::string& path, int flags) {
  return open_in_root(dir_fd, path.empty() ? "." : path, flags, RootedResolve::strict);
}

class Extractor {
 public:
  Extractor(ByteReader& tar, int root_fd, std::string_view layer)
      : tar_(tar, fmt::format("layer {}", layer)), root_fd_(root_fd), layer_(layer) {}

  void run() {
    TarHeader header;
    while (tar_.next(header)) extract(header);
  }

 private:
  [[noreturn]] void refuse(const TarHeader& h, std::string_view why) {
    fail("layer {} is refused: entry \"{}\" {}", layer_, h.path, why);
  }
  [[noreturn]] void refuse_errno(const TarHeader& h, std::string_view what) {
    fail_errno(fmt::format("layer {}: cannot {} entry \"{}\"", layer_, what, h.path));
  }

  void extract(const TarHeader& h) {
    EntryPath path;
    if (auto why = split_entry_path(h.path, path)) refuse(h, *why);
    if (path.name.empty()) return;  // the root itself keeps the cache's mode
    check_xattrs(h);
    int parent = open_parent(h, path.parent, true);
    if (!skipped_devices_.empty()) {
      skipped_devices_.erase(key_of(path));
      EntryPath target;
      if (h.type == TarHeader::Type::hardlink && !split_entry_path(h.link_target, target) &&
          skipped_devices_.contains(key_of(target))) {
        return device(h, parent, path.name, path);
      }
    }
    if (path.name.starts_with(kWhiteoutPrefix)) return whiteout(h, parent, path.name);
    switch (h.type) {
      case TarHeader::Type::directory:
        return directory(h, parent, path.name);
      case TarHeader::Type::file:
        return regular_file(h, parent, path.name);
      case TarHeader::Type::symlink:
        return symlink(h, parent, path.name);
      case TarHeader::Type::hardlink:
        return hardlink(h, parent, path.name);
      case TarHeader::Type::fifo:
        remove_existing(h, parent, path.name, false);
        if (::mknodat(parent, path.name.c_str(), S_IFIFO | (h.mode & 07777), 0) != 0)
          refuse_errno(h, "create");
        return set_owner_at(h, parent, path.name);
      case TarHeader::Type::char_device:
      case TarHeader::Type::block_device:
        return device(h, parent, path.name, path);
    }
  }

  void check_xattrs(const TarHeader& h) {
    for (const auto& [key, value] : h.xattrs) {
      if (key.starts_with("trusted.overlay.")) refuse(h, fmt::format("sets the overlay attribute {}", key));
    }
  }

  // The directory that holds an entry, created (0755) where the layer left it
  // implicit. Resolution never follows a symlink: a layer that writes through
  // one is refused, whatever it points at.
  int open_parent(const TarHeader& h, const std::string& parent, bool create) {
    if (parent_fd_ && parent == parent_path_) return parent_fd_.get();
    int fd = open_beneath(root_fd_, parent, O_RDONLY | O_DIRECTORY);
    if (fd < 0 && errno == ENOENT && create) fd = create_parents(h, parent);
    if (fd < 0) {
      if (errno == ELOOP) refuse(h, "goes through a symlink");
      if (errno == ENOTDIR) refuse(h, "goes through something that is not a directory");
      if (errno == EXDEV) refuse(h, "leaves the layer root");
      if (errno == ENOENT) refuse(h, "refers to a path that is not in the layer");
      refuse_errno(h, "open the directory of");
    }
    parent_fd_.reset(fd);
    parent_path_ = parent;
    return fd;
  }

  int create_parents(const TarHeader& h, const std::string& parent) {
    UniqueFd dir(::fcntl(root_fd_, F_DUPFD_CLOEXEC, 0));
    for (const auto& part : split(parent, '/')) {
      int next = open_beneath(dir.get(), part, O_RDONLY | O_DIRECTORY);
      if (next < 0 && errno == ENOENT) {
        if (::mkdirat(dir.get(), part.c_str(), 0755) != 0 && errno != EEXIST)
          refuse_errno(h, "create a parent of");
        next = open_beneath(dir.get(), part, O_RDONLY | O_DIRECTORY);
      }
      if (next < 0) return -1;
      dir.reset(next);
    }
    return dir.release();
  }

  // A later entry replaces an earlier one of the same name, as tar does.
  // Returns true when a directory is already there and `keep_directory`.
  bool remove_existing(const TarHeader& h, int parent, const std::string& name, bool keep_directory) {
    struct stat st;
    if (::fstatat(parent, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return false;
    if (S_ISDIR(st.st_mode)) {
      if (keep_directory) return true;
      if (::unlinkat(parent, name.c_str(), AT_REMOVEDIR) != 0) {
        if (errno == ENOTEMPTY || errno == EEXIST) refuse(h, "replaces a directory that is not empty");
        refuse_errno(h, "replace");
      }
      invalidate_parent_cache();
      return false;
    }
    if (::unlinkat(parent, name.c_str(), 0) != 0) refuse_errno(h, "replace");
    return false;
  }

  void invalidate_parent_cache() {
    parent_fd_.reset();
    parent_path_.clear();
  }

  void whiteout(const TarHeader& h, int parent, const std::string& name) {
    if (h.type != TarHeader::Type::file && h.type != TarHeader::Type::hardlink) {
      refuse(h, "is a whiteout but not a regular file");
    }
    if (name == kOpaqueMarker) {
      if (::fsetxattr(parent, "trusted.overlay.opaque", "y", 1, 0) != 0) refuse_errno(h, "mark opaque for");
      return;
    }
    if (name.starts_with(kReservedPrefix)) refuse(h, "is an unknown reserved whiteout");
    std::string hidden = name.substr(kWhiteoutPrefix.size());
    if (hidden.empty() || hidden == "." || hidden == "..") refuse(h, "is a whiteout of no valid name");
    struct stat st;
    // The same layer may both whiteout a lower file and add its own: the
    // layer's own entry wins.
    if (::fstatat(parent, hidden.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) return;
    if (::mknodat(parent, hidden.c_str(), S_IFCHR | 0000, makedev(0, 0)) != 0)
      refuse_errno(h, "create whiteout for");
  }

  // A device node is never made from a layer: the container's /dev is a
  // tmpfs with the standard nodes, and --device gives the others. The entry
  // still replaces an earlier one of its name in this layer; a hardlink to
  // it is left out too.
  void device(const TarHeader& h, int parent, const std::string& name, const EntryPath& path) {
    remove_existing(h, parent, name, false);
    skipped_devices_.insert(key_of(path));
  }

  static std::string key_of(const EntryPath& path) {
    return path.parent.empty() ? path.name : path.parent + "/" + path.name;
  }

  void directory(const TarHeader& h, int parent, const std::string& name) {
    if (!remove_existing(h, parent, name, true)) {
      if (::mkdirat(parent, name.c_str(), 0700) != 0) refuse_errno(h, "create");
    }
    UniqueFd dir(open_beneath(parent, name, O_RDONLY | O_DIRECTORY));
    if (!dir) refuse_errno(h, "open");
    set_metadata(h, dir.get(), false);
  }

  void regular_file(const TarHeader& h, int parent, const std::string& name) {
    remove_existing(h, parent, name, false);
    UniqueFd file(::openat(parent, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!file) refuse_errno(h, "create");
    char buffer[128 * 1024];
    for (;;) {
      size_t n = tar_.read(buffer, sizeof buffer);
      if (n == 0) break;
      write_all(file.get(), std::string_view(buffer, n), h.path);
    }
    set_metadata(h, file.get(), true);
  }

  void symlink(const TarHeader& h, int parent, const std::string& name) {
    // Any target is allowed: it is resolved inside the container's root at
    // run time, and extraction never follows it.
    if (h.link_target.empty()) refuse(h, "is a symlink to nothing");
    remove_existing(h, parent, name, false);
    if (::symlinkat(h.link_target.c_str(), parent, name.c_str()) != 0) refuse_errno(h, "create");
    set_owner_at(h, parent, name);
  }

  void hardlink(const TarHeader& h, int parent, const std::string& name) {
    EntryPath target;
    if (h.link_target.starts_with('/')) refuse(h, "is a hardlink to an absolute name outside the layer");
    if (auto why = split_entry_path(h.link_target, target))
      refuse(h, fmt::format("is a hardlink whose target {}", *why));
    if (target.name.empty()) refuse(h, "is a hardlink to the layer root");
    UniqueFd target_dir(open_beneath(root_fd_, target.parent, O_RDONLY | O_DIRECTORY));
    if (!target_dir) {
      if (errno == ELOOP) refuse(h, "is a hardlink whose target goes through a symlink");
      refuse(h, fmt::format("is a hardlink to \"{}\", which is not in the layer", h.link_target));
    }
    struct stat st;
    if (::fstatat(target_dir.get(), target.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      refuse(h, fmt::format("is a hardlink to \"{}\", which is not in the layer", h.link_target));
    }
    if (S_ISDIR(st.st_mode)) refuse(h, "is a hardlink to a directory");
    struct stat existing;
    if (::fstatat(parent, name.c_str(), &existing, AT_SYMLINK_NOFOLLOW) == 0 &&
        existing.st_ino == st.st_ino && existing.st_dev == st.st_dev) {
      return;  // already that file
    }
    remove_existing(h, parent, name, false);
    if (::linkat(target_dir.get(), target.name.c_str(), parent, name.c_str(), 0) != 0)
      refuse_errno(h, "link");
  }

  void set_metadata(const TarHeader& h, int fd, bool is_file) {
    // chown first: it clears setuid and setgid bits.
    if (::fchown(fd, h.uid, h.gid) != 0 && ::geteuid() == 0) refuse_errno(h, "set the owner of");
    if (::fchmod(fd, h.mode & 07777) != 0) refuse_errno(h, "set the mode of");
    for (const auto& [key, value] : h.xattrs) {
      if (key != "security.capability" && !key.starts_with("user.")) continue;
      if (::fsetxattr(fd, key.c_str(), value.data(), value.size(), 0) != 0)
        refuse_errno(h, "set attributes of");
    }
    if (is_file) {
      timespec times[2] = {{h.mtime, 0}, {h.mtime, 0}};
      ::futimens(fd, times);
    }
  }

  void set_owner_at(const TarHeader& h, int parent, const std::string& name) {
    if (::fchownat(parent, name.c_str(), h.uid, h.gid, AT_SYMLINK_NOFOLLOW) != 0 && ::geteuid() == 0) {
      refuse_errno(h, "set the owner of");
    }
  }

  TarReader tar_;
  int root_fd_;
  std::string_view layer_;
  UniqueFd parent_fd_;
  std::string parent_path_;
  std::set<std::string> skipped_devices_;
};

}  // namespace

void extract_layer(ByteReader& tar, int root_fd, std::string_view layer) {
  Extractor(tar, root_fd, layer).run();
}

}  // namespace gocrate
