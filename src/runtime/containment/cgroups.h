#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/containment/device_rules.h"
#include "util/fs.h"

namespace gocrate {

// What a container may use; nullopt means no limit.
struct ResourceLimits {
  std::optional<uint64_t> memory_bytes;  // -m
  // --memory-swap: memory and swap together, at least memory_bytes; -1 for
  // unlimited swap. Unset with -m: no swap beyond the memory limit.
  std::optional<int64_t> memory_swap_bytes;
  std::optional<uint64_t> memory_reservation_bytes;  // --memory-reservation: soft limit
  bool oom_kill_disable = false;                     // --oom-kill-disable (cgroup v1 only; needs -m)
  std::optional<double> cpus;                        // --cpus: CFS quota per 100 ms period
  std::optional<uint64_t> cpu_shares;                // --cpu-shares: relative weight, 2 to 262144
  std::string cpuset_cpus;                           // --cpuset-cpus, as "0-2,5"; empty: every CPU
  std::optional<int64_t> pids;                       // --pids-limit
};

// "64m", "1g", "1048576" (binary units, as docker -m; at least 6 MiB).
std::optional<uint64_t> parse_memory_limit(std::string_view text);
// "0.5", "2": more than 0.01 and at most the host's CPUs.
std::optional<double> parse_cpus(std::string_view text);

// The resource flags of `run` as typed (Docker's names and syntax).
struct ResourceFlags {
  std::string memory;              // -m
  std::string memory_swap;         // "-1", or a size at least -m's
  std::string memory_reservation;  // a size of at least 6m, at most -m's
  bool oom_kill_disable = false;
  std::string cpus;
  std::string cpu_shares;   // 2 to 262144; 0: the default (1024)
  std::string cpuset_cpus;  // "0-2,5"
  std::optional<int64_t> pids_limit;
};
// Checks each value and how they combine as Docker does (--memory-swap and
// --oom-kill-disable need -m, a reservation above the limit, CPUs this host
// does not have online); an error names the flag and the fix.
ResourceLimits parse_resource_limits(const ResourceFlags& flags);

// A CPU list ("0-3,5,7-8"): sorted, distinct CPUs; nullopt when malformed.
std::optional<std::vector<unsigned>> parse_cpu_list(std::string_view text);
// The shortest list text of `cpus` (sorted, distinct): "0-3,5".
std::string format_cpu_list(const std::vector<unsigned>& cpus);
// `text` checked against the CPUs `online` holds (a list, as
// /sys/devices/system/cpu/online has it); returns it normalised.
std::string check_cpuset(std::string_view text, std::string_view online);
// runc's mapping of cpu.shares (2..262144) onto cgroup v2's cpu.weight (1..10000).
uint64_t cpu_weight_of_shares(uint64_t shares);

// One value to write into a container's cgroup for its limits.
struct CgroupWrite {
  std::string file;
  std::string value;
  bool optional = false;  // written only where the kernel has the file
  std::string missing;    // the error when a required file is missing; empty: the write's own error
};
// What `limits` write into the cgroup of `controller` ("memory", "cpu",
// "cpuset", "pids"), in order, on cgroup v1 or v2. A v1 cpuset also needs
// cpuset.mems, copied from its parent by Cgroup::create.
std::vector<CgroupWrite> cgroup_limit_writes(std::string_view controller, bool v2,
                                             const ResourceLimits& limits);

struct CgroupStats {
  uint64_t cpu_usage_ns = 0;
  uint64_t cpu_periods = 0;
  uint64_t cpu_throttled_periods = 0;
  uint64_t cpu_throttled_ns = 0;
  uint64_t memory_bytes = 0;
  uint64_t memory_peak_bytes = 0;  // 0 where the kernel does not record it
  uint64_t pids = 0;
  uint64_t oom_kills = 0;
};

// One mounted cgroup hierarchy: a v1 one with its controllers, or the v2 one.
struct CgroupHierarchy {
  std::string mount;
  bool v2 = false;
  std::vector<std::string> controllers;  // v2: those listed in the root's cgroup.controllers
};

// Where the controllers a container needs (memory, cpu, cpuacct, pids,
// devices) live: all in v1 hierarchies, all in the v2 one, or split (hybrid).
class CgroupLayout {
 public:
  // Reads /proc/self/mountinfo. Only the hierarchies of the controllers a
  // container of `run` uses, or with `every_hierarchy` all of them with all
  // their controllers and names ("name=systemd"), as an OCI runtime joins.
  static CgroupLayout detect(bool every_hierarchy = false);
  // Only the cgroup2 file system mounted at `mount` (tests, other roots).
  static CgroupLayout v2_at(std::string mount);

  // The hierarchy that holds `controller`, or nullptr.
  const CgroupHierarchy* find(std::string_view controller) const;
  // The cgroup2 hierarchy, with or without controllers, or nullptr.
  const CgroupHierarchy* v2_hierarchy() const;
  // "cgroup v1", "cgroup v2", "cgroup v1 and v2 (hybrid)".
  std::string describe() const;
  // Whether every controller a container uses is in the v2 hierarchy, so a
  // process can be cloned straight into its cgroup (CLONE_INTO_CGROUP).
  bool pure_v2() const;

  std::vector<CgroupHierarchy> hierarchies;
};

// A container's cgroup, in every hierarchy that holds one of its controllers.
class Cgroup {
 public:
  // Creates `name` ("gocrate/<id>") and applies `limits`. A limit whose
  // controller is missing is an error naming it; nothing is left behind.
  // `devices` are enforced by the v1 devices controller, else by a BPF
  // program on the v2 cgroup (made for it on a hybrid host); a host where
  // neither works refuses a policy that requires them.
  static Cgroup create(const CgroupLayout& layout, const std::string& name, const ResourceLimits& limits,
                       const DevicePolicy& devices = {});
  // An existing cgroup's directories (from state), for stats and removal.
  Cgroup(std::vector<std::string> dirs, bool v2) : dirs_(std::move(dirs)), v2_(v2) {}
  Cgroup() = default;
  Cgroup(Cgroup&& other) noexcept = default;
  Cgroup& operator=(Cgroup&& other) noexcept = default;

  void add_process(pid_t pid) const;
  // The files a process writes "0" into to move itself in: `tasks` on v1,
  // where a thread moving itself skips the global lock whose first use
  // after a quiet spell waits for an RCU grace period (10 ms and more);
  // cgroup.procs on v2. Opened by gocrate, written by the container.
  std::vector<UniqueFd> open_join_files() const;
  // In the process that moves itself: writes "0" into each of those files.
  static void join(const std::vector<UniqueFd>& join_files);
  CgroupStats stats() const;
  // A descriptor that polls readable when the kernel may have killed a
  // process of the cgroup for memory (v1: an eventfd on memory.oom_control,
  // v2: inotify on memory.events); stats().oom_kills says how many. Empty
  // without a memory controller. drain_oom_watch() rearms it.
  UniqueFd watch_oom() const;
  static void drain_oom_watch(int fd);
  // Kills what is left inside and removes the directories; waits up to a
  // second for the kernel to let go of exited tasks.
  void remove();

  const std::vector<std::string>& dirs() const { return dirs_; }
  bool v2() const { return v2_; }

 private:
  std::string dir_with(std::string_view file) const;
  std::vector<std::string> dirs_;
  bool v2_ = false;
};

}  // namespace gocrate
