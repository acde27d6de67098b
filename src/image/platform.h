#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gocrate {

// An OCI platform: os/architecture[/variant]. Values are kept normalised
// (arm64 is arm64/v8, arm is arm/v7 unless said otherwise, amd64's v1 and
// 386 carry no variant) so that equal platforms compare equal.
struct Platform {
  std::string os;
  std::string architecture;
  std::string variant;
  std::string os_version;
  std::vector<std::string> os_features;

  // "linux/arm/v7", "linux/arm64", "arm64" (os defaults to linux). Accepts the
  // aliases uname and Debian use (x86_64, aarch64, armhf, ...). Throws Error
  // naming the text and listing the supported platforms.
  static Platform parse(std::string_view text);
  static Platform host();
  // The same platform with aliases resolved and default variants made explicit.
  Platform normalized() const;

  std::string str() const;  // "linux/arm/v7"
  bool operator==(const Platform& other) const;

  // Whether an image built for `this` can run where `wanted` is asked for:
  // the same os and architecture, and a variant the wanted one can execute
  // (arm/v7 runs v6 and v5 code, amd64/v3 runs v2 and v1 code).
  bool runs_on(const Platform& wanted) const;

  // Environment for `go build`: GOOS, GOARCH and GOARM or GOAMD64.
  std::map<std::string, std::string> go_environment() const;
};

// The linux platforms Go can build for, and the default set `--platform all`
// means when the base image (scratch) does not list its own.
const std::vector<Platform>& go_platforms();
const std::vector<Platform>& default_all_platforms();
bool is_go_platform(const Platform& platform);
std::string supported_platforms_text();

// Picks the entry of `available` that best serves `wanted`: an exact match,
// else the highest compatible variant. nullopt when none can run.
std::optional<size_t> best_platform_match(const std::vector<Platform>& available, const Platform& wanted);

}  // namespace gocrate
