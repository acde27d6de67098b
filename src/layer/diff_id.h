#pragma once

#include <atomic>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "image/digest.h"
#include "image/manifest.h"
#include "layer/stream.h"

namespace gocrate {

// A cap on the bytes decompression may produce, shared by all the readers of
// one command (from several threads too), so that a small compressed input
// cannot fill the disk or keep a core busy for hours.
class DecompressionLimit {
 public:
  // `what` is what the bytes come from ("archive /tmp/x.tar"); `hint` ends
  // the error with how to raise the cap ("raise it with --max-size").
  DecompressionLimit(uint64_t max_bytes, std::string what, std::string hint);
  // Counts `n` more bytes; fails once the total passes the cap.
  void add(uint64_t n);
  uint64_t max_bytes() const { return max_; }

 private:
  uint64_t max_;
  std::string what_;
  std::string hint_;
  std::atomic<uint64_t> used_{0};
};

// A layer's uncompressed content (its tar stream), hashed as it is read: the
// digest of what it reads is the layer's diff_id. The compression is the one
// the layer's media type gives, or, for a type that does not say, the one the
// first bytes show.
class LayerContentReader : public ByteReader {
 public:
  LayerContentReader(ByteReader& blob, const Descriptor& layer, DecompressionLimit* limit = nullptr);
  ~LayerContentReader() override;
  size_t read(void* buffer, size_t size) override;
  // Reads what is left of the content and of the blob (so that the blob's
  // own digest check runs) and returns the diff_id.
  Digest finish();
  uint64_t size() const { return size_; }

 private:
  void drain_blob();
  ByteReader& blob_;
  std::unique_ptr<ByteReader> sniffed_;  // the blob with its first bytes put back
  std::unique_ptr<ByteReader> content_;
  DecompressionLimit* limit_;
  Sha256 hash_;
  uint64_t size_ = 0;
  std::optional<Digest> diff_id_;
};

// The diff_id of a layer blob, read to its end.
Digest layer_diff_id(ByteReader& blob, const Descriptor& layer, DecompressionLimit* limit = nullptr);

// Fails, naming the layer, both diff_ids and the image, unless `actual` is
// the diff_id the image's config gives for the layer.
void check_diff_id(const Digest& layer, const Digest& expected, const Digest& actual, std::string_view image);

// Passes a layer blob through unchanged (for a sink to store) while a thread
// of its own decompresses and hashes a copy: the hashing runs beside the
// download or disk read, and memory stays bounded whatever the blob holds.
// At the end of the blob (whose own digest check runs first), `check` gets
// the diff_id; it throws to refuse the layer, which then reaches the sink as
// an error instead of the end, so the sink never commits it. Content that
// cannot be decompressed is reported there too; passing the decompression
// limit is reported at once.
class DiffIdTeeReader : public ByteReader {
 public:
  using Check = std::function<void(const Digest& diff_id)>;
  DiffIdTeeReader(std::unique_ptr<ByteReader> blob, const Descriptor& layer, Check check,
                  DecompressionLimit* limit = nullptr);
  ~DiffIdTeeReader() override;
  size_t read(void* buffer, size_t size) override;

 private:
  class Pipe;
  void stop_hashing();
  std::unique_ptr<ByteReader> blob_;
  Check check_;
  std::unique_ptr<Pipe> pipe_;
  std::thread hasher_;
  std::atomic<bool> hasher_done_{false};
  std::optional<Digest> diff_id_;    // set by the hasher
  std::exception_ptr hasher_error_;  // set by the hasher
  bool done_ = false;
};

}  // namespace gocrate
