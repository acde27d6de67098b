#pragma once

#include <string>
#include <string_view>

namespace gocrate {

// --network: private (own namespace, loopback up; where port publishing and
// outbound access will plug in), host (the host's), none (own namespace with
// only loopback, as Docker's none).
enum class NetworkMode { private_network, host, none };

NetworkMode parse_network_mode(std::string_view text);
std::string_view network_mode_name(NetworkMode mode);

// The clone flags of a new container: mount, pid, uts, ipc and, unless the
// host's network is shared, network. The cgroup namespace is entered later,
// once the process sits in its own cgroup (enter_cgroup_namespace).
unsigned long container_clone_flags(NetworkMode network);
void enter_cgroup_namespace();

void set_hostname(const std::string& hostname);
void bring_up_loopback();

}  // namespace gocrate
