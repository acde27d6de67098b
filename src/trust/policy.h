#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "image/digest.h"
#include "image/reference.h"

namespace gocrate {

// A signature offered for an image: a simple-signing payload and its
// decoded signature (from the store's or the registry's attachments).
struct SignatureCandidate {
  std::string payload;
  std::string signature;
  std::string where;  // "signature 2 of localhost:5000/app:sha256-….sig"
};

// One policy requirement of containers-policy.json(5).
struct PolicyRequirement {
  enum class Type { insecure_accept_anything, reject, signed_by, sigstore_signed, signed_base_layer };
  Type type = Type::reject;
  // sigstoreSigned: the PEM keys (keyPath / keyPaths read at load, relative
  // ones against `relative_to`; keyData / keyDatas decoded); a signature by
  // any of them counts. fulcio, pki and rekorPublicKey* are parsed and refused
  // at evaluation, with the reason, as gocrate cannot check them offline.
  std::vector<std::string> key_pems;
  std::string key_source;  // "keyPath /etc/pki/app.pub" for messages
  bool needs_fulcio = false;
  bool needs_rekor = false;
  bool needs_pki = false;
  // signedIdentity
  enum class Identity {
    match_repo_digest_or_exact,
    match_exact,
    match_repository,
    exact_reference,
    exact_repository,
    remap_identity
  };
  Identity identity = Identity::match_repo_digest_or_exact;
  std::string identity_reference;  // dockerReference / dockerRepository
  std::string remap_prefix, remap_signed_prefix;
};

struct PolicyDecision {
  bool accepted = false;
  std::string scope;   // `docker "localhost:5000/app"`, or "default"
  std::string reason;  // why refused: "no signature verified with keyPath …: …"
  // "insecureAcceptAnything", "sigstoreSigned keyPath …: signature 1 (identity …)"
  std::vector<std::string> accepted_by;
};

// containers-policy.json(5): the same file (/etc/containers/policy.json)
// that governs Podman, skopeo and CRI-O. Scopes are looked up as that format
// does for the "docker" transport: host/path:tag, host/path, each parent
// namespace, host, "*.domain" wildcards, then "" and the global default.
class SignaturePolicy {
 public:
  // Errors name the file and the JSON path (unknown requirement type,
  // missing keyPath, unreadable key, invalid scope).
  static SignaturePolicy parse(std::string_view json_text, std::string_view what,
                               const std::string& relative_to = ".");
  static SignaturePolicy load(const std::string& path);
  // --signature-policy FILE when given, else $GOCRATE_SIGNATURE_POLICY, else
  // $HOME/.config/containers/policy.json or /etc/containers/policy.json,
  // the first that exists (as containers/image), else nullopt (accept anything).
  static std::optional<std::string> path_for(const std::string& given);

  const std::vector<PolicyRequirement>& requirements_for(std::string_view transport, const Reference& image,
                                                         std::string* scope = nullptr) const;
  // Every requirement of the matching scope must hold. `signatures` is called
  // only when a requirement needs signatures.
  PolicyDecision evaluate(std::string_view transport, const Reference& image, const Digest& manifest_digest,
                          const std::function<std::vector<SignatureCandidate>()>& signatures) const;
  // Whether the scope of `image` has a sigstoreSigned requirement.
  bool wants_signatures(std::string_view transport, const Reference& image) const;

 private:
  std::vector<PolicyRequirement> default_;
  std::map<std::string, std::map<std::string, std::vector<PolicyRequirement>>> transports_;
};

// The policy in effect and the file it came from (for messages).
struct PolicyInEffect {
  std::string path;
  SignaturePolicy policy;
};
// Loads what SignaturePolicy::path_for(given) names; nullopt when there is
// no policy. Callers load it before any other work, so that a broken policy
// file is reported as such whatever the image.
std::optional<PolicyInEffect> load_policy_in_effect(const std::string& given);

// registries.d (containers-registries.d(5)): YAML files with `default-docker`
// and `docker: {SCOPE: {...}}`. gocrate reads `use-sigstore-attachments`.
class RegistriesD {
 public:
  // `dir`, else $GOCRATE_REGISTRIES_D, else $HOME/.config/containers/registries.d
  // if it exists (as containers/image), else /etc/containers/registries.d; a
  // missing directory is empty. Errors name the file.
  static RegistriesD load(const std::string& dir = "");
  // The most specific scope's setting (host/path, parents, host, default-docker).
  std::optional<bool> use_sigstore_attachments(const Reference& image) const;

 private:
  std::optional<bool> default_;
  std::map<std::string, bool> scopes_;
};

}  // namespace gocrate
