#pragma once

#include <string_view>

namespace gocrate::media_type {

inline constexpr std::string_view oci_index = "application/vnd.oci.image.index.v1+json";
inline constexpr std::string_view oci_manifest = "application/vnd.oci.image.manifest.v1+json";
inline constexpr std::string_view oci_config = "application/vnd.oci.image.config.v1+json";
inline constexpr std::string_view oci_layer_tar = "application/vnd.oci.image.layer.v1.tar";
inline constexpr std::string_view oci_layer_gzip = "application/vnd.oci.image.layer.v1.tar+gzip";
inline constexpr std::string_view oci_layer_zstd = "application/vnd.oci.image.layer.v1.tar+zstd";
inline constexpr std::string_view oci_empty = "application/vnd.oci.empty.v1+json";

inline constexpr std::string_view docker_manifest_list =
    "application/vnd.docker.distribution.manifest.list.v2+json";
inline constexpr std::string_view docker_manifest = "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr std::string_view docker_config = "application/vnd.docker.container.image.v1+json";
inline constexpr std::string_view docker_layer_gzip = "application/vnd.docker.image.rootfs.diff.tar.gzip";
inline constexpr std::string_view docker_layer_tar = "application/vnd.docker.image.rootfs.diff.tar";

inline constexpr std::string_view spdx_json = "application/spdx+json";
// An in-toto statement, unsigned (a build's SLSA provenance).
inline constexpr std::string_view in_toto = "application/vnd.in-toto+json";

inline bool is_index(std::string_view type) {
  return type == oci_index || type == docker_manifest_list;
}
inline bool is_manifest(std::string_view type) {
  return type == oci_manifest || type == docker_manifest;
}

enum class Compression { none, gzip, zstd };

// How a layer of this media type is compressed, or nullopt for a type that is
// not an image layer.
inline bool layer_compression(std::string_view type, Compression& compression) {
  if (type == oci_layer_gzip || type == docker_layer_gzip) {
    compression = Compression::gzip;
  } else if (type == oci_layer_zstd) {
    compression = Compression::zstd;
  } else if (type == oci_layer_tar || type == docker_layer_tar) {
    compression = Compression::none;
  } else {
    return false;
  }
  return true;
}

}  // namespace gocrate::media_type
