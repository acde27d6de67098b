#include "runtime/network/port_forwarder.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/capability.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <thread>

#include "runtime/containment/namespaces.h"
#include "util/error.h"
#include "util/fs.h"

namespace gocrate {
namespace {

using namespace std::chrono_literals;

constexpr uint16_t kTcpPort = 9000;
constexpr uint16_t kUdpPort = 9001;
constexpr uint16_t kSilentPort = 9002;  // nothing listens there

sockaddr_in loopback(uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

UniqueFd bound_socket(int type, uint16_t port) {
  UniqueFd fd(::socket(AF_INET, type | SOCK_CLOEXEC, 0));
  int one = 1;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a = loopback(port);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) fail_errno("test bind");
  if (type == SOCK_STREAM && ::listen(fd.get(), 16) != 0) fail_errno("test listen");
  return fd;
}

// A network namespace made for the test, with loopback up and a TCP and a
// UDP server socket in it, made by a thread that entered it alone.
struct TestNamespace {
  UniqueFd netns;
  UniqueFd tcp_server;
  UniqueFd udp_server;
};

TestNamespace make_test_namespace() {
  TestNamespace ns;
  std::string error;
  std::thread maker([&] {
    try {
      if (::unshare(CLONE_NEWNET) != 0) fail_errno("unshare(CLONE_NEWNET)");
      bring_up_loopback();
      ns.netns = open_or_fail("/proc/thread-self/ns/net", O_RDONLY);
      ns.tcp_server = bound_socket(SOCK_STREAM, kTcpPort);
      ns.udp_server = bound_socket(SOCK_DGRAM, kUdpPort);
    } catch (const Error& e) {
      error = e.what();
    }
  });
  maker.join();
  if (!error.empty()) throw Error(error);
  return ns;
}

class PortForwarderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0)
      GTEST_SKIP() << "LOUD: creating a network namespace needs root; run the unit tests as root";
    ns_ = make_test_namespace();
  }
  TestNamespace ns_;
};

UniqueFd connect_to(uint16_t port) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in a = loopback(port);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) fail_errno("test connect");
  return fd;
}

UniqueFd accept_from(int listener) {
  pollfd p{listener, POLLIN, 0};
  if (::poll(&p, 1, 5000) != 1) fail("nothing reached the server in the namespace");
  return UniqueFd(::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC));
}

void send_text(int fd, std::string_view text) {
  write_all(fd, text, "test socket");
}

// Reads until `size` bytes or EOF, with a deadline.
std::string receive(int fd, size_t size) {
  std::string out;
  char buffer[65536];
  while (out.size() < size) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 5000) != 1) fail("timed out after {} of {} bytes", out.size(), size);
    ssize_t n = ::read(fd, buffer, std::min(sizeof buffer, size - out.size()));
    if (n <= 0) break;
    out.append(buffer, n);
  }
  return out;
}

// True when the peer ended its side: read() returns 0 (FIN) or ECONNRESET.
bool ended(int fd) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, 5000) != 1) return false;
  char c;
  ssize_t n = ::read(fd, &c, 1);
  return n == 0 || (n < 0 && errno == ECONNRESET);
}

TEST_F(PortForwarderTest, RelaysBothWaysAndPassesHalfCloseOn) {
  PortForwarder forwarder = PortForwarder::bind({{"127.0.0.1", 0, kTcpPort, Protocol::tcp}});
  uint16_t host_port = forwarder.mappings().at(0).host_port;
  ASSERT_NE(host_port, 0);
  forwarder.start(ns_.netns.get());

  UniqueFd client = connect_to(host_port);
  UniqueFd server = accept_from(ns_.tcp_server.get());
  send_text(client.get(), "ping");
  EXPECT_EQ(receive(server.get(), 4), "ping");
  send_text(server.get(), "pong");
  EXPECT_EQ(receive(client.get(), 4), "pong");

  // The client is done sending: the server sees EOF, and can still answer.
  ASSERT_EQ(::shutdown(client.get(), SHUT_WR), 0);
  EXPECT_EQ(receive(server.get(), 1), "");
  send_text(server.get(), "after half-close");
  EXPECT_EQ(receive(client.get(), 16), "after half-close");
  server.reset();
  EXPECT_TRUE(ended(client.get()));
}

TEST_F(PortForwarderTest, RelaysMegabytesBothWaysAtOnce) {
  PortForwarder forwarder = PortForwarder::bind({{"127.0.0.1", 0, kTcpPort, Protocol::tcp}});
  forwarder.start(ns_.netns.get());
  UniqueFd client = connect_to(forwarder.mappings()[0].host_port);
  UniqueFd server = accept_from(ns_.tcp_server.get());
  std::string up(8 << 20, '\0'), down(6 << 20, '\0');
  for (size_t i = 0; i < up.size(); ++i) up[i] = static_cast<char>(i * 7 + i / 65536);
  for (size_t i = 0; i < down.size(); ++i) down[i] = static_cast<char>(i * 13 + 1);
  // Each side writes while the other reads: a relay that stops reading one
  // way while the other is blocked would deadlock here.
  std::string got_up, got_down;
  std::thread server_side([&] {
    std::thread writer([&] {
      send_text(server.get(), down);
      ::shutdown(server.get(), SHUT_WR);
    });
    got_up = receive(server.get(), up.size() + 1);
    writer.join();
  });
  std::thread writer([&] {
    send_text(client.get(), up);
    ::shutdown(client.get(), SHUT_WR);
  });
  got_down = receive(client.get(), down.size() + 1);
  writer.join();
  server_side.join();
  EXPECT_TRUE(got_up == up) << got_up.size() << " of " << up.size() << " bytes";
  EXPECT_TRUE(got_down == down) << got_down.size() << " of " << down.size() << " bytes";
}

// Small and bulk writes in turn to a reader that stalls: the relay switches
// between copying and splicing and parks what a full socket refuses, and not
// a byte is lost or reordered.
TEST_F(PortForwarderTest, MixedSizesToAStallingReaderArriveInOrder) {
  PortForwarder forwarder = PortForwarder::bind({{"127.0.0.1", 0, kTcpPort, Protocol::tcp}});
  forwarder.start(ns_.netns.get());
  UniqueFd client = connect_to(forwarder.mappings()[0].host_port);
  UniqueFd server = accept_from(ns_.tcp_server.get());
  std::string sent;
  for (size_t i = 0; sent.size() < (6u << 20); ++i) {
    size_t size = i % 3 == 0 ? 300000 : 1 + (i * 37) % 900;
    for (size_t j = 0; j < size; ++j)
      sent.push_back(static_cast<char>(sent.size() * 31 + sent.size() / 4093));
  }
  std::thread writer([&] {
    for (size_t offset = 0; offset < sent.size();) {
      size_t size = std::min<size_t>(sent.size() - offset, offset % 2 ? 700 : 250000);
      send_text(client.get(), std::string_view(sent).substr(offset, size));
      offset += size;
    }
    ::shutdown(client.get(), SHUT_WR);
  });
  std::string got;
  while (got.size() < sent.size()) {
    std::this_thread::sleep_for(2ms);  // the relay's socket to the server fills up meanwhile
    std::string part = receive(server.get(), std::min<size_t>(sent.size() - got.size(), 1 << 20));
    if (part.empty()) break;
    got += part;
  }
  writer.join();
  EXPECT_EQ(receive(server.get(), 1), "");
  EXPECT_TRUE(got == sent) << got.size() << " of " << sent.size() << " bytes";
}

TEST_F(PortForwarderTest, ResetsTheClientWhenNothingListensInTheContainer) {
  PortForwarder forwarder = PortForwarder::bind({{"127.0.0.1", 0, kSilentPort, Protocol::tcp}});
  forwarder.start(ns_.netns.get());
  UniqueFd client = connect_to(forwarder.mappings()[0].host_port);
  EXPECT_TRUE(ended(client.get()));
}

TEST_F(PortForwarderTest, ManyConnectionsAtOnce) {
  PortForwarder forwarder = PortForwarder::bind({{"", 0, kTcpPort, Protocol::tcp}});
  forwarder.start(ns_.netns.get());
  std::vector<std::pair<UniqueFd, UniqueFd>> pairs;
  for (int i = 0; i < 50; ++i) {
    UniqueFd client = connect_to(forwarder.mappings()[0].host_port);
    pairs.emplace_back(std::move(client), accept_from(ns_.tcp_server.get()));
  }
  for (size_t i = 0; i < pairs.size(); ++i) send_text(pairs[i].first.get(), fmt::format("{:04}", i));
  for (size_t i = 0; i < pairs.size(); ++i) {
    // Accepted in order of arrival, which is the order of connect.
    EXPECT_EQ(receive(pairs[i].second.get(), 4), fmt::format("{:04}", i));
  }
}

TEST_F(PortForwarderTest, RelaysUdpPerSourceAndForgetsIdleSources) {
  PortForwarder forwarder = PortForwarder::bind({{"127.0.0.1", 0, kUdpPort, Protocol::udp}});
  forwarder.set_udp_idle_timeout(100ms);
  forwarder.start(ns_.netns.get());
  sockaddr_in host = loopback(forwarder.mappings()[0].host_port);
  UniqueFd client(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  ASSERT_EQ(::connect(client.get(), reinterpret_cast<sockaddr*>(&host), sizeof host), 0);

  auto exchange = [&](const std::string& question) {
    send_text(client.get(), question);
    pollfd p{ns_.udp_server.get(), POLLIN, 0};
    EXPECT_EQ(::poll(&p, 1, 5000), 1);
    char buffer[64];
    sockaddr_in from{};
    socklen_t size = sizeof from;
    ssize_t n =
        ::recvfrom(ns_.udp_server.get(), buffer, sizeof buffer, 0, reinterpret_cast<sockaddr*>(&from), &size);
    EXPECT_EQ(std::string(buffer, std::max<ssize_t>(n, 0)), question);
    std::string answer = "re: " + question;
    ::sendto(ns_.udp_server.get(), answer.data(), answer.size(), 0, reinterpret_cast<sockaddr*>(&from), size);
    EXPECT_EQ(receive(client.get(), answer.size()), answer);
    return ntohs(from.sin_port);
  };
  uint16_t first = exchange("one");
  EXPECT_EQ(exchange("two"), first);  // the same session
  std::this_thread::sleep_for(400ms);
  EXPECT_NE(exchange("three"), first);  // the idle session was closed; a new one
}

TEST(PortForwarder, APortInUseIsOneClearErrorAndLeavesNothingBound) {
  UniqueFd taken(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in any = loopback(0);
  ASSERT_EQ(::bind(taken.get(), reinterpret_cast<sockaddr*>(&any), sizeof any), 0);
  ASSERT_EQ(::listen(taken.get(), 1), 0);
  socklen_t size = sizeof any;
  ::getsockname(taken.get(), reinterpret_cast<sockaddr*>(&any), &size);
  uint16_t busy = ntohs(any.sin_port);

  // The first mapping binds, the second fails: the first is released again.
  PortForwarder probe = PortForwarder::bind({{"127.0.0.1", 0, 80, Protocol::tcp}});
  uint16_t free_port = probe.mappings()[0].host_port;
  probe.stop();
  try {
    PortForwarder::bind({{"127.0.0.1", free_port, 80, Protocol::tcp}, {"", busy, 80, Protocol::tcp}});
    FAIL() << "binding a port in use succeeded";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(fmt::format("port {} is in use", busy)), std::string::npos)
        << e.what();
  }
  EXPECT_NO_THROW(PortForwarder::bind({{"127.0.0.1", free_port, 80, Protocol::tcp}}));
}

TEST(PortForwarder, StopReleasesTheHostPort) {
  PortForwarder forwarder = PortForwarder::bind({{"127.0.0.1", 0, 80, Protocol::udp}});
  uint16_t port = forwarder.mappings()[0].host_port;
  EXPECT_THROW(PortForwarder::bind({{"127.0.0.1", port, 80, Protocol::udp}}), Error);
  forwarder.stop();
  forwarder.stop();
  EXPECT_NO_THROW(PortForwarder::bind({{"127.0.0.1", port, 80, Protocol::udp}}));
}

TEST(PortForwarder, RefusesAnAddressThatIsNotTheHosts) {
  try {
    PortForwarder::bind({{"192.0.2.1", 0, 80, Protocol::tcp}});
    FAIL() << "bound to an address this host does not have";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("192.0.2.1: that is not an address of this host"), std::string::npos)
        << e.what();
  }
}

// Without CAP_NET_BIND_SERVICE (as a non-root user has), a port below
// ip_unprivileged_port_start is refused with the reason.
TEST(PortForwarder, APrivilegedPortWithoutTheCapabilityIsRefused) {
  auto start = read_file_if_exists("/proc/sys/net/ipv4/ip_unprivileged_port_start");
  if (!start || std::atoi(start->c_str()) <= 81)
    GTEST_SKIP() << "LOUD: every port is unprivileged on this host";
  int report[2];
  ASSERT_EQ(::pipe(report), 0);
  pid_t pid = ::fork();
  if (pid == 0) {
    __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[2] = {};
    ::syscall(SYS_capget, &header, data);
    data[0].effective &= ~(1u << CAP_NET_BIND_SERVICE);
    ::syscall(SYS_capset, &header, data);
    std::string message = "bound";
    try {
      PortForwarder::bind({{"127.0.0.1", 81, 80, Protocol::tcp}});
    } catch (const Error& e) {
      message = e.what();
    }
    write_all(report[1], message, "pipe");
    ::_exit(0);
  }
  ::close(report[1]);
  std::string message = read_fd(report[0]);
  ::close(report[0]);
  ::waitpid(pid, nullptr, 0);
  EXPECT_NE(message.find("cannot publish port 81: ports below"), std::string::npos) << message;
}

}  // namespace
}  // namespace gocrate
