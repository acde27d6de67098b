#pragma once

#include <deque>
#include <functional>
#include <future>
#include <string>
#include <string_view>

#include "image/media_types.h"

namespace gocrate {

struct CompressionSettings {
  media_type::Compression algorithm = media_type::Compression::gzip;
  int level = 1;  // gzip 1-12 (libdeflate levels), zstd 1-19
};

// Parses "gzip", "zstd" or "none" (with optional ":LEVEL"); throws Error.
CompressionSettings parse_compression(std::string_view text);

// Compresses a stream on all cores. The input is cut into fixed 1 MiB chunks
// and each becomes a gzip member or zstd frame of its own, which every gzip
// and zstd reader joins back together. The chunk size, not the number of
// cores, decides the output, so it is the same on every machine.
class ParallelCompressor {
 public:
  using Sink = std::function<void(std::string_view)>;
  ParallelCompressor(CompressionSettings settings, Sink sink);
  ~ParallelCompressor();
  void write(std::string_view data);
  void finish();

  static constexpr size_t kChunkSize = 1 << 20;

 private:
  void dispatch();
  void emit_oldest();
  CompressionSettings settings_;
  Sink sink_;
  std::string pending_;
  std::deque<std::future<std::string>> in_flight_;
  size_t max_in_flight_;
};

// Compresses one buffer with the settings' algorithm (a single member/frame).
std::string compress_chunk(std::string_view data, const CompressionSettings& settings);

}  // namespace gocrate
