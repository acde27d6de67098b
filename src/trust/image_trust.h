#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "store/store.h"
#include "transport/image_location.h"
#include "transport/registry/registry_client.h"
#include "trust/attachments.h"
#include "trust/dsse.h"
#include "trust/keys.h"
#include "trust/policy.h"

namespace gocrate {

// Where an image to sign or verify lives. A reference that names a registry
// (names_registry) is read and written there, and when the store holds the
// same name at the same digest, the store's copy gets the same signatures;
// any other reference is a store image, whose attachments travel with push,
// pull, save and load.
struct TrustTarget {
  std::string reference;  // as the user wrote it
  RegistryOptions registry = RegistryOptions::from_environment();
  // The store's image even when the reference names a registry (a build's
  // names that were not pushed).
  bool store_only = false;
};

struct SignedManifest {
  Digest digest;
  std::string identity;  // the docker-reference signed
  std::string where;     // "localhost:5000/app:sha256-….sig", "the store"
};

// Signs the image's root and, for an index, each platform manifest (as
// cosign --recursive), with a simple-signing payload whose identity is
// `identity` or else the reference's name and tag.
std::vector<SignedManifest> sign_image(Store& store, const TrustTarget& target, const PrivateKey& key,
                                       const std::string& identity = "",
                                       const nlohmann::json& optional = nullptr);

// Wraps `predicate` in an in-toto statement about the image's root (or
// `manifest`, one of its platform manifests), signs it as DSSE and adds it
// to the `.att` attachment.
std::vector<SignedManifest> attest_image(Store& store, const TrustTarget& target, const PrivateKey& key,
                                         std::string_view predicate_type, const nlohmann::json& predicate,
                                         const std::optional<Digest>& manifest = std::nullopt);

struct VerifiedSignature {
  Digest digest;         // of the manifest signed
  std::string identity;  // docker-reference of the payload
  nlohmann::json optional;
  std::string where;  // which signature
};
struct VerificationReport {
  std::string image;
  Descriptor root;
  std::string key;  // fingerprint
  std::vector<VerifiedSignature> verified;
  std::vector<std::string> rejected;  // each refused signature and why
};
// Fails ("no signature of IMAGE verified with KEY: <reasons>") unless at
// least one signature of the root verifies with `key`, is for the root's
// digest and names the image's repository.
VerificationReport verify_image(Store& store, const TrustTarget& target, const PublicKey& key);

struct VerifiedAttestation {
  InTotoStatement statement;
  std::string where;
};
struct AttestationReport {
  std::string image;
  Descriptor root;
  std::string key;
  std::vector<VerifiedAttestation> verified;
  std::vector<std::string> rejected;
};
// As verify_image for attestations; `predicate_type` empty means any.
AttestationReport verify_attestations(Store& store, const TrustTarget& target, const PublicKey& key,
                                      std::string_view predicate_type);

// The signatures of a store image's root, as the policy wants them.
std::vector<SignatureCandidate> store_signatures(Store& store, const Digest& root);

// Applies the policy (if any) to a store image before it runs or is used as
// a base: images the store recorded as built here are accepted by that
// record; others by their name's scope. Fails naming the image, the scope
// and what was missing.
void enforce_store_policy(Store& store, const NamedImage& image, const std::optional<PolicyInEffect>& policy,
                          std::string_view action);

// The policy for the base of a build, wherever `location` (as locate_image
// takes it) found it: the store and registries as above; OCI layouts and
// archives by their transport's scopes ("oci", "docker-archive",
// "oci-archive"), where no signature can be found.
void enforce_base_policy(Store& store, const LocatedImage& base, std::string_view location,
                         const std::optional<PolicyInEffect>& policy);

}  // namespace gocrate
