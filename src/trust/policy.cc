#include "trust/policy.h"

#include <dirent.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "transport/registry/base64.h"
#include "trust/keys.h"
#include "trust/simple_signing.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/strings.h"

namespace gocrate {

namespace {

using json = nlohmann::json;

// ---- JSON paths in messages: transports.docker["localhost:5000"][0] ----

std::string member_path(const std::string& parent, const std::string& key) {
  bool identifier = !key.empty() && (std::isalpha(static_cast<unsigned char>(key[0])) || key[0] == '_') &&
                    std::all_of(key.begin(), key.end(), [](char c) {
                      return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
                    });
  if (identifier) return parent.empty() ? key : parent + "." + key;
  return parent + "[" + json(key).dump() + "]";
}

std::string index_path(const std::string& parent, size_t index) {
  return parent + "[" + std::to_string(index) + "]";
}

// A DOM builder that, unlike nlohmann's own, refuses a key that appears twice
// in one object, as containers/image does for this file.
class StrictDom : public nlohmann::json_sax<json> {
 public:
  json root;
  std::string error;

  bool null() override { return value(nullptr); }
  bool boolean(bool v) override { return value(v); }
  bool number_integer(number_integer_t v) override { return value(v); }
  bool number_unsigned(number_unsigned_t v) override { return value(v); }
  bool number_float(number_float_t v, const string_t&) override { return value(v); }
  bool string(string_t& v) override { return value(v); }
  bool binary(binary_t&) override { return value(nullptr); }
  bool start_object(std::size_t) override { return open(json::object()); }
  bool end_object() override { return close(); }
  bool start_array(std::size_t) override { return open(json::array()); }
  bool end_array() override { return close(); }
  bool key(string_t& k) override {
    if (stack_.back()->contains(k)) {
      std::string where = paths_.back();
      error = where.empty() ? fmt::format("the key \"{}\" appears twice", k)
                            : fmt::format("{}: the key \"{}\" appears twice", where, k);
      return false;
    }
    key_ = k;
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& e) override {
    std::string text = e.what();
    if (auto end = text.find("] "); text.starts_with("[json.exception") && end != std::string::npos) {
      text = text.substr(end + 2);
    }
    error = text;
    return false;
  }

 private:
  std::vector<json*> stack_;
  std::vector<std::string> paths_;
  std::string key_;

  std::pair<json*, std::string> place(json v) {
    if (stack_.empty()) {
      root = std::move(v);
      return {&root, ""};
    }
    json& top = *stack_.back();
    if (top.is_array()) {
      std::string path = index_path(paths_.back(), top.size());
      top.push_back(std::move(v));
      return {&top.back(), path};
    }
    json& slot = top[key_];
    slot = std::move(v);
    return {&slot, member_path(paths_.back(), key_)};
  }
  bool value(json v) {
    place(std::move(v));
    return true;
  }
  bool open(json v) {
    auto [where, path] = place(std::move(v));
    stack_.push_back(where);
    paths_.push_back(path);
    return true;
  }
  bool close() {
    stack_.pop_back();
    paths_.pop_back();
    return true;
  }
};

// ---- Docker reference names, as github.com/distribution/reference ----

// The fully expanded form of a reference (docker.io/library/busybox:latest),
// as ParseNormalizedNamed yields it.
struct NamedRef {
  std::string name;
  std::string tag;
  std::optional<Digest> digest;

  bool name_only() const { return tag.empty() && !digest; }
  std::string str() const {
    std::string out = name;
    if (!tag.empty()) out += ":" + tag;
    if (digest) out += "@" + digest->str();
    return out;
  }
};

NamedRef normalized(const Reference& ref) {
  return {ref.registry() + "/" + ref.repository(), ref.tag, ref.digest};
}

std::optional<NamedRef> parse_normalized(std::string_view text) {
  auto ref = Reference::try_parse(text);
  if (!ref) return std::nullopt;
  return normalized(*ref);
}

// reference.ParseNamed: only the fully expanded form is accepted.
std::optional<NamedRef> parse_canonical(std::string_view text) {
  auto ref = Reference::try_parse(text);
  if (!ref || ref->domain != ref->registry() || ref->path != ref->repository()) return std::nullopt;
  return normalized(*ref);
}

// The image as the docker transport names it for policy: a name alone gets
// ":latest"; with both a tag and a digest the digest is what was pulled, so
// the tag is dropped (as Podman's reference parsing does).
NamedRef policy_image(const Reference& image) {
  NamedRef out = normalized(image.with_default_tag());
  if (out.digest) out.tag.clear();
  return out;
}

// docker/policyconfiguration: the identity, then its parent namespaces, the
// host, and "*.domain" wildcards of the host without its port.
std::vector<std::string> docker_scopes(const Reference& image) {
  NamedRef ref = policy_image(image);
  std::vector<std::string> out{ref.str()};
  std::string name = ref.name;
  for (;;) {
    out.push_back(name);
    auto slash = name.rfind('/');
    if (slash == std::string::npos) break;
    name.resize(slash);
  }
  if (auto colon = name.find(':'); colon != std::string::npos) name.resize(colon);
  for (;;) {
    auto dot = name.find('.');
    if (dot == std::string::npos) break;
    name = name.substr(dot + 1);
    out.push_back("*." + name);
  }
  return out;
}

bool uses_docker_naming(std::string_view transport) {
  return transport == "docker" || transport == "atomic" || transport == "docker-daemon";
}

// What the transports of containers/image refuse as a scope ("" is always
// allowed); "" when it is fine. Transports it does not know take anything.
std::string scope_problem(std::string_view transport, const std::string& scope) {
  if (transport == "docker-archive" || transport == "tarball") {
    return fmt::format("{} supports no scope but the default \"\"", transport);
  }
  if (transport == "docker-daemon" && Digest::try_parse(scope)) {
    return "docker-daemon cannot use an image ID as a scope";
  }
  if (transport == "dir" || transport == "oci" || transport == "oci-archive" || transport == "sif") {
    if (!scope.starts_with("/")) return "the scope must be an absolute path";
    if (scope == "/") return "use the default scope \"\" rather than \"/\"";
    auto parts = split(std::string_view(scope).substr(1), '/');
    bool clean = std::none_of(parts.begin(), parts.end(),
                              [](const std::string& p) { return p.empty() || p == "." || p == ".."; });
    if (!clean) return "the scope must be a path without empty, \".\" or \"..\" components";
  }
  return "";
}

// ---- policy.json ----

struct Parser {
  std::string what;
  std::string relative_to;

  [[noreturn]] void bad(const std::string& path, const std::string& message) const {
    if (path.empty()) fail("{}: {}", what, message);
    fail("{}: {}: {}", what, path, message);
  }

  static std::string type_name(const json& v) {
    switch (v.type()) {
      case json::value_t::object:
        return "an object";
      case json::value_t::array:
        return "an array";
      case json::value_t::string:
        return "a string";
      case json::value_t::boolean:
        return "a boolean";
      case json::value_t::null:
        return "null";
      default:
        return "a number";
    }
  }

  void expect_object(const json& v, const std::string& path, std::string_view of) const {
    if (!v.is_object()) bad(path, fmt::format("{} must be a JSON object, not {}", of, type_name(v)));
  }
  void known_fields(const json& v, const std::string& path, std::initializer_list<std::string_view> fields,
                    std::string_view of) const {
    for (const auto& [key, value] : v.items()) {
      if (std::find(fields.begin(), fields.end(), key) == fields.end()) {
        bad(path, fmt::format("unknown field \"{}\" in {}", key, of));
      }
    }
  }
  std::string string_field(const json& v, const std::string& path, const std::string& key) const {
    const json& member = v.at(key);
    if (!member.is_string()) {
      bad(member_path(path, key), fmt::format("must be a string, not {}", type_name(member)));
    }
    return member.get<std::string>();
  }
  std::string required_string(const json& v, const std::string& path, const std::string& key,
                              std::string_view of) const {
    if (!v.contains(key)) bad(path, fmt::format("{} needs \"{}\"", of, key));
    return string_field(v, path, key);
  }
  std::vector<std::string> string_list(const json& v, const std::string& path, const std::string& key) const {
    const json& member = v.at(key);
    std::string here = member_path(path, key);
    if (!member.is_array()) bad(here, fmt::format("must be an array of strings, not {}", type_name(member)));
    if (member.empty()) bad(here, "must not be empty");
    std::vector<std::string> out;
    for (size_t i = 0; i < member.size(); ++i) {
      if (!member[i].is_string())
        bad(index_path(here, i), fmt::format("must be a string, not {}", type_name(member[i])));
      out.push_back(member[i].get<std::string>());
    }
    return out;
  }
  std::string base64_field(const json& v, const std::string& path, const std::string& key) const {
    std::string text = string_field(v, path, key);
    auto decoded = base64_decode(text);
    if (!decoded) bad(member_path(path, key), "is not valid base64");
    return *decoded;
  }
  std::vector<std::string> base64_list(const json& v, const std::string& path, const std::string& key) const {
    std::vector<std::string> out;
    auto texts = string_list(v, path, key);
    for (size_t i = 0; i < texts.size(); ++i) {
      auto decoded = base64_decode(texts[i]);
      if (!decoded) bad(index_path(member_path(path, key), i), "is not valid base64");
      out.push_back(*decoded);
    }
    return out;
  }

  std::string resolve(const std::string& file) const {
    if (file.starts_with("/") || relative_to.empty() || relative_to == ".") return file;
    return relative_to + "/" + file;
  }

  // A public key, validated now so that a bad key fails the policy's load.
  std::string key_pem(std::string pem, const std::string& path, std::string_view from) const {
    try {
      PublicKey::from_pem(pem, from);
    } catch (const Error& e) {
      bad(path, e.what());
    }
    return pem;
  }
  std::string key_file(const std::string& file, const std::string& path) const {
    if (file.empty()) bad(path, "must not be empty");
    std::string resolved = resolve(file);
    std::string pem;
    try {
      pem = read_file(resolved);
    } catch (const Error& e) {
      bad(path, e.what());
    }
    return key_pem(std::move(pem), path, resolved);
  }

  void identity(const json& v, const std::string& path, PolicyRequirement& req) const {
    using Identity = PolicyRequirement::Identity;
    expect_object(v, path, "signedIdentity");
    if (!v.contains("type")) bad(path, "signedIdentity needs \"type\"");
    std::string type = string_field(v, path, "type");
    auto exact_fields = [&](std::initializer_list<std::string_view> fields) {
      known_fields(v, path, fields, fmt::format("a {} signedIdentity", type));
      for (std::string_view field : fields) {
        if (!v.contains(std::string(field)))
          bad(path, fmt::format("{} signedIdentity needs \"{}\"", type, field));
      }
    };
    if (type == "matchExact") {
      exact_fields({"type"});
      req.identity = Identity::match_exact;
    } else if (type == "matchRepoDigestOrExact") {
      exact_fields({"type"});
      req.identity = Identity::match_repo_digest_or_exact;
    } else if (type == "matchRepository") {
      exact_fields({"type"});
      req.identity = Identity::match_repository;
    } else if (type == "exactReference") {
      exact_fields({"type", "dockerReference"});
      std::string text = string_field(v, path, "dockerReference");
      std::string here = member_path(path, "dockerReference");
      auto parsed = Reference::try_parse(text);
      if (!parsed) bad(here, error_of_parse(text));
      if (parsed->tag.empty() && !parsed->digest) {
        bad(here, fmt::format("\"{}\" has neither a tag nor a digest; exactReference needs one", text));
      }
      req.identity = Identity::exact_reference;
      req.identity_reference = text;
    } else if (type == "exactRepository") {
      exact_fields({"type", "dockerRepository"});
      std::string text = string_field(v, path, "dockerRepository");
      if (!Reference::try_parse(text)) bad(member_path(path, "dockerRepository"), error_of_parse(text));
      req.identity = Identity::exact_repository;
      req.identity_reference = text;
    } else if (type == "remapIdentity") {
      exact_fields({"type", "prefix", "signedPrefix"});
      req.remap_prefix = string_field(v, path, "prefix");
      req.remap_signed_prefix = string_field(v, path, "signedPrefix");
      for (const char* key : {"prefix", "signedPrefix"}) {
        const std::string& value =
            key == std::string_view("prefix") ? req.remap_prefix : req.remap_signed_prefix;
        if (!valid_remap_prefix(value)) {
          bad(member_path(path, key),
              fmt::format("\"{}\" is not a host[:port], namespace or repository in fully expanded form",
                          value));
        }
      }
      req.identity = Identity::remap_identity;
    } else {
      bad(member_path(path, "type"), fmt::format("unknown signedIdentity type \"{}\"", type));
    }
  }

  static std::string error_of_parse(const std::string& text) {
    try {
      Reference::parse(text);
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  }

  // validateIdentityRemappingPrefix: a domain, or a name that starts with one.
  static bool valid_remap_prefix(const std::string& s) {
    if (is_valid_domain(s)) return true;
    auto parts = split(s, '/');
    if (parts.size() < 2 || !is_valid_domain(parts[0])) return false;
    return std::all_of(parts.begin() + 1, parts.end(),
                       [](const std::string& p) { return is_valid_path_component(p); });
  }

  void signed_by(const json& v, const std::string& path, PolicyRequirement& req) const {
    known_fields(v, path, {"type", "keyType", "keyPath", "keyPaths", "keyData", "signedIdentity"},
                 "a signedBy requirement");
    if (!v.contains("keyType")) bad(path, "signedBy needs \"keyType\"");
    std::string key_type = string_field(v, path, "keyType");
    if (key_type != "GPGKeys" && key_type != "signedByGPGKeys" && key_type != "X509Certificates" &&
        key_type != "signedByX509CAs") {
      bad(member_path(path, "keyType"), fmt::format("unrecognised keyType \"{}\"", key_type));
    }
    int sources = int(v.contains("keyPath")) + int(v.contains("keyPaths")) + int(v.contains("keyData"));
    if (sources != 1) bad(path, "exactly one of keyPath, keyPaths and keyData must be specified");
    if (v.contains("keyPath")) {
      std::string file = string_field(v, path, "keyPath");
      if (file.empty()) bad(member_path(path, "keyPath"), "must not be empty");
      req.key_source = "keyPath " + resolve(file);
    } else if (v.contains("keyPaths")) {
      req.key_source = "keyPaths " + join(string_list(v, path, "keyPaths"), ", ");
    } else {
      base64_field(v, path, "keyData");
      req.key_source = "keyData";
    }
    if (v.contains("signedIdentity"))
      identity(v.at("signedIdentity"), member_path(path, "signedIdentity"), req);
  }

  void sigstore_signed(const json& v, const std::string& path, PolicyRequirement& req) const {
    known_fields(v, path,
                 {"type", "keyPath", "keyPaths", "keyData", "keyDatas", "fulcio", "pki", "rekorPublicKeyPath",
                  "rekorPublicKeyPaths", "rekorPublicKeyData", "rekorPublicKeyDatas", "signedIdentity"},
                 "a sigstoreSigned requirement");
    int sources = 0;
    for (const char* key : {"keyPath", "keyPaths", "keyData", "keyDatas", "fulcio", "pki"})
      sources += v.contains(key);
    if (sources != 1)
      bad(path, "exactly one of keyPath, keyPaths, keyData, keyDatas, fulcio and pki must be specified");
    int rekor = 0;
    for (const char* key :
         {"rekorPublicKeyPath", "rekorPublicKeyPaths", "rekorPublicKeyData", "rekorPublicKeyDatas"}) {
      rekor += v.contains(key);
    }
    if (rekor > 1) {
      bad(path,
          "at most one of rekorPublicKeyPath, rekorPublicKeyPaths, rekorPublicKeyData and "
          "rekorPublicKeyDatas can be "
          "specified");
    }
    if (v.contains("fulcio") && rekor == 0) {
      bad(path,
          "fulcio needs one of rekorPublicKeyPath, rekorPublicKeyPaths, rekorPublicKeyData, "
          "rekorPublicKeyDatas");
    }
    if (v.contains("pki") && rekor > 0) bad(path, "rekorPublicKey* cannot be used with pki");
    if (v.contains("rekorPublicKeyPath") && string_field(v, path, "rekorPublicKeyPath").empty()) {
      bad(member_path(path, "rekorPublicKeyPath"), "must not be empty");
    }
    if (v.contains("rekorPublicKeyPaths")) string_list(v, path, "rekorPublicKeyPaths");
    if (v.contains("rekorPublicKeyData")) base64_field(v, path, "rekorPublicKeyData");
    if (v.contains("rekorPublicKeyDatas")) base64_list(v, path, "rekorPublicKeyDatas");
    req.needs_rekor = rekor > 0;

    if (v.contains("keyPath")) {
      std::string file = string_field(v, path, "keyPath");
      req.key_pems.push_back(key_file(file, member_path(path, "keyPath")));
      req.key_source = "keyPath " + resolve(file);
    } else if (v.contains("keyPaths")) {
      auto files = string_list(v, path, "keyPaths");
      std::vector<std::string> resolved;
      for (size_t i = 0; i < files.size(); ++i) {
        req.key_pems.push_back(key_file(files[i], index_path(member_path(path, "keyPaths"), i)));
        resolved.push_back(resolve(files[i]));
      }
      req.key_source = "keyPaths " + join(resolved, ", ");
    } else if (v.contains("keyData")) {
      req.key_pems.push_back(
          key_pem(base64_field(v, path, "keyData"), member_path(path, "keyData"), "keyData"));
      req.key_source = "keyData";
    } else if (v.contains("keyDatas")) {
      auto pems = base64_list(v, path, "keyDatas");
      for (size_t i = 0; i < pems.size(); ++i) {
        req.key_pems.push_back(key_pem(pems[i], index_path(member_path(path, "keyDatas"), i), "keyDatas"));
      }
      req.key_source = "keyDatas";
    } else if (v.contains("fulcio")) {
      fulcio(v.at("fulcio"), member_path(path, "fulcio"));
      req.needs_fulcio = true;
      req.key_source = "fulcio";
    } else {
      pki(v.at("pki"), member_path(path, "pki"));
      req.needs_pki = true;
      req.key_source = "pki";
    }
    if (v.contains("signedIdentity"))
      identity(v.at("signedIdentity"), member_path(path, "signedIdentity"), req);
  }

  void fulcio(const json& v, const std::string& path) const {
    expect_object(v, path, "fulcio");
    known_fields(v, path, {"caPath", "caData", "oidcIssuer", "subjectEmail"}, "fulcio");
    if (v.contains("caPath") == v.contains("caData"))
      bad(path, "exactly one of caPath and caData must be specified");
    if (v.contains("caData")) base64_field(v, path, "caData");
    if (v.contains("caPath") && string_field(v, path, "caPath").empty())
      bad(path, "caPath must not be empty");
    if (required_string(v, path, "oidcIssuer", "fulcio").empty()) bad(path, "oidcIssuer must not be empty");
    if (required_string(v, path, "subjectEmail", "fulcio").empty())
      bad(path, "subjectEmail must not be empty");
  }

  void pki(const json& v, const std::string& path) const {
    expect_object(v, path, "pki");
    known_fields(v, path,
                 {"caRootsPath", "caRootsData", "caIntermediatesPath", "caIntermediatesData", "subjectEmail",
                  "subjectHostname"},
                 "pki");
    if (v.contains("caRootsPath") == v.contains("caRootsData")) {
      bad(path, "exactly one of caRootsPath and caRootsData must be specified");
    }
    if (v.contains("caIntermediatesPath") && v.contains("caIntermediatesData")) {
      bad(path, "caIntermediatesPath and caIntermediatesData cannot be used together");
    }
    for (const char* key : {"caRootsPath", "caIntermediatesPath", "subjectEmail", "subjectHostname"}) {
      if (v.contains(key)) string_field(v, path, key);
    }
    for (const char* key : {"caRootsData", "caIntermediatesData"}) {
      if (v.contains(key)) base64_field(v, path, key);
    }
    bool email = v.contains("subjectEmail") && !v.at("subjectEmail").get<std::string>().empty();
    bool host = v.contains("subjectHostname") && !v.at("subjectHostname").get<std::string>().empty();
    if (!email && !host) bad(path, "at least one of subjectEmail and subjectHostname must be specified");
  }

  PolicyRequirement requirement(const json& v, const std::string& path) const {
    using Type = PolicyRequirement::Type;
    expect_object(v, path, "a requirement");
    if (!v.contains("type")) bad(path, "a requirement needs \"type\"");
    std::string type = string_field(v, path, "type");
    PolicyRequirement req;
    if (type == "insecureAcceptAnything") {
      known_fields(v, path, {"type"}, "an insecureAcceptAnything requirement");
      req.type = Type::insecure_accept_anything;
    } else if (type == "reject") {
      known_fields(v, path, {"type"}, "a reject requirement");
      req.type = Type::reject;
    } else if (type == "signedBy") {
      req.type = Type::signed_by;
      signed_by(v, path, req);
    } else if (type == "sigstoreSigned") {
      req.type = Type::sigstore_signed;
      sigstore_signed(v, path, req);
    } else if (type == "signedBaseLayer") {
      known_fields(v, path, {"type", "baseLayerIdentity"}, "a signedBaseLayer requirement");
      if (!v.contains("baseLayerIdentity")) bad(path, "signedBaseLayer needs \"baseLayerIdentity\"");
      PolicyRequirement ignored;
      identity(v.at("baseLayerIdentity"), member_path(path, "baseLayerIdentity"), ignored);
      req.type = Type::signed_base_layer;
    } else {
      bad(path, fmt::format("unknown requirement type \"{}\"", type));
    }
    return req;
  }

  std::vector<PolicyRequirement> requirements(const json& v, const std::string& path) const {
    if (!v.is_array())
      bad(path, fmt::format("must be an array of requirements, not {}", Parser::type_name(v)));
    if (v.empty()) bad(path, "the list of requirements must not be empty");
    std::vector<PolicyRequirement> out;
    for (size_t i = 0; i < v.size(); ++i) out.push_back(requirement(v[i], index_path(path, i)));
    return out;
  }
};

std::string home_config(const char* relative) {
  const char* home = std::getenv("HOME");
  if (!home || !*home) return "";
  return std::string(home) + "/.config/containers/" + relative;
}

// ---- checking one signature ----

const char* identity_name(PolicyRequirement::Identity identity) {
  using Identity = PolicyRequirement::Identity;
  switch (identity) {
    case Identity::match_exact:
      return "matchExact";
    case Identity::match_repo_digest_or_exact:
      return "matchRepoDigestOrExact";
    case Identity::match_repository:
      return "matchRepository";
    case Identity::exact_reference:
      return "exactReference";
    case Identity::exact_repository:
      return "exactRepository";
    case Identity::remap_identity:
      return "remapIdentity";
  }
  return "";
}

bool match_repo_digest_or_exact(const NamedRef& intended, const NamedRef& signature) {
  if (signature.name_only()) return false;
  if (!intended.tag.empty()) return signature.str() == intended.str();
  if (intended.digest) return signature.name == intended.name;
  return false;
}

// policy_reference_match.go, for the image `intended` (already in policy form).
bool identity_matches(const PolicyRequirement& req, const NamedRef& intended,
                      const std::string& signed_reference) {
  using Identity = PolicyRequirement::Identity;
  auto signature = parse_normalized(signed_reference);
  if (!signature) return false;
  switch (req.identity) {
    case Identity::match_exact:
      if (intended.name_only() || signature->name_only()) return false;
      return signature->str() == intended.str();
    case Identity::match_repo_digest_or_exact:
      return match_repo_digest_or_exact(intended, *signature);
    case Identity::match_repository:
      return signature->name == intended.name;
    case Identity::exact_reference: {
      auto expected = parse_normalized(req.identity_reference);
      if (!expected || expected->name_only() || signature->name_only()) return false;
      return signature->str() == expected->str();
    }
    case Identity::exact_repository: {
      auto expected = parse_normalized(req.identity_reference);
      return expected && signature->name == expected->name;
    }
    case Identity::remap_identity: {
      NamedRef remapped = intended;
      const std::string& prefix = req.remap_prefix;
      bool matches = intended.name == prefix ||
                     (intended.name.size() > prefix.size() && intended.name.starts_with(prefix) &&
                      intended.name[prefix.size()] == '/');
      if (matches) {
        std::string text = intended.str();
        text.replace(text.find(prefix), prefix.size(), req.remap_signed_prefix);
        auto parsed = parse_canonical(text);
        if (!parsed) return false;
        remapped = *parsed;
      }
      return match_repo_digest_or_exact(remapped, *signature);
    }
  }
  return false;
}

// Why `candidate` does not satisfy `req`, or "" when it does.
std::string check_candidate(const PolicyRequirement& req, const std::vector<PublicKey>& keys,
                            const NamedRef& intended, const Digest& manifest_digest,
                            const SignatureCandidate& candidate, const std::string& label,
                            std::string* identity) {
  bool verified = std::any_of(keys.begin(), keys.end(), [&](const PublicKey& key) {
    return key.verify(candidate.payload, candidate.signature);
  });
  if (!verified)
    return fmt::format("{}: not signed by {}", label, keys.size() > 1 ? "any of these keys" : "this key");
  SignaturePayload payload;
  try {
    payload = parse_signature_payload(candidate.payload, label);
  } catch (const Error& e) {
    return e.what();
  }
  if (payload.manifest_digest != manifest_digest) {
    return fmt::format("{}: it is for manifest {}, not {}", label, payload.manifest_digest.str(),
                       manifest_digest.str());
  }
  if (!identity_matches(req, intended, payload.docker_reference)) {
    return fmt::format("{}: identity \"{}\" does not match {} ({})", label, payload.docker_reference,
                       intended.str(), identity_name(req.identity));
  }
  *identity = payload.docker_reference;
  return "";
}

// ---- registries.d ----

std::optional<bool> namespace_setting(const YAML::Node& node, const std::string& file,
                                      const std::string& where) {
  if (!node || node.IsNull()) return std::nullopt;
  if (!node.IsMap()) fail("{}: {} must be a mapping of settings", file, where);
  for (const char* key : {"lookaside", "lookaside-staging", "sigstore", "sigstore-staging"}) {
    const YAML::Node value = node[key];
    if (value && !value.IsNull() && !value.IsScalar()) fail("{}: {}.{} must be a string", file, where, key);
  }
  const YAML::Node use = node["use-sigstore-attachments"];
  if (!use || use.IsNull()) return std::nullopt;
  bool value;
  if (!use.IsScalar() || !YAML::convert<bool>::decode(use, value)) {
    fail("{}: {}.use-sigstore-attachments must be true or false", file, where);
  }
  return value;
}

}  // namespace

SignaturePolicy SignaturePolicy::parse(std::string_view json_text, std::string_view what,
                                       const std::string& relative_to) {
  Parser parser{std::string(what), relative_to};
  StrictDom dom;
  if (!json::sax_parse(json_text, &dom)) parser.bad("", dom.error.empty() ? "invalid JSON" : dom.error);
  const json& root = dom.root;
  parser.expect_object(root, "", "the policy");
  parser.known_fields(root, "", {"default", "transports"}, "the policy");
  if (!root.contains("default"))
    parser.bad("", "the policy needs \"default\" (the requirements of any other image)");
  SignaturePolicy policy;
  policy.default_ = parser.requirements(root.at("default"), "default");
  if (root.contains("transports")) {
    const json& transports = root.at("transports");
    parser.expect_object(transports, "transports", "transports");
    for (const auto& [transport, scopes] : transports.items()) {
      std::string transport_path = member_path("transports", transport);
      auto& out = policy.transports_[transport];
      parser.expect_object(scopes, transport_path, "a transport's scopes");
      for (const auto& [scope, requirements] : scopes.items()) {
        if (std::string problem = scope_problem(transport, scope); !scope.empty() && !problem.empty()) {
          parser.bad(member_path(transport_path, scope), "invalid scope: " + problem);
        }
        out[scope] = parser.requirements(requirements, member_path(transport_path, scope));
      }
    }
  }
  return policy;
}

SignaturePolicy SignaturePolicy::load(const std::string& path) {
  return parse(read_file(path), path);
}

std::optional<std::string> SignaturePolicy::path_for(const std::string& given) {
  if (!given.empty()) return given;
  if (const char* env = std::getenv("GOCRATE_SIGNATURE_POLICY"); env && *env) return std::string(env);
  if (std::string user = home_config("policy.json"); !user.empty() && path_exists(user)) return user;
  if (path_exists("/etc/containers/policy.json")) return std::string("/etc/containers/policy.json");
  return std::nullopt;
}

std::optional<PolicyInEffect> load_policy_in_effect(const std::string& given) {
  auto path = SignaturePolicy::path_for(given);
  if (!path) return std::nullopt;
  return PolicyInEffect{*path, SignaturePolicy::load(*path)};
}

const std::vector<PolicyRequirement>& SignaturePolicy::requirements_for(std::string_view transport,
                                                                        const Reference& image,
                                                                        std::string* scope) const {
  if (auto t = transports_.find(std::string(transport)); t != transports_.end()) {
    const auto& scopes = t->second;
    if (uses_docker_naming(transport)) {
      for (const std::string& name : docker_scopes(image)) {
        if (auto s = scopes.find(name); s != scopes.end()) {
          if (scope) *scope = fmt::format("{} \"{}\"", transport, name);
          return s->second;
        }
      }
    }
    if (auto s = scopes.find(""); s != scopes.end()) {
      if (scope) *scope = fmt::format("{} \"\"", transport);
      return s->second;
    }
  }
  if (scope) *scope = "default";
  return default_;
}

bool SignaturePolicy::wants_signatures(std::string_view transport, const Reference& image) const {
  const auto& requirements = requirements_for(transport, image);
  return std::any_of(requirements.begin(), requirements.end(), [](const PolicyRequirement& r) {
    return r.type == PolicyRequirement::Type::sigstore_signed;
  });
}

PolicyDecision SignaturePolicy::evaluate(
    std::string_view transport, const Reference& image, const Digest& manifest_digest,
    const std::function<std::vector<SignatureCandidate>()>& signatures) const {
  using Type = PolicyRequirement::Type;
  PolicyDecision decision;
  const auto& requirements = requirements_for(transport, image, &decision.scope);
  NamedRef intended = policy_image(image);
  std::optional<std::vector<SignatureCandidate>> candidates;
  auto refuse = [&](std::string reason) {
    decision.accepted = false;
    decision.reason = std::move(reason);
    return decision;
  };
  for (const PolicyRequirement& req : requirements) {
    switch (req.type) {
      case Type::insecure_accept_anything:
        decision.accepted_by.push_back("insecureAcceptAnything");
        continue;
      case Type::reject:
        return refuse("rejected by policy");
      case Type::signed_by:
        return refuse("signedBy (GPG) requirements are not supported by gocrate; use sigstoreSigned");
      case Type::signed_base_layer:
        return refuse("signedBaseLayer requirements are not implemented (containers/image refuses them too)");
      case Type::sigstore_signed:
        break;
    }
    if (req.needs_fulcio) {
      return refuse(
          "sigstoreSigned with fulcio needs Fulcio certificate and Rekor log checks, which gocrate does not "
          "do; "
          "use keyPath or keyData");
    }
    if (req.needs_pki) {
      return refuse(
          "sigstoreSigned with pki needs X.509 certificate checks, which gocrate does not do; use keyPath");
    }
    if (req.needs_rekor) {
      return refuse(
          fmt::format("sigstoreSigned {} with rekorPublicKey* needs a Rekor inclusion proof check, which "
                      "gocrate does not do; "
                      "remove rekorPublicKey* from the policy",
                      req.key_source));
    }
    std::vector<PublicKey> keys;
    for (const std::string& pem : req.key_pems) keys.push_back(PublicKey::from_pem(pem, req.key_source));
    if (!candidates) candidates = signatures();
    std::string failed = fmt::format("no signature of {} verified with {}", image.str(), req.key_source);
    if (candidates->empty()) return refuse(failed + ": no signatures found");
    std::vector<std::string> reasons;
    std::string accepted;
    for (size_t i = 0; i < candidates->size() && accepted.empty(); ++i) {
      const SignatureCandidate& candidate = (*candidates)[i];
      std::string label = candidate.where.empty() ? fmt::format("signature {}", i + 1) : candidate.where;
      std::string identity;
      std::string why = check_candidate(req, keys, intended, manifest_digest, candidate, label, &identity);
      if (why.empty()) {
        accepted = fmt::format("sigstoreSigned {}: {} (identity {})", req.key_source, label, identity);
      } else {
        reasons.push_back(why);
      }
    }
    if (accepted.empty()) {
      return refuse(fmt::format("{} ({} found: {})", failed, candidates->size(), join(reasons, "; ")));
    }
    decision.accepted_by.push_back(accepted);
  }
  decision.accepted = !requirements.empty();
  return decision;
}

RegistriesD RegistriesD::load(const std::string& dir) {
  std::string path = dir;
  if (path.empty()) {
    if (const char* env = std::getenv("GOCRATE_REGISTRIES_D"); env && *env) {
      path = env;
    } else if (std::string user = home_config("registries.d"); !user.empty() && path_exists(user)) {
      path = user;
    } else {
      path = "/etc/containers/registries.d";
    }
  }
  RegistriesD out;
  DIR* d = opendir(path.c_str());
  if (!d) {
    if (errno == ENOENT) return out;
    fail_errno(fmt::format("cannot read the registries.d directory {}", path));
  }
  std::vector<std::string> names;
  while (struct dirent* entry = readdir(d)) {
    std::string name = entry->d_name;
    if (name.ends_with(".yaml")) names.push_back(name);
  }
  closedir(d);
  std::sort(names.begin(), names.end());

  std::string default_from;
  std::map<std::string, std::string> scope_from;
  for (const std::string& name : names) {
    std::string file = path + "/" + name;
    std::string text = read_file(file);
    try {
      YAML::Node root = YAML::Load(text);
      if (!root || root.IsNull()) continue;
      if (!root.IsMap()) fail("{}: expected a mapping with default-docker and docker", file);
      if (const YAML::Node def = root["default-docker"]; def && !def.IsNull()) {
        if (!default_from.empty()) {
          fail("registries.d: \"default-docker\" is defined both in {} and {}; keep one", default_from, file);
        }
        default_from = file;
        out.default_ = namespace_setting(def, file, "default-docker");
      }
      const YAML::Node docker = root["docker"];
      if (!docker || docker.IsNull()) continue;
      if (!docker.IsMap()) fail("{}: docker must be a mapping of scopes", file);
      for (const auto& entry : docker) {
        std::string scope = entry.first.as<std::string>();
        if (auto previous = scope_from.find(scope); previous != scope_from.end()) {
          fail("registries.d: \"docker\" scope \"{}\" is defined both in {} and {}; keep one", scope,
               previous->second, file);
        }
        scope_from[scope] = file;
        if (auto value = namespace_setting(entry.second, file, fmt::format("docker.\"{}\"", scope))) {
          out.scopes_[scope] = *value;
        }
      }
    } catch (const YAML::Exception& e) {
      // Also a scope or value of the wrong YAML type.
      fail("{}: {}", file, e.what());
    }
  }
  return out;
}

std::optional<bool> RegistriesD::use_sigstore_attachments(const Reference& image) const {
  for (const std::string& scope : docker_scopes(image)) {
    if (auto s = scopes_.find(scope); s != scopes_.end()) return s->second;
  }
  return default_;
}

}  // namespace gocrate
