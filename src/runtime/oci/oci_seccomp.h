#pragma once

#include "runtime/containment/seccomp.h"
#include "runtime/oci/spec.h"

namespace gocrate::oci {

// linux.seccomp as the filter gocrate compiles (runtime/seccomp.h). An
// action, comparison or architecture this engine cannot honour
// (SCMP_ACT_NOTIFY, a listenerPath) is an error naming the field.
SeccompProfile seccomp_profile_of(const Seccomp& seccomp);
// linux.seccomp.flags as SECCOMP_FILTER_FLAG_* bits.
unsigned seccomp_flags_of(const Seccomp& seccomp);

}  // namespace gocrate::oci
