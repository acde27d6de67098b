#include "runtime/network/port_mapping.h"

#include <arpa/inet.h>

#include <algorithm>
#include <optional>

#include "util/error.h"
#include "util/strings.h"

namespace gocrate {

namespace {

constexpr std::string_view kSyntax = "use [HOST_IP:]HOST_PORT:CONTAINER_PORT[/tcp|udp] with ports 1-65535";

struct PortRange {
  uint16_t first = 0;
  uint16_t last = 0;
  size_t size() const { return last - first + 1u; }
};

[[noreturn]] void fail_flag(std::string_view flag, std::string_view why) {
  fail("invalid -p \"{}\": {}; {}", flag, why, kSyntax);
}

PortRange parse_port_range(std::string_view flag, std::string_view text, std::string_view what) {
  auto dash = text.find('-');
  int64_t first = 0, last = 0;
  bool ok = parse_int(text.substr(0, dash), 1, 65535, first);
  if (dash == std::string_view::npos) {
    last = first;
  } else {
    ok = ok && parse_int(text.substr(dash + 1), 1, 65535, last) && first <= last;
  }
  if (!ok) fail_flag(flag, fmt::format("\"{}\" is not a {}", text, what));
  return {static_cast<uint16_t>(first), static_cast<uint16_t>(last)};
}

Protocol parse_protocol(std::string_view flag, std::string_view text) {
  if (text == "tcp") return Protocol::tcp;
  if (text == "udp") return Protocol::udp;
  fail_flag(flag, fmt::format("unknown protocol \"{}\"", text));
}

// "[::1]:rest" or "1.2.3.4:rest": the address, and what follows it. Only
// called when the text has three parts.
std::string parse_host_ip(std::string_view flag, std::string_view text) {
  std::string ip(text);
  if (ip.starts_with('[') && ip.ends_with(']')) ip = ip.substr(1, ip.size() - 2);
  unsigned char buffer[16];
  bool v6 = ip.find(':') != std::string::npos;
  if (::inet_pton(v6 ? AF_INET6 : AF_INET, ip.c_str(), buffer) != 1) {
    fail_flag(flag, fmt::format("\"{}\" is not an IP address", text));
  }
  return ip;
}

// HOST_IP, HOST_PORT and CONTAINER_PORT parts; an IPv6 address in brackets
// holds colons of its own.
std::vector<std::string> split_parts(std::string_view flag, std::string_view spec) {
  if (spec.starts_with('[')) {
    auto close = spec.find(']');
    if (close == std::string_view::npos || close + 1 >= spec.size() || spec[close + 1] != ':') {
      fail_flag(flag, "an IPv6 address in brackets must be followed by :HOST_PORT:CONTAINER_PORT");
    }
    std::vector<std::string> parts = split(spec.substr(close + 2), ':');
    parts.insert(parts.begin(), std::string(spec.substr(0, close + 1)));
    return parts;
  }
  return split(spec, ':');
}

std::vector<PortMapping> parse_one(const std::string& flag) {
  std::string_view spec = flag;
  Protocol protocol = Protocol::tcp;
  if (auto slash = spec.rfind('/'); slash != std::string_view::npos) {
    protocol = parse_protocol(flag, spec.substr(slash + 1));
    spec = spec.substr(0, slash);
  }
  std::vector<std::string> parts = split_parts(flag, spec);
  if (parts.empty() || parts.size() > 3) fail_flag(flag, "too many ':'");
  std::string host_ip = parts.size() == 3 ? parse_host_ip(flag, parts[0]) : "";
  PortRange container = parse_port_range(flag, parts.back(), "container port");
  std::optional<PortRange> host;
  if (parts.size() >= 2 && !parts[parts.size() - 2].empty()) {
    host = parse_port_range(flag, parts[parts.size() - 2], "host port");
  } else if (parts.size() == 2) {
    fail_flag(flag, "the host port is empty");
  }
  if (host && host->size() != container.size()) {
    fail_flag(flag, "the host and container port ranges differ in length");
  }
  if (!host && container.size() != 1) fail_flag(flag, "a container port range needs a host port range");
  std::vector<PortMapping> out;
  for (size_t i = 0; i < container.size(); ++i) {
    uint16_t host_port = host ? static_cast<uint16_t>(host->first + i) : 0;
    out.push_back({host_ip, host_port, static_cast<uint16_t>(container.first + i), protocol});
  }
  return out;
}

bool same_host_port(const PortMapping& a, const PortMapping& b) {
  bool ips_overlap = a.host_ip.empty() || b.host_ip.empty() || a.host_ip == b.host_ip;
  return a.host_port != 0 && a.host_port == b.host_port && a.protocol == b.protocol && ips_overlap;
}

}  // namespace

std::string_view protocol_name(Protocol protocol) {
  return protocol == Protocol::udp ? "udp" : "tcp";
}

std::vector<PortMapping> parse_port_mappings(const std::vector<std::string>& flags) {
  std::vector<PortMapping> mappings;
  for (const auto& flag : flags) {
    for (auto& mapping : parse_one(flag)) {
      auto clash = std::find_if(mappings.begin(), mappings.end(),
                                [&](const PortMapping& other) { return same_host_port(mapping, other); });
      if (clash != mappings.end()) {
        fail("invalid -p \"{}\": host port {}/{} is already published by another -p", flag, mapping.host_port,
             protocol_name(mapping.protocol));
      }
      mappings.push_back(std::move(mapping));
    }
  }
  return mappings;
}

std::vector<std::string> parse_exposed_ports(const std::vector<std::string>& flags) {
  std::vector<std::string> ports;
  for (const auto& flag : flags) {
    std::string_view text = flag;
    std::string_view protocol = "tcp";
    if (auto slash = text.rfind('/'); slash != std::string_view::npos) {
      protocol = text.substr(slash + 1);
      text = text.substr(0, slash);
    }
    auto dash = text.find('-');
    int64_t first = 0, last = 0;
    bool ok = parse_int(text.substr(0, dash), 1, 65535, first);
    last = first;
    if (dash != std::string_view::npos)
      ok = ok && parse_int(text.substr(dash + 1), 1, 65535, last) && first <= last;
    if (!ok || (protocol != "tcp" && protocol != "udp" && protocol != "sctp")) {
      fail(
          "invalid --expose \"{}\": use PORT[/PROTOCOL] or FIRST-LAST[/PROTOCOL] with ports 1-65535 and "
          "tcp, udp or sctp",
          flag);
    }
    for (int64_t port = first; port <= last; ++port) {
      std::string entry = fmt::format("{}/{}", port, protocol);
      if (std::find(ports.begin(), ports.end(), entry) == ports.end()) ports.push_back(std::move(entry));
    }
  }
  return ports;
}

std::vector<PortMapping> publish_all_ports(const std::vector<std::string>& exposed,
                                           const std::vector<PortMapping>& published) {
  // Each is a listening socket of gocrate's own: beyond this, -P is refused
  // rather than run out of descriptors half-way.
  constexpr size_t kMaximumPorts = 1024;
  std::vector<PortMapping> out;
  for (const auto& entry : exposed) {
    std::string_view text = entry;
    auto slash = text.find('/');
    std::string_view protocol = slash == std::string_view::npos ? "tcp" : text.substr(slash + 1);
    int64_t port = 0;
    if (!parse_int(text.substr(0, slash), 1, 65535, port) || (protocol != "tcp" && protocol != "udp")) {
      fail(
          "-P cannot publish exposed port \"{}\": gocrate publishes PORT/tcp and PORT/udp; drop -P and "
          "publish the ports you need with -p",
          entry);
    }
    PortMapping m{"", 0, static_cast<uint16_t>(port), protocol == "udp" ? Protocol::udp : Protocol::tcp};
    auto same = [&m](const PortMapping& p) {
      return p.container_port == m.container_port && p.protocol == m.protocol;
    };
    if (std::any_of(published.begin(), published.end(), same) || std::any_of(out.begin(), out.end(), same))
      continue;
    out.push_back(std::move(m));
  }
  if (out.size() + published.size() > kMaximumPorts) {
    fail("-P would publish {} ports: gocrate publishes at most {}; publish the ports you need with -p",
         out.size() + published.size(), kMaximumPorts);
  }
  return out;
}

std::string port_mapping_text(const PortMapping& m) {
  std::string ip = m.host_ip.empty() ? "0.0.0.0" : m.host_ip;
  if (ip.find(':') != std::string::npos) ip = "[" + ip + "]";
  return fmt::format("{}:{}->{}/{}", ip, m.host_port, m.container_port, protocol_name(m.protocol));
}

PortMapping parse_port_mapping_text(std::string_view text) {
  auto arrow = text.find("->");
  auto slash = text.rfind('/');
  auto colon = text.substr(0, arrow).rfind(':');
  int64_t host_port = 0, container_port = 0;
  if (arrow == std::string_view::npos || slash == std::string_view::npos || slash < arrow ||
      colon == std::string_view::npos ||
      !parse_int(text.substr(colon + 1, arrow - colon - 1), 0, 65535, host_port) ||
      !parse_int(text.substr(arrow + 2, slash - arrow - 2), 1, 65535, container_port)) {
    fail("invalid published port \"{}\" in a container's state: expected HOST_IP:PORT->PORT/PROTOCOL", text);
  }
  PortMapping m;
  m.host_ip = std::string(text.substr(0, colon));
  if (m.host_ip.starts_with('[')) m.host_ip = m.host_ip.substr(1, m.host_ip.size() - 2);
  if (m.host_ip == "0.0.0.0") m.host_ip.clear();
  m.host_port = static_cast<uint16_t>(host_port);
  m.container_port = static_cast<uint16_t>(container_port);
  m.protocol = text.substr(slash + 1) == "udp" ? Protocol::udp : Protocol::tcp;
  return m;
}

}  // namespace gocrate
