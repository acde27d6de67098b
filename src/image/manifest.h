#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "image/digest.h"
#include "image/platform.h"

namespace gocrate {

using Annotations = std::map<std::string, std::string>;

namespace annotation {
inline constexpr std::string_view ref_name = "org.opencontainers.image.ref.name";
inline constexpr std::string_view image_name = "io.containerd.image.name";
inline constexpr std::string_view created = "org.opencontainers.image.created";
inline constexpr std::string_view source = "org.opencontainers.image.source";
inline constexpr std::string_view revision = "org.opencontainers.image.revision";
inline constexpr std::string_view base_name = "org.opencontainers.image.base.name";
inline constexpr std::string_view base_digest = "org.opencontainers.image.base.digest";
}  // namespace annotation

// What the OCI image spec calls a content descriptor.
struct Descriptor {
  std::string media_type;
  Digest digest;
  int64_t size = 0;
  std::vector<std::string> urls;
  Annotations annotations;
  std::optional<Platform> platform;
  std::string artifact_type;
  std::optional<std::string> data;  // base64, embedded content

  bool operator==(const Descriptor& other) const {
    return media_type == other.media_type && digest == other.digest && size == other.size;
  }
};

// An image manifest (OCI or Docker schema 2; both have this shape).
struct Manifest {
  std::string media_type;
  std::string artifact_type;
  Descriptor config;
  std::vector<Descriptor> layers;
  std::optional<Descriptor> subject;
  Annotations annotations;

  // Strict: a missing or mistyped field is an error naming `what`.
  static Manifest parse(std::string_view json_text, std::string_view what);
  std::string to_json_text() const;
};

// An image index (OCI) or manifest list (Docker).
struct Index {
  std::string media_type;
  std::string artifact_type;
  std::vector<Descriptor> manifests;
  std::optional<Descriptor> subject;
  Annotations annotations;

  static Index parse(std::string_view json_text, std::string_view what);
  std::string to_json_text() const;
};

// The media type a manifest or index declares in its JSON, for content whose
// descriptor does not say (a tag's target, a blob read from a tar).
std::string sniff_media_type(std::string_view json_text);

void to_json(nlohmann::json& out, const Descriptor& descriptor);
Descriptor descriptor_from_json(const nlohmann::json& in, std::string_view what);
void to_json(nlohmann::json& out, const Platform& platform);
Platform platform_from_json(const nlohmann::json& in, std::string_view what);

// JSON parse that throws Error naming `what` instead of nlohmann's exception.
nlohmann::json parse_json(std::string_view text, std::string_view what);

}  // namespace gocrate
