#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "runtime/oci/spec.h"

namespace gocrate::oci {

// Runs each hook in order, the container's state JSON on its stdin, killed
// after its timeout. The first that cannot run, exits non-zero or times out
// is an error naming the kind ("createRuntime hook /usr/bin/x exited 3").
void run_hooks(const std::vector<Hook>& hooks, std::string_view kind, const std::string& state_json);
// As run_hooks, but a failing hook is reported on stderr and the rest still
// run (poststart, poststop: the spec asks for a warning).
void run_hooks_warning(const std::vector<Hook>& hooks, std::string_view kind, const std::string& state_json);

}  // namespace gocrate::oci
