#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "image/digest.h"
#include "image/media_types.h"
#include "trust/keys.h"

namespace gocrate {

// A DSSE envelope (https://github.com/secure-systems-lab/dsse), as cosign
// stores attestations: {"payloadType","payload"(base64),"signatures":[{"keyid","sig"(base64)}]}.
struct DsseEnvelope {
  std::string payload_type;
  std::string payload;  // decoded
  struct Signature {
    std::string keyid;
    std::string sig;  // decoded (DER)
  };
  std::vector<Signature> signatures;

  static DsseEnvelope parse(std::string_view json_text, std::string_view what);
  std::string to_json_text() const;
};

// The pre-authentication encoding that DSSE signs:
// "DSSEv1" SP len(type) SP type SP len(body) SP body.
std::string dsse_pae(std::string_view payload_type, std::string_view payload);
DsseEnvelope dsse_sign(const PrivateKey& key, std::string_view payload_type, std::string_view payload);
// True when one of the envelope's signatures verifies with `key`.
bool dsse_verify(const DsseEnvelope& envelope, const PublicKey& key);

// An in-toto statement about one image manifest.
struct InTotoStatement {
  std::string type = "https://in-toto.io/Statement/v1";
  std::string predicate_type;
  struct Subject {
    std::string name;
    Digest digest;
  };
  std::vector<Subject> subjects;
  nlohmann::json predicate;

  static InTotoStatement parse(std::string_view json_text, std::string_view what);
  std::string to_json_text() const;
};

// cosign's --type names: slsaprovenance (v0.2), slsaprovenance02,
// slsaprovenance1 (v1), spdx, spdxjson, cyclonedx, link, vuln, openvex,
// custom; anything with "://" is taken as the predicate type itself. Fails
// naming the known names for anything else.
std::string predicate_type_uri(std::string_view type_name);

}  // namespace gocrate
