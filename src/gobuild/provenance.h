#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "gobuild/git_info.h"
#include "gobuild/go_buildinfo.h"
#include "image/manifest.h"

namespace gocrate {

class Store;

inline constexpr std::string_view kSlsaProvenanceV1 = "https://slsa.dev/provenance/v1";
inline constexpr std::string_view kInTotoStatementV1 = "https://in-toto.io/Statement/v1";

// What a build knows about how it made an executable.
struct ProvenanceInputs {
  std::string builder_version;     // GOCRATE_VERSION
  std::string package;             // import path, "example.com/app/cmd/web"
  std::string platform;            // "linux/arm64"
  std::vector<std::string> flags;  // go build flags, ldflags
  std::vector<std::string> env;    // GOOS=…, CGO_ENABLED=…, GOFLAGS=…
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

// The unsigned in-toto Statement v1 (JSON text) whose one subject is the
// manifest `subject_digest` under `subject_name`, with `predicate` as its SLSA
// v1 provenance.
std::string provenance_statement(const std::string& subject_name, const Digest& subject_digest,
                                 const nlohmann::json& predicate);

// The provenance statement a build stored for a platform manifest: the layer
// of the artifact manifest (artifactType application/vnd.in-toto+json) among
// the store's referrers of `manifest`. nullopt when the store has none (an
// image built elsewhere, or packed rather than built).
std::optional<std::string> find_provenance_statement(Store& store, const Descriptor& manifest);

}  // namespace gocrate
