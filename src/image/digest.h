#pragma once

#include <compare>
#include <optional>
#include <string>
#include <string_view>

namespace gocrate {

// A content digest, "sha256:<64 hex>". Only sha256 is produced or accepted,
// as in Docker and the registries gocrate talks to.
struct Digest {
  std::string hex;

  static Digest parse(std::string_view text);  // throws Error naming the text
  static std::optional<Digest> try_parse(std::string_view text);
  static Digest of(std::string_view data);
  static Digest from_hex(std::string hex);  // trusted hex from our own hashing

  std::string str() const { return "sha256:" + hex; }
  std::string short_hex() const { return hex.substr(0, 12); }
  bool empty() const { return hex.empty(); }
  auto operator<=>(const Digest&) const = default;
};

}  // namespace gocrate
