#include "transport/diff_id_verifier.h"

#include <gtest/gtest.h>

#include <functional>

#include "image/media_types.h"
#include "layer/compress.h"
#include "layer/tar_for_tests.h"
#include "util/error.h"
#include "util/error_for_tests.h"
#include "util/fs.h"

namespace gocrate {
namespace {

struct TestImage {
  Descriptor root;
  std::vector<Descriptor> layers;
};

// An image of gzip layers holding `tars`, whose config claims `diff_ids`
// (by default the true ones).
TestImage write_image(OciLayout& layout, const std::vector<std::string>& tars,
                      std::vector<Digest> diff_ids = {}, const std::string& os = "linux") {
  TestImage image;
  ImageConfig config;
  config.architecture = "amd64";
  config.os = os;
  for (const auto& tar : tars) {
    std::string blob = compress_chunk(tar, {media_type::Compression::gzip, 1});
    image.layers.push_back(layout.write_blob(blob, std::string(media_type::oci_layer_gzip)));
  }
  if (diff_ids.empty()) {
    for (const auto& tar : tars) diff_ids.push_back(Digest::of(tar));
  }
  config.diff_ids = diff_ids;
  Manifest manifest;
  manifest.media_type = media_type::oci_manifest;
  manifest.config = layout.write_blob(config.to_json_text(), std::string(media_type::oci_config));
  manifest.layers = image.layers;
  image.root = layout.write_blob(manifest.to_json_text(), std::string(media_type::oci_manifest));
  return image;
}

void expect_mentions(const std::string& message, const std::vector<std::string>& parts) {
  EXPECT_FALSE(message.empty());
  for (const auto& part : parts)
    EXPECT_NE(message.find(part), std::string::npos) << part << " not in: " << message;
}

class DiffIdVerifierTest : public ::testing::Test {
 protected:
  TempDir work_;
  OciLayout source_{work_.path() + "/source", true};
  Store store_{work_.path() + "/store"};
  std::string app_ = tar_of("app/hello", "the real program");
  std::string base_ = tar_of("etc/passwd", "root:x:0:0::/root:/bin/sh\n");
  std::string evil_ = tar_of("app/hello", "something else");
};

TEST_F(DiffIdVerifierTest, AnHonestImageIsCopiedAndItsDiffIdsRecorded) {
  TestImage image = write_image(source_, {base_, app_});
  DiffIdVerifier verified(source_, store_);
  verified.expect(image.root, "hello:latest");
  copy_image(verified, image.root, store_);
  EXPECT_TRUE(store_.has_blob(image.root.digest));
  EXPECT_EQ(DiffIdVerifier::recorded_diff_id(store_, image.layers[0].digest), Digest::of(base_));
  EXPECT_EQ(DiffIdVerifier::recorded_diff_id(store_, image.layers[1].digest), Digest::of(app_));
}

TEST_F(DiffIdVerifierTest, ASwappedLayerIsRefusedAndNeverStored) {
  // The config says the app layer is app_, the blob holds evil_.
  TestImage image = write_image(source_, {base_, evil_}, {Digest::of(base_), Digest::of(app_)});
  DiffIdVerifier verified(source_, store_);
  verified.expect(image.root, "hello:latest");
  std::string message = error_of([&] { copy_image(verified, image.root, store_); });
  expect_mentions(message, {image.layers[1].digest.str(), Digest::of(app_).str(), Digest::of(evil_).str(),
                            "hello:latest"});
  EXPECT_FALSE(store_.has_blob(image.layers[1].digest));
  EXPECT_FALSE(store_.has_blob(image.root.digest));
  EXPECT_FALSE(DiffIdVerifier::recorded_diff_id(store_, image.layers[1].digest));
  EXPECT_TRUE(store_.images().empty());
}

TEST_F(DiffIdVerifierTest, ALayerTheStoreHasIsCheckedBeforeAnythingIsCopied) {
  TestImage honest = write_image(source_, {base_, app_});
  {
    DiffIdVerifier verified(source_, store_);
    verified.expect(honest.root, "hello:latest");
    copy_image(verified, honest.root, store_);
  }
  // Another image with the same blobs whose config lies about the first one:
  // copy_image would skip that layer, as the store has it.
  TestImage liar = write_image(source_, {base_, app_}, {Digest::of(evil_), Digest::of(app_)}, "freebsd");
  for (bool with_record : {true, false}) {
    if (!with_record) remove_tree(store_.dir() + "/cache");
    DiffIdVerifier verified(source_, store_);
    std::string message = error_of([&] { verified.expect(liar.root, "liar:v1"); });
    expect_mentions(
        message, {liar.layers[0].digest.str(), Digest::of(evil_).str(), Digest::of(base_).str(), "liar:v1"});
    // Read from the store's copy, the diff_id is recorded again.
    EXPECT_EQ(DiffIdVerifier::recorded_diff_id(store_, liar.layers[0].digest), Digest::of(base_));
  }
  EXPECT_FALSE(store_.has_blob(liar.root.digest));
}

TEST_F(DiffIdVerifierTest, LayerCountMustMatch) {
  TestImage image = write_image(source_, {base_, app_}, {Digest::of(base_)});
  DiffIdVerifier verified(source_, store_);
  expect_mentions(error_of([&] { verified.expect(image.root, "short:v1"); }),
                  {"short:v1", "2 layers", "config 1"});
}

TEST_F(DiffIdVerifierTest, EveryImageOfAnIndexIsChecked) {
  TestImage good = write_image(source_, {base_, app_});
  TestImage bad = write_image(source_, {base_, evil_}, {Digest::of(base_), Digest::of(app_)}, "freebsd");
  Index index;
  index.media_type = media_type::oci_index;
  index.manifests = {good.root, bad.root};
  Descriptor root = source_.write_blob(index.to_json_text(), std::string(media_type::oci_index));
  DiffIdVerifier verified(source_, store_);
  verified.expect(root, "multi:v1");
  expect_mentions(error_of([&] { copy_image(verified, root, store_); }), {bad.layers[1].digest.str()});
  EXPECT_FALSE(store_.has_blob(root.digest));
  EXPECT_FALSE(store_.has_blob(bad.layers[1].digest));
}

TEST_F(DiffIdVerifierTest, AnArtifactIsNotAnImage) {
  Manifest sbom;
  sbom.media_type = media_type::oci_manifest;
  sbom.artifact_type = media_type::spdx_json;
  sbom.config = source_.write_blob("{}", std::string(media_type::oci_empty));
  sbom.layers = {source_.write_blob(R"({"spdxVersion":"SPDX-2.3"})", std::string(media_type::spdx_json))};
  Descriptor root = source_.write_blob(sbom.to_json_text(), std::string(media_type::oci_manifest));
  DiffIdVerifier verified(source_, store_);
  verified.expect(root, "sbom");
  copy_image(verified, root, store_);
  EXPECT_TRUE(store_.has_blob(root.digest));
}

TEST_F(DiffIdVerifierTest, TheSumOfDecompressedLayersIsCapped) {
  std::string zeros = tar_of("zeros", std::string(4 << 20, '\0'));
  TestImage bomb = write_image(source_, {base_, zeros});
  DecompressionLimit limit(1 << 20, "the layers of archive bomb.tar", "raise it with --max-size");
  DiffIdVerifier verified(source_, store_, &limit);
  verified.expect(bomb.root, "bomb:v1");
  expect_mentions(error_of([&] { copy_image(verified, bomb.root, store_); }),
                  {"the layers of archive bomb.tar", "1 MiB", "--max-size"});
  EXPECT_FALSE(store_.has_blob(bomb.layers[1].digest));
  EXPECT_FALSE(store_.has_blob(bomb.root.digest));
}

TEST_F(DiffIdVerifierTest, ConfigsAreReadFromTheSourceOnce) {
  // A source that counts what it is asked for.
  struct Counting : BlobSource {
    OciLayout& inner;
    std::map<Digest, int> reads;
    explicit Counting(OciLayout& l) : inner(l) {}
    std::string read_blob(const Descriptor& d) override {
      ++reads[d.digest];
      return inner.read_blob(d);
    }
    std::unique_ptr<ByteReader> open_blob(const Descriptor& d) override {
      ++reads[d.digest];
      return inner.open_blob(d);
    }
    std::string describe() const override { return "counting"; }
  } counting(source_);
  TestImage image = write_image(source_, {base_, app_});
  DiffIdVerifier verified(counting, store_);
  verified.expect(image.root, "hello:latest");
  copy_image(verified, image.root, store_);
  Manifest manifest = Manifest::parse(source_.read_blob(image.root), "manifest");
  EXPECT_EQ(counting.reads[manifest.config.digest], 1);
  EXPECT_EQ(counting.reads[image.root.digest], 1);
}

}  // namespace
}  // namespace gocrate
