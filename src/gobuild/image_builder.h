#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "gobuild/provenance.h"
#include "image/content.h"
#include "layer/compress.h"
#include "store/store.h"

namespace gocrate {

// The image an image is built on: scratch, or an image from some source
// whose variant for each platform is picked from its index.
struct BaseImage {
  BlobSource* source = nullptr;  // nullptr means scratch
  Descriptor root;
  std::string name;
  bool is_scratch() const { return source == nullptr; }
  // The platforms the base offers (empty for scratch).
  std::vector<Platform> platforms() const;
};

// Everything that decides an image's content besides its executables.
struct ImageRecipe {
  BaseImage base;
  std::string app_dir = "/app";
  std::string kodata_dir;                                  // host directory; empty for none
  std::vector<std::pair<std::string, std::string>> files;  // host source -> image destination
  std::vector<std::string> env;                            // KEY=VALUE, after the defaults
  std::set<std::string> ports;                             // "8080/tcp"
  std::optional<std::string> user;                         // default 65532:65532
  std::string workdir;
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> annotations;
  int64_t epoch = 0;
  CompressionSettings compression;
  bool sbom = true;
  // How the executables were built, for the SLSA provenance of each platform
  // manifest; the platform, epoch, builder version and build info are filled
  // in per platform. Unset for executables built elsewhere (no provenance).
  std::optional<ProvenanceInputs> provenance;
};

struct Executable {
  std::string name;  // file name in the app directory
  std::string host_path;
  // Set for executables `go build` has just written: their Go build ID then
  // identifies their content and spares hashing them. Files from elsewhere
  // may have been changed after linking (strip, upx) and are hashed.
  bool fresh_from_go_build = false;
};

// The executables of one platform; the first is the entrypoint.
struct PlatformExecutables {
  Platform platform;
  std::vector<Executable> executables;
};

struct BuiltImage {
  Descriptor root;                     // a manifest, or an index for several platforms
  std::vector<Descriptor> manifests;   // one per platform, platform set
  std::vector<Descriptor> sboms;       // artifact manifests, subject = a platform manifest
  std::vector<Descriptor> provenance;  // artifact manifests of in-toto statements, likewise
};

// Writes an image into the store: per platform the base's layers, the
// scratch essentials (scratch only), a layer of kodata and --file files, a
// layer of the executables; then config, manifest, SBOM, provenance and, for several
// platforms, an index. Layers come from the build cache when their inputs
// are unchanged. The caller holds the store's lease and records names.
BuiltImage assemble_image(Store& store, const ImageRecipe& recipe,
                          const std::vector<PlatformExecutables>& platforms);

inline constexpr std::string_view kDefaultPath =
    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
inline constexpr std::string_view kKoDataPath = "/var/run/ko";

}  // namespace gocrate
