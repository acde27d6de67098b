#include "runtime/containment/cgroup_view.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/error.h"
#include "util/fs.h"
#include "util/rooted_open.h"
#include "util/strings.h"

namespace gocrate {

namespace {

constexpr unsigned long kFlags = MS_NOSUID | MS_NODEV | MS_NOEXEC;

std::string fd_path(int fd) {
  return fmt::format("/proc/self/fd/{}", fd);
}

UniqueFd open_in_container(int root_fd, const std::string& path) {
  UniqueFd fd(open_in_root(root_fd, path, O_PATH | O_NOFOLLOW | O_DIRECTORY));
  if (!fd) fail_errno(fmt::format("cannot open {} in the container", path));
  return fd;
}

// Mounts a hierarchy on the directory `path`, read-only unless `writable`:
// for an existing cgroup superblock that is a flag of the new mount alone,
// and the host's mounts of the hierarchy stay as they are.
void mount_at(int root_fd, const std::string& path, const char* type, const std::string& data,
              bool writable) {
  UniqueFd target = open_in_container(root_fd, path);
  unsigned long flags = kFlags | (writable ? 0 : MS_RDONLY);
  if (::mount(type, fd_path(target.get()).c_str(), type, flags, data.empty() ? nullptr : data.c_str()) != 0)
    fail_errno(fmt::format("cannot mount {} on {} in the container", data.empty() ? type : data, path));
}

}  // namespace

std::vector<OwnCgroupHierarchy> own_cgroup_hierarchies(std::string_view text, std::string_view cgroup) {
  std::vector<OwnCgroupHierarchy> own;
  bool v1 = false;
  for (const auto& line : split(text, '\n')) {
    size_t first = line.find(':');
    size_t second = first == std::string::npos ? first : line.find(':', first + 1);
    if (second == std::string::npos) continue;
    std::string controllers = line.substr(first + 1, second - first - 1);
    bool v2 = line.substr(0, first) == "0" && controllers.empty();
    v1 = v1 || !v2;
    if (line.substr(second + 1) != cgroup) continue;
    if (v2) {
      own.push_back({"", true, ""});
    } else if (!controllers.empty() && controllers.find("name=") == std::string::npos) {
      own.push_back({controllers, false, controllers});
    }
  }
  for (auto& h : own) {
    if (h.v2 && v1) h.name = "unified";
  }
  return own;
}

void mount_cgroup_view(int root_fd, const std::vector<OwnCgroupHierarchy>& hierarchies, bool writable) {
  if (hierarchies.empty()) return;
  const std::string top = "/sys/fs/cgroup";
  if (hierarchies.size() == 1 && hierarchies[0].name.empty()) {
    mount_at(root_fd, top, "cgroup2", "", writable);
    return;
  }
  {
    UniqueFd target = open_in_container(root_fd, top);
    if (::mount("tmpfs", fd_path(target.get()).c_str(), "tmpfs", kFlags, "mode=755,size=64k") != 0)
      fail_errno("cannot mount a tmpfs on /sys/fs/cgroup in the container");
  }
  UniqueFd dir(open_in_root(root_fd, top, O_RDONLY | O_DIRECTORY | O_NOFOLLOW));
  if (!dir) fail_errno("cannot open /sys/fs/cgroup in the container");
  for (const auto& h : hierarchies) {
    if (h.name.empty()) continue;
    if (::mkdirat(dir.get(), h.name.c_str(), 0555) != 0)
      fail_errno(fmt::format("cannot create /sys/fs/cgroup/{} in the container", h.name));
    if (h.v2) {
      mount_at(root_fd, top + "/" + h.name, "cgroup2", "", writable);
    } else {
      mount_at(root_fd, top + "/" + h.name, "cgroup", h.controllers, writable);
    }
  }
  // cpu and cpuacct beside "cpu,cpuacct", as systemd lays them out.
  for (const auto& h : hierarchies) {
    if (h.v2 || h.controllers.find(',') == std::string::npos) continue;
    for (const auto& controller : split(h.controllers, ',')) {
      struct stat st;
      if (::fstatat(dir.get(), controller.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) continue;
      if (::symlinkat(h.name.c_str(), dir.get(), controller.c_str()) != 0)
        fail_errno(fmt::format("cannot create /sys/fs/cgroup/{} in the container", controller));
    }
  }
  if (writable) return;
  UniqueFd mounted = open_in_container(root_fd, top);
  if (::mount(nullptr, fd_path(mounted.get()).c_str(), nullptr, MS_REMOUNT | MS_BIND | MS_RDONLY | kFlags,
              nullptr) != 0) {
    fail_errno("cannot make /sys/fs/cgroup read-only in the container");
  }
}

}  // namespace gocrate
