#include "runtime/container_manage.h"

#include <fcntl.h>
#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <functional>
#include <map>
#include <set>
#include <thread>

#include "runtime/container_config.h"
#include "runtime/container_events.h"
#include "runtime/container_lifecycle.h"
#include "runtime/containment/freezer.h"
#include "runtime/supervision/container_control.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/process.h"
#include "util/strings.h"

namespace gocrate {

namespace {

// How long rename waits for a running container's supervisor to take the
// new name.
constexpr auto kSupervisorAnswer = std::chrono::seconds(10);

// config.json changed by one command at a time: read, changed, replaced
// under <dir>/config.lock. False for a container without one (foreground).
bool edit_config(const std::string& container_dir, const std::function<void(ContainerConfig&)>& change) {
  if (!path_exists(container_config_path(container_dir))) return false;
  FileLock lock(container_dir + "/config.lock", LockMode::exclusive);
  auto config = read_container_config(container_dir);
  if (!config) return false;
  change(*config);
  write_file_replace(container_config_path(container_dir), config->to_json_text(), 0600);
  return true;
}

uint64_t seconds_since_boot() {
  auto text = read_file_if_exists("/proc/uptime").value_or("0");
  return static_cast<uint64_t>(std::strtod(text.c_str(), nullptr));
}

time_t boot_time() {
  for (const auto& line : split(read_file_if_exists("/proc/stat").value_or(""), '\n')) {
    if (line.starts_with("btime ")) return static_cast<time_t>(std::strtoll(line.c_str() + 6, nullptr, 10));
  }
  return 0;
}

// ps -ef shows a user's name when it fits its 8 columns, else the number.
std::string user_of(pid_t pid) {
  uid_t uid = 0;
  for (const auto& line :
       split(read_file_if_exists(fmt::format("/proc/{}/status", pid)).value_or(""), '\n')) {
    if (line.starts_with("Uid:")) uid = static_cast<uid_t>(std::strtoul(line.c_str() + 4, nullptr, 10));
  }
  passwd entry{}, *found = nullptr;
  char buffer[4096];
  if (::getpwuid_r(uid, &entry, buffer, sizeof buffer, &found) == 0 && found &&
      std::strlen(found->pw_name) <= 8)
    return found->pw_name;
  return std::to_string(uid);
}

std::string command_line_of(pid_t pid, const std::string& comm) {
  std::string text = read_file_if_exists(fmt::format("/proc/{}/cmdline", pid)).value_or("");
  while (!text.empty() && text.back() == '\0') text.pop_back();
  if (text.empty()) return "[" + comm + "]";
  std::replace(text.begin(), text.end(), '\0', ' ');
  return text;
}

ProcessTable read_processes(const std::vector<pid_t>& pids) {
  ProcessTable table{{"UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"}, {}};
  long hz = ::sysconf(_SC_CLK_TCK);
  if (hz <= 0) hz = 100;
  uint64_t uptime = seconds_since_boot();
  time_t booted = boot_time();
  time_t now = ::time(nullptr);
  for (pid_t pid : pids) {
    auto text = read_file_if_exists(fmt::format("/proc/{}/stat", pid));
    if (!text) continue;  // ended meanwhile
    auto stat = parse_proc_stat(*text);
    if (!stat) continue;
    uint64_t started = stat->start_ticks / static_cast<uint64_t>(hz);
    uint64_t elapsed = uptime > started ? uptime - started : 0;
    uint64_t cpu =
        elapsed ? std::min<uint64_t>(99, stat->cpu_ticks * 100 / static_cast<uint64_t>(hz) / elapsed) : 0;
    table.rows.push_back({user_of(pid), std::to_string(pid), std::to_string(stat->ppid), std::to_string(cpu),
                          ps_start_time(booted + static_cast<time_t>(started), now),
                          ps_tty_name(stat->tty_nr), ps_cpu_time(stat->cpu_ticks / static_cast<uint64_t>(hz)),
                          command_line_of(pid, stat->comm)});
  }
  return table;
}

// Docker's words for a container that is not running.
void require_running(const ContainerView& c) {
  if (!c.running()) fail("container {} is not running: start it first (see `gocrate ps -a`)", c.state.name);
}

void check_new_name(std::string& name) {
  if (name.starts_with('/')) name.erase(0, 1);
  if (name.empty()) fail("the new name is empty: give the container a name such as web-2");
  check_container_name(name);
}

// Waits until the container's supervisor has saved `name` (a rename's
// reload); false after kSupervisorAnswer.
bool wait_for_name(const ContainerDirectory& directory, const std::string& id, const std::string& name) {
  auto deadline = std::chrono::steady_clock::now() + kSupervisorAnswer;
  while (std::chrono::steady_clock::now() < deadline) {
    auto state = directory.find(id);
    if (!state || state->name == name) return true;
    if (!container_is_owned(directory.dir_of(id))) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return false;
}

// The working set (usage without the inactive file cache the kernel
// reclaims at once) of the memory cgroup `dir`.
uint64_t memory_working_set(const std::string& dir) {
  auto number = [](const std::string& path) {
    return std::strtoull(read_file_if_exists(path).value_or("0").c_str(), nullptr, 10);
  };
  bool v2 = path_exists(dir + "/memory.current");
  uint64_t usage = number(dir + (v2 ? "/memory.current" : "/memory.usage_in_bytes"));
  uint64_t inactive = 0;
  for (const auto& line : split(read_file_if_exists(dir + "/memory.stat").value_or(""), '\n')) {
    std::string key = v2 ? "inactive_file " : "total_inactive_file ";
    if (line.starts_with(key)) inactive = std::strtoull(line.c_str() + key.size(), nullptr, 10);
  }
  return usage > inactive ? usage - inactive : 0;
}

void write_control(const std::string& path, const std::string& value) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd) fail_errno(fmt::format("cannot open cgroup file {}", path));
  if (::write(fd.get(), value.data(), value.size()) != static_cast<ssize_t>(value.size()))
    fail_errno(fmt::format("cannot write \"{}\" to {}", value, path));
}

// Writes the limits `update` changes into the running container's cgroup.
void apply_to_cgroup(const ContainerView& c, const ResourceLimits& limits, const ContainerUpdate& update) {
  ResourceLimits writes_of = limits;
  if (update.pids) writes_of.pids = *update.pids;  // -1 writes "max"
  struct Part {
    std::string_view controller;
    std::string_view flag;
    bool changed;
  };
  for (const auto& part :
       {Part{"memory", "--memory", update.memory_bytes || update.memory_swap_bytes},
        Part{"cpu", update.cpus ? "--cpus" : "--cpu-shares", update.cpus || update.cpu_shares},
        Part{"pids", "--pids-limit", update.pids.has_value()}}) {
    if (!part.changed) continue;
    std::string dir = container_controller_dir(c.state.cgroup_dirs, part.controller);
    if (dir.empty()) {
      fail("cannot enforce {}: this host has no {} cgroup controller; update without {}", part.flag,
           part.controller, part.flag);
    }
    bool v2 = path_exists(dir + "/cgroup.controllers");
    auto writes = cgroup_limit_writes(part.controller, v2, writes_of);
    if (part.controller == "memory") {
      if (update.memory_bytes) {
        uint64_t used = memory_working_set(dir);
        if (*update.memory_bytes < used) {
          fail("cannot set --memory {} on container {}: it uses {} now; give a limit above that",
               binary_size(*update.memory_bytes), c.state.name, binary_size(used));
        }
      }
      if (!v2) {
        uint64_t memsw = std::strtoull(
            read_file_if_exists(dir + "/memory.memsw.limit_in_bytes").value_or("0").c_str(), nullptr, 10);
        writes = order_v1_memory_writes(std::move(writes), memsw);
      }
    }
    for (const auto& write : writes) {
      std::string path = dir + "/" + write.file;
      if (!path_exists(path)) {
        if (write.optional) continue;
        if (!write.missing.empty()) fail("{}", write.missing);
      }
      write_control(path, write.value);
    }
  }
}

}  // namespace

// ---- top ---------------------------------------------------------------------

std::optional<ProcStat> parse_proc_stat(std::string_view text) {
  // The command name is in parentheses and may hold spaces and ')'.
  size_t open = text.find('(');
  size_t close = text.rfind(')');
  if (open == std::string_view::npos || close == std::string_view::npos || close < open) return std::nullopt;
  ProcStat stat;
  stat.pid = static_cast<pid_t>(std::strtol(std::string(text.substr(0, open)).c_str(), nullptr, 10));
  stat.comm = std::string(text.substr(open + 1, close - open - 1));
  std::vector<std::string> fields;
  for (const auto& field : split(trim(text.substr(close + 1)), ' ')) {
    if (!field.empty()) fields.push_back(field);
  }
  // From the state (field 3): ppid 4, tty_nr 7, utime 14, stime 15, starttime 22.
  if (fields.size() < 20) return std::nullopt;
  auto at = [&](size_t field) { return std::strtoull(fields[field - 3].c_str(), nullptr, 10); };
  stat.ppid = static_cast<pid_t>(at(4));
  stat.tty_nr = static_cast<int>(std::strtol(fields[7 - 3].c_str(), nullptr, 10));
  stat.cpu_ticks = at(14) + at(15);
  stat.start_ticks = at(22);
  return stat;
}

std::string ps_cpu_time(uint64_t seconds) {
  uint64_t days = seconds / 86400;
  std::string time = fmt::format("{:02}:{:02}:{:02}", seconds / 3600 % 24, seconds / 60 % 60, seconds % 60);
  return days ? fmt::format("{}-{}", days, time) : time;
}

std::string ps_start_time(time_t start, time_t now) {
  tm then{}, today{};
  ::localtime_r(&start, &then);
  ::localtime_r(&now, &today);
  char buffer[32];
  const char* format = then.tm_year != today.tm_year   ? "%Y"
                       : then.tm_yday != today.tm_yday ? "%b%d"
                                                       : "%H:%M";
  std::strftime(buffer, sizeof buffer, format, &then);
  return buffer;
}

std::string ps_tty_name(int tty_nr) {
  unsigned major = (static_cast<unsigned>(tty_nr) >> 8) & 0xfff;
  unsigned minor = (static_cast<unsigned>(tty_nr) & 0xff) | ((static_cast<unsigned>(tty_nr) >> 12) & 0xfff00);
  if (tty_nr == 0) return "?";
  if (major >= 136 && major <= 143) return fmt::format("pts/{}", (major - 136) * 256 + minor);
  if (major == 4 && minor < 64) return fmt::format("tty{}", minor);
  if (major == 4) return fmt::format("ttyS{}", minor - 64);
  return "?";
}

ProcessTable filter_ps_output(std::string_view output, const std::vector<pid_t>& pids) {
  auto fields_of = [](std::string_view line) {
    std::vector<std::string> fields;
    for (const auto& f : split(line, ' ')) {
      std::string_view word = trim(f);
      if (!word.empty()) fields.emplace_back(word);
    }
    return fields;
  };
  auto lines = split(output, '\n');
  ProcessTable table;
  if (lines.empty()) fail("ps printed nothing: give it options that print a header line with a PID column");
  table.titles = fields_of(lines[0]);
  auto pid_column = std::find(table.titles.begin(), table.titles.end(), "PID");
  if (pid_column == table.titles.end())
    fail("ps's output has no PID column to find the container's processes by: add -o pid or use -ef");
  size_t pid_index = static_cast<size_t>(pid_column - table.titles.begin());
  std::set<pid_t> wanted(pids.begin(), pids.end());
  for (size_t i = 1; i < lines.size(); ++i) {
    auto fields = fields_of(lines[i]);
    if (fields.empty()) continue;
    if (fields.size() <= pid_index) continue;
    int64_t pid = 0;
    if (!parse_int(fields[pid_index], 0, INT32_MAX, pid))
      fail("ps printed \"{}\" where a PID belongs: use options whose PID column holds numbers",
           fields[pid_index]);
    if (!wanted.count(static_cast<pid_t>(pid))) continue;
    size_t last = table.titles.size() - 1;
    std::vector<std::string> row(fields.begin(),
                                 fields.begin() + static_cast<long>(std::min(last, fields.size())));
    if (fields.size() > last) {
      std::vector<std::string> rest(fields.begin() + static_cast<long>(last), fields.end());
      row.push_back(join(rest, " "));
    }
    table.rows.push_back(std::move(row));
  }
  return table;
}

std::vector<pid_t> container_pids(const ContainerState& state) {
  std::set<pid_t> pids;
  for (const auto& dir : state.cgroup_dirs) {
    for (const auto& line : split(read_file_if_exists(dir + "/cgroup.procs").value_or(""), '\n')) {
      if (!line.empty()) pids.insert(static_cast<pid_t>(std::strtol(line.c_str(), nullptr, 10)));
    }
  }
  return {pids.begin(), pids.end()};
}

ProcessTable top_container(const std::string& store_root, const std::string& ref,
                           const std::vector<std::string>& ps_args) {
  ContainerView c = find_container(ContainerDirectory(store_root), ref);
  require_running(c);
  std::vector<pid_t> pids = container_pids(c.state);
  if (ps_args.empty()) return read_processes(pids);
  if (!find_executable("ps"))
    fail("top with ps options runs the host's ps, which is not installed (Debian: procps)");
  std::vector<std::string> argv = {"ps"};
  argv.insert(argv.end(), ps_args.begin(), ps_args.end());
  // Docker's: ps's quick pid mode (-q) shows the container's processes
  // whatever the options select; some options refuse it, and then ps runs
  // without it.
  std::vector<std::string> pid_texts;
  for (pid_t pid : pids) pid_texts.push_back(std::to_string(pid));
  std::vector<std::string> quick = argv;
  quick.insert(quick.end(), {"-q", join(pid_texts, ",")});
  ProcessResult result = pids.empty() ? ProcessResult{1, "", ""} : run_process(quick);
  if (result.exit_code != 0) result = run_process(argv);
  if (result.exit_code != 0) {
    std::string why(trim(result.err));
    fail("ps {} failed: {}", join(ps_args, " "), why.substr(0, why.find('\n')));
  }
  return filter_ps_output(result.out, pids);
}

// ---- port --------------------------------------------------------------------

PortQuery parse_port_query(std::string_view text) {
  size_t slash = text.find('/');
  int64_t port = 0;
  if (!parse_int(text.substr(0, slash), 1, 65535, port))
    fail("invalid port \"{}\": use PRIVATE_PORT[/PROTO] such as 80 or 53/udp", text);
  PortQuery query{static_cast<uint16_t>(port), Protocol::tcp, std::string(text)};
  if (slash != std::string_view::npos) {
    std::string_view proto = text.substr(slash + 1);
    if (proto == "udp")
      query.protocol = Protocol::udp;
    else if (proto != "tcp")
      fail("invalid protocol \"{}\" in \"{}\": use tcp or udp", proto, text);
  }
  return query;
}

std::vector<std::string> port_lines(const std::vector<PortMapping>& ports,
                                    const std::optional<PortQuery>& query, const std::string& name) {
  std::vector<PortMapping> sorted = ports;
  std::sort(sorted.begin(), sorted.end(), [](const PortMapping& a, const PortMapping& b) {
    return std::tie(a.container_port, a.protocol, a.host_ip, a.host_port) <
           std::tie(b.container_port, b.protocol, b.host_ip, b.host_port);
  });
  std::vector<std::string> lines;
  for (const auto& p : sorted) {
    if (query && (p.container_port != query->port || p.protocol != query->protocol)) continue;
    std::string ip = p.host_ip.empty() ? "0.0.0.0" : p.host_ip;
    if (ip.find(':') != std::string::npos) ip = "[" + ip + "]";
    std::string host = fmt::format("{}:{}", ip, p.host_port);
    lines.push_back(query ? host
                          : fmt::format("{}/{} -> {}", p.container_port, protocol_name(p.protocol), host));
  }
  if (query && lines.empty()) fail("no public port '{}' published for {}", query->text, name);
  return lines;
}

std::vector<std::string> container_port_lines(const std::string& store_root, const std::string& ref,
                                              const std::optional<PortQuery>& query) {
  ContainerView c = find_container(ContainerDirectory(store_root), ref);
  // A container that is not running has no host ports bound.
  return port_lines(c.running() ? c.state.ports : std::vector<PortMapping>{}, query, ref);
}

// ---- rename ------------------------------------------------------------------

void rename_container(const std::string& store_root, const std::string& ref, std::string new_name) {
  check_new_name(new_name);
  ContainerDirectory directory(store_root);
  ContainerView c = find_container(directory, ref);
  std::string old_name = c.state.name;
  if (new_name == old_name) fail("container {} is named {} already: give another name", old_name, new_name);
  if (c.owned && !c.state.supervised) {
    fail("container {} runs in the foreground, whose gocrate keeps its state: rename it once it has stopped",
         old_name);
  }
  directory.claim_name(new_name, c.state.id, "remove or rename that container first");
  try {
    edit_config(c.dir, [&](ContainerConfig& config) { config.spec.name = new_name; });
    bool renamed = false;
    // A running supervisor owns state.json: it takes the name from config.json.
    if (container_is_owned(c.dir) && send_supervisor_request(c.dir, "reload 0"))
      renamed = wait_for_name(directory, c.state.id, new_name);
    if (!renamed) {
      UniqueFd lock(::open(c.dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
      if (!lock) fail("container {} was removed meanwhile", old_name);
      if (!try_lock_file(lock.get(), LockMode::exclusive, c.dir))
        fail("container {} was started again meanwhile and did not take the name: try again", old_name);
      auto state = directory.find(c.state.id);
      if (!state) fail("container {} was removed meanwhile", old_name);
      state->name = new_name;
      directory.save(*state);
    }
  } catch (const Error&) {
    edit_config(c.dir, [&](ContainerConfig& config) { config.spec.name = old_name; });
    directory.release_name(new_name, c.state.id);
    throw;
  }
  directory.release_name(old_name, c.state.id);
  ContainerState renamed = c.state;
  renamed.name = new_name;
  record_container_event(store_root, renamed, "rename", {{"oldName", "/" + old_name}});
}

// ---- pause, unpause ----------------------------------------------------------

void pause_container(const std::string& store_root, const std::string& ref) {
  ContainerView c = find_container(ContainerDirectory(store_root), ref);
  if (c.paused()) fail("container {} is already paused", c.state.name);
  require_running(c);
  freeze_container_cgroup(c.state.cgroup_dirs);
  record_container_event(store_root, c.state, "pause");
}

void unpause_container(const std::string& store_root, const std::string& ref) {
  ContainerView c = find_container(ContainerDirectory(store_root), ref);
  if (!c.paused()) fail("container {} is not paused", c.state.name);
  thaw_container_cgroup(c.state.cgroup_dirs);
  record_container_event(store_root, c.state, "unpause");
}

// ---- update ------------------------------------------------------------------

ContainerUpdate parse_container_update(const UpdateFlags& f, uint64_t host_memory, long host_cpus) {
  ContainerUpdate update;
  if (!f.memory.empty()) {
    update.memory_bytes = parse_memory_limit(f.memory);
    if (!update.memory_bytes)
      fail("invalid --memory \"{}\": use a size of at least 6m such as 64m or 1g", f.memory);
    if (host_memory && *update.memory_bytes > host_memory) {
      fail("invalid --memory {}: this host has {} of memory; give at most that", f.memory,
           binary_size(host_memory));
    }
  }
  if (!f.memory_swap.empty()) {
    uint64_t bytes = 0;
    if (trim(f.memory_swap) == "-1") {
      update.memory_swap_bytes = -1;
    } else if (!parse_byte_size(f.memory_swap, bytes) || bytes == 0 || bytes > uint64_t{INT64_MAX}) {
      fail(
          "invalid --memory-swap \"{}\": use a size such as 1g (memory and swap together), or -1 for "
          "unlimited "
          "swap",
          f.memory_swap);
    } else {
      update.memory_swap_bytes = static_cast<int64_t>(bytes);
    }
  }
  if (!f.cpus.empty()) {
    std::string text(trim(f.cpus));
    char* end = nullptr;
    double cpus = std::strtod(text.c_str(), &end);
    if (text.empty() || text.find_first_not_of("0123456789.") != std::string::npos ||
        end != text.c_str() + text.size() || !std::isfinite(cpus) || cpus < 0.01) {
      fail("invalid --cpus \"{}\": use a number of CPUs such as 0.5 or 2", f.cpus);
    }
    if (host_cpus > 0 && cpus > static_cast<double>(host_cpus))
      fail("invalid --cpus {}: this host has {} CPUs; give at most {}", f.cpus, host_cpus, host_cpus);
    update.cpus = cpus;
  }
  if (!f.cpu_shares.empty()) {
    int64_t shares = 0;
    if (!parse_int(trim(f.cpu_shares), 2, 262144, shares))
      fail("invalid --cpu-shares \"{}\": use a relative weight from 2 to 262144 (1024 is the default)",
           f.cpu_shares);
    update.cpu_shares = static_cast<uint64_t>(shares);
  }
  if (f.pids_limit) {
    if (*f.pids_limit < -1 || *f.pids_limit == 0)
      fail("invalid --pids-limit {}: use a positive number, or -1 for no limit", *f.pids_limit);
    update.pids = *f.pids_limit;
  }
  if (!f.restart.empty()) update.restart = RestartPolicy::parse(f.restart);
  if (!update.changes_limits() && !update.restart)
    fail(
        "nothing to update: give one or more of -m, --memory-swap, --cpus, --cpu-shares, --pids-limit, "
        "--restart");
  return update;
}

ContainerUpdate parse_container_update(const UpdateFlags& flags) {
  return parse_container_update(flags, host_memory_bytes(), ::sysconf(_SC_NPROCESSORS_ONLN));
}

ResourceLimits updated_limits(const ResourceLimits& current, const ContainerUpdate& update) {
  ResourceLimits next = current;
  if (update.memory_bytes) next.memory_bytes = update.memory_bytes;
  if (update.memory_swap_bytes) {
    if (!next.memory_bytes) {
      fail(
          "--memory-swap limits memory and swap together, and the container has no memory limit: give -m "
          "with "
          "it");
    }
    if (*update.memory_swap_bytes >= 0 &&
        static_cast<uint64_t>(*update.memory_swap_bytes) < *next.memory_bytes) {
      fail(
          "invalid --memory-swap {}: it is memory and swap together, so it must be at least the memory limit "
          "{}, "
          "or -1 for unlimited swap",
          binary_size(static_cast<uint64_t>(*update.memory_swap_bytes)), binary_size(*next.memory_bytes));
    }
    next.memory_swap_bytes = update.memory_swap_bytes;
  } else if (update.memory_bytes && current.memory_swap_bytes && *current.memory_swap_bytes >= 0 &&
             static_cast<uint64_t>(*current.memory_swap_bytes) < *update.memory_bytes) {
    fail(
        "--memory {} is above the container's --memory-swap {} (memory and swap together): give a larger "
        "--memory-swap with it",
        binary_size(*update.memory_bytes), binary_size(static_cast<uint64_t>(*current.memory_swap_bytes)));
  }
  if (next.memory_reservation_bytes && next.memory_bytes &&
      *next.memory_reservation_bytes > *next.memory_bytes) {
    fail(
        "--memory {} is below the container's --memory-reservation {}: a reservation must be at most the "
        "limit",
        binary_size(*next.memory_bytes), binary_size(*next.memory_reservation_bytes));
  }
  if (update.cpus) next.cpus = update.cpus;
  if (update.cpu_shares) next.cpu_shares = update.cpu_shares;
  if (update.pids) next.pids = *update.pids > 0 ? update.pids : std::nullopt;
  return next;
}

std::vector<CgroupWrite> order_v1_memory_writes(std::vector<CgroupWrite> writes, uint64_t current_memsw) {
  auto find = [&](std::string_view file) {
    return std::find_if(writes.begin(), writes.end(), [&](const CgroupWrite& w) { return w.file == file; });
  };
  auto memory = find("memory.limit_in_bytes");
  auto memsw = find("memory.memsw.limit_in_bytes");
  if (memory == writes.end() || memsw == writes.end() || memsw < memory) return writes;
  if (std::strtoull(memory->value.c_str(), nullptr, 10) > current_memsw) std::iter_swap(memory, memsw);
  return writes;
}

void update_container(const std::string& store_root, const std::string& ref, const ContainerUpdate& update) {
  ContainerView c = find_container(ContainerDirectory(store_root), ref);
  auto config = read_container_config(c.dir);
  if (!config && !c.running())
    fail("container {} ran in the foreground and has ended: there is nothing left to update", c.state.name);
  if (update.restart && !config) {
    fail("container {} ran in the foreground: only a detached container (run -d) has a restart policy",
         c.state.name);
  }
  if (update.restart && update.restart->kind != RestartPolicy::Kind::no && c.state.auto_remove) {
    fail("cannot give container {} restart policy {}: it was run with --rm, which removes it when it exits",
         c.state.name, update.restart->str());
  }
  ResourceLimits limits = updated_limits(config ? config->spec.limits : ResourceLimits{}, update);
  if (update.changes_limits() && c.running()) apply_to_cgroup(c, limits, update);
  edit_config(c.dir, [&](ContainerConfig& edited) {
    edited.spec.limits = updated_limits(edited.spec.limits, update);
    if (update.restart) edited.supervision.restart = *update.restart;
  });
  if (config && c.owned) send_supervisor_request(c.dir, "reload 0");
  record_container_event(store_root, c.state, "update");
}

}  // namespace gocrate
