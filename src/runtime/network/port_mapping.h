#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace gocrate {

enum class Protocol { tcp, udp };

std::string_view protocol_name(Protocol protocol);

// One published port (-p): connections to host_ip:host_port on the host reach
// 127.0.0.1:container_port inside the container's network namespace.
struct PortMapping {
  std::string host_ip;     // empty: every address of the host
  uint16_t host_port = 0;  // 0: a free port the kernel picks (-p CONTAINER_PORT)
  uint16_t container_port = 0;
  Protocol protocol = Protocol::tcp;

  bool operator==(const PortMapping&) const = default;
};

// Docker's -p syntax: [HOST_IP:]HOST_PORT:CONTAINER_PORT[/tcp|udp], also
// HOST_IP::CONTAINER_PORT and CONTAINER_PORT alone (a free host port), and
// ranges (8000-8002:9000-9002) expanded to one mapping per port. An IPv6
// host address goes in brackets. Throws an Error naming the flag's value and
// the expected syntax.
std::vector<PortMapping> parse_port_mappings(const std::vector<std::string>& flags);

// Docker's --expose: PORT[/PROTOCOL] or FIRST-LAST[/PROTOCOL] (tcp, udp or
// sctp), one "80/tcp" per port, in order and without repeats. Throws an
// Error naming the value.
std::vector<std::string> parse_exposed_ports(const std::vector<std::string>& flags);

// -P: a mapping to a free host port (on every address) for each of
// `exposed` ("80/tcp", as an image's ExposedPorts or parse_exposed_ports
// give them) that no mapping in `published` already publishes, as Docker
// does. An entry that is not PORT/tcp or PORT/udp is an error naming it.
std::vector<PortMapping> publish_all_ports(const std::vector<std::string>& exposed,
                                           const std::vector<PortMapping>& published);

// "127.0.0.1:8080->80/tcp" as Docker's `ps` shows it; every address shows as 0.0.0.0.
std::string port_mapping_text(const PortMapping& mapping);
// The inverse, for state files.
PortMapping parse_port_mapping_text(std::string_view text);

}  // namespace gocrate
