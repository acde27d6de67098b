#include "gobuild/provenance.h"

#include "image/media_types.h"
#include "store/store.h"
#include "transport/registry/base64.h"
#include "util/sha256.h"

namespace gocrate {

namespace {

using nlohmann::json;

// The build type https://gocrate.dev/build/v1: `gocrate build` compiling one
// Go main package with `go build` and packing it into an image for one
// platform.
//   externalParameters:
//     package   the main package's import path
//     platform  "os/arch[/variant]" of the image and the executable
//     flags     the go build arguments: -trimpath, -ldflags=..., --build-flag values
//     source    the git source, as its resolvedDependencies entry names it (when in git)
//   internalParameters:
//     goVersion         the toolchain that compiled the executable
//     env               KEY=VALUE set for go build (CGO_ENABLED, GOOS, GOARCH, ...)
//     SOURCE_DATE_EPOCH the time every file and config of the image carries
//     goBuildSettings   the build settings Go recorded in the executable
//   resolvedDependencies: the git source at its commit, the Go standard
//   library, then the modules linked in, in the executable's order.
constexpr std::string_view kBuildType = "https://gocrate.dev/build/v1";
constexpr std::string_view kBuilderId = "https://gocrate.dev/gocrate";

std::string go_purl(const std::string& path, const std::string& version) {
  std::string out = "pkg:golang/" + path;
  if (!version.empty() && version != "(devel)") out += "@" + version;
  return out;
}

// in-toto's dirHash: the go.sum "h1:" hash in lowercase hex.
std::optional<std::string> dir_hash(const std::string& sum) {
  if (!sum.starts_with("h1:")) return std::nullopt;
  auto raw = base64_decode(std::string_view(sum).substr(3));
  if (!raw || raw->size() != 32) return std::nullopt;
  return to_hex(reinterpret_cast<const uint8_t*>(raw->data()), raw->size());
}

json module_dependency(const GoModule& module) {
  json d = {{"uri", go_purl(module.path, module.version)}, {"name", module.path}};
  if (auto hash = dir_hash(module.sum)) {
    d["digest"] = {{"dirHash", *hash}};
    d["annotations"] = {{"goSum", module.sum}};
  }
  return d;
}

std::string git_uri(const GitInfo& git) {
  if (!git.source.empty()) return "git+" + git.source;
  return "git+file://" + git.work_tree;
}

}  // namespace

nlohmann::json slsa_provenance(const ProvenanceInputs& inputs) {
  json external = {{"package", inputs.package}, {"platform", inputs.platform}, {"flags", inputs.flags}};
  json internal = {{"env", inputs.env}, {"SOURCE_DATE_EPOCH", inputs.source_date_epoch}};
  json dependencies = json::array();
  if (inputs.git) {
    std::string uri = git_uri(*inputs.git);
    external["source"] = uri;
    dependencies.push_back({{"uri", uri}, {"digest", {{"gitCommit", inputs.git->revision}}}});
  }
  if (const auto& info = inputs.build_info) {
    internal["goVersion"] = info->go_version;
    internal["goBuildSettings"] = info->settings;
    dependencies.push_back({{"uri", "pkg:golang/stdlib@" + info->go_version}, {"name", "stdlib"}});
    // A main package from a dependency's module: that module is built from
    // its published version rather than from the git source.
    if (!info->main.version.empty() && info->main.version != "(devel)")
      dependencies.push_back(module_dependency(info->main));
    for (const auto& dep : info->deps) dependencies.push_back(module_dependency(dep));
  }
  return {
      {"buildDefinition",
       {{"buildType", kBuildType},
        {"externalParameters", external},
        {"internalParameters", internal},
        {"resolvedDependencies", dependencies}}},
      {"runDetails", {{"builder", {{"id", kBuilderId}, {"version", {{"gocrate", inputs.builder_version}}}}}}},
  };
}

std::string provenance_statement(const std::string& subject_name, const Digest& subject_digest,
                                 const nlohmann::json& predicate) {
  json statement = {
      {"_type", kInTotoStatementV1},
      {"subject", json::array({{{"name", subject_name}, {"digest", {{"sha256", subject_digest.hex}}}}})},
      {"predicateType", kSlsaProvenanceV1},
      {"predicate", predicate},
  };
  return statement.dump();
}

std::optional<std::string> find_provenance_statement(Store& store, const Descriptor& manifest) {
  for (const auto& referrer : store.referrers(manifest)) {
    Manifest artifact = Manifest::parse(store.read_blob(referrer), referrer.digest.str());
    if (artifact.artifact_type != media_type::in_toto || !artifact.subject ||
        artifact.subject->digest != manifest.digest)
      continue;
    for (const auto& layer : artifact.layers) {
      if (layer.media_type != media_type::in_toto || !store.has_blob(layer.digest)) continue;
      std::string text = store.read_blob(layer);
      auto statement = json::parse(text, nullptr, false);
      if (statement.is_object() && statement.value("predicateType", "") == kSlsaProvenanceV1) return text;
    }
  }
  return std::nullopt;
}

}  // namespace gocrate
