#pragma once

#include <sys/types.h>

#include <memory>
#include <string>

#include "util/fs.h"

namespace gocrate {

// Outbound connections from a private-network container, through
// slirp4netns (as rootless Podman's), started only once the container sends
// its first packet out: a container that never reaches out pays for a tap
// device and no process.
//
// With its network namespace gocrate makes the device slirp4netns would, and
// configures it as `slirp4netns --configure` does: tap0, 10.0.2.100/24,
// default route via 10.0.2.2 (the host's loopback), DNS at 10.0.2.3 (the
// host's resolvers), MTU 65520, no IPv6. The gateway and DNS addresses get
// permanent neighbour entries with slirp's MAC addresses, so the first packet
// out is the program's own (a SYN, a DNS query), not an ARP request.
// gocrate holds the tap's only queue; the first frame wakes a watcher, which
// reads what is queued, lets go of the tap, starts slirp4netns on it, waits
// until it is ready and sends the held frames out again through a packet
// socket on tap0. The program's first connection is delayed by slirp4netns's
// start (a few milliseconds), not lost. Closing the tap's queue waits for an
// RCU grace period, so a container that never reached out has it closed by a
// detached process: its end does not wait.

// Made in the new network namespace by namespaces.cc's helper, which may
// only make raw system calls: fills `tap` with the tap's queue, or returns an
// errno value and names the failed step in `*step`.
int create_outbound_device(int* tap, const char** step);

inline constexpr const char* kSlirpResolvConf = "nameserver 10.0.2.3\n";
// The container's address on tap0, and the host as the container reaches it.
inline constexpr const char* kSlirpGuestAddress = "10.0.2.100";
inline constexpr const char* kSlirpHostAddress = "10.0.2.2";
inline constexpr const char* kSlirpDnsAddress = "10.0.2.3";

// slirp4netns's path, or an error naming the Debian package.
std::string find_slirp4netns();

class OutboundNetwork {
 public:
  // Watches `tap` (the tap's queue, held until slirp4netns takes over) on a
  // thread of its own. `netns_fd` is the container's network namespace,
  // which slirp4netns enters.
  OutboundNetwork(UniqueFd tap, std::string slirp4netns, int netns_fd, std::string container_name);
  ~OutboundNetwork();
  OutboundNetwork(const OutboundNetwork&) = delete;
  OutboundNetwork& operator=(const OutboundNetwork&) = delete;

  // Stops watching, and stops slirp4netns if it runs (it also exits by
  // itself when gocrate dies: its --exit-fd closes).
  void stop();
  // slirp4netns's pid once started, else 0.
  pid_t helper_pid() const;

  struct State;

 private:
  std::unique_ptr<State> state_;
};

}  // namespace gocrate
