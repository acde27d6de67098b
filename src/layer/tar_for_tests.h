#pragma once

// For tests only: small tar archives made in memory.

#include <string>
#include <utility>
#include <vector>

#include "layer/tar.h"

namespace gocrate {

// A whole archive (with its end blocks) of regular files, mode 0755.
inline std::string tar_of(const std::vector<std::pair<std::string, std::string>>& files) {
  std::string out;
  TarWriter writer([&](std::string_view data) { out.append(data); });
  for (const auto& [path, content] : files) {
    TarHeader header;
    header.path = path;
    header.size = static_cast<int64_t>(content.size());
    header.mode = 0755;
    writer.add(header, content);
  }
  writer.finish();
  return out;
}

inline std::string tar_of(const std::string& name, const std::string& content) {
  return tar_of({{name, content}});
}

}  // namespace gocrate
