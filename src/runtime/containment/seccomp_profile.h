#pragma once

#include <string>
#include <string_view>

#include "runtime/containment/capabilities.h"
#include "runtime/containment/seccomp.h"

namespace gocrate {

// Docker's seccomp profile format (moby/profiles/seccomp; what `docker run
// --security-opt seccomp=FILE` reads): defaultAction and defaultErrnoRet,
// architectures or archMap, and syscalls[] with names (or name), action,
// errnoRet, args and includes/excludes conditions on the container's
// capabilities, the host's architecture and its kernel version.

// What a profile's conditions are decided by.
struct SeccompConditions {
  CapabilitySet capabilities = 0;  // the container's bounding set
  std::string architecture;        // the host's, as Go names it ("amd64")
  int kernel_major = 0;            // 0: the running kernel's
  int kernel_minor = 0;
};

// The filter a Docker profile gives a container, resolved as Docker resolves
// it when it starts one: sections whose conditions fail are left out, and
// names this architecture has no system call for are skipped when compiled.
// Anything Docker refuses, and what gocrate cannot apply (SCMP_ACT_NOTIFY,
// flags), fails with one line naming `what` and the field.
SeccompProfile parse_docker_seccomp_profile(std::string_view text, std::string_view what,
                                            const SeccompConditions& conditions);

// --security-opt seccomp=PATH: the file, read by the client as Docker's
// reads it, checked against this host and `capabilities`, and returned as
// compact JSON to be kept in the container's spec. Only a regular file of at
// most 1 MiB is read; anything else (a FIFO, a device, a directory) is
// refused without being opened for reading.
std::string read_docker_seccomp_profile(const std::string& path, CapabilitySet capabilities);

// The filter of a container: gocrate's Docker default (docker_default_profile)
// when `docker_profile` is empty, else that Docker profile (JSON text),
// applied as given.
SeccompProfile container_seccomp_profile(std::string_view docker_profile, CapabilitySet capabilities,
                                         std::string_view host_architecture,
                                         std::string_view image_architecture);

}  // namespace gocrate
