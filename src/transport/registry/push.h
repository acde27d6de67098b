#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "store/store.h"
#include "transport/registry/registry_client.h"

namespace gocrate {

struct PushOptions {
  RegistryOptions registry = RegistryOptions::from_environment();
  bool show_progress = false;  // bars on stderr (when it is a terminal)
  int jobs = 4;                // blobs uploaded at once
  int64_t chunk_size = 64 << 20;
};

struct PushResult {
  std::string reference;  // where it went, "host/repo:tag"
  Descriptor root;
  std::vector<Descriptor> referrers;  // SBOM artifacts pushed with it
  int uploaded = 0, mounted = 0, skipped = 0;
  int64_t bytes_uploaded = 0;
};

// Pushes an image of the store and the artifacts that refer to it (SBOMs)
// to `destination` (HOST[:PORT]/REPO[:TAG|@DIGEST]; the tag defaults to
// latest). Blobs go first, then manifests by digest, then the tag.
PushResult push_image(Store& store, const NamedImage& image, std::string_view destination,
                      const PushOptions& options = {});

}  // namespace gocrate
