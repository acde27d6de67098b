#define OPENSSL_SUPPRESS_DEPRECATED
#include "util/sha256.h"

#include <fmt/format.h>
#include <openssl/sha.h>

#include <future>
#include <vector>

#include "util/thread_pool.h"

namespace gocrate {

static_assert(sizeof(SHA256_CTX) <= 112, "Sha256::state_ is too small for SHA256_CTX");

Sha256::Sha256() {
  SHA256_Init(reinterpret_cast<SHA256_CTX*>(state_));
}

void Sha256::update(const void* data, size_t size) {
  SHA256_Update(reinterpret_cast<SHA256_CTX*>(state_), data, size);
}

std::array<uint8_t, 32> Sha256::finish() {
  std::array<uint8_t, 32> digest;
  SHA256_Final(digest.data(), reinterpret_cast<SHA256_CTX*>(state_));
  return digest;
}

std::string Sha256::finish_hex() {
  auto digest = finish();
  return to_hex(digest.data(), digest.size());
}

std::string sha256_hex(std::string_view data) {
  Sha256 hash;
  hash.update(data);
  return hash.finish_hex();
}

std::string content_fingerprint(std::string_view data) {
  constexpr size_t kPiece = 1 << 20;
  std::vector<std::future<std::array<uint8_t, 32>>> pieces;
  for (size_t at = 0; at < data.size(); at += kPiece) {
    std::string_view piece = data.substr(at, kPiece);
    pieces.push_back(ThreadPool::shared().submit([piece] {
      Sha256 hash;
      hash.update(piece);
      return hash.finish();
    }));
  }
  Sha256 tree;
  tree.update(fmt::format("tree-v1 {} {}\n", data.size(), kPiece));
  for (auto& piece : pieces) {
    auto digest = piece.get();
    tree.update(digest.data(), digest.size());
  }
  return "tree:" + tree.finish_hex();
}

std::string to_hex(const uint8_t* data, size_t size) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out(size * 2, '0');
  for (size_t i = 0; i < size; ++i) {
    out[2 * i] = digits[data[i] >> 4];
    out[2 * i + 1] = digits[data[i] & 15];
  }
  return out;
}

}  // namespace gocrate
