#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "image/digest.h"
#include "layer/compress.h"
#include "layer/tar.h"
#include "util/sha256.h"

namespace gocrate {

// What writing a layer produced: the blob's digest and size, the digest of
// the uncompressed tar (the image config's diff_id) and its media type.
struct LayerDigests {
  Digest digest;
  int64_t size = 0;
  Digest diff_id;
  std::string media_type;
};

// Streams a tar through hashing and compression into a blob sink, so that a
// layer is written and both its digests known in one pass.
class LayerWriter {
 public:
  using Sink = std::function<void(std::string_view)>;
  LayerWriter(CompressionSettings settings, Sink blob_sink);
  TarWriter& tar() { return tar_; }
  LayerDigests finish();

 private:
  CompressionSettings settings_;
  Sink blob_sink_;
  Sha256 diff_hash_;
  Sha256 blob_hash_;
  int64_t blob_size_ = 0;
  ParallelCompressor compressor_;
  TarWriter tar_;
};

std::string layer_media_type(media_type::Compression compression);

}  // namespace gocrate
