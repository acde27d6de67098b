#include "trust/attachments.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "image/media_types.h"
#include "transport/registry/base64.h"
#include "util/fs.h"
#include "util/processes_for_tests.h"

namespace gocrate {
namespace {

using nlohmann::json;

const std::string kSignature = std::string("\x30\x45\x02\x20\xff\x00\x7f", 7);

AttachedEntry signature_entry(const std::string& payload, const std::string& signature) {
  AttachedEntry entry;
  entry.media_type = media_type::simple_signing;
  entry.content = payload;
  entry.signature = signature;
  return entry;
}

// A small image manifest in `layout`, named, to be the subject.
Descriptor subject_image(OciLayout& layout, const std::string& name) {
  Manifest m;
  m.media_type = media_type::oci_manifest;
  json config = {{"architecture", "amd64"},
                 {"os", "linux"},
                 {"rootfs", {{"type", "layers"}, {"diff_ids", json::array()}}},
                 {"config", {{"Labels", {{"name", name}}}}}};
  m.config = layout.write_blob(config.dump(), std::string(media_type::oci_config));
  Descriptor d = layout.write_blob(m.to_json_text(), std::string(media_type::oci_manifest));
  layout.add_name(name, d);
  layout.commit();
  return d;
}

std::vector<Descriptor> attachments_in(OciLayout& layout) {
  std::vector<Descriptor> out;
  for (const auto& d : layout.read_index().manifests) {
    if (attachment_kind(d)) out.push_back(d);
  }
  return out;
}

TEST(AttachmentsTest, TagIsCosigns) {
  Digest d = Digest::of("x");
  EXPECT_EQ(attachment_tag(d, AttachmentKind::signature), "sha256-" + d.hex + ".sig");
  EXPECT_EQ(attachment_tag(d, AttachmentKind::attestation), "sha256-" + d.hex + ".att");
}

TEST(AttachmentsTest, AddKeepsOneOfEachContentAndSignature) {
  Attachment a;
  EXPECT_TRUE(a.add(signature_entry("payload", kSignature)));
  EXPECT_FALSE(a.add(signature_entry("payload", kSignature)));
  EXPECT_TRUE(a.add(signature_entry("payload", "other")));
  EXPECT_TRUE(a.add(signature_entry("other payload", kSignature)));
  EXPECT_EQ(a.entries.size(), 3u);
}

TEST(AttachmentsTest, SignaturesRoundTripInCosignsShape) {
  TempDir dir;
  OciLayout layout(dir.path() + "/layout", true);
  Attachment a;
  a.subject = Descriptor{std::string(media_type::oci_index), Digest::of("subject"), 7};
  a.subject.annotations["dropped"] = "yes";
  a.kind = AttachmentKind::signature;
  a.add(signature_entry(R"({"critical":{}})", kSignature));
  a.add(signature_entry(R"({"critical":{"x":1}})", "second"));

  Descriptor written = write_attachment(layout, a);
  EXPECT_EQ(written.media_type, media_type::oci_manifest);
  EXPECT_EQ(written.artifact_type, media_type::simple_signing);
  EXPECT_EQ(attachment_kind(written), AttachmentKind::signature);

  json manifest = json::parse(layout.read_blob(written));
  EXPECT_EQ(manifest["schemaVersion"], 2);
  EXPECT_EQ(manifest["mediaType"], media_type::oci_manifest);
  EXPECT_EQ(manifest["config"]["mediaType"], media_type::oci_config);
  EXPECT_EQ(manifest["subject"],
            json({{"mediaType", media_type::oci_index}, {"digest", a.subject.digest.str()}, {"size", 7}}));
  ASSERT_EQ(manifest["layers"].size(), 2u);
  EXPECT_EQ(manifest["layers"][0]["mediaType"], media_type::simple_signing);
  EXPECT_EQ(manifest["layers"][0]["digest"], Digest::of(R"({"critical":{}})").str());
  EXPECT_EQ(manifest["layers"][0]["annotations"][std::string(annotation::cosign_signature)],
            base64_encode(kSignature));

  Descriptor config = descriptor_from_json(manifest["config"], "config");
  json config_json = json::parse(layout.read_blob(config));
  EXPECT_EQ(config_json["architecture"], "");
  EXPECT_EQ(config_json["os"], "");
  EXPECT_EQ(config_json["config"], json::object());
  EXPECT_EQ(config_json["rootfs"]["type"], "layers");
  EXPECT_EQ(config_json["rootfs"]["diff_ids"],
            json({manifest["layers"][0]["digest"], manifest["layers"][1]["digest"]}));

  Descriptor plain{written.media_type, written.digest, written.size};
  Attachment read = read_attachment(layout, plain, a.subject, AttachmentKind::signature);
  ASSERT_EQ(read.entries.size(), 2u);
  EXPECT_EQ(read.entries[0].content, a.entries[0].content);
  EXPECT_EQ(read.entries[0].signature, kSignature);
  EXPECT_EQ(read.entries[1].signature, "second");
  EXPECT_EQ(read.entries[0].media_type, media_type::simple_signing);

  // Written again as read, it is the same manifest.
  EXPECT_EQ(write_attachment(layout, read).digest, written.digest);
}

TEST(AttachmentsTest, AttestationsHaveAnEmptySignatureAnnotation) {
  TempDir dir;
  OciLayout layout(dir.path() + "/layout", true);
  Attachment a;
  a.subject = Descriptor{std::string(media_type::oci_manifest), Digest::of("subject"), 7};
  a.kind = AttachmentKind::attestation;
  AttachedEntry entry;
  entry.media_type = media_type::dsse_envelope;
  entry.content = R"({"payloadType":"application/vnd.in-toto+json","payload":"e30=","signatures":[]})";
  entry.annotations[std::string(annotation::predicate_type)] = "https://slsa.dev/provenance/v1";
  a.add(entry);

  Descriptor written = write_attachment(layout, a);
  EXPECT_EQ(attachment_kind(written), AttachmentKind::attestation);
  json layer = json::parse(layout.read_blob(written))["layers"][0];
  EXPECT_EQ(layer["mediaType"], media_type::dsse_envelope);
  EXPECT_EQ(layer["annotations"], json({{annotation::cosign_signature, ""},
                                        {annotation::predicate_type, "https://slsa.dev/provenance/v1"}}));
  Attachment read = read_attachment(layout, written, a.subject, AttachmentKind::attestation);
  ASSERT_EQ(read.entries.size(), 1u);
  EXPECT_EQ(read.entries[0].content, entry.content);
  EXPECT_EQ(read.entries[0].signature, "");
  EXPECT_EQ(read.entries[0].annotations.at(std::string(annotation::predicate_type)),
            "https://slsa.dev/provenance/v1");
}

TEST(AttachmentsTest, StoreKeepsOnePerSubjectAndKind) {
  TempDir dir;
  Store store(dir.path() + "/store");
  Descriptor image = subject_image(store, "app:v1");
  Descriptor other = subject_image(store, "other:v1");
  ASSERT_NE(image.digest, other.digest);

  Attachment first{image, AttachmentKind::signature, {}};
  first.add(signature_entry("one", "sig1"));
  put_store_attachment(store, first);
  Attachment of_other{other, AttachmentKind::signature, {}};
  of_other.add(signature_entry("elsewhere", "sig"));
  put_store_attachment(store, of_other);
  Attachment attestation{image, AttachmentKind::attestation, {}};
  attestation.add(AttachedEntry{std::string(media_type::dsse_envelope), "{}", "", {}});
  put_store_attachment(store, attestation);
  EXPECT_EQ(attachments_in(store).size(), 3u);

  Attachment second = first;
  second.add(signature_entry("two", "sig2"));
  put_store_attachment(store, second);
  EXPECT_EQ(attachments_in(store).size(), 3u);
  auto found = find_store_attachment(store, image.digest, AttachmentKind::signature);
  ASSERT_TRUE(found);
  ASSERT_EQ(found->entries.size(), 2u);
  EXPECT_EQ(found->entries[1].content, "two");
  EXPECT_EQ(found->subject.digest, image.digest);
  EXPECT_EQ(find_store_attachment(store, other.digest, AttachmentKind::signature)->entries[0].content,
            "elsewhere");
  EXPECT_EQ(find_store_attachment(store, image.digest, AttachmentKind::attestation)->entries.size(), 1u);
  EXPECT_FALSE(find_store_attachment(store, other.digest, AttachmentKind::attestation));

  // They are the image's referrers, so push and save carry them.
  EXPECT_EQ(store.referrers(image).size(), 2u);

  // Merging adds only what is new.
  Attachment more{image, AttachmentKind::signature, {}};
  more.add(signature_entry("two", "sig2"));
  EXPECT_FALSE(merge_store_attachment(store, more));
  more.add(signature_entry("three", "sig3"));
  EXPECT_TRUE(merge_store_attachment(store, more));
  EXPECT_EQ(find_store_attachment(store, image.digest, AttachmentKind::signature)->entries.size(), 3u);
  EXPECT_EQ(attachments_in(store).size(), 3u);

  // Without entries, the attachment goes.
  put_store_attachment(store, Attachment{image, AttachmentKind::signature, {}});
  EXPECT_FALSE(find_store_attachment(store, image.digest, AttachmentKind::signature));
  EXPECT_EQ(attachments_in(store).size(), 2u);
}

TEST(AttachmentsTest, ConcurrentMergesKeepEveryEntry) {
  TempDir dir;
  std::string root = dir.path() + "/store";
  Descriptor image;
  {
    Store store(root);
    image = subject_image(store, "app:v1");
  }
  in_processes(4, [&](int i) {
    Store store(root);
    Attachment a{image, AttachmentKind::signature, {}};
    a.add(signature_entry("payload " + std::to_string(i), "sig"));
    merge_store_attachment(store, a);
  });
  Store store(root);
  EXPECT_EQ(find_store_attachment(store, image.digest, AttachmentKind::signature)->entries.size(), 4u);
  EXPECT_EQ(attachments_in(store).size(), 1u);
}

}  // namespace
}  // namespace gocrate
