#pragma once

#include <chrono>
#include <memory>
#include <vector>

#include "runtime/network/port_mapping.h"

namespace gocrate {

// Publishes ports without iptables: gocrate listens on the host ports in the
// host's network namespace, and a thread that has entered the container's
// network namespace makes, for each accepted connection, a socket there,
// connects it to 127.0.0.1:container_port and relays the bytes both ways
// (half-close passed on). UDP datagrams are relayed per
// source address, each with a socket in the container that is dropped after
// an idle timeout.
//
// bind() takes the host ports at once, before the container starts, so that a
// port in use is an error before anything else is made; start() begins
// forwarding once the container's network namespace exists. The forwarding
// thread holds a reference to that namespace until stop() (or destruction),
// which closes the host ports and every relayed connection.
//
// The thread makes no allocation while relaying bytes; connections and UDP
// sessions are allocated by the thread itself (its own malloc arena), so a
// process that clones containers while forwarders run does not hand a child
// a lock that the forwarder holds.
class PortForwarder {
 public:
  // Binds (and for TCP listens on) every mapping's host port: "port 18080 is
  // in use", a privileged port without CAP_NET_BIND_SERVICE or an address
  // that is not the host's fail here, with nothing left bound.
  static PortForwarder bind(const std::vector<PortMapping>& mappings);

  PortForwarder();
  PortForwarder(PortForwarder&&) noexcept;
  PortForwarder& operator=(PortForwarder&&) noexcept;
  ~PortForwarder();

  // Starts forwarding on its own thread, which enters the network namespace
  // `container_netns_fd` refers to (a namespace fd or a pidfd; not kept).
  void start(int container_netns_fd);
  // Stops the thread and closes the host ports and every connection. Safe to
  // call more than once, and without start().
  void stop();

  const std::vector<PortMapping>& mappings() const;
  // For tests and the supervisor: how long a UDP source may stay silent
  // before its session is closed (default 60 s). Before start().
  void set_udp_idle_timeout(std::chrono::milliseconds timeout);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace gocrate
