#include "trust/attachments.h"

#include <nlohmann/json.hpp>

#include "image/media_types.h"
#include "image/reference.h"
#include "transport/registry/base64.h"
#include "transport/registry/registry_sink.h"
#include "transport/registry/registry_source.h"
#include "transport/registry/registry_urls.h"
#include "util/error.h"

namespace gocrate {

using nlohmann::json;

namespace {

// Attestations can carry whole SBOMs; anything larger is not an attachment.
constexpr int64_t kMaxEntrySize = 128 << 20;

std::string_view layer_media_type(AttachmentKind kind) {
  return kind == AttachmentKind::signature ? media_type::simple_signing : media_type::dsse_envelope;
}

std::string_view kind_name(AttachmentKind kind) {
  return kind == AttachmentKind::signature ? "signatures" : "attestations";
}

// The cosign_signature annotation, decoded; empty when absent or not base64.
std::string decoded_signature(const Annotations& annotations) {
  auto it = annotations.find(std::string(annotation::cosign_signature));
  if (it == annotations.end()) return {};
  return base64_decode(it->second).value_or("");
}

bool is_unnamed(const Descriptor& d) {
  return !d.annotations.contains(std::string(annotation::ref_name));
}

// A store referrer of `kind` whose manifest is about `subject`.
bool is_store_attachment(Store& store, const Descriptor& d, const Digest& subject, AttachmentKind kind) {
  if (!is_unnamed(d) || attachment_kind(d) != kind || !store.has_blob(d.digest)) return false;
  Manifest m =
      Manifest::parse(store.read_blob(d), fmt::format("attachment {} in {}", d.digest.str(), store.dir()));
  return m.subject && m.subject->digest == subject;
}

// Serves one manifest already fetched, and everything else from `inner`.
class WithManifest : public BlobSource {
 public:
  WithManifest(BlobSource& inner, Descriptor manifest, std::string content)
      : inner_(inner), manifest_(std::move(manifest)), content_(std::move(content)) {}
  std::string read_blob(const Descriptor& d) override {
    return d.digest == manifest_.digest ? content_ : inner_.read_blob(d);
  }
  std::unique_ptr<ByteReader> open_blob(const Descriptor& d) override { return inner_.open_blob(d); }
  std::string describe() const override { return inner_.describe(); }

 private:
  BlobSource& inner_;
  Descriptor manifest_;
  std::string content_;
};

struct RegistryRepository {
  std::string registry;
  std::string repository;
};

RegistryRepository split_repository(std::string_view text) {
  Reference ref = Reference::parse(text);
  if (ref.domain.empty() || !ref.tag.empty() || ref.digest) {
    fail("invalid repository \"{}\": write HOST[:PORT]/REPOSITORY", text);
  }
  return {ref.registry(), ref.repository()};
}

std::optional<Attachment> fetch_with(RegistryClient& client, BlobSource& blobs, const std::string& repository,
                                     const Descriptor& subject, AttachmentKind kind) {
  std::string tag = attachment_tag(subject.digest, kind);
  std::string what = fmt::format("read the {} of {} in {}/{}:{}", kind_name(kind), subject.digest.str(),
                                 client.registry(), repository, tag);
  HttpRequest request;
  request.url = manifest_path(repository, tag);
  request.headers.push_back(kManifestAccept);
  HttpResponse response = client.send(request, what);
  if (response.status == 404) return std::nullopt;
  if (response.status != 200) client.fail_response(response, what);
  std::string type = response.header("content-type");
  type = type.substr(0, type.find(';'));
  if (!media_type::is_manifest(type)) type = sniff_media_type(response.body);
  if (!media_type::is_manifest(type)) {
    fail(
        "{}/{}:{} is not an image manifest (media type {}): registry {} holds something else under cosign's "
        "tag",
        client.registry(), repository, tag, type.empty() ? "unknown" : type, client.registry());
  }
  Descriptor manifest{type, Digest::of(response.body), static_cast<int64_t>(response.body.size())};
  WithManifest prefetched(blobs, manifest, std::move(response.body));
  return read_attachment(prefetched, manifest, subject, kind);
}

}  // namespace

std::string attachment_tag(const Digest& subject, AttachmentKind kind) {
  return fmt::format("sha256-{}.{}", subject.hex, kind == AttachmentKind::signature ? "sig" : "att");
}

bool Attachment::add(AttachedEntry entry) {
  for (const auto& existing : entries) {
    if (existing.media_type == entry.media_type && existing.content == entry.content &&
        existing.signature == entry.signature) {
      return false;
    }
  }
  entries.push_back(std::move(entry));
  return true;
}

Attachment read_attachment(BlobSource& source, const Descriptor& manifest, const Descriptor& subject,
                           AttachmentKind kind) {
  std::string what =
      fmt::format("{} manifest {} in {}", kind == AttachmentKind::signature ? "signature" : "attestation",
                  manifest.digest.str(), source.describe());
  Manifest m = Manifest::parse(source.read_blob(manifest), what);
  Attachment out;
  out.subject = subject;
  out.kind = kind;
  for (const auto& layer : m.layers) {
    if (layer.size > kMaxEntrySize) {
      fail("{}: layer {} has {} bytes, more than any signature or attestation: refused", what,
           layer.digest.str(), layer.size);
    }
    AttachedEntry entry;
    entry.media_type = layer.media_type;
    entry.content = source.read_blob(layer);
    entry.annotations = layer.annotations;
    entry.signature = decoded_signature(layer.annotations);
    out.entries.push_back(std::move(entry));
  }
  return out;
}

Descriptor write_attachment(ImageSink& sink, const Attachment& attachment) {
  auto put = [&](const Descriptor& d, std::string_view content) {
    if (!sink.has_blob(d)) sink.put_blob(d, content);
  };
  std::string signature_key(annotation::cosign_signature);

  Manifest manifest;
  manifest.media_type = media_type::oci_manifest;
  json diff_ids = json::array();
  json history = json::array();
  for (const auto& entry : attachment.entries) {
    Descriptor layer{entry.media_type, Digest::of(entry.content), static_cast<int64_t>(entry.content.size())};
    layer.annotations = entry.annotations;
    // cosign writes the annotation on every layer, "" for envelopes.
    auto it = layer.annotations.find(signature_key);
    if (it == layer.annotations.end() || decoded_signature(layer.annotations) != entry.signature) {
      layer.annotations[signature_key] = base64_encode(entry.signature);
    }
    put(layer, entry.content);
    diff_ids.push_back(layer.digest.str());
    history.push_back({{"created", "0001-01-01T00:00:00Z"}});
    manifest.layers.push_back(std::move(layer));
  }
  // The config go-containerregistry's empty image gets once cosign appends
  // its layers.
  json config = {{"architecture", ""},
                 {"created", "0001-01-01T00:00:00Z"},
                 {"os", ""},
                 {"rootfs", {{"type", "layers"}, {"diff_ids", diff_ids}}},
                 {"config", json::object()}};
  if (!history.empty()) config["history"] = history;
  std::string config_text = config.dump();
  manifest.config = Descriptor{std::string(media_type::oci_config), Digest::of(config_text),
                               static_cast<int64_t>(config_text.size())};
  put(manifest.config, config_text);

  const Descriptor& s = attachment.subject;
  manifest.subject = Descriptor{s.media_type, s.digest, s.size};
  std::string text = manifest.to_json_text();
  Descriptor out{std::string(media_type::oci_manifest), Digest::of(text), static_cast<int64_t>(text.size())};
  put(out, text);
  out.artifact_type = layer_media_type(attachment.kind);
  return out;
}

std::optional<AttachmentKind> attachment_kind(const Descriptor& referrer) {
  if (referrer.artifact_type == media_type::simple_signing) return AttachmentKind::signature;
  if (referrer.artifact_type == media_type::dsse_envelope) return AttachmentKind::attestation;
  return std::nullopt;
}

std::optional<Attachment> find_store_attachment(Store& store, const Digest& subject, AttachmentKind kind) {
  for (const auto& d : store.read_index().manifests) {
    if (!is_store_attachment(store, d, subject, kind)) continue;
    std::string what = fmt::format("attachment {} in {}", d.digest.str(), store.dir());
    Manifest m = Manifest::parse(store.read_blob(d), what);
    return read_attachment(store, d, *m.subject, kind);
  }
  return std::nullopt;
}

void put_store_attachment(Store& store, const Attachment& attachment) {
  FileLock lease = store.lease();
  std::optional<Descriptor> written;
  if (!attachment.entries.empty()) written = write_attachment(store, attachment);
  store.update_index([&](Index& index) {
    std::erase_if(index.manifests, [&](const Descriptor& d) {
      return is_store_attachment(store, d, attachment.subject.digest, attachment.kind);
    });
    if (written) index.manifests.push_back(*written);
  });
}

bool merge_store_attachment(Store& store, const Attachment& attachment) {
  FileLock lease = store.lease();
  bool added = false;
  // Read and replaced under the index lock, so that concurrent merges keep
  // each other's entries.
  store.update_index([&](Index& index) {
    Attachment merged{attachment.subject, attachment.kind, {}};
    for (const auto& d : index.manifests) {
      if (!is_store_attachment(store, d, attachment.subject.digest, attachment.kind)) continue;
      merged = read_attachment(store, d, attachment.subject, attachment.kind);
      break;
    }
    for (const auto& entry : attachment.entries) added |= merged.add(entry);
    if (!added) return;
    Descriptor written = write_attachment(store, merged);
    fsync_directory(store.dir() + "/blobs/sha256");
    std::erase_if(index.manifests, [&](const Descriptor& d) {
      return is_store_attachment(store, d, attachment.subject.digest, attachment.kind);
    });
    index.manifests.push_back(written);
  });
  return added;
}

std::optional<Attachment> fetch_registry_attachment(std::string_view repository, const Descriptor& subject,
                                                    AttachmentKind kind, const RegistryOptions& options) {
  auto [registry, path] = split_repository(repository);
  auto client = std::make_shared<RegistryClient>(registry, options);
  RegistrySource source(client, path);
  return fetch_registry_attachment(source, subject, kind);
}

std::optional<Attachment> fetch_registry_attachment(RegistrySource& source, const Descriptor& subject,
                                                    AttachmentKind kind) {
  return fetch_with(source.client(), source, source.repository(), subject, kind);
}

void push_registry_attachment(std::string_view repository, const Attachment& attachment,
                              const RegistryOptions& options) {
  auto [registry, path] = split_repository(repository);
  auto client = std::make_shared<RegistryClient>(registry, options);
  // The sink asks for pull and push, which the read of the tag needs too.
  RegistrySink sink(client, path, {});
  RegistrySource source(client, path, false);
  std::optional<Attachment> current = fetch_with(*client, source, path, attachment.subject, attachment.kind);
  Attachment merged;
  merged.subject = attachment.subject;
  merged.kind = attachment.kind;
  if (current) merged.entries = std::move(current->entries);
  bool added = false;
  for (const auto& entry : attachment.entries) added |= merged.add(entry);
  if (current && !added) return;
  if (merged.entries.empty()) return;
  std::string tag = attachment_tag(attachment.subject.digest, attachment.kind);
  Descriptor manifest = write_attachment(sink, merged);
  sink.add_name(tag, manifest);
  sink.commit();
}

}  // namespace gocrate
