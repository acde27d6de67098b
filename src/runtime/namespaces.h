#pragma once

#include <string>
#include <string_view>

#include "util/fs.h"

namespace gocrate {

// --network: private (own namespace, loopback up; where port publishing and
// outbound access will plug in), host (the host's), none (own namespace with
// only loopback, as Docker's none).
enum class NetworkMode { private_network, host, none };

NetworkMode parse_network_mode(std::string_view text);
std::string_view network_mode_name(NetworkMode mode);

// The container process is cloned into a new pid namespace and then
// unshares mount, uts and ipc itself.
void enter_private_namespaces();
// A new network namespace, held by the returned descriptor. Creating one
// costs a third of a millisecond, so gocrate makes it while the container
// process builds its file system, and hands it over (join_network_namespace).
UniqueFd create_network_namespace();
void join_network_namespace(int fd);
// Entered last, once the process sits in its own cgroup.
void enter_cgroup_namespace();

void set_hostname(const std::string& hostname);
void bring_up_loopback();

}  // namespace gocrate
