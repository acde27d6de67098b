#include "unpack/rootfs_copy.h"

#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cstdlib>

#include "util/error.h"
#include "util/fs.h"

namespace gocrate {

namespace {

constexpr std::string_view kProbeFile = "overlay-check";

// Mounts an overlay of `lower` in a child's private mount namespace: "ok" or
// the reason it failed.
// Every directory of a probe is its own: probes of gocrates started at once
// must not remove what another one mounts.
std::string probe_overlay(const std::string& layers_dir) {
  TempDir work = TempDir::held(layers_dir + "/tmp", "overlay-probe.");
  std::string lower = work.path() + "/lower", upper = work.path() + "/upper", wd = work.path() + "/work",
              mnt = work.path() + "/mnt";
  for (const auto& d : {lower, upper, wd, mnt}) make_directories(d);
  pid_t pid = ::fork();
  if (pid < 0) fail_errno("cannot fork to probe overlayfs");
  if (pid == 0) {
    if (::unshare(CLONE_NEWNS) != 0) ::_exit(100);
    ::mount(nullptr, "/", nullptr, MS_SLAVE | MS_REC, nullptr);
    std::string options = "lowerdir=" + lower + ",upperdir=" + upper + ",workdir=" + wd;
    ::_exit(::mount("overlay", mnt.c_str(), "overlay", 0, options.c_str()) == 0 ? 0 : errno);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return "ok";
  int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  if (code == 100) return "unsupported: cannot create a mount namespace";
  return "unsupported: mounting an overlay on " + layers_dir + " failed: " + errno_text(code);
}

void copy_metadata(int fd, const struct stat& st) {
  if (::fchown(fd, st.st_uid, st.st_gid) != 0 && ::geteuid() == 0) fail_errno("cannot set an owner");
  if (::fchmod(fd, st.st_mode & 07777) != 0) fail_errno("cannot set a mode");
}

void copy_file(int src_dir, int dst_dir, const char* name, const struct stat& st) {
  UniqueFd in(::openat(src_dir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!in) fail_errno(fmt::format("cannot open {}", name));
  UniqueFd out(::openat(dst_dir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!out) fail_errno(fmt::format("cannot create {}", name));
  off_t remaining = st.st_size;
  while (remaining > 0) {
    ssize_t n = ::copy_file_range(in.get(), nullptr, out.get(), nullptr, remaining, 0);
    if (n <= 0) {
      if (n < 0 && (errno == EXDEV || errno == EINVAL || errno == ENOSYS)) {
        write_all(out.get(), read_fd(in.get()), name);
        break;
      }
      fail_errno(fmt::format("cannot copy {}", name));
    }
    remaining -= n;
  }
  copy_metadata(out.get(), st);
  timespec times[2] = {st.st_atim, st.st_mtim};
  ::futimens(out.get(), times);
}

void remove_entry(int dir, const char* name) {
  struct stat st;
  if (::fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) != 0) return;
  if (!S_ISDIR(st.st_mode)) {
    if (::unlinkat(dir, name, 0) != 0) fail_errno(fmt::format("cannot remove {}", name));
    return;
  }
  std::string path = fmt::format("/proc/self/fd/{}/{}", dir, name);
  remove_tree(path);
}

bool is_opaque(int dir_fd) {
  char value[2] = {};
  return ::fgetxattr(dir_fd, "trusted.overlay.opaque", value, sizeof value) == 1 && value[0] == 'y';
}

void merge_directory(int src, int dst) {
  UniqueFd listing(::fcntl(src, F_DUPFD_CLOEXEC, 0));
  DIR* dir = ::fdopendir(listing.release());
  if (!dir) fail_errno("cannot list a layer directory");
  std::vector<std::string> names;
  while (dirent* entry = ::readdir(dir)) {
    std::string_view n = entry->d_name;
    if (n != "." && n != "..") names.emplace_back(n);
  }
  ::closedir(dir);
  for (const auto& name : names) {
    const char* n = name.c_str();
    struct stat st;
    if (::fstatat(src, n, &st, AT_SYMLINK_NOFOLLOW) != 0) fail_errno(fmt::format("cannot inspect {}", name));
    if (S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0)) {
      remove_entry(dst, n);  // a whiteout
      continue;
    }
    if (S_ISDIR(st.st_mode)) {
      UniqueFd from(::openat(src, n, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (!from) fail_errno(fmt::format("cannot open {}", name));
      struct stat existing;
      bool have = ::fstatat(dst, n, &existing, AT_SYMLINK_NOFOLLOW) == 0;
      if (have && (!S_ISDIR(existing.st_mode) || is_opaque(from.get()))) {
        remove_entry(dst, n);
        have = false;
      }
      if (!have && ::mkdirat(dst, n, 0700) != 0) fail_errno(fmt::format("cannot create {}", name));
      UniqueFd to(::openat(dst, n, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (!to) fail_errno(fmt::format("cannot open {}", name));
      copy_metadata(to.get(), st);
      merge_directory(from.get(), to.get());
      continue;
    }
    remove_entry(dst, n);
    if (S_ISREG(st.st_mode)) {
      copy_file(src, dst, n, st);
    } else if (S_ISLNK(st.st_mode)) {
      std::string target(st.st_size + 1, '\0');
      ssize_t len = ::readlinkat(src, n, target.data(), target.size());
      if (len < 0) fail_errno(fmt::format("cannot read link {}", name));
      target.resize(len);
      if (::symlinkat(target.c_str(), dst, n) != 0) fail_errno(fmt::format("cannot create link {}", name));
      ::fchownat(dst, n, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW);
    } else if (S_ISFIFO(st.st_mode)) {
      if (::mknodat(dst, n, S_IFIFO | (st.st_mode & 07777), 0) != 0)
        fail_errno(fmt::format("cannot create {}", name));
      ::fchownat(dst, n, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW);
    }
  }
}

}  // namespace

RootfsMethod rootfs_method(const std::string& layers_dir) {
  if (const char* forced = std::getenv("GOCRATE_ROOTFS"); forced && *forced) {
    std::string_view f = forced;
    if (f == "copy") return RootfsMethod::copy;
    if (f == "overlay") return RootfsMethod::overlay;
    fail("GOCRATE_ROOTFS=\"{}\" is not a root file system method: use overlay or copy", f);
  }
  std::string probe_path = layers_dir + "/" + std::string(kProbeFile);
  auto known = read_file_if_exists(probe_path);
  if (!known) {
    make_directories(layers_dir + "/tmp");
    remove_unheld_entries(layers_dir + "/tmp");
    std::string result = probe_overlay(layers_dir);
    write_file_atomic(probe_path, result + "\n");
    known = result;
  }
  return known->starts_with("ok") ? RootfsMethod::overlay : RootfsMethod::copy;
}

void copy_layers(const std::vector<std::string>& lower_dirs, const std::string& dest) {
  UniqueFd to = open_or_fail(dest, O_RDONLY | O_DIRECTORY);
  for (auto it = lower_dirs.rbegin(); it != lower_dirs.rend(); ++it) {
    UniqueFd from = open_or_fail(*it, O_RDONLY | O_DIRECTORY);
    try {
      merge_directory(from.get(), to.get());
    } catch (const Error& e) {
      fail("cannot copy layer {} into {}: {}", *it, dest, e.what());
    }
  }
  if (::chmod(dest.c_str(), 0755) != 0) fail_errno(fmt::format("cannot set the mode of {}", dest));
}

}  // namespace gocrate
