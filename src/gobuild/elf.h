#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "image/platform.h"

namespace gocrate {

// What packing an executable needs to know about it.
struct ElfInfo {
  Platform platform;                // from e_machine, class and byte order
  std::string interpreter;          // PT_INTERP; empty for a static executable
  std::vector<std::string> needed;  // DT_NEEDED libraries
  std::string go_build_id;          // from .note.go.buildid; empty if not Go
  std::string_view go_buildinfo;    // the .go.buildinfo section's bytes, if any

  bool is_static() const { return interpreter.empty() && needed.empty(); }
};

// Parses an ELF executable held in memory; `what` names it in errors
// ("... is not an ELF executable", "... is a shared library").
ElfInfo inspect_elf(std::string_view data, std::string_view what);

}  // namespace gocrate
