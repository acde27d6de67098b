#pragma once

#include <optional>
#include <string>

#include "image/platform.h"

namespace gocrate {

// Whether this host runs programs of `image` natively.
bool runs_natively(const Platform& image);

// The host's user-mode emulator for `image` (qemu-aarch64-static, ...), or
// an error saying which package to install. nullopt when none is needed.
// gocrate runs it itself from a sealed memory file: no binfmt_misc entry of
// the host is used or registered.
std::optional<std::string> find_emulator(const Platform& image);

// The ELF machine of a program's first bytes as a Go architecture name
// ("arm64"), or empty when it is not an ELF file gocrate recognises.
std::string elf_architecture(std::string_view header);

}  // namespace gocrate
