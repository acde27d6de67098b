#include "trust/simple_signing.h"

#include <gtest/gtest.h>

#include "trust/keys.h"
#include "util/error_for_tests.h"

namespace gocrate {
namespace {

const Digest kDigest = Digest::of("manifest");

TEST(SimpleSigning, MakesCosignsPayloadByteForByte) {
  SignaturePayload payload{"localhost:5000/app:v1", kDigest, nullptr};
  EXPECT_EQ(
      make_signature_payload(payload),
      R"({"critical":{"identity":{"docker-reference":"localhost:5000/app:v1"},"image":{"docker-manifest-digest":")" +
          kDigest.str() + R"("},"type":"cosign container image signature"},"optional":null})");
}

TEST(SimpleSigning, RoundTripsWithOptional) {
  SignaturePayload payload{
      "localhost:5000/app", kDigest, {{"creator", "gocrate"}, {"timestamp", 1700000000}}};
  SignaturePayload parsed = parse_signature_payload(make_signature_payload(payload), "p");
  EXPECT_EQ(parsed.docker_reference, "localhost:5000/app");
  EXPECT_EQ(parsed.manifest_digest, kDigest);
  EXPECT_EQ(parsed.optional["creator"], "gocrate");
  EXPECT_EQ(parsed.optional["timestamp"], 1700000000);
}

TEST(SimpleSigning, ParsesWhatContainersImageWrites) {
  // containers/image (skopeo, podman) writes "optional" with creator and timestamp.
  std::string text = R"({"critical":{"identity":{"docker-reference":"quay.io/a/b:latest"},)"
                     R"("image":{"docker-manifest-digest":")" +
                     kDigest.str() +
                     R"("},"type":"cosign container image signature"},)"
                     R"("optional":{"creator":"containers/image 5.23.1","timestamp":1670000000}})";
  SignaturePayload parsed = parse_signature_payload(text, "p");
  EXPECT_EQ(parsed.docker_reference, "quay.io/a/b:latest");
  EXPECT_EQ(parsed.optional["creator"], "containers/image 5.23.1");
}

TEST(SimpleSigning, SignedPayloadVerifiesAndTamperedDoesNot) {
  PrivateKey key = PrivateKey::generate();
  std::string payload = make_signature_payload({"r/app:v1", kDigest, nullptr});
  std::string signature = key.sign(payload);
  EXPECT_TRUE(key.public_key().verify(payload, signature));
  std::string tampered = payload;
  tampered.replace(tampered.find("v1"), 2, "v2");
  EXPECT_FALSE(key.public_key().verify(tampered, signature));
}

TEST(SimpleSigning, ParsingIsStrict) {
  auto error = [](const std::string& text) {
    return error_of([&] { parse_signature_payload(text, "sig 1"); });
  };
  std::string digest = kDigest.str();
  auto payload = [&](const std::string& critical, const std::string& optional = "null") {
    return R"({"critical":)" + critical + R"(,"optional":)" + optional + "}";
  };
  auto critical = [&](const std::string& type, const std::string& extra = "") {
    return R"({"identity":{"docker-reference":"r/a"},"image":{"docker-manifest-digest":")" + digest +
           R"("},"type":")" + type + "\"" + extra + "}";
  };
  std::string good_critical = critical("cosign container image signature");
  EXPECT_EQ(error(payload(good_critical)), "");

  EXPECT_NE(error(payload(critical("atomic container signature"))).find("unrecognised signature type"),
            std::string::npos);
  EXPECT_NE(
      error(payload(critical("cosign container image signature", R"(,"extra":1)"))).find("unexpected field"),
      std::string::npos);
  EXPECT_NE(error(R"({"critical":)" + good_critical + "}").find("has no \"optional\""), std::string::npos);
  EXPECT_NE(
      error(R"({"critical":)" + good_critical + R"(,"optional":null,"more":{}})").find("unexpected field"),
      std::string::npos);
  EXPECT_NE(error(payload(good_critical, "[]")).find("\"optional\" must be null or a JSON object"),
            std::string::npos);
  EXPECT_NE(error(payload(good_critical, R"({"timestamp":1.5})")).find("must be an integer"),
            std::string::npos);
  EXPECT_NE(error(payload(good_critical, R"({"creator":7})")).find("must be a string"), std::string::npos);
  EXPECT_EQ(error(payload(good_critical, R"({"anything":"else"})")), "");

  std::string no_identity =
      R"({"image":{"docker-manifest-digest":")" + digest + R"("},"type":"cosign container image signature"})";
  EXPECT_NE(error(payload(no_identity)).find("has no \"identity\""), std::string::npos);
  std::string bad_digest =
      R"({"identity":{"docker-reference":"r/a"},"image":{"docker-manifest-digest":"sha256:abc"},"type":"cosign container image signature"})";
  EXPECT_NE(error(payload(bad_digest)).find("invalid docker-manifest-digest"), std::string::npos);
  std::string extra_identity =
      R"({"identity":{"docker-reference":"r/a","x":1},"image":{"docker-manifest-digest":")" + digest +
      R"("},"type":"cosign container image signature"})";
  EXPECT_NE(error(payload(extra_identity)).find("unexpected field \"x\""), std::string::npos);
  std::string duplicate = R"({"critical":)" + good_critical + R"(,"optional":null,"optional":null})";
  EXPECT_EQ(error(duplicate), "sig 1: key \"optional\" appears twice in one object");
  EXPECT_NE(error("{not json").find("sig 1 is not valid JSON"), std::string::npos);
}

}  // namespace
}  // namespace gocrate
