#include "image/manifest.h"

#include "image/media_types.h"
#include "util/error.h"

namespace gocrate {

using nlohmann::json;

nlohmann::json parse_json(std::string_view text, std::string_view what) {
  try {
    return json::parse(text);
  } catch (const json::exception& e) {
    std::string reason = e.what();
    auto colon = reason.find(": ");
    if (reason.starts_with("[json.exception") && colon != std::string::npos)
      reason = reason.substr(colon + 2);
    fail("{} is not valid JSON: {}", what, reason);
  }
}

namespace {

const json* field(const json& object, const char* key) {
  auto it = object.find(key);
  return it == object.end() || it->is_null() ? nullptr : &*it;
}

std::string string_field(const json& object, const char* key, std::string_view what, bool required) {
  const json* value = field(object, key);
  if (!value) {
    if (required) fail("{}: missing \"{}\"", what, key);
    return {};
  }
  if (!value->is_string()) fail("{}: \"{}\" must be a string", what, key);
  return value->get<std::string>();
}

Annotations string_map_field(const json& object, const char* key, std::string_view what) {
  Annotations out;
  const json* value = field(object, key);
  if (!value) return out;
  if (!value->is_object()) fail("{}: \"{}\" must be an object of strings", what, key);
  for (auto& [k, v] : value->items()) {
    if (!v.is_string()) fail("{}: \"{}.{}\" must be a string", what, key, k);
    out[k] = v.get<std::string>();
  }
  return out;
}

std::vector<std::string> string_list_field(const json& object, const char* key, std::string_view what) {
  std::vector<std::string> out;
  const json* value = field(object, key);
  if (!value) return out;
  if (!value->is_array()) fail("{}: \"{}\" must be an array of strings", what, key);
  for (auto& item : *value) {
    if (!item.is_string()) fail("{}: \"{}\" must be an array of strings", what, key);
    out.push_back(item.get<std::string>());
  }
  return out;
}

void check_schema_version(const json& object, std::string_view what) {
  const json* version = field(object, "schemaVersion");
  if (!version || !version->is_number_integer() || version->get<int>() != 2) {
    fail("{}: \"schemaVersion\" must be 2 (schema 1 manifests are not supported)", what);
  }
}

const json& object_or_fail(const json& value, std::string_view what) {
  if (!value.is_object()) fail("{}: expected a JSON object", what);
  return value;
}

void put_common(json& out, const std::string& media_type, const std::string& artifact_type,
                const std::optional<Descriptor>& subject, const Annotations& annotations) {
  out["schemaVersion"] = 2;
  if (!media_type.empty()) out["mediaType"] = media_type;
  if (!artifact_type.empty()) out["artifactType"] = artifact_type;
  if (subject) out["subject"] = *subject;
  if (!annotations.empty()) out["annotations"] = annotations;
}

}  // namespace

void to_json(json& out, const Platform& platform) {
  out = json::object();
  out["architecture"] = platform.architecture;
  out["os"] = platform.os;
  if (!platform.variant.empty()) out["variant"] = platform.variant;
  if (!platform.os_version.empty()) out["os.version"] = platform.os_version;
  if (!platform.os_features.empty()) out["os.features"] = platform.os_features;
}

Platform platform_from_json(const json& in, std::string_view what) {
  object_or_fail(in, what);
  Platform platform;
  platform.architecture = string_field(in, "architecture", what, true);
  platform.os = string_field(in, "os", what, true);
  platform.variant = string_field(in, "variant", what, false);
  platform.os_version = string_field(in, "os.version", what, false);
  platform.os_features = string_list_field(in, "os.features", what);
  return platform;
}

void to_json(json& out, const Descriptor& d) {
  out = json::object();
  out["mediaType"] = d.media_type;
  out["digest"] = d.digest.str();
  out["size"] = d.size;
  if (!d.urls.empty()) out["urls"] = d.urls;
  if (!d.annotations.empty()) out["annotations"] = d.annotations;
  if (d.platform) out["platform"] = *d.platform;
  if (!d.artifact_type.empty()) out["artifactType"] = d.artifact_type;
  if (d.data) out["data"] = *d.data;
}

Descriptor descriptor_from_json(const json& in, std::string_view what) {
  object_or_fail(in, what);
  Descriptor d;
  d.media_type = string_field(in, "mediaType", what, true);
  try {
    d.digest = Digest::parse(string_field(in, "digest", what, true));
  } catch (const Error& e) {
    fail("{}: {}", what, e.what());
  }
  const json* size = field(in, "size");
  if (!size || !size->is_number_integer() || size->get<int64_t>() < 0) {
    fail("{}: \"size\" must be a non-negative integer", what);
  }
  d.size = size->get<int64_t>();
  d.urls = string_list_field(in, "urls", what);
  d.annotations = string_map_field(in, "annotations", what);
  if (const json* platform = field(in, "platform")) {
    d.platform = platform_from_json(*platform, fmt::format("{}: platform", what));
  }
  d.artifact_type = string_field(in, "artifactType", what, false);
  if (const json* data = field(in, "data")) {
    if (!data->is_string()) fail("{}: \"data\" must be a base64 string", what);
    d.data = data->get<std::string>();
  }
  return d;
}

Manifest Manifest::parse(std::string_view json_text, std::string_view what) {
  json in = parse_json(json_text, what);
  object_or_fail(in, what);
  check_schema_version(in, what);
  Manifest m;
  m.media_type = string_field(in, "mediaType", what, false);
  if (!m.media_type.empty() && !media_type::is_manifest(m.media_type)) {
    fail("{}: media type {} is not an image manifest", what, m.media_type);
  }
  if (field(in, "manifests")) fail("{}: is an index, not an image manifest", what);
  m.artifact_type = string_field(in, "artifactType", what, false);
  const json* config = field(in, "config");
  if (!config) fail("{}: missing \"config\"", what);
  m.config = descriptor_from_json(*config, fmt::format("{}: config", what));
  const json* layers = field(in, "layers");
  if (layers) {
    if (!layers->is_array()) fail("{}: \"layers\" must be an array", what);
    for (size_t i = 0; i < layers->size(); ++i) {
      m.layers.push_back(descriptor_from_json((*layers)[i], fmt::format("{}: layer {}", what, i)));
    }
  }
  if (const json* subject = field(in, "subject")) {
    m.subject = descriptor_from_json(*subject, fmt::format("{}: subject", what));
  }
  m.annotations = string_map_field(in, "annotations", what);
  return m;
}

std::string Manifest::to_json_text() const {
  json out = json::object();
  put_common(out, media_type, artifact_type, subject, annotations);
  out["config"] = config;
  out["layers"] = layers;
  return out.dump();
}

Index Index::parse(std::string_view json_text, std::string_view what) {
  json in = parse_json(json_text, what);
  object_or_fail(in, what);
  check_schema_version(in, what);
  Index index;
  index.media_type = string_field(in, "mediaType", what, false);
  if (!index.media_type.empty() && !media_type::is_index(index.media_type)) {
    fail("{}: media type {} is not an image index", what, index.media_type);
  }
  index.artifact_type = string_field(in, "artifactType", what, false);
  const json* manifests = field(in, "manifests");
  if (!manifests || !manifests->is_array()) fail("{}: \"manifests\" must be an array", what);
  for (size_t i = 0; i < manifests->size(); ++i) {
    index.manifests.push_back(descriptor_from_json((*manifests)[i], fmt::format("{}: manifest {}", what, i)));
  }
  if (const json* subject = field(in, "subject")) {
    index.subject = descriptor_from_json(*subject, fmt::format("{}: subject", what));
  }
  index.annotations = string_map_field(in, "annotations", what);
  return index;
}

std::string Index::to_json_text() const {
  json out = json::object();
  put_common(out, media_type, artifact_type, subject, annotations);
  out["manifests"] = manifests;
  return out.dump();
}

std::string sniff_media_type(std::string_view json_text) {
  json in = json::parse(json_text, nullptr, false);
  if (!in.is_object()) return {};
  if (auto it = in.find("mediaType"); it != in.end() && it->is_string()) return it->get<std::string>();
  if (in.contains("manifests")) return std::string(media_type::oci_index);
  if (in.contains("config")) return std::string(media_type::oci_manifest);
  return {};
}

}  // namespace gocrate
