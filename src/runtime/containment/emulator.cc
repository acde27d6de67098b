#include "runtime/containment/emulator.h"

#include <elf.h>

#include <cstring>

#include "util/error.h"
#include "util/process.h"

namespace gocrate {

namespace {

// qemu's name for a Go architecture.
std::string qemu_architecture(const std::string& go_arch) {
  if (go_arch == "arm64") return "aarch64";
  if (go_arch == "amd64") return "x86_64";
  if (go_arch == "386") return "i386";
  if (go_arch == "mips64le") return "mips64el";
  if (go_arch == "mipsle") return "mipsel";
  return go_arch;  // arm, ppc64le, s390x, riscv64, mips, mips64
}

}  // namespace

bool runs_natively(const Platform& image) {
  Platform host = Platform::host();
  if (image.architecture == host.architecture) return true;
  return host.architecture == "amd64" && image.architecture == "386";
}

std::optional<std::string> find_emulator(const Platform& image) {
  if (runs_natively(image)) return std::nullopt;
  std::string arch = qemu_architecture(image.architecture);
  for (const auto& name : {"qemu-" + arch + "-static", "qemu-" + arch}) {
    if (auto path = find_executable(name)) return path;
  }
  fail(
      "image is for {} but this host is {}: install qemu-user-static (it provides qemu-{}-static) to run it "
      "under "
      "emulation",
      image.str(), Platform::host().str(), arch);
}

std::string elf_architecture(std::string_view header) {
  if (header.size() < 20 || std::memcmp(header.data(), ELFMAG, SELFMAG) != 0) return {};
  uint16_t machine = 0;
  std::memcpy(&machine, header.data() + 18, 2);
  if (header[EI_DATA] == ELFDATA2MSB) machine = static_cast<uint16_t>((machine >> 8) | (machine << 8));
  switch (machine) {
    case EM_X86_64:
      return "amd64";
    case EM_AARCH64:
      return "arm64";
    case EM_ARM:
      return "arm";
    case EM_386:
      return "386";
    case EM_PPC64:
      return "ppc64le";
    case EM_S390:
      return "s390x";
    case EM_RISCV:
      return "riscv64";
    case EM_MIPS:
      return header[EI_CLASS] == ELFCLASS64 ? "mips64" : "mips";
    default:
      return fmt::format("ELF machine {}", machine);
  }
}

}  // namespace gocrate
