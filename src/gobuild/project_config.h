#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace gocrate {

// Settings for one main package, from the `builds` list.
struct PackageBuildConfig {
  std::string import_path;  // or, as written, a directory relative to the project ("./cmd/web")
  std::vector<std::string> env;
  std::vector<std::string> flags;
  std::optional<std::string> ldflags;
  std::optional<std::string> base;
  std::vector<std::string> platforms;
};

// `.gocrate.yaml`, found in the working directory or a parent (a `.ko.yaml`
// is read the same way, with ko's key names, for projects moving over).
// Every top-level key can be overridden by an environment variable:
// repository GOCRATE_DOCKER_REPO, base GOCRATE_BASE, platforms
// GOCRATE_PLATFORMS (comma-separated), env GOCRATE_ENV (comma-separated
// KEY=VALUE), ldflags GOCRATE_LDFLAGS, sbom GOCRATE_SBOM, compression
// GOCRATE_COMPRESSION.
struct ProjectConfig {
  std::string path;  // the file read; empty when there is none
  std::string repository;
  std::string base;
  std::vector<std::string> platforms;
  std::vector<std::string> env;
  std::string ldflags;
  std::string sbom;
  std::string compression;
  std::vector<PackageBuildConfig> builds;

  // The entry of `builds` for a package, matched by import path or by its
  // directory relative to the config file; nullptr when none.
  const PackageBuildConfig* build_for(const std::string& import_path, const std::string& package_dir) const;
};

ProjectConfig load_project_config(const std::string& working_dir);
ProjectConfig parse_project_config(const std::string& text, const std::string& path);
void apply_environment_overrides(ProjectConfig& config);

// Expands {{.Version}} (git describe), {{.Commit}}, {{.ShortCommit}},
// {{.Date}} (SOURCE_DATE_EPOCH, else the commit's date, so builds stay
// reproducible) and {{.Env.NAME}} in ldflags. An unknown field is an error.
std::string expand_ldflags_template(const std::string& text, const std::string& source_dir);

}  // namespace gocrate
