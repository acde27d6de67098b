#pragma once

#include <string>
#include <vector>

#include "runtime/container.h"
#include "runtime/containment/seccomp.h"
#include "runtime/oci/spec.h"

// The config.json that describes what `gocrate run` does for a ContainerSpec:
// the containment sequence of runtime/container.cc written as the OCI
// runtime-spec states it, so that another runtime (runc) given the same
// bundle builds the same container, and the two views can be compared.
namespace gocrate::oci {

struct SpecSource {
  // The container's root, open as a directory: the image's /etc/passwd and
  // /etc/group are read there, as run reads them once it is inside.
  int root_fd = -1;
  // Where /etc/hosts, /etc/hostname and /etc/resolv.conf are bound from: a
  // directory relative to the bundle (write_etc_files writes it).
  std::string etc_dir = "etc";
  bool terminal = false;  // -t
};

// A spec whose ids are filled in (id, name, hostname: Container::start's
// defaults) and whose named volumes have their source. What has no
// config.json form (--init's sealed init, an emulator for another
// architecture, published ports) is an error naming the flag.
Spec oci_spec_of(const ContainerSpec& spec, const SpecSource& source);

// The /etc files the container gets (runtime/etc_files.h), as run makes them.
std::vector<EtcFile> container_etc_files(const ContainerSpec& spec);

// gocrate's seccomp profile as config.json's linux.seccomp.
Seccomp oci_seccomp_of(const SeccompProfile& profile);

}  // namespace gocrate::oci
