#include "runtime/oci/containment.h"

#include <fcntl.h>
#include <grp.h>
#include <linux/keyctl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "runtime/containment/capabilities.h"
#include "runtime/containment/cgroup_view.h"
#include "runtime/containment/cgroups.h"
#include "runtime/containment/mounts.h"
#include "runtime/containment/namespaces.h"
#include "runtime/containment/process_setup.h"
#include "runtime/containment/seccomp.h"
#include "runtime/containment/users.h"
#include "runtime/oci/hooks.h"
#include "runtime/oci/oci_seccomp.h"
#include "runtime/terminal/terminal.h"
#include "util/error.h"
#include "util/rooted_open.h"
#include "util/strings.h"

namespace gocrate::oci {

namespace {

constexpr int kExitSetupFailure = 1;

std::string fd_path(int fd) {
  return fmt::format("/proc/self/fd/{}", fd);
}

// One mount's options, split as mount(2) takes them.
struct MountFlags {
  unsigned long set = 0;
  unsigned long clear = 0;
  std::vector<unsigned long> propagation;
  std::vector<std::string> data;
  bool bind = false;
  bool recursive = false;
};

struct FlagOption {
  std::string_view name;
  bool clear;
  unsigned long flag;
};

constexpr FlagOption kFlagOptions[] = {
    {"async", true, MS_SYNCHRONOUS},
    {"atime", true, MS_NOATIME},
    {"defaults", false, 0},
    {"dev", true, MS_NODEV},
    {"diratime", true, MS_NODIRATIME},
    {"dirsync", false, MS_DIRSYNC},
    {"exec", true, MS_NOEXEC},
    {"iversion", false, MS_I_VERSION},
    {"lazytime", false, MS_LAZYTIME},
    {"loud", true, MS_SILENT},
    {"mand", false, MS_MANDLOCK},
    {"noatime", false, MS_NOATIME},
    {"nodev", false, MS_NODEV},
    {"nodiratime", false, MS_NODIRATIME},
    {"noexec", false, MS_NOEXEC},
    {"noiversion", true, MS_I_VERSION},
    {"nolazytime", true, MS_LAZYTIME},
    {"nomand", true, MS_MANDLOCK},
    {"norelatime", true, MS_RELATIME},
    {"nostrictatime", true, MS_STRICTATIME},
    {"nosuid", false, MS_NOSUID},
    {"nosymfollow", false, MS_NOSYMFOLLOW},
    {"symfollow", true, MS_NOSYMFOLLOW},
    {"relatime", false, MS_RELATIME},
    {"remount", false, MS_REMOUNT},
    {"ro", false, MS_RDONLY},
    {"rw", true, MS_RDONLY},
    {"silent", false, MS_SILENT},
    {"strictatime", false, MS_STRICTATIME},
    {"suid", true, MS_NOSUID},
    {"sync", false, MS_SYNCHRONOUS},
};

std::optional<unsigned long> propagation_flag(std::string_view name) {
  if (name == "private") return MS_PRIVATE;
  if (name == "rprivate") return MS_PRIVATE | MS_REC;
  if (name == "shared") return MS_SHARED;
  if (name == "rshared") return MS_SHARED | MS_REC;
  if (name == "slave") return MS_SLAVE;
  if (name == "rslave") return MS_SLAVE | MS_REC;
  if (name == "unbindable") return MS_UNBINDABLE;
  if (name == "runbindable") return MS_UNBINDABLE | MS_REC;
  return std::nullopt;
}

MountFlags parse_mount_options(const Mount& m) {
  MountFlags f;
  for (const auto& option : m.options) {
    if (option == "bind" || option == "rbind") {
      f.bind = true;
      f.recursive = f.recursive || option == "rbind";
      continue;
    }
    if (option == "tmpcopyup") continue;
    if (option == "idmap" || option == "ridmap")
      fail("mount {}: option \"{}\" (id-mapped mounts) is not supported by gocrate-runtime", m.destination,
           option);
    if (auto p = propagation_flag(option)) {
      f.propagation.push_back(*p);
      continue;
    }
    auto known = std::find_if(std::begin(kFlagOptions), std::end(kFlagOptions),
                              [&](const FlagOption& o) { return o.name == option; });
    if (known == std::end(kFlagOptions)) {
      f.data.push_back(option);
    } else if (known->clear) {
      f.set &= ~known->flag;
      f.clear |= known->flag;
    } else {
      f.set |= known->flag;
      f.clear &= ~known->flag;
    }
  }
  if (m.type == "bind") f.bind = true;
  return f;
}

void mount_or_fail(const char* source, const std::string& target, const char* type, unsigned long flags,
                   const char* data, std::string_view what) {
  if (::mount(source, target.c_str(), type, flags, data) != 0)
    fail_errno(fmt::format("cannot mount {}", what));
}

// The flags a bind remount must keep: those the kernel locks on a mount
// made in another user namespace.
unsigned long locked_flags(const std::string& target) {
  struct statvfs fs;
  if (::statvfs(target.c_str(), &fs) != 0) return 0;
  unsigned long flags = 0;
  for (auto [from, to] : {std::pair{ST_RDONLY, MS_RDONLY},
                          {ST_NOSUID, MS_NOSUID},
                          {ST_NODEV, MS_NODEV},
                          {ST_NOEXEC, MS_NOEXEC},
                          {ST_NOATIME, MS_NOATIME},
                          {ST_NODIRATIME, MS_NODIRATIME},
                          {ST_RELATIME, MS_RELATIME}}) {
    if (fs.f_flag & from) flags |= to;
  }
  return flags;
}

void bind_remount(const std::string& target, unsigned long flags, std::string_view what) {
  if (::mount(nullptr, target.c_str(), nullptr, MS_BIND | MS_REMOUNT | flags, nullptr) == 0) return;
  if (errno != EPERM) fail_errno(fmt::format("cannot remount {}", what));
  mount_or_fail(nullptr, target, nullptr, MS_BIND | MS_REMOUNT | flags | locked_flags(target), nullptr, what);
}

// The mount point for `destination` inside `root_fd`, made as a directory
// (or, for a bind of a file, an empty file) where missing; symlinks are
// resolved inside the root.
UniqueFd mount_point(int root_fd, const std::string& destination, bool file) {
  UniqueFd target(open_in_root(root_fd, destination, O_PATH | O_CLOEXEC));
  if (target) return target;
  if (errno != ENOENT) fail_errno(fmt::format("cannot open mount point {} in the container", destination));
  // Made where the image's symlinks lead, inside the root.
  std::string place = resolve_in_root(root_fd, destination);
  std::string parent = dir_name(place);
  make_directories_in_root(root_fd, parent.empty() ? "/" : parent);
  if (file) {
    UniqueFd parent_fd(
        open_in_root(root_fd, parent.empty() ? "/" : parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!parent_fd) fail_errno(fmt::format("cannot open {} in the container", parent));
    UniqueFd made(::openat(parent_fd.get(), base_name(place).c_str(),
                           O_CREAT | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644));
    if (!made && errno != EEXIST) fail_errno(fmt::format("cannot create mount point {}", destination));
  } else {
    make_directories_in_root(root_fd, place);
  }
  target.reset(open_in_root(root_fd, destination, O_PATH | O_CLOEXEC));
  if (!target) fail_errno(fmt::format("cannot open mount point {} in the container", destination));
  return target;
}

void mount_cgroup_filesystem(int root_fd, const Mount& m, const std::string& cgroup, bool read_only) {
  if (m.destination != "/sys/fs/cgroup")
    fail("mount {}: a cgroup file system can only be mounted on /sys/fs/cgroup", m.destination);
  auto text = read_file_if_exists("/proc/self/cgroup").value_or("");
  mount_cgroup_view(root_fd, own_cgroup_hierarchies(text, "/" + cgroup), !read_only);
}

void mount_one(int root_fd, const Mount& m, const InitContext& context) {
  if (!m.destination.starts_with('/'))
    fail("mount destination \"{}\" is not an absolute path", m.destination);
  MountFlags f = parse_mount_options(m);
  std::string data = join(f.data, ",");
  if (f.bind) {
    struct stat st;
    if (::stat(m.source.c_str(), &st) != 0)
      fail_errno(fmt::format("cannot bind {} on {}", m.source, m.destination));
    UniqueFd target = mount_point(root_fd, m.destination, !S_ISDIR(st.st_mode));
    std::string where = fd_path(target.get());
    mount_or_fail(m.source.c_str(), where, nullptr, MS_BIND | (f.recursive ? MS_REC : 0), nullptr,
                  fmt::format("{} on {}", m.source, m.destination));
    unsigned long extra = f.set & ~(MS_REMOUNT | MS_BIND | MS_REC);
    if (extra) {
      // The bind itself ignores flags; a remount of it applies them. Reopen:
      // the fd still names the mount point, under the new mount.
      UniqueFd mounted(open_in_root(root_fd, m.destination, O_PATH | O_CLOEXEC));
      bind_remount(fd_path(mounted.get()), extra, m.destination);
    }
  } else if (m.type == "cgroup" || m.type == "cgroup2") {
    mount_point(root_fd, m.destination, false);
    mount_cgroup_filesystem(root_fd, m, context.cgroup, f.set & MS_RDONLY);
    return;
  } else {
    UniqueFd target = mount_point(root_fd, m.destination, false);
    std::string where = fd_path(target.get());
    const char* source = m.source.empty() ? m.type.c_str() : m.source.c_str();
    if (::mount(source, where.c_str(), m.type.c_str(), f.set & ~MS_REMOUNT,
                data.empty() ? nullptr : data.c_str()) != 0) {
      int err = errno;
      // In a user namespace without its own network namespace sysfs cannot
      // be mounted anew (and mqueue without its ipc namespace): bind the
      // host's, as runc does.
      if (err == EPERM && (m.type == "sysfs" || m.type == "mqueue")) {
        std::string host = m.type == "sysfs" ? "/sys" : "/dev/mqueue";
        mount_or_fail(host.c_str(), where, nullptr, MS_BIND | MS_REC, nullptr, m.destination);
        UniqueFd mounted(open_in_root(root_fd, m.destination, O_PATH | O_CLOEXEC));
        bind_remount(fd_path(mounted.get()), f.set & (MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC),
                     m.destination);
      } else {
        fail_errno(fmt::format("cannot mount {} on {}", m.type, m.destination), err);
      }
    }
  }
  for (unsigned long p : f.propagation) {
    UniqueFd mounted(open_in_root(root_fd, m.destination, O_PATH | O_CLOEXEC));
    mount_or_fail(nullptr, fd_path(mounted.get()), nullptr, p, nullptr,
                  fmt::format("propagation of {}", m.destination));
  }
}

struct DefaultDevice {
  const char* path;
  unsigned major;
  unsigned minor;
};
constexpr DefaultDevice kDefaultDevices[] = {{"/dev/null", 1, 3},    {"/dev/zero", 1, 5},
                                             {"/dev/full", 1, 7},    {"/dev/random", 1, 8},
                                             {"/dev/urandom", 1, 9}, {"/dev/tty", 5, 0}};

void make_device(int root_fd, const Device& d, bool in_user_namespace) {
  std::string parent = dir_name(d.path);
  make_directories_in_root(root_fd, parent.empty() ? "/" : parent);
  UniqueFd dir(open_in_root(root_fd, parent.empty() ? "/" : parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir) fail_errno(fmt::format("cannot open {} in the container", parent));
  std::string name = base_name(d.path);
  ::unlinkat(dir.get(), name.c_str(), 0);
  mode_t type = d.type == 'b' ? S_IFBLK : d.type == 'p' ? S_IFIFO : S_IFCHR;
  mode_t mode = d.file_mode.value_or(0666) & 07777;
  if (in_user_namespace && type != S_IFIFO) {
    // mknod is not allowed in a user namespace: bind the host's node.
    UniqueFd made(::openat(dir.get(), name.c_str(), O_CREAT | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!made) fail_errno(fmt::format("cannot create {} in the container", d.path));
    UniqueFd target(::openat(dir.get(), name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
    std::string host = d.path;
    mount_or_fail(host.c_str(), fd_path(target.get()), nullptr, MS_BIND, nullptr, d.path);
    return;
  }
  dev_t number = makedev(static_cast<unsigned>(d.major), static_cast<unsigned>(d.minor));
  if (::mknodat(dir.get(), name.c_str(), type | mode, number) != 0)
    fail_errno(fmt::format("cannot create device {} in the container", d.path));
  if (::fchmodat(dir.get(), name.c_str(), mode, 0) != 0 ||
      ::fchownat(dir.get(), name.c_str(), d.uid.value_or(0), d.gid.value_or(0), AT_SYMLINK_NOFOLLOW) != 0)
    fail_errno(fmt::format("cannot set the owner and mode of device {}", d.path));
}

bool dev_is_bound(const Spec& spec) {
  for (const auto& m : spec.mounts) {
    if (m.destination == "/dev" && parse_mount_options(m).bind) return true;
  }
  return false;
}

void make_devices(int root_fd, const Spec& spec, bool in_user_namespace) {
  const Linux& linux = *spec.linux;
  if (!dev_is_bound(spec)) {
    for (const auto& d : kDefaultDevices) {
      bool given = std::any_of(linux.devices.begin(), linux.devices.end(),
                               [&](const Device& x) { return x.path == d.path; });
      if (!given) make_device(root_fd, {'c', d.path, d.major, d.minor, 0666, 0, 0}, in_user_namespace);
    }
    UniqueFd dev(open_in_root(root_fd, "/dev", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (dev) {
      for (auto [link, target] : {std::pair{"fd", "/proc/self/fd"},
                                  {"stdin", "/proc/self/fd/0"},
                                  {"stdout", "/proc/self/fd/1"},
                                  {"stderr", "/proc/self/fd/2"},
                                  {"ptmx", "pts/ptmx"}}) {
        if (::symlinkat(target, dev.get(), link) != 0 && errno != EEXIST)
          fail_errno(fmt::format("cannot create /dev/{} in the container", link));
      }
      if (::access("/proc/kcore", F_OK) == 0) ::symlinkat("/proc/kcore", dev.get(), "core");
    }
  }
  for (const auto& d : linux.devices) make_device(root_fd, d, in_user_namespace);
}

// Until pivot_root the tree is rslave (rprivate when asked for): a shared or
// unbindable root could be neither bound nor pivoted into, so the requested
// propagation is applied to the new root after the pivot.
void prepare_root(const Spec& spec, const std::string& rootfs) {
  std::string_view requested = spec.linux->rootfs_propagation;
  if (!requested.empty() && !propagation_flag(requested))
    fail("linux.rootfsPropagation \"{}\" is not a propagation mode", requested);
  unsigned long propagation = requested.ends_with("private") ? MS_PRIVATE | MS_REC : MS_SLAVE | MS_REC;
  mount_or_fail(nullptr, "/", nullptr, propagation, nullptr, "/ with the root's propagation");
  mount_or_fail(rootfs.c_str(), rootfs, nullptr, MS_BIND | MS_REC, nullptr, "the root file system");
}

void enter_root(const std::string& rootfs, bool no_pivot) {
  if (!no_pivot) {
    pivot_into(rootfs);
    return;
  }
  if (::chdir(rootfs.c_str()) != 0) fail_errno(fmt::format("cannot enter {}", rootfs));
  mount_or_fail(rootfs.c_str(), "/", nullptr, MS_MOVE, nullptr, "the root file system on /");
  if (::chroot(".") != 0) fail_errno("cannot chroot into the container");
  if (::chdir("/") != 0) fail_errno("cannot enter the container's /");
}

void mask_path(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return;
    fail_errno(fmt::format("cannot mask {}", path));
  }
  if (S_ISDIR(st.st_mode)) {
    mount_or_fail("tmpfs", path, "tmpfs", MS_RDONLY, nullptr, fmt::format("a mask on {}", path));
  } else {
    mount_or_fail("/dev/null", path, nullptr, MS_BIND, nullptr, fmt::format("a mask on {}", path));
  }
}

void read_only_path(const std::string& path) {
  if (::mount(path.c_str(), path.c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0) {
    if (errno == ENOENT) return;
    fail_errno(fmt::format("cannot make {} read-only", path));
  }
  bind_remount(path, MS_RDONLY | MS_REC | MS_NOSUID | MS_NODEV | MS_NOEXEC, path);
}

void apply_sysctls(const std::map<std::string, std::string>& sysctls) {
  for (const auto& [key, value] : sysctls) {
    std::string path = "/proc/sys/" + key;
    std::replace(path.begin() + 10, path.end(), '.', '/');
    UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
    if (!fd || ::write(fd.get(), value.data(), value.size()) < 0)
      fail_errno(fmt::format("cannot set sysctl {}={}", key, value));
  }
}

void apply_rlimits(const std::vector<Rlimit>& rlimits) {
  for (const auto& r : rlimits) {
    rlimit limit{r.soft, r.hard};
    if (::syscall(SYS_prlimit64, 0, r.resource, &limit, nullptr) != 0)
      fail_errno(fmt::format("cannot set {} to {}:{}", r.type, r.soft, r.hard));
  }
}

void apply_personality(const Linux& linux) {
  if (!linux.personality) return;
  unsigned long persona = PER_LINUX;
  if (linux.personality->domain == "LINUX32")
    persona = PER_LINUX32;
  else if (linux.personality->domain != "LINUX")
    fail("linux.personality.domain \"{}\" is not LINUX or LINUX32", linux.personality->domain);
  if (::personality(persona) < 0) fail_errno("cannot set the personality");
}

void join_session_keyring(const std::string& id) {
  std::string name = "_ses." + id;
  if (::syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, name.c_str()) < 0 && errno != ENOSYS &&
      errno != EACCES && errno != EPERM)
    fail_errno("cannot join a session keyring of the container's own");
}

// The process's own steps once inside the container's root: terminal,
// limits, user and capabilities, seccomp (before the user switch unless
// noNewPrivileges, as runc), working directory. Returns the program to
// execute and the seccomp program still to load (with noNewPrivileges).
struct Prepared {
  std::string program;
  std::string seccomp_program;
  unsigned seccomp_flags = 0;
};

Prepared prepare_process(const Process& p, const Spec& spec, int console) {
  if (p.terminal) {
    if (console < 0) fail("process.terminal needs --console-socket to hand the terminal to");
    TerminalSize size;
    if (p.console_size)
      size = {static_cast<unsigned short>(p.console_size->height),
              static_cast<unsigned short>(p.console_size->width)};
    attach_new_terminal(console, size);
    ::fchown(0, p.user.uid, static_cast<gid_t>(-1));
  }
  apply_rlimits(p.rlimits);
  Prepared prepared;
  if (spec.linux && spec.linux->seccomp) {
    prepared.seccomp_program = compile_seccomp(seccomp_profile_of(*spec.linux->seccomp));
    prepared.seccomp_flags = seccomp_flags_of(*spec.linux->seccomp);
  }
  if (!p.no_new_privileges && !prepared.seccomp_program.empty()) {
    load_seccomp_program(prepared.seccomp_program, prepared.seccomp_flags);
    prepared.seccomp_program.clear();
  }
  Capabilities caps = p.capabilities.value_or(Capabilities{});
  limit_bounding_set(caps.bounding);
  if (::prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0)
    fail_errno("cannot keep capabilities across the user switch");
  ContainerUser user{
      p.user.uid, p.user.gid, {p.user.additional_gids.begin(), p.user.additional_gids.end()}, "", "/"};
  switch_to_user(user);
  ::prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
  set_capability_sets(caps.effective, caps.permitted, caps.inheritable);
  // The kernel raises only what is both permitted and inheritable; runc
  // skips the rest, so configs written for it do the same here.
  raise_ambient_capabilities(caps.ambient & caps.permitted & caps.inheritable);
  if (p.user.umask) ::umask(*p.user.umask);
  if (p.no_new_privileges && ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
    fail_errno("cannot set no_new_privs");
  if (!p.cwd.empty() && ::chdir(p.cwd.c_str()) != 0)
    fail_errno(fmt::format("cannot enter the working directory {}", p.cwd));
  if (p.args.empty()) fail("process.args is empty: nothing to run");
  std::vector<std::string> env = p.env;
  prepared.program = p.args[0].find('/') != std::string::npos ? p.args[0] : find_program(p.args[0], env, "");
  return prepared;
}

void report_failure(int sync, const std::exception& e) {
  int code = kExitSetupFailure;
  if (const auto* error = dynamic_cast<const Error*>(&e)) code = error->exit_code();
  send_message(sync, fmt::format("error {} {}", code, e.what()));
  ::_exit(code == 0 ? kExitSetupFailure : code);
}

[[noreturn]] void execute(const Process& p, const std::string& program) {
  std::vector<std::string> args = p.args;
  std::vector<std::string> env = p.env;
  auto argv = string_pointers(args);
  auto envp = string_pointers(env);
  ::execve(program.c_str(), argv.data(), envp.data());
  int err = errno;
  fmt::print(stderr, "gocrate-runtime: cannot execute {}: {}\n", program, errno_text(err));
  ::_exit(err == ENOENT ? 127 : 126);
}

}  // namespace

void send_message(int fd, std::string_view message) {
  while (::send(fd, message.data(), message.size(), MSG_NOSIGNAL) < 0 && errno == EINTR) {
  }
}

std::string receive_message(int fd) {
  ssize_t n;
  // The size first (MSG_TRUNC reports a datagram's whole length), then the message.
  while ((n = ::recv(fd, nullptr, 0, MSG_PEEK | MSG_TRUNC)) < 0 && errno == EINTR) {
  }
  if (n <= 0) {
    char byte;
    while (::recv(fd, &byte, 1, 0) < 0 && errno == EINTR) {
    }
    return {};
  }
  std::string buffer(static_cast<size_t>(n), '\0');
  while ((n = ::recv(fd, buffer.data(), buffer.size(), 0)) < 0 && errno == EINTR) {
  }
  buffer.resize(n > 0 ? n : 0);
  return buffer;
}

void expect_message(int fd, std::string_view expected) {
  std::string message = receive_message(fd);
  if (message == expected) return;
  if (message.starts_with("error ")) {
    std::string rest = message.substr(6);
    size_t space = rest.find(' ');
    int code = std::atoi(rest.substr(0, space).c_str());
    throw Error(space == std::string::npos ? rest : rest.substr(space + 1), code ? code : 1);
  }
  if (message.empty()) fail("the container's init exited during setup");
  fail("unexpected message from the container's init: \"{}\"", message);
}

unsigned long clone_flags(const Spec& spec) {
  unsigned long flags = 0;
  if (!spec.linux) return flags;
  for (const auto& ns : spec.linux->namespaces) {
    if (!ns.path.empty()) continue;
    switch (ns.type) {
      case NamespaceType::pid:
        flags |= CLONE_NEWPID;
        break;
      case NamespaceType::network:
        flags |= CLONE_NEWNET;
        break;
      case NamespaceType::mount:
        flags |= CLONE_NEWNS;
        break;
      case NamespaceType::ipc:
        flags |= CLONE_NEWIPC;
        break;
      case NamespaceType::uts:
        flags |= CLONE_NEWUTS;
        break;
      case NamespaceType::user:
        flags |= CLONE_NEWUSER;
        break;
      case NamespaceType::cgroup:
        break;
      case NamespaceType::time:
        fail("linux.namespaces: the time namespace is not supported by gocrate-runtime");
    }
  }
  return flags;
}

void join_namespaces_by_path(const Spec& spec) {
  if (!spec.linux) return;
  auto join_one = [](const Namespace& ns) {
    static constexpr std::pair<NamespaceType, int> kFlags[] = {
        {NamespaceType::pid, CLONE_NEWPID},       {NamespaceType::network, CLONE_NEWNET},
        {NamespaceType::mount, CLONE_NEWNS},      {NamespaceType::ipc, CLONE_NEWIPC},
        {NamespaceType::uts, CLONE_NEWUTS},       {NamespaceType::user, CLONE_NEWUSER},
        {NamespaceType::cgroup, CLONE_NEWCGROUP}, {NamespaceType::time, CLONE_NEWTIME}};
    int type = 0;
    for (auto [t, flag] : kFlags) type = t == ns.type ? flag : type;
    UniqueFd fd(::open(ns.path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd)
      fail_errno(fmt::format("cannot open the {} namespace {}", namespace_type_name(ns.type), ns.path));
    // With the type given the kernel checks that the path is that kind of namespace.
    if (::setns(fd.get(), type) != 0)
      fail_errno(fmt::format("cannot join the {} namespace {}", namespace_type_name(ns.type), ns.path));
  };
  for (const auto& ns : spec.linux->namespaces) {
    if (!ns.path.empty() && ns.type == NamespaceType::user) join_one(ns);
  }
  for (const auto& ns : spec.linux->namespaces) {
    if (!ns.path.empty() && ns.type != NamespaceType::user && ns.type != NamespaceType::mount) join_one(ns);
  }
  for (const auto& ns : spec.linux->namespaces) {
    if (!ns.path.empty() && ns.type == NamespaceType::mount) join_one(ns);
  }
}

void container_init(const InitContext& c) {
  const Spec& spec = *c.spec;
  try {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    expect_message(c.sync, "go");
    const Linux& linux = *spec.linux;
    bool new_user = false, new_cgroup = false;
    for (const auto& ns : linux.namespaces) {
      bool fresh = ns.path.empty();
      new_user = new_user || (fresh && ns.type == NamespaceType::user);
      new_cgroup = new_cgroup || (fresh && ns.type == NamespaceType::cgroup);
    }
    bool in_user_namespace = new_user || linux.find_namespace(NamespaceType::user);
    // A mount namespace joined by path is set up as a new one; without any,
    // the container shares the runtime's and gets no mounts of its own (runc).
    bool has_mount = linux.find_namespace(NamespaceType::mount) != nullptr;
    bool has_uts = linux.find_namespace(NamespaceType::uts) != nullptr;
    if (new_user) {
      if (::syscall(SYS_setresgid, 0, 0, 0) != 0 || ::syscall(SYS_setresuid, 0, 0, 0) != 0)
        fail_errno(
            "cannot become root in the container's user namespace (check linux.uidMappings/gidMappings)");
    }
    if (::setsid() < 0) fail_errno("cannot start the container's session");
    if (c.cgroup_join_files) Cgroup::join(*c.cgroup_join_files);
    if (new_cgroup && ::unshare(CLONE_NEWCGROUP) != 0) fail_errno("cannot create the cgroup namespace");
    if (has_mount) prepare_root(spec, c.rootfs);
    UniqueFd root(::open(c.rootfs.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!root) fail_errno(fmt::format("cannot open the root file system {}", c.rootfs));
    if (has_mount) {
      for (const auto& m : spec.mounts) mount_one(root.get(), m, c);
      make_devices(root.get(), spec, in_user_namespace);
    }
    send_message(c.sync, "hooks");
    std::string state = receive_message(c.sync);
    if (!state.starts_with("go ")) fail("the runtime gave up during the createRuntime hooks");
    state.erase(0, 3);
    run_hooks(spec.hooks.create_container, "createContainer", state);
    if (has_mount) {
      enter_root(c.rootfs, c.no_pivot);
      if (!linux.rootfs_propagation.empty()) {
        mount_or_fail(nullptr, "/", nullptr, *propagation_flag(linux.rootfs_propagation), nullptr,
                      "the root's propagation");
      }
      // Before /proc/sys becomes read-only, as runc.
      apply_sysctls(linux.sysctl);
      for (const auto& path : linux.masked_paths) mask_path(path);
      for (const auto& path : linux.readonly_paths) read_only_path(path);
      if (spec.root.readonly) bind_remount("/", MS_RDONLY, "the root read-only");
    }
    if (!spec.hostname.empty()) {
      if (!has_uts) fail("hostname is set but the container has no uts namespace of its own");
      if (::sethostname(spec.hostname.data(), spec.hostname.size()) != 0)
        fail_errno("cannot set the hostname");
    }
    if (!spec.domainname.empty()) {
      if (!has_uts) fail("domainname is set but the container has no uts namespace of its own");
      if (::setdomainname(spec.domainname.data(), spec.domainname.size()) != 0)
        fail_errno("cannot set the domain name");
    }
    if (!has_mount) apply_sysctls(linux.sysctl);
    apply_personality(linux);
    if (!c.no_new_keyring) join_session_keyring(c.id);
    if (linux.find_namespace(NamespaceType::network) &&
        linux.find_namespace(NamespaceType::network)->path.empty())
      bring_up_loopback();
    // A container without a process (allowed by the spec) ends when started.
    Prepared prepared = spec.process ? prepare_process(*spec.process, spec, c.console) : Prepared{};
    // Descriptors: 0–2, the preserved ones, and ours (close-on-exec).
    ::syscall(SYS_close_range, 3 + c.preserve_fds, ~0U, CLOSE_RANGE_CLOEXEC);
    for (int fd = 3; fd < 3 + c.preserve_fds; ++fd) ::fcntl(fd, F_SETFD, 0);
    ::prctl(PR_SET_PDEATHSIG, 0, 0, 0, 0);
    send_message(c.sync, "ready");
    ::close(c.sync);
    UniqueFd fifo(::open(fd_path(c.exec_fifo).c_str(), O_WRONLY | O_CLOEXEC));
    if (!fifo || ::write(fifo.get(), "0", 1) != 1) ::_exit(kExitSetupFailure);
    fifo.reset();
    ::close(c.exec_fifo);
    if (!prepared.seccomp_program.empty())
      load_seccomp_program(prepared.seccomp_program, prepared.seccomp_flags);
    if (!spec.process) ::_exit(0);
    if (!spec.hooks.start_container.empty()) {
      std::string created = state;
      if (size_t at = created.find("\"creating\""); at != std::string::npos)
        created.replace(at, 10, "\"created\"");
      run_hooks(spec.hooks.start_container, "startContainer", created);
    }
    execute(*spec.process, prepared.program);
  } catch (const std::exception& e) {
    report_failure(c.sync, e);
  }
  ::_exit(kExitSetupFailure);
}

void exec_init(const ExecContext& c) {
  try {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    if (::setsid() < 0) fail_errno("cannot start a session");
    Prepared prepared = prepare_process(*c.process, *c.spec, c.console);
    ::syscall(SYS_close_range, 3 + c.preserve_fds, ~0U, CLOSE_RANGE_CLOEXEC);
    for (int fd = 3; fd < 3 + c.preserve_fds; ++fd) ::fcntl(fd, F_SETFD, 0);
    ::prctl(PR_SET_PDEATHSIG, 0, 0, 0, 0);
    send_message(c.sync, "ready");
    ::close(c.sync);
    if (!prepared.seccomp_program.empty())
      load_seccomp_program(prepared.seccomp_program, prepared.seccomp_flags);
    execute(*c.process, prepared.program);
  } catch (const std::exception& e) {
    report_failure(c.sync, e);
  }
  ::_exit(kExitSetupFailure);
}

}  // namespace gocrate::oci
