#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace gocrate {

// Standard base64 with padding (RFC 4648 section 4).
std::string base64_encode(std::string_view data);
// Accepts padded and unpadded input; nullopt for anything else.
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace gocrate
