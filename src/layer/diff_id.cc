#include "layer/diff_id.h"

#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>

#include "image/media_types.h"
#include "util/error.h"
#include "util/strings.h"

namespace gocrate {

DecompressionLimit::DecompressionLimit(uint64_t max_bytes, std::string what, std::string hint)
    : max_(max_bytes), what_(std::move(what)), hint_(std::move(hint)) {}

void DecompressionLimit::add(uint64_t n) {
  uint64_t total = used_.fetch_add(n) + n;
  if (total > max_) {
    fail("{}: more than {} once decompressed; refused as a possible decompression bomb: {}", what_,
         binary_size(max_), hint_);
  }
}

namespace {

// The first bytes of a stream, read to sniff its compression, then the rest.
class PrefixReader : public ByteReader {
 public:
  PrefixReader(std::string prefix, ByteReader& rest) : prefix_(std::move(prefix)), rest_(rest) {}
  size_t read(void* buffer, size_t size) override {
    if (offset_ < prefix_.size()) {
      size_t n = std::min(size, prefix_.size() - offset_);
      memcpy(buffer, prefix_.data() + offset_, n);
      offset_ += n;
      return n;
    }
    return rest_.read(buffer, size);
  }

 private:
  std::string prefix_;
  size_t offset_ = 0;
  ByteReader& rest_;
};

}  // namespace

LayerContentReader::LayerContentReader(ByteReader& blob, const Descriptor& layer, DecompressionLimit* limit)
    : blob_(blob), limit_(limit) {
  media_type::Compression compression;
  ByteReader* compressed = &blob_;
  if (!media_type::layer_compression(layer.media_type, compression)) {
    std::string first(4, '\0');
    first.resize(blob_.read_full(first.data(), first.size()));
    compression = sniff_compression(first);
    sniffed_ = std::make_unique<PrefixReader>(std::move(first), blob_);
    compressed = sniffed_.get();
  }
  content_ = decompressing_reader(*compressed, compression, "layer " + layer.digest.str());
}

LayerContentReader::~LayerContentReader() = default;

size_t LayerContentReader::read(void* buffer, size_t size) {
  size_t n;
  try {
    n = content_->read(buffer, size);
  } catch (const Error&) {
    // Corrupt compressed data is most often a blob that is not what its
    // digest says: read it to the end, so that its check names that.
    drain_blob();
    throw;
  }
  if (limit_) limit_->add(n);
  hash_.update(buffer, n);
  size_ += n;
  return n;
}

void LayerContentReader::drain_blob() {
  char buffer[1 << 16];
  while (blob_.read(buffer, sizeof buffer) > 0) {
  }
}

Digest LayerContentReader::finish() {
  if (!diff_id_) {
    char buffer[1 << 16];
    while (read(buffer, sizeof buffer) > 0) {
    }
    drain_blob();
    diff_id_ = Digest::from_hex(hash_.finish_hex());
  }
  return *diff_id_;
}

Digest layer_diff_id(ByteReader& blob, const Descriptor& layer, DecompressionLimit* limit) {
  LayerContentReader content(blob, layer, limit);
  return content.finish();
}

void check_diff_id(const Digest& layer, const Digest& expected, const Digest& actual,
                   std::string_view image) {
  if (expected == actual) return;
  fail(
      "layer {} of image {} does not match its config: diff_id {} expected, its content has {}; refused: "
      "the image is corrupt or was tampered with, get it again from a source you trust",
      layer.str(), image, expected.str(), actual.str());
}

// Carries the blob's bytes from the reading thread to the hasher, at most
// kCapacity bytes at a time.
class DiffIdTeeReader::Pipe : public ByteReader {
 public:
  // Writer side. Blocks while the pipe is full; once the reader has
  // stopped, the bytes are dropped.
  void push(const char* data, size_t size) {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return stopped_ || queued_ < kCapacity; });
    if (stopped_) return;
    chunks_.emplace_back(data, size);
    queued_ += size;
    changed_.notify_all();
  }
  void close() {
    std::lock_guard lock(mutex_);
    closed_ = true;
    changed_.notify_all();
  }
  // Reader side.
  size_t read(void* buffer, size_t size) override {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return !chunks_.empty() || closed_; });
    if (chunks_.empty()) return 0;
    std::string& front = chunks_.front();
    size_t n = std::min(size, front.size() - offset_);
    memcpy(buffer, front.data() + offset_, n);
    offset_ += n;
    queued_ -= n;
    if (offset_ == front.size()) {
      chunks_.pop_front();
      offset_ = 0;
    }
    changed_.notify_all();
    return n;
  }
  void stop() {
    std::lock_guard lock(mutex_);
    stopped_ = true;
    chunks_.clear();
    changed_.notify_all();
  }

 private:
  static constexpr size_t kCapacity = 4 << 20;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<std::string> chunks_;
  size_t offset_ = 0;
  size_t queued_ = 0;
  bool closed_ = false;
  bool stopped_ = false;
};

DiffIdTeeReader::DiffIdTeeReader(std::unique_ptr<ByteReader> blob, const Descriptor& layer, Check check,
                                 DecompressionLimit* limit)
    : blob_(std::move(blob)), check_(std::move(check)), pipe_(std::make_unique<Pipe>()) {
  hasher_ = std::thread([this, layer, limit] {
    try {
      LayerContentReader content(*pipe_, layer, limit);
      diff_id_ = content.finish();
    } catch (...) {
      hasher_error_ = std::current_exception();
    }
    pipe_->stop();
    hasher_done_ = true;
  });
}

DiffIdTeeReader::~DiffIdTeeReader() {
  stop_hashing();
}

void DiffIdTeeReader::stop_hashing() {
  pipe_->close();
  if (hasher_.joinable()) hasher_.join();
}

size_t DiffIdTeeReader::read(void* buffer, size_t size) {
  if (done_) return 0;
  size_t n = blob_->read(buffer, size);
  if (n > 0) {
    pipe_->push(static_cast<const char*>(buffer), n);
    // Before the end, the hasher stops only on the decompression limit.
    if (hasher_done_) {
      stop_hashing();
      if (hasher_error_) std::rethrow_exception(hasher_error_);
    }
    return n;
  }
  // The blob matched its digest; now what it holds.
  stop_hashing();
  if (hasher_error_) std::rethrow_exception(hasher_error_);
  done_ = true;
  check_(*diff_id_);
  return 0;
}

}  // namespace gocrate
