#include "runtime/mounts.h"

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

#include "runtime/users.h"
#include "util/error.h"
#include "util/fs.h"
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

struct DeviceNode {
  const char* name;
  unsigned major;
  unsigned minor;
};
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

void mount_dev(int root_fd) {
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
  mount_or_fail("shm", fd_path(shm.get()), "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=1777,size=65536k",
                "/dev/shm in the container");
}

}  // namespace

VolumeMount parse_volume(const std::string& text) {
  auto parts = split(text, ':');
  VolumeMount v;
  if (parts.size() < 2 || parts.size() > 3 || parts[0].empty() || parts[1].empty()) {
    fail("bad -v \"{}\": use HOST_PATH:CONTAINER_PATH[:ro]", text);
  }
  if (parts.size() == 3) {
    if (parts[2] != "ro" && parts[2] != "rw")
      fail("bad -v \"{}\": the mode must be ro or rw, not \"{}\"", text, parts[2]);
    v.read_only = parts[2] == "ro";
  }
  if (!parts[0].starts_with('/')) {
    fail("bad -v \"{}\": the host path must be absolute (named volumes are not supported)", text);
  }
  if (!parts[1].starts_with('/')) fail("bad -v \"{}\": the container path must be absolute", text);
  if (!path_exists(parts[0])) fail("bad -v \"{}\": host path {} does not exist", text, parts[0]);
  std::vector<std::string> target;
  for (const auto& part : split(parts[1], '/')) {
    if (part == "..") fail("bad -v \"{}\": the container path may not contain ..", text);
    if (!part.empty() && part != ".") target.push_back(part);
  }
  if (target.empty()) fail("bad -v \"{}\": a volume cannot replace the container's root", text);
  // The kernel's views that gocrate mounts, masks and makes read-only: a
  // volume there could hide a mask or show the host's own.
  for (std::string_view kernel : {"proc", "sys", "dev"}) {
    if (target[0] != kernel) continue;
    fail(
        "bad -v \"{}\": /{} and everything under it is the kernel's view that gocrate mounts for the "
        "container{}; choose another container path",
        text, kernel, kernel == "dev" ? " (give a device with --device)" : "");
  }
  v.source = parts[0];
  v.target = "/" + join(target, "/");
  return v;
}

void check_volume_sources(const std::vector<VolumeMount>& volumes, const std::string& store_root) {
  if (volumes.empty()) return;
  std::error_code error;
  auto store = std::filesystem::weakly_canonical(store_root, error);
  if (error) return;
  for (const auto& v : volumes) {
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

void mount_proc_and_dev(int root_fd) {
  UniqueFd proc = open_path_in_root(root_fd, "/proc");
  if (!proc) fail_errno("cannot open /proc in the container");
  mount_or_fail("proc", fd_path(proc.get()), "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, "",
                "/proc in the container");
  mount_dev(root_fd);
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

void mount_volumes(int root_fd, const std::vector<VolumeMount>& volumes, bool create_targets) {
  for (const auto& v : volumes) {
    UniqueFd source(::open(v.source.c_str(), O_PATH | O_CLOEXEC));
    if (!source) fail_errno(fmt::format("cannot open volume source {}", v.source));
    struct stat st;
    if (::fstat(source.get(), &st) != 0) fail_errno(fmt::format("cannot inspect volume source {}", v.source));
    UniqueFd target = open_path_in_root(root_fd, v.target);
    if (!target && errno == ENOENT && create_targets) {
      if (S_ISDIR(st.st_mode)) {
        make_directories_in_root(root_fd, v.target);
      } else {
        make_directories_in_root(root_fd, dir_name(v.target));
        UniqueFd parent(open_in_root(root_fd, dir_name(v.target), O_RDONLY | O_DIRECTORY));
        UniqueFd created(parent ? ::openat(parent.get(), base_name(v.target).c_str(),
                                           O_CREAT | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644)
                                : -1);
      }
      target = open_path_in_root(root_fd, v.target);
    }
    if (!target) {
      if (errno == ENOENT) {
        fail(
            "cannot mount volume {}: {} does not exist in the read-only container; create it in the image or "
            "drop "
            "--read-only",
            v.source, v.target);
      }
      fail_errno(fmt::format("cannot open volume target {} in the container", v.target));
    }
    std::string where = fd_path(target.get());
    mount_or_fail(fd_path(source.get()).c_str(), where, nullptr, MS_BIND | MS_REC, "",
                  fmt::format("volume {} on {}", v.source, v.target));
    // Reopen: the fd still names the directory under the new mount.
    UniqueFd mounted = open_path_in_root(root_fd, v.target);
    if (!mounted) fail_errno(fmt::format("cannot open volume {} in the container", v.target));
    if (v.read_only) bind_read_only(fd_path(mounted.get()), fmt::format("volume {} read-only", v.target));
    add_nodev(mounted.get(), fmt::format("volume {}", v.target));
  }
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
