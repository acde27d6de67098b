#include "runtime/oci/oci_cgroups.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include "runtime/containment/device_rules.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/strings.h"

namespace gocrate::oci {

namespace {

struct Write {
  std::string controller;  // the v1 controller, or "" for the v2 hierarchy
  std::string file;
  std::string value;
  std::string field;  // what it comes from, for errors
};

std::string number(int64_t n) {
  return std::to_string(n);
}

bool has(const CgroupHierarchy& h, std::string_view controller) {
  return std::find(h.controllers.begin(), h.controllers.end(), controller) != h.controllers.end();
}

std::string device_line(int64_t major, int64_t minor) {
  return fmt::format("{}:{}", major, minor);
}

// cgroup v2's io.weight range from blkio.weight's (10–1000), as runc maps it.
uint64_t io_weight_of_blkio(uint64_t weight) {
  return 1 + (weight - 10) * 9999 / 990;
}

// What `r` writes, for v1 (by controller) or v2.
std::vector<Write> resource_writes(const Resources& r, bool v2) {
  std::vector<Write> w;
  auto add = [&](std::string controller, std::string file, std::string value, std::string field) {
    w.push_back({v2 ? "" : std::move(controller), std::move(file), std::move(value), std::move(field)});
  };
  if (r.memory) {
    const auto& m = *r.memory;
    auto bytes = [](int64_t n) { return n < 0 ? std::string(n == -1 ? "-1" : "max") : number(n); };
    if (v2) {
      if (m.limit && *m.limit) add("", "memory.max", *m.limit < 0 ? "max" : number(*m.limit), "memory.limit");
      if (m.reservation && *m.reservation) add("", "memory.low", bytes(*m.reservation), "memory.reservation");
      if (m.swap && *m.swap) {
        std::string value = *m.swap < 0 ? "max" : number(std::max<int64_t>(0, *m.swap - m.limit.value_or(0)));
        add("", "memory.swap.max", value, "memory.swap");
      }
      if (m.disable_oom_killer && *m.disable_oom_killer)
        fail("linux.resources.memory.disableOOMKiller: cgroup v2 cannot turn the OOM killer off; drop it");
    } else {
      if (m.limit && *m.limit) add("memory", "memory.limit_in_bytes", number(*m.limit), "memory.limit");
      if (m.swap && *m.swap) add("memory", "memory.memsw.limit_in_bytes", number(*m.swap), "memory.swap");
      if (m.reservation && *m.reservation)
        add("memory", "memory.soft_limit_in_bytes", number(*m.reservation), "memory.reservation");
      if (m.kernel_tcp && *m.kernel_tcp)
        add("memory", "memory.kmem.tcp.limit_in_bytes", number(*m.kernel_tcp), "memory.kernelTCP");
      if (m.swappiness && *m.swappiness <= 100)
        add("memory", "memory.swappiness", number(*m.swappiness), "memory.swappiness");
      if (m.disable_oom_killer && *m.disable_oom_killer)
        add("memory", "memory.oom_control", "1", "memory.disableOOMKiller");
      if (m.use_hierarchy)
        add("memory", "memory.use_hierarchy", *m.use_hierarchy ? "1" : "0", "memory.useHierarchy");
    }
    if (m.swappiness && *m.swappiness > 100)
      fail("linux.resources.memory.swappiness: {} is out of range 0–100", *m.swappiness);
  }
  if (r.cpu) {
    const auto& c = *r.cpu;
    if (v2) {
      if (c.shares && *c.shares) add("", "cpu.weight", number(cpu_weight_of_shares(*c.shares)), "cpu.shares");
      if (c.quota || c.period) {
        std::string quota = !c.quota || *c.quota < 0 ? "max" : number(*c.quota);
        add("", "cpu.max", fmt::format("{} {}", quota, c.period.value_or(100000)), "cpu.quota");
      }
      if (c.burst) add("", "cpu.max.burst", number(*c.burst), "cpu.burst");
      if (c.idle) add("", "cpu.idle", number(*c.idle), "cpu.idle");
    } else {
      if (c.shares && *c.shares) add("cpu", "cpu.shares", number(*c.shares), "cpu.shares");
      if (c.period && *c.period) add("cpu", "cpu.cfs_period_us", number(*c.period), "cpu.period");
      if (c.quota && *c.quota) add("cpu", "cpu.cfs_quota_us", number(*c.quota), "cpu.quota");
      if (c.burst) add("cpu", "cpu.cfs_burst_us", number(*c.burst), "cpu.burst");
      if (c.realtime_period && *c.realtime_period)
        add("cpu", "cpu.rt_period_us", number(*c.realtime_period), "cpu.realtimePeriod");
      if (c.realtime_runtime && *c.realtime_runtime)
        add("cpu", "cpu.rt_runtime_us", number(*c.realtime_runtime), "cpu.realtimeRuntime");
      if (c.idle) add("cpu", "cpu.idle", number(*c.idle), "cpu.idle");
    }
    if (!c.cpus.empty()) add("cpuset", "cpuset.cpus", c.cpus, "cpu.cpus");
    if (!c.mems.empty()) add("cpuset", "cpuset.mems", c.mems, "cpu.mems");
  }
  if (r.pids_limit && *r.pids_limit)
    add("pids", "pids.max", *r.pids_limit > 0 ? number(*r.pids_limit) : "max", "pids.limit");
  if (r.block_io) {
    const auto& b = *r.block_io;
    if (v2) {
      if (b.weight && *b.weight)
        add("", "io.weight", fmt::format("default {}", io_weight_of_blkio(*b.weight)), "blockIO.weight");
      for (const auto& d : b.weight_device) {
        if (d.weight && *d.weight)
          add("", "io.weight",
              fmt::format("{} {}", device_line(d.major, d.minor), io_weight_of_blkio(*d.weight)),
              "blockIO.weightDevice");
      }
      auto limits = [&](const std::vector<BlockIoDevice>& list, std::string_view key,
                        std::string_view field) {
        for (const auto& d : list)
          add("", "io.max", fmt::format("{} {}={}", device_line(d.major, d.minor), key, d.rate),
              std::string(field));
      };
      limits(b.throttle_read_bps, "rbps", "blockIO.throttleReadBpsDevice");
      limits(b.throttle_write_bps, "wbps", "blockIO.throttleWriteBpsDevice");
      limits(b.throttle_read_iops, "riops", "blockIO.throttleReadIOPSDevice");
      limits(b.throttle_write_iops, "wiops", "blockIO.throttleWriteIOPSDevice");
    } else {
      if (b.weight && *b.weight) add("blkio", "blkio.weight", number(*b.weight), "blockIO.weight");
      if (b.leaf_weight && *b.leaf_weight)
        add("blkio", "blkio.leaf_weight", number(*b.leaf_weight), "blockIO.leafWeight");
      for (const auto& d : b.weight_device) {
        if (d.weight && *d.weight)
          add("blkio", "blkio.weight_device", fmt::format("{} {}", device_line(d.major, d.minor), *d.weight),
              "blockIO.weightDevice");
        if (d.leaf_weight && *d.leaf_weight)
          add("blkio", "blkio.leaf_weight_device",
              fmt::format("{} {}", device_line(d.major, d.minor), *d.leaf_weight), "blockIO.weightDevice");
      }
      auto limits = [&](const std::vector<BlockIoDevice>& list, std::string_view file,
                        std::string_view field) {
        for (const auto& d : list)
          add("blkio", std::string(file), fmt::format("{} {}", device_line(d.major, d.minor), d.rate),
              std::string(field));
      };
      limits(b.throttle_read_bps, "blkio.throttle.read_bps_device", "blockIO.throttleReadBpsDevice");
      limits(b.throttle_write_bps, "blkio.throttle.write_bps_device", "blockIO.throttleWriteBpsDevice");
      limits(b.throttle_read_iops, "blkio.throttle.read_iops_device", "blockIO.throttleReadIOPSDevice");
      limits(b.throttle_write_iops, "blkio.throttle.write_iops_device", "blockIO.throttleWriteIOPSDevice");
    }
  }
  for (const auto& h : r.hugepage_limits) {
    add("hugetlb", "hugetlb." + h.page_size + (v2 ? ".max" : ".limit_in_bytes"), number(h.limit),
        "hugepageLimits");
  }
  if (r.network) {
    if (v2) fail("linux.resources.network: cgroup v2 has no net_cls or net_prio controller; drop it");
    if (r.network->class_id)
      add("net_cls", "net_cls.classid", number(*r.network->class_id), "network.classID");
    for (const auto& p : r.network->priorities)
      add("net_prio", "net_prio.ifpriomap", fmt::format("{} {}", p.name, p.priority), "network.priorities");
  }
  if (!r.unified.empty()) {
    if (!v2) fail("linux.resources.unified needs cgroup v2; this host's controllers are on v1");
    for (const auto& [key, value] : r.unified) {
      if (key.find('/') != std::string::npos || key.starts_with("."))
        fail("linux.resources.unified: \"{}\" is not a cgroup file name", key);
      add("", key, value, "unified." + key);
    }
  }
  return w;
}

std::vector<DeviceRule> allow_rules(const std::vector<DeviceCgroupRule>& rules) {
  std::vector<DeviceRule> allowed;
  for (const auto& r : rules) {
    auto access = parse_device_access(r.access.empty() ? "rwm" : r.access);
    if (!access) fail("linux.resources.devices: access \"{}\" is not made of r, w and m", r.access);
    DeviceRule rule{r.type, r.major.value_or(DeviceRule::kAny), r.minor.value_or(DeviceRule::kAny), *access};
    if (r.allow) {
      allowed.push_back(rule);
    } else if (rule.allows_everything()) {
      allowed.clear();
    } else {
      // A deny after allows: drop the allows it covers exactly.
      std::erase(allowed, rule);
    }
  }
  return allowed;
}

void write_value(const std::string& dir, const Write& w) {
  std::string path = dir + "/" + w.file;
  // Kernels with the BFQ scheduler name the v1 weights blkio.bfq.*.
  if (w.file.starts_with("blkio.") && !path_exists(path) &&
      path_exists(dir + "/blkio.bfq." + w.file.substr(6)))
    path = dir + "/blkio.bfq." + w.file.substr(6);
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd) {
    if (errno == ENOENT)
      fail("cannot set linux.resources.{}: this kernel's cgroup has no {} (in {})", w.field, w.file, dir);
    fail_errno(fmt::format("cannot set linux.resources.{} ({})", w.field, path));
  }
  if (::write(fd.get(), w.value.data(), w.value.size()) < 0) {
    fail_errno(fmt::format("cannot set linux.resources.{} to \"{}\" ({})", w.field, w.value, path));
  }
}

// Where each hierarchy's directory for `path` is.
std::string own_cgroup(const CgroupHierarchy& h) {
  auto text = read_file_if_exists("/proc/self/cgroup");
  if (!text) return "/";
  for (const auto& line : split(*text, '\n')) {
    auto fields = split(line, ':');
    if (fields.size() < 3) continue;
    bool match = h.v2 ? fields[1].empty() && fields[0] == "0" : false;
    if (!h.v2) {
      for (const auto& c : split(fields[1], ',')) match = match || has(h, c);
    }
    if (match) return fields[2];
  }
  return "/";
}

std::string relative_dir(const CgroupHierarchy& h, const std::string& path) {
  std::string base = path.starts_with('/') ? std::string() : own_cgroup(h);
  std::string joined = base + "/" + path;
  std::vector<std::string> parts;
  for (const auto& part : split(joined, '/')) {
    if (part.empty() || part == ".") continue;
    if (part == "..") fail("linux.cgroupsPath \"{}\" must not contain \"..\"", path);
    parts.push_back(part);
  }
  return join(parts, "/");
}

void make_levels(const CgroupHierarchy& h, const std::string& relative, bool enable_controllers) {
  std::string dir = h.mount;
  auto parts = split(relative, '/');
  for (size_t i = 0; i < parts.size(); ++i) {
    if (enable_controllers) {
      std::string enable;
      for (const auto& c : h.controllers) {
        if (c == "cpuset" || c == "hugetlb" || c == "memory" || c == "cpu" || c == "pids" || c == "io" ||
            c == "rdma" || c == "misc")
          enable += (enable.empty() ? "+" : " +") + c;
      }
      UniqueFd control(::open((dir + "/cgroup.subtree_control").c_str(), O_WRONLY | O_CLOEXEC));
      if (control && !enable.empty()) {
        [[maybe_unused]] ssize_t n = ::write(control.get(), enable.data(), enable.size());
      }
    }
    dir += "/" + parts[i];
    if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST)
      fail_errno(fmt::format("cannot create cgroup {}", dir));
    if (!h.v2 && has(h, "cpuset")) {
      std::string parent = dir_name(dir);
      for (auto file : {"cpuset.cpus", "cpuset.mems"}) {
        auto current = read_file_if_exists(dir + "/" + file);
        if (current && !trim(*current).empty()) continue;
        auto inherited = read_file_if_exists(parent + "/" + file);
        if (inherited && !trim(*inherited).empty()) {
          Write w{"cpuset", file, std::string(trim(*inherited)), "cpu"};
          write_value(dir, w);
        }
      }
    }
  }
}

// Limits go to the v1 hierarchies where any has controllers, else to v2.
bool controllers_on_v2(const CgroupLayout& layout) {
  for (const auto& h : layout.hierarchies) {
    if (!h.v2 && std::any_of(h.controllers.begin(), h.controllers.end(),
                             [](const std::string& c) { return !c.starts_with("name="); }))
      return false;
  }
  return true;
}

void apply(const CgroupLayout& layout,
           const std::vector<std::pair<const CgroupHierarchy*, std::string>>& dirs, const Resources& r) {
  bool v2 = controllers_on_v2(layout);
  auto writes = resource_writes(r, v2);
  for (const auto& w : writes) {
    bool written = false;
    for (const auto& [h, dir] : dirs) {
      if (h->v2 != v2 || (!v2 && !has(*h, w.controller))) continue;
      write_value(dir, w);
      written = true;
      break;
    }
    if (!written)
      fail("cannot set linux.resources.{}: this host has no {} cgroup controller ({})", w.field,
           v2 ? w.file.substr(0, w.file.find('.')) : w.controller, layout.describe());
  }
}

std::vector<std::pair<const CgroupHierarchy*, std::string>> hierarchy_dirs(const CgroupLayout& layout,
                                                                           const Cgroup& cgroup) {
  std::vector<std::pair<const CgroupHierarchy*, std::string>> dirs;
  for (const auto& dir : cgroup.dirs()) {
    for (const auto& h : layout.hierarchies) {
      if (dir.starts_with(h.mount + "/")) {
        dirs.emplace_back(&h, dir);
        break;
      }
    }
  }
  return dirs;
}

void apply_devices(const CgroupLayout& layout,
                   const std::vector<std::pair<const CgroupHierarchy*, std::string>>& dirs,
                   const std::vector<DeviceCgroupRule>& rules) {
  if (rules.empty()) return;
  for (const auto& [h, dir] : dirs) {
    if (!h->v2 && has(*h, "devices")) {
      for (const auto& r : rules) {
        std::string major = r.major && *r.major >= 0 ? number(*r.major) : std::string("*");
        std::string minor = r.minor && *r.minor >= 0 ? number(*r.minor) : std::string("*");
        std::string line = r.type == 'a' ? std::string("a")
                                         : fmt::format("{} {}:{} {}", r.type, major, minor,
                                                       r.access.empty() ? std::string("rwm") : r.access);
        write_value(dir, {"devices", r.allow ? "devices.allow" : "devices.deny", line, "devices"});
      }
      return;
    }
  }
  for (const auto& [h, dir] : dirs) {
    if (!h->v2) continue;
    auto allowed = allow_rules(rules);
    if (std::any_of(allowed.begin(), allowed.end(),
                    [](const DeviceRule& r) { return r.allows_everything(); }))
      return;
    UniqueFd program = load_device_program(device_program(allowed));
    UniqueFd cgroup_fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!cgroup_fd) fail_errno(fmt::format("cannot open cgroup {}", dir));
    attach_device_program(cgroup_fd.get(), program.get(), dir);
    return;
  }
  (void)layout;
}

}  // namespace

Cgroup create_cgroup(const std::string& cgroups_path, const std::string& id, const Resources* resources,
                     std::string* relative_out) {
  CgroupLayout layout = CgroupLayout::detect(true);
  if (layout.hierarchies.empty()) fail("no cgroup file system is mounted: mount cgroup2 on /sys/fs/cgroup");
  std::string path = cgroups_path.empty() ? "/gocrate/" + id : cgroups_path;
  if (path.find(':') != std::string::npos && !path.starts_with('/'))
    fail(
        "linux.cgroupsPath \"{}\" is a systemd slice:prefix:name path; gocrate-runtime uses cgroupfs paths "
        "(configure the engine with systemd_cgroup = false)",
        path);
  std::vector<std::string> dirs;
  bool v2 = false;
  try {
    for (const auto& h : layout.hierarchies) {
      std::string relative = relative_dir(h, path);
      if (relative_out && relative_out->empty()) *relative_out = relative;
      if (relative.empty()) fail("linux.cgroupsPath \"{}\" names the root cgroup", path);
      make_levels(h, relative, h.v2);
      dirs.push_back(h.mount + "/" + relative);
      v2 = v2 || (h.v2 && !h.controllers.empty());
    }
    Cgroup cgroup(dirs, v2);
    if (resources) {
      auto with = hierarchy_dirs(layout, cgroup);
      apply(layout, with, *resources);
      apply_devices(layout, with, resources->devices);
    }
    return cgroup;
  } catch (...) {
    Cgroup(dirs, v2).remove();
    throw;
  }
}

void update_cgroup(const Cgroup& cgroup, const Resources& resources) {
  CgroupLayout layout = CgroupLayout::detect(true);
  apply(layout, hierarchy_dirs(layout, cgroup), resources);
}

void freeze_cgroup(const Cgroup& cgroup, bool frozen) {
  for (const auto& dir : cgroup.dirs()) {
    if (path_exists(dir + "/freezer.state")) {
      write_value(dir, {"freezer", "freezer.state", frozen ? "FROZEN" : "THAWED", "freezer"});
      auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
      while (frozen && trim(read_file(dir + "/freezer.state")) != "FROZEN") {
        if (std::chrono::steady_clock::now() > deadline)
          fail("the container did not freeze within 5 s ({})", dir);
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
      return;
    }
  }
  for (const auto& dir : cgroup.dirs()) {
    if (path_exists(dir + "/cgroup.freeze")) {
      write_value(dir, {"", "cgroup.freeze", frozen ? "1" : "0", "freezer"});
      auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
      while (frozen && read_file(dir + "/cgroup.events").find("frozen 1") == std::string::npos) {
        if (std::chrono::steady_clock::now() > deadline)
          fail("the container did not freeze within 5 s ({})", dir);
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
      return;
    }
  }
  fail("cannot pause: this host has neither the v1 freezer nor cgroup.freeze of cgroup v2");
}

bool cgroup_frozen(const Cgroup& cgroup) {
  for (const auto& dir : cgroup.dirs()) {
    if (auto state = read_file_if_exists(dir + "/freezer.state")) return trim(*state) == "FROZEN";
  }
  for (const auto& dir : cgroup.dirs()) {
    if (auto events = read_file_if_exists(dir + "/cgroup.events")) {
      if (path_exists(dir + "/cgroup.freeze")) return trim(read_file(dir + "/cgroup.freeze")) == "1";
    }
  }
  return false;
}

std::vector<pid_t> cgroup_pids(const Cgroup& cgroup) {
  std::vector<pid_t> pids;
  for (const auto& dir : cgroup.dirs()) {
    auto text = read_file_if_exists(dir + "/cgroup.procs");
    if (!text) continue;
    for (const auto& line : split(*text, '\n')) {
      if (!line.empty()) pids.push_back(std::atoi(line.c_str()));
    }
    if (!pids.empty()) break;
  }
  return pids;
}

}  // namespace gocrate::oci
