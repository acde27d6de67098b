#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "image/content.h"
#include "store/store.h"
#include "transport/registry/registry_client.h"

namespace gocrate {

// An image found through a location string, with the source its blobs are
// read from.
struct LocatedImage {
  std::shared_ptr<BlobSource> owned;  // set when the source was opened for this image
  BlobSource* source = nullptr;
  Descriptor root;
  std::string name;
};

// Opens the image a location names:
//   oci-layout:DIR[:TAG] (also skopeo's oci:DIR[:TAG])   an OCI layout entry
//   docker-archive:FILE[:NAME] / oci-archive:FILE[:NAME]  a saved archive
//   docker://REF                                          an image read from its registry
//   anything else                                         a reference in the store, or, when it
//                                                         names a registry host and the store lacks
//                                                         it, an image read from that registry
// Without TAG or NAME, the location must hold exactly one image.
LocatedImage locate_image(std::string_view location, Store& store,
                          const RegistryOptions& registry = RegistryOptions::from_environment());

}  // namespace gocrate
