#include "runtime/network/outbound_network.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <net/route.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <thread>
#include <vector>

#include "util/error.h"
#include "util/process.h"

extern char** environ;

namespace gocrate {

namespace {

constexpr const char* kTapName = "tap0";
constexpr int kMtu = 65520;
constexpr const char* kGuestAddress = "10.0.2.100";
constexpr const char* kNetmask = "255.255.255.0";
constexpr const char* kGateway = "10.0.2.2";  // slirp's host: the host's loopback
constexpr const char* kDns = "10.0.2.3";
// libslirp answers for its addresses with 52:55 followed by the IPv4 address.
constexpr unsigned char kSlirpMacPrefix[2] = {0x52, 0x55};
constexpr size_t kMaxHeldFrames = 256;
constexpr int kSlirpReadyTimeoutMs = 10000;
constexpr int kSlirpExitTimeoutMs = 1000;

// ---- In the namespace helper: raw system calls only ---------------------

sockaddr_in ipv4(const char* text) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  ::inet_pton(AF_INET, text, &a.sin_addr);
  return a;
}

void name_device(char (&name)[IFNAMSIZ]) {
  std::memset(name, 0, IFNAMSIZ);
  std::memcpy(name, kTapName, std::strlen(kTapName));
}

bool io(long fd, unsigned long request, void* argument) {
  return ::syscall(SYS_ioctl, fd, request, argument) == 0;
}

// Before the device comes up, so that it never sends router solicitations
// or duplicate address probes (which would start slirp4netns for nothing).
void disable_ipv6_on_tap() {
  long fd =
      ::syscall(SYS_openat, AT_FDCWD, "/proc/sys/net/ipv6/conf/tap0/disable_ipv6", O_WRONLY | O_CLOEXEC);
  if (fd < 0) return;  // no IPv6 in this kernel
  [[maybe_unused]] long n = ::syscall(SYS_write, fd, "1", 1);
  ::syscall(SYS_close, fd);
}

bool add_slirp_neighbour(long sock, const char* address) {
  arpreq entry{};
  sockaddr_in ip = ipv4(address);
  std::memcpy(&entry.arp_pa, &ip, sizeof ip);
  entry.arp_ha.sa_family = ARPHRD_ETHER;
  std::memcpy(entry.arp_ha.sa_data, kSlirpMacPrefix, 2);
  std::memcpy(entry.arp_ha.sa_data + 2, &ip.sin_addr, 4);
  entry.arp_flags = ATF_PERM | ATF_COM;
  std::memcpy(entry.arp_dev, kTapName, std::strlen(kTapName));
  return io(sock, SIOCSARP, &entry);
}

// Address, netmask, MTU, up, default route, neighbours: what
// `slirp4netns --configure` sets, through the same ioctls.
const char* configure_tap(long sock) {
  ifreq request{};
  name_device(request.ifr_name);
  request.ifr_mtu = kMtu;
  if (!io(sock, SIOCSIFMTU, &request)) return "set the MTU of tap0";
  sockaddr_in address = ipv4(kGuestAddress);
  std::memcpy(&request.ifr_addr, &address, sizeof address);
  if (!io(sock, SIOCSIFADDR, &request)) return "set the address of tap0";
  sockaddr_in netmask = ipv4(kNetmask);
  std::memcpy(&request.ifr_netmask, &netmask, sizeof netmask);
  if (!io(sock, SIOCSIFNETMASK, &request)) return "set the netmask of tap0";
  if (!io(sock, SIOCGIFFLAGS, &request)) return "read the flags of tap0";
  request.ifr_flags |= IFF_UP;
  if (!io(sock, SIOCSIFFLAGS, &request)) return "bring up tap0";
  rtentry route{};
  sockaddr_in any = ipv4("0.0.0.0"), gateway = ipv4(kGateway);
  std::memcpy(&route.rt_dst, &any, sizeof any);
  std::memcpy(&route.rt_genmask, &any, sizeof any);
  std::memcpy(&route.rt_gateway, &gateway, sizeof gateway);
  route.rt_flags = RTF_UP | RTF_GATEWAY;
  char device[IFNAMSIZ];
  name_device(device);
  route.rt_dev = device;
  if (!io(sock, SIOCADDRT, &route)) return "add the default route via 10.0.2.2";
  if (!add_slirp_neighbour(sock, kGateway) || !add_slirp_neighbour(sock, kDns))
    return "add slirp's neighbours";
  return nullptr;
}

// ---- The watcher --------------------------------------------------------

std::vector<std::string> read_held_frames(int tap) {
  std::vector<std::string> frames;
  std::string buffer(kMtu + 64, '\0');
  while (frames.size() < kMaxHeldFrames) {
    ssize_t n = ::read(tap, buffer.data(), buffer.size());
    if (n <= 0) break;
    frames.emplace_back(buffer.data(), static_cast<size_t>(n));
  }
  return frames;
}

// A descriptor at 10 or above: the spawned program's 3, 4 and 5 are dup2'd
// from these, so no source can be overwritten by an earlier target.
UniqueFd high_copy(int fd) {
  UniqueFd copy(::fcntl(fd, F_DUPFD_CLOEXEC, 10));
  if (!copy) fail_errno("cannot duplicate a descriptor for slirp4netns");
  return copy;
}

std::string last_line_of(int fd) {
  std::string text;
  char buffer[4096];
  ssize_t n;
  off_t offset = 0;
  while ((n = ::pread(fd, buffer, sizeof buffer, offset)) > 0) {
    text.append(buffer, n);
    offset += n;
  }
  while (!text.empty() && text.back() == '\n') text.pop_back();
  auto newline = text.rfind('\n');
  return newline == std::string::npos ? text : text.substr(newline + 1);
}

}  // namespace

int create_outbound_device(int* tap_out, const char** step) {
  long tap = ::syscall(SYS_openat, AT_FDCWD, "/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (tap < 0) {
    *step = "open /dev/net/tun";
    return errno;
  }
  *tap_out = static_cast<int>(tap);
  ifreq request{};
  name_device(request.ifr_name);
  request.ifr_flags = IFF_TAP | IFF_NO_PI;
  // Persistent: it stays when gocrate lets go of it for slirp4netns, and goes
  // with the network namespace.
  if (!io(tap, TUNSETIFF, &request) || !io(tap, TUNSETPERSIST, reinterpret_cast<void*>(1))) {
    *step = "create tap0";
    return errno;
  }
  disable_ipv6_on_tap();
  long sock = ::syscall(SYS_socket, AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (sock < 0) {
    *step = "open a socket to configure tap0";
    return errno;
  }
  const char* failed = configure_tap(sock);
  int err = errno;
  ::syscall(SYS_close, sock);
  if (failed) {
    *step = failed;
    return err;
  }
  return 0;
}

std::string find_slirp4netns() {
  auto path = find_executable("slirp4netns");
  if (!path) {
    fail(
        "the private network's outbound connections need slirp4netns, which is not in PATH: install the "
        "Debian "
        "package slirp4netns, or run with --network none or --network host");
  }
  return *path;
}

struct OutboundNetwork::State {
  UniqueFd tap;  // until slirp4netns takes over
  std::string slirp4netns;
  UniqueFd netns;
  std::string container_name;
  UniqueFd stop_event;
  std::thread watcher;
  std::atomic<pid_t> helper{0};
  UniqueFd helper_pidfd;
  UniqueFd exit_write;  // slirp4netns exits when this closes

  void watch();
  bool wait_for_first_frame();
  void start_slirp4netns();
  void wait_until_ready(int ready_fd, int log_fd);
  void send_again(const std::vector<std::string>& frames);
};

bool OutboundNetwork::State::wait_for_first_frame() {
  pollfd fds[2] = {{tap.get(), POLLIN, 0}, {stop_event.get(), POLLIN, 0}};
  for (;;) {
    int n = ::poll(fds, 2, -1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 || (fds[1].revents & POLLIN)) return false;
    if (fds[0].revents & (POLLIN | POLLERR | POLLHUP)) return true;
  }
}

void OutboundNetwork::State::watch() {
  sigset_t all;
  sigfillset(&all);
  ::pthread_sigmask(SIG_BLOCK, &all, nullptr);
  if (!wait_for_first_frame()) return;
  std::vector<std::string> frames = read_held_frames(tap.get());
  tap.reset();  // tap0 has a single queue: slirp4netns attaches once gocrate has let go
  try {
    start_slirp4netns();
    send_again(frames);
  } catch (const Error& e) {
    std::fprintf(stderr, "gocrate: container %s has no outbound network: %s\n", container_name.c_str(),
                 e.what());
  }
}

void OutboundNetwork::State::start_slirp4netns() {
  int ready[2], exit_pipe[2];
  if (::pipe2(ready, O_CLOEXEC) != 0 || ::pipe2(exit_pipe, O_CLOEXEC) != 0)
    fail_errno("cannot create a pipe");
  UniqueFd ready_read(ready[0]), ready_write(ready[1]), exit_read(exit_pipe[0]);
  exit_write.reset(exit_pipe[1]);
  UniqueFd log(static_cast<int>(::syscall(SYS_memfd_create, "slirp4netns-log", MFD_CLOEXEC)));
  if (!log) fail_errno("cannot create a log for slirp4netns");
  UniqueFd netns_copy = high_copy(netns.get()), ready_copy = high_copy(ready_write.get()),
           exit_copy = high_copy(exit_read.get()), log_copy = high_copy(log.get());

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, log_copy.get(), 1);
  posix_spawn_file_actions_adddup2(&actions, log_copy.get(), 2);
  posix_spawn_file_actions_adddup2(&actions, netns_copy.get(), 3);
  posix_spawn_file_actions_adddup2(&actions, ready_copy.get(), 4);
  posix_spawn_file_actions_adddup2(&actions, exit_copy.get(), 5);
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  sigset_t none, defaults;
  sigemptyset(&none);
  sigfillset(&defaults);
  posix_spawnattr_setsigmask(&attributes, &none);
  posix_spawnattr_setsigdefault(&attributes, &defaults);
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  std::string mtu = "--mtu=" + std::to_string(kMtu);
  std::vector<const char*> argv = {"slirp4netns",     mtu.c_str(),        "--ready-fd=4",
                                   "--exit-fd=5",     "--enable-seccomp", "--netns-type=path",
                                   "/proc/self/fd/3", kTapName,           nullptr};
  pid_t pid = 0;
  int err = ::posix_spawn(&pid, slirp4netns.c_str(), &actions, &attributes, const_cast<char**>(argv.data()),
                          environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attributes);
  if (err != 0) fail_errno(fmt::format("cannot start {}", slirp4netns), err);
  helper = pid;
  helper_pidfd.reset(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  ready_write.reset();
  exit_read.reset();
  wait_until_ready(ready_read.get(), log.get());
}

void OutboundNetwork::State::wait_until_ready(int ready_fd, int log_fd) {
  pollfd fds[2] = {{ready_fd, POLLIN, 0}, {stop_event.get(), POLLIN, 0}};
  int n;
  while ((n = ::poll(fds, 2, kSlirpReadyTimeoutMs)) < 0 && errno == EINTR) {
  }
  if (n == 0) fail("slirp4netns was not ready after {} s", kSlirpReadyTimeoutMs / 1000);
  if (fds[1].revents & POLLIN) fail("the container ended while slirp4netns started");
  char byte = 0;
  if (::read(ready_fd, &byte, 1) != 1) {
    std::string why = last_line_of(log_fd);
    fail("slirp4netns exited at start{}{}", why.empty() ? "" : ": ", why);
  }
}

// The watcher thread enters the container's network namespace for the
// packet socket; slirp4netns, which must start in the host's, runs already.
void OutboundNetwork::State::send_again(const std::vector<std::string>& frames) {
  if (frames.empty()) return;
  if (::setns(netns.get(), CLONE_NEWNET) != 0)
    fail_errno("cannot enter the container's network namespace to send its first packets");
  UniqueFd packet(::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0));  // protocol 0: sends only
  if (!packet) fail_errno("cannot open a packet socket on tap0");
  sockaddr_ll link{};
  link.sll_family = AF_PACKET;
  link.sll_ifindex = static_cast<int>(::if_nametoindex(kTapName));
  if (link.sll_ifindex == 0 || ::bind(packet.get(), reinterpret_cast<sockaddr*>(&link), sizeof link) != 0)
    fail_errno("cannot bind a packet socket to tap0");
  for (const auto& frame : frames) {
    [[maybe_unused]] ssize_t n = ::send(packet.get(), frame.data(), frame.size(), MSG_DONTWAIT);
  }
}

OutboundNetwork::OutboundNetwork(UniqueFd tap, std::string slirp4netns, int netns_fd,
                                 std::string container_name)
    : state_(std::make_unique<State>()) {
  state_->tap = std::move(tap);
  state_->slirp4netns = std::move(slirp4netns);
  state_->container_name = std::move(container_name);
  state_->netns.reset(::fcntl(netns_fd, F_DUPFD_CLOEXEC, 3));
  state_->stop_event.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!state_->netns || !state_->stop_event) fail_errno("cannot prepare the container's outbound network");
  state_->watcher = std::thread([state = state_.get()] { state->watch(); });
}

OutboundNetwork::~OutboundNetwork() {
  stop();
}

void OutboundNetwork::stop() {
  if (state_->watcher.joinable()) {
    uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(state_->stop_event.get(), &one, sizeof one);
    state_->watcher.join();
  }
  close_detached(std::move(state_->tap));
  state_->exit_write.reset();
  pid_t pid = state_->helper.exchange(0);
  if (pid == 0) return;
  pollfd exited{state_->helper_pidfd.get(), POLLIN, 0};
  if (!state_->helper_pidfd || ::poll(&exited, 1, kSlirpExitTimeoutMs) != 1) ::kill(pid, SIGKILL);
  while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
  }
  state_->helper_pidfd.reset();
}

pid_t OutboundNetwork::helper_pid() const {
  return state_->helper.load();
}

}  // namespace gocrate
