#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "image/config.h"
#include "image/manifest.h"
#include "util/byte_reader.h"

namespace gocrate {

// Where blobs can be read by descriptor: the store, an OCI layout, an
// archive, a registry. Every implementation checks content against the
// descriptor's digest and size.
class BlobSource {
 public:
  virtual ~BlobSource() = default;
  // The whole blob, verified (manifests, configs).
  virtual std::string read_blob(const Descriptor& descriptor) = 0;
  // A stream of the blob (layers). The reader verifies when it reaches the
  // end, so a consumer must read to the end (see drain_and_verify).
  virtual std::unique_ptr<ByteReader> open_blob(const Descriptor& descriptor) = 0;
  // "the store /var/lib/gocrate", "OCI layout ./out": for error messages.
  virtual std::string describe() const = 0;
};

// Where images can be written: the same places.
class ImageSink {
 public:
  virtual ~ImageSink() = default;
  virtual bool has_blob(const Descriptor& descriptor) = 0;
  // Stores the content, refusing it if it does not match the descriptor.
  virtual void put_blob(const Descriptor& descriptor, ByteReader& content) = 0;
  virtual void put_blob(const Descriptor& descriptor, std::string_view content);
  // Stores a blob whose content `open` provides. A sink that may have to
  // start over (a registry that lost an upload) calls `open` again; the
  // default opens it once.
  using BlobOpener = std::function<std::unique_ptr<ByteReader>()>;
  virtual void put_blob_from(const Descriptor& descriptor, const BlobOpener& open);
  // Records that `name` refers to `root` (written on commit()).
  virtual void add_name(const std::string& name, const Descriptor& root) = 0;
  // Adds a manifest that is not named but must be kept: an artifact whose
  // subject is one of the images (an SBOM).
  virtual void add_referrer(const Descriptor& referrer) = 0;
  virtual void commit() = 0;
  virtual std::string describe() const = 0;
};

// Reads what is left of a verifying reader, so that its check runs.
void drain(ByteReader& reader);

// One platform's image, resolved from a root descriptor.
struct PlatformImage {
  Descriptor descriptor;  // of the manifest, with platform set
  Manifest manifest;
  ImageConfig config;
};

// Loads the manifest and config a root descriptor leads to for `wanted`: the
// root itself when it is a manifest (checked against `wanted` if given), or
// the best match of an index. Errors list the platforms the image has.
PlatformImage load_platform_image(BlobSource& source, const Descriptor& root,
                                  const std::optional<Platform>& wanted, std::string_view image_name);

// Every platform image under a root (one for a manifest, one per platform
// entry of an index; attestation and unknown entries skipped).
std::vector<PlatformImage> load_all_platform_images(BlobSource& source, const Descriptor& root,
                                                    std::string_view image_name);

// Copies everything a root descriptor references (index, manifests, configs,
// layers), children before parents, skipping blobs the sink already has. A
// sink that holds a manifest or index therefore holds all it references.
// With jobs > 1 the configs and layers of the whole tree are copied that
// many at a time, so source and sink must then be thread-safe.
struct CopyProgress {
  std::function<void(const Descriptor&, bool skipped)> on_blob;
  int jobs = 1;
};
void copy_image(BlobSource& source, const Descriptor& root, ImageSink& sink,
                const CopyProgress& progress = {});

}  // namespace gocrate
