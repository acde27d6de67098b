#pragma once

#include <set>
#include <string>
#include <vector>

#include "image/content.h"

namespace gocrate {

// Layers unpacked once and shared by every container, as overlayfs lower
// directories: <store>/layers/sha256/<hex>/ holds the layer of that (blob)
// digest. A layer is unpacked into <store>/layers/tmp/ and renamed into place
// only when complete, so a killed unpack never leaves a layer that looks
// whole; a lock per digest keeps two runs from unpacking the same layer.
class LayerCache {
 public:
  explicit LayerCache(std::string dir);  // <store>/layers

  // The directory of `layer`, unpacking it from `source` first if needed.
  std::string ensure(BlobSource& source, const Descriptor& layer);
  std::string path_of(const Digest& digest) const;

  // A layer every container stacks at the bottom: the mount points /proc,
  // /dev and /sys, which images built from scratch do not have.
  std::string ensure_runtime_base();

  // Removes the unpacked layers whose blobs are not in `live`; returns how
  // many. The caller holds the store exclusively (Store::prune), so no run
  // is unpacking or about to use them.
  int remove_unused(const std::set<Digest>& live);

 private:
  void unpack(BlobSource& source, const Descriptor& layer, const std::string& into);
  std::string dir_;
};

// The lower directories for an image's layers, topmost first (the order
// overlayfs's lowerdir= takes), the runtime base last.
std::vector<std::string> image_lower_dirs(LayerCache& cache, BlobSource& source,
                                          const std::vector<Descriptor>& layers);

}  // namespace gocrate
