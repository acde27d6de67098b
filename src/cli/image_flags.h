#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "gobuild/go_image_build.h"
#include "gobuild/project_config.h"
#include "transport/image_location.h"
#include "transport/registry/registry_client.h"
#include "trust/keys.h"

namespace gocrate::cli {

// Flags that build, pack and resolve share: what goes into an image and
// where it goes.
// Flags that build and pack share: what goes into the image and where it goes.
struct ImageFlags {
  std::string base = "scratch";
  std::string platform;
  std::vector<std::string> tags;
  std::vector<std::string> env, ports, labels, annotations, files;
  std::string user, workdir, app_dir = "/app";
  std::string sbom = "spdx";
  std::string provenance = "slsa";
  std::string compression = "gzip";
  std::string oci_layout, tarball;
  bool push = false;
  std::vector<std::string> insecure_registries;
  std::string repository;  // default repository: GOCRATE_DOCKER_REPO or .gocrate.yaml
  bool json = false;
  bool quiet = false;
  std::string signature_policy;  // for the base: --signature-policy FILE
  bool sign = false;             // --sign with --key: sign and attest what is published
  std::string sign_key;
};

void add_image_flags(CLI::App& app, ImageFlags& flags);

// Fills what the command line left unsaid from .gocrate.yaml and GOCRATE_*
// (base, platforms, env, sbom, compression, repository), and, for builds,
// the Go options per package (ldflags templates, build env and flags).
void apply_project_config(const ProjectConfig& config, const CLI::App& app, ImageFlags& flags,
                          GoImageRequest* request);

RegistryOptions registry_options(const ImageFlags& flags);
// Fails before any work when --push is given for names without a registry.
void check_push_names(const ImageFlags& flags);
// The name of an image built without -t: REPOSITORY/NAME when a default
// repository is set, else NAME:latest.
std::string default_image_name(const std::string& name, const std::string& repository);
std::vector<Platform> parse_platform_list(const std::string& text);
// The recipe the flags describe. `base` keeps the base's source open.
ImageRecipe make_recipe(const ImageFlags& flags, Store& store, LocatedImage& base);
// A Go build's recipe, platforms and git annotations (of request.working_dir)
// from the flags.
void prepare_go_build(const ImageFlags& flags, Store& store, LocatedImage& base, GoImageRequest& request);

struct Published {
  std::vector<std::string> names;
  BuiltImage image;
  std::vector<Platform> platforms;
};

// Records the names in the store and writes the requested extra outputs
// (OCI layout, tarball, registry).
void publish(Store& store, const std::vector<Published>& results, const ImageFlags& flags);
void print_results(const std::vector<Published>& results, bool as_json);
// --sign: the key, loaded (its passphrase asked once) before anything is built.
std::optional<PrivateKey> signing_key(const ImageFlags& flags);
// Signs every name published (in its registry when pushed, else in the
// store) and attests each platform's provenance and SBOM (trust_commands.cc).
void sign_published(Store& store, const std::vector<Published>& results, const ImageFlags& flags,
                    const PrivateKey& key);
std::vector<std::string> canonical_names(const std::vector<std::string>& tags);
std::string current_dir();
void add_git_annotations(ImageRecipe& recipe, const std::string& dir);

}  // namespace gocrate::cli
