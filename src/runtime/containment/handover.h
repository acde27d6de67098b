#pragma once

#include <vector>

#include "util/fs.h"

namespace gocrate {

// What the parent hands the container process with its "go", once it has
// made them while the child built its file system.
struct Handover {
  UniqueFd ipc_namespace;                // to join
  UniqueFd network_namespace;            // to join; empty: keep the current one
  std::vector<UniqueFd> cgroup_entries;  // files to write 0 into to join the cgroup
};

// Over a SOCK_SEQPACKET socket, descriptors as SCM_RIGHTS.
void send_handover(int socket, int ipc_namespace, int network_namespace,
                   const std::vector<UniqueFd>& cgroup_entries);
// Fails when the parent went away without sending.
Handover receive_handover(int socket);

}  // namespace gocrate
