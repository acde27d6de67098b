#pragma once

#include <sys/types.h>

#include <ctime>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/containment/cgroups.h"
#include "runtime/network/port_mapping.h"
#include "runtime/state.h"
#include "runtime/supervision/restart_policy.h"

namespace gocrate {

// The verbs that change or look into a container that exists, as Docker's:
// top, port, rename, pause/unpause and update. Each records its event in
// the store's journal (store/events.h). A container is named by `ref`, as
// in container_lifecycle.h.

// ---- top ---------------------------------------------------------------------

// What `top` prints: ps's header and one row per process.
struct ProcessTable {
  std::vector<std::string> titles;
  std::vector<std::vector<std::string>> rows;
};

// The container's processes (host pids), its pid 1 first.
std::vector<pid_t> container_pids(const ContainerState& state);
// Without `ps_args`: `ps -ef`'s columns (UID PID PPID C STIME TTY TIME CMD)
// read from /proc. With them: the host's ps run with them (and -q PIDS
// where they allow it), its rows kept for the container's processes, as
// Docker does (a PID column is needed).
ProcessTable top_container(const std::string& store_root, const std::string& ref,
                           const std::vector<std::string>& ps_args);

// /proc/PID/stat's fields that top shows.
struct ProcStat {
  pid_t pid = 0;
  pid_t ppid = 0;
  std::string comm;
  int tty_nr = 0;
  uint64_t cpu_ticks = 0;    // utime + stime
  uint64_t start_ticks = 0;  // since boot
};
std::optional<ProcStat> parse_proc_stat(std::string_view text);
// ps's TIME: [DD-]HH:MM:SS of CPU.
std::string ps_cpu_time(uint64_t seconds);
// ps's STIME: HH:MM for today, MonDD this year, else the year (local time).
std::string ps_start_time(time_t start, time_t now);
// ps's TTY: "?", "pts/3", "tty1".
std::string ps_tty_name(int tty_nr);
// Docker's parsePSOutput: the titles of the first line; rows whose PID
// column is one of `pids`, the last column taking the rest of the line.
ProcessTable filter_ps_output(std::string_view output, const std::vector<pid_t>& pids);

// ---- port --------------------------------------------------------------------

// PRIVATE_PORT[/PROTO] (tcp when not given).
struct PortQuery {
  uint16_t port = 0;
  Protocol protocol = Protocol::tcp;
  std::string text;  // as given, for the error that it is not published
};
PortQuery parse_port_query(std::string_view text);
// Docker's lines: "80/tcp -> 0.0.0.0:8080" for every published port, or
// with `query` the host addresses of that port alone ("0.0.0.0:8080"); an
// error naming the port and `name` when it is not published.
std::vector<std::string> port_lines(const std::vector<PortMapping>& ports,
                                    const std::optional<PortQuery>& query, const std::string& name);
// The published ports of a running container (none for one that is not).
std::vector<std::string> container_port_lines(const std::string& store_root, const std::string& ref,
                                              const std::optional<PortQuery>& query);

// ---- rename ------------------------------------------------------------------

// Gives the container `new_name` (Docker's rules; a leading '/' is
// dropped): claimed at once, or an error naming the container that has it.
void rename_container(const std::string& store_root, const std::string& ref, std::string new_name);

// ---- pause, unpause ----------------------------------------------------------

void pause_container(const std::string& store_root, const std::string& ref);
void unpause_container(const std::string& store_root, const std::string& ref);

// ---- update ------------------------------------------------------------------

// update's flags as given (Docker's names); empty: unchanged.
struct UpdateFlags {
  std::string memory;       // -m
  std::string memory_swap;  // "-1" or a size of at least the memory limit
  std::string cpus;
  std::string cpu_shares;
  std::optional<int64_t> pids_limit;  // -1: no limit
  std::string restart;
};

// What an update changes, checked against the host (CPUs online, memory).
struct ContainerUpdate {
  std::optional<uint64_t> memory_bytes;
  std::optional<int64_t> memory_swap_bytes;  // -1: unlimited swap
  std::optional<double> cpus;
  std::optional<uint64_t> cpu_shares;
  std::optional<int64_t> pids;  // -1: no limit
  std::optional<RestartPolicy> restart;

  bool changes_limits() const { return memory_bytes || memory_swap_bytes || cpus || cpu_shares || pids; }
};
// An error names the flag, the value and the fix; `host_memory` and
// `host_cpus` are the host's.
ContainerUpdate parse_container_update(const UpdateFlags& flags, uint64_t host_memory, long host_cpus);
// Against this host's memory and online CPUs.
ContainerUpdate parse_container_update(const UpdateFlags& flags);
// The limits after `update` (Docker's rules for memory and swap together);
// an error when they contradict each other.
ResourceLimits updated_limits(const ResourceLimits& current, const ContainerUpdate& update);
// cgroup v1 refuses a memory limit above memory+swap's: the writes of the
// memory controller in an order the kernel takes, given the current
// memory.memsw.limit_in_bytes.
std::vector<CgroupWrite> order_v1_memory_writes(std::vector<CgroupWrite> writes, uint64_t current_memsw);

// Applies `update` to the container's cgroup if it runs, and keeps it in
// its config.json for inspect and later starts; the restart policy goes to
// its supervisor.
void update_container(const std::string& store_root, const std::string& ref, const ContainerUpdate& update);

}  // namespace gocrate
