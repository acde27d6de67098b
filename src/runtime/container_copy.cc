#include "runtime/container_copy.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <exception>
#include <map>
#include <thread>
#include <vector>

#include "util/error.h"
#include "util/fs.h"
#include "util/rooted_open.h"
#include "util/strings.h"

namespace gocrate {

namespace {

bool has_trailing_dot(const std::string& path) {
  return path == "." || path.ends_with("/.");
}

// The path without a trailing "/" or "/.": the thing it names.
std::string clean_path(const std::string& path) {
  std::string p = path;
  for (;;) {
    if (p.size() > 1 && p.ends_with('/')) {
      p.pop_back();
    } else if (p.size() > 2 && p.ends_with("/.")) {
      p.resize(p.size() - 2);
    } else if (p == "/.") {
      p = "/";
    } else {
      break;
    }
  }
  return p.empty() ? "/" : p;
}

bool names_a_directory(const std::string& path) {
  return path.ends_with('/') || has_trailing_dot(path) || clean_path(path) == "/";
}

std::string shown(const TreePath& at) {
  return at.container ? fmt::format("{} in {}", at.path, at.what) : fmt::format("{}", at.path);
}

[[noreturn]] void fail_resolve(const TreePath& at, int err) {
  if (err == ELOOP) fail("{} is refused: it leads through a magic link or too many symlinks", shown(at));
  if (err == EXDEV) fail("{} is refused: it leaves {}", shown(at), at.what);
  fail_errno(fmt::format("cannot open {}", shown(at)), err);
}

// Resolves the path: O_PATH, the last component followed as asked. -1 with
// errno when it does not resolve.
int resolve(const TreePath& at, bool follow_last, int flags = O_PATH) {
  std::string p = clean_path(at.path);
  bool follow = follow_last || names_a_directory(at.path);
  return open_in_root(at.root_fd, p, flags | (follow ? 0 : O_NOFOLLOW));
}

// Walks a tree without recursion, so that its depth is bounded by what can
// be opened, not by the stack.
class Archiver {
 public:
  Archiver(TarWriter& tar, const TreePath& at) : tar_(tar), at_(at), buffer_(128 * 1024) {}

  // `fd` is an O_PATH descriptor of the top entry (a symlink itself when not
  // followed).
  void run(int fd, const struct stat& st, const std::string& tar_name, const std::string& shown_path) {
    struct Level {
      UniqueFd dir;
      dev_t dev;
      std::vector<std::string> names;
      size_t next = 0;
      std::string tar_name, shown_path;
    };
    std::vector<Level> levels;
    auto enter = [&](int entry_fd, const struct stat& dir_st, const std::string& name,
                     const std::string& shown) {
      UniqueFd dir(::openat(entry_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
      if (!dir) {
        if (errno == ENOENT) return;  // removed meanwhile
        fail_errno(fmt::format("cannot read the directory {}", shown));
      }
      std::vector<std::string> names = sorted_directory_names(dir.get(), shown);
      levels.push_back(Level{std::move(dir), dir_st.st_dev, std::move(names), 0, name, shown});
    };
    if (!entry(fd, st, tar_name, shown_path)) return;
    enter(fd, st, tar_name, shown_path);
    while (!levels.empty()) {
      Level& level = levels.back();
      if (level.next == level.names.size()) {
        levels.pop_back();
        continue;
      }
      const std::string name = level.names[level.next++];
      std::string shown = level.shown_path == "/" ? "/" + name : level.shown_path + "/" + name;
      UniqueFd child(::openat(level.dir.get(), name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
      struct stat cst;
      if (!child || ::fstat(child.get(), &cst) != 0) {
        if (errno == ENOENT) continue;  // removed meanwhile
        fail_errno(fmt::format("cannot read {}", shown));
      }
      std::string child_name = level.tar_name.empty()  ? name
                               : level.tar_name == "." ? "./" + name
                                                       : level.tar_name + "/" + name;
      if (!entry(child.get(), cst, child_name, shown)) continue;
      // Another file system mounted in a container (its /proc, /sys, /dev,
      // a tmpfs) is an empty directory in the copy, as it is in the
      // container's image; the user's volumes and binds are copied.
      if (at_.container && cst.st_dev != level.dev && !is_user_mount(shown)) continue;
      enter(child.get(), cst, child_name, shown);
    }
  }

 private:
  bool is_user_mount(const std::string& path) const {
    return std::find(at_.user_mounts.begin(), at_.user_mounts.end(), path) != at_.user_mounts.end();
  }

  // Writes one entry; true for a directory to walk into. Entries that
  // vanish meanwhile are left out.
  bool entry(int fd, const struct stat& st, const std::string& tar_name, const std::string& shown_path) {
    TarHeader h;
    h.path = tar_name;
    h.mode = st.st_mode & 07777;
    h.uid = st.st_uid;
    h.gid = st.st_gid;
    h.mtime = st.st_mtim.tv_sec;
    if (S_ISDIR(st.st_mode)) {
      h.type = TarHeader::Type::directory;
      if (!tar_name.empty()) tar_.add(h);
      return true;
    }
    if (S_ISLNK(st.st_mode)) {
      std::string target(4096, '\0');
      ssize_t n = ::readlinkat(fd, "", target.data(), target.size());
      if (n < 0 && errno == ENOENT) return false;
      if (n < 0) fail_errno(fmt::format("cannot read the symlink {}", shown_path));
      target.resize(static_cast<size_t>(n));
      h.type = TarHeader::Type::symlink;
      h.link_target = std::move(target);
      tar_.add(h);
      return false;
    }
    if (st.st_nlink > 1) {
      auto [it, first] = linked_.try_emplace({st.st_dev, st.st_ino}, tar_name);
      if (!first) {
        h.type = TarHeader::Type::hardlink;
        h.link_target = it->second;
        tar_.add(h);
        return false;
      }
    }
    if (S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
      h.type = S_ISFIFO(st.st_mode)  ? TarHeader::Type::fifo
               : S_ISCHR(st.st_mode) ? TarHeader::Type::char_device
                                     : TarHeader::Type::block_device;
      h.dev_major = major(st.st_rdev);
      h.dev_minor = minor(st.st_rdev);
      tar_.add(h);
      return false;
    }
    if (!S_ISREG(st.st_mode)) return false;  // a socket: tar has no such entry
    // Reopening an O_PATH descriptor through /proc/self/fd opens that very
    // file, wherever a name now leads.
    UniqueFd file(::open(fmt::format("/proc/self/fd/{}", fd).c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
    if (!file && errno == ENOENT) return false;
    if (!file) fail_errno(fmt::format("cannot open {}", shown_path));
    char capability[256];
    ssize_t n = ::fgetxattr(file.get(), "security.capability", capability, sizeof capability);
    if (n > 0) h.xattrs["security.capability"] = std::string(capability, static_cast<size_t>(n));
    h.type = TarHeader::Type::file;
    h.size = st.st_size;
    tar_.begin(h);
    int64_t left = st.st_size;
    while (left > 0) {
      size_t want = static_cast<size_t>(std::min<int64_t>(left, static_cast<int64_t>(buffer_.size())));
      ssize_t got = ::read(file.get(), buffer_.data(), want);
      if (got < 0 && errno == EINTR) continue;
      if (got < 0) fail_errno(fmt::format("cannot read {}", shown_path));
      if (got == 0) {
        // Shrunk while read: what was promised is padded with zeros.
        std::fill_n(buffer_.data(), want, '\0');
        tar_.write(std::string_view(buffer_.data(), want));
        left -= static_cast<int64_t>(want);
        continue;
      }
      tar_.write(std::string_view(buffer_.data(), static_cast<size_t>(got)));
      left -= got;
    }
    return false;
  }

  TarWriter& tar_;
  const TreePath& at_;
  std::vector<char> buffer_;
  std::map<std::pair<dev_t, ino_t>, std::string> linked_;
};

struct EntryName {
  std::vector<std::string> parts;
};

class ArchiveExtractor {
 public:
  ArchiveExtractor(ByteReader& in, const std::string& what, const TreePath& into,
                   const ExtractOptions& options)
      : tar_(in, what), what_(what), into_(into), options_(options) {
    if (!into.container) {
      base_.reset(resolve(into, true, O_RDONLY | O_DIRECTORY));
      if (!base_) fail_resolve(into, errno);
    }
  }

  void run() {
    TarHeader h;
    while (tar_.next(h)) extract(h);
    // Directory times last, deepest first: writing into them changed them.
    for (auto it = directory_times_.rbegin(); it != directory_times_.rend(); ++it) {
      UniqueFd dir(open_parent(it->first, false));
      if (!dir) continue;
      timespec times[2] = {{it->second, 0}, {it->second, 0}};
      ::futimens(dir.get(), times);
    }
  }

 private:
  [[noreturn]] void refuse(const TarHeader& h, std::string_view why) {
    fail("{} is refused: entry \"{}\" {}", what_, h.path, why);
  }
  [[noreturn]] void refuse_errno(const TarHeader& h, std::string_view what) {
    fail_errno(fmt::format("cannot {} \"{}\" of {} in {}", what, h.path, what_, shown(into_)));
  }

  std::vector<std::string> split_name(const TarHeader& h, const std::string& name) {
    if (name.starts_with('/')) refuse(h, "has an absolute name");
    std::vector<std::string> parts;
    for (const auto& part : split(name, '/')) {
      if (part.empty() || part == ".") continue;
      if (part == "..") refuse(h, "leaves the destination (a .. component)");
      parts.push_back(part);
    }
    return parts;
  }

  // The directory at `parts` below the destination, created (0755) when
  // missing and `create`; -1 with errno otherwise.
  int open_parent(const std::vector<std::string>& parts, bool create) {
    if (into_.container) {
      std::string path = clean_path(into_.path);
      for (const auto& p : parts) path += (path.ends_with('/') ? "" : "/") + p;
      int fd = open_in_root(into_.root_fd, path, O_RDONLY | O_DIRECTORY);
      if (fd >= 0 || errno != ENOENT || !create) return fd;
      // Created one level at a time, each resolved again inside the root.
      std::string walked = clean_path(into_.path);
      for (const auto& p : parts) {
        walked += (walked.ends_with('/') ? "" : "/") + p;
        UniqueFd next(open_in_root(into_.root_fd, walked, O_RDONLY | O_DIRECTORY));
        if (!next && errno == ENOENT) {
          UniqueFd up(open_in_root(into_.root_fd, dir_name(walked), O_RDONLY | O_DIRECTORY));
          if (!up) return -1;
          if (::mkdirat(up.get(), base_name(walked).c_str(), 0755) != 0 && errno != EEXIST) return -1;
          next.reset(open_in_root(into_.root_fd, walked, O_RDONLY | O_DIRECTORY));
        }
        if (!next) return -1;
        if (&p == &parts.back()) return next.release();
      }
      return open_in_root(into_.root_fd, walked, O_RDONLY | O_DIRECTORY);
    }
    std::string rel = parts.empty() ? "." : join(parts, "/");
    int fd = open_in_root(base_.get(), rel, O_RDONLY | O_DIRECTORY, RootedResolve::strict);
    if (fd >= 0 || errno != ENOENT || !create) return fd;
    UniqueFd dir(::fcntl(base_.get(), F_DUPFD_CLOEXEC, 0));
    for (const auto& p : parts) {
      int next = open_in_root(dir.get(), p, O_RDONLY | O_DIRECTORY, RootedResolve::strict);
      if (next < 0 && errno == ENOENT) {
        if (::mkdirat(dir.get(), p.c_str(), 0755) != 0 && errno != EEXIST) return -1;
        next = open_in_root(dir.get(), p, O_RDONLY | O_DIRECTORY, RootedResolve::strict);
      }
      if (next < 0) return -1;
      dir.reset(next);
    }
    return dir.release();
  }

  UniqueFd parent_of(const TarHeader& h, const std::vector<std::string>& parts) {
    std::vector<std::string> up(parts.begin(), parts.end() - 1);
    UniqueFd fd(open_parent(up, true));
    if (!fd) {
      if (errno == ELOOP) refuse(h, "goes through a symlink");
      if (errno == ENOTDIR) refuse(h, "goes through something that is not a directory");
      if (errno == EXDEV) refuse(h, "leaves the destination");
      refuse_errno(h, "open the directory of");
    }
    return fd;
  }

  // Removes what is in the way; true when a directory is there to keep.
  bool clear_way(const TarHeader& h, int parent, const std::string& name, bool keep_directory) {
    struct stat st;
    if (::fstatat(parent, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return false;
    if (S_ISDIR(st.st_mode)) {
      if (keep_directory) return true;
      if (::unlinkat(parent, name.c_str(), AT_REMOVEDIR) != 0) {
        if (errno == ENOTEMPTY || errno == EEXIST) refuse(h, "would replace a directory that is not empty");
        refuse_errno(h, "replace");
      }
      return false;
    }
    if (::unlinkat(parent, name.c_str(), 0) != 0) refuse_errno(h, "replace");
    return false;
  }

  uid_t uid_of(const TarHeader& h) const { return options_.owner ? options_.owner->first : h.uid; }
  gid_t gid_of(const TarHeader& h) const { return options_.owner ? options_.owner->second : h.gid; }

  // What was just made at `name`, opened without following it (O_PATH, or
  // as `flags` say). It must still be of the type made: a container may
  // swap in something else (a symlink to a host file) at any moment, so
  // owner, mode and times are set through this descriptor only, never
  // through the name.
  UniqueFd open_made(const TarHeader& h, int parent, const std::string& name, mode_t type,
                     int flags = O_PATH) {
    UniqueFd fd(::openat(parent, name.c_str(), flags | O_NOFOLLOW | O_CLOEXEC));
    if (!fd) refuse_errno(h, "open what was made for");
    struct stat st;
    if (::fstat(fd.get(), &st) != 0) refuse_errno(h, "read what was made for");
    if ((st.st_mode & S_IFMT) != type)
      fail("{} in {} was replaced while {} was extracted there: copy again once nothing else writes there",
           h.path, shown(into_), what_);
    return fd;
  }

  // Owner, then mode (chown clears setuid bits), of an opened file or directory.
  void set_owner_and_mode(const TarHeader& h, int fd) {
    if (::fchown(fd, uid_of(h), gid_of(h)) != 0 && ::geteuid() == 0) refuse_errno(h, "set the owner of");
    if (::fchmod(fd, h.mode & 07777) != 0) refuse_errno(h, "set the mode of");
  }

  // The same for an O_PATH descriptor (a device, a FIFO or a symlink, none
  // of which may be opened for real): chmod through /proc/self/fd reaches
  // that very inode; a symlink's mode is never set (that would be its
  // target's).
  void set_path_metadata(const TarHeader& h, int fd, bool symlink) {
    if (::fchownat(fd, "", uid_of(h), gid_of(h), AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) != 0 &&
        ::geteuid() == 0)
      refuse_errno(h, "set the owner of");
    if (!symlink && ::chmod(fmt::format("/proc/self/fd/{}", fd).c_str(), h.mode & 07777) != 0)
      refuse_errno(h, "set the mode of");
    timespec times[2] = {{h.mtime, 0}, {h.mtime, 0}};
    ::utimensat(fd, "", times, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW);
  }

  void extract(const TarHeader& h) {
    std::vector<std::string> parts = split_name(h, h.path);
    if (parts.empty()) return;  // the destination itself
    UniqueFd parent = parent_of(h, parts);
    const std::string& name = parts.back();
    switch (h.type) {
      case TarHeader::Type::directory: {
        if (!clear_way(h, parent.get(), name, true) && ::mkdirat(parent.get(), name.c_str(), 0700) != 0)
          refuse_errno(h, "create");
        UniqueFd dir = open_made(h, parent.get(), name, S_IFDIR, O_RDONLY | O_DIRECTORY);
        set_owner_and_mode(h, dir.get());
        directory_times_.emplace_back(parts, h.mtime);
        return;
      }
      case TarHeader::Type::file: {
        clear_way(h, parent.get(), name, false);
        UniqueFd file(
            ::openat(parent.get(), name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
        if (!file) refuse_errno(h, "create");
        char buffer[128 * 1024];
        for (;;) {
          size_t n = tar_.read(buffer, sizeof buffer);
          if (n == 0) break;
          write_all(file.get(), std::string_view(buffer, n), h.path);
        }
        set_owner_and_mode(h, file.get());
        // After the owner: chown drops a file's capabilities.
        for (const auto& [key, value] : h.xattrs) {
          if (key == "security.capability" || key.starts_with("user."))
            ::fsetxattr(file.get(), key.c_str(), value.data(), value.size(), 0);
        }
        timespec times[2] = {{h.mtime, 0}, {h.mtime, 0}};
        ::futimens(file.get(), times);
        return;
      }
      case TarHeader::Type::symlink: {
        if (h.link_target.empty()) refuse(h, "is a symlink to nothing");
        clear_way(h, parent.get(), name, false);
        if (::symlinkat(h.link_target.c_str(), parent.get(), name.c_str()) != 0) refuse_errno(h, "create");
        set_path_metadata(h, open_made(h, parent.get(), name, S_IFLNK).get(), true);
        return;
      }
      case TarHeader::Type::hardlink: {
        std::vector<std::string> target = split_name(h, h.link_target);
        if (target.empty()) refuse(h, "is a hardlink to the destination itself");
        std::vector<std::string> up(target.begin(), target.end() - 1);
        UniqueFd target_dir(open_parent(up, false));
        if (!target_dir)
          refuse(h, fmt::format("is a hardlink to \"{}\", which is not in the archive", h.link_target));
        clear_way(h, parent.get(), name, false);
        if (::linkat(target_dir.get(), target.back().c_str(), parent.get(), name.c_str(), 0) != 0)
          refuse_errno(h, "link");
        return;
      }
      case TarHeader::Type::fifo:
      case TarHeader::Type::char_device:
      case TarHeader::Type::block_device: {
        clear_way(h, parent.get(), name, false);
        mode_t type = h.type == TarHeader::Type::fifo          ? S_IFIFO
                      : h.type == TarHeader::Type::char_device ? S_IFCHR
                                                               : S_IFBLK;
        if (::mknodat(parent.get(), name.c_str(), type | (h.mode & 07777),
                      makedev(h.dev_major, h.dev_minor)) != 0)
          refuse_errno(h, "create");
        set_path_metadata(h, open_made(h, parent.get(), name, type).get(), false);
        return;
      }
    }
  }

  TarReader tar_;
  std::string what_;
  const TreePath& into_;
  const ExtractOptions& options_;
  UniqueFd base_;
  std::vector<std::pair<std::vector<std::string>, int64_t>> directory_times_;
};

// A tar stream from one thread to another through a socket pair (send never
// raises SIGPIPE when the reader gave up).
void pipe_archive(const std::function<void(TarWriter&)>& produce,
                  const std::function<void(ByteReader&)>& consume) {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) fail_errno("cannot make a socket pair");
  UniqueFd reader(fds[0]);
  UniqueFd writer(fds[1]);
  std::exception_ptr produced_error;
  bool passing_on_failed = false;  // the reader gave up first
  std::thread producer([&] {
    try {
      TarWriter tar([&](std::string_view data) {
        while (!data.empty()) {
          ssize_t n = ::send(writer.get(), data.data(), data.size(), MSG_NOSIGNAL);
          if (n < 0 && errno == EINTR) continue;
          if (n < 0) {
            passing_on_failed = true;
            fail_errno("cannot pass the archive on");
          }
          data.remove_prefix(static_cast<size_t>(n));
        }
      });
      produce(tar);
      tar.finish();
    } catch (...) {
      produced_error = std::current_exception();
    }
    ::shutdown(writer.get(), SHUT_WR);
  });
  std::exception_ptr consumed_error;
  try {
    FdReader in(reader.get(), "the archive");
    consume(in);
  } catch (...) {
    consumed_error = std::current_exception();
  }
  ::shutdown(reader.get(), SHUT_RDWR);
  producer.join();
  // The error that came first: the producer's own, unless it only found
  // the consumer gone (then the consumer's says why).
  if (produced_error && !(passing_on_failed && consumed_error)) std::rethrow_exception(produced_error);
  if (consumed_error) std::rethrow_exception(consumed_error);
}

}  // namespace

std::string cp_base_name(const std::string& path) {
  if (has_trailing_dot(path)) return ".";
  std::string p = clean_path(path);
  return p == "/" ? "" : base_name(p);
}

PathInfo stat_tree_path(const TreePath& at, bool follow_link) {
  PathInfo info;
  UniqueFd fd(resolve(at, follow_link));
  if (!fd) {
    if (errno == ENOENT) return info;
    if (errno == ENOTDIR && !names_a_directory(at.path)) return info;
    if (errno == ENOTDIR) fail("{} is not a directory", shown(at));
    fail_resolve(at, errno);
  }
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) fail_errno(fmt::format("cannot read {}", shown(at)));
  info.exists = true;
  info.is_dir = S_ISDIR(st.st_mode);
  if (!info.is_dir && names_a_directory(at.path)) fail("{} is not a directory", shown(at));
  return info;
}

void archive_tree_path(const TreePath& at, bool follow_link, const std::string& top, TarWriter& tar) {
  UniqueFd fd(resolve(at, follow_link));
  if (!fd) fail_resolve(at, errno);
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) fail_errno(fmt::format("cannot read {}", shown(at)));
  Archiver(tar, at).run(fd.get(), st, top, clean_path(at.path));
}

void extract_archive(ByteReader& tar, const std::string& tar_what, const TreePath& into,
                     const ExtractOptions& options) {
  ArchiveExtractor(tar, tar_what, into, options).run();
}

void copy_tree_path(const TreePath& from, const TreePath& to, bool follow_link,
                    std::optional<std::pair<uid_t, gid_t>> owner) {
  PathInfo source = stat_tree_path(from, follow_link);
  if (!source.exists) fail("{} does not exist", shown(from));
  PathInfo dest = stat_tree_path(to, true);
  std::string top;
  TreePath into = to;
  std::string source_name = cp_base_name(from.path);
  if (dest.exists && dest.is_dir) {
    top = source.is_dir && (source_name == "." || source_name.empty()) ? "." : source_name;
  } else if (dest.exists) {
    if (source.is_dir) fail("cannot copy the directory {} to {}: it is a file", shown(from), shown(to));
    into.path = dir_name(clean_path(to.path));
    top = base_name(clean_path(to.path));
  } else {
    if (to.path.ends_with('/') && !source.is_dir)
      fail("the directory {} does not exist: create it first, or name the file without a trailing /",
           shown(to));
    into.path = dir_name(clean_path(to.path));
    top = base_name(clean_path(to.path));
    PathInfo parent = stat_tree_path(into, true);
    if (!parent.exists || !parent.is_dir)
      fail("the directory {} does not exist: create it first", shown(into));
  }
  ExtractOptions options;
  options.owner = owner;
  // A copy onto the host that fails takes away what it made.
  std::optional<std::string> made;
  if (!to.container && top != ".") {
    TreePath target = into;
    std::string dir = clean_path(into.path);
    target.path = (dir == "/" ? "" : dir) + "/" + top;
    if (!stat_tree_path(target, false).exists) made = target.path;
  }
  try {
    pipe_archive([&](TarWriter& tar) { archive_tree_path(from, follow_link, top, tar); },
                 [&](ByteReader& in) { extract_archive(in, "the copy of " + shown(from), into, options); });
  } catch (...) {
    try {
      if (made) remove_tree(*made);
    } catch (const Error&) {
      // The copy's own error says more.
    }
    throw;
  }
}

void copy_archive_into(ByteReader& tar, const TreePath& to, std::optional<std::pair<uid_t, gid_t>> owner) {
  PathInfo dest = stat_tree_path(to, true);
  if (!dest.exists || !dest.is_dir)
    fail("{} must be an existing directory to extract a tar stream into", shown(to));
  ExtractOptions options;
  options.owner = owner;
  extract_archive(tar, "the tar stream on standard input", to, options);
}

void copy_tree_path_to_archive(const TreePath& from, bool follow_link, TarWriter& tar) {
  PathInfo source = stat_tree_path(from, follow_link);
  if (!source.exists) fail("{} does not exist", shown(from));
  std::string top = cp_base_name(from.path);
  if (top.empty()) top = ".";
  archive_tree_path(from, follow_link, top, tar);
  tar.finish();
}

}  // namespace gocrate
