#include "gobuild/go_buildinfo.h"

#include <cstring>

#include "util/strings.h"

namespace gocrate {

namespace {

constexpr std::string_view kMagic = "\xff Go buildinf:";

bool read_varint_string(std::string_view& data, std::string& out) {
  uint64_t length = 0;
  int shift = 0;
  size_t i = 0;
  for (;; ++i) {
    if (i >= data.size() || shift > 63) return false;
    auto byte = static_cast<uint8_t>(data[i]);
    length |= uint64_t(byte & 0x7f) << shift;
    shift += 7;
    if (!(byte & 0x80)) break;
  }
  data.remove_prefix(i + 1);
  if (length > data.size()) return false;
  out = std::string(data.substr(0, length));
  data.remove_prefix(length);
  return true;
}

GoModule parse_module_line(const std::vector<std::string>& fields) {
  GoModule m;
  if (fields.size() > 1) m.path = fields[1];
  if (fields.size() > 2) m.version = fields[2];
  if (fields.size() > 3) m.sum = fields[3];
  return m;
}

}  // namespace

std::optional<GoBuildInfo> parse_go_buildinfo(std::string_view section) {
  auto start = section.find(kMagic);
  if (start == std::string_view::npos || section.size() - start < 32) return std::nullopt;
  std::string_view header = section.substr(start);
  uint8_t flags = static_cast<uint8_t>(header[15]);
  if (!(flags & 2)) return std::nullopt;  // pre-1.18 pointer format
  std::string_view data = header.substr(32);
  GoBuildInfo info;
  std::string modinfo;
  if (!read_varint_string(data, info.go_version) || !read_varint_string(data, modinfo)) return std::nullopt;
  // The module text is framed by 16-byte sentinels.
  if (modinfo.size() >= 33 && modinfo[modinfo.size() - 17] == '\n')
    modinfo = modinfo.substr(16, modinfo.size() - 32);

  for (const auto& line : split(modinfo, '\n')) {
    auto fields = split(line, '\t');
    if (fields.empty()) continue;
    const std::string& kind = fields[0];
    if (kind == "path" && fields.size() > 1) {
      info.path = fields[1];
    } else if (kind == "mod") {
      info.main = parse_module_line(fields);
    } else if (kind == "dep") {
      info.deps.push_back(parse_module_line(fields));
    } else if (kind == "=>" && !info.deps.empty()) {
      // Replaced by another module: that is the code. Replaced by a directory
      // (a vendor's or a distribution's copy): the path names no module, so
      // the required module and version stay.
      GoModule replacement = parse_module_line(fields);
      bool directory = replacement.path.starts_with("/") || replacement.path.starts_with("./") ||
                       replacement.path.starts_with("../");
      if (!directory) info.deps.back() = replacement;
    } else if (kind == "build" && fields.size() > 1) {
      auto eq = fields[1].find('=');
      if (eq != std::string::npos) info.settings[fields[1].substr(0, eq)] = fields[1].substr(eq + 1);
    }
  }
  return info;
}

}  // namespace gocrate
