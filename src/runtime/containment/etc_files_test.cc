#include "runtime/containment/etc_files.h"

#include <gtest/gtest.h>

#include "runtime/containment/mounts.h"
#include "util/error.h"
#include "util/error_for_tests.h"

namespace gocrate {
namespace {

std::string file_named(const std::vector<EtcFile>& files, std::string_view name) {
  for (const auto& f : files) {
    if (f.name == name) return f.content;
  }
  return "<missing>";
}

// Expects `action` to throw an Error whose message holds each of `parts`.
void expect_error(const std::function<void()>& action, std::initializer_list<std::string_view> parts) {
  std::string message = error_of(action);
  EXPECT_FALSE(message.empty()) << "no error";
  for (auto part : parts) EXPECT_NE(message.find(part), std::string::npos) << message;
}

bool has_file(const std::vector<EtcFile>& files, std::string_view name) {
  return file_named(files, name) != "<missing>";
}

TEST(EtcFiles, HostsHasLocalhostTheExtraHostsAndTheContainersName) {
  EtcFilesInput in;
  in.hostname = "web";
  in.extra_hosts = {parse_host_entry("db:10.0.0.2"), parse_host_entry("v6=[2001:db8::0:1]")};
  auto files = make_etc_files(in);
  std::string hosts = file_named(files, "hosts");
  EXPECT_TRUE(hosts.starts_with("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"))
      << hosts;
  EXPECT_NE(hosts.find("\n10.0.0.2\tdb\n2001:db8::1\tv6\n"), std::string::npos) << hosts;
  EXPECT_TRUE(hosts.ends_with("\n10.0.2.100\tweb\n")) << hosts;
  EXPECT_EQ(file_named(files, "hostname"), "web\n");
}

TEST(EtcFiles, DomainnameMakesTheFullName) {
  EtcFilesInput in;
  in.hostname = "web";
  in.domainname = "example.org";
  in.network = NetworkMode::none;
  std::string hosts = file_named(make_etc_files(in), "hosts");
  EXPECT_TRUE(hosts.ends_with("\n127.0.1.1\tweb.example.org web\n")) << hosts;
}

TEST(EtcFiles, HostGatewayIsTheHostAsTheContainerReachesIt) {
  EtcFilesInput in;
  in.hostname = "h";
  in.extra_hosts = {parse_host_entry("gw:host-gateway")};
  EXPECT_NE(file_named(make_etc_files(in), "hosts").find("10.0.2.2\tgw\n"), std::string::npos);
  in.network = NetworkMode::host;
  in.host_hosts = "127.0.0.1 localhost\n10.1.1.1 nas";
  std::string hosts = file_named(make_etc_files(in), "hosts");
  EXPECT_EQ(hosts, "127.0.0.1 localhost\n10.1.1.1 nas\n127.0.0.1\tgw\n127.0.1.1\th\n");
  in.network = NetworkMode::none;
  expect_error([&] { make_etc_files(in); }, {"gw:host-gateway", "--network none"});
}

TEST(EtcFiles, ResolvConfFollowsTheNetworkAndTheHostsSearchDomains) {
  EtcFilesInput in;
  in.hostname = "h";
  in.host_resolv =
      "# comment\nnameserver 127.0.0.53\nsearch corp.example lab.example\noptions edns0 trust-ad\n";
  EXPECT_EQ(file_named(make_etc_files(in), "resolv.conf"),
            "search corp.example lab.example\nnameserver 10.0.2.3\noptions edns0 trust-ad\n");
  in.network = NetworkMode::host;
  EXPECT_EQ(file_named(make_etc_files(in), "resolv.conf"), *in.host_resolv);
  in.network = NetworkMode::none;
  EXPECT_FALSE(has_file(make_etc_files(in), "resolv.conf"));
  in.network = NetworkMode::private_network;
  in.host_resolv = "nameserver 10.255.255.53\n";
  EXPECT_EQ(file_named(make_etc_files(in), "resolv.conf"), "nameserver 10.0.2.3\n");
  in.host_resolv.reset();
  EXPECT_EQ(file_named(make_etc_files(in), "resolv.conf"), "nameserver 10.0.2.3\n");
}

TEST(EtcFiles, DnsFlagsReplaceEachTheirOwnPart) {
  EtcFilesInput in;
  in.hostname = "h";
  in.host_resolv = "nameserver 192.0.2.1\nsearch corp.example\noptions rotate\n";
  in.dns = parse_dns_settings({"1.1.1.1", "2606:4700:4700::1111"}, {}, {});
  EXPECT_EQ(file_named(make_etc_files(in), "resolv.conf"),
            "search corp.example\nnameserver 1.1.1.1\nnameserver 2606:4700:4700::1111\noptions rotate\n");
  in.dns = parse_dns_settings({}, {"a.example", "b.example."}, {"ndots:2", "edns0"});
  EXPECT_EQ(file_named(make_etc_files(in), "resolv.conf"),
            "search a.example b.example\nnameserver 10.0.2.3\noptions ndots:2 edns0\n");
  in.dns = parse_dns_settings({}, {"."}, {});
  EXPECT_EQ(file_named(make_etc_files(in), "resolv.conf"), "nameserver 10.0.2.3\noptions rotate\n");
  // With the host's network the host's servers stay unless --dns replaces them.
  in.network = NetworkMode::host;
  in.dns = parse_dns_settings({}, {"x.example"}, {});
  EXPECT_EQ(file_named(make_etc_files(in), "resolv.conf"),
            "search x.example\nnameserver 192.0.2.1\noptions rotate\n");
  // Without a network, only what the flags give.
  in.network = NetworkMode::none;
  in.dns = parse_dns_settings({"10.0.0.53"}, {}, {});
  EXPECT_EQ(file_named(make_etc_files(in), "resolv.conf"),
            "search corp.example\nnameserver 10.0.0.53\noptions rotate\n");
}

// Every value ends up in a file the container's resolver parses: nothing may
// add a line, a comment or a second entry.
TEST(EtcFiles, RefusesValuesThatWouldInjectLines) {
  for (auto bad : {"db", ":10.0.0.1", "db:", "db:10.0.0", "db:10.0.0.1\n1.2.3.4 bank", "d b:10.0.0.1",
                   "db#x:10.0.0.1", "db\n1.1.1.1 bank:10.0.0.1", "-db:10.0.0.1", "db:10.0.0.1 evil",
                   "db:host-gateway2", "db:[10.0.0.1"}) {
    expect_error([&] { parse_host_entry(bad); }, {"--add-host"});
  }
  for (auto bad : {"", "1.2.3", "1.1.1.1\nnameserver 6.6.6.6", "example.com", "1.1.1.1 "}) {
    expect_error([&] { parse_dns_settings({bad}, {}, {}); }, {"--dns"});
  }
  for (auto bad : {"", "a b", "a\nnameserver 6.6.6.6", "-x.example", "x..example", "x_y.example"}) {
    expect_error([&] { parse_dns_settings({}, {bad}, {}); }, {"--dns-search"});
  }
  expect_error([&] { parse_dns_settings({}, {".", "a.example"}, {}); }, {"--dns-search", "alone"});
  for (auto bad : {"", "ndots:2 rotate", "ndots:2\nnameserver 6.6.6.6", "#x"}) {
    expect_error([&] { parse_dns_settings({}, {}, {bad}); }, {"--dns-option"});
  }
}

TEST(EtcFiles, HostNamesAreRfc1123) {
  for (const std::string& good :
       std::vector<std::string>{"a", "web-1", "web.example.org", "A1", std::string(63, 'x')}) {
    EXPECT_NO_THROW(check_host_name(good, "--hostname")) << good;
  }
  for (const std::string& bad : std::vector<std::string>{"", "-web", "web-", "we_b", "web..x", "web\nx",
                                                         "web x", "web.", std::string(65, 'x')}) {
    expect_error([&] { check_host_name(bad, "--hostname"); }, {"--hostname"});
  }
}

// --shm-size, beside the files: what /dev/shm is sized by.
TEST(ShmSize, ReadsDockersUnitsAndRefusesZeroAndGarbage) {
  EXPECT_EQ(parse_shm_size("64m"), uint64_t{64} << 20);
  EXPECT_EQ(parse_shm_size("1g"), uint64_t{1} << 30);
  EXPECT_EQ(parse_shm_size("2MiB"), uint64_t{2} << 20);
  EXPECT_EQ(parse_shm_size("512kb"), uint64_t{512} << 10);
  EXPECT_EQ(parse_shm_size("67108864"), uint64_t{64} << 20);
  for (auto bad : {"", "0", "0m", "-1", "abc", "10x", "1.5g", "mib", "64 m", "99999999999999999999"}) {
    EXPECT_FALSE(parse_shm_size(bad).has_value()) << bad;
  }
}

}  // namespace
}  // namespace gocrate
