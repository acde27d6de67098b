#include "trust/dsse.h"

#include <gtest/gtest.h>

#include "transport/registry/base64.h"
#include "util/error_for_tests.h"

namespace gocrate {
namespace {

TEST(Dsse, PaeMatchesTheSpecificationsTestVector) {
  // secure-systems-lab/dsse protocol.md, "Test Vectors".
  EXPECT_EQ(dsse_pae("http://example.com/HelloWorld", "hello world"),
            "DSSEv1 29 http://example.com/HelloWorld 11 hello world");
  EXPECT_EQ(dsse_pae("", ""), "DSSEv1 0  0 ");
}

TEST(Dsse, SignedEnvelopeVerifiesAndRoundTripsThroughJson) {
  PrivateKey key = PrivateKey::generate();
  DsseEnvelope envelope = dsse_sign(key, media_type::in_toto, R"({"_type":"x"})");
  ASSERT_EQ(envelope.signatures.size(), 1u);
  EXPECT_TRUE(dsse_verify(envelope, key.public_key()));
  EXPECT_TRUE(
      key.public_key().verify(dsse_pae(media_type::in_toto, R"({"_type":"x"})"), envelope.signatures[0].sig));

  std::string text = envelope.to_json_text();
  auto json = nlohmann::json::parse(text);
  EXPECT_EQ(json["payloadType"], "application/vnd.in-toto+json");
  EXPECT_EQ(json["payload"], base64_encode(R"({"_type":"x"})"));
  EXPECT_EQ(json["signatures"][0]["keyid"], "");
  EXPECT_EQ(json["signatures"][0]["sig"], base64_encode(envelope.signatures[0].sig));

  DsseEnvelope parsed = DsseEnvelope::parse(text, "att");
  EXPECT_EQ(parsed.payload_type, envelope.payload_type);
  EXPECT_EQ(parsed.payload, envelope.payload);
  EXPECT_TRUE(dsse_verify(parsed, key.public_key()));
}

TEST(Dsse, TamperedEnvelopesAndOtherKeysFail) {
  PrivateKey key = PrivateKey::generate();
  DsseEnvelope envelope = dsse_sign(key, media_type::in_toto, "payload");
  DsseEnvelope changed_payload = envelope;
  changed_payload.payload = "payloaD";
  EXPECT_FALSE(dsse_verify(changed_payload, key.public_key()));
  DsseEnvelope changed_type = envelope;
  changed_type.payload_type = "text/plain";
  EXPECT_FALSE(dsse_verify(changed_type, key.public_key()));
  EXPECT_FALSE(dsse_verify(envelope, PrivateKey::generate().public_key()));
  DsseEnvelope unsigned_envelope = envelope;
  unsigned_envelope.signatures.clear();
  EXPECT_FALSE(dsse_verify(unsigned_envelope, key.public_key()));
  // One good signature among others is enough.
  DsseEnvelope several = envelope;
  several.signatures.insert(several.signatures.begin(), {"other", "garbage"});
  EXPECT_TRUE(dsse_verify(several, key.public_key()));
}

TEST(Dsse, ParseAcceptsUrlSafeBase64AndRefusesGarbage) {
  std::string text = R"({"payloadType":"t","payload":"-_-_","signatures":[{"sig":"AAAA"}]})";
  DsseEnvelope parsed = DsseEnvelope::parse(text, "att");
  EXPECT_EQ(parsed.payload, "\xfb\xff\xbf");
  EXPECT_EQ(parsed.signatures[0].keyid, "");
  EXPECT_NE(error_of([] {
              DsseEnvelope::parse(R"({"payload":"","signatures":[]})", "att");
            }).find("missing string \"payloadType\""),
            std::string::npos);
  EXPECT_NE(error_of([] {
              DsseEnvelope::parse(R"({"payloadType":"t","payload":"*","signatures":[]})", "att");
            }).find("not base64"),
            std::string::npos);
  EXPECT_NE(error_of([] {
              DsseEnvelope::parse(R"({"payloadType":"t","payload":""})", "att");
            }).find("\"signatures\""),
            std::string::npos);
}

TEST(InToto, StatementRoundTrips) {
  InTotoStatement statement;
  statement.predicate_type = "https://slsa.dev/provenance/v1";
  statement.subjects.push_back({"localhost:5000/app", Digest::of("m")});
  statement.predicate = {{"buildDefinition", {{"buildType", "x"}}}};
  std::string text = statement.to_json_text();
  EXPECT_EQ(text,
            R"({"_type":"https://in-toto.io/Statement/v1","predicateType":"https://slsa.dev/provenance/v1",)"
            R"("subject":[{"name":"localhost:5000/app","digest":{"sha256":")" +
                Digest::of("m").hex + R"("}}],"predicate":{"buildDefinition":{"buildType":"x"}}})");
  InTotoStatement parsed = InTotoStatement::parse(text, "s");
  EXPECT_EQ(parsed.type, statement.type);
  EXPECT_EQ(parsed.predicate_type, statement.predicate_type);
  ASSERT_EQ(parsed.subjects.size(), 1u);
  EXPECT_EQ(parsed.subjects[0].name, "localhost:5000/app");
  EXPECT_EQ(parsed.subjects[0].digest, Digest::of("m"));
  EXPECT_EQ(parsed.predicate, statement.predicate);
}

TEST(InToto, ParsesCosignsStatementV01) {
  std::string hex = Digest::of("m").hex;
  std::string text =
      R"({"_type":"https://in-toto.io/Statement/v0.1","predicateType":"https://cosign.sigstore.dev/attestation/v1",)"
      R"("subject":[{"name":"r/app","digest":{"sha256":")" +
      hex + R"("}}],"predicate":{"Data":"hello","Timestamp":"2024-01-01T00:00:00Z"}})";
  InTotoStatement parsed = InTotoStatement::parse(text, "s");
  EXPECT_EQ(parsed.type, "https://in-toto.io/Statement/v0.1");
  EXPECT_EQ(parsed.subjects[0].digest.hex, hex);
  EXPECT_EQ(parsed.predicate["Data"], "hello");
  EXPECT_NE(error_of([] {
              InTotoStatement::parse(R"({"_type":"https://example.com/Other"})", "s");
            }).find("unknown statement type"),
            std::string::npos);
  EXPECT_NE(
      error_of([] {
        InTotoStatement::parse(
            R"({"_type":"https://in-toto.io/Statement/v1","predicateType":"p","subject":[{"name":"x","digest":{"sha256":"zz"}}]})",
            "s");
      }).find("invalid sha256 digest"),
      std::string::npos);
}

TEST(InToto, PredicateTypeNamesMapAsInCosign) {
  EXPECT_EQ(predicate_type_uri("slsaprovenance"), "https://slsa.dev/provenance/v0.2");
  EXPECT_EQ(predicate_type_uri("slsaprovenance02"), "https://slsa.dev/provenance/v0.2");
  EXPECT_EQ(predicate_type_uri("slsaprovenance1"), "https://slsa.dev/provenance/v1");
  EXPECT_EQ(predicate_type_uri("spdx"), "https://spdx.dev/Document");
  EXPECT_EQ(predicate_type_uri("spdxjson"), "https://spdx.dev/Document");
  EXPECT_EQ(predicate_type_uri("cyclonedx"), "https://cyclonedx.org/bom");
  EXPECT_EQ(predicate_type_uri("link"), "https://in-toto.io/Link/v1");
  EXPECT_EQ(predicate_type_uri("vuln"), "https://cosign.sigstore.dev/attestation/vuln/v1");
  EXPECT_EQ(predicate_type_uri("openvex"), "https://openvex.dev/ns");
  EXPECT_EQ(predicate_type_uri("custom"), "https://cosign.sigstore.dev/attestation/v1");
  EXPECT_EQ(predicate_type_uri("https://example.com/mine/v1"), "https://example.com/mine/v1");
  std::string error = error_of([] { predicate_type_uri("sbom"); });
  EXPECT_TRUE(error.starts_with("unknown predicate type \"sbom\": use one of slsaprovenance, ")) << error;
}

}  // namespace
}  // namespace gocrate
