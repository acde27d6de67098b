#include "runtime/containment/seccomp.h"

#include <fcntl.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include "util/error.h"
#include "util/fs.h"
#include "util/sha256.h"

namespace gocrate {

namespace {

// Syscalls every container may make, whatever its capabilities.
constexpr std::string_view kAlwaysAllowed[] = {
    "accept",
    "accept4",
    "access",
    "adjtimex",
    "alarm",
    "bind",
    "brk",
    "capget",
    "capset",
    "chdir",
    "chmod",
    "chown",
    "chown32",
    "clock_adjtime",
    "clock_adjtime64",
    "clock_getres",
    "clock_getres_time64",
    "clock_gettime",
    "clock_gettime64",
    "clock_nanosleep",
    "clock_nanosleep_time64",
    "close",
    "close_range",
    "connect",
    "copy_file_range",
    "creat",
    "dup",
    "dup2",
    "dup3",
    "epoll_create",
    "epoll_create1",
    "epoll_ctl",
    "epoll_ctl_old",
    "epoll_pwait",
    "epoll_pwait2",
    "epoll_wait",
    "epoll_wait_old",
    "eventfd",
    "eventfd2",
    "execve",
    "execveat",
    "exit",
    "exit_group",
    "faccessat",
    "faccessat2",
    "fadvise64",
    "fadvise64_64",
    "fallocate",
    "fanotify_mark",
    "fchdir",
    "fchmod",
    "fchmodat",
    "fchown",
    "fchown32",
    "fchownat",
    "fcntl",
    "fcntl64",
    "fdatasync",
    "fgetxattr",
    "flistxattr",
    "flock",
    "fork",
    "fremovexattr",
    "fsetxattr",
    "fstat",
    "fstat64",
    "fstatat64",
    "fstatfs",
    "fstatfs64",
    "fsync",
    "ftruncate",
    "ftruncate64",
    "futex",
    "futex_time64",
    "futex_waitv",
    "futimesat",
    "getcpu",
    "getcwd",
    "getdents",
    "getdents64",
    "getegid",
    "getegid32",
    "geteuid",
    "geteuid32",
    "getgid",
    "getgid32",
    "getgroups",
    "getgroups32",
    "getitimer",
    "getpeername",
    "getpgid",
    "getpgrp",
    "getpid",
    "getppid",
    "getpriority",
    "getrandom",
    "getresgid",
    "getresgid32",
    "getresuid",
    "getresuid32",
    "getrlimit",
    "get_robust_list",
    "getrusage",
    "getsid",
    "getsockname",
    "getsockopt",
    "get_thread_area",
    "gettid",
    "gettimeofday",
    "getuid",
    "getuid32",
    "getxattr",
    "inotify_add_watch",
    "inotify_init",
    "inotify_init1",
    "inotify_rm_watch",
    "io_cancel",
    "io_destroy",
    "io_getevents",
    "io_pgetevents",
    "io_pgetevents_time64",
    "ioprio_get",
    "ioprio_set",
    "io_setup",
    "io_submit",
    "ipc",
    "kill",
    "landlock_add_rule",
    "landlock_create_ruleset",
    "landlock_restrict_self",
    "lchown",
    "lchown32",
    "lgetxattr",
    "link",
    "linkat",
    "listen",
    "listxattr",
    "llistxattr",
    "_llseek",
    "lremovexattr",
    "lseek",
    "lsetxattr",
    "lstat",
    "lstat64",
    "madvise",
    "membarrier",
    "memfd_create",
    "memfd_secret",
    "mincore",
    "mkdir",
    "mkdirat",
    "mknod",
    "mknodat",
    "mlock",
    "mlock2",
    "mlockall",
    "mmap",
    "mmap2",
    "mprotect",
    "mq_getsetattr",
    "mq_notify",
    "mq_open",
    "mq_timedreceive",
    "mq_timedreceive_time64",
    "mq_timedsend",
    "mq_timedsend_time64",
    "mq_unlink",
    "mremap",
    "msgctl",
    "msgget",
    "msgrcv",
    "msgsnd",
    "msync",
    "munlock",
    "munlockall",
    "munmap",
    "name_to_handle_at",
    "nanosleep",
    "newfstatat",
    "_newselect",
    "open",
    "openat",
    "openat2",
    "pause",
    "pidfd_open",
    "pidfd_send_signal",
    "pipe",
    "pipe2",
    "pkey_alloc",
    "pkey_free",
    "pkey_mprotect",
    "poll",
    "ppoll",
    "ppoll_time64",
    "prctl",
    "pread64",
    "preadv",
    "preadv2",
    "prlimit64",
    "process_mrelease",
    "pselect6",
    "pselect6_time64",
    "pwrite64",
    "pwritev",
    "pwritev2",
    "read",
    "readahead",
    "readlink",
    "readlinkat",
    "readv",
    "recv",
    "recvfrom",
    "recvmmsg",
    "recvmmsg_time64",
    "recvmsg",
    "remap_file_pages",
    "removexattr",
    "rename",
    "renameat",
    "renameat2",
    "restart_syscall",
    "rmdir",
    "rseq",
    "rt_sigaction",
    "rt_sigpending",
    "rt_sigprocmask",
    "rt_sigqueueinfo",
    "rt_sigreturn",
    "rt_sigsuspend",
    "rt_sigtimedwait",
    "rt_sigtimedwait_time64",
    "rt_tgsigqueueinfo",
    "sched_getaffinity",
    "sched_getattr",
    "sched_getparam",
    "sched_get_priority_max",
    "sched_get_priority_min",
    "sched_getscheduler",
    "sched_rr_get_interval",
    "sched_rr_get_interval_time64",
    "sched_setaffinity",
    "sched_setattr",
    "sched_setparam",
    "sched_setscheduler",
    "sched_yield",
    "seccomp",
    "select",
    "semctl",
    "semget",
    "semop",
    "semtimedop",
    "semtimedop_time64",
    "send",
    "sendfile",
    "sendfile64",
    "sendmmsg",
    "sendmsg",
    "sendto",
    "setfsgid",
    "setfsgid32",
    "setfsuid",
    "setfsuid32",
    "setgid",
    "setgid32",
    "setgroups",
    "setgroups32",
    "setitimer",
    "setpgid",
    "setpriority",
    "setregid",
    "setregid32",
    "setresgid",
    "setresgid32",
    "setresuid",
    "setresuid32",
    "setreuid",
    "setreuid32",
    "setrlimit",
    "set_robust_list",
    "setsid",
    "setsockopt",
    "set_thread_area",
    "set_tid_address",
    "setuid",
    "setuid32",
    "setxattr",
    "shmat",
    "shmctl",
    "shmdt",
    "shmget",
    "shutdown",
    "sigaltstack",
    "signalfd",
    "signalfd4",
    "sigprocmask",
    "sigreturn",
    "socketcall",
    "socketpair",
    "splice",
    "stat",
    "stat64",
    "statfs",
    "statfs64",
    "statx",
    "symlink",
    "symlinkat",
    "sync",
    "sync_file_range",
    "syncfs",
    "sysinfo",
    "tee",
    "tgkill",
    "time",
    "timer_create",
    "timer_delete",
    "timer_getoverrun",
    "timer_gettime",
    "timer_gettime64",
    "timer_settime",
    "timer_settime64",
    "timerfd_create",
    "timerfd_gettime",
    "timerfd_gettime64",
    "timerfd_settime",
    "timerfd_settime64",
    "times",
    "tkill",
    "truncate",
    "truncate64",
    "ugetrlimit",
    "umask",
    "uname",
    "unlink",
    "unlinkat",
    "utime",
    "utimensat",
    "utimensat_time64",
    "utimes",
    "vfork",
    "vmsplice",
    "wait4",
    "waitid",
    "waitpid",
    "write",
    "writev",
};

// Syscalls a capability makes safe to allow, as Docker pairs them, less
// those that no capability short of --privileged (no filter at all) allows
// here: the mount family (with CAP_SYS_ADMIN a container could unmount the
// read-only /proc/sys and write the host's sysctls; Docker leaves that to
// AppArmor, which most hosts lack), bpf (kernel memory), kernel modules,
// open_by_handle_at (CAP_DAC_READ_SEARCH opens any host file by its handle)
// and port I/O (CAP_SYS_RAWIO). io_uring is denied to all (as Docker 25).
struct CapabilitySection {
  int capability;
  std::vector<std::string_view> names;
};

const std::vector<CapabilitySection>& capability_sections() {
  static const std::vector<CapabilitySection> sections = {
      {CAP_SYS_ADMIN,
       {"clone", "clone3", "fanotify_init", "lookup_dcookie", "perf_event_open", "quotactl", "quotactl_fd",
        "setdomainname", "sethostname", "setns", "syslog", "unshare"}},
      {CAP_SYS_BOOT, {"reboot"}},
      {CAP_SYS_CHROOT, {"chroot"}},
      {CAP_SYS_PACCT, {"acct"}},
      {CAP_SYS_PTRACE,
       {"kcmp", "pidfd_getfd", "process_madvise", "process_vm_readv", "process_vm_writev", "ptrace"}},
      {CAP_SYS_TIME, {"settimeofday", "stime", "clock_settime", "clock_settime64"}},
      {CAP_SYS_TTY_CONFIG, {"vhangup"}},
      {CAP_SYS_NICE, {"get_mempolicy", "mbind", "set_mempolicy", "set_mempolicy_home_node"}},
      {CAP_SYSLOG, {"syslog"}},
      {CAP_PERFMON, {"perf_event_open"}},
  };
  return sections;
}

// The clone flags that create namespaces: without CAP_SYS_ADMIN clone may
// not pass any of them.
constexpr uint64_t kNamespaceCloneFlags = 0x7E020000;  // NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET
constexpr int kAfVsock = 40;

// libseccomp's name for a Go architecture's system call ABI.
std::string seccomp_arch(std::string_view architecture) {
  if (architecture == "amd64") return "x86_64";
  if (architecture == "arm64") return "aarch64";
  if (architecture == "386") return "x86";
  if (architecture == "arm") return "arm";
  if (architecture == "ppc64le") return "ppc64le";
  if (architecture == "s390x") return "s390x";
  if (architecture == "riscv64") return "riscv64";
  if (architecture == "mips64le") return "mipsel64";
  fail("no seccomp profile for architecture {}: run with a supported host", architecture);
}

std::vector<std::string> seccomp_arches(std::string_view host, std::string_view image) {
  std::vector<std::string> arches{seccomp_arch(host)};
  bool compat = (host == "amd64" && image == "386") || (host == "arm64" && image == "arm");
  if (compat) arches.push_back(seccomp_arch(image));
  return arches;
}

void add_allowed(SeccompProfile& profile, std::string_view name, std::vector<SyscallRule::Arg> args = {}) {
  profile.rules.push_back({std::string(name), SeccompAction::allow(), std::move(args)});
}

// Allows `name` for every 32-bit value of argument `index` but `excluded`
// (the kernel reads such an argument's lower half only). Seccomp rules can
// only allow, so the other values are covered by one rule per bit on which
// all excluded values agree, and one per remaining combination of the bits
// on which they differ.
void allow_all_values_but(SeccompProfile& profile, std::string_view name, unsigned index,
                          const std::vector<uint32_t>& excluded) {
  using Op = SyscallRule::Arg::Op;
  uint32_t common = ~0u;
  for (uint32_t value : excluded) common &= ~(value ^ excluded.front());
  for (unsigned bit = 0; bit < 32; ++bit) {
    uint32_t mask = 1u << bit;
    if (common & mask)
      add_allowed(profile, name, {{index, Op::masked_equal, ~excluded.front() & mask, mask}});
  }
  uint32_t differing = ~common;
  for (uint32_t bits = differing;; bits = (bits - 1) & differing) {
    uint32_t value = (excluded.front() & common) | bits;
    if (std::find(excluded.begin(), excluded.end(), value) == excluded.end())
      add_allowed(profile, name, {{index, Op::masked_equal, value, 0xffffffffu}});
    if (bits == 0) break;
  }
}

void running_kernel(int& major, int& minor) {
  utsname u{};
  ::uname(&u);
  std::sscanf(u.release, "%d.%d", &major, &minor);
}

}  // namespace

SeccompProfile docker_default_profile(CapabilitySet capabilities, std::string_view architecture,
                                      std::string_view image_architecture, int kernel_major,
                                      int kernel_minor) {
  if (kernel_major == 0) running_kernel(kernel_major, kernel_minor);
  auto has = [&](int cap) { return (capabilities >> cap) & 1; };
  bool x86 = architecture == "amd64" || architecture == "386";
  bool arm = architecture == "arm64" || architecture == "arm";
  bool s390 = architecture == "s390x";

  SeccompProfile profile;
  profile.arches = seccomp_arches(architecture, image_architecture);
  for (auto name : kAlwaysAllowed) add_allowed(profile, name);
  // A terminal's input (TIOCSTI) and the console's screen (TIOCLINUX) are
  // never the container's to push into or read.
  allow_all_values_but(profile, "ioctl", 1, {TIOCSTI, TIOCLINUX});
  if (kernel_major > 4 || (kernel_major == 4 && kernel_minor >= 8)) {
    for (auto name : {"process_vm_readv", "process_vm_writev", "ptrace"}) add_allowed(profile, name);
  }
  using Op = SyscallRule::Arg::Op;
  add_allowed(profile, "socket", {{0, Op::not_equal, kAfVsock, 0}});
  for (uint64_t persona : {0x0ULL, 0x8ULL, 0x20000ULL, 0x20008ULL, 0xffffffffULL}) {
    add_allowed(profile, "personality", {{0, Op::equal, persona, 0}});
  }
  if (architecture == "ppc64le") {
    for (auto name : {"sync_file_range2", "swapcontext"}) add_allowed(profile, name);
  }
  if (arm) {
    for (auto name : {"arm_fadvise64_64", "arm_sync_file_range", "sync_file_range2", "breakpoint",
                      "cacheflush", "set_tls"}) {
      add_allowed(profile, name);
    }
  }
  if (architecture == "amd64") add_allowed(profile, "arch_prctl");
  if (x86) add_allowed(profile, "modify_ldt");
  if (s390) {
    for (auto name : {"s390_pci_mmio_read", "s390_pci_mmio_write", "s390_runtime_instr"})
      add_allowed(profile, name);
  }
  if (architecture == "riscv64") add_allowed(profile, "riscv_flush_icache");
  for (const auto& section : capability_sections()) {
    if (!has(section.capability)) continue;
    for (auto name : section.names) add_allowed(profile, name);
  }
  if (!has(CAP_SYS_ADMIN)) {
    // clone without namespace flags (s390 passes flags second); clone3 hides
    // its flags in memory seccomp cannot read, so it reports ENOSYS and libc
    // falls back to clone.
    add_allowed(profile, "clone", {{s390 ? 1u : 0u, Op::masked_equal, 0, kNamespaceCloneFlags}});
    profile.rules.push_back({"clone3", SeccompAction::error(ENOSYS), {}});
  }
  return profile;
}

namespace {

std::string action_text(const SeccompAction& action) {
  return fmt::format("{}:{}", static_cast<int>(action.kind), action.value);
}

}  // namespace

std::string SeccompProfile::canonical_text() const {
  std::string text = fmt::format("default {}\n", action_text(default_action));
  for (const auto& arch : arches) text += "arch " + arch + "\n";
  for (const auto& rule : rules) {
    text += fmt::format("{} {}", rule.name, action_text(rule.action));
    for (const auto& a : rule.args) {
      text += fmt::format(" {}:{}:{}:{}", a.index, static_cast<int>(a.op), a.value, a.mask);
    }
    text += "\n";
  }
  return text;
}

namespace {

uint32_t to_libseccomp(const SeccompAction& action) {
  using Kind = SeccompAction::Kind;
  switch (action.kind) {
    case Kind::allow:
      return SCMP_ACT_ALLOW;
    case Kind::error:
      return SCMP_ACT_ERRNO(static_cast<uint16_t>(action.value));
    case Kind::kill_thread:
      return SCMP_ACT_KILL_THREAD;
    case Kind::kill_process:
      return SCMP_ACT_KILL_PROCESS;
    case Kind::trap:
      return SCMP_ACT_TRAP;
    case Kind::trace:
      return SCMP_ACT_TRACE(static_cast<uint16_t>(action.value));
    case Kind::log:
      break;
  }
  return SCMP_ACT_LOG;
}

class FilterContext {
 public:
  explicit FilterContext(const SeccompAction& default_action)
      : ctx_(seccomp_init(to_libseccomp(default_action))) {
    if (!ctx_) fail("cannot create a seccomp filter: libseccomp refused its default action");
  }
  ~FilterContext() { seccomp_release(ctx_); }
  scmp_filter_ctx get() const { return ctx_; }

 private:
  scmp_filter_ctx ctx_;
};

scmp_arg_cmp to_libseccomp(const SyscallRule::Arg& arg) {
  using Op = SyscallRule::Arg::Op;
  switch (arg.op) {
    case Op::equal:
      return SCMP_CMP(arg.index, SCMP_CMP_EQ, arg.value);
    case Op::not_equal:
      return SCMP_CMP(arg.index, SCMP_CMP_NE, arg.value);
    case Op::less:
      return SCMP_CMP(arg.index, SCMP_CMP_LT, arg.value);
    case Op::less_equal:
      return SCMP_CMP(arg.index, SCMP_CMP_LE, arg.value);
    case Op::greater:
      return SCMP_CMP(arg.index, SCMP_CMP_GT, arg.value);
    case Op::greater_equal:
      return SCMP_CMP(arg.index, SCMP_CMP_GE, arg.value);
    case Op::masked_equal:
      break;
  }
  return SCMP_CMP(arg.index, SCMP_CMP_MASKED_EQ, arg.mask, arg.value);
}

}  // namespace

std::string compile_seccomp(const SeccompProfile& profile) {
  FilterContext filter(profile.default_action);
  seccomp_attr_set(filter.get(), SCMP_FLTATR_CTL_NNP, 0);
  // A binary tree instead of a chain: the kernel runs the filter once per
  // system call number when it is installed (to cache the verdicts), so a
  // shorter path per call makes loading faster too.
  seccomp_attr_set(filter.get(), SCMP_FLTATR_CTL_OPTIMIZE, 2);
  for (const auto& name : profile.arches) {
    uint32_t arch = seccomp_arch_resolve_name(name.c_str());
    if (arch == 0) fail("libseccomp does not know architecture {}", name);
    int rc = seccomp_arch_add(filter.get(), arch);
    if (rc != 0 && rc != -EEXIST)
      fail("cannot add architecture {} to the seccomp filter: {}", name, errno_text(-rc));
  }
  for (const auto& rule : profile.rules) {
    int number = seccomp_syscall_resolve_name(rule.name.c_str());
    if (number == __NR_SCMP_ERROR) continue;  // not a syscall of these architectures
    // What the default does already is no rule (libseccomp refuses it, runc skips it).
    if (rule.action == profile.default_action) continue;
    uint32_t action = to_libseccomp(rule.action);
    std::vector<scmp_arg_cmp> args;
    for (const auto& a : rule.args) args.push_back(to_libseccomp(a));
    int rc = seccomp_rule_add_array(filter.get(), action, number, args.size(), args.data());
    if (rc != 0 && rc != -EEXIST && rc != -EOPNOTSUPP) {
      fail("cannot add syscall {} to the seccomp filter: {}", rule.name, errno_text(-rc));
    }
  }
  UniqueFd out(::memfd_create("seccomp-bpf", MFD_CLOEXEC));
  if (!out) fail_errno("cannot create a memory file for the seccomp filter");
  int rc = seccomp_export_bpf(filter.get(), out.get());
  if (rc != 0) fail("cannot export the seccomp filter: {}", errno_text(-rc));
  ::lseek(out.get(), 0, SEEK_SET);
  return read_fd(out.get());
}

std::string cached_seccomp_program(const SeccompProfile& profile, const std::string& cache_dir) {
  const scmp_version* version = seccomp_version();
  std::string key = sha256_hex(fmt::format("libseccomp {}.{}.{} binary-tree\n{}", version->major,
                                           version->minor, version->micro, profile.canonical_text()));
  std::string path = cache_dir + "/" + key + ".bpf";
  if (auto cached = read_file_if_exists(path); cached && !cached->empty() && cached->size() % 8 == 0) {
    return *cached;
  }
  std::string program = compile_seccomp(profile);
  make_directories(cache_dir);
  write_file_atomic(path, program);
  return program;
}

void add_syscall_rules(SeccompProfile& profile, const std::vector<std::string>& names, SeccompAction action,
                       const std::vector<SyscallRule::Arg>& args) {
  bool repeated = false;
  for (size_t i = 0; i < args.size() && !repeated; ++i) {
    for (size_t k = i + 1; k < args.size(); ++k) repeated = repeated || args[i].index == args[k].index;
  }
  for (const auto& name : names) {
    if (!repeated) {
      profile.rules.push_back({name, action, args});
      continue;
    }
    for (const auto& a : args) profile.rules.push_back({name, action, {a}});
  }
}

void load_seccomp_program(std::string_view program, unsigned flags) {
  sock_fprog prog{};
  prog.len = static_cast<unsigned short>(program.size() / sizeof(sock_filter));
  prog.filter = reinterpret_cast<sock_filter*>(const_cast<char*>(program.data()));
  if (flags == 0) {
    if (::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) != 0)
      fail_errno("cannot install the seccomp filter");
  } else if (::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog) != 0) {
    fail_errno(fmt::format("cannot install the seccomp filter with flags {:#x}", flags));
  }
}

}  // namespace gocrate
