#include "transport/registry/registry_urls.h"

#include <fmt/format.h>

#include <cctype>

#include "util/strings.h"

namespace gocrate {

std::string registry_api_host(std::string_view registry) {
  if (registry == "docker.io" || registry == "index.docker.io") return "registry-1.docker.io";
  return std::string(registry);
}

bool is_loopback_registry(std::string_view registry) {
  std::string_view host = registry;
  if (host.starts_with('[')) {
    host = host.substr(1, host.find(']') - 1);
  } else if (auto colon = host.rfind(':'); colon != std::string_view::npos && host.find(':') == colon) {
    host = host.substr(0, colon);
  }
  if (host == "localhost" || host == "::1") return true;
  auto parts = split(host, '.');
  if (parts.size() != 4 || parts[0] != "127") return false;
  for (const auto& part : parts) {
    int64_t value;
    if (!parse_int(part, 0, 255, value)) return false;
  }
  return true;
}

bool is_loopback_url(std::string_view url) {
  auto scheme = url.find("://");
  if (scheme == std::string_view::npos) return false;
  std::string_view rest = url.substr(scheme + 3);
  return is_loopback_registry(rest.substr(0, rest.find_first_of("/?#")));
}

std::string manifest_path(std::string_view repository, std::string_view tag_or_digest) {
  return fmt::format("/v2/{}/manifests/{}", repository, tag_or_digest);
}

std::string blob_path(std::string_view repository, const Digest& digest) {
  return fmt::format("/v2/{}/blobs/{}", repository, digest.str());
}

std::string upload_start_path(std::string_view repository) {
  return fmt::format("/v2/{}/blobs/uploads/", repository);
}

std::string referrers_path(std::string_view repository, const Digest& subject) {
  return fmt::format("/v2/{}/referrers/{}", repository, subject.str());
}

std::string referrers_tag(const Digest& subject) {
  return "sha256-" + subject.hex;
}

std::string url_escape(std::string_view text) {
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

std::string resolve_location(std::string_view request_url, std::string_view location) {
  if (location.find("://") != std::string_view::npos) return std::string(location);
  auto scheme = request_url.find("://");
  size_t host_end = request_url.find('/', scheme == std::string_view::npos ? 0 : scheme + 3);
  std::string_view origin = request_url.substr(0, host_end);
  if (location.starts_with("//"))
    return std::string(request_url.substr(0, scheme + 1)) + std::string(location);
  if (location.starts_with('/')) return std::string(origin) + std::string(location);
  // Relative to the request's directory.
  std::string_view path = request_url.substr(0, request_url.find('?'));
  return std::string(path.substr(0, path.rfind('/') + 1)) + std::string(location);
}

std::string with_query(std::string_view url, std::string_view key, std::string_view value) {
  return fmt::format("{}{}{}={}", url, url.find('?') == std::string_view::npos ? "?" : "&", key,
                     url_escape(value));
}

std::optional<int64_t> upload_offset_from_range(std::string_view range) {
  if (range.starts_with("bytes=")) range.remove_prefix(6);
  auto dash = range.find('-');
  if (dash == std::string_view::npos) return std::nullopt;
  int64_t start, end;
  if (!parse_int(range.substr(0, dash), 0, INT64_MAX, start) || start != 0) return std::nullopt;
  if (!parse_int(range.substr(dash + 1), 0, INT64_MAX, end)) return std::nullopt;
  return end == 0 ? 0 : end + 1;
}

}  // namespace gocrate
