#include "layer/compress.h"

#include <libdeflate.h>
#include <zstd.h>

#include <map>
#include <memory>
#include <thread>
#include <vector>

#include "util/error.h"
#include "util/strings.h"
#include "util/thread_pool.h"

namespace gocrate {

CompressionSettings parse_compression(std::string_view text) {
  auto parts = split(text, ':');
  CompressionSettings settings;
  const std::string& name = parts[0];
  int64_t max_level;
  if (name == "gzip") {
    settings = {media_type::Compression::gzip, 1};
    max_level = 12;
  } else if (name == "zstd") {
    settings = {media_type::Compression::zstd, 3};
    max_level = 19;
  } else if (name == "none") {
    return {media_type::Compression::none, 0};
  } else {
    fail("unknown compression \"{}\": use gzip, zstd or none (optionally with :LEVEL)", text);
  }
  if (parts.size() > 2) fail("invalid compression \"{}\": expected NAME[:LEVEL]", text);
  if (parts.size() == 2) {
    int64_t level;
    if (!parse_int(parts[1], 1, max_level, level)) {
      fail("invalid {} level \"{}\": use 1 to {}", name, parts[1], max_level);
    }
    settings.level = static_cast<int>(level);
  }
  return settings;
}

namespace {

struct DeflateCompressors {
  std::map<int, libdeflate_compressor*> by_level;
  ~DeflateCompressors() {
    for (auto& [level, c] : by_level) libdeflate_free_compressor(c);
  }
  libdeflate_compressor* get(int level) {
    auto& c = by_level[level];
    if (!c) c = libdeflate_alloc_compressor(level);
    if (!c) fail("cannot allocate a gzip compressor at level {}", level);
    return c;
  }
};

struct ZstdContext {
  ZSTD_CCtx* context = ZSTD_createCCtx();
  ~ZstdContext() { ZSTD_freeCCtx(context); }
};

}  // namespace

std::string compress_chunk(std::string_view data, const CompressionSettings& settings) {
  // Worker threads live as long as the pool: their compressors and output
  // buffers are allocated once, not per chunk.
  thread_local std::vector<char> buffer;
  switch (settings.algorithm) {
    case media_type::Compression::gzip: {
      thread_local DeflateCompressors compressors;
      libdeflate_compressor* c = compressors.get(settings.level);
      buffer.resize(std::max(buffer.size(), libdeflate_gzip_compress_bound(c, data.size())));
      size_t n = libdeflate_gzip_compress(c, data.data(), data.size(), buffer.data(), buffer.size());
      if (n == 0) fail("gzip compression failed");
      return std::string(buffer.data(), n);
    }
    case media_type::Compression::zstd: {
      thread_local ZstdContext zstd;
      buffer.resize(std::max(buffer.size(), ZSTD_compressBound(data.size())));
      size_t n = ZSTD_compressCCtx(zstd.context, buffer.data(), buffer.size(), data.data(), data.size(),
                                   settings.level);
      if (ZSTD_isError(n)) fail("zstd compression failed: {}", ZSTD_getErrorName(n));
      return std::string(buffer.data(), n);
    }
    case media_type::Compression::none:
      break;
  }
  return std::string(data);
}

ParallelCompressor::ParallelCompressor(CompressionSettings settings, Sink sink)
    : settings_(settings), sink_(std::move(sink)) {
  max_in_flight_ = ThreadPool::shared().size() + 1;
  pending_.reserve(kChunkSize);
}

ParallelCompressor::~ParallelCompressor() {
  for (auto& f : in_flight_) {
    if (f.valid()) f.wait();
  }
}

void ParallelCompressor::write(std::string_view data) {
  if (settings_.algorithm == media_type::Compression::none) {
    sink_(data);
    return;
  }
  while (!data.empty()) {
    size_t take = std::min(data.size(), kChunkSize - pending_.size());
    pending_.append(data.substr(0, take));
    data.remove_prefix(take);
    if (pending_.size() == kChunkSize) dispatch();
  }
}

void ParallelCompressor::dispatch() {
  if (in_flight_.size() >= max_in_flight_) emit_oldest();
  std::string chunk;
  chunk.swap(pending_);
  pending_.reserve(kChunkSize);
  in_flight_.push_back(ThreadPool::shared().submit(
      [chunk = std::move(chunk), settings = settings_] { return compress_chunk(chunk, settings); }));
}

void ParallelCompressor::emit_oldest() {
  std::string out = in_flight_.front().get();
  in_flight_.pop_front();
  sink_(out);
}

void ParallelCompressor::finish() {
  if (settings_.algorithm == media_type::Compression::none) return;
  if (!pending_.empty()) dispatch();
  while (!in_flight_.empty()) emit_oldest();
}

}  // namespace gocrate
