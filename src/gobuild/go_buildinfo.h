#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gocrate {

struct GoModule {
  std::string path;
  std::string version;
  std::string sum;  // "h1:..." go.sum hash, may be empty
};

// What `go version -m` shows: the toolchain, main package and module, the
// dependencies and the build settings (GOOS, GOARCH, vcs.revision, ...).
struct GoBuildInfo {
  std::string go_version;  // "go1.19.8"
  std::string path;        // main package import path
  GoModule main;
  std::vector<GoModule> deps;
  std::map<std::string, std::string> settings;
};

// Reads the build information the Go linker embeds (the .go.buildinfo
// section, Go 1.18 and later). nullopt when the section holds none.
std::optional<GoBuildInfo> parse_go_buildinfo(std::string_view section);

}  // namespace gocrate
