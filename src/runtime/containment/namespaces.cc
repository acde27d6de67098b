#include "runtime/containment/namespaces.h"

#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>

#include "util/error.h"
#include "util/fs.h"

namespace gocrate {

NetworkMode parse_network_mode(std::string_view text) {
  if (text == "private" || text == "bridge" || text == "default") return NetworkMode::private_network;
  if (text == "host") return NetworkMode::host;
  if (text == "none") return NetworkMode::none;
  fail("unknown --network \"{}\": use private, host or none", text);
}

std::string_view network_mode_name(NetworkMode mode) {
  switch (mode) {
    case NetworkMode::private_network:
      return "private";
    case NetworkMode::host:
      return "host";
    case NetworkMode::none:
      break;
  }
  return "none";
}

IpcMode parse_ipc_mode(std::string_view text) {
  if (text.empty() || text == "private") return IpcMode::private_ipc;
  if (text == "shareable") return IpcMode::shareable;
  if (text == "none") return IpcMode::none;
  if (text == "host") return IpcMode::host;
  if (text.starts_with("container:")) {
    fail(
        "--ipc {}: joining another container's ipc namespace is not supported; use private, shareable, none "
        "or host",
        text);
  }
  fail("unknown --ipc \"{}\": use private, shareable, none or host", text);
}

std::string_view ipc_mode_name(IpcMode mode) {
  switch (mode) {
    case IpcMode::private_ipc:
      return "private";
    case IpcMode::shareable:
      return "shareable";
    case IpcMode::none:
      return "none";
    case IpcMode::host:
      break;
  }
  return "host";
}

bool parse_host_namespace(std::string_view flag, std::string_view text) {
  if (text.empty() || text == "private") return false;
  if (text == "host") return true;
  if (text.starts_with("container:")) {
    fail("--{} {}: joining another container's namespace is not supported; use host, or drop --{}", flag,
         text, flag);
  }
  fail("unknown --{} \"{}\": use host", flag, text);
}

std::string host_hostname() {
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) != 0) fail_errno("cannot read this host's hostname");
  return name;
}

void enter_private_namespaces(bool uts) {
  if (::unshare(CLONE_NEWNS | (uts ? CLONE_NEWUTS : 0)) != 0)
    fail_errno(uts ? "cannot create the container's mount and uts namespaces"
                   : "cannot create the container's mount namespace");
}

namespace {

struct NamespaceHelper {
  bool with_ipc = true;
  bool network = false;
  bool outbound = false;
  int ipc = -1;
  int net = -1;
  int tap = -1;
  int err = 0;
  const char* outbound_step = nullptr;  // what failed in making the outbound device
};

long open_namespace(const char* path, int* err) {
  long fd = ::syscall(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) *err = errno;
  return fd;
}

// Runs in a vfork-like child that shares gocrate's memory and descriptor
// table: only raw system calls, no libc state.
int open_own_namespaces(void* arg) {
  auto* helper = static_cast<NamespaceHelper*>(arg);
  if (helper->with_ipc) helper->ipc = static_cast<int>(open_namespace("/proc/self/ns/ipc", &helper->err));
  if (helper->network) helper->net = static_cast<int>(open_namespace("/proc/self/ns/net", &helper->err));
  if (helper->outbound && helper->err == 0) {
    helper->err = create_outbound_device(&helper->tap, &helper->outbound_step);
  }
  return 0;
}

}  // namespace

ContainerNamespaces create_container_namespaces(bool network, bool outbound, bool ipc) {
  alignas(16) static char stack[64 * 1024];
  NamespaceHelper helper;
  helper.with_ipc = ipc;
  helper.network = network;
  helper.outbound = network && outbound;
  // CLONE_VFORK: gocrate waits until the helper has exited; its descriptors
  // (in the shared table) then hold the namespaces.
  int flags = CLONE_VM | CLONE_VFORK | CLONE_FILES | (ipc ? CLONE_NEWIPC : 0) | (network ? CLONE_NEWNET : 0) |
              SIGCHLD;
  pid_t pid = ::clone(open_own_namespaces, stack + sizeof stack, flags, &helper);
  if (pid < 0) fail_errno("cannot create the container's network and ipc namespaces");
  while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
  }
  ContainerNamespaces namespaces{UniqueFd(helper.ipc), UniqueFd(helper.net), UniqueFd(helper.tap)};
  if (helper.outbound_step) {
    fail_errno(fmt::format("cannot set up the container's outbound network: cannot {}", helper.outbound_step),
               helper.err);
  }
  if ((ipc && !namespaces.ipc) || (network && !namespaces.network)) {
    fail_errno("cannot open the container's namespaces", helper.err);
  }
  return namespaces;
}

void join_namespace(int fd, int type) {
  if (::setns(fd, type) != 0) {
    fail_errno(type == CLONE_NEWNET ? "cannot enter the container's network namespace"
                                    : "cannot enter the container's ipc namespace");
  }
}

void enter_cgroup_namespace() {
  if (::unshare(CLONE_NEWCGROUP) != 0) fail_errno("cannot create the container's cgroup namespace");
}

void set_hostname(const std::string& hostname) {
  if (::sethostname(hostname.data(), hostname.size()) != 0) {
    fail_errno(fmt::format("cannot set the hostname to \"{}\"", hostname));
  }
}

void bring_up_loopback() {
  UniqueFd sock(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!sock) fail_errno("cannot open a socket to configure the loopback interface");
  ifreq request{};
  std::strncpy(request.ifr_name, "lo", IFNAMSIZ - 1);
  if (::ioctl(sock.get(), SIOCGIFFLAGS, &request) != 0)
    fail_errno("cannot read the loopback interface's flags");
  request.ifr_flags |= IFF_UP | IFF_RUNNING;
  if (::ioctl(sock.get(), SIOCSIFFLAGS, &request) != 0) fail_errno("cannot bring up the loopback interface");
}

}  // namespace gocrate
