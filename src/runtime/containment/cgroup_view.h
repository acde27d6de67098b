#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace gocrate {

// /sys/fs/cgroup inside a container, as Docker shows it: the container's own
// cgroups and nothing above them. On cgroup v1 a tmpfs holds one mount per
// hierarchy the container has a cgroup of its own in (memory, pids, ...,
// "cpu,cpuacct" with a symlink per controller); on pure v2 the cgroup2 file
// system is mounted there; a hybrid host gets its v1 hierarchies and, when
// the container has a v2 cgroup of its own, "unified". Each is a new mount
// of the hierarchy made inside the container's cgroup namespace, whose root
// is the container's cgroup.
struct OwnCgroupHierarchy {
  std::string controllers;  // v1: "memory", "cpu,cpuacct"; empty for v2
  bool v2 = false;
  // Its directory under /sys/fs/cgroup: the controllers, "unified" for v2
  // beside v1, empty for v2 alone (mounted on /sys/fs/cgroup itself).
  std::string name;
};

// The hierarchies in /proc/self/cgroup (`text`, read after joining the
// cgroup and before entering the cgroup namespace) where the process is in
// `cgroup` ("/gocrate/<id>"). Named v1 hierarchies (name=systemd) are left
// out: they hold no controller and are not the container's.
std::vector<OwnCgroupHierarchy> own_cgroup_hierarchies(std::string_view text, std::string_view cgroup);

// Mounts them on /sys/fs/cgroup inside `root_fd`, after the cgroup
// namespace was entered. Read-only unless `writable` (--privileged).
void mount_cgroup_view(int root_fd, const std::vector<OwnCgroupHierarchy>& hierarchies, bool writable);

}  // namespace gocrate
