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
// unshares mount and uts itself.
void enter_private_namespaces();
// New ipc and (with `network`) network namespaces, held by descriptors.
// A network namespace costs a third of a millisecond, so gocrate makes them
// while the container process builds its file system, and hands them over.
// Both register sysctl tables under one kernel lock: made apart, at the same
// time, they would wait for each other.
struct ContainerNamespaces {
  UniqueFd ipc;
  UniqueFd network;
};
ContainerNamespaces create_container_namespaces(bool network);
// setns(2); `type` is CLONE_NEWNET or CLONE_NEWIPC.
void join_namespace(int fd, int type);
// Entered last, once the process sits in its own cgroup.
void enter_cgroup_namespace();

void set_hostname(const std::string& hostname);
void bring_up_loopback();

}  // namespace gocrate
