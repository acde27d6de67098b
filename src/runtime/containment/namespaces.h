#pragma once

#include <string>
#include <string_view>

#include "runtime/network/outbound_network.h"
#include "util/fs.h"

namespace gocrate {

// --network: private (own namespace, loopback up, published ports through a
// PortForwarder, outbound connections through slirp4netns), host (the
// host's), none (own namespace with only loopback, as Docker's none).
enum class NetworkMode { private_network, host, none };

NetworkMode parse_network_mode(std::string_view text);
std::string_view network_mode_name(NetworkMode mode);

// --ipc: private (Docker's default) and shareable give the container its
// own ipc namespace (nothing can join another container's, so they are the
// same), none its own without /dev/shm, host the host's with its /dev/shm.
enum class IpcMode { private_ipc, shareable, none, host };
IpcMode parse_ipc_mode(std::string_view text);
std::string_view ipc_mode_name(IpcMode mode);

// --pid and --uts: "" or private (the container's own namespace) is false,
// host true; container:NAME is refused with the reason.
bool parse_host_namespace(std::string_view flag, std::string_view text);
// This host's hostname (what a container with --uts host has).
std::string host_hostname();

// The container process is cloned into a new pid namespace (unless it
// shares the host's, --pid host) and then unshares mount and uts (unless it
// shares the host's, --uts host) itself.
void enter_private_namespaces(bool uts = true);
// New ipc and (with `network`) network namespaces, held by descriptors.
// A network namespace costs a third of a millisecond, so gocrate makes them
// while the container process builds its file system, and hands them over.
// Both register sysctl tables under one kernel lock: made apart, at the same
// time, they would wait for each other.
// With `outbound`, the network namespace also gets the tap device of
// outbound connections (runtime/network/outbound_network.h).
struct ContainerNamespaces {
  UniqueFd ipc;
  UniqueFd network;
  UniqueFd outbound_tap;
};
// Without `ipc`, no ipc namespace (--ipc host).
ContainerNamespaces create_container_namespaces(bool network, bool outbound = false, bool ipc = true);
// setns(2); `type` is CLONE_NEWNET or CLONE_NEWIPC.
void join_namespace(int fd, int type);
// Entered last, once the process sits in its own cgroup.
void enter_cgroup_namespace();

void set_hostname(const std::string& hostname);
void bring_up_loopback();

}  // namespace gocrate
