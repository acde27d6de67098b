#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "gobuild/git_info.h"
#include "gobuild/go_buildinfo.h"

namespace gocrate {

// What a build knows about how it made an executable.
struct ProvenanceInputs {
  std::string builder_version;  // GOCRATE_VERSION
  std::string package;          // "./cmd/app"
  std::string platform;         // "linux/arm64"
  std::vector<std::string> flags;    // go build flags, ldflags
  std::vector<std::string> env;      // GOOS=…, CGO_ENABLED=…, GOFLAGS=…
  int64_t source_date_epoch = 0;
  std::optional<GitInfo> git;
  std::optional<GoBuildInfo> build_info;  // of the executable
};

// A SLSA v1 provenance predicate (https://slsa.dev/provenance/v1): buildType
// gocrate's, externalParameters (package, platform, flags, source),
// internalParameters (Go version, env, SOURCE_DATE_EPOCH), resolvedDependencies
// (the git source at its commit, then each module of the build info with its
// version and go.sum hash), runDetails.builder. Depends only on its inputs.
nlohmann::json slsa_provenance(const ProvenanceInputs& inputs);

}  // namespace gocrate
