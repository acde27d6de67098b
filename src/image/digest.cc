#include "image/digest.h"

#include "util/error.h"
#include "util/sha256.h"

namespace gocrate {

std::optional<Digest> Digest::try_parse(std::string_view text) {
  if (!text.starts_with("sha256:")) return std::nullopt;
  std::string_view hex = text.substr(7);
  if (hex.size() != 64) return std::nullopt;
  for (char c : hex) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return std::nullopt;
  }
  return Digest{std::string(hex)};
}

Digest Digest::parse(std::string_view text) {
  auto digest = try_parse(text);
  if (!digest) {
    if (text.find(':') != std::string_view::npos && !text.starts_with("sha256:")) {
      fail("unsupported digest algorithm in \"{}\": only sha256 is supported", text);
    }
    fail("invalid digest \"{}\": expected sha256:<64 lowercase hex digits>", text);
  }
  return *digest;
}

Digest Digest::of(std::string_view data) {
  return Digest{sha256_hex(data)};
}

Digest Digest::from_hex(std::string hex) {
  return Digest{std::move(hex)};
}

}  // namespace gocrate
