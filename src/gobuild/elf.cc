#include "gobuild/elf.h"

#include <elf.h>

#include <cstring>

#include "util/error.h"

namespace gocrate {

namespace {

class ElfView {
 public:
  ElfView(std::string_view data, std::string_view what) : data_(data), what_(what) {
    if (data.size() < EI_NIDENT || memcmp(data.data(), ELFMAG, SELFMAG) != 0) {
      fail("{} is not an ELF executable: only Linux executables can be packed", what);
    }
    wide_ = data[EI_CLASS] == ELFCLASS64;
    big_endian_ = data[EI_DATA] == ELFDATA2MSB;
    if (!wide_ && data[EI_CLASS] != ELFCLASS32) fail("{}: unknown ELF class", what);
  }

  template <typename T>
  T get(uint64_t offset) const {
    if (offset > data_.size() || data_.size() - offset < sizeof(T))
      fail("{} is truncated or not a valid ELF file", what_);
    T value;
    memcpy(&value, data_.data() + offset, sizeof(T));
    if (big_endian_) {
      T swapped = 0;
      for (size_t i = 0; i < sizeof(T); ++i) swapped = (swapped << 8) | ((value >> (8 * i)) & 0xff);
      value = swapped;
    }
    return value;
  }
  // A field that is 4 bytes in ELF32 and 8 in ELF64.
  uint64_t word(uint64_t offset) const { return wide_ ? get<uint64_t>(offset) : get<uint32_t>(offset); }
  std::string_view bytes(uint64_t offset, uint64_t size) const {
    if (offset > data_.size() || data_.size() - offset < size)
      fail("{} is truncated or not a valid ELF file", what_);
    return data_.substr(offset, size);
  }
  std::string c_string(uint64_t offset) const {
    if (offset >= data_.size()) fail("{} is not a valid ELF file", what_);
    return std::string(data_.data() + offset, strnlen(data_.data() + offset, data_.size() - offset));
  }

  bool wide_;
  bool big_endian_;
  std::string_view data_;
  std::string_view what_;
};

struct Segment {
  uint32_t type;
  uint64_t offset, vaddr, filesz;
};

struct Section {
  std::string name;
  uint32_t name_offset;
  uint32_t type;
  uint64_t offset, size;
};

Platform platform_of(const ElfView& elf, uint16_t machine, std::string_view what) {
  auto linux = [](std::string arch, std::string variant = "") {
    return Platform{"linux", std::move(arch), std::move(variant), "", {}}.normalized();
  };
  switch (machine) {
    case EM_X86_64:
      return linux("amd64");
    case EM_AARCH64:
      return linux("arm64");
    case EM_ARM:
      return linux("arm", "v7");
    case EM_386:
      return linux("386");
    case EM_PPC64:
      return linux(elf.big_endian_ ? "ppc64" : "ppc64le");
    case EM_S390:
      return linux("s390x");
    case EM_RISCV:
      return linux("riscv64");
    case EM_MIPS:
      return linux(std::string(elf.wide_ ? "mips64" : "mips") + (elf.big_endian_ ? "" : "le"));
    case 258:  // EM_LOONGARCH
      return linux("loong64");
    default:
      fail("{} is for an unsupported processor (ELF machine {})", what, machine);
  }
}

}  // namespace

ElfInfo inspect_elf(std::string_view data, std::string_view what) {
  ElfView elf(data, what);
  const bool w = elf.wide_;
  uint16_t type = elf.get<uint16_t>(16);
  uint16_t machine = elf.get<uint16_t>(18);
  if (type != ET_EXEC && type != ET_DYN) fail("{} is an ELF object file, not an executable", what);

  ElfInfo info;
  info.platform = platform_of(elf, machine, what);

  uint64_t phoff = elf.word(w ? 32 : 28);
  uint64_t shoff = elf.word(w ? 40 : 32);
  uint16_t phentsize = elf.get<uint16_t>(w ? 54 : 42);
  uint16_t phnum = elf.get<uint16_t>(w ? 56 : 44);
  uint16_t shentsize = elf.get<uint16_t>(w ? 58 : 46);
  uint16_t shnum = elf.get<uint16_t>(w ? 60 : 48);
  uint16_t shstrndx = elf.get<uint16_t>(w ? 62 : 50);

  std::vector<Segment> segments;
  for (uint16_t i = 0; i < phnum; ++i) {
    uint64_t at = phoff + uint64_t(i) * phentsize;
    Segment s;
    s.type = elf.get<uint32_t>(at);
    s.offset = w ? elf.get<uint64_t>(at + 8) : elf.get<uint32_t>(at + 4);
    s.vaddr = w ? elf.get<uint64_t>(at + 16) : elf.get<uint32_t>(at + 8);
    s.filesz = w ? elf.get<uint64_t>(at + 32) : elf.get<uint32_t>(at + 16);
    segments.push_back(s);
  }

  std::vector<Section> sections;
  for (uint16_t i = 0; i < shnum; ++i) {
    uint64_t at = shoff + uint64_t(i) * shentsize;
    Section s;
    s.type = elf.get<uint32_t>(at + 4);
    s.offset = w ? elf.get<uint64_t>(at + 24) : elf.get<uint32_t>(at + 16);
    s.size = w ? elf.get<uint64_t>(at + 32) : elf.get<uint32_t>(at + 20);
    s.name_offset = elf.get<uint32_t>(at);
    sections.push_back(s);
  }
  if (shstrndx < sections.size()) {
    uint64_t strtab = sections[shstrndx].offset;
    for (auto& s : sections) s.name = elf.c_string(strtab + s.name_offset);
  }

  // The string table of the dynamic segment is addressed by virtual address.
  auto file_offset_of = [&](uint64_t vaddr) -> std::optional<uint64_t> {
    for (const auto& s : segments) {
      if (s.type == PT_LOAD && vaddr >= s.vaddr && vaddr < s.vaddr + s.filesz)
        return vaddr - s.vaddr + s.offset;
    }
    return std::nullopt;
  };

  for (const auto& s : segments) {
    if (s.type == PT_INTERP) {
      info.interpreter = std::string(elf.bytes(s.offset, s.filesz));
      info.interpreter.resize(strnlen(info.interpreter.data(), info.interpreter.size()));
    } else if (s.type == PT_DYNAMIC) {
      std::vector<uint64_t> needed_offsets;
      uint64_t strtab = 0;
      size_t entry = w ? 16 : 8;
      for (uint64_t at = s.offset; at + entry <= s.offset + s.filesz; at += entry) {
        int64_t tag = static_cast<int64_t>(elf.word(at));
        uint64_t value = elf.word(at + entry / 2);
        if (tag == DT_NULL) break;
        if (tag == DT_NEEDED) needed_offsets.push_back(value);
        if (tag == DT_STRTAB) strtab = value;
      }
      if (!needed_offsets.empty()) {
        auto table = file_offset_of(strtab);
        for (uint64_t offset : needed_offsets) {
          info.needed.push_back(table ? elf.c_string(*table + offset) : "a shared library");
        }
      }
    }
  }

  for (const auto& s : sections) {
    if (s.name == ".note.go.buildid" && s.size >= 16) {
      uint32_t namesz = elf.get<uint32_t>(s.offset);
      uint32_t descsz = elf.get<uint32_t>(s.offset + 4);
      uint64_t desc = s.offset + 12 + ((namesz + 3) & ~3u);
      info.go_build_id = std::string(elf.bytes(desc, descsz));
    } else if (s.name == ".go.buildinfo" && s.type != SHT_NOBITS) {
      info.go_buildinfo = elf.bytes(s.offset, s.size);
    }
  }
  return info;
}

}  // namespace gocrate
