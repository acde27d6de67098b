#include "runtime/containment/freezer.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <set>
#include <thread>

#include "util/error.h"
#include "util/fs.h"
#include "util/strings.h"

namespace gocrate {

namespace {

constexpr auto kFreezeTimeout = std::chrono::seconds(5);

// Mounts do not change under a command: read once per process.
const CgroupLayout& every_hierarchy() {
  static const CgroupLayout layout = CgroupLayout::detect(true);
  return layout;
}

bool has_controller(const CgroupHierarchy& h, std::string_view name) {
  return std::find(h.controllers.begin(), h.controllers.end(), name) != h.controllers.end();
}

// `dir` below the mount of one of `layout`'s hierarchies: its path there.
std::optional<std::string> relative_to_hierarchy(const CgroupLayout& layout, const std::string& dir) {
  for (const auto& h : layout.hierarchies) {
    std::string prefix = h.mount + "/";
    if (dir.starts_with(prefix) && dir.size() > prefix.size()) return dir.substr(prefix.size());
  }
  return std::nullopt;
}

void write_control(const std::string& path, std::string_view value) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd) fail_errno(fmt::format("cannot open cgroup file {}", path));
  if (::write(fd.get(), value.data(), value.size()) != static_cast<ssize_t>(value.size()))
    fail_errno(fmt::format("cannot write \"{}\" to {}", value, path));
}

std::set<std::string> procs_of(const std::string& dir) {
  std::set<std::string> pids;
  for (const auto& line : split(read_file_if_exists(dir + "/cgroup.procs").value_or(""), '\n')) {
    if (!line.empty()) pids.insert(line);
  }
  return pids;
}

// Moves every process of the container's cgroup into `target`, until a
// round finds none left behind: a child forked meanwhile starts where its
// parent was.
void move_processes(const std::string& source, const std::string& target) {
  for (int round = 0; round < 100; ++round) {
    std::set<std::string> inside = procs_of(target);
    bool moved = false;
    for (const auto& pid : procs_of(source)) {
      if (inside.count(pid)) continue;
      UniqueFd fd(::open((target + "/cgroup.procs").c_str(), O_WRONLY | O_CLOEXEC));
      if (!fd) fail_errno(fmt::format("cannot open cgroup {}", target));
      if (::write(fd.get(), pid.data(), pid.size()) < 0 && errno != ESRCH)
        fail_errno(fmt::format("cannot move process {} into cgroup {}", pid, target));
      moved = true;
    }
    if (!moved) return;
  }
  fail("cannot pause: the container's processes kept forking while they were moved into {}", target);
}

void make_levels(const std::string& mount, const std::string& relative) {
  std::string dir = mount;
  for (const auto& part : split(relative, '/')) {
    if (part.empty()) continue;
    dir += "/" + part;
    if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST)
      fail_errno(fmt::format("cannot create cgroup {}", dir));
  }
}

FreezerCgroup find_or_fail(const std::vector<std::string>& cgroup_dirs) {
  if (cgroup_dirs.empty()) fail("the container has no cgroup to freeze: it is not running");
  auto freezer = freezer_cgroup(every_hierarchy(), cgroup_dirs);
  if (!freezer) {
    fail("cannot pause: this host has neither the v1 freezer controller nor cgroup v2's cgroup.freeze ({})",
         every_hierarchy().describe());
  }
  return *freezer;
}

bool read_frozen(const FreezerCgroup& f) {
  auto text = read_file_if_exists(f.dir + (f.v2 ? "/cgroup.freeze" : "/freezer.state"));
  return text && freezer_text_frozen(*text, f.v2);
}

// Whether the kernel has stopped every task (v1 FROZEN, v2 "frozen 1").
bool settled_frozen(const FreezerCgroup& f) {
  if (f.v2)
    return read_file_if_exists(f.dir + "/cgroup.events").value_or("").find("frozen 1") != std::string::npos;
  return trim(read_file_if_exists(f.dir + "/freezer.state").value_or("")) == "FROZEN";
}

// A v1 freezer directory left FROZEN would keep whatever is still inside
// from dying.
void thaw_frozen(const std::vector<std::string>& dirs) {
  for (const auto& dir : dirs) {
    if (path_exists(dir + "/freezer.state")) write_control(dir + "/freezer.state", "THAWED");
  }
}

}  // namespace

std::optional<FreezerCgroup> freezer_cgroup(const CgroupLayout& layout,
                                            const std::vector<std::string>& cgroup_dirs) {
  std::optional<std::string> relative;
  for (const auto& dir : cgroup_dirs) {
    if ((relative = relative_to_hierarchy(layout, dir))) break;
  }
  if (!relative) return std::nullopt;
  auto joined = [&](const std::string& dir) {
    return std::find(cgroup_dirs.begin(), cgroup_dirs.end(), dir) != cgroup_dirs.end();
  };
  const CgroupHierarchy* v2 = layout.v2_hierarchy();
  if (v2 && joined(v2->mount + "/" + *relative))
    return FreezerCgroup{v2->mount + "/" + *relative, true, true};
  for (const auto& h : layout.hierarchies) {
    if (!h.v2 && has_controller(h, "freezer")) {
      std::string dir = h.mount + "/" + *relative;
      return FreezerCgroup{dir, false, joined(dir)};
    }
  }
  if (v2) return FreezerCgroup{v2->mount + "/" + *relative, true, false};
  return std::nullopt;
}

bool freezer_text_frozen(const std::string& text, bool v2) {
  std::string_view value = trim(text);
  return v2 ? value == "1" : value == "FROZEN" || value == "FREEZING";
}

void freeze_container_cgroup(const std::vector<std::string>& cgroup_dirs) {
  FreezerCgroup f = find_or_fail(cgroup_dirs);
  if (!f.joined) {
    const CgroupLayout& layout = every_hierarchy();
    std::string relative = *relative_to_hierarchy(layout, f.dir);
    make_levels(f.dir.substr(0, f.dir.size() - relative.size() - 1), relative);
    move_processes(cgroup_dirs.front(), f.dir);
  }
  auto deadline = std::chrono::steady_clock::now() + kFreezeTimeout;
  for (;;) {
    // v1 may stay FREEZING after one write: runc writes again until FROZEN.
    write_control(f.dir + (f.v2 ? "/cgroup.freeze" : "/freezer.state"), f.v2 ? "1" : "FROZEN");
    if (settled_frozen(f)) break;
    if (std::chrono::steady_clock::now() > deadline) {
      write_control(f.dir + (f.v2 ? "/cgroup.freeze" : "/freezer.state"), f.v2 ? "0" : "THAWED");
      fail("cannot pause: the container's processes did not freeze within {} s ({})", kFreezeTimeout.count(),
           f.dir);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

void thaw_container_cgroup(const std::vector<std::string>& cgroup_dirs) {
  FreezerCgroup f = find_or_fail(cgroup_dirs);
  if (!path_exists(f.dir)) return;
  write_control(f.dir + (f.v2 ? "/cgroup.freeze" : "/freezer.state"), f.v2 ? "0" : "THAWED");
}

bool container_cgroup_frozen(const std::vector<std::string>& cgroup_dirs) {
  if (cgroup_dirs.empty()) return false;
  auto f = freezer_cgroup(every_hierarchy(), cgroup_dirs);
  return f && read_frozen(*f);
}

void remove_added_cgroups(const std::vector<std::string>& cgroup_dirs) {
  const CgroupLayout& layout = every_hierarchy();
  std::optional<std::string> relative;
  for (const auto& dir : cgroup_dirs) {
    if ((relative = relative_to_hierarchy(layout, dir))) break;
  }
  if (!relative) return;
  std::vector<std::string> added;
  for (const auto& h : layout.hierarchies) {
    std::string dir = h.mount + "/" + *relative;
    if (std::find(cgroup_dirs.begin(), cgroup_dirs.end(), dir) == cgroup_dirs.end() && path_exists(dir))
      added.push_back(dir);
  }
  try {
    thaw_frozen(added);
    Cgroup(added, false).remove();
  } catch (const Error&) {
    // Left for `rm`, which looks in every hierarchy.
  }
}

std::string container_controller_dir(const std::vector<std::string>& cgroup_dirs,
                                     std::string_view controller) {
  const CgroupLayout& layout = every_hierarchy();
  std::optional<std::string> relative;
  for (const auto& dir : cgroup_dirs) {
    if ((relative = relative_to_hierarchy(layout, dir))) break;
  }
  const CgroupHierarchy* h = layout.find(controller);
  if (!relative || !h) return {};
  std::string dir = h->mount + "/" + *relative;
  if (std::find(cgroup_dirs.begin(), cgroup_dirs.end(), dir) != cgroup_dirs.end()) return dir;
  make_levels(h->mount, *relative);
  if (!h->v2 && has_controller(*h, "cpuset")) {
    for (auto file : {"cpuset.cpus", "cpuset.mems"}) {
      std::string parent = dir_name(dir);
      if (trim(read_file_if_exists(dir + "/" + file).value_or("")).empty())
        write_control(dir + "/" + file, trim(read_file_if_exists(parent + "/" + file).value_or("")));
    }
  }
  move_processes(cgroup_dirs.front(), dir);
  return dir;
}

}  // namespace gocrate
