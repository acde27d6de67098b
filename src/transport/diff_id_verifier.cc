#include "transport/diff_id_verifier.h"

#include <sys/stat.h>

#include <nlohmann/json.hpp>

#include "image/media_types.h"
#include "util/error.h"

namespace gocrate {

namespace {

constexpr std::string_view kRecordKind = "diff-ids";

// Holds a copy of a blob read earlier.
class KeptBlobReader : public ByteReader {
 public:
  explicit KeptBlobReader(std::string content) : content_(std::move(content)), reader_(content_) {}
  size_t read(void* buffer, size_t size) override { return reader_.read(buffer, size); }

 private:
  std::string content_;
  StringReader reader_;
};

}  // namespace

DiffIdVerifier::DiffIdVerifier(BlobSource& source, Store& store, DecompressionLimit* limit)
    : source_(source), store_(store), limit_(limit) {}

std::optional<Digest> DiffIdVerifier::recorded_diff_id(const Store& store, const Digest& layer) {
  auto text = store.cache_get(kRecordKind, layer.hex);
  if (!text) return std::nullopt;
  auto entry = nlohmann::json::parse(*text, nullptr, false);
  if (!entry.is_object() || entry.value("digest", "") != layer.str()) return std::nullopt;
  return Digest::try_parse(entry.value("diff_id", ""));
}

void DiffIdVerifier::record_diff_id(const Store& store, const Digest& layer, const Digest& diff_id) {
  // A JSON object with "digest", as prune expects of cache entries: the
  // record goes when the blob does.
  nlohmann::json entry = {{"digest", layer.str()}, {"diff_id", diff_id.str()}};
  store.cache_put(kRecordKind, layer.hex, entry.dump());
}

void DiffIdVerifier::expect(const Descriptor& root, std::string_view image_name) {
  if (store_.has_blob(root.digest)) return;
  if (media_type::is_index(root.media_type)) {
    Index index = Index::parse(read_blob(root), fmt::format("index {} of {}", root.digest.str(), image_name));
    for (const auto& entry : index.manifests) expect(entry, image_name);
    return;
  }
  if (!media_type::is_manifest(root.media_type)) return;
  PlatformImage image;
  image.descriptor = root;
  image.manifest =
      Manifest::parse(read_blob(root), fmt::format("manifest {} of {}", root.digest.str(), image_name));
  try {
    image.config =
        ImageConfig::parse(read_blob(image.manifest.config), fmt::format("config of {}", image_name));
  } catch (const Error&) {
    // Not an image config (an artifact's, an SBOM's): no command can run
    // or build on this manifest, and its blobs are not layers.
    return;
  }
  expect(image, image_name);
}

void DiffIdVerifier::expect(const PlatformImage& image, std::string_view image_name) {
  if (store_.has_blob(image.descriptor.digest)) return;
  const auto& layers = image.manifest.layers;
  const auto& diff_ids = image.config.diff_ids;
  if (layers.size() != diff_ids.size()) {
    fail("image {} is inconsistent: its manifest lists {} layers but its config {}; refused", image_name,
         layers.size(), diff_ids.size());
  }
  for (size_t i = 0; i < layers.size(); ++i) {
    Claim claim{diff_ids[i], std::string(image_name)};
    if (store_.has_blob(layers[i].digest)) {
      check_stored_layer(layers[i], claim);
    } else {
      claims_[layers[i].digest].push_back(std::move(claim));
    }
  }
}

void DiffIdVerifier::check_stored_layer(const Descriptor& layer, const Claim& claim) {
  std::optional<Digest> actual = recorded_diff_id(store_, layer.digest);
  if (!actual) {
    // Read with the size the store's copy has: a wrong size in a foreign
    // manifest must not make the good copy look corrupt.
    struct stat st;
    if (::stat(store_.blob_path(layer.digest).c_str(), &st) != 0) {
      fail_errno(fmt::format("cannot read blob {} in {}", layer.digest.str(), store_.describe()));
    }
    if (st.st_size != layer.size) {
      fail("image {} is inconsistent: its manifest gives layer {} {} bytes, but it has {}; refused",
           claim.image, layer.digest.str(), layer.size, st.st_size);
    }
    auto blob = store_.open_blob(layer);
    actual = layer_diff_id(*blob, layer);
    record_diff_id(store_, layer.digest, *actual);
  }
  check_diff_id(layer.digest, claim.diff_id, *actual, claim.image);
}

std::string DiffIdVerifier::read_blob(const Descriptor& descriptor) {
  {
    std::lock_guard lock(mutex_);
    if (auto it = kept_.find(descriptor.digest); it != kept_.end()) return it->second;
  }
  std::string content = source_.read_blob(descriptor);
  std::lock_guard lock(mutex_);
  kept_.emplace(descriptor.digest, content);
  return content;
}

std::unique_ptr<ByteReader> DiffIdVerifier::open_blob(const Descriptor& descriptor) {
  {
    std::lock_guard lock(mutex_);
    if (auto it = kept_.find(descriptor.digest); it != kept_.end()) {
      return std::make_unique<KeptBlobReader>(it->second);
    }
  }
  auto blob = source_.open_blob(descriptor);
  auto it = claims_.find(descriptor.digest);
  if (it == claims_.end()) return blob;
  const std::vector<Claim>& claims = it->second;
  Digest layer = descriptor.digest;
  return std::make_unique<DiffIdTeeReader>(
      std::move(blob), descriptor,
      [this, layer, &claims](const Digest& actual) {
        for (const auto& claim : claims) check_diff_id(layer, claim.diff_id, actual, claim.image);
        record_diff_id(store_, layer, actual);
      },
      limit_);
}

}  // namespace gocrate
