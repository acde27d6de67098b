#include "layer/stream.h"

#include <zlib.h>
#include <zstd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "util/error.h"

namespace gocrate {

namespace {

class GzipReader : public ByteReader {
 public:
  GzipReader(ByteReader& in, std::string what) : in_(in), what_(std::move(what)), input_(1 << 16) {
    memset(&stream_, 0, sizeof stream_);
    if (inflateInit2(&stream_, 16 + MAX_WBITS) != Z_OK) fail("cannot start gzip decompression of {}", what_);
  }
  ~GzipReader() override { inflateEnd(&stream_); }

  size_t read(void* buffer, size_t size) override {
    if (done_ || size == 0) return 0;
    auto* start = static_cast<Bytef*>(buffer);
    stream_.next_out = start;
    stream_.avail_out = static_cast<uInt>(std::min<size_t>(size, 1u << 30));
    while (stream_.next_out == start) {
      if (stream_.avail_in == 0) {
        size_t n = in_.read(input_.data(), input_.size());
        if (n == 0) {
          if (in_member_) fail("{} is corrupt: the gzip stream ends early", what_);
          done_ = true;
          return 0;
        }
        stream_.next_in = input_.data();
        stream_.avail_in = static_cast<uInt>(n);
      }
      in_member_ = true;
      int rc = inflate(&stream_, Z_NO_FLUSH);
      if (rc == Z_STREAM_END) {
        // Another gzip member may follow: parallel compressors write several.
        in_member_ = false;
        inflateReset(&stream_);
      } else if (rc != Z_OK && rc != Z_BUF_ERROR) {
        fail("{} is corrupt: {}", what_, stream_.msg ? stream_.msg : "bad gzip data");
      }
    }
    return stream_.next_out - start;
  }

 private:
  ByteReader& in_;
  std::string what_;
  std::vector<Bytef> input_;
  z_stream stream_;
  bool in_member_ = false;
  bool done_ = false;
};

class ZstdReader : public ByteReader {
 public:
  ZstdReader(ByteReader& in, std::string what)
      : in_(in), what_(std::move(what)), stream_(ZSTD_createDStream()), input_(ZSTD_DStreamInSize()) {
    if (!stream_) fail("cannot start zstd decompression of {}", what_);
  }
  ~ZstdReader() override { ZSTD_freeDStream(stream_); }

  size_t read(void* buffer, size_t size) override {
    ZSTD_outBuffer out{buffer, size, 0};
    while (out.pos == 0 && size > 0) {
      if (in_buffer_.pos == in_buffer_.size) {
        size_t n = in_.read(input_.data(), input_.size());
        if (n == 0) {
          if (pending_ != 0) fail("{} is corrupt: the zstd stream ends early", what_);
          return 0;
        }
        in_buffer_ = {input_.data(), n, 0};
      }
      pending_ = ZSTD_decompressStream(stream_, &out, &in_buffer_);
      if (ZSTD_isError(pending_)) fail("{} is corrupt: {}", what_, ZSTD_getErrorName(pending_));
    }
    return out.pos;
  }

 private:
  ByteReader& in_;
  std::string what_;
  ZSTD_DStream* stream_;
  std::vector<char> input_;
  ZSTD_inBuffer in_buffer_{nullptr, 0, 0};
  size_t pending_ = 0;
};

class PassThroughReader : public ByteReader {
 public:
  explicit PassThroughReader(ByteReader& in) : in_(in) {}
  size_t read(void* buffer, size_t size) override { return in_.read(buffer, size); }

 private:
  ByteReader& in_;
};

}  // namespace

std::unique_ptr<ByteReader> decompressing_reader(ByteReader& in, media_type::Compression compression,
                                                 std::string what) {
  switch (compression) {
    case media_type::Compression::gzip:
      return std::make_unique<GzipReader>(in, std::move(what));
    case media_type::Compression::zstd:
      return std::make_unique<ZstdReader>(in, std::move(what));
    case media_type::Compression::none:
      break;
  }
  return std::make_unique<PassThroughReader>(in);
}

media_type::Compression sniff_compression(std::string_view first_bytes) {
  if (first_bytes.size() >= 2 && first_bytes[0] == '\x1f' && first_bytes[1] == '\x8b') {
    return media_type::Compression::gzip;
  }
  if (first_bytes.size() >= 4 && first_bytes.substr(0, 4) == std::string_view("\x28\xb5\x2f\xfd", 4)) {
    return media_type::Compression::zstd;
  }
  return media_type::Compression::none;
}

}  // namespace gocrate
