#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

// The OCI runtime-spec's config.json (v1.0–v1.2) as the containment engine
// executes it. Unknown fields and annotations are ignored, as the spec asks;
// a field of the wrong type, or a value the engine cannot honour, is a
// one-line error naming the field ("process.rlimits[2].type ...").
namespace gocrate::oci {

struct ConsoleSize {
  unsigned height = 0;
  unsigned width = 0;
};

struct User {
  uint32_t uid = 0;
  uint32_t gid = 0;
  std::optional<uint32_t> umask;
  std::vector<uint32_t> additional_gids;
};

// Bit masks of capability numbers (bit n = capability n); unknown names are
// refused when parsed.
struct Capabilities {
  uint64_t bounding = 0;
  uint64_t effective = 0;
  uint64_t inheritable = 0;
  uint64_t permitted = 0;
  uint64_t ambient = 0;
};

struct Rlimit {
  std::string type;  // "RLIMIT_NOFILE"
  int resource = 0;  // RLIMIT_NOFILE
  uint64_t hard = 0;
  uint64_t soft = 0;
};

struct Process {
  bool terminal = false;
  std::optional<ConsoleSize> console_size;
  User user;
  std::vector<std::string> args;
  std::vector<std::string> env;
  std::string cwd = "/";
  std::optional<Capabilities> capabilities;  // absent: none at all
  std::vector<Rlimit> rlimits;
  bool no_new_privileges = false;
  std::optional<int> oom_score_adj;
  std::string apparmor_profile;
  std::string selinux_label;
};

struct Root {
  std::string path;  // absolute, or relative to the bundle
  bool readonly = false;
};

struct Mount {
  std::string destination;
  std::string type;  // empty: a bind when options say bind/rbind
  std::string source;
  std::vector<std::string> options;
};

struct Hook {
  std::string path;
  std::vector<std::string> args;
  std::vector<std::string> env;
  std::optional<int> timeout;  // seconds, > 0
};

struct Hooks {
  std::vector<Hook> prestart;  // deprecated, run as createRuntime
  std::vector<Hook> create_runtime;
  std::vector<Hook> create_container;
  std::vector<Hook> start_container;
  std::vector<Hook> poststart;
  std::vector<Hook> poststop;
};

enum class NamespaceType { pid, network, mount, ipc, uts, user, cgroup, time };

struct Namespace {
  NamespaceType type = NamespaceType::pid;
  std::string path;  // empty: a new namespace; else one to join
};

struct IdMapping {
  uint32_t container_id = 0;
  uint32_t host_id = 0;
  uint32_t size = 0;
};

struct Device {
  char type = 'c';  // c, b, u, p
  std::string path;
  int64_t major = 0;
  int64_t minor = 0;
  std::optional<uint32_t> file_mode;
  std::optional<uint32_t> uid;
  std::optional<uint32_t> gid;
};

struct DeviceCgroupRule {
  bool allow = false;
  char type = 'a';               // a, c, b
  std::optional<int64_t> major;  // absent: any
  std::optional<int64_t> minor;
  std::string access;  // subset of "rwm"
};

struct MemoryResources {
  std::optional<int64_t> limit;
  std::optional<int64_t> reservation;
  std::optional<int64_t> swap;
  std::optional<int64_t> kernel;
  std::optional<int64_t> kernel_tcp;
  std::optional<uint64_t> swappiness;
  std::optional<bool> disable_oom_killer;
  std::optional<bool> use_hierarchy;
  std::optional<bool> check_before_update;
};

struct CpuResources {
  std::optional<uint64_t> shares;
  std::optional<int64_t> quota;
  std::optional<uint64_t> burst;
  std::optional<uint64_t> period;
  std::optional<int64_t> realtime_runtime;
  std::optional<uint64_t> realtime_period;
  std::string cpus;
  std::string mems;
  std::optional<int64_t> idle;
};

struct BlockIoDevice {
  int64_t major = 0;
  int64_t minor = 0;
  std::optional<uint16_t> weight;       // weightDevice
  std::optional<uint16_t> leaf_weight;  // weightDevice
  uint64_t rate = 0;                    // throttle*Device
};

struct BlockIoResources {
  std::optional<uint16_t> weight;
  std::optional<uint16_t> leaf_weight;
  std::vector<BlockIoDevice> weight_device;
  std::vector<BlockIoDevice> throttle_read_bps;
  std::vector<BlockIoDevice> throttle_write_bps;
  std::vector<BlockIoDevice> throttle_read_iops;
  std::vector<BlockIoDevice> throttle_write_iops;
};

struct HugepageLimit {
  std::string page_size;  // "2MB", "1GB"
  uint64_t limit = 0;
};

struct NetworkPriority {
  std::string name;
  uint32_t priority = 0;
};

struct NetworkResources {
  std::optional<uint32_t> class_id;
  std::vector<NetworkPriority> priorities;
};

struct Resources {
  std::vector<DeviceCgroupRule> devices;
  std::optional<MemoryResources> memory;
  std::optional<CpuResources> cpu;
  std::optional<int64_t> pids_limit;
  std::optional<BlockIoResources> block_io;
  std::vector<HugepageLimit> hugepage_limits;
  std::optional<NetworkResources> network;
  std::map<std::string, std::string> unified;
};

struct SeccompArg {
  unsigned index = 0;
  uint64_t value = 0;
  uint64_t value_two = 0;
  std::string op;  // SCMP_CMP_EQ, ...
};

struct SeccompSyscall {
  std::vector<std::string> names;
  std::string action;  // SCMP_ACT_*
  std::optional<uint32_t> errno_ret;
  std::vector<SeccompArg> args;
};

struct Seccomp {
  std::string default_action;
  std::optional<uint32_t> default_errno_ret;
  std::vector<std::string> architectures;  // SCMP_ARCH_*
  std::vector<std::string> flags;          // SECCOMP_FILTER_FLAG_*
  std::string listener_path;
  std::string listener_metadata;
  std::vector<SeccompSyscall> syscalls;
};

struct Personality {
  std::string domain;  // LINUX, LINUX32
  std::vector<std::string> flags;
};

struct Linux {
  std::vector<Namespace> namespaces;
  std::vector<IdMapping> uid_mappings;
  std::vector<IdMapping> gid_mappings;
  std::vector<Device> devices;
  std::string cgroups_path;
  std::optional<Resources> resources;
  std::map<std::string, std::string> sysctl;
  std::optional<Seccomp> seccomp;
  std::string rootfs_propagation;  // shared, slave, private, unbindable, r*
  std::vector<std::string> masked_paths;
  std::vector<std::string> readonly_paths;
  std::string mount_label;
  std::optional<Personality> personality;

  const Namespace* find_namespace(NamespaceType type) const;
};

struct Spec {
  std::string oci_version;
  std::optional<Process> process;
  Root root;
  std::string hostname;
  std::string domainname;
  std::vector<Mount> mounts;
  Hooks hooks;
  std::map<std::string, std::string> annotations;
  std::optional<Linux> linux;
};

std::string_view namespace_type_name(NamespaceType type);  // "network"
std::optional<NamespaceType> parse_namespace_type(std::string_view name);

// config.json text → Spec. `what` names the file in errors.
Spec parse_spec(std::string_view text, std::string_view what = "config.json");
// A process.json (`exec --process`): the process section alone.
Process parse_process(std::string_view text, std::string_view what = "process.json");
// Resources as `update --resources` reads them (linux.resources' shape).
Resources parse_resources(std::string_view text, std::string_view what = "resources");

// Spec → config.json text (indented, fields in the spec's order; empty and
// absent fields left out).
std::string to_json_text(const Spec& spec);

// What `spec` writes: runc's default config.json for a rootless-less
// container running `sh` from ./rootfs.
Spec default_spec();

// runtime-spec's features.json (`features`): what this runtime knows.
std::string features_json_text();

// The runtime-spec version gocrate implements ("1.1.0").
inline constexpr std::string_view kSpecVersion = "1.1.0";

}  // namespace gocrate::oci
