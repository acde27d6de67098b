#include "trust/dsse.h"

#include <fmt/format.h>

#include <array>

#include "image/manifest.h"
#include "transport/registry/base64.h"
#include "util/error.h"

namespace gocrate {

namespace {

using nlohmann::json;

// DSSE allows standard and URL-safe base64, padded or not.
std::optional<std::string> decode_any_base64(std::string text) {
  for (char& c : text) {
    if (c == '-') c = '+';
    if (c == '_') c = '/';
  }
  return base64_decode(text);
}

std::string required_string(const json& object, const char* key, std::string_view what) {
  auto it = object.find(key);
  if (it == object.end() || !it->is_string()) fail("{}: missing string \"{}\"", what, key);
  return it->get<std::string>();
}

struct PredicateName {
  std::string_view name;
  std::string_view uri;
};

constexpr std::array<PredicateName, 11> kPredicateNames = {{
    {"slsaprovenance", "https://slsa.dev/provenance/v0.2"},
    {"slsaprovenance02", "https://slsa.dev/provenance/v0.2"},
    {"slsaprovenance1", "https://slsa.dev/provenance/v1"},
    {"spdx", "https://spdx.dev/Document"},
    {"spdxjson", "https://spdx.dev/Document"},
    {"cyclonedx", "https://cyclonedx.org/bom"},
    {"link", "https://in-toto.io/Link/v1"},
    {"vuln", "https://cosign.sigstore.dev/attestation/vuln/v1"},
    {"openvex", "https://openvex.dev/ns"},
    {"custom", "https://cosign.sigstore.dev/attestation/v1"},
    {"cyclonedxxml", "https://cyclonedx.org/bom"},
}};

}  // namespace

DsseEnvelope DsseEnvelope::parse(std::string_view json_text, std::string_view what) {
  json document = parse_json(json_text, what);
  if (!document.is_object()) fail("{}: a DSSE envelope must be a JSON object", what);
  DsseEnvelope envelope;
  envelope.payload_type = required_string(document, "payloadType", what);
  auto payload = decode_any_base64(required_string(document, "payload", what));
  if (!payload) fail("{}: \"payload\" is not base64", what);
  envelope.payload = std::move(*payload);
  auto signatures = document.find("signatures");
  if (signatures == document.end() || !signatures->is_array()) fail("{}: missing array \"signatures\"", what);
  for (const json& entry : *signatures) {
    if (!entry.is_object()) fail("{}: each of \"signatures\" must be an object", what);
    Signature signature;
    auto keyid = entry.find("keyid");
    if (keyid != entry.end() && !keyid->is_null()) {
      if (!keyid->is_string()) fail("{}: a signature's \"keyid\" must be a string", what);
      signature.keyid = keyid->get<std::string>();
    }
    auto sig = decode_any_base64(required_string(entry, "sig", what));
    if (!sig) fail("{}: a signature's \"sig\" is not base64", what);
    signature.sig = std::move(*sig);
    envelope.signatures.push_back(std::move(signature));
  }
  return envelope;
}

std::string DsseEnvelope::to_json_text() const {
  nlohmann::ordered_json document;
  document["payloadType"] = payload_type;
  document["payload"] = base64_encode(payload);
  document["signatures"] = nlohmann::ordered_json::array();
  for (const Signature& signature : signatures)
    document["signatures"].push_back({{"keyid", signature.keyid}, {"sig", base64_encode(signature.sig)}});
  return document.dump();
}

std::string dsse_pae(std::string_view payload_type, std::string_view payload) {
  return fmt::format("DSSEv1 {} {} {} {}", payload_type.size(), payload_type, payload.size(), payload);
}

DsseEnvelope dsse_sign(const PrivateKey& key, std::string_view payload_type, std::string_view payload) {
  DsseEnvelope envelope;
  envelope.payload_type = std::string(payload_type);
  envelope.payload = std::string(payload);
  envelope.signatures.push_back({"", key.sign(dsse_pae(payload_type, payload))});
  return envelope;
}

bool dsse_verify(const DsseEnvelope& envelope, const PublicKey& key) {
  std::string pae = dsse_pae(envelope.payload_type, envelope.payload);
  for (const auto& signature : envelope.signatures)
    if (key.verify(pae, signature.sig)) return true;
  return false;
}

InTotoStatement InTotoStatement::parse(std::string_view json_text, std::string_view what) {
  json document = parse_json(json_text, what);
  if (!document.is_object()) fail("{}: an in-toto statement must be a JSON object", what);
  InTotoStatement statement;
  statement.type = required_string(document, "_type", what);
  if (statement.type != "https://in-toto.io/Statement/v1" &&
      statement.type != "https://in-toto.io/Statement/v0.1")
    fail("{}: unknown statement type \"{}\" (expected in-toto Statement v0.1 or v1)", what, statement.type);
  statement.predicate_type = required_string(document, "predicateType", what);
  auto subjects = document.find("subject");
  if (subjects == document.end() || !subjects->is_array() || subjects->empty())
    fail("{}: missing \"subject\" list", what);
  for (const json& entry : *subjects) {
    if (!entry.is_object()) fail("{}: each \"subject\" must be an object", what);
    Subject subject;
    auto name = entry.find("name");
    if (name != entry.end() && !name->is_null()) {
      if (!name->is_string()) fail("{}: a subject's \"name\" must be a string", what);
      subject.name = name->get<std::string>();
    }
    auto digests = entry.find("digest");
    if (digests == entry.end() || !digests->is_object()) fail("{}: a subject has no \"digest\" object", what);
    auto sha256 = digests->find("sha256");
    // Subjects digested only with other algorithms are kept, with an empty digest.
    if (sha256 != digests->end()) {
      if (!sha256->is_string()) fail("{}: a subject's sha256 digest must be a string", what);
      auto digest = Digest::try_parse("sha256:" + sha256->get<std::string>());
      if (!digest) fail("{}: invalid sha256 digest \"{}\" in \"subject\"", what, sha256->get<std::string>());
      subject.digest = *digest;
    }
    statement.subjects.push_back(std::move(subject));
  }
  auto predicate = document.find("predicate");
  if (predicate != document.end()) statement.predicate = *predicate;
  return statement;
}

std::string InTotoStatement::to_json_text() const {
  nlohmann::ordered_json document;
  document["_type"] = type;
  document["predicateType"] = predicate_type;
  document["subject"] = nlohmann::ordered_json::array();
  for (const Subject& subject : subjects)
    document["subject"].push_back({{"name", subject.name}, {"digest", {{"sha256", subject.digest.hex}}}});
  document["predicate"] = predicate;
  return document.dump();
}

std::string predicate_type_uri(std::string_view type_name) {
  for (const auto& known : kPredicateNames)
    if (known.name == type_name) return std::string(known.uri);
  if (type_name.find("://") != std::string_view::npos) return std::string(type_name);
  std::string names;
  for (const auto& known : kPredicateNames) names += (names.empty() ? "" : ", ") + std::string(known.name);
  fail("unknown predicate type \"{}\": use one of {} or a URI", type_name, names);
}

}  // namespace gocrate
