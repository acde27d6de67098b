#pragma once

#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "image/content.h"

namespace gocrate {

// Layers unpacked once and shared by every container, as overlayfs lower
// directories: <store>/layers/sha256/<hex>/ holds the layer of that (blob)
// digest. A layer is unpacked into <store>/layers/tmp/ and renamed into place
// only when complete, so a killed unpack never leaves a layer that looks
// whole; a lock per digest keeps two runs from unpacking the same layer.
// Every directory in tmp/ is held by its writer (util/fs.h), so the next
// unpack removes those of killed runs and no other.
class LayerCache {
 public:
  explicit LayerCache(std::string dir);  // <store>/layers

  // The directory of `layer`, unpacking it from `source` first if needed.
  // Given `diff_id` (the one the config of the image `image` gives), the tar
  // stream unpacked must hash to it, or the unpack is refused and leaves
  // nothing.
  std::string ensure(BlobSource& source, const Descriptor& layer,
                     const std::optional<Digest>& diff_id = std::nullopt, std::string_view image = {});
  std::string path_of(const Digest& digest) const;

  // A layer every container stacks at the bottom: the mount points /proc,
  // /dev, /sys, /etc/hosts, /etc/hostname and /etc/resolv.conf, which
  // images built from scratch do not have.
  std::string ensure_runtime_base();

  // Removes the unpacked layers whose blobs are not in `live`; returns how
  // many. The caller holds the store exclusively (Store::prune), so no run
  // is unpacking or about to use them.
  int remove_unused(const std::set<Digest>& live);

 private:
  void unpack(BlobSource& source, const Descriptor& layer, const std::string& into,
              const std::optional<Digest>& diff_id, std::string_view image);
  std::string dir_;
};

// The lower directories for an image's layers, topmost first (the order
// overlayfs's lowerdir= takes), the runtime base last. With `diff_ids` (the
// image config's, one per layer), each layer unpacked now is checked against
// its own; `image` names the image in errors.
std::vector<std::string> image_lower_dirs(LayerCache& cache, BlobSource& source,
                                          const std::vector<Descriptor>& layers,
                                          const std::vector<Digest>& diff_ids = {},
                                          std::string_view image = {});

// A small file of an image (/etc/passwd), as its layers stack it: read from
// the topmost of `lower_dirs` (topmost first, as image_lower_dirs gives them)
// that has it; nullopt when none does, a layer above deletes it or hides its
// directory, or it is not a regular file. `path` is absolute.
std::optional<std::string> read_file_in_layers(const std::vector<std::string>& lower_dirs,
                                               std::string_view path, std::string_view image = {});

}  // namespace gocrate
