#include "trust/image_trust.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "image/media_types.h"
#include "trust/simple_signing.h"
#include "util/error.h"
#include "util/fs.h"

namespace gocrate {
namespace {

using nlohmann::json;

Descriptor platform_manifest(Store& store, const std::string& arch) {
  Manifest m;
  m.media_type = media_type::oci_manifest;
  json config = {
      {"architecture", arch}, {"os", "linux"}, {"rootfs", {{"type", "layers"}, {"diff_ids", json::array()}}}};
  m.config = store.write_blob(config.dump(), std::string(media_type::oci_config));
  Descriptor d = store.write_blob(m.to_json_text(), std::string(media_type::oci_manifest));
  d.platform = Platform::parse("linux/" + arch);
  return d;
}

// An image of one platform named `name` in the store.
NamedImage store_image(Store& store, const std::string& name) {
  Descriptor d = platform_manifest(store, "amd64");
  d.platform.reset();
  store.set_name(name, d);
  return {name, d};
}

// An index of two platforms named `name`.
NamedImage store_index(Store& store, const std::string& name, std::vector<Descriptor>& manifests) {
  manifests = {platform_manifest(store, "amd64"), platform_manifest(store, "arm64")};
  Index index;
  index.media_type = media_type::oci_index;
  index.manifests = manifests;
  Descriptor d = store.write_blob(index.to_json_text(), std::string(media_type::oci_index));
  store.set_name(name, d);
  return {name, d};
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(ImageTrustTest, SignsAStoreImageAndVerifiesItWithTheKey) {
  TempDir dir;
  Store store(dir.path() + "/store");
  NamedImage image = store_image(store, "hello:latest");
  PrivateKey key = PrivateKey::generate();

  auto signed_manifests = sign_image(store, {"hello"}, key);
  ASSERT_EQ(signed_manifests.size(), 1u);
  EXPECT_EQ(signed_manifests[0].digest, image.descriptor.digest);
  EXPECT_EQ(signed_manifests[0].identity, "docker.io/library/hello:latest");
  EXPECT_EQ(signed_manifests[0].where, "the store");

  VerificationReport report = verify_image(store, {"hello"}, key.public_key());
  ASSERT_EQ(report.verified.size(), 1u);
  EXPECT_EQ(report.verified[0].identity, "docker.io/library/hello:latest");
  EXPECT_EQ(report.verified[0].optional["creator"], std::string("gocrate ") + GOCRATE_VERSION);

  auto candidates = store_signatures(store, image.descriptor.digest);
  ASSERT_EQ(candidates.size(), 1u);
  EXPECT_EQ(parse_signature_payload(candidates[0].payload, "payload").manifest_digest,
            image.descriptor.digest);
}

TEST(ImageTrustTest, AnotherKeyIsRefusedWithTheReason) {
  TempDir dir;
  Store store(dir.path() + "/store");
  store_image(store, "hello:latest");
  PrivateKey key = PrivateKey::generate();
  std::string none = error_of([&] { verify_image(store, {"hello"}, key.public_key()); });
  EXPECT_NE(none.find("the store holds no signatures"), std::string::npos) << none;

  sign_image(store, {"hello"}, key);
  PrivateKey other = PrivateKey::generate();
  std::string message = error_of([&] { verify_image(store, {"hello"}, other.public_key()); });
  EXPECT_NE(
      message.find("no signature of hello:latest verified with key " + other.public_key().fingerprint()),
      std::string::npos)
      << message;
  EXPECT_NE(message.find("signature 1 in the store: not signed by this key"), std::string::npos) << message;
}

TEST(ImageTrustTest, AnIdentityOfAnotherRepositoryIsRefused) {
  TempDir dir;
  Store store(dir.path() + "/store");
  store_image(store, "hello:latest");
  PrivateKey key = PrivateKey::generate();
  sign_image(store, {"hello"}, key, "registry.example.com/other:v1", json{{"env", "test"}});
  std::string message = error_of([&] { verify_image(store, {"hello"}, key.public_key()); });
  EXPECT_NE(
      message.find("identity \"registry.example.com/other:v1\" is not repository docker.io/library/hello"),
      std::string::npos)
      << message;
}

TEST(ImageTrustTest, AnIndexIsSignedWithEachOfItsManifests) {
  TempDir dir;
  Store store(dir.path() + "/store");
  std::vector<Descriptor> manifests;
  NamedImage image = store_index(store, "multi:v1", manifests);
  PrivateKey key = PrivateKey::generate();
  auto signed_manifests = sign_image(store, {"multi:v1"}, key);
  ASSERT_EQ(signed_manifests.size(), 3u);
  EXPECT_EQ(signed_manifests[0].digest, image.descriptor.digest);
  EXPECT_EQ(signed_manifests[1].digest, manifests[0].digest);
  EXPECT_EQ(signed_manifests[2].digest, manifests[1].digest);
  for (const auto& m : manifests) {
    auto attachment = find_store_attachment(store, m.digest, AttachmentKind::signature);
    ASSERT_TRUE(attachment);
    EXPECT_EQ(parse_signature_payload(attachment->entries.at(0).content, "payload").manifest_digest,
              m.digest);
  }
}

TEST(ImageTrustTest, AttestationsVerifyAndFilterByPredicateType) {
  TempDir dir;
  Store store(dir.path() + "/store");
  NamedImage image = store_image(store, "hello:latest");
  PrivateKey key = PrivateKey::generate();
  attest_image(store, {"hello"}, key, predicate_type_uri("custom"), json{{"a", 1}});
  attest_image(store, {"hello"}, key, predicate_type_uri("vuln"), json{{"b", 2}});

  AttestationReport all = verify_attestations(store, {"hello"}, key.public_key(), "");
  EXPECT_EQ(all.verified.size(), 2u);
  AttestationReport vuln =
      verify_attestations(store, {"hello"}, key.public_key(), predicate_type_uri("vuln"));
  ASSERT_EQ(vuln.verified.size(), 1u);
  EXPECT_EQ(vuln.verified[0].statement.predicate, (json{{"b", 2}}));
  EXPECT_EQ(vuln.verified[0].statement.subjects.at(0).digest, image.descriptor.digest);
  EXPECT_TRUE(vuln.rejected.empty());

  std::string message = error_of(
      [&] { verify_attestations(store, {"hello"}, key.public_key(), predicate_type_uri("spdxjson")); });
  EXPECT_NE(message.find("of predicate type https://spdx.dev/Document"), std::string::npos) << message;
  std::string other =
      error_of([&] { verify_attestations(store, {"hello"}, PrivateKey::generate().public_key(), ""); });
  EXPECT_NE(other.find("attestation 2 in the store: not signed by this key"), std::string::npos) << other;
}

TEST(ImageTrustTest, StorePolicyNeedsASignatureUnlessTheImageWasBuiltHere) {
  TempDir dir;
  Store store(dir.path() + "/store");
  NamedImage image = store_image(store, "hello:latest");
  PrivateKey key = PrivateKey::generate();
  std::string pub = dir.path() + "/key.pub";
  write_file_atomic(pub, key.public_key().pem());
  std::string policy = dir.path() + "/policy.json";
  write_file_atomic(
      policy,
      json{{"default", {{{"type", "insecureAcceptAnything"}}}},
           {"transports",
            {{"docker", {{"docker.io/library/hello", {{{"type", "sigstoreSigned"}, {"keyPath", pub}}}}}}}}}
          .dump());

  std::string message =
      error_of([&] { enforce_store_policy(store, image, load_policy_in_effect(policy), "run"); });
  EXPECT_NE(message.find("hello:latest refused by policy " + policy +
                         " (scope docker \"docker.io/library/hello\"): "),
            std::string::npos)
      << message;

  store.cache_put("built", image.descriptor.digest.hex,
                  json{{"digest", image.descriptor.digest.str()}}.dump());
  EXPECT_NO_THROW(enforce_store_policy(store, image, load_policy_in_effect(policy), "run"));
  std::remove((store.dir() + "/cache/built/" + image.descriptor.digest.hex).c_str());

  sign_image(store, {"hello"}, key);
  EXPECT_NO_THROW(enforce_store_policy(store, image, load_policy_in_effect(policy), "run"));
  NamedImage other = store_image(store, "other:latest");
  EXPECT_NO_THROW(enforce_store_policy(store, other, load_policy_in_effect(policy), "run"));
}

}  // namespace
}  // namespace gocrate
