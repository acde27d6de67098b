#pragma once

#include <string_view>

namespace gocrate {

// The web view's files, compiled into the binary (no CDN, nothing to install).
struct WebAsset {
  std::string_view path;
  std::string_view content_type;
  std::string_view content;
};

// The asset served at `path` ("/" is the page), or nullptr.
const WebAsset* web_asset(std::string_view path);

}  // namespace gocrate
