#pragma once

#include <functional>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "store/oci_layout.h"

namespace gocrate {

// The directory gocrate keeps its state in: --root, else $GOCRATE_ROOT, else
// /var/lib/gocrate for root and $XDG_DATA_HOME/gocrate for other users.
std::string default_store_root();

struct NamedImage {
  std::string name;  // "hello:latest", "localhost:5000/app:v1"
  Descriptor descriptor;
};

struct PruneReport {
  int blobs_removed = 0;
  uint64_t bytes_freed = 0;
  int cache_entries_removed = 0;
  int layers_removed = 0;  // unpacked layers (filled in by the caller's cleanup)
};

// The local image store: an OCI image layout (so skopeo and umoci read it
// as oci:ROOT:NAME) whose index.json holds the image names, plus a build
// cache. Two kinds of writers coordinate through locks: everything that adds
// blobs holds a shared lease until its names are recorded, and prune takes it
// exclusively, so it never collects the blobs of a build in progress.
class Store : public OciLayout {
 public:
  explicit Store(std::string root);

  // Holds the store's shared lease for the object's lifetime.
  FileLock lease() const;

  // Finds an image by name[:tag], name@digest, full digest or unique digest
  // prefix (at least 4 hex digits). A bare name means name:latest; a short
  // Docker Hub name also matches its docker.io/library/ form.
  std::optional<NamedImage> find(std::string_view ref);
  // As find(), but fails with advice when there is no such image.
  NamedImage resolve(std::string_view ref);
  std::vector<NamedImage> images() const;

  // The artifacts (SBOMs) in the store whose subject is `root` or one of
  // the manifests of its index.
  std::vector<Descriptor> referrers(const Descriptor& root);

  // Records name -> root at once (under the index lock).
  void set_name(const std::string& name, const Descriptor& root);
  // Removes a name; returns the descriptor it pointed at. Artifacts whose
  // subject no remaining name reaches are dropped from the index as well.
  Descriptor remove_name(const std::string& name);

  // Deletes every blob that no name or referrer reaches, leftovers of killed
  // writers and cache entries whose blobs are gone. With wait false it does
  // nothing while a writer holds its lease, instead of waiting for it.
  // `extra_roots` are kept as if named (the images of existing containers);
  // `also` runs while prune still holds the store exclusively, with the set of
  // blobs that stay, to clean up what depends on blobs (unpacked layers).
  PruneReport prune(bool wait = true, const std::vector<Descriptor>& extra_roots = {},
                    const std::function<void(const std::set<Digest>& live)>& also = {});
  // As prune(), with the extra roots asked of `roots` once the store is held
  // exclusively: no writer is then between leasing an image and recording
  // what uses it (run holds its lease until its container's state names the
  // image), so what `roots` finds in use, and any names it removes meanwhile,
  // cannot race a container being made.
  PruneReport prune_locked(bool wait, const std::function<std::vector<Descriptor>()>& roots,
                           const std::function<void(const std::set<Digest>& live)>& also = {});

  // The build cache: small JSON values under cache/<kind>/<key>.
  std::optional<std::string> cache_get(std::string_view kind, std::string_view key) const;
  void cache_put(std::string_view kind, std::string_view key, std::string_view value) const;

  // The canonical name for a reference written by a user: "hello" is stored
  // as "hello:latest".
  static std::string canonical_name(std::string_view ref);

  std::string describe() const override { return "the store " + dir_; }
};

}  // namespace gocrate
