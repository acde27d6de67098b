#include "layer/diff_id.h"

#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <thread>

#include "image/media_types.h"
#include "layer/compress.h"
#include "layer/layer_writer.h"
#include "layer/tar_for_tests.h"
#include "util/error.h"
#include "util/error_for_tests.h"

namespace gocrate {
namespace {

// Several gzip members or zstd frames, as ParallelCompressor writes them.
std::string compressed(std::string_view data, media_type::Compression algorithm) {
  std::string out;
  ParallelCompressor compressor({algorithm, 1}, [&](std::string_view d) { out.append(d); });
  compressor.write(data);
  compressor.finish();
  return out;
}

Descriptor layer_of(const std::string& blob, std::string_view media_type) {
  return Descriptor{std::string(media_type), Digest::of(blob), static_cast<int64_t>(blob.size())};
}

void drain_for_test(ByteReader& reader) {
  char buffer[4096];
  while (reader.read(buffer, sizeof buffer) > 0) {
  }
}

// Checks what it reads against a digest at the end, as every BlobSource's
// readers do.
class VerifyingReader : public ByteReader {
 public:
  VerifyingReader(std::string data, Digest expected)
      : data_(std::move(data)), expected_(std::move(expected)) {}
  size_t read(void* buffer, size_t size) override {
    size_t n = reader_.read(buffer, size);
    hash_.update(buffer, n);
    if (n == 0 && !checked_) {
      checked_ = true;
      if (Digest::from_hex(hash_.finish_hex()) != expected_) fail("blob does not match its digest");
    }
    return n;
  }

 private:
  std::string data_;
  StringReader reader_{data_};
  Digest expected_;
  Sha256 hash_;
  bool checked_ = false;
};

// A gzip blob with a byte flipped in the middle, and its digest before.
std::pair<std::string, Digest> tampered_gzip() {
  std::string tar;
  for (int i = 0; i < 2000; ++i) tar += tar_of("f" + std::to_string(i), std::to_string(i * 7919));
  std::string blob = compressed(tar, media_type::Compression::gzip);
  Digest digest = Digest::of(blob);
  blob[blob.size() / 2] ^= 0xff;
  return {blob, digest};
}

TEST(LayerDiffId, IsTheDigestOfTheUncompressedTarForEveryCompression) {
  // Larger than a compression chunk, so that gzip and zstd write several members.
  std::string tar = tar_of("app/data", std::string(3 << 20, 'x') + "end");
  Digest expected = Digest::of(tar);
  struct Case {
    std::string blob;
    std::string_view media_type;
  } cases[] = {{tar, media_type::oci_layer_tar},
               {compressed(tar, media_type::Compression::gzip), media_type::oci_layer_gzip},
               {compressed(tar, media_type::Compression::gzip), media_type::docker_layer_gzip},
               {compressed(tar, media_type::Compression::zstd), media_type::oci_layer_zstd},
               // A media type that does not say: the first bytes do.
               {compressed(tar, media_type::Compression::gzip), "application/octet-stream"},
               {compressed(tar, media_type::Compression::zstd), "application/octet-stream"},
               {tar, "application/octet-stream"}};
  for (const auto& c : cases) {
    StringReader blob(c.blob);
    EXPECT_EQ(layer_diff_id(blob, layer_of(c.blob, c.media_type)), expected) << c.media_type;
  }
}

TEST(LayerDiffId, ContentReaderHashesWhatItIsReadForAndTheRest) {
  std::string tar = tar_of("a", "hello");
  std::string blob = compressed(tar, media_type::Compression::gzip);
  StringReader in(blob);
  LayerContentReader content(in, layer_of(blob, media_type::oci_layer_gzip));
  char head[100];
  ASSERT_EQ(content.read_full(head, sizeof head), sizeof head);
  EXPECT_EQ(std::string_view(head, sizeof head), std::string_view(tar).substr(0, sizeof head));
  EXPECT_EQ(content.finish(), Digest::of(tar));
  EXPECT_EQ(content.size(), tar.size());
  EXPECT_EQ(content.finish(), Digest::of(tar));  // again, the same
}

TEST(LayerDiffId, ATamperedBlobIsReportedAsSuchNotAsCorruptCompression) {
  auto [blob, digest] = tampered_gzip();
  Descriptor layer{std::string(media_type::oci_layer_gzip), digest, static_cast<int64_t>(blob.size())};
  VerifyingReader in(blob, digest);
  EXPECT_EQ(error_of([&] { layer_diff_id(in, layer); }), "blob does not match its digest");
  // A blob that matches its digest but does not decompress is named as corrupt.
  StringReader plain(blob);
  std::string message = error_of([&] { layer_diff_id(plain, layer_of(blob, media_type::oci_layer_gzip)); });
  EXPECT_NE(message.find("is corrupt"), std::string::npos) << message;
}

TEST(LayerDiffId, MismatchNamesLayerBothDiffIdsAndImage) {
  Digest layer = Digest::of("layer"), expected = Digest::of("expected"), actual = Digest::of("actual");
  EXPECT_NO_THROW(check_diff_id(layer, expected, expected, "hello:latest"));
  std::string message = error_of([&] { check_diff_id(layer, expected, actual, "hello:latest"); });
  for (const auto& part : {layer.str(), expected.str(), actual.str(), std::string("hello:latest")})
    EXPECT_NE(message.find(part), std::string::npos) << part << " not in: " << message;
  EXPECT_EQ(message.find('\n'), std::string::npos);
}

TEST(LayerDiffId, ADecompressionBombIsStoppedAtTheLimit) {
  std::string tar = tar_of("zeros", std::string(8 << 20, '\0'));
  std::string blob = compressed(tar, media_type::Compression::gzip);
  ASSERT_LT(blob.size(), 200u << 10);
  DecompressionLimit limit(1 << 20, "archive /tmp/bomb.tar", "raise it with --max-size");
  StringReader in(blob);
  std::string message =
      error_of([&] { layer_diff_id(in, layer_of(blob, media_type::oci_layer_gzip), &limit); });
  for (const auto& part : {"archive /tmp/bomb.tar", "1 MiB", "--max-size"})
    EXPECT_NE(message.find(part), std::string::npos) << part << " not in: " << message;
}

TEST(LayerDiffId, TheLimitIsSharedByAllReadersAndThreads) {
  std::string tar = tar_of("f", std::string(600 << 10, 'y'));
  DecompressionLimit limit(4 << 20, "the layers of archive x.tar", "raise it");
  std::vector<std::thread> threads;
  std::atomic<int> refused{0};
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      StringReader in(tar);
      try {
        layer_diff_id(in, layer_of(tar, media_type::oci_layer_tar), &limit);
      } catch (const Error&) {
        ++refused;
      }
    });
  }
  for (auto& t : threads) t.join();
  // 8 x 600+ KiB is more than 4 MiB: some reader must have been stopped.
  EXPECT_GE(refused.load(), 1);
  DecompressionLimit roomy(64 << 20, "x", "y");
  StringReader in(tar);
  EXPECT_EQ(layer_diff_id(in, layer_of(tar, media_type::oci_layer_tar), &roomy), Digest::of(tar));
}

TEST(DiffIdTeeReader, PassesTheBlobThroughAndReportsTheDiffIdAtItsEnd) {
  std::string tar = tar_of("app/hello", std::string(2 << 20, 'h'));
  for (auto algorithm :
       {media_type::Compression::gzip, media_type::Compression::zstd, media_type::Compression::none}) {
    std::string blob = compressed(tar, algorithm);
    std::optional<Digest> reported;
    DiffIdTeeReader tee(std::make_unique<StringReader>(blob), layer_of(blob, layer_media_type(algorithm)),
                        [&](const Digest& diff_id) { reported = diff_id; });
    std::string out;
    char buffer[1000];  // smaller than what the decompressor takes at once
    while (size_t n = tee.read(buffer, sizeof buffer)) out.append(buffer, n);
    EXPECT_EQ(out, blob);
    ASSERT_TRUE(reported);
    EXPECT_EQ(*reported, Digest::of(tar));
  }
}

TEST(DiffIdTeeReader, ATamperedBlobIsReportedAsSuchNotAsCorruptCompression) {
  auto [blob, digest] = tampered_gzip();
  Descriptor layer{std::string(media_type::oci_layer_gzip), digest, static_cast<int64_t>(blob.size())};
  bool checked = false;
  DiffIdTeeReader tee(std::make_unique<VerifyingReader>(blob, digest), layer,
                      [&](const Digest&) { checked = true; });
  EXPECT_EQ(error_of([&] { drain_for_test(tee); }), "blob does not match its digest");
  EXPECT_FALSE(checked);
  // Matching its digest, it is named as corrupt, still not as a layer.
  DiffIdTeeReader plain(std::make_unique<StringReader>(blob), layer_of(blob, media_type::oci_layer_gzip),
                        [&](const Digest&) { checked = true; });
  std::string message = error_of([&] { drain_for_test(plain); });
  EXPECT_NE(message.find("is corrupt"), std::string::npos) << message;
  EXPECT_FALSE(checked);
}

TEST(DiffIdTeeReader, TheDecompressionLimitStopsIt) {
  std::string tar = tar_of("zeros", std::string(32 << 20, '\0'));
  std::string blob = compressed(tar, media_type::Compression::gzip);
  DecompressionLimit limit(1 << 20, "the layers of archive bomb.tar", "raise it with --max-size");
  DiffIdTeeReader tee(
      std::make_unique<StringReader>(blob), layer_of(blob, media_type::oci_layer_gzip), [](const Digest&) {},
      &limit);
  std::string message = error_of([&] { drain_for_test(tee); });
  EXPECT_NE(message.find("the layers of archive bomb.tar"), std::string::npos) << message;
}

TEST(DiffIdTeeReader, StoppingEarlyEndsTheHasher) {
  std::string tar = tar_of("app/hello", std::string(8 << 20, 'q'));
  std::string blob = compressed(tar, media_type::Compression::none);
  for (size_t take : {size_t{0}, size_t{100}, blob.size() / 2}) {
    DiffIdTeeReader tee(std::make_unique<StringReader>(blob), layer_of(blob, media_type::oci_layer_tar),
                        [](const Digest&) { FAIL() << "checked a layer read only in part"; });
    std::string head(take, '\0');
    EXPECT_EQ(tee.read_full(head.data(), take), take);
  }  // each destructor must return
}

TEST(DiffIdTeeReader, ARefusalReachesTheReaderBeforeTheEndOfTheBlob) {
  std::string tar = tar_of("app/hello", "swapped");
  std::string blob = compressed(tar, media_type::Compression::gzip);
  DiffIdTeeReader tee(std::make_unique<StringReader>(blob), layer_of(blob, media_type::oci_layer_gzip),
                      [](const Digest&) { fail("refused"); });
  size_t total = 0;
  bool ended = false;
  std::string message = error_of([&] {
    char buffer[64];
    while (size_t n = tee.read(buffer, sizeof buffer)) total += n;
    ended = true;
  });
  EXPECT_EQ(message, "refused");
  EXPECT_FALSE(ended);  // a sink reading it never sees the end, so never commits
}

}  // namespace
}  // namespace gocrate
