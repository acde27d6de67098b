#include "runtime/containment/cgroups.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <iterator>
#include <thread>

#include "util/error.h"
#include "util/fs.h"
#include "util/strings.h"

namespace gocrate {

namespace {

constexpr uint64_t kMinimumMemory = 6 * 1024 * 1024;  // docker's floor
constexpr uint64_t kCpuPeriodUs = 100000;
constexpr uint64_t kMinimumShares = 2;  // the kernel's (and Docker's) range of cpu.shares
constexpr uint64_t kMaximumShares = 262144;
constexpr std::string_view kControllers[] = {"memory", "cpu", "cpuacct", "pids", "cpuset"};
// The v1 controller that enforces device rules (device_rules.h); where it is
// missing, a BPF program on the v2 cgroup does.
constexpr std::string_view kDevicesController = "devices";

std::optional<std::string> read_small(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  char buffer[4096];
  ssize_t n = ::read(fd, buffer, sizeof buffer);
  ::close(fd);
  if (n < 0) return std::nullopt;
  return std::string(buffer, n);
}

void write_control(const std::string& path, std::string_view value) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) fail_errno(fmt::format("cannot open cgroup file {}", path));
  ssize_t n = ::write(fd, value.data(), value.size());
  int err = errno;
  ::close(fd);
  if (n != static_cast<ssize_t>(value.size()))
    fail_errno(fmt::format("cannot write \"{}\" to {}", value, path), err);
}

uint64_t read_number(const std::string& path) {
  auto text = read_small(path);
  if (!text) return 0;
  return std::strtoull(text->c_str(), nullptr, 10);
}

// A "key value" line of a flat-keyed file such as cpu.stat.
uint64_t read_key(const std::string& path, std::string_view key) {
  auto text = read_small(path);
  if (!text) return 0;
  for (const auto& line : split(*text, '\n')) {
    if (line.size() > key.size() && line.starts_with(key) && line[key.size()] == ' ') {
      return std::strtoull(line.c_str() + key.size() + 1, nullptr, 10);
    }
  }
  return 0;
}

std::string unescape_mount_path(std::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\\' && i + 3 < text.size()) {
      out += static_cast<char>(std::stoi(std::string(text.substr(i + 1, 3)), nullptr, 8));
      i += 3;
    } else {
      out += text[i];
    }
  }
  return out;
}

std::vector<std::string> v2_controllers(const std::string& mount) {
  auto text = read_small(mount + "/cgroup.controllers");
  std::vector<std::string> out;
  if (!text) return out;
  for (const auto& word : split(std::string(trim(*text)), ' ')) {
    if (!word.empty()) out.push_back(word);
  }
  // cpu.stat usage is kept in every v2 cgroup: v2 needs no cpuacct.
  out.push_back("cpuacct");
  return out;
}

bool make_cgroup_dir(const std::string& path) {
  if (::mkdir(path.c_str(), 0755) == 0) return true;
  if (errno == EEXIST) return false;
  fail_errno(fmt::format("cannot create cgroup {}", path));
}

}  // namespace

std::optional<uint64_t> parse_memory_limit(std::string_view text) {
  uint64_t bytes = 0;
  if (!parse_byte_size(text, bytes) || bytes < kMinimumMemory) return std::nullopt;
  return bytes;
}

std::optional<double> parse_cpus(std::string_view text) {
  std::string s(trim(text));
  if (s.empty() || s.find_first_not_of("0123456789.") != std::string::npos) return std::nullopt;
  char* end = nullptr;
  double value = std::strtod(s.c_str(), &end);
  if (end != s.c_str() + s.size() || !std::isfinite(value) || value < 0.01) return std::nullopt;
  long cpus = ::sysconf(_SC_NPROCESSORS_ONLN);
  if (cpus > 0 && value > static_cast<double>(cpus)) return std::nullopt;
  return value;
}

std::optional<std::vector<unsigned>> parse_cpu_list(std::string_view text) {
  constexpr int64_t kMaximumCpu = 8191;  // the kernel's NR_CPUS ceiling
  if (text.empty()) return std::nullopt;
  std::vector<unsigned> cpus;
  for (const auto& part : split(text, ',')) {
    size_t dash = part.find('-');
    int64_t first = 0, last = 0;
    if (!parse_int(std::string_view(part).substr(0, dash), 0, kMaximumCpu, first)) return std::nullopt;
    last = first;
    if (dash != std::string::npos &&
        (!parse_int(std::string_view(part).substr(dash + 1), 0, kMaximumCpu, last) || last < first)) {
      return std::nullopt;
    }
    for (int64_t cpu = first; cpu <= last; ++cpu) cpus.push_back(static_cast<unsigned>(cpu));
  }
  std::sort(cpus.begin(), cpus.end());
  cpus.erase(std::unique(cpus.begin(), cpus.end()), cpus.end());
  return cpus;
}

std::string format_cpu_list(const std::vector<unsigned>& cpus) {
  std::vector<std::string> parts;
  for (size_t i = 0; i < cpus.size();) {
    size_t j = i;
    while (j + 1 < cpus.size() && cpus[j + 1] == cpus[j] + 1) ++j;
    parts.push_back(j == i ? std::to_string(cpus[i]) : fmt::format("{}-{}", cpus[i], cpus[j]));
    i = j + 1;
  }
  return join(parts, ",");
}

std::string check_cpuset(std::string_view text, std::string_view online) {
  auto wanted = parse_cpu_list(text);
  if (!wanted) fail("invalid --cpuset-cpus \"{}\": use a list of CPU numbers and ranges such as 0-2,5", text);
  auto available = parse_cpu_list(trim(online)).value_or(std::vector<unsigned>{});
  std::vector<unsigned> missing;
  std::set_difference(wanted->begin(), wanted->end(), available.begin(), available.end(),
                      std::back_inserter(missing));
  if (!missing.empty()) {
    fail("invalid --cpuset-cpus \"{}\": CPU {} is not online on this host (online: {})", text,
         format_cpu_list(missing), trim(online));
  }
  return format_cpu_list(*wanted);
}

uint64_t cpu_weight_of_shares(uint64_t shares) {
  shares = std::clamp(shares, kMinimumShares, kMaximumShares);
  return 1 + ((shares - 2) * 9999) / 262142;
}

ResourceLimits parse_resource_limits(const ResourceFlags& f) {
  ResourceLimits limits;
  if (!f.memory.empty()) {
    limits.memory_bytes = parse_memory_limit(f.memory);
    if (!limits.memory_bytes)
      fail("invalid --memory \"{}\": use a size of at least 6m such as 64m or 1g", f.memory);
  }
  if (!f.memory_swap.empty()) {
    uint64_t bytes = 0;
    if (trim(f.memory_swap) == "-1") {
      limits.memory_swap_bytes = -1;
    } else if (!parse_byte_size(f.memory_swap, bytes) || bytes > uint64_t{INT64_MAX}) {
      fail(
          "invalid --memory-swap \"{}\": use a size such as 1g (memory and swap together), or -1 for "
          "unlimited swap",
          f.memory_swap);
    } else if (bytes > 0) {  // 0 is Docker's "unset"
      if (!limits.memory_bytes) {
        fail(
            "--memory-swap {} needs --memory: it limits memory and swap together; add -m, or drop "
            "--memory-swap",
            f.memory_swap);
      }
      if (bytes < *limits.memory_bytes) {
        fail(
            "invalid --memory-swap {}: it is memory and swap together, so it must be at least --memory {} "
            "(equal: no swap), or -1 for unlimited swap",
            f.memory_swap, f.memory);
      }
      limits.memory_swap_bytes = static_cast<int64_t>(bytes);
    }
  }
  if (!f.memory_reservation.empty()) {
    uint64_t bytes = 0;
    if (!parse_byte_size(f.memory_reservation, bytes)) {
      fail("invalid --memory-reservation \"{}\": use a size of at least 6m such as 32m",
           f.memory_reservation);
    }
    if (bytes > 0 && bytes < kMinimumMemory) {
      fail("invalid --memory-reservation \"{}\": the smallest reservation is 6m, as Docker's",
           f.memory_reservation);
    }
    if (bytes > 0 && limits.memory_bytes && bytes > *limits.memory_bytes) {
      fail(
          "invalid --memory-reservation {}: it is above --memory {}; a reservation must be at most the "
          "limit",
          f.memory_reservation, f.memory);
    }
    if (bytes > 0) limits.memory_reservation_bytes = bytes;
  }
  if (f.oom_kill_disable) {
    if (!limits.memory_bytes) {
      fail(
          "--oom-kill-disable needs --memory: without a limit the container could exhaust the host's "
          "memory and the kernel could not kill it; add -m");
    }
    limits.oom_kill_disable = true;
  }
  if (!f.cpus.empty()) {
    limits.cpus = parse_cpus(f.cpus);
    if (!limits.cpus) {
      fail("invalid --cpus \"{}\": use a number of CPUs from 0.01 to this host's {}", f.cpus,
           ::sysconf(_SC_NPROCESSORS_ONLN));
    }
  }
  if (!f.cpu_shares.empty()) {
    int64_t shares = 0;
    if (!parse_int(trim(f.cpu_shares), 0, int64_t{kMaximumShares}, shares) ||
        (shares > 0 && shares < static_cast<int64_t>(kMinimumShares))) {
      fail("invalid --cpu-shares \"{}\": use a relative weight from {} to {} (1024 is the default)",
           f.cpu_shares, kMinimumShares, kMaximumShares);
    }
    if (shares > 0) limits.cpu_shares = static_cast<uint64_t>(shares);  // 0 is Docker's "unset"
  }
  if (!f.cpuset_cpus.empty()) {
    auto online = read_small("/sys/devices/system/cpu/online");
    if (!online) online = fmt::format("0-{}", std::max(1L, ::sysconf(_SC_NPROCESSORS_ONLN)) - 1);
    limits.cpuset_cpus = check_cpuset(f.cpuset_cpus, *online);
  }
  if (f.pids_limit) {
    if (*f.pids_limit < -1 || *f.pids_limit == 0) {
      fail("invalid --pids-limit {}: use a positive number, or -1 for no limit", *f.pids_limit);
    }
    if (*f.pids_limit > 0) limits.pids = *f.pids_limit;
  }
  return limits;
}

std::vector<CgroupWrite> cgroup_limit_writes(std::string_view controller, bool v2,
                                             const ResourceLimits& limits) {
  std::vector<CgroupWrite> writes;
  auto number = [](auto n) { return std::to_string(n); };
  if (controller == "memory") {
    std::string no_swap_accounting = fmt::format(
        "cannot enforce --memory-swap: this kernel has no {} (swap accounting is off; boot with "
        "swapaccount=1), so memory and swap cannot be limited together; drop --memory-swap or set it to -1",
        v2 ? "memory.swap.max" : "memory.memsw.limit_in_bytes");
    if (limits.memory_bytes)
      writes.push_back({v2 ? "memory.max" : "memory.limit_in_bytes", number(*limits.memory_bytes)});
    if (limits.memory_swap_bytes) {
      // -1 (unlimited) is what a kernel without swap accounting gives anyway.
      int64_t swap = *limits.memory_swap_bytes;
      std::string value = !v2        ? number(swap)
                          : swap < 0 ? "max"
                                     : number(swap - static_cast<int64_t>(limits.memory_bytes.value_or(0)));
      writes.push_back({v2 ? "memory.swap.max" : "memory.memsw.limit_in_bytes", value, swap < 0,
                        swap < 0 ? "" : no_swap_accounting});
    } else if (limits.memory_bytes) {
      // gocrate's default: no swap beyond the limit (Docker's allows as much swap again).
      writes.push_back(v2 ? CgroupWrite{"memory.swap.max", "0", true}
                          : CgroupWrite{"memory.memsw.limit_in_bytes", number(*limits.memory_bytes), true});
    }
    if (limits.memory_reservation_bytes) {
      writes.push_back(
          {v2 ? "memory.low" : "memory.soft_limit_in_bytes", number(*limits.memory_reservation_bytes), false,
           "cannot enforce --memory-reservation: this kernel's memory cgroup has no soft limit"});
    }
    if (limits.oom_kill_disable) {
      if (v2) {
        fail(
            "--oom-kill-disable cannot work on cgroup v2, which has no way to turn the OOM killer off; "
            "drop it");
      }
      writes.push_back(
          {"memory.oom_control", "1", false,
           "cannot enforce --oom-kill-disable: this kernel's memory cgroup has no memory.oom_control"});
    }
  } else if (controller == "cpu") {
    if (limits.cpus) {
      auto quota = static_cast<uint64_t>(std::llround(*limits.cpus * kCpuPeriodUs));
      if (v2) {
        writes.push_back({"cpu.max", fmt::format("{} {}", quota, kCpuPeriodUs)});
      } else {
        writes.push_back({"cpu.cfs_period_us", number(kCpuPeriodUs)});
        writes.push_back({"cpu.cfs_quota_us", number(quota)});
      }
    }
    if (limits.cpu_shares) {
      writes.push_back(v2 ? CgroupWrite{"cpu.weight", number(cpu_weight_of_shares(*limits.cpu_shares))}
                          : CgroupWrite{"cpu.shares", number(*limits.cpu_shares)});
    }
  } else if (controller == "cpuset") {
    if (!limits.cpuset_cpus.empty()) writes.push_back({"cpuset.cpus", limits.cpuset_cpus});
  } else if (controller == "pids") {
    if (limits.pids) writes.push_back({"pids.max", *limits.pids > 0 ? number(*limits.pids) : "max"});
  }
  return writes;
}

CgroupLayout CgroupLayout::detect(bool every_hierarchy) {
  CgroupLayout layout;
  auto text = read_file_if_exists("/proc/self/mountinfo");
  if (!text) return layout;
  for (const auto& line : split(*text, '\n')) {
    size_t dash = line.find(" - ");
    if (dash == std::string::npos) continue;
    auto fields = split(line.substr(0, dash), ' ');
    auto tail = split(line.substr(dash + 3), ' ');
    if (fields.size() < 5 || tail.size() < 3) continue;
    std::string mount = unescape_mount_path(fields[4]);
    if (tail[0] == "cgroup2") {
      layout.hierarchies.push_back({mount, true, v2_controllers(mount)});
    } else if (tail[0] == "cgroup") {
      CgroupHierarchy h{mount, false, {}};
      for (const auto& option : split(tail[2], ',')) {
        bool mount_option = option == "rw" || option == "ro" || option == "xattr" || option == "noprefix" ||
                            option == "clone_children" || option == "cpuset_v2_mode" ||
                            option.starts_with("release_agent=");
        if (every_hierarchy ? !mount_option
                            : std::find(std::begin(kControllers), std::end(kControllers), option) !=
                                      std::end(kControllers) ||
                                  option == kDevicesController) {
          h.controllers.push_back(option);
        }
      }
      if (!h.controllers.empty()) layout.hierarchies.push_back(std::move(h));
    }
  }
  return layout;
}

CgroupLayout CgroupLayout::v2_at(std::string mount) {
  CgroupLayout layout;
  auto controllers = v2_controllers(mount);
  layout.hierarchies.push_back({std::move(mount), true, std::move(controllers)});
  return layout;
}

const CgroupHierarchy* CgroupLayout::find(std::string_view controller) const {
  // v1 first: in a hybrid layout a controller bound to v1 is absent from v2.
  for (bool v2 : {false, true}) {
    for (const auto& h : hierarchies) {
      if (h.v2 == v2 &&
          std::find(h.controllers.begin(), h.controllers.end(), controller) != h.controllers.end()) {
        return &h;
      }
    }
  }
  return nullptr;
}

const CgroupHierarchy* CgroupLayout::v2_hierarchy() const {
  for (const auto& h : hierarchies) {
    if (h.v2) return &h;
  }
  return nullptr;
}

bool CgroupLayout::pure_v2() const {
  for (const auto& h : hierarchies) {
    if (!h.v2) return false;
  }
  return hierarchies.size() == 1;
}

std::string CgroupLayout::describe() const {
  bool v1 = false, v2 = false;
  for (const auto& h : hierarchies) (h.v2 ? v2 : v1) = true;
  if (v1 && v2) return "cgroup v1 and v2 (hybrid)";
  return v2 ? "cgroup v2" : v1 ? "cgroup v1" : "no cgroup file system";
}

namespace {

struct LimitNeed {
  std::string_view controller;
  std::string_view flag;
  bool wanted;
};

void require_controllers(const CgroupLayout& layout, const ResourceLimits& limits) {
  for (const auto& need :
       {LimitNeed{"memory", "--memory", limits.memory_bytes.has_value()},
        LimitNeed{"memory", "--memory-reservation", limits.memory_reservation_bytes.has_value()},
        LimitNeed{"cpu", "--cpus", limits.cpus.has_value()},
        LimitNeed{"cpu", "--cpu-shares", limits.cpu_shares.has_value()},
        LimitNeed{"cpuset", "--cpuset-cpus", !limits.cpuset_cpus.empty()},
        LimitNeed{"pids", "--pids-limit", limits.pids.has_value()}}) {
    if (need.wanted && !layout.find(need.controller)) {
      fail(
          "cannot enforce {}: this host has no {} cgroup controller available ({}); enable the controller or "
          "run without {}",
          need.flag, need.controller, layout.describe(), need.flag);
    }
  }
}

// v2 hands a controller to a child only when every ancestor lists it in
// cgroup.subtree_control.
void enable_v2_controllers(const CgroupHierarchy& h, const std::string& parent_relative,
                           const ResourceLimits& limits) {
  std::string wanted;
  for (auto c : {"memory", "cpu", "pids", "cpuset"}) {
    if (std::string_view(c) == "cpuset" && limits.cpuset_cpus.empty()) continue;
    if (std::find(h.controllers.begin(), h.controllers.end(), c) != h.controllers.end()) {
      wanted += fmt::format("{}+{}", wanted.empty() ? "" : " ", c);
    }
  }
  if (wanted.empty()) return;
  std::string dir = h.mount;
  std::vector<std::string> levels{dir};
  for (const auto& part : split(parent_relative, '/')) levels.push_back(dir += "/" + part);
  for (const auto& level : levels) {
    auto current = read_small(level + "/cgroup.subtree_control");
    auto enabled = split(std::string(trim(current.value_or(""))), ' ');
    bool all = true;
    for (const auto& c : split(wanted, ' ')) {
      all = all && std::find(enabled.begin(), enabled.end(), c.substr(1)) != enabled.end();
    }
    if (!all) write_control(level + "/cgroup.subtree_control", wanted);
  }
}

void apply_limits(const std::string& dir, bool v2, std::string_view controller,
                  const ResourceLimits& limits) {
  for (const auto& write : cgroup_limit_writes(controller, v2, limits)) {
    std::string path = dir + "/" + write.file;
    if (!path_exists(path)) {
      if (write.optional) continue;
      if (!write.missing.empty()) fail("{}", write.missing);
    }
    write_control(path, write.value);
  }
}

// A new v1 cpuset cgroup has no CPUs and no memory nodes, and takes no task
// until both are set: each level from the hierarchy's root down to `dir`
// that has none copies its parent's.
void inherit_v1_cpuset(const CgroupHierarchy& h, const std::string& relative) {
  std::string parent = h.mount;
  for (const auto& part : split(relative, '/')) {
    if (part.empty()) continue;
    std::string dir = parent + "/" + part;
    for (auto file : {"cpuset.cpus", "cpuset.mems"}) {
      if (!trim(read_small(dir + "/" + file).value_or("")).empty()) continue;
      std::string value(trim(read_small(parent + "/" + file).value_or("")));
      if (value.empty()) fail("cannot set up cpuset cgroup {}: its parent has no {}", dir, file);
      write_control(dir + "/" + file, value);
    }
    parent = dir;
  }
}

// Puts `policy` on the container's cgroup: in the v1 devices hierarchy, or
// as a BPF program on its v2 cgroup. Returns the directory made for it
// (empty when none was needed), or fails when the rules cannot be enforced
// and the policy requires them.
std::string apply_device_policy(const CgroupLayout& layout, const std::string& name,
                                const std::vector<std::string>& made, const DevicePolicy& policy) {
  if (!policy.confine) return {};
  bool allow_all = std::any_of(policy.rules.begin(), policy.rules.end(),
                               [](const DeviceRule& rule) { return rule.allows_everything(); });
  if (allow_all) return {};
  std::string parent = dir_name(name);
  auto make_dir = [&](const CgroupHierarchy& h) {
    std::string dir = h.mount + "/" + name;
    if (std::find(made.begin(), made.end(), dir) != made.end()) return std::make_pair(dir, false);
    make_cgroup_dir(h.mount + "/" + parent);
    if (!make_cgroup_dir(dir)) fail("cgroup {} exists already: is a container of this id running?", dir);
    return std::make_pair(dir, true);
  };
  std::string unenforced;
  if (const CgroupHierarchy* h = layout.find(kDevicesController); h && !h->v2) {
    auto [dir, fresh] = make_dir(*h);
    try {
      write_v1_device_rules(dir, policy.rules);
    } catch (...) {
      if (fresh) ::rmdir(dir.c_str());
      throw;
    }
    return fresh ? dir : std::string();
  } else if (const CgroupHierarchy* v2 = layout.v2_hierarchy()) {
    auto [dir, fresh] = make_dir(*v2);
    try {
      UniqueFd program = load_device_program(device_program(policy.rules));
      UniqueFd cgroup_fd = open_or_fail(dir, O_RDONLY | O_DIRECTORY);
      attach_device_program(cgroup_fd.get(), program.get(), dir);
      return fresh ? dir : std::string();
    } catch (const Error& e) {
      if (fresh) ::rmdir(dir.c_str());
      unenforced = e.what();
    }
  } else {
    unenforced =
        fmt::format("this host has neither the devices cgroup controller nor a cgroup v2 hierarchy ({})",
                    layout.describe());
  }
  if (!policy.required_by.empty()) {
    std::string drops;
    for (const auto& cap : policy.required_by)
      drops += fmt::format("{}--cap-drop {}", drops.empty() ? "" : " ", cap);
    fail(
        "cannot enforce the container's device rules: {}; with CAP_{} it could open the host's devices: "
        "run it with {}, or without device rules (--security-opt devices=unconfined)",
        unenforced, join(policy.required_by, " and CAP_"), drops);
  }
  return {};
}

}  // namespace

Cgroup Cgroup::create(const CgroupLayout& layout, const std::string& name, const ResourceLimits& limits,
                      const DevicePolicy& devices) {
  require_controllers(layout, limits);
  if (limits.oom_kill_disable) {
    if (const CgroupHierarchy* memory = layout.find("memory"); memory && memory->v2) {
      fail(
          "--oom-kill-disable cannot work on cgroup v2 ({}), which has no way to turn the OOM killer off; "
          "drop it",
          layout.describe());
    }
  }
  Cgroup cgroup;
  std::string parent = dir_name(name);
  try {
    for (auto controller : kControllers) {
      const CgroupHierarchy* h = layout.find(controller);
      if (!h) continue;
      // Without a quota the cpu controller has nothing to do or report
      // (usage comes from cpuacct, or cpu.stat on v2): one cgroup fewer to
      // make, join and remove.
      if (controller == "cpu" && !limits.cpus && !limits.cpu_shares && !h->v2) continue;
      if (controller == "cpuset" && limits.cpuset_cpus.empty()) continue;
      std::string dir = h->mount + "/" + name;
      bool fresh = std::find(cgroup.dirs_.begin(), cgroup.dirs_.end(), dir) == cgroup.dirs_.end();
      if (fresh) {
        if (h->v2) enable_v2_controllers(*h, parent, limits);
        make_cgroup_dir(h->mount + "/" + parent);
        if (!make_cgroup_dir(dir)) fail("cgroup {} exists already: is a container of this id running?", dir);
        cgroup.dirs_.push_back(dir);
        cgroup.v2_ = cgroup.v2_ || h->v2;
        const auto& on = h->controllers;
        if (!h->v2 && std::find(on.begin(), on.end(), "cpuset") != on.end()) inherit_v1_cpuset(*h, name);
      }
      apply_limits(dir, h->v2, controller, limits);
    }
    if (cgroup.dirs_.empty()) fail("no cgroup file system is mounted: mount cgroup2 on /sys/fs/cgroup");
    // Its own directory, if it has one, is joined with the others (by exec
    // too) and removed with them.
    std::string devices_dir = apply_device_policy(layout, name, cgroup.dirs_, devices);
    if (!devices_dir.empty()) cgroup.dirs_.push_back(devices_dir);
  } catch (...) {
    cgroup.remove();
    throw;
  }
  return cgroup;
}

void Cgroup::add_process(pid_t pid) const {
  std::string text = std::to_string(pid);
  for (const auto& dir : dirs_) write_control(dir + "/cgroup.procs", text);
}

std::vector<UniqueFd> Cgroup::open_join_files() const {
  std::vector<UniqueFd> files;
  for (const auto& dir : dirs_) {
    // v2 has no per-thread file outside threaded subtrees.
    int fd = ::open((dir + "/tasks").c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) fd = ::open((dir + "/cgroup.procs").c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) fail_errno(fmt::format("cannot open cgroup {}", dir));
    files.emplace_back(fd);
  }
  return files;
}

void Cgroup::join(const std::vector<UniqueFd>& join_files) {
  for (const auto& file : join_files) {
    if (::write(file.get(), "0", 1) != 1) fail_errno("cannot join the container's cgroup");
  }
}

std::string Cgroup::dir_with(std::string_view file) const {
  for (const auto& dir : dirs_) {
    if (::access((dir + "/" + std::string(file)).c_str(), F_OK) == 0) return dir;
  }
  return {};
}

CgroupStats Cgroup::stats() const {
  CgroupStats s;
  if (auto dir = dir_with("cpu.stat"); !dir.empty()) {
    s.cpu_periods = read_key(dir + "/cpu.stat", "nr_periods");
    s.cpu_throttled_periods = read_key(dir + "/cpu.stat", "nr_throttled");
    if (v2_ && dir_with("cpuacct.usage").empty()) {
      s.cpu_usage_ns = read_key(dir + "/cpu.stat", "usage_usec") * 1000;
      s.cpu_throttled_ns = read_key(dir + "/cpu.stat", "throttled_usec") * 1000;
    } else {
      s.cpu_throttled_ns = read_key(dir + "/cpu.stat", "throttled_time");
    }
  }
  if (auto dir = dir_with("cpuacct.usage"); !dir.empty())
    s.cpu_usage_ns = read_number(dir + "/cpuacct.usage");
  if (auto dir = dir_with("memory.usage_in_bytes"); !dir.empty()) {
    s.memory_bytes = read_number(dir + "/memory.usage_in_bytes");
    s.memory_peak_bytes = read_number(dir + "/memory.max_usage_in_bytes");
    s.oom_kills = read_key(dir + "/memory.oom_control", "oom_kill");
  } else if (auto dir = dir_with("memory.current"); !dir.empty()) {
    s.memory_bytes = read_number(dir + "/memory.current");
    s.memory_peak_bytes = read_number(dir + "/memory.peak");
    s.oom_kills = read_key(dir + "/memory.events", "oom_kill");
  }
  if (auto dir = dir_with("pids.current"); !dir.empty()) s.pids = read_number(dir + "/pids.current");
  return s;
}

UniqueFd Cgroup::watch_oom() const {
  if (auto dir = dir_with("memory.oom_control"); !dir.empty()) {
    UniqueFd event(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    UniqueFd control(::open((dir + "/memory.oom_control").c_str(), O_RDONLY | O_CLOEXEC));
    UniqueFd registration(::open((dir + "/cgroup.event_control").c_str(), O_WRONLY | O_CLOEXEC));
    if (!event || !control || !registration) return {};
    std::string line = fmt::format("{} {}", event.get(), control.get());
    if (::write(registration.get(), line.data(), line.size()) != static_cast<ssize_t>(line.size())) return {};
    return event;
  }
  if (auto dir = dir_with("memory.events"); !dir.empty()) {
    UniqueFd watch(::inotify_init1(IN_CLOEXEC | IN_NONBLOCK));
    if (!watch || ::inotify_add_watch(watch.get(), (dir + "/memory.events").c_str(), IN_MODIFY) < 0)
      return {};
    return watch;
  }
  return {};
}

void Cgroup::drain_oom_watch(int fd) {
  char buffer[4096];
  while (::read(fd, buffer, sizeof buffer) > 0) {
  }
}

void Cgroup::remove() {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(1);
  for (const auto& dir : dirs_) {
    while (::rmdir(dir.c_str()) != 0) {
      if (errno == ENOENT) break;
      if (errno != EBUSY || std::chrono::steady_clock::now() > deadline) {
        fail_errno(fmt::format("cannot remove cgroup {}", dir));
      }
      if (path_exists(dir + "/cgroup.kill")) {
        write_control(dir + "/cgroup.kill", "1");
      } else if (auto procs = read_small(dir + "/cgroup.procs")) {
        for (const auto& pid : split(*procs, '\n')) {
          if (!pid.empty()) ::kill(std::atoi(pid.c_str()), SIGKILL);
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  }
  dirs_.clear();
}

}  // namespace gocrate
