#include "trust/image_trust.h"

#include <fmt/format.h>

#include "image/media_types.h"
#include "image/reference.h"
#include "store/events.h"
#include "transport/registry/pull.h"
#include "trust/registry_policy.h"
#include "trust/simple_signing.h"
#include "util/error.h"
#include "util/strings.h"

namespace gocrate {

using nlohmann::json;

namespace {

// Docker's annotation on the attestation manifests BuildKit puts in an index.
constexpr std::string_view kReferenceType = "vnd.docker.reference.type";

// The registry and repository a reference means, "docker.io/library/hello"
// for a short name: how identities are written and compared.
std::string qualified_repository(const Reference& ref) {
  return ref.registry() + "/" + ref.repository();
}

// An image to sign or verify, opened where the target says it lives.
struct OpenedImage {
  std::string name;     // "localhost:5000/app:v1", "hello:latest"
  Reference reference;  // parsed `name`
  Descriptor root;
  std::string repository;  // registry images: "localhost:5000/app", as the attachment functions take it
  std::shared_ptr<BlobSource> remote;
  BlobSource* source = nullptr;
  bool in_registry = false;
  bool also_in_store = false;  // a registry image whose name the store holds at the same digest

  // "localhost:5000/app:sha256-….sig", or "the store".
  std::string where(const Digest& subject, AttachmentKind kind) const {
    std::string tag = in_registry ? repository + ":" + attachment_tag(subject, kind) : "";
    if (!in_registry) return "the store";
    return also_in_store ? tag + " and the store" : tag;
  }
};

std::string strip_transport(std::string_view reference) {
  if (reference.starts_with("docker://")) reference.remove_prefix(9);
  return std::string(reference);
}

OpenedImage open_image(Store& store, const TrustTarget& target) {
  OpenedImage image;
  if (!target.store_only && names_registry(target.reference)) {
    RemoteImage remote = open_remote_image(target.reference, target.registry);
    image.name = strip_transport(remote.name);
    image.reference = Reference::parse(image.name);
    image.root = remote.root;
    image.repository = image.reference.name();
    image.remote = remote.source;
    image.source = remote.source.get();
    image.in_registry = true;
    if (auto local = store.find(Store::canonical_name(image.name))) {
      image.also_in_store = local->descriptor.digest == image.root.digest;
    }
    return image;
  }
  NamedImage named = store.resolve(target.reference);
  if (Digest::try_parse(named.name)) {
    for (const auto& candidate : store.images()) {
      if (candidate.descriptor.digest == named.descriptor.digest) named.name = candidate.name;
    }
  }
  image.name = named.name;
  image.root = named.descriptor;
  image.source = &store;
  auto parsed = Digest::try_parse(named.name) ? std::nullopt : Reference::try_parse(named.name);
  if (!parsed) {
    fail("cannot tell the repository of {}: name the image (gocrate tag {} NAME:TAG)", target.reference,
         target.reference);
  }
  image.reference = *parsed;
  return image;
}

// The root and, for an index, each image manifest under it (as cosign
// --recursive), leaving out BuildKit's attestation manifests.
std::vector<Descriptor> manifests_to_sign(const OpenedImage& image) {
  std::vector<Descriptor> out{image.root};
  if (!media_type::is_index(image.root.media_type)) return out;
  Index index = Index::parse(image.source->read_blob(image.root), image.name);
  for (const auto& d : index.manifests) {
    if (!media_type::is_manifest(d.media_type) || d.annotations.contains(std::string(kReferenceType)))
      continue;
    out.push_back(d);
  }
  return out;
}

std::string default_identity(const OpenedImage& image) {
  const Reference& ref = image.reference;
  std::string repository = qualified_repository(ref);
  if (ref.digest && ref.tag.empty()) return repository;
  return repository + ":" + ref.with_default_tag().tag;
}

Descriptor subject_descriptor(const Descriptor& d) {
  return Descriptor{d.media_type, d.digest, d.size};
}

// Adds `entry` to the attachment of `subject` wherever the image lives.
void attach(Store& store, const OpenedImage& image, const TrustTarget& target, const Descriptor& subject,
            AttachmentKind kind, const AttachedEntry& entry) {
  Descriptor s = subject_descriptor(subject);
  if (image.in_registry) {
    Attachment attachment{s, kind, {entry}};
    push_registry_attachment(image.repository, attachment, target.registry);
  }
  if (!image.in_registry || image.also_in_store) {
    merge_store_attachment(store, Attachment{s, kind, {entry}});
  }
}

std::optional<Attachment> read_attachments(Store& store, const OpenedImage& image, const TrustTarget& target,
                                           AttachmentKind kind) {
  if (image.in_registry) {
    return fetch_registry_attachment(image.repository, subject_descriptor(image.root), kind, target.registry);
  }
  return find_store_attachment(store, image.root.digest, kind);
}

std::string entry_where(const OpenedImage& image, AttachmentKind kind, size_t i) {
  std::string_view what = kind == AttachmentKind::signature ? "signature" : "attestation";
  if (!image.in_registry) return fmt::format("{} {} in the store", what, i + 1);
  return fmt::format("{} {} of {}:{}", what, i + 1, image.repository,
                     attachment_tag(image.root.digest, kind));
}

std::string none_found(const OpenedImage& image, AttachmentKind kind) {
  std::string_view what = kind == AttachmentKind::signature ? "signatures" : "attestations";
  if (!image.in_registry) return fmt::format("the store holds no {} of {}", what, image.root.digest.str());
  return fmt::format("the registry has no {}:{}", image.repository, attachment_tag(image.root.digest, kind));
}

}  // namespace

std::vector<SignedManifest> sign_image(Store& store, const TrustTarget& target, const PrivateKey& key,
                                       const std::string& identity, const json& optional) {
  OpenedImage image = open_image(store, target);
  std::string signed_identity = identity.empty() ? default_identity(image) : identity;
  if (!identity.empty()) Reference::parse(identity);
  json claims = optional.is_null() ? json::object() : optional;
  if (!claims.is_object()) fail("the optional claims of a signature must be a JSON object");
  if (!claims.contains("creator")) claims["creator"] = fmt::format("gocrate {}", GOCRATE_VERSION);

  std::vector<SignedManifest> out;
  for (const auto& manifest : manifests_to_sign(image)) {
    std::string payload = make_signature_payload({signed_identity, manifest.digest, claims});
    AttachedEntry entry{std::string(media_type::simple_signing), payload, key.sign(payload), {}};
    attach(store, image, target, manifest, AttachmentKind::signature, entry);
    out.push_back(
        {manifest.digest, signed_identity, image.where(manifest.digest, AttachmentKind::signature)});
  }
  record_image_event(store.dir(), "sign", image.root.digest.str(), image.name);
  return out;
}

std::vector<SignedManifest> attest_image(Store& store, const TrustTarget& target, const PrivateKey& key,
                                         std::string_view predicate_type, const json& predicate,
                                         const std::optional<Digest>& manifest) {
  OpenedImage image = open_image(store, target);
  Descriptor subject = image.root;
  if (manifest && *manifest != image.root.digest) {
    auto manifests = manifests_to_sign(image);
    auto it = std::find_if(manifests.begin(), manifests.end(),
                           [&](const Descriptor& d) { return d.digest == *manifest; });
    if (it == manifests.end()) fail("{} has no manifest {}", image.name, manifest->str());
    subject = *it;
  }
  InTotoStatement statement;
  statement.predicate_type = std::string(predicate_type);
  statement.subjects.push_back({image.reference.name(), subject.digest});
  statement.predicate = predicate;
  DsseEnvelope envelope = dsse_sign(key, media_type::in_toto, statement.to_json_text());
  AttachedEntry entry{std::string(media_type::dsse_envelope),
                      envelope.to_json_text(),
                      "",
                      {{std::string(annotation::predicate_type), std::string(predicate_type)}}};
  attach(store, image, target, subject, AttachmentKind::attestation, entry);
  return {{subject.digest, image.reference.name(), image.where(subject.digest, AttachmentKind::attestation)}};
}

VerificationReport verify_image(Store& store, const TrustTarget& target, const PublicKey& key) {
  OpenedImage image = open_image(store, target);
  VerificationReport report{image.name, image.root, key.fingerprint(), {}, {}};
  auto attachment = read_attachments(store, image, target, AttachmentKind::signature);
  if (!attachment || attachment->entries.empty()) {
    fail("no signature of {} verified with key {}: {}", image.name, report.key,
         none_found(image, AttachmentKind::signature));
  }
  std::string repository = qualified_repository(image.reference);
  for (size_t i = 0; i < attachment->entries.size(); ++i) {
    const AttachedEntry& entry = attachment->entries[i];
    std::string where = entry_where(image, AttachmentKind::signature, i);
    auto reject = [&](const std::string& why) { report.rejected.push_back(where + ": " + why); };
    if (entry.signature.empty()) {
      reject("it has no signature");
      continue;
    }
    if (!key.verify(entry.content, entry.signature)) {
      reject("not signed by this key");
      continue;
    }
    SignaturePayload payload;
    try {
      payload = parse_signature_payload(entry.content, where);
    } catch (const Error& e) {
      report.rejected.push_back(e.what());
      continue;
    }
    if (payload.manifest_digest != image.root.digest) {
      reject(fmt::format("it signs {}, not this image's {}", payload.manifest_digest.str(),
                         image.root.digest.str()));
      continue;
    }
    auto signed_ref = Reference::try_parse(payload.docker_reference);
    if (!signed_ref || qualified_repository(*signed_ref) != repository) {
      reject(fmt::format("its identity \"{}\" is not repository {}", payload.docker_reference, repository));
      continue;
    }
    report.verified.push_back({payload.manifest_digest, payload.docker_reference, payload.optional, where});
  }
  if (report.verified.empty()) {
    fail("no signature of {} verified with key {}: {}", image.name, report.key, join(report.rejected, "; "));
  }
  return report;
}

AttestationReport verify_attestations(Store& store, const TrustTarget& target, const PublicKey& key,
                                      std::string_view predicate_type) {
  OpenedImage image = open_image(store, target);
  AttestationReport report{image.name, image.root, key.fingerprint(), {}, {}};
  auto attachment = read_attachments(store, image, target, AttachmentKind::attestation);
  if (!attachment || attachment->entries.empty()) {
    fail("no attestation of {} verified with key {}: {}", image.name, report.key,
         none_found(image, AttachmentKind::attestation));
  }
  // Attestations of other predicate types are left out, as cosign does,
  // and named only when nothing verifies.
  std::vector<std::string> other_types;
  for (size_t i = 0; i < attachment->entries.size(); ++i) {
    const AttachedEntry& entry = attachment->entries[i];
    std::string where = entry_where(image, AttachmentKind::attestation, i);
    auto reject = [&](const std::string& why) { report.rejected.push_back(where + ": " + why); };
    try {
      DsseEnvelope envelope = DsseEnvelope::parse(entry.content, where);
      if (!dsse_verify(envelope, key)) {
        reject("not signed by this key");
        continue;
      }
      if (envelope.payload_type != media_type::in_toto) {
        reject(fmt::format("its payload is {}, not an in-toto statement", envelope.payload_type));
        continue;
      }
      InTotoStatement statement = InTotoStatement::parse(envelope.payload, where);
      bool about_root = std::any_of(statement.subjects.begin(), statement.subjects.end(),
                                    [&](const auto& s) { return s.digest == image.root.digest; });
      if (!about_root) {
        reject(fmt::format("its subjects do not include {}", image.root.digest.str()));
        continue;
      }
      if (!predicate_type.empty() && statement.predicate_type != predicate_type) {
        other_types.push_back(fmt::format("{}: predicate type {}", where, statement.predicate_type));
        continue;
      }
      report.verified.push_back({std::move(statement), where});
    } catch (const Error& e) {
      reject(e.what());
    }
  }
  if (report.verified.empty()) {
    std::vector<std::string> reasons = report.rejected;
    reasons.insert(reasons.end(), other_types.begin(), other_types.end());
    fail("no attestation of {}{} verified with key {}: {}", image.name,
         predicate_type.empty() ? "" : fmt::format(" of predicate type {}", predicate_type), report.key,
         join(reasons, "; "));
  }
  return report;
}

std::vector<SignatureCandidate> store_signatures(Store& store, const Digest& root) {
  std::vector<SignatureCandidate> out;
  auto attachment = find_store_attachment(store, root, AttachmentKind::signature);
  if (!attachment) return out;
  for (size_t i = 0; i < attachment->entries.size(); ++i) {
    const AttachedEntry& entry = attachment->entries[i];
    out.push_back(
        {entry.content, entry.signature, fmt::format("signature {} of {} in the store", i + 1, root.str())});
  }
  return out;
}

void enforce_store_policy(Store& store, const NamedImage& image, const std::optional<PolicyInEffect>& policy,
                          std::string_view action) {
  if (!policy) return;
  const Digest& root = image.descriptor.digest;
  if (store.cache_get("built", root.hex)) return;
  auto reference = Digest::try_parse(image.name) ? std::nullopt : Reference::try_parse(image.name);
  if (!reference) {
    fail("{} {} refused by policy {}: the image has no name to find its scope by; tag it (gocrate tag)",
         action, image.name, policy->path);
  }
  bool unsigned_manifest = false;
  PolicyDecision decision = policy->policy.evaluate("docker", *reference, root, [&] {
    auto signatures = store_signatures(store, root);
    unsigned_manifest = signatures.empty() && media_type::is_manifest(image.descriptor.media_type);
    return signatures;
  });
  if (!decision.accepted) {
    // A pull of one platform keeps that platform's manifest, not the index.
    std::string_view hint = unsigned_manifest
                                ? "; if its registry signed only the index, pull it with "
                                  "--all-platforms, or sign each manifest (as gocrate sign does)"
                                : "";
    fail("{} {} refused by policy {} (scope {}): {}{}", action, image.name, policy->path, decision.scope,
         decision.reason, hint);
  }
}

void enforce_base_policy(Store& store, const LocatedImage& base, std::string_view location,
                         const std::optional<PolicyInEffect>& policy) {
  if (!policy) return;
  if (base.source == &store)
    return enforce_store_policy(store, NamedImage{base.name, base.root}, policy, "base");
  if (auto remote = std::dynamic_pointer_cast<RegistrySource>(base.owned)) {
    return enforce_registry_policy(RemoteImage{remote, base.root, base.name}, policy, "base");
  }
  std::string_view transport = location.substr(0, location.find(':'));
  if (transport == "oci-layout") transport = "oci";
  auto reference = Reference::try_parse(base.name);
  PolicyDecision decision =
      policy->policy.evaluate(transport, reference ? *reference : Reference::parse("base"), base.root.digest,
                              [] { return std::vector<SignatureCandidate>{}; });
  if (!decision.accepted) {
    fail("base {} refused by policy {} (scope {}): {}", location, policy->path, decision.scope,
         decision.reason);
  }
}

}  // namespace gocrate
