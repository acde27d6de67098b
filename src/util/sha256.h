#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace gocrate {

// Incremental SHA-256. Uses OpenSSL's block functions directly, which need no
// provider initialisation: hashing a small blob costs microseconds, not the
// milliseconds an EVP fetch costs on first use.
class Sha256 {
 public:
  Sha256();
  void update(const void* data, size_t size);
  void update(std::string_view data) { update(data.data(), data.size()); }
  std::array<uint8_t, 32> finish();
  std::string finish_hex();

 private:
  alignas(16) unsigned char state_[112];
};

std::string sha256_hex(std::string_view data);
// A fingerprint of large content computed on all cores: the SHA-256 of the
// SHA-256s of its 1 MiB pieces. As collision-resistant as SHA-256 itself,
// but not the content's digest: use it for cache keys only.
std::string content_fingerprint(std::string_view data);
std::string to_hex(const uint8_t* data, size_t size);

}  // namespace gocrate
