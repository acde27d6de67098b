#pragma once

#include <chrono>
#include <memory>
#include <vector>

#include "runtime/network/port_mapping.h"
#include "util/fs.h"

namespace gocrate {

// A host socket a PortForwarder bound: listening (TCP) or bound (UDP).
struct BoundPort {
  UniqueFd socket;
  PortMapping mapping;
};

// The forwarder's event loop, run on a thread that has entered the
// container's network namespace: every socket it makes lives there, while
// the bound ports stay in the host's. Level-triggered epoll; TCP bytes move
// at most one chunk per readiness (copied when small, spliced through a pipe
// in bulk), so no direction starves another and nothing spins.
class RelayLoop {
 public:
  RelayLoop(const std::vector<BoundPort>& ports, int stop_fd, std::chrono::milliseconds udp_idle_timeout);
  ~RelayLoop();
  RelayLoop(const RelayLoop&) = delete;
  RelayLoop& operator=(const RelayLoop&) = delete;

  // Relays until stop_fd becomes readable.
  void run();

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace gocrate
