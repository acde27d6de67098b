#pragma once

#include <string>
#include <string_view>

#include "util/fs.h"

namespace gocrate {

// An executable in a memory file that can no longer be changed (sealed
// against writes, growth and shrinking), to be run with execveat. A
// container that reaches it through /proc/<pid>/exe cannot overwrite anything
// of the host: the CVE-2019-5736 defence.
UniqueFd sealed_program(std::string_view name, std::string_view content);
// The same, copied from a host file (an emulator).
UniqueFd sealed_program_from_file(std::string_view name, const std::string& path);

// The container init program gocrate embeds (`run --init`).
UniqueFd init_program();

}  // namespace gocrate
