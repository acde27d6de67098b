#include "runtime/containment/mounts.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>

#include "util/error.h"
#include "util/fs.h"
#include "util/rooted_open.h"
#include "util/strings.h"

namespace gocrate {

namespace {

constexpr const char* kMaskedPaths[] = {
    "/proc/asound",
    "/proc/acpi",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
};
constexpr const char* kReadOnlyPaths[] = {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
                                          "/proc/sysrq-trigger"};

constexpr DeviceNode kDevices[] = {{"null", 1, 3},   {"zero", 1, 5},    {"full", 1, 7},
                                   {"random", 1, 8}, {"urandom", 1, 9}, {"tty", 5, 0}};

std::string fd_path(int fd) {
  return fmt::format("/proc/self/fd/{}", fd);
}

void mount_or_fail(const char* source, const std::string& target, const char* type, unsigned long flags,
                   const std::string& data, std::string_view what) {
  if (::mount(source, target.c_str(), type, flags, data.empty() ? nullptr : data.c_str()) != 0) {
    fail_errno(fmt::format("cannot mount {}", what));
  }
}

UniqueFd open_path_in_root(int root_fd, std::string_view path) {
  return UniqueFd(open_in_root(root_fd, path, O_PATH | O_NOFOLLOW));
}

void bind_read_only(const std::string& target, std::string_view what, unsigned long extra = 0) {
  mount_or_fail(nullptr, target, nullptr, MS_BIND | MS_REMOUNT | MS_RDONLY | extra, "", what);
}

// Adds nodev to the mount `mount_fd` is the root of and to every mount
// below it, keeping their other flags.
void add_nodev(int mount_fd, std::string_view what) {
  mount_attr attr{};
  attr.attr_set = MOUNT_ATTR_NODEV;
  if (::mount_setattr(mount_fd, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof attr) == 0) return;
  if (errno != ENOSYS) fail_errno(fmt::format("cannot make {} nodev", what));
  // Before Linux 5.12: the top mount only, by a remount that must repeat
  // the flags it keeps.
  struct statvfs fs;
  if (::fstatvfs(mount_fd, &fs) != 0) fail_errno(fmt::format("cannot inspect {}", what));
  unsigned long flags = MS_BIND | MS_REMOUNT | MS_NODEV;
  for (auto [from, to] : {std::pair{ST_RDONLY, MS_RDONLY},
                          {ST_NOSUID, MS_NOSUID},
                          {ST_NOEXEC, MS_NOEXEC},
                          {ST_NOATIME, MS_NOATIME},
                          {ST_NODIRATIME, MS_NODIRATIME},
                          {ST_RELATIME, MS_RELATIME}}) {
    if (fs.f_flag & from) flags |= to;
  }
  mount_or_fail(nullptr, fd_path(mount_fd), nullptr, flags, "", fmt::format("{} nodev", what));
}

unsigned long device_file_type(char type) {
  return type == 'b' ? S_IFBLK : S_IFCHR;
}

// mknod with the host node's mode and owner; false if `name` exists.
bool make_node(int dir_fd, const std::string& name, mode_t type, mode_t mode, dev_t device, uid_t uid,
               gid_t gid, std::string_view path) {
  if (::mknodat(dir_fd, name.c_str(), type | (mode & 07777), device) != 0) {
    if (errno == EEXIST) return false;
    fail_errno(fmt::format("cannot create device {} in the container", path));
  }
  if (::fchownat(dir_fd, name.c_str(), uid, gid, AT_SYMLINK_NOFOLLOW) != 0 ||
      ::fchmodat(dir_fd, name.c_str(), mode & 07777, 0) != 0) {
    fail_errno(fmt::format("cannot set the owner and mode of device {} in the container", path));
  }
  return true;
}

UniqueFd open_directory_in_root(int root_fd, const std::string& path) {
  UniqueFd dir(open_in_root(root_fd, path.empty() ? "/" : path, O_RDONLY | O_DIRECTORY));
  if (!dir) fail_errno(fmt::format("cannot open {} in the container", path.empty() ? "/" : path));
  return dir;
}

void make_mapped_device(int root_fd, const DeviceMapping& d) {
  // The numbers were read when the container was created (config.json):
  // a node that changed since (a reboot) is refused, not guessed at.
  UniqueFd source(::open(d.host_path.c_str(), O_PATH | O_CLOEXEC));
  struct stat st;
  if (!source || ::fstat(source.get(), &st) != 0)
    fail_errno(fmt::format("cannot open --device {}", d.host_path));
  if ((st.st_mode & S_IFMT) != device_file_type(d.type) || st.st_rdev != makedev(d.major, d.minor)) {
    fail("--device {}: {} is no longer the device {} {}:{}; create the container again", d.str(), d.host_path,
         d.type, d.major, d.minor);
  }
  std::string parent_path = dir_name(d.container_path);
  make_directories_in_root(root_fd, parent_path);
  UniqueFd parent = open_directory_in_root(root_fd, parent_path);
  std::string name = base_name(d.container_path);
  struct stat existing;
  bool exists = ::fstatat(parent.get(), name.c_str(), &existing, AT_SYMLINK_NOFOLLOW) == 0;
  if (exists && S_ISDIR(existing.st_mode)) {
    fail("cannot make --device {}: {} is a directory in the container", d.str(), d.container_path);
  }
  struct statvfs fs;
  if (::fstatvfs(parent.get(), &fs) != 0)
    fail_errno(fmt::format("cannot inspect {} in the container", parent_path));
  bool keep_file = exists && S_ISREG(existing.st_mode) && (fs.f_flag & ST_NODEV);
  if (exists && !keep_file && ::unlinkat(parent.get(), name.c_str(), 0) != 0) {
    fail_errno(fmt::format("cannot replace {} in the container with --device {}", d.container_path, d.str()));
  }
  if (!(fs.f_flag & ST_NODEV)) {
    make_node(parent.get(), name, device_file_type(d.type), d.mode, makedev(d.major, d.minor), d.uid, d.gid,
              d.container_path);
    return;
  }
  // A node on a nodev mount (the root, a volume) cannot be opened: the
  // host's node is bound there, with the mount flags of the host's /dev.
  if (!keep_file) {
    UniqueFd created(
        ::openat(parent.get(), name.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!created) fail_errno(fmt::format("cannot create {} in the container for --device", d.container_path));
  }
  UniqueFd target(::openat(parent.get(), name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
  if (!target) fail_errno(fmt::format("cannot open {} in the container", d.container_path));
  mount_or_fail(fd_path(source.get()).c_str(), fd_path(target.get()), nullptr, MS_BIND, "",
                fmt::format("--device {} on {}", d.host_path, d.container_path));
}

// The host's /dev/<relative> (open as `host_dir`) copied into the
// container's, device nodes only.
void copy_host_devices(int root_fd, int host_dir, const std::string& relative) {
  DIR* dir = ::fdopendir(::fcntl(host_dir, F_DUPFD_CLOEXEC, 0));
  if (!dir) fail_errno(fmt::format("cannot read the host's /dev{}", relative));
  std::vector<std::string> names;
  while (dirent* entry = ::readdir(dir)) names.emplace_back(entry->d_name);
  ::closedir(dir);
  UniqueFd target;  // the container's /dev/<relative>, made at the first node
  for (const auto& name : names) {
    if (name == "." || name == "..") continue;
    if (relative.empty() && (name == "pts" || name == "shm" || name == "mqueue")) continue;
    struct stat st;
    if (::fstatat(host_dir, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) continue;  // gone meanwhile
    std::string path = relative + "/" + name;
    if (S_ISDIR(st.st_mode)) {
      UniqueFd sub(::openat(host_dir, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (sub) copy_host_devices(root_fd, sub.get(), path);
      continue;
    }
    if (!S_ISCHR(st.st_mode) && !S_ISBLK(st.st_mode)) continue;
    if (!target) {
      make_directories_in_root(root_fd, "/dev" + relative);
      target = open_directory_in_root(root_fd, "/dev" + relative);
    }
    make_node(target.get(), name, st.st_mode & S_IFMT, st.st_mode, st.st_rdev, st.st_uid, st.st_gid,
              "/dev" + path);
  }
}

void mount_dev(int root_fd, uint64_t shm_bytes) {
  UniqueFd dev = open_path_in_root(root_fd, "/dev");
  if (!dev) fail_errno("cannot open /dev in the container");
  mount_or_fail("tmpfs", fd_path(dev.get()), "tmpfs", MS_NOSUID | MS_STRICTATIME, "mode=755,size=65536k",
                "/dev in the container");
  UniqueFd dev_dir(open_in_root(root_fd, "/dev", O_RDONLY | O_DIRECTORY));
  if (!dev_dir) fail_errno("cannot open the container's /dev");
  int d = dev_dir.get();
  for (const auto& node : kDevices) {
    if (::mknodat(d, node.name, S_IFCHR | 0666, makedev(node.major, node.minor)) != 0 ||
        ::fchmodat(d, node.name, 0666, 0) != 0) {
      fail_errno(fmt::format("cannot create /dev/{} in the container", node.name));
    }
  }
  for (auto [name, mode] : {std::pair{"pts", 0755}, {"shm", 01777}, {"mqueue", 01777}}) {
    if (::mkdirat(d, name, mode) != 0)
      fail_errno(fmt::format("cannot create /dev/{} in the container", name));
  }
  for (auto [name, target] : {std::pair{"ptmx", "pts/ptmx"},
                              {"fd", "/proc/self/fd"},
                              {"stdin", "/proc/self/fd/0"},
                              {"stdout", "/proc/self/fd/1"},
                              {"stderr", "/proc/self/fd/2"},
                              {"core", "/proc/kcore"}}) {
    if (::symlinkat(target, d, name) != 0)
      fail_errno(fmt::format("cannot create /dev/{} in the container", name));
  }
  auto sub = [&](const char* name) {
    UniqueFd fd(::openat(d, name, O_PATH | O_NOFOLLOW | O_DIRECTORY | O_CLOEXEC));
    if (!fd) fail_errno(fmt::format("cannot open /dev/{} in the container", name));
    return fd;
  };
  UniqueFd pts = sub("pts");
  mount_or_fail("devpts", fd_path(pts.get()), "devpts", MS_NOSUID | MS_NOEXEC,
                "newinstance,ptmxmode=0666,mode=0620,gid=5", "/dev/pts in the container");
  UniqueFd shm = sub("shm");
  mount_or_fail("shm", fd_path(shm.get()), "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
                fmt::format("mode=1777,size={}", shm_bytes), "/dev/shm in the container");
}

}  // namespace

std::span<const char* const> masked_kernel_paths() {
  return kMaskedPaths;
}

std::span<const char* const> read_only_kernel_paths() {
  return kReadOnlyPaths;
}

std::span<const DeviceNode> standard_device_nodes() {
  return kDevices;
}

void check_volume_sources(const std::vector<VolumeMount>& volumes, const std::string& store_root) {
  if (volumes.empty()) return;
  std::error_code error;
  auto store = std::filesystem::weakly_canonical(store_root, error);
  if (error) return;
  for (const auto& v : volumes) {
    if (v.type == MountType::tmpfs) continue;
    if (v.type == MountType::volume) {
      if (v.source != store_root + "/volumes/" + v.volume_name + "/_data") {
        fail("volume {} on {}: its source {} is not the volume's directory in the store {}", v.volume_name,
             v.target, v.source, store_root);
      }
      continue;
    }
    auto source = std::filesystem::weakly_canonical(v.source, error);
    if (error) continue;
    auto [end, _] = std::mismatch(store.begin(), store.end(), source.begin(), source.end());
    if (end == store.end()) {
      fail(
          "bad -v {}:{}: {} is gocrate's store (or inside it), which no container may reach; mount "
          "another directory",
          v.source, v.target, v.source);
    }
  }
}

void mount_sys(int root_fd, bool read_only) {
  UniqueFd sys = open_path_in_root(root_fd, "/sys");
  if (!sys) fail_errno("cannot open /sys in the container");
  unsigned long flags = MS_NOSUID | MS_NODEV | MS_NOEXEC | (read_only ? MS_RDONLY : 0);
  if (::mount("sysfs", fd_path(sys.get()).c_str(), "sysfs", flags, nullptr) == 0) return;
  // sysfs of the host's network namespace (--network host) may not be
  // mountable again; a read-only bind of the host's /sys shows the same.
  mount_or_fail("/sys", fd_path(sys.get()), nullptr, MS_BIND | MS_REC, "", "/sys in the container");
  if (read_only)
    bind_read_only(fd_path(sys.get()), "/sys read-only in the container", MS_NOSUID | MS_NODEV | MS_NOEXEC);
}

void mount_mqueue(int root_fd) {
  UniqueFd mqueue = open_path_in_root(root_fd, "/dev/mqueue");
  if (!mqueue) fail_errno("cannot open /dev/mqueue in the container");
  mount_or_fail("mqueue", fd_path(mqueue.get()), "mqueue", MS_NOSUID | MS_NODEV | MS_NOEXEC, "",
                "/dev/mqueue in the container");
}

void make_mounts_private() {
  if (::mount(nullptr, "/", nullptr, MS_SLAVE | MS_REC, nullptr) != 0) {
    fail_errno("cannot make the container's mounts private");
  }
}

void mount_rootfs(const RootfsPlan& plan, bool read_only) {
  if (!plan.copy_dir.empty()) {
    mount_or_fail(plan.copy_dir.c_str(), plan.mount_point, nullptr, MS_BIND | MS_REC, "",
                  "the container's root");
    // nodev, as the overlay root is.
    UniqueFd root = open_or_fail(plan.mount_point, O_PATH | O_DIRECTORY);
    add_nodev(root.get(), "the container's root");
    return;
  }
  if (!plan.scratch_dir.empty()) {
    mount_or_fail("tmpfs", plan.scratch_dir, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0700",
                  "the container's scratch space");
    for (const auto& [dir, mode] :
         {std::pair{plan.mount_point, 0755}, {plan.upper_dir, 0755}, {plan.work_dir, 0700}}) {
      if (!dir.empty() && ::mkdir(dir.c_str(), mode) != 0) fail_errno(fmt::format("cannot create {}", dir));
    }
  }
  // Lower directories relative to the layer cache keep the option string
  // short: mount(2) takes at most one page of options.
  if (::chdir(plan.layers_dir.c_str()) != 0) fail_errno(fmt::format("cannot enter {}", plan.layers_dir));
  std::string options = "lowerdir=" + join(plan.lower_dirs, ":");
  if (!plan.upper_dir.empty()) options += ",upperdir=" + plan.upper_dir + ",workdir=" + plan.work_dir;
  unsigned long flags = MS_NODEV | (read_only ? MS_RDONLY : 0);
  if (options.size() >= 4096)
    fail("the image has too many layers for one overlay mount ({})", plan.lower_dirs.size());
  mount_or_fail("overlay", plan.mount_point, "overlay", flags, options, "the container's root (overlay)");
}

void mount_proc_and_dev(int root_fd, uint64_t shm_bytes) {
  UniqueFd proc = open_path_in_root(root_fd, "/proc");
  if (!proc) fail_errno("cannot open /proc in the container");
  mount_or_fail("proc", fd_path(proc.get()), "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, "",
                "/proc in the container");
  mount_dev(root_fd, shm_bytes);
}

std::optional<uint64_t> parse_shm_size(std::string_view text) {
  std::string lower;
  for (char c : text) lower += static_cast<char>(tolower(static_cast<unsigned char>(c)));
  // Docker's units also read "64MiB" and "64mb".
  bool binary_unit = lower.size() > 3 && lower.ends_with("ib") &&
                     std::string_view("kmgt").find(lower[lower.size() - 3]) != std::string_view::npos;
  if (binary_unit) lower.erase(lower.size() - 2);
  uint64_t bytes = 0;
  if (!parse_byte_size(lower, bytes) || bytes == 0) return std::nullopt;
  return bytes;
}

void mask_kernel_paths(int root_fd) {
  UniqueFd null_device = open_path_in_root(root_fd, "/dev/null");
  if (!null_device) fail_errno("cannot open the container's /dev/null");
  for (const char* path : kMaskedPaths) {
    UniqueFd target = open_path_in_root(root_fd, path);
    if (!target) continue;  // this kernel does not have it
    struct stat st;
    if (::fstat(target.get(), &st) != 0) continue;
    if (S_ISDIR(st.st_mode)) {
      mount_or_fail("tmpfs", fd_path(target.get()), "tmpfs", MS_RDONLY, "",
                    fmt::format("a mask over {}", path));
    } else {
      mount_or_fail(fd_path(null_device.get()).c_str(), fd_path(target.get()), nullptr, MS_BIND, "",
                    fmt::format("a mask over {}", path));
    }
  }
  for (const char* path : kReadOnlyPaths) {
    UniqueFd target = open_path_in_root(root_fd, path);
    if (!target) continue;
    std::string where = fd_path(target.get());
    mount_or_fail(where.c_str(), where, nullptr, MS_BIND | MS_REC, "", fmt::format("{} read-only", path));
    // The descriptor still names what lies under the new mount: reopen.
    UniqueFd mounted = open_path_in_root(root_fd, path);
    bind_read_only(fd_path(mounted.get()), fmt::format("{} read-only", path),
                   MS_NOSUID | MS_NODEV | MS_NOEXEC);
  }
}

void make_directories_in_root(int root_fd, const std::string& path) {
  std::string walked;
  for (const auto& part : split(path, '/')) {
    if (part.empty() || part == ".") continue;
    walked += "/" + part;
    UniqueFd existing(open_in_root(root_fd, walked, O_PATH));
    if (existing) continue;
    if (errno != ENOENT) fail_errno(fmt::format("cannot open {} in the container", walked));
    std::string parent = dir_name(walked);
    UniqueFd parent_fd(open_in_root(root_fd, parent.empty() ? "/" : parent, O_RDONLY | O_DIRECTORY));
    if (!parent_fd) fail_errno(fmt::format("cannot open {} in the container", parent));
    if (::mkdirat(parent_fd.get(), part.c_str(), 0755) != 0 && errno != EEXIST) {
      fail_errno(fmt::format("cannot create {} in the container", walked));
    }
  }
}

namespace {

constexpr int kMaxCopyDepth = 256;

void copy_owner_mode_times(int fd, const struct stat& st, std::string_view path) {
  if (::fchown(fd, st.st_uid, st.st_gid) != 0 || ::fchmod(fd, st.st_mode & 07777) != 0)
    fail_errno(fmt::format("cannot set the owner and mode of {} in the volume", path));
  timespec times[2] = {st.st_atim, st.st_mtim};
  ::futimens(fd, times);
}

void copy_file_content(int from, int to, std::string_view path) {
  for (;;) {
    ssize_t n = ::copy_file_range(from, nullptr, to, nullptr, 1 << 30, 0);
    if (n == 0) return;
    if (n > 0) continue;
    if (errno == EINTR) continue;
    if (errno != EXDEV && errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP)
      fail_errno(fmt::format("cannot copy {} into the volume", path));
    break;
  }
  char buffer[65536];
  for (;;) {
    ssize_t n = ::read(from, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail_errno(fmt::format("cannot read {} from the image", path));
    if (n == 0) return;
    write_all(to, std::string_view(buffer, n), fmt::format("{} in the volume", path));
  }
}

// Copies the entries of the image's directory `from` into the volume's
// directory `to`: directories, regular files, symbolic links (as links) and
// FIFOs, with their owners, modes and times. Nothing is followed, on either
// side: every step is openat with O_NOFOLLOW relative to a directory
// already open, so neither the image nor a container writing into the
// volume meanwhile can lead the copy outside it.
void copy_tree(int from, int to, const std::string& path, int depth) {
  if (depth > kMaxCopyDepth) fail("cannot fill the volume from {}: directories nested too deep", path);
  DIR* dir = ::fdopendir(::fcntl(from, F_DUPFD_CLOEXEC, 0));
  if (!dir) fail_errno(fmt::format("cannot read {} in the image", path));
  std::vector<std::string> names;
  while (dirent* entry = ::readdir(dir)) {
    std::string_view name = entry->d_name;
    if (name != "." && name != "..") names.emplace_back(name);
  }
  ::closedir(dir);
  for (const auto& name : names) {
    std::string sub = path + "/" + name;
    struct stat st;
    if (::fstatat(from, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0)
      fail_errno(fmt::format("cannot inspect {} in the image", sub));
    if (S_ISDIR(st.st_mode)) {
      if (::mkdirat(to, name.c_str(), 0700) != 0)
        fail_errno(fmt::format("cannot create {} in the volume", sub));
      UniqueFd src(::openat(from, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      UniqueFd dst(::openat(to, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (!src || !dst) fail_errno(fmt::format("cannot open {} to fill the volume", sub));
      copy_tree(src.get(), dst.get(), sub, depth + 1);
      copy_owner_mode_times(dst.get(), st, sub);
    } else if (S_ISREG(st.st_mode)) {
      UniqueFd src(::openat(from, name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
      if (!src) fail_errno(fmt::format("cannot open {} in the image", sub));
      UniqueFd dst(::openat(to, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
      if (!dst) fail_errno(fmt::format("cannot create {} in the volume", sub));
      copy_file_content(src.get(), dst.get(), sub);
      copy_owner_mode_times(dst.get(), st, sub);
    } else if (S_ISLNK(st.st_mode)) {
      std::string link(static_cast<size_t>(st.st_size) + 1, '\0');
      ssize_t n = ::readlinkat(from, name.c_str(), link.data(), link.size());
      if (n < 0 || static_cast<size_t>(n) >= link.size())
        fail_errno(fmt::format("cannot read the link {} in the image", sub));
      link.resize(n);
      if (::symlinkat(link.c_str(), to, name.c_str()) != 0 ||
          ::fchownat(to, name.c_str(), st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) != 0) {
        fail_errno(fmt::format("cannot create the link {} in the volume", sub));
      }
      timespec times[2] = {st.st_atim, st.st_mtim};
      ::utimensat(to, name.c_str(), times, AT_SYMLINK_NOFOLLOW);
    } else if (S_ISFIFO(st.st_mode)) {
      if (::mkfifoat(to, name.c_str(), 0600) != 0 ||
          ::fchownat(to, name.c_str(), st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) != 0 ||
          ::fchmodat(to, name.c_str(), st.st_mode & 07777, 0) != 0) {
        fail_errno(fmt::format("cannot create {} in the volume", sub));
      }
    }
    // Device nodes and sockets are not copied: a volume is nodev, and a
    // socket is nothing without its server.
  }
}

bool directory_is_empty(int fd) {
  DIR* dir = ::fdopendir(::fcntl(fd, F_DUPFD_CLOEXEC, 0));
  if (!dir) fail_errno("cannot read the volume");
  bool empty = true;
  while (dirent* entry = ::readdir(dir)) {
    std::string_view name = entry->d_name;
    if (name != "." && name != "..") {
      empty = false;
      break;
    }
  }
  ::closedir(dir);
  return empty;
}

// Docker's first mount of a volume: an empty volume takes the image's
// content at the target, and the owner and mode of the target directory.
void fill_volume_from_image(int root_fd, const VolumeMount& v) {
  UniqueFd volume(::open(v.source.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!volume) fail_errno(fmt::format("cannot open volume {} at {}", v.volume_name, v.source));
  // Two containers starting with the same new volume copy once.
  lock_file(volume.get(), LockMode::exclusive, "volume " + v.volume_name);
  if (!directory_is_empty(volume.get())) return;
  UniqueFd image_dir(open_in_root(root_fd, v.target, O_RDONLY | O_DIRECTORY));
  if (!image_dir) {
    if (errno == ENOENT || errno == ENOTDIR || errno == ELOOP) return;  // nothing there to copy
    fail_errno(fmt::format("cannot open {} in the image to fill volume {}", v.target, v.volume_name));
  }
  struct stat st;
  if (::fstat(image_dir.get(), &st) != 0) fail_errno(fmt::format("cannot inspect {} in the image", v.target));
  copy_tree(image_dir.get(), volume.get(), v.target, 0);
  copy_owner_mode_times(volume.get(), st, v.volume_name);
}

void set_propagation(const std::string& where, const std::string& propagation, std::string_view what) {
  unsigned long flags = 0;
  if (propagation == "rprivate") flags = MS_PRIVATE | MS_REC;
  if (propagation == "private") flags = MS_PRIVATE;
  if (propagation == "rslave") flags = MS_SLAVE | MS_REC;
  if (propagation == "slave") flags = MS_SLAVE;
  if (flags == 0) return;
  mount_or_fail(nullptr, where, nullptr, flags, "", fmt::format("{} {}", what, propagation));
}

std::string describe(const VolumeMount& v) {
  switch (v.type) {
    case MountType::volume:
      return fmt::format("volume {} on {}", v.volume_name, v.target);
    case MountType::tmpfs:
      return fmt::format("tmpfs on {}", v.target);
    case MountType::bind:
      break;
  }
  return fmt::format("volume {} on {}", v.source, v.target);
}

}  // namespace

std::string resolve_in_root(int root_fd, const std::string& path) {
  std::vector<std::string> todo;
  auto push_reversed = [&todo](std::string_view text) {
    auto parts = split(text, '/');
    todo.insert(todo.end(), parts.rbegin(), parts.rend());
  };
  push_reversed(path);
  std::vector<std::string> done;
  int links = 0;
  while (!todo.empty()) {
    std::string part = std::move(todo.back());
    todo.pop_back();
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      if (!done.empty()) done.pop_back();
      continue;
    }
    UniqueFd parent(open_in_root(root_fd, "/" + join(done, "/"), O_PATH | O_DIRECTORY));
    char target[4096];
    ssize_t n = parent ? ::readlinkat(parent.get(), part.c_str(), target, sizeof target) : -1;
    if (n <= 0 || n == static_cast<ssize_t>(sizeof target)) {
      done.push_back(std::move(part));
      continue;
    }
    if (++links > 40) fail("cannot resolve {} in the container: too many levels of symbolic links", path);
    std::string_view link(target, n);
    if (link.starts_with('/')) done.clear();
    push_reversed(link);
  }
  return "/" + join(done, "/");
}

void mount_volumes(int root_fd, const std::vector<VolumeMount>& volumes, bool create_targets) {
  // From the image's own content, before anything is mounted over it.
  for (const auto& v : volumes) {
    if (v.type == MountType::volume && !v.no_copy) fill_volume_from_image(root_fd, v);
  }
  for (const auto& v : volumes) {
    std::string what = describe(v);
    UniqueFd source;
    bool directory = true;
    if (v.type != MountType::tmpfs) {
      source.reset(::open(v.source.c_str(), O_PATH | O_CLOEXEC));
      if (!source) fail_errno(fmt::format("cannot open the source of {}", what));
      struct stat st;
      if (::fstat(source.get(), &st) != 0) fail_errno(fmt::format("cannot inspect the source of {}", what));
      directory = S_ISDIR(st.st_mode);
    }
    // A symbolic link in the image is followed as Docker does, inside the
    // root; /proc, /sys and /dev are mounted after the volumes and cover
    // whatever a link led there.
    UniqueFd target(open_in_root(root_fd, v.target, O_PATH));
    if (!target && errno == ENOENT && create_targets) {
      std::string place = resolve_in_root(root_fd, v.target);
      if (directory) {
        make_directories_in_root(root_fd, place);
      } else {
        make_directories_in_root(root_fd, dir_name(place));
        UniqueFd parent(open_in_root(root_fd, dir_name(place), O_RDONLY | O_DIRECTORY));
        UniqueFd created(parent ? ::openat(parent.get(), base_name(place).c_str(),
                                           O_CREAT | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644)
                                : -1);
      }
      target.reset(open_in_root(root_fd, v.target, O_PATH));
    }
    if (!target) {
      if (errno == ENOENT) {
        fail(
            "cannot mount {}: {} does not exist in the read-only container; create it in the image or drop "
            "--read-only",
            what, v.target);
      }
      if (errno == ELOOP) {
        fail("cannot mount {}: {} is a symbolic link in the image; mount on the path it leads to", what,
             v.target);
      }
      fail_errno(fmt::format("cannot open the target of {} in the container", what));
    }
    std::string where = fd_path(target.get());
    if (v.type == MountType::tmpfs) {
      mount_or_fail("tmpfs", where, "tmpfs", v.tmpfs_flags | MS_NODEV, v.tmpfs_data, what);
      continue;
    }
    unsigned long recursive = v.nonrecursive ? 0 : MS_REC;
    mount_or_fail(fd_path(source.get()).c_str(), where, nullptr, MS_BIND | recursive, "", what);
    // Reopen: the fd still names the directory under the new mount.
    UniqueFd mounted(open_in_root(root_fd, v.target, O_PATH));
    if (!mounted) fail_errno(fmt::format("cannot open {} in the container", what));
    std::string mounted_path = fd_path(mounted.get());
    set_propagation(mounted_path, v.propagation, what);
    if (v.read_only) bind_read_only(mounted_path, fmt::format("{} read-only", what));
    add_nodev(mounted.get(), what);
  }
}

void replace_dev_shm(int root_fd, bool host) {
  UniqueFd shm = open_path_in_root(root_fd, "/dev/shm");
  if (!shm) fail_errno("cannot open /dev/shm in the container");
  if (::umount2(fd_path(shm.get()).c_str(), MNT_DETACH) != 0)
    fail_errno("cannot unmount the container's /dev/shm");
  if (!host) {
    UniqueFd dev(open_in_root(root_fd, "/dev", O_RDONLY | O_DIRECTORY));
    if (!dev || ::unlinkat(dev.get(), "shm", AT_REMOVEDIR) != 0)
      fail_errno("cannot remove /dev/shm from the container (--ipc none)");
    return;
  }
  UniqueFd host_shm(::open("/dev/shm", O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!host_shm) fail_errno("cannot open the host's /dev/shm (--ipc host)");
  UniqueFd target = open_path_in_root(root_fd, "/dev/shm");
  if (!target) fail_errno("cannot open /dev/shm in the container");
  mount_or_fail(fd_path(host_shm.get()).c_str(), fd_path(target.get()), nullptr, MS_BIND, "",
                "the host's /dev/shm (--ipc host)");
  UniqueFd mounted = open_path_in_root(root_fd, "/dev/shm");
  mount_or_fail(nullptr, fd_path(mounted.get()), nullptr,
                MS_BIND | MS_REMOUNT | MS_NOSUID | MS_NODEV | MS_NOEXEC, "",
                "the host's /dev/shm nodev (--ipc host)");
}

void make_device_nodes(int root_fd, const std::vector<DeviceMapping>& devices, bool host_devices) {
  if (host_devices) {
    UniqueFd host_dev(::open("/dev", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!host_dev) fail_errno("cannot open the host's /dev");
    copy_host_devices(root_fd, host_dev.get(), "");
  }
  for (const auto& d : devices) make_mapped_device(root_fd, d);
}

void pivot_into(const std::string& new_root) {
  if (::chdir(new_root.c_str()) != 0) fail_errno(fmt::format("cannot enter {}", new_root));
  if (::syscall(SYS_pivot_root, ".", ".") != 0) fail_errno("pivot_root into the container failed");
  // The old root is now stacked under "."; detach it so nothing of the host
  // stays reachable.
  if (::umount2(".", MNT_DETACH) != 0) fail_errno("cannot detach the host's root");
  if (::chdir("/") != 0) fail_errno("cannot enter the container's /");
}

void remount_root_read_only() {
  if (::mount(nullptr, "/", nullptr, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NODEV, nullptr) != 0) {
    fail_errno("cannot make the container's root read-only");
  }
}

}  // namespace gocrate
