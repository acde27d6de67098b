#include "trust/simple_signing.h"

#include <cmath>
#include <set>
#include <vector>

#include "image/manifest.h"
#include "util/error.h"

namespace gocrate {

namespace {

constexpr std::string_view kSignatureType = "cosign container image signature";

using nlohmann::json;

// containers/image parses payloads "paranoidly": a key given twice is an
// error, not "the last one wins" as in most JSON parsers.
json parse_without_duplicate_keys(std::string_view text, std::string_view what) {
  std::vector<std::set<std::string>> open_objects;
  std::string duplicate;
  json::parser_callback_t check = [&](int, json::parse_event_t event, json& parsed) {
    switch (event) {
      case json::parse_event_t::object_start:
        open_objects.emplace_back();
        break;
      case json::parse_event_t::object_end:
        if (!open_objects.empty()) open_objects.pop_back();
        break;
      case json::parse_event_t::key:
        if (!open_objects.empty() && !open_objects.back().insert(parsed.get<std::string>()).second &&
            duplicate.empty())
          duplicate = parsed.get<std::string>();
        break;
      default:
        break;
    }
    return true;
  };
  json value;
  try {
    value = json::parse(text, check);
  } catch (const json::exception&) {
    parse_json(text, what);  // fails with the parser's reason
    throw;
  }
  if (!duplicate.empty()) fail("{}: key \"{}\" appears twice in one object", what, duplicate);
  return value;
}

// The members of `object` (at `path`), which must be exactly `keys`.
const json& exact_object(const json& value, std::string_view path,
                         std::initializer_list<std::string_view> keys, std::string_view what) {
  if (!value.is_object()) fail("{}: {} must be a JSON object", what, path);
  for (auto& [key, member] : value.items()) {
    bool known = false;
    for (auto k : keys) known = known || key == k;
    if (!known) fail("{}: unexpected field \"{}\" in {}", what, key, path);
  }
  for (auto key : keys)
    if (!value.contains(key)) fail("{}: {} has no \"{}\"", what, path, key);
  return value;
}

std::string string_member(const json& object, std::string_view path, const char* key, std::string_view what) {
  const json& member = object.at(key);
  if (!member.is_string()) fail("{}: {}.\"{}\" must be a string", what, path, key);
  return member.get<std::string>();
}

}  // namespace

std::string make_signature_payload(const SignaturePayload& payload) {
  if (payload.docker_reference.empty()) fail("a signature payload needs a docker-reference");
  if (payload.manifest_digest.empty()) fail("a signature payload needs a manifest digest");
  if (!payload.optional.is_null() && !payload.optional.is_object())
    fail("a signature payload's \"optional\" must be null or an object");
  json document = {
      {"critical",
       {{"identity", {{"docker-reference", payload.docker_reference}}},
        {"image", {{"docker-manifest-digest", payload.manifest_digest.str()}}},
        {"type", kSignatureType}}},
      {"optional", payload.optional},
  };
  return document.dump();
}

SignaturePayload parse_signature_payload(std::string_view json_text, std::string_view what) {
  json document = parse_without_duplicate_keys(json_text, what);
  exact_object(document, "the payload", {"critical", "optional"}, what);
  const json& critical =
      exact_object(document.at("critical"), "\"critical\"", {"identity", "image", "type"}, what);
  std::string type = string_member(critical, "\"critical\"", "type", what);
  if (type != kSignatureType)
    fail("{}: unrecognised signature type \"{}\" (expected \"{}\")", what, type, kSignatureType);
  const json& image =
      exact_object(critical.at("image"), "\"critical.image\"", {"docker-manifest-digest"}, what);
  std::string digest_text = string_member(image, "\"critical.image\"", "docker-manifest-digest", what);
  auto digest = Digest::try_parse(digest_text);
  if (!digest) fail("{}: invalid docker-manifest-digest \"{}\"", what, digest_text);
  const json& identity =
      exact_object(critical.at("identity"), "\"critical.identity\"", {"docker-reference"}, what);

  SignaturePayload payload;
  payload.docker_reference = string_member(identity, "\"critical.identity\"", "docker-reference", what);
  payload.manifest_digest = *digest;
  const json& optional = document.at("optional");
  if (!optional.is_null()) {
    if (!optional.is_object()) fail("{}: \"optional\" must be null or a JSON object", what);
    if (optional.contains("creator") && !optional.at("creator").is_string())
      fail("{}: \"optional.creator\" must be a string", what);
    if (optional.contains("timestamp")) {
      const json& timestamp = optional.at("timestamp");
      bool integral =
          timestamp.is_number_integer() ||
          (timestamp.is_number_float() && std::trunc(timestamp.get<double>()) == timestamp.get<double>());
      if (!integral) fail("{}: \"optional.timestamp\" must be an integer", what);
    }
    payload.optional = optional;
  }
  return payload;
}

}  // namespace gocrate
