#include "runtime/oci/from_container_spec.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cctype>
#include <cmath>

#include "image/platform.h"
#include "runtime/containment/mounts.h"
#include "runtime/containment/process_setup.h"
#include "runtime/containment/seccomp_profile.h"
#include "runtime/containment/users.h"
#include "unpack/rootfs_copy.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/strings.h"

namespace gocrate::oci {

namespace {

constexpr uint64_t kCpuPeriodUs = 100000;  // cgroups.cc's CFS period

std::string upper(std::string_view text) {
  std::string out;
  for (char c : text) out += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

// run: the variables as build_spec made them, plus HOME from the user's
// entry when missing (container.cc).
std::vector<std::string> process_env(const ContainerSpec& spec, const ContainerUser& user) {
  std::vector<std::string> env = spec.env;
  if (env_value(env, "HOME").empty()) env.push_back("HOME=" + user.home);
  return env;
}

// restrict_privileges: the bounding set is `caps`, the ambient set cleared;
// permitted and effective keep `caps` only for uid 0 (the kernel clears them
// when the uid changes); inheritable is always empty.
Capabilities process_capabilities(CapabilitySet caps, uid_t uid) {
  Capabilities c;
  c.bounding = caps;
  if (uid == 0) {
    c.effective = caps;
    c.permitted = caps;
  }
  return c;
}

// MS_* flags of a --tmpfs or --mount type=tmpfs, as mount(8) options.
std::vector<std::string> tmpfs_flag_options(unsigned long flags) {
  static constexpr std::pair<unsigned long, const char*> kNames[] = {
      {MS_RDONLY, "ro"},         {MS_NOSUID, "nosuid"},           {MS_NODEV, "nodev"},
      {MS_NOEXEC, "noexec"},     {MS_NOATIME, "noatime"},         {MS_NODIRATIME, "nodiratime"},
      {MS_RELATIME, "relatime"}, {MS_STRICTATIME, "strictatime"}, {MS_SYNCHRONOUS, "sync"},
      {MS_DIRSYNC, "dirsync"},
  };
  std::vector<std::string> options;
  if (!(flags & MS_RDONLY)) options.emplace_back("rw");
  for (auto [flag, name] : kNames) {
    if (flags & flag) options.emplace_back(name);
  }
  return options;
}

// mount_volumes: binds (recursive unless bind-nonrecursive) with their
// propagation, read-only when asked, and nodev; tmpfs with its flags, nodev.
Mount volume_mount(const VolumeMount& v) {
  Mount m;
  m.destination = v.target;
  if (v.type == MountType::tmpfs) {
    m.type = "tmpfs";
    m.source = "tmpfs";
    m.options = tmpfs_flag_options(v.tmpfs_flags | MS_NODEV);
    for (const auto& part : split(v.tmpfs_data, ',')) {
      if (!part.empty()) m.options.push_back(part);
    }
    return m;
  }
  if (v.source.empty())
    fail("volume {} on {} has no source directory yet: create the volume first", v.volume_name, v.target);
  m.type = "bind";
  m.source = v.source;
  m.options = {v.nonrecursive ? "bind" : "rbind"};
  if (!v.propagation.empty()) m.options.push_back(v.propagation);
  m.options.push_back(v.read_only ? "ro" : "rw");
  m.options.push_back("nodev");
  return m;
}

// build_file_system, enter_namespaces and mount_cgroup_view, in run's order.
std::vector<Mount> container_mounts(const ContainerSpec& spec, const SpecSource& source,
                                    const std::vector<EtcFile>& etc_files) {
  std::vector<Mount> mounts;
  // A --rm container's files lie on its scratch tmpfs (nosuid, nodev), and
  // a bind keeps the flags of the mount it is made from.
  bool scratch = spec.auto_remove && rootfs_method(spec.layers_dir) == RootfsMethod::overlay;
  for (const auto& file : etc_files) {
    Mount m{"/etc/" + file.name, "bind", source.etc_dir + "/" + file.name, {"bind"}};
    if (spec.read_only) {
      m.options.insert(m.options.end(), {"nosuid", "nodev", "noexec", "ro"});
    } else {
      if (scratch) m.options.insert(m.options.end(), {"nosuid", "nodev"});
      m.options.push_back("rw");
    }
    mounts.push_back(std::move(m));
  }
  for (const auto& v : spec.volumes) mounts.push_back(volume_mount(v));
  mounts.push_back({"/proc", "proc", "proc", {"nosuid", "noexec", "nodev"}});
  mounts.push_back({"/dev", "tmpfs", "tmpfs", {"nosuid", "strictatime", "mode=755", "size=65536k"}});
  mounts.push_back({"/dev/pts",
                    "devpts",
                    "devpts",
                    {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}});
  if (spec.ipc == IpcMode::host) {
    mounts.push_back({"/dev/shm", "bind", "/dev/shm", {"bind", "nosuid", "nodev", "noexec"}});
  } else if (spec.ipc != IpcMode::none) {
    mounts.push_back({"/dev/shm",
                      "tmpfs",
                      "shm",
                      {"nosuid", "noexec", "nodev", "mode=1777", fmt::format("size={}", spec.shm_bytes)}});
  }
  mounts.push_back({"/dev/mqueue", "mqueue", "mqueue", {"nosuid", "noexec", "nodev"}});
  Mount sys{"/sys", "sysfs", "sysfs", {"nosuid", "noexec", "nodev"}};
  if (!spec.privileged) sys.options.push_back("ro");
  mounts.push_back(std::move(sys));
  Mount cgroup{"/sys/fs/cgroup", "cgroup", "cgroup", {"nosuid", "noexec", "nodev", "relatime"}};
  cgroup.options.push_back(spec.privileged ? "rw" : "ro");
  mounts.push_back(std::move(cgroup));
  return mounts;
}

Device character_device(std::string path, int64_t major, int64_t minor, uint32_t mode, uint32_t uid,
                        uint32_t gid) {
  Device d;
  d.type = 'c';
  d.path = std::move(path);
  d.major = major;
  d.minor = minor;
  d.file_mode = mode;
  d.uid = uid;
  d.gid = gid;
  return d;
}

// make_device_nodes with --privileged: every node of the host's /dev but
// pts, shm and mqueue.
void add_host_devices(std::vector<Device>& devices, const std::string& dir, const std::string& relative) {
  DIR* d = ::opendir(dir.c_str());
  if (!d) fail_errno(fmt::format("cannot read the host's {}", dir));
  std::vector<std::string> names;
  while (dirent* entry = ::readdir(d)) names.emplace_back(entry->d_name);
  ::closedir(d);
  std::sort(names.begin(), names.end());
  for (const auto& name : names) {
    if (name == "." || name == "..") continue;
    if (relative.empty() && (name == "pts" || name == "shm" || name == "mqueue")) continue;
    struct stat st;
    std::string path = dir + "/" + name;
    if (::lstat(path.c_str(), &st) != 0) continue;
    if (S_ISDIR(st.st_mode)) {
      add_host_devices(devices, path, relative + "/" + name);
      continue;
    }
    if (!S_ISCHR(st.st_mode) && !S_ISBLK(st.st_mode)) continue;
    Device device = character_device("/dev" + relative + "/" + name, major(st.st_rdev), minor(st.st_rdev),
                                     st.st_mode & 07777, st.st_uid, st.st_gid);
    if (S_ISBLK(st.st_mode)) device.type = 'b';
    devices.push_back(std::move(device));
  }
}

std::vector<Device> container_devices(const ContainerSpec& spec) {
  std::vector<Device> devices;
  for (const auto& node : standard_device_nodes())
    devices.push_back(
        character_device(fmt::format("/dev/{}", node.name), node.major, node.minor, 0666, 0, 0));
  if (spec.privileged) add_host_devices(devices, "/dev", "");
  for (const auto& m : spec.devices) {
    Device d = character_device(m.container_path, m.major, m.minor, m.mode, m.uid, m.gid);
    d.type = m.type;
    std::erase_if(devices, [&](const Device& e) { return e.path == d.path; });
    devices.push_back(std::move(d));
  }
  return devices;
}

DeviceCgroupRule cgroup_rule(const DeviceRule& rule) {
  DeviceCgroupRule r;
  r.allow = true;
  r.type = rule.type;
  if (rule.major != DeviceRule::kAny) r.major = rule.major;
  if (rule.minor != DeviceRule::kAny) r.minor = rule.minor;
  r.access = device_access_text(rule.access);
  return r;
}

// Cgroup::create's writes (cgroups.cc) in the spec's terms.
Resources container_resources(const ContainerSpec& spec) {
  Resources r;
  DevicePolicy policy =
      container_device_policy(spec.device_rules, spec.privileged, spec.capabilities, spec.devices);
  if (policy.confine) {
    r.devices.push_back({.allow = false, .type = 'a', .access = "rwm"});
    for (const auto& rule : policy.rules) r.devices.push_back(cgroup_rule(rule));
  } else {
    r.devices.push_back({.allow = true, .type = 'a', .access = "rwm"});
  }
  const ResourceLimits& l = spec.limits;
  if (l.memory_bytes || l.memory_swap_bytes || l.memory_reservation_bytes || l.oom_kill_disable) {
    MemoryResources m;
    if (l.memory_bytes) m.limit = static_cast<int64_t>(*l.memory_bytes);
    // Memory and swap together; gocrate's default with -m is no swap beyond it.
    if (l.memory_swap_bytes) {
      m.swap = *l.memory_swap_bytes;
    } else if (l.memory_bytes) {
      m.swap = static_cast<int64_t>(*l.memory_bytes);
    }
    if (l.memory_reservation_bytes) m.reservation = static_cast<int64_t>(*l.memory_reservation_bytes);
    if (l.oom_kill_disable) m.disable_oom_killer = true;
    r.memory = m;
  }
  if (l.cpus || l.cpu_shares || !l.cpuset_cpus.empty()) {
    CpuResources c;
    if (l.cpus) {
      c.quota = std::llround(*l.cpus * kCpuPeriodUs);
      c.period = kCpuPeriodUs;
    }
    c.shares = l.cpu_shares;
    c.cpus = l.cpuset_cpus;
    r.cpu = c;
  }
  if (l.pids) r.pids_limit = *l.pids;
  return r;
}

std::string seccomp_action_name(const SeccompAction& action) {
  using Kind = SeccompAction::Kind;
  switch (action.kind) {
    case Kind::allow:
      return "SCMP_ACT_ALLOW";
    case Kind::error:
      return "SCMP_ACT_ERRNO";
    case Kind::kill_thread:
      return "SCMP_ACT_KILL";
    case Kind::kill_process:
      return "SCMP_ACT_KILL_PROCESS";
    case Kind::trap:
      return "SCMP_ACT_TRAP";
    case Kind::trace:
      return "SCMP_ACT_TRACE";
    case Kind::log:
      break;
  }
  return "SCMP_ACT_LOG";
}

std::optional<uint32_t> seccomp_action_value(const SeccompAction& action) {
  if (action.kind == SeccompAction::Kind::error || action.kind == SeccompAction::Kind::trace)
    return static_cast<uint32_t>(action.value);
  return std::nullopt;
}

SeccompArg seccomp_arg(const SyscallRule::Arg& a) {
  using Op = SyscallRule::Arg::Op;
  SeccompArg arg;
  arg.index = a.index;
  arg.value = a.value;
  switch (a.op) {
    case Op::equal:
      arg.op = "SCMP_CMP_EQ";
      break;
    case Op::not_equal:
      arg.op = "SCMP_CMP_NE";
      break;
    case Op::less:
      arg.op = "SCMP_CMP_LT";
      break;
    case Op::less_equal:
      arg.op = "SCMP_CMP_LE";
      break;
    case Op::greater:
      arg.op = "SCMP_CMP_GT";
      break;
    case Op::greater_equal:
      arg.op = "SCMP_CMP_GE";
      break;
    case Op::masked_equal:
      // (arg & value) == valueTwo, as runc hands them to libseccomp.
      arg.op = "SCMP_CMP_MASKED_EQ";
      arg.value = a.mask;
      arg.value_two = a.value;
      break;
  }
  return arg;
}

bool same_args(const std::vector<SeccompArg>& a, const std::vector<SeccompArg>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].index != b[i].index || a[i].value != b[i].value || a[i].value_two != b[i].value_two ||
        a[i].op != b[i].op)
      return false;
  }
  return true;
}

}  // namespace

std::vector<EtcFile> container_etc_files(const ContainerSpec& spec) {
  return make_container_etc_files({.hostname = spec.hostname,
                                   .domainname = spec.host_uts ? "" : spec.domainname,
                                   .extra_hosts = spec.extra_hosts,
                                   .dns = spec.dns,
                                   .network = spec.network});
}

Seccomp oci_seccomp_of(const SeccompProfile& profile) {
  Seccomp s;
  s.default_action = seccomp_action_name(profile.default_action);
  s.default_errno_ret = seccomp_action_value(profile.default_action);
  for (const auto& arch : profile.arches) s.architectures.push_back("SCMP_ARCH_" + upper(arch));
  for (const auto& rule : profile.rules) {
    // compile_seccomp adds no rule for what the default does already.
    if (rule.action == profile.default_action) continue;
    SeccompSyscall call;
    call.names = {rule.name};
    call.action = seccomp_action_name(rule.action);
    call.errno_ret = seccomp_action_value(rule.action);
    for (const auto& a : rule.args) call.args.push_back(seccomp_arg(a));
    // Neighbours that differ only in their name share an entry.
    if (!s.syscalls.empty()) {
      SeccompSyscall& last = s.syscalls.back();
      if (last.action == call.action && last.errno_ret == call.errno_ret && same_args(last.args, call.args)) {
        last.names.push_back(rule.name);
        continue;
      }
    }
    s.syscalls.push_back(std::move(call));
  }
  return s;
}

Spec oci_spec_of(const ContainerSpec& spec, const SpecSource& source) {
  if (spec.args.empty())
    fail("image {} has no entrypoint or command: give one with --entrypoint or as arguments", spec.image);
  if (spec.id.empty() || spec.hostname.empty())
    fail("the container spec of {} has no id or hostname", spec.image);
  if (spec.init) {
    fail("--init has no config.json form: gocrate's init is a sealed program inside gocrate; drop --init");
  }
  if (spec.emulator) {
    fail("the image is linux/{}: its emulator has no config.json form; use an image for this host",
         spec.platform.architecture);
  }
  if (!spec.ports.empty() || spec.publish_all) {
    fail("published ports (-p, -P) have no config.json form: gocrate forwards them itself; drop them");
  }
  check_ulimits(spec.ulimits);
  check_sysctls(spec.sysctls, spec.network == NetworkMode::host, spec.ipc == IpcMode::host);

  Spec out;
  out.oci_version = std::string(kSpecVersion);

  ContainerUser user = resolve_user(source.root_fd, spec.user, spec.image);
  add_groups(source.root_fd, user, spec.group_add, spec.image);
  Process p;
  p.terminal = source.terminal;
  p.user.uid = user.uid;
  p.user.gid = user.gid;
  p.user.additional_gids.assign(user.supplementary_groups.begin(), user.supplementary_groups.end());
  p.args = spec.args;
  p.env = process_env(spec, user);
  p.cwd = spec.workdir.empty() ? "/" : spec.workdir;
  p.capabilities = process_capabilities(spec.capabilities, user.uid);
  for (const auto& u : spec.ulimits)
    p.rlimits.push_back(
        {.type = "RLIMIT_" + upper(u.name), .resource = u.resource, .hard = u.hard, .soft = u.soft});
  p.no_new_privileges = true;
  out.process = std::move(p);

  out.root.path = "rootfs";
  out.root.readonly = spec.read_only;
  if (!spec.host_uts) {
    out.hostname = spec.hostname;
    out.domainname = spec.domainname;
  }
  std::vector<EtcFile> etc_files = container_etc_files(spec);
  out.mounts = container_mounts(spec, source, etc_files);

  Linux linux;
  if (!spec.host_pid) linux.namespaces.push_back({NamespaceType::pid, ""});
  if (spec.network != NetworkMode::host) linux.namespaces.push_back({NamespaceType::network, ""});
  if (spec.ipc != IpcMode::host) linux.namespaces.push_back({NamespaceType::ipc, ""});
  if (!spec.host_uts) linux.namespaces.push_back({NamespaceType::uts, ""});
  linux.namespaces.push_back({NamespaceType::mount, ""});
  linux.namespaces.push_back({NamespaceType::cgroup, ""});
  linux.devices = container_devices(spec);
  linux.cgroups_path = "/" + spec.cgroup_parent + "/" + spec.id;
  linux.resources = container_resources(spec);
  for (const auto& s : spec.sysctls) linux.sysctl[s.key] = s.value;
  // Runtimes older than runtime-spec 1.1 (runc 1.1) ignore `domainname`;
  // the UTS namespace's sysctl sets the same name in every runtime.
  if (!spec.host_uts && !spec.domainname.empty()) linux.sysctl["kernel.domainname"] = spec.domainname;
  if (spec.seccomp) {
    linux.seccomp = oci_seccomp_of(container_seccomp_profile(
        spec.seccomp_profile, spec.capabilities, Platform::host().architecture, spec.platform.architecture));
  }
  if (!spec.privileged) {
    for (const char* path : masked_kernel_paths()) linux.masked_paths.emplace_back(path);
    for (const char* path : read_only_kernel_paths()) linux.readonly_paths.emplace_back(path);
  }
  out.linux = std::move(linux);
  return out;
}

}  // namespace gocrate::oci
