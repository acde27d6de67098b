// gocrate key, sign, attest, verify, verify-attestation: cosign's key-based
// signing of images in the store and in registries.

#include <fmt/format.h>

#include <nlohmann/json.hpp>
#include <set>

#include "cli/commands.h"
#include "cli/image_flags.h"
#include "gobuild/provenance.h"
#include "image/config_options.h"
#include "image/media_types.h"
#include "image/reference.h"
#include "transport/registry/pull.h"
#include "trust/dsse.h"
#include "trust/image_trust.h"
#include "trust/keys.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/strings.h"

namespace gocrate::cli {

namespace {

using nlohmann::json;

constexpr std::string_view kDefaultPrefix = "cosign";

void add_insecure_option(CLI::App& app, std::vector<std::string>& hosts) {
  app.add_option("--insecure-registry", hosts,
                 "Reach this registry HOST[:PORT] without TLS verification, or over plain HTTP (repeatable)");
}

TrustTarget make_target(const std::string& image, const std::vector<std::string>& insecure) {
  TrustTarget target{image};
  for (const auto& host : insecure) target.registry.insecure_registries.push_back(host);
  return target;
}

PrivateKey load_private_key(const std::string& path) {
  if (!path_exists(path)) fail("key {} does not exist: create one with `gocrate key generate`", path);
  return PrivateKey::load(
      path, [&] { return read_passphrase(fmt::format("Enter password for {}: ", path), false); });
}

PublicKey load_public_key(const std::string& path) {
  auto text = read_file_if_exists(path);
  if (!text) fail("key {} does not exist: give the .pub file `gocrate key generate` wrote", path);
  if (text->find("PRIVATE KEY-----") != std::string::npos) {
    fail("{} is a private key: verify with its public key ({}), which `gocrate key public --key {}` prints",
         path, path.ends_with(".key") ? path.substr(0, path.size() - 4) + ".pub" : "the .pub file", path);
  }
  return PublicKey::from_pem(*text, path);
}

// Writes P.key (0600) and P.pub, refusing to replace either.
void write_key_pair(const std::string& prefix, const PrivateKey& key, std::string_view prompt) {
  std::string private_path = prefix + ".key", public_path = prefix + ".pub";
  for (const auto& path : {private_path, public_path}) {
    if (path_exists(path)) fail("{} exists: remove it or choose another --output-key-prefix", path);
  }
  std::string pem = key.encrypted_pem(read_passphrase(prompt, true));
  write_file_atomic(private_path, pem, 0600);
  write_file_atomic(public_path, key.public_key().pem(), 0644);
  fmt::print(stderr, "Private key written to {}\nPublic key written to {}\n", private_path, public_path);
}

int key_generate(int argc, char** argv) {
  CLI::App app{"Make an ECDSA P-256 key pair in cosign's format: PREFIX.key (encrypted) and PREFIX.pub",
               "key generate"};
  std::string prefix(kDefaultPrefix);
  app.add_option("--output-key-prefix", prefix, "Where to write the keys: PREFIX.key and PREFIX.pub")
      ->capture_default_str();
  parse_command_line(app, argc, argv);
  write_key_pair(prefix, PrivateKey::generate(), "Enter password for private key: ");
  return 0;
}

int key_import(int argc, char** argv) {
  CLI::App app{
      "Import a PEM EC P-256 private key (plain, or cosign's encrypted one) as PREFIX.key, encrypted with a "
      "new "
      "passphrase, and PREFIX.pub",
      "key import"};
  std::string file, prefix = "import-cosign";
  app.add_option("file", file, "The private key to import")->required();
  app.add_option("--output-key-prefix", prefix, "Where to write the keys: PREFIX.key and PREFIX.pub")
      ->capture_default_str();
  parse_command_line(app, argc, argv);
  auto pem = read_file_if_exists(file);
  if (!pem) fail("key {} does not exist", file);
  PrivateKey key = PrivateKey::from_pem(
      *pem, file, [&] { return read_passphrase(fmt::format("Enter password for {}: ", file), false); });
  write_key_pair(prefix, key, "Enter password for the imported private key: ");
  return 0;
}

int key_public(int argc, char** argv) {
  CLI::App app{"Print the public key of a private key, as PEM", "key public"};
  std::string key_path;
  app.add_option("--key", key_path, "The private key (PREFIX.key)")->required();
  parse_command_line(app, argc, argv);
  fmt::print("{}", load_private_key(key_path).public_key().pem());
  return 0;
}

// cosign's -a KEY=VALUE: the signature's optional claims.
json parse_claims(const std::vector<std::string>& annotations) {
  json claims = json::object();
  for (const auto& a : annotations) {
    auto [key, value] = parse_key_value(a, "-a");
    claims[key] = value;
  }
  return claims;
}

void print_signed(const std::vector<SignedManifest>& signed_manifests, std::string_view image,
                  std::string_view verb, FILE* out) {
  for (const auto& s : signed_manifests) {
    fmt::print(out, "{} {} ({}) as \"{}\" → {}\n", verb, image, s.digest.str(), s.identity, s.where);
  }
}

json signed_json(const std::vector<SignedManifest>& signed_manifests, std::string_view image) {
  json out = json::array();
  for (const auto& s : signed_manifests) {
    out.push_back(
        {{"image", image}, {"digest", s.digest.str()}, {"identity", s.identity}, {"where", s.where}});
  }
  return out;
}

std::string describe_claims(const json& optional) {
  if (!optional.is_object() || optional.empty()) return "";
  std::vector<std::string> parts;
  for (const auto& [key, value] : optional.items()) {
    parts.push_back(fmt::format("{}={}", key, value.is_string() ? value.get<std::string>() : value.dump()));
  }
  return " [" + join(parts, ", ") + "]";
}

// The SPDX document of an SBOM artifact and the manifest it describes.
std::pair<json, Digest> read_sbom(Store& store, const Descriptor& artifact) {
  Manifest m = Manifest::parse(store.read_blob(artifact), "SBOM " + artifact.digest.str());
  if (!m.subject || m.layers.empty())
    fail("SBOM {} in the store has no subject or no document", artifact.digest.str());
  return {parse_json(store.read_blob(m.layers.front()), "SBOM " + m.layers.front().digest.str()),
          m.subject->digest};
}

}  // namespace

int key_command(Globals&, int argc, char** argv) {
  constexpr std::string_view kUsage =
      "Usage: gocrate key COMMAND\n\nManage signing keys (cosign's format)\n\nCommands:\n"
      "  generate    Make a key pair: PREFIX.key (encrypted) and PREFIX.pub\n"
      "  import      Import a PEM EC P-256 private key as a key pair\n"
      "  public      Print the public key of a private key\n";
  return run_subcommand("key", kUsage, argc, argv,
                        {{{"generate"}, key_generate}, {{"import"}, key_import}, {{"public"}, key_public}});
}

int sign_command(Globals& globals, int argc, char** argv) {
  CLI::App app{
      "Sign an image as cosign does: a registry image in its registry (HOST[:PORT]/REPO:sha256-DIGEST.sig), "
      "a store image in the store (push, pull, save and load carry it); an index and each of its manifests",
      "sign"};
  std::string image, key_path, identity;
  std::vector<std::string> annotations, insecure;
  bool as_json = false;
  add_global_options(app, globals);
  app.add_option("image", image, "An image in the store, or HOST[:PORT]/REPO[:TAG|@DIGEST] in a registry")
      ->required();
  app.add_option("--key", key_path, "The private key (PREFIX.key)")->required();
  app.add_option("--identity", identity, "The docker-reference to sign (default: the image's name and tag)");
  app.add_option("-a,--annotation", annotations, "An optional claim KEY=VALUE in the signature (repeatable)");
  add_insecure_option(app, insecure);
  app.add_flag("--json", as_json, "Print the result as JSON");
  parse_command_line(app, argc, argv);

  json claims = parse_claims(annotations);
  PrivateKey key = load_private_key(key_path);
  Store store = open_store(globals);
  auto signed_manifests = sign_image(store, make_target(image, insecure), key, identity, claims);
  if (as_json) {
    fmt::print("{}\n", signed_json(signed_manifests, image).dump(2));
  } else {
    print_signed(signed_manifests, image, "Signed", stdout);
  }
  return 0;
}

int attest_command(Globals& globals, int argc, char** argv) {
  CLI::App app{"Attest a predicate about an image as cosign attest does: a signed in-toto statement (DSSE)",
               "attest"};
  std::string image, key_path, predicate_file, type = "custom";
  std::vector<std::string> insecure;
  bool as_json = false;
  add_global_options(app, globals);
  app.add_option("image", image, "An image in the store, or HOST[:PORT]/REPO[:TAG|@DIGEST] in a registry")
      ->required();
  app.add_option("--key", key_path, "The private key (PREFIX.key)")->required();
  app.add_option("--predicate", predicate_file, "The predicate, a JSON file")->required();
  app.add_option("--type", type,
                 "slsaprovenance, slsaprovenance02, slsaprovenance1, spdx, spdxjson, cyclonedx, link, vuln, "
                 "openvex, custom, or a predicate type URI")
      ->capture_default_str();
  add_insecure_option(app, insecure);
  app.add_flag("--json", as_json, "Print the result as JSON");
  parse_command_line(app, argc, argv);

  std::string type_uri = predicate_type_uri(type);
  auto text = read_file_if_exists(predicate_file);
  if (!text) fail("predicate {} does not exist", predicate_file);
  json predicate = parse_json(*text, predicate_file);
  PrivateKey key = load_private_key(key_path);
  Store store = open_store(globals);
  auto attested = attest_image(store, make_target(image, insecure), key, type_uri, predicate);
  if (as_json) {
    json out = signed_json(attested, image);
    for (auto& entry : out) entry["predicateType"] = type_uri;
    fmt::print("{}\n", out.dump(2));
  } else {
    for (const auto& a : attested) {
      fmt::print("Attested {} ({}) predicate {} → {}\n", image, a.digest.str(), type_uri, a.where);
    }
  }
  return 0;
}

int verify_command(Globals& globals, int argc, char** argv) {
  CLI::App app{
      "Verify an image's cosign signatures with a public key: each must verify, sign the image's digest and "
      "name its repository",
      "verify"};
  std::string image, key_path;
  std::vector<std::string> insecure;
  bool as_json = false;
  add_global_options(app, globals);
  app.add_option("image", image, "An image in the store, or HOST[:PORT]/REPO[:TAG|@DIGEST] in a registry")
      ->required();
  app.add_option("--key", key_path, "The public key (PREFIX.pub)")->required();
  add_insecure_option(app, insecure);
  app.add_flag("--json", as_json, "Print the verified signatures as JSON");
  parse_command_line(app, argc, argv);

  PublicKey key = load_public_key(key_path);
  Store store = open_store(globals);
  VerificationReport report = verify_image(store, make_target(image, insecure), key);
  if (as_json) {
    json out = json::array();
    for (const auto& v : report.verified) {
      out.push_back({{"critical",
                      {{"identity", {{"docker-reference", v.identity}}},
                       {"image", {{"docker-manifest-digest", v.digest.str()}}},
                       {"type", "cosign container image signature"}}},
                     {"optional", v.optional},
                     {"where", v.where}});
    }
    fmt::print("{}\n", out.dump(2));
  } else {
    for (const auto& v : report.verified) {
      fmt::print("Verified {}@{} with key {}: {}: identity \"{}\"{}\n", report.image,
                 report.root.digest.str(), report.key, v.where, v.identity, describe_claims(v.optional));
    }
  }
  for (const auto& r : report.rejected) fmt::print(stderr, "gocrate: note: not verified: {}\n", r);
  return 0;
}

int verify_attestation_command(Globals& globals, int argc, char** argv) {
  CLI::App app{"Verify an image's cosign attestations with a public key", "verify-attestation"};
  std::string image, key_path, type;
  std::vector<std::string> insecure;
  bool as_json = false;
  add_global_options(app, globals);
  app.add_option("image", image, "An image in the store, or HOST[:PORT]/REPO[:TAG|@DIGEST] in a registry")
      ->required();
  app.add_option("--key", key_path, "The public key (PREFIX.pub)")->required();
  app.add_option("--type", type, "Only attestations of this predicate type (as attest --type; default: any)");
  add_insecure_option(app, insecure);
  app.add_flag("--json", as_json, "Print the verified in-toto statements as a JSON array");
  parse_command_line(app, argc, argv);

  std::string type_uri = type.empty() ? "" : predicate_type_uri(type);
  PublicKey key = load_public_key(key_path);
  Store store = open_store(globals);
  AttestationReport report = verify_attestations(store, make_target(image, insecure), key, type_uri);
  if (as_json) {
    json out = json::array();
    for (const auto& v : report.verified) out.push_back(json::parse(v.statement.to_json_text()));
    fmt::print("{}\n", out.dump(2));
  } else {
    for (const auto& v : report.verified) {
      std::vector<std::string> subjects;
      for (const auto& s : v.statement.subjects) subjects.push_back(s.name + "@" + s.digest.str());
      fmt::print("Verified {}@{} with key {}: {}: predicate {} about {}\n", report.image,
                 report.root.digest.str(), report.key, v.where, v.statement.predicate_type,
                 join(subjects, ", "));
    }
  }
  for (const auto& r : report.rejected) fmt::print(stderr, "gocrate: note: not verified: {}\n", r);
  return 0;
}

std::optional<PrivateKey> signing_key(const ImageFlags& flags) {
  if (!flags.sign) {
    if (!flags.sign_key.empty()) fail("--key is for --sign: add --sign to sign the images");
    return std::nullopt;
  }
  if (flags.sign_key.empty()) fail("--sign needs --key PREFIX.key (make one with `gocrate key generate`)");
  return load_private_key(flags.sign_key);
}

void sign_published(Store& store, const std::vector<Published>& results, const ImageFlags& flags,
                    const PrivateKey& key) {
  FILE* out = flags.quiet ? nullptr : stderr;
  RegistryOptions registry = registry_options(flags);
  for (const auto& r : results) {
    std::vector<TrustTarget> attest_targets;
    std::set<std::string> repositories;
    for (const auto& name : r.names) {
      TrustTarget target{name, registry, !(flags.push && names_registry(name))};
      auto signed_manifests = sign_image(store, target, key);
      if (out) print_signed(signed_manifests, name, "Signed", out);
      // One set of attestations per repository (the store counts as one).
      std::string repository = target.store_only ? "" : Reference::parse(name).name();
      if (repositories.insert(repository).second) attest_targets.push_back(target);
    }
    for (const auto& target : attest_targets) {
      for (const auto& manifest : r.image.manifests) {
        auto statement_text = find_provenance_statement(store, manifest);
        if (!statement_text) continue;
        InTotoStatement statement =
            InTotoStatement::parse(*statement_text, "provenance of " + manifest.digest.str());
        auto done =
            attest_image(store, target, key, statement.predicate_type, statement.predicate, manifest.digest);
        if (out) {
          for (const auto& a : done) {
            fmt::print(out, "Attested {} ({}) provenance → {}\n", target.reference, a.digest.str(), a.where);
          }
        }
      }
      for (const auto& sbom : r.image.sboms) {
        auto [document, subject] = read_sbom(store, sbom);
        auto done = attest_image(store, target, key, predicate_type_uri("spdxjson"), document, subject);
        if (out) {
          for (const auto& a : done) {
            fmt::print(out, "Attested {} ({}) SBOM → {}\n", target.reference, a.digest.str(), a.where);
          }
        }
      }
    }
  }
}

}  // namespace gocrate::cli
