#include "trust/policy.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <nlohmann/json.hpp>

#include "transport/registry/base64.h"
#include "trust/keys.h"
#include "trust/simple_signing.h"
#include "util/error_for_tests.h"
#include "util/fs.h"

namespace gocrate {
namespace {

using json = nlohmann::json;

const Digest kManifest = Digest::of("the manifest");
const Digest kOtherManifest = Digest::of("another manifest");

class PolicyTest : public ::testing::Test {
 protected:
  PolicyTest() : key_(PrivateKey::generate()), other_key_(PrivateKey::generate()) {
    write_file_replace(dir_.path() + "/k.pub", key_.public_key().pem());
    write_file_replace(dir_.path() + "/other.pub", other_key_.public_key().pem());
  }

  std::string key_path() const { return dir_.path() + "/k.pub"; }

  SignatureCandidate sign(const std::string& identity, const Digest& digest = kManifest,
                          const PrivateKey* key = nullptr) const {
    std::string payload = make_signature_payload({identity, digest, nullptr});
    return {payload, (key ? *key : key_).sign(payload), ""};
  }

  SignaturePolicy policy_for(const json& requirement, const std::string& scope = "localhost:5000/app") const {
    json policy = {{"default", {{{"type", "reject"}}}},
                   {"transports", {{"docker", {{scope, {requirement}}}}}}};
    return SignaturePolicy::parse(policy.dump(), "policy.json");
  }

  json sigstore(const json& identity = nullptr) const {
    json req = {{"type", "sigstoreSigned"}, {"keyPath", key_path()}};
    if (!identity.is_null()) req["signedIdentity"] = identity;
    return req;
  }

  PolicyDecision evaluate(const SignaturePolicy& policy, const std::string& image,
                          std::vector<SignatureCandidate> candidates,
                          const Digest& digest = kManifest) const {
    return policy.evaluate("docker", Reference::parse(image), digest, [&] { return candidates; });
  }

  TempDir dir_;
  PrivateKey key_;
  PrivateKey other_key_;
};

TEST_F(PolicyTest, ScopePrecedenceFromTagToGlobalDefault) {
  std::vector<std::string> scopes = {"registry.example.com:5000/ns/app:v1",
                                     "registry.example.com:5000/ns/app",
                                     "registry.example.com:5000/ns",
                                     "registry.example.com:5000",
                                     "*.example.com",
                                     "*.com",
                                     ""};
  Reference image = Reference::parse("registry.example.com:5000/ns/app:v1");
  for (size_t first = 0; first <= scopes.size(); ++first) {
    json docker = json::object();
    for (size_t i = first; i < scopes.size(); ++i) docker[scopes[i]] = {{{"type", "insecureAcceptAnything"}}};
    json policy = {{"default", {{{"type", "reject"}}}}, {"transports", {{"docker", docker}}}};
    auto parsed = SignaturePolicy::parse(policy.dump(), "policy.json");
    std::string scope;
    const auto& requirements = parsed.requirements_for("docker", image, &scope);
    if (first == scopes.size()) {
      EXPECT_EQ(scope, "default");
      ASSERT_EQ(requirements.size(), 1u);
      EXPECT_EQ(requirements[0].type, PolicyRequirement::Type::reject);
    } else {
      EXPECT_EQ(scope, "docker \"" + scopes[first] + "\"");
      EXPECT_EQ(requirements[0].type, PolicyRequirement::Type::insecure_accept_anything);
    }
  }
}

TEST_F(PolicyTest, ScopesUseTheFullyExpandedName) {
  Digest digest = Digest::of("x");
  json policy = {{"default", {{{"type", "reject"}}}},
                 {"transports",
                  {{"docker",
                    {{"docker.io/library/busybox", {{{"type", "insecureAcceptAnything"}}}},
                     {"docker.io/team", {{{"type", "insecureAcceptAnything"}}}},
                     {"localhost:5000/app@" + digest.str(), {{{"type", "insecureAcceptAnything"}}}},
                     {"localhost:5000/app:latest", {{{"type", "insecureAcceptAnything"}}}},
                     {"busybox", {{{"type", "insecureAcceptAnything"}}}}}}}}};
  auto parsed = SignaturePolicy::parse(policy.dump(), "policy.json");
  auto scope_of = [&](std::string_view transport, const std::string& ref) {
    std::string scope;
    parsed.requirements_for(transport, Reference::parse(ref), &scope);
    return scope;
  };
  EXPECT_EQ(scope_of("docker", "busybox"), "docker \"docker.io/library/busybox\"");
  EXPECT_EQ(scope_of("docker", "index.docker.io/busybox:1"), "docker \"docker.io/library/busybox\"");
  EXPECT_EQ(scope_of("docker", "team/app"), "docker \"docker.io/team\"");
  EXPECT_EQ(scope_of("docker", "library/alpine"), "default");
  // A name alone is looked up with ":latest"; a digest is its own scope, and
  // wins over a tag written beside it.
  EXPECT_EQ(scope_of("docker", "localhost:5000/app"), "docker \"localhost:5000/app:latest\"");
  EXPECT_EQ(scope_of("docker", "localhost:5000/app@" + digest.str()),
            "docker \"localhost:5000/app@" + digest.str() + "\"");
  EXPECT_EQ(scope_of("docker", "localhost:5000/app:latest@" + digest.str()),
            "docker \"localhost:5000/app@" + digest.str() + "\"");
  // Another transport has scopes of its own.
  EXPECT_EQ(scope_of("oci", "busybox"), "default");
}

TEST_F(PolicyTest, WildcardsMatchSubdomainsWithoutThePort) {
  json policy = {{"default", {{{"type", "reject"}}}},
                 {"transports", {{"docker", {{"*.example.com", {{{"type", "insecureAcceptAnything"}}}}}}}}};
  auto parsed = SignaturePolicy::parse(policy.dump(), "policy.json");
  auto accepted = [&](const std::string& ref) { return evaluate(parsed, ref, {}).accepted; };
  EXPECT_TRUE(accepted("registry.example.com/app:1"));
  EXPECT_TRUE(accepted("a.b.example.com:5000/ns/app:1"));
  EXPECT_FALSE(accepted("example.com/app:1"));
  EXPECT_FALSE(accepted("example.org/app:1"));
}

TEST_F(PolicyTest, InsecureAcceptAnythingAndReject) {
  int calls = 0;
  auto count = [&] {
    ++calls;
    return std::vector<SignatureCandidate>{};
  };
  auto accept = policy_for({{"type", "insecureAcceptAnything"}});
  auto decision = accept.evaluate("docker", Reference::parse("localhost:5000/app:v1"), kManifest, count);
  EXPECT_TRUE(decision.accepted);
  EXPECT_EQ(decision.scope, "docker \"localhost:5000/app\"");
  EXPECT_EQ(decision.accepted_by, std::vector<std::string>{"insecureAcceptAnything"});
  EXPECT_EQ(calls, 0);
  EXPECT_FALSE(accept.wants_signatures("docker", Reference::parse("localhost:5000/app:v1")));

  decision = accept.evaluate("docker", Reference::parse("localhost:5000/other:v1"), kManifest, count);
  EXPECT_FALSE(decision.accepted);
  EXPECT_EQ(decision.scope, "default");
  EXPECT_EQ(decision.reason, "rejected by policy");

  json both = {{"default", {{{"type", "insecureAcceptAnything"}}, {{"type", "reject"}}}}};
  decision =
      SignaturePolicy::parse(both.dump(), "p").evaluate("docker", Reference::parse("a"), kManifest, count);
  EXPECT_FALSE(decision.accepted);
  EXPECT_EQ(decision.reason, "rejected by policy");
  EXPECT_EQ(calls, 0);
}

TEST_F(PolicyTest, SignedByIsParsedAndRefused) {
  auto policy = policy_for({{"type", "signedBy"}, {"keyType", "GPGKeys"}, {"keyPath", "/etc/pki/none.gpg"}});
  auto decision = evaluate(policy, "localhost:5000/app:v1", {sign("localhost:5000/app:v1")});
  EXPECT_FALSE(decision.accepted);
  EXPECT_EQ(decision.reason, "signedBy (GPG) requirements are not supported by gocrate; use sigstoreSigned");

  auto base = policy_for({{"type", "signedBaseLayer"}, {"baseLayerIdentity", {{"type", "matchRepository"}}}});
  decision = evaluate(base, "localhost:5000/app:v1", {});
  EXPECT_FALSE(decision.accepted);
  EXPECT_EQ(decision.reason,
            "signedBaseLayer requirements are not implemented (containers/image refuses them too)");
}

TEST_F(PolicyTest, SigstoreSignedAcceptsAVerifiedSignature) {
  auto policy = policy_for(sigstore());
  EXPECT_TRUE(policy.wants_signatures("docker", Reference::parse("localhost:5000/app:v1")));
  auto decision =
      evaluate(policy, "localhost:5000/app:v1",
               {sign("localhost:5000/app:v1", kManifest, &other_key_), sign("localhost:5000/app:v1")});
  EXPECT_TRUE(decision.accepted) << decision.reason;
  ASSERT_EQ(decision.accepted_by.size(), 1u);
  EXPECT_EQ(decision.accepted_by[0],
            "sigstoreSigned keyPath " + key_path() + ": signature 2 (identity localhost:5000/app:v1)");
}

TEST_F(PolicyTest, SigstoreSignedSaysWhatIsMissing) {
  auto policy = policy_for(sigstore());
  auto decision = evaluate(policy, "localhost:5000/app:v1", {});
  EXPECT_FALSE(decision.accepted);
  EXPECT_EQ(decision.reason, "no signature of localhost:5000/app:v1 verified with keyPath " + key_path() +
                                 ": no signatures found");

  SignatureCandidate garbage{"not json", key_.sign("not json"),
                             "signature 3 of localhost:5000/app:sha256-x.sig"};
  decision = evaluate(policy, "localhost:5000/app:v1",
                      {sign("localhost:5000/app:v1", kManifest, &other_key_), sign("localhost:5000/app:v2"),
                       garbage, sign("localhost:5000/app:v1", kOtherManifest)});
  EXPECT_FALSE(decision.accepted);
  EXPECT_EQ(decision.reason.find("no signature of localhost:5000/app:v1 verified with keyPath " + key_path() +
                                 " (4 found: signature 1: not signed by this key; signature 2: identity "
                                 "\"localhost:5000/app:v2\" does not match localhost:5000/app:v1 "
                                 "(matchRepoDigestOrExact); signature 3 of localhost:5000/app:sha256-x.sig"),
            0u)
      << decision.reason;
  EXPECT_NE(decision.reason.find("; signature 4: it is for manifest " + kOtherManifest.str() + ", not " +
                                 kManifest.str() + ")"),
            std::string::npos)
      << decision.reason;
}

TEST_F(PolicyTest, SignaturesAreFetchedOnceForAllRequirements) {
  json policy = {{"default", {sigstore(), sigstore({{"type", "matchRepository"}})}}};
  auto parsed = SignaturePolicy::parse(policy.dump(), "p");
  int calls = 0;
  auto decision = parsed.evaluate("docker", Reference::parse("localhost:5000/app:v1"), kManifest, [&] {
    ++calls;
    return std::vector<SignatureCandidate>{sign("localhost:5000/app:v1")};
  });
  EXPECT_TRUE(decision.accepted) << decision.reason;
  EXPECT_EQ(decision.accepted_by.size(), 2u);
  EXPECT_EQ(calls, 1);
}

TEST_F(PolicyTest, EachSignedIdentity) {
  Digest digest = kManifest;
  std::string by_digest = "localhost:5000/app@" + digest.str();
  struct Case {
    json identity;
    std::string image;
    std::string signed_identity;
    bool accepted;
  };
  std::vector<Case> cases = {
      // matchRepoDigestOrExact (the default): a tag must match exactly, a digest only the repository.
      {nullptr, "localhost:5000/app:v1", "localhost:5000/app:v1", true},
      {nullptr, "localhost:5000/app:v1", "localhost:5000/app:v2", false},
      {nullptr, "localhost:5000/app:v1", "localhost:5000/app", false},
      {nullptr, by_digest, "localhost:5000/app:v9", true},
      {nullptr, by_digest, "localhost:5000/app", false},
      {nullptr, by_digest, "localhost:5000/other:v1", false},
      {nullptr, "localhost:5000/app", "localhost:5000/app:latest", true},
      {{{"type", "matchRepoDigestOrExact"}}, "busybox:1", "docker.io/library/busybox:1", true},
      // matchExact
      {{{"type", "matchExact"}}, "localhost:5000/app:v1", "localhost:5000/app:v1", true},
      {{{"type", "matchExact"}}, by_digest, "localhost:5000/app:v1", false},
      {{{"type", "matchExact"}}, by_digest, by_digest, true},
      {{{"type", "matchExact"}}, "localhost:5000/app:v1", "localhost:5000/app", false},
      // matchRepository: the repository is enough (cosign's own signatures name only it).
      {{{"type", "matchRepository"}}, "localhost:5000/app:v1", "localhost:5000/app", true},
      {{{"type", "matchRepository"}}, "localhost:5000/app:v1", "localhost:5000/app:v2", true},
      {{{"type", "matchRepository"}}, "localhost:5000/app:v1", "localhost:5000/other:v1", false},
      // exactReference: the signature names exactly this, whatever the image is called here.
      {{{"type", "exactReference"}, {"dockerReference", "quay.io/team/app:v1"}},
       "localhost:5000/app:v1",
       "quay.io/team/app:v1",
       true},
      {{{"type", "exactReference"}, {"dockerReference", "quay.io/team/app:v1"}},
       "localhost:5000/app:v1",
       "localhost:5000/app:v1",
       false},
      {{{"type", "exactReference"}, {"dockerReference", "busybox:1"}},
       "localhost:5000/app:v1",
       "docker.io/library/busybox:1",
       true},
      // exactRepository
      {{{"type", "exactRepository"}, {"dockerRepository", "quay.io/team/app"}},
       "localhost:5000/app:v1",
       "quay.io/team/app:v7",
       true},
      {{{"type", "exactRepository"}, {"dockerRepository", "quay.io/team/app"}},
       "localhost:5000/app:v1",
       "quay.io/team/other:v1",
       false},
      // remapIdentity: the prefix is replaced, then matchRepoDigestOrExact.
      {{{"type", "remapIdentity"}, {"prefix", "localhost:5000/mirror"}, {"signedPrefix", "quay.io/vendor"}},
       "localhost:5000/mirror/app:v1",
       "quay.io/vendor/app:v1",
       true},
      {{{"type", "remapIdentity"}, {"prefix", "localhost:5000/mirror"}, {"signedPrefix", "quay.io/vendor"}},
       "localhost:5000/mirror/app:v1",
       "localhost:5000/mirror/app:v1",
       false},
      {{{"type", "remapIdentity"}, {"prefix", "localhost:5000/mirror"}, {"signedPrefix", "quay.io/vendor"}},
       "localhost:5000/mirror/app@" + digest.str(),
       "quay.io/vendor/app:v3",
       true},
      // Not under the prefix (mirrorx is another namespace): matched as it is.
      {{{"type", "remapIdentity"}, {"prefix", "localhost:5000/mirror"}, {"signedPrefix", "quay.io/vendor"}},
       "localhost:5000/mirrorx/app:v1",
       "localhost:5000/mirrorx/app:v1",
       true},
      {{{"type", "remapIdentity"}, {"prefix", "localhost:5000"}, {"signedPrefix", "docker.io/library"}},
       "localhost:5000/busybox:1",
       "busybox:1",
       true},
  };
  for (const Case& c : cases) {
    auto policy = policy_for(sigstore(c.identity), "");
    auto decision = evaluate(policy, c.image, {sign(c.signed_identity)});
    EXPECT_EQ(decision.accepted, c.accepted) << c.identity.dump() << " image " << c.image << " signed "
                                             << c.signed_identity << ": " << decision.reason;
  }
}

TEST_F(PolicyTest, SigstoreSignedWithKeyDataAndKeyPaths) {
  std::string data = base64_encode(key_.public_key().pem());
  auto decision = evaluate(policy_for({{"type", "sigstoreSigned"}, {"keyData", data}}),
                           "localhost:5000/app:v1", {sign("localhost:5000/app:v1")});
  EXPECT_TRUE(decision.accepted) << decision.reason;

  auto paths =
      policy_for({{"type", "sigstoreSigned"}, {"keyPaths", {dir_.path() + "/other.pub", key_path()}}});
  decision = evaluate(paths, "localhost:5000/app:v1", {sign("localhost:5000/app:v1")});
  EXPECT_TRUE(decision.accepted) << decision.reason;
  decision =
      evaluate(paths, "localhost:5000/app:v1", {sign("localhost:5000/app:v1", kManifest, &other_key_)});
  EXPECT_TRUE(decision.accepted) << decision.reason;
}

TEST_F(PolicyTest, RelativeKeyPathIsReadAgainstRelativeTo) {
  json policy = {{"default", {{{"type", "sigstoreSigned"}, {"keyPath", "k.pub"}}}}};
  auto parsed = SignaturePolicy::parse(policy.dump(), "policy.json", dir_.path());
  ASSERT_EQ(parsed.requirements_for("docker", Reference::parse("a")).size(), 1u);
  const auto& req = parsed.requirements_for("docker", Reference::parse("a"))[0];
  EXPECT_EQ(req.key_source, "keyPath " + dir_.path() + "/k.pub");
  ASSERT_EQ(req.key_pems.size(), 1u);
  EXPECT_EQ(req.key_pems[0], key_.public_key().pem());
  EXPECT_TRUE(evaluate(parsed, "localhost:5000/app:v1", {sign("localhost:5000/app:v1")}).accepted);
}

TEST_F(PolicyTest, LoadNamesTheFile) {
  std::string file = dir_.path() + "/policy.json";
  write_file_replace(file,
                     R"({"default": [{"type": "insecureAcceptAnything"}], "transports": {"docker": {}}})");
  EXPECT_TRUE(evaluate(SignaturePolicy::load(file), "a", {}).accepted);
  write_file_replace(file, R"({"default": []})");
  EXPECT_EQ(error_of([&] { SignaturePolicy::load(file); }),
            file + ": default: the list of requirements must not be empty");
}

TEST_F(PolicyTest, FulcioPkiAndRekorAreParsedAndRefused) {
  std::string data = base64_encode("anything");
  auto fulcio =
      policy_for({{"type", "sigstoreSigned"},
                  {"fulcio", {{"caData", data}, {"oidcIssuer", "https://o"}, {"subjectEmail", "a@b"}}},
                  {"rekorPublicKeyData", data}});
  auto decision = evaluate(fulcio, "localhost:5000/app:v1", {sign("localhost:5000/app:v1")});
  EXPECT_FALSE(decision.accepted);
  EXPECT_EQ(decision.reason,
            "sigstoreSigned with fulcio needs Fulcio certificate and Rekor log checks, which gocrate does "
            "not do; use "
            "keyPath or keyData");

  auto rekor =
      policy_for({{"type", "sigstoreSigned"}, {"keyPath", key_path()}, {"rekorPublicKeyPath", "/r.pub"}});
  decision = evaluate(rekor, "localhost:5000/app:v1", {sign("localhost:5000/app:v1")});
  EXPECT_FALSE(decision.accepted);
  EXPECT_NE(decision.reason.find("rekorPublicKey* needs a Rekor inclusion proof check"), std::string::npos)
      << decision.reason;

  auto pki = policy_for(
      {{"type", "sigstoreSigned"}, {"pki", {{"caRootsPath", "/ca.pem"}, {"subjectHostname", "h"}}}});
  decision = evaluate(pki, "localhost:5000/app:v1", {sign("localhost:5000/app:v1")});
  EXPECT_FALSE(decision.accepted);
  EXPECT_NE(decision.reason.find("with pki needs X.509"), std::string::npos) << decision.reason;
}

TEST_F(PolicyTest, MalformedPoliciesGiveOneLineNamingFileAndPath) {
  std::string key = key_path();
  struct Case {
    std::string text;
    std::string message;
  };
  std::vector<Case> cases = {
      {R"({"default": [{"type": "reject"}], "transports": {"docker": {"localhost:5000": [{"type": "sigstoreSignd"}]}}})",
       R"(transports.docker["localhost:5000"][0]: unknown requirement type "sigstoreSignd")"},
      {R"({"transports": {}})", R"(the policy needs "default" (the requirements of any other image))"},
      {R"({"default": []})", "default: the list of requirements must not be empty"},
      {R"({"default": {}})", "default: must be an array of requirements, not an object"},
      {R"({"default": null})", "default: must be an array of requirements, not null"},
      {R"([])", "the policy must be a JSON object, not an array"},
      {R"({"default": [{"type": "reject"}], "extra": 1})", R"(unknown field "extra" in the policy)"},
      {R"({"default": [{"type": "reject"}], "default": [{"type": "reject"}]})",
       R"(the key "default" appears twice)"},
      {R"({"default": [{"type": "reject"}], "transports": {"docker": {"a": [{"type": "reject"}], "a": []}}})",
       R"(transports.docker: the key "a" appears twice)"},
      {R"({"default": [{"type": "reject", "keyPath": "/x"}]})",
       R"(default[0]: unknown field "keyPath" in a reject requirement)"},
      {R"({"default": [{}]})", R"(default[0]: a requirement needs "type")"},
      {R"({"default": [{"type": 3}]})", "default[0].type: must be a string, not a number"},
      {R"({"default": [{"type": "sigstoreSigned"}]})",
       "default[0]: exactly one of keyPath, keyPaths, keyData, keyDatas, fulcio and pki must be specified"},
      {R"({"default": [{"type": "sigstoreSigned", "keyPath": "K", "keyData": "AAAA"}]})",
       "default[0]: exactly one of keyPath, keyPaths, keyData, keyDatas, fulcio and pki must be specified"},
      {R"({"default": [{"type": "sigstoreSigned", "keyPath": "K", "keyPat": "x"}]})",
       R"(default[0]: unknown field "keyPat" in a sigstoreSigned requirement)"},
      {R"({"default": [{"type": "sigstoreSigned", "keyPath": ""}]})",
       "default[0].keyPath: must not be empty"},
      {R"({"default": [{"type": "sigstoreSigned", "keyData": "!!!"}]})",
       "default[0].keyData: is not valid base64"},
      {R"({"default": [{"type": "sigstoreSigned", "keyPaths": []}]})",
       "default[0].keyPaths: must not be empty"},
      {R"({"default": [{"type": "sigstoreSigned", "keyPath": "K", "signedIdentity": {"type": "matchExactly"}}]})",
       R"(default[0].signedIdentity.type: unknown signedIdentity type "matchExactly")"},
      {R"({"default": [{"type": "sigstoreSigned", "keyPath": "K", "signedIdentity": {"type": "exactReference", "dockerReference": "quay.io/a/b"}}]})",
       R"(default[0].signedIdentity.dockerReference: "quay.io/a/b" has neither a tag nor a digest; exactReference needs one)"},
      {R"({"default": [{"type": "sigstoreSigned", "keyPath": "K", "signedIdentity": {"type": "exactReference"}}]})",
       R"(default[0].signedIdentity: exactReference signedIdentity needs "dockerReference")"},
      {R"({"default": [{"type": "sigstoreSigned", "keyPath": "K", "signedIdentity": {"type": "matchExact", "dockerReference": "a:1"}}]})",
       R"(default[0].signedIdentity: unknown field "dockerReference" in a matchExact signedIdentity)"},
      {R"({"default": [{"type": "sigstoreSigned", "keyPath": "K", "signedIdentity": {"type": "exactRepository", "dockerRepository": "Bad/Name"}}]})",
       R"(default[0].signedIdentity.dockerRepository: invalid reference "Bad/Name": repository names are lowercase letters, digits and separators (. _ __ -))"},
      {R"({"default": [{"type": "sigstoreSigned", "keyPath": "K", "signedIdentity": {"type": "remapIdentity", "prefix": "quay.io/app:v1", "signedPrefix": "quay.io"}}]})",
       R"(default[0].signedIdentity.prefix: "quay.io/app:v1" is not a host[:port], namespace or repository in fully expanded form)"},
      {R"({"default": [{"type": "sigstoreSigned", "fulcio": {"caPath": "/c", "oidcIssuer": "i", "subjectEmail": "e"}}]})",
       "default[0]: fulcio needs one of rekorPublicKeyPath, rekorPublicKeyPaths, rekorPublicKeyData, "
       "rekorPublicKeyDatas"},
      {R"({"default": [{"type": "sigstoreSigned", "fulcio": {"caPath": "/c", "subjectEmail": "e"}, "rekorPublicKeyPath": "/r"}]})",
       R"(default[0].fulcio: fulcio needs "oidcIssuer")"},
      {R"({"default": [{"type": "signedBy", "keyPath": "/k.gpg"}]})",
       R"(default[0]: signedBy needs "keyType")"},
      {R"({"default": [{"type": "signedBy", "keyType": "GPGKeys", "keyPath": ""}]})",
       "default[0].keyPath: must not be empty"},
      {R"({"default": [{"type": "signedBy", "keyType": "PGP", "keyPath": "/k.gpg"}]})",
       R"(default[0].keyType: unrecognised keyType "PGP")"},
      {R"({"default": [{"type": "reject"}], "transports": {"docker": {"": {}}}})",
       R"(transports.docker[""]: must be an array of requirements, not an object)"},
      {R"({"default": [{"type": "reject"}], "transports": {"dir": {"relative/dir": [{"type": "reject"}]}}})",
       R"(transports.dir["relative/dir"]: invalid scope: the scope must be an absolute path)"},
      {R"({"default": [{"type": "reject"}], "transports": {"oci": {"/a//b": [{"type": "reject"}]}}})",
       R"(transports.oci["/a//b"]: invalid scope: the scope must be a path without empty, "." or ".." components)"},
      {R"({"default": [{"type": "reject"}], "transports": {"docker-archive": {"/x": [{"type": "reject"}]}}})",
       R"(transports["docker-archive"]["/x"]: invalid scope: docker-archive supports no scope but the default "")"},
      {R"({"default": [{"type": "reject"}], "transports": {"docker": null}})",
       "transports.docker: a transport's scopes must be a JSON object, not null"},
      {R"({"default": [{"type": "sigstoreSigned", "keyPath": "/nonexistent/k.pub"}]})",
       "default[0].keyPath: cannot open /nonexistent/k.pub"},
  };
  for (Case c : cases) {
    // "K" stands for a readable key file.
    if (auto at = c.text.find("\"K\""); at != std::string::npos) c.text.replace(at, 3, json(key).dump());
    std::string error = error_of([&] { SignaturePolicy::parse(c.text, "/etc/containers/policy.json"); });
    EXPECT_EQ(error.rfind("/etc/containers/policy.json: " + c.message, 0), 0u)
        << c.text << "\n  gave: " << error;
    EXPECT_EQ(error.find('\n'), std::string::npos) << error;
  }
}

TEST_F(PolicyTest, NotAKeyFailsTheLoad) {
  write_file_replace(dir_.path() + "/bad.pub", "not a key");
  json policy = {{"default", {{{"type", "sigstoreSigned"}, {"keyPath", "bad.pub"}}}}};
  std::string error = error_of([&] { SignaturePolicy::parse(policy.dump(), "p.json", dir_.path()); });
  EXPECT_EQ(error.rfind("p.json: default[0].keyPath: ", 0), 0u) << error;
  EXPECT_NE(error.find("bad.pub"), std::string::npos) << error;
}

TEST_F(PolicyTest, InvalidJsonIsOneLine) {
  std::string error = error_of([&] { SignaturePolicy::parse("{\"default\": [\n", "p.json"); });
  EXPECT_EQ(error.rfind("p.json: ", 0), 0u) << error;
  EXPECT_EQ(error.find('\n'), std::string::npos) << error;
}

class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::string& value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    setenv(name, value.c_str(), 1);
  }
  ~ScopedEnv() {
    if (old_) {
      setenv(name_, old_->c_str(), 1);
    } else {
      unsetenv(name_);
    }
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

TEST_F(PolicyTest, PathForPrefersTheFlagThenTheEnvironmentThenTheUserFile) {
  ScopedEnv home("HOME", dir_.path());
  {
    ScopedEnv env("GOCRATE_SIGNATURE_POLICY", "/from/env.json");
    EXPECT_EQ(SignaturePolicy::path_for("/given.json"), "/given.json");
    EXPECT_EQ(SignaturePolicy::path_for(""), "/from/env.json");
  }
  ScopedEnv empty("GOCRATE_SIGNATURE_POLICY", "");
  make_directories(dir_.path() + "/.config/containers");
  write_file_replace(dir_.path() + "/.config/containers/policy.json", "{}");
  EXPECT_EQ(SignaturePolicy::path_for(""), dir_.path() + "/.config/containers/policy.json");
}

class RegistriesDTest : public ::testing::Test {
 protected:
  void write(const std::string& name, const std::string& text) {
    write_file_replace(dir_.path() + "/" + name, text);
  }
  std::optional<bool> use(const RegistriesD& d, const std::string& ref) {
    return d.use_sigstore_attachments(Reference::parse(ref));
  }
  TempDir dir_;
};

TEST_F(RegistriesDTest, MostSpecificScopeWins) {
  write("a.yaml", R"(
default-docker:
  lookaside: file:///var/lib/containers/sigstore
  use-sigstore-attachments: false
docker:
  registry.example.com:5000:
    use-sigstore-attachments: true
  registry.example.com:5000/ns:
    use-sigstore-attachments: false
  registry.example.com:5000/ns/app:
    use-sigstore-attachments: true
  registry.example.com:5000/ns/app:v1:
    use-sigstore-attachments: false
)");
  write("b.yaml", R"(
docker:
  "*.example.org":
    use-sigstore-attachments: true
  docker.io/library/busybox:
    use-sigstore-attachments: true
  registry.example.com:5000/only-lookaside:
    lookaside: https://sigs.example.com
unknown-key: ignored
)");
  write("not-read.yml", "docker: [this is not read]");
  auto d = RegistriesD::load(dir_.path());
  EXPECT_EQ(use(d, "registry.example.com:5000/ns/app:v1"), false);
  EXPECT_EQ(use(d, "registry.example.com:5000/ns/app:v2"), true);
  EXPECT_EQ(use(d, "registry.example.com:5000/ns/other"), false);
  EXPECT_EQ(use(d, "registry.example.com:5000/x/y"), true);
  // A scope without the setting leaves it to the less specific ones.
  EXPECT_EQ(use(d, "registry.example.com:5000/only-lookaside"), true);
  EXPECT_EQ(use(d, "mirror.example.org/x"), true);
  EXPECT_EQ(use(d, "busybox"), true);
  EXPECT_EQ(use(d, "quay.io/x"), false);
}

TEST_F(RegistriesDTest, NothingConfiguredIsUnset) {
  EXPECT_EQ(use(RegistriesD::load(dir_.path() + "/missing"), "busybox"), std::nullopt);
  write("a.yaml", "docker:\n  quay.io:\n    lookaside: https://x\n");
  EXPECT_EQ(use(RegistriesD::load(dir_.path()), "quay.io/a/b"), std::nullopt);
}

TEST_F(RegistriesDTest, DuplicatesAcrossFilesAreErrors) {
  write("a.yaml", "docker:\n  quay.io:\n    use-sigstore-attachments: true\n");
  write("b.yaml", "docker:\n  quay.io:\n    lookaside: https://x\n");
  EXPECT_EQ(error_of([&] { RegistriesD::load(dir_.path()); }),
            "registries.d: \"docker\" scope \"quay.io\" is defined both in " + dir_.path() + "/a.yaml and " +
                dir_.path() + "/b.yaml; keep one");
  write("b.yaml", "default-docker:\n  use-sigstore-attachments: true\n");
  write("c.yaml", "default-docker:\n  use-sigstore-attachments: false\n");
  EXPECT_EQ(error_of([&] { RegistriesD::load(dir_.path()); }),
            "registries.d: \"default-docker\" is defined both in " + dir_.path() + "/b.yaml and " +
                dir_.path() + "/c.yaml; keep one");
}

TEST_F(RegistriesDTest, MalformedFilesNameTheFile) {
  write("a.yaml", "docker:\n  quay.io:\n    use-sigstore-attachments: maybe\n");
  EXPECT_EQ(error_of([&] { RegistriesD::load(dir_.path()); }),
            dir_.path() + "/a.yaml: docker.\"quay.io\".use-sigstore-attachments must be true or false");
  write("a.yaml", "docker: [1, 2]\n");
  EXPECT_EQ(error_of([&] { RegistriesD::load(dir_.path()); }),
            dir_.path() + "/a.yaml: docker must be a mapping of scopes");
  write("a.yaml", "docker:\n  ? [a, b]\n  : {}\n");
  EXPECT_EQ(error_of([&] { RegistriesD::load(dir_.path()); }).rfind(dir_.path() + "/a.yaml: ", 0), 0u);
  write("a.yaml", "docker: {quay.io: [\n");
  EXPECT_EQ(error_of([&] { RegistriesD::load(dir_.path()); }).rfind(dir_.path() + "/a.yaml: ", 0), 0u);
}

TEST_F(RegistriesDTest, TheEnvironmentNamesTheDirectory) {
  write("a.yaml", "default-docker:\n  use-sigstore-attachments: true\n");
  ScopedEnv env("GOCRATE_REGISTRIES_D", dir_.path());
  EXPECT_EQ(use(RegistriesD::load(), "busybox"), true);
}

}  // namespace
}  // namespace gocrate
