#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace gocrate {

// --sysctl KEY=VALUE: only the namespaced ones Docker allows (net.*,
// fs.mqueue.*, kernel.msgmax, kernel.msgmnb, kernel.msgmni, kernel.sem,
// kernel.shmall, kernel.shmmax, kernel.shmmni, kernel.shm_rmid_forced), which
// change the container's own namespaces, never the host's.
struct Sysctl {
  std::string key;  // dotted: net.ipv4.ip_forward
  std::string value;

  std::string str() const { return key + "=" + value; }
};

Sysctl parse_sysctl(std::string_view text);
// Refuses net.* with the host's network and the ipc ones with the host's
// ipc namespace: there they would change the host.
void check_sysctls(const std::vector<Sysctl>& sysctls, bool host_network, bool host_ipc);
// Writes each to /proc/sys inside `root_fd`: in the container process, once
// it has joined its namespaces and before /proc/sys is made read-only.
void apply_sysctls(int root_fd, const std::vector<Sysctl>& sysctls);

}  // namespace gocrate
