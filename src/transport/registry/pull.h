#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "image/platform.h"
#include "store/store.h"
#include "transport/registry/registry_client.h"
#include "transport/registry/registry_source.h"

namespace gocrate {

struct PullOptions {
  RegistryOptions registry = RegistryOptions::from_environment();
  std::optional<Platform> platform;  // nullopt: this machine's
  bool all_platforms = false;        // the whole index instead of one platform
  bool show_progress = false;        // bars on stderr (when it is a terminal)
  int jobs = 4;                      // blobs downloaded at once
  bool referrers = true;             // also the artifacts (SBOMs) that refer to the image
  // --signature-policy FILE; "" looks for the default (SignaturePolicy::path_for).
  std::string signature_policy;
};

struct PullResult {
  NamedImage image;  // as recorded in the store
  int blobs_fetched = 0;
  int blobs_present = 0;
  int64_t bytes_fetched = 0;
  std::vector<Descriptor> referrers;  // artifacts pulled with the image
};

// An image in a registry, opened for reading without copying it anywhere.
struct RemoteImage {
  std::shared_ptr<RegistrySource> source;
  Descriptor root;
  std::string name;  // the reference as written, with a default tag
};

// Whether a location names a registry explicitly ("host[:port]/repo[:tag]",
// "docker://..."), as opposed to a short name that only the store can mean.
bool names_registry(std::string_view location);

// Resolves a reference's tag or digest in its registry.
RemoteImage open_remote_image(std::string_view reference, const RegistryOptions& options);

// Pulls an image into the store: for one platform (options.platform, else
// this machine's) its manifest, config and layers, named by the reference;
// with all_platforms the whole index; and the artifacts that refer to what
// was pulled (options.referrers), and cosign's signatures and attestations
// of the root and of each manifest pulled (unless registries.d turns
// use-sigstore-attachments off). The signature policy is applied before
// anything is stored. Every blob is verified before it
// enters the store and the name is written last, so an interrupted pull
// leaves the store as it was but for unnamed blobs that prune removes.
// `gocrate run` calls this for an image missing from the store.
PullResult pull_image(Store& store, std::string_view reference, const PullOptions& options = {});

}  // namespace gocrate
