#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace gocrate {

// A set of Linux capabilities as a bit mask (bit n = capability n).
using CapabilitySet = uint64_t;

// Docker's default 14: CHOWN DAC_OVERRIDE FSETID FOWNER MKNOD NET_RAW SETGID
// SETUID SETFCAP SETPCAP NET_BIND_SERVICE SYS_CHROOT KILL AUDIT_WRITE.
CapabilitySet docker_default_capabilities();

// Every capability the running kernel knows (--privileged, --cap-add ALL).
CapabilitySet all_capabilities();

// "NET_ADMIN", "cap_net_admin", "ALL" (every capability this kernel knows).
// Throws an error naming the text for an unknown name.
CapabilitySet parse_capability(std::string_view name);
std::string capability_name(int number);  // "CAP_NET_ADMIN"
std::vector<std::string> capability_names(CapabilitySet set);

// Docker's rule: start from the default set, drop --cap-drop, add --cap-add;
// "ALL" in either list means every capability.
CapabilitySet resolve_capabilities(const std::vector<std::string>& add, const std::vector<std::string>& drop);

// The highest capability number the running kernel knows.
int last_capability();

// In the container's first process, while it is still root: drops every
// capability outside `keep` from the bounding set and clears the ambient set.
void limit_bounding_set(CapabilitySet keep);
// After the switch to the container's user: permitted and effective become
// `keep` (what is left of it for a non-root user: nothing), inheritable empty.
void set_process_capabilities(CapabilitySet keep);
// The OCI runtime's five sets: bounding via limit_bounding_set, then these
// (after the switch of user), then the ambient ones raised.
void set_capability_sets(CapabilitySet effective, CapabilitySet permitted, CapabilitySet inheritable);
void raise_ambient_capabilities(CapabilitySet ambient);

}  // namespace gocrate
