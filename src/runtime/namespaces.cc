#include "runtime/namespaces.h"

#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
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

unsigned long container_clone_flags(NetworkMode network) {
  unsigned long flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC;
  if (network != NetworkMode::host) flags |= CLONE_NEWNET;
  return flags;
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
