#include "layer/compress.h"

#include <gtest/gtest.h>

#include <random>

#include "layer/layer_writer.h"
#include "layer/stream.h"
#include "util/error.h"
#include "util/sha256.h"

namespace gocrate {
namespace {

std::string sample(size_t size) {
  std::mt19937 random(42);
  std::string out(size, '\0');
  for (size_t i = 0; i < size; ++i) out[i] = static_cast<char>("abcdefgh"[random() % 8] + (i % 1000 == 0));
  return out;
}

std::string compress(std::string_view data, CompressionSettings settings) {
  std::string out;
  ParallelCompressor c(settings, [&](std::string_view d) { out.append(d); });
  // Feed in odd-sized pieces: chunking must not depend on how writes arrive.
  for (size_t at = 0; at < data.size(); at += 777777) c.write(data.substr(at, 777777));
  c.finish();
  return out;
}

std::string decompress(std::string_view data, media_type::Compression compression) {
  StringReader in(data);
  return decompressing_reader(in, compression, "test")->read_all();
}

TEST(Compression, GzipRoundTripsAcrossChunks) {
  std::string data = sample(3 * ParallelCompressor::kChunkSize + 12345);
  std::string gz = compress(data, {media_type::Compression::gzip, 1});
  EXPECT_EQ(sniff_compression(gz), media_type::Compression::gzip);
  EXPECT_LT(gz.size(), data.size());
  EXPECT_EQ(decompress(gz, media_type::Compression::gzip), data);
}

TEST(Compression, ZstdRoundTripsAcrossChunks) {
  std::string data = sample(2 * ParallelCompressor::kChunkSize + 1);
  std::string zst = compress(data, {media_type::Compression::zstd, 3});
  EXPECT_EQ(sniff_compression(zst), media_type::Compression::zstd);
  EXPECT_EQ(decompress(zst, media_type::Compression::zstd), data);
}

TEST(Compression, OutputIsDeterministic) {
  std::string data = sample(5 * ParallelCompressor::kChunkSize);
  for (auto algorithm : {media_type::Compression::gzip, media_type::Compression::zstd}) {
    EXPECT_EQ(sha256_hex(compress(data, {algorithm, 1})), sha256_hex(compress(data, {algorithm, 1})));
  }
  // Every gzip member header has no time and no name: bytes 4-7 (MTIME) are zero.
  std::string gz = compress(data, {media_type::Compression::gzip, 1});
  EXPECT_EQ(gz.substr(4, 4), std::string(4, '\0'));
  EXPECT_EQ(gz[3] & 0x08, 0);  // FNAME not set
}

TEST(Compression, CorruptInputIsReported) {
  std::string gz = compress(sample(100000), {media_type::Compression::gzip, 1});
  gz[gz.size() / 2] ^= 0x55;
  gz.resize(gz.size() - 3);
  EXPECT_THROW(decompress(gz, media_type::Compression::gzip), Error);
}

TEST(Compression, ParsesSettings) {
  EXPECT_EQ(parse_compression("zstd:5").level, 5);
  EXPECT_EQ(parse_compression("gzip").level, 1);
  EXPECT_THROW(parse_compression("brotli"), Error);
  EXPECT_THROW(parse_compression("gzip:13"), Error);
}

TEST(LayerWriter, DigestsMatchContent) {
  std::string blob;
  LayerWriter writer({media_type::Compression::gzip, 1}, [&](std::string_view d) { blob.append(d); });
  TarHeader h;
  h.path = "file";
  h.size = 5;
  writer.tar().add(h, "hello");
  LayerDigests digests = writer.finish();
  EXPECT_EQ(digests.digest, Digest::of(blob));
  EXPECT_EQ(digests.size, static_cast<int64_t>(blob.size()));
  EXPECT_EQ(digests.diff_id, Digest::of(decompress(blob, media_type::Compression::gzip)));
  EXPECT_EQ(digests.media_type, media_type::oci_layer_gzip);
}

}  // namespace
}  // namespace gocrate
