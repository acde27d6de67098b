#include "runtime/network/port_forwarder.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <future>
#include <thread>

#include "runtime/network/relay_loop.h"
#include "util/error.h"
#include "util/fs.h"

namespace gocrate {

using namespace std::chrono_literals;

struct PortForwarder::State {
  std::vector<PortMapping> mappings;
  std::vector<BoundPort> ports;
  std::chrono::milliseconds udp_idle_timeout = 60s;
  UniqueFd stop_event;
  std::thread thread;
};

namespace {

struct HostAddress {
  sockaddr_storage storage{};
  socklen_t size = 0;
  int family = AF_INET;
};

HostAddress host_address(const PortMapping& m, int family) {
  HostAddress a;
  a.family = family;
  if (family == AF_INET6) {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&a.storage);
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(m.host_port);
    in6->sin6_addr = in6addr_any;
    if (!m.host_ip.empty()) ::inet_pton(AF_INET6, m.host_ip.c_str(), &in6->sin6_addr);
    a.size = sizeof(sockaddr_in6);
  } else {
    auto* in = reinterpret_cast<sockaddr_in*>(&a.storage);
    in->sin_family = AF_INET;
    in->sin_port = htons(m.host_port);
    in->sin_addr.s_addr = htonl(INADDR_ANY);
    if (!m.host_ip.empty()) ::inet_pton(AF_INET, m.host_ip.c_str(), &in->sin_addr);
    a.size = sizeof(sockaddr_in);
  }
  return a;
}

std::string where(const PortMapping& m) {
  return fmt::format("{} on {}", protocol_name(m.protocol), m.host_ip.empty() ? "every address" : m.host_ip);
}

int unprivileged_port_start() {
  auto text = read_file_if_exists("/proc/sys/net/ipv4/ip_unprivileged_port_start");
  return text ? std::atoi(text->c_str()) : 1024;
}

[[noreturn]] void explain_bind_failure(const PortMapping& m, int err) {
  switch (err) {
    case EADDRINUSE:
      fail("port {} is in use ({}): stop what listens there or publish another host port with -p",
           m.host_port, where(m));
    case EACCES:
      fail(
          "cannot publish port {}: ports below {} need root (CAP_NET_BIND_SERVICE); publish a higher host "
          "port",
          m.host_port, unprivileged_port_start());
    case EADDRNOTAVAIL:
      fail("cannot publish port {} on {}: that is not an address of this host", m.host_port, m.host_ip);
    default:
      fail_errno(fmt::format("cannot publish port {} ({})", m.host_port, where(m)), err);
  }
}

// Every address means both IPv4 and IPv6 where the host has IPv6: one
// dual-stack socket, as a port taken by either family is in use.
UniqueFd open_host_socket(const PortMapping& m, int& family) {
  int type = (m.protocol == Protocol::tcp ? SOCK_STREAM : SOCK_DGRAM) | SOCK_NONBLOCK | SOCK_CLOEXEC;
  family = m.host_ip.find(':') != std::string::npos || m.host_ip.empty() ? AF_INET6 : AF_INET;
  UniqueFd fd(::socket(family, type, 0));
  if (!fd && m.host_ip.empty() && errno == EAFNOSUPPORT) {
    family = AF_INET;
    fd.reset(::socket(family, type, 0));
  }
  if (!fd) fail_errno(fmt::format("cannot open a socket to publish port {}", m.host_port));
  int zero = 0, one = 1;
  if (family == AF_INET6 && m.host_ip.empty())
    ::setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
  // Lets a port be published again while connections of a previous
  // container are in TIME_WAIT; two listeners still conflict.
  if (m.protocol == Protocol::tcp) ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  return fd;
}

uint16_t bound_port(int fd) {
  sockaddr_storage address{};
  socklen_t size = sizeof address;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size) != 0)
    fail_errno("cannot read a bound port");
  if (address.ss_family == AF_INET6) return ntohs(reinterpret_cast<sockaddr_in6*>(&address)->sin6_port);
  return ntohs(reinterpret_cast<sockaddr_in*>(&address)->sin_port);
}

BoundPort bind_port(PortMapping m) {
  int family = AF_INET;
  UniqueFd fd = open_host_socket(m, family);
  HostAddress address = host_address(m, family);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&address.storage), address.size) != 0) {
    explain_bind_failure(m, errno);
  }
  if (m.protocol == Protocol::tcp && ::listen(fd.get(), SOMAXCONN) != 0) {
    fail_errno(fmt::format("cannot listen on port {}", m.host_port));
  }
  if (m.host_port == 0) m.host_port = bound_port(fd.get());
  return {std::move(fd), std::move(m)};
}

// The forwarding thread: takes no process signal (gocrate's main thread
// reads them), enters the container's network namespace, and relays.
void forward(const std::vector<BoundPort>& ports, int netns_fd, int stop_fd,
             std::chrono::milliseconds udp_idle_timeout, std::promise<void>& started) {
  sigset_t all;
  sigfillset(&all);
  ::pthread_sigmask(SIG_BLOCK, &all, nullptr);
  std::unique_ptr<RelayLoop> loop;
  try {
    if (::setns(netns_fd, CLONE_NEWNET) != 0)
      fail_errno("cannot enter the container's network namespace to publish ports");
    loop = std::make_unique<RelayLoop>(ports, stop_fd, udp_idle_timeout);
  } catch (...) {
    started.set_exception(std::current_exception());
    return;
  }
  started.set_value();
  try {
    loop->run();
  } catch (const Error& e) {
    std::fprintf(stderr, "gocrate: port forwarding stopped: %s\n", e.what());
  }
}

}  // namespace

PortForwarder PortForwarder::bind(const std::vector<PortMapping>& mappings) {
  PortForwarder forwarder;
  for (const auto& mapping : mappings) {
    forwarder.state_->ports.push_back(bind_port(mapping));
    forwarder.state_->mappings.push_back(forwarder.state_->ports.back().mapping);
  }
  return forwarder;
}

PortForwarder::PortForwarder() : state_(std::make_unique<State>()) {}
PortForwarder::PortForwarder(PortForwarder&&) noexcept = default;
PortForwarder& PortForwarder::operator=(PortForwarder&& other) noexcept {
  if (this != &other) {
    stop();
    state_ = std::move(other.state_);
  }
  return *this;
}

PortForwarder::~PortForwarder() {
  stop();
}

void PortForwarder::start(int container_netns_fd) {
  if (!state_ || state_->ports.empty()) return;
  if (state_->thread.joinable()) fail("the port forwarder was started twice");
  state_->stop_event.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!state_->stop_event) fail_errno("cannot create the port forwarder's stop event");
  std::promise<void> started;
  std::future<void> result = started.get_future();
  State* state = state_.get();
  state_->thread = std::thread(forward, std::cref(state->ports), container_netns_fd, state->stop_event.get(),
                               state->udp_idle_timeout, std::ref(started));
  try {
    result.get();
  } catch (...) {
    state_->thread.join();
    throw;
  }
}

void PortForwarder::stop() {
  if (!state_) return;
  if (state_->thread.joinable()) {
    uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(state_->stop_event.get(), &one, sizeof one);
    state_->thread.join();
  }
  state_->ports.clear();
  state_->stop_event.reset();
}

const std::vector<PortMapping>& PortForwarder::mappings() const {
  static const std::vector<PortMapping> none;
  return state_ ? state_->mappings : none;
}

void PortForwarder::set_udp_idle_timeout(std::chrono::milliseconds timeout) {
  if (state_) state_->udp_idle_timeout = timeout;
}

}  // namespace gocrate
