#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "image/content.h"
#include "image/manifest.h"
#include "store/store.h"
#include "transport/registry/registry_client.h"

namespace gocrate {

class RegistrySource;

namespace media_type {
inline constexpr std::string_view simple_signing = "application/vnd.dev.cosign.simplesigning.v1+json";
inline constexpr std::string_view dsse_envelope = "application/vnd.dsse.envelope.v1+json";
}  // namespace media_type

namespace annotation {
inline constexpr std::string_view cosign_signature = "dev.cosignproject.cosign/signature";
inline constexpr std::string_view predicate_type = "predicateType";
}  // namespace annotation

// cosign's two kinds of attachments: signatures (simple-signing payloads,
// the signature in the layer's annotation) and attestations (DSSE envelopes).
enum class AttachmentKind { signature, attestation };

// cosign's tag for a manifest's attachments: "sha256-<hex>.sig" or ".att".
std::string attachment_tag(const Digest& subject, AttachmentKind kind);

// One layer of an attachment manifest.
struct AttachedEntry {
  std::string media_type;  // simple_signing or dsse_envelope
  std::string content;     // the payload JSON, or the DSSE envelope JSON
  std::string
      signature;  // decoded from the cosign_signature annotation (signatures; may be empty for envelopes)
  Annotations annotations;  // as stored (predicateType, the base64 signature, ...)
};

// All signatures or all attestations of one manifest or index: cosign's
// shape (an OCI manifest, a config, one layer per entry), plus `subject`
// so that the store, `save`, `load`, OCI layouts and push/pull carry it as
// they carry SBOMs. Manifests from cosign or skopeo lack `subject`; read
// ones are rewritten with it when stored (the signed layers stay byte for byte).
struct Attachment {
  Descriptor subject;
  AttachmentKind kind = AttachmentKind::signature;
  std::vector<AttachedEntry> entries;

  // Appends unless the same content and signature are already present
  // (cosign's behaviour when the same thing is signed twice).
  bool add(AttachedEntry entry);
};

// Reads an attachment manifest and its layers from `source`, verifying each
// blob. `subject` is what it is about (the manifest may not say).
Attachment read_attachment(BlobSource& source, const Descriptor& manifest, const Descriptor& subject,
                           AttachmentKind kind);
// Writes config, layers and manifest into `sink` (subject set) and returns
// the manifest's descriptor, artifact_type set to the kind's layer media type.
Descriptor write_attachment(ImageSink& sink, const Attachment& attachment);

// The store keeps at most one attachment per (subject, kind) among its
// referrers; putting a new one replaces the old in index.json atomically.
std::optional<Attachment> find_store_attachment(Store& store, const Digest& subject, AttachmentKind kind);
void put_store_attachment(Store& store, const Attachment& attachment);
// Adds the entries the store's attachment for (subject, kind) lacks;
// returns whether any was new.
bool merge_store_attachment(Store& store, const Attachment& attachment);
// Whether a store referrer is an attachment (and not an SBOM artifact).
std::optional<AttachmentKind> attachment_kind(const Descriptor& referrer);

// A repository in a registry ("host[:port]/path", no tag): its attachment
// for `subject` under cosign's tag, nullopt when the tag does not exist.
std::optional<Attachment> fetch_registry_attachment(std::string_view repository, const Descriptor& subject,
                                                    AttachmentKind kind, const RegistryOptions& options);
// The same through the client and repository of an opened image.
std::optional<Attachment> fetch_registry_attachment(RegistrySource& source, const Descriptor& subject,
                                                    AttachmentKind kind);
// Writes `attachment` under its tag, merged with the entries the tag
// already holds (so signatures made by others are kept).
void push_registry_attachment(std::string_view repository, const Attachment& attachment,
                              const RegistryOptions& options);

}  // namespace gocrate
