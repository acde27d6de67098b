#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "runtime/containment/cgroups.h"
#include "runtime/oci/spec.h"

// linux.cgroupsPath and linux.resources on cgroup v1, hybrid and v2. A
// container gets a directory in every mounted hierarchy (as runc: v1 ones
// with any controller, named ones such as name=systemd, and the v2 one), so
// `kill --all`, `ps`, pause and stats see all its processes.
namespace gocrate::oci {

// `cgroups_path`: absolute ("/a/b") from each hierarchy's root, relative
// ("a/b") from this process's own cgroup there; empty: "/gocrate/<id>".
// Applies `resources`; a resource this host cannot enforce is an error
// naming the field; nothing is left behind then.
// `relative` receives the cgroup's path below the roots of the hierarchies
// (of the first, where relative paths differ).
Cgroup create_cgroup(const std::string& cgroups_path, const std::string& id, const Resources* resources,
                     std::string* relative = nullptr);
// Writes new limits into an existing cgroup (`update`).
void update_cgroup(const Cgroup& cgroup, const Resources& resources);
// The freezer (v1) or cgroup.freeze (v2); waits until the kernel says done.
void freeze_cgroup(const Cgroup& cgroup, bool frozen);
bool cgroup_frozen(const Cgroup& cgroup);
std::vector<pid_t> cgroup_pids(const Cgroup& cgroup);

}  // namespace gocrate::oci
