#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "image/content.h"
#include "layer/diff_id.h"
#include "store/store.h"

namespace gocrate {

// A source of images on their way into the store whose layers are checked
// against the diff_ids their configs give, so that no image enters the store
// with layers other than its config (and so its image ID) says:
// - layers the store lacks are checked as they stream through open_blob()
//   into the store, and a layer that fails never gets there;
// - layers the store has, which copy_image skips, are checked by expect(),
//   against the diff_id recorded when the store last checked that blob, or
//   else against the store's copy.
// Images whose manifest the store holds were checked when they entered it.
// What read_blob() returns (manifests, indexes, configs) is kept, so that a
// registry is asked for each once.
class DiffIdVerifier : public BlobSource {
 public:
  // `limit`, when given, caps the sum of the decompressed layers streamed.
  DiffIdVerifier(BlobSource& source, Store& store, DecompressionLimit* limit = nullptr);

  // Learns what the layers of every image under `root` (a manifest or an
  // index; attestations too, artifacts without an image config not) must
  // hash to and checks those the store has. `image_name` names the image in
  // errors. Call before copying; not thread-safe.
  void expect(const Descriptor& root, std::string_view image_name);
  void expect(const PlatformImage& image, std::string_view image_name);

  // BlobSource; open_blob() is thread-safe.
  std::string read_blob(const Descriptor& descriptor) override;
  std::unique_ptr<ByteReader> open_blob(const Descriptor& descriptor) override;
  std::string describe() const override { return source_.describe(); }

  // The diff_id the store has recorded for one of its layer blobs (the
  // record goes with the blob when prune deletes it), and recording one.
  static std::optional<Digest> recorded_diff_id(const Store& store, const Digest& layer);
  static void record_diff_id(const Store& store, const Digest& layer, const Digest& diff_id);

 private:
  struct Claim {
    Digest diff_id;
    std::string image;
  };
  void check_stored_layer(const Descriptor& layer, const Claim& claim);

  BlobSource& source_;
  Store& store_;
  DecompressionLimit* limit_;
  std::map<Digest, std::vector<Claim>> claims_;  // layers the store lacks
  std::mutex mutex_;
  std::map<Digest, std::string> kept_;  // manifests, indexes and configs read
};

}  // namespace gocrate
