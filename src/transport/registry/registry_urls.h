#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "image/digest.h"

namespace gocrate {

// Where a registry named in a reference answers the distribution API:
// Docker Hub's "docker.io" is served by registry-1.docker.io.
std::string registry_api_host(std::string_view registry);

// localhost, 127.0.0.0/8 and ::1, with or without a port: registries that
// Docker, and gocrate, may reach over plain HTTP.
bool is_loopback_registry(std::string_view registry);
bool is_loopback_url(std::string_view url);

// Paths of the distribution API (OCI distribution-spec, "Endpoints").
std::string manifest_path(std::string_view repository, std::string_view tag_or_digest);
std::string blob_path(std::string_view repository, const Digest& digest);
std::string upload_start_path(std::string_view repository);
std::string referrers_path(std::string_view repository, const Digest& subject);
// The tag that stands for the referrers API on registries without it.
std::string referrers_tag(const Digest& subject);

// Percent-encodes all but RFC 3986 unreserved characters.
std::string url_escape(std::string_view text);
// A Location header made absolute against the URL of the request.
std::string resolve_location(std::string_view request_url, std::string_view location);
// Adds key=value to a URL's query.
std::string with_query(std::string_view url, std::string_view key, std::string_view value);

// The offset an upload continues at, from its Range header: "0-1023" means
// 1024 bytes were received. "0-0" counts as nothing received: it is what
// registries answer for a fresh upload (and, ambiguously, for one byte).
// nullopt for a malformed header.
std::optional<int64_t> upload_offset_from_range(std::string_view range);

}  // namespace gocrate
