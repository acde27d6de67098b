#include "image/config.h"

#include "image/manifest.h"
#include "util/error.h"

namespace gocrate {

using nlohmann::json;

namespace {

std::string take_string(json& object, const char* key, std::string_view what) {
  auto it = object.find(key);
  if (it == object.end()) return {};
  std::string out;
  if (it->is_string()) {
    out = it->get<std::string>();
  } else if (!it->is_null()) {
    fail("{}: \"{}\" must be a string", what, key);
  }
  object.erase(it);
  return out;
}

std::optional<std::vector<std::string>> take_string_list(json& object, const char* key,
                                                         std::string_view what) {
  auto it = object.find(key);
  if (it == object.end()) return std::nullopt;
  std::optional<std::vector<std::string>> out;
  if (it->is_array()) {
    out.emplace();
    for (auto& item : *it) {
      if (!item.is_string()) fail("{}: \"{}\" must be an array of strings", what, key);
      out->push_back(item.get<std::string>());
    }
  } else if (it->is_string()) {
    // Docker accepts a bare string for Cmd and Entrypoint in old configs.
    out = std::vector<std::string>{"/bin/sh", "-c", it->get<std::string>()};
  } else if (!it->is_null()) {
    fail("{}: \"{}\" must be an array of strings", what, key);
  }
  object.erase(it);
  return out;
}

std::set<std::string> take_key_set(json& object, const char* key, std::string_view what) {
  std::set<std::string> out;
  auto it = object.find(key);
  if (it == object.end()) return out;
  if (it->is_object()) {
    for (auto& [k, v] : it->items()) out.insert(k);
  } else if (!it->is_null()) {
    fail("{}: \"{}\" must be an object", what, key);
  }
  object.erase(it);
  return out;
}

json key_set(const std::set<std::string>& keys) {
  json out = json::object();
  for (const auto& k : keys) out[k] = json::object();
  return out;
}

RunConfig run_config_from_json(json in, std::string_view what) {
  if (!in.is_object()) fail("{}: \"config\" must be an object", what);
  RunConfig c;
  c.user = take_string(in, "User", what);
  c.exposed_ports = take_key_set(in, "ExposedPorts", what);
  c.env = take_string_list(in, "Env", what).value_or(std::vector<std::string>{});
  c.entrypoint = take_string_list(in, "Entrypoint", what);
  c.cmd = take_string_list(in, "Cmd", what);
  c.volumes = take_key_set(in, "Volumes", what);
  c.working_dir = take_string(in, "WorkingDir", what);
  c.stop_signal = take_string(in, "StopSignal", what);
  if (auto it = in.find("Labels"); it != in.end()) {
    if (it->is_object()) {
      for (auto& [k, v] : it->items()) {
        if (!v.is_string()) fail("{}: label \"{}\" must be a string", what, k);
        c.labels[k] = v.get<std::string>();
      }
    } else if (!it->is_null()) {
      fail("{}: \"Labels\" must be an object", what);
    }
    in.erase(it);
  }
  c.extra = std::move(in);
  return c;
}

json run_config_to_json(const RunConfig& c) {
  json out = c.extra.is_object() ? c.extra : json::object();
  if (!c.user.empty()) out["User"] = c.user;
  if (!c.exposed_ports.empty()) out["ExposedPorts"] = key_set(c.exposed_ports);
  if (!c.env.empty()) out["Env"] = c.env;
  if (c.entrypoint) out["Entrypoint"] = *c.entrypoint;
  if (c.cmd) out["Cmd"] = *c.cmd;
  if (!c.volumes.empty()) out["Volumes"] = key_set(c.volumes);
  if (!c.working_dir.empty()) out["WorkingDir"] = c.working_dir;
  if (!c.labels.empty()) out["Labels"] = c.labels;
  if (!c.stop_signal.empty()) out["StopSignal"] = c.stop_signal;
  return out;
}

}  // namespace

std::optional<std::string> RunConfig::env_value(std::string_view key) const {
  for (const auto& entry : env) {
    if (entry.size() > key.size() && entry.compare(0, key.size(), key) == 0 && entry[key.size()] == '=') {
      return entry.substr(key.size() + 1);
    }
  }
  return std::nullopt;
}

void RunConfig::set_env(std::string_view key, std::string_view value) {
  std::string entry = fmt::format("{}={}", key, value);
  for (auto& existing : env) {
    if (existing.size() > key.size() && existing.compare(0, key.size(), key) == 0 &&
        existing[key.size()] == '=') {
      existing = entry;
      return;
    }
  }
  env.push_back(entry);
}

Platform ImageConfig::platform() const {
  Platform p{os, architecture, variant, os_version, os_features};
  return p.normalized();
}

void ImageConfig::set_platform(const Platform& platform) {
  os = platform.os;
  architecture = platform.architecture;
  variant = platform.variant;
  os_version = platform.os_version;
  os_features = platform.os_features;
}

ImageConfig ImageConfig::parse(std::string_view json_text, std::string_view what) {
  json in = parse_json(json_text, what);
  if (!in.is_object()) fail("{}: expected a JSON object", what);
  ImageConfig c;
  c.created = take_string(in, "created", what);
  c.author = take_string(in, "author", what);
  c.architecture = take_string(in, "architecture", what);
  c.os = take_string(in, "os", what);
  if (c.architecture.empty() || c.os.empty()) fail("{}: missing \"architecture\" or \"os\"", what);
  c.os_version = take_string(in, "os.version", what);
  c.os_features = take_string_list(in, "os.features", what).value_or(std::vector<std::string>{});
  c.variant = take_string(in, "variant", what);
  if (auto it = in.find("config"); it != in.end()) {
    if (!it->is_null()) c.config = run_config_from_json(*it, what);
    in.erase(it);
  }
  auto rootfs = in.find("rootfs");
  if (rootfs == in.end() || !rootfs->is_object()) fail("{}: missing \"rootfs\"", what);
  if (rootfs->value("type", "") != "layers") fail("{}: rootfs.type must be \"layers\"", what);
  if (auto ids = rootfs->find("diff_ids"); ids != rootfs->end() && !ids->is_null()) {
    if (!ids->is_array()) fail("{}: rootfs.diff_ids must be an array", what);
    for (auto& id : *ids) {
      if (!id.is_string()) fail("{}: rootfs.diff_ids must hold digests", what);
      try {
        c.diff_ids.push_back(Digest::parse(id.get<std::string>()));
      } catch (const Error& e) {
        fail("{}: rootfs.diff_ids: {}", what, e.what());
      }
    }
  }
  in.erase(rootfs);
  if (auto it = in.find("history"); it != in.end()) {
    if (it->is_array()) {
      for (auto& item : *it) {
        if (!item.is_object()) fail("{}: history entries must be objects", what);
        json entry = item;
        HistoryEntry h;
        h.created = take_string(entry, "created", what);
        h.created_by = take_string(entry, "created_by", what);
        h.author = take_string(entry, "author", what);
        h.comment = take_string(entry, "comment", what);
        h.empty_layer = entry.value("empty_layer", false);
        c.history.push_back(h);
      }
    }
    in.erase(it);
  }
  c.extra = std::move(in);
  return c;
}

std::string ImageConfig::to_json_text() const {
  json out = extra.is_object() ? extra : json::object();
  if (!created.empty()) out["created"] = created;
  if (!author.empty()) out["author"] = author;
  out["architecture"] = architecture;
  out["os"] = os;
  if (!os_version.empty()) out["os.version"] = os_version;
  if (!os_features.empty()) out["os.features"] = os_features;
  if (!variant.empty()) out["variant"] = variant;
  out["config"] = run_config_to_json(config);
  json ids = json::array();
  for (const auto& id : diff_ids) ids.push_back(id.str());
  out["rootfs"] = {{"type", "layers"}, {"diff_ids", ids}};
  if (!history.empty()) {
    json entries = json::array();
    for (const auto& h : history) {
      json entry = json::object();
      if (!h.created.empty()) entry["created"] = h.created;
      if (!h.created_by.empty()) entry["created_by"] = h.created_by;
      if (!h.author.empty()) entry["author"] = h.author;
      if (!h.comment.empty()) entry["comment"] = h.comment;
      if (h.empty_layer) entry["empty_layer"] = true;
      entries.push_back(entry);
    }
    out["history"] = entries;
  }
  return out.dump();
}

}  // namespace gocrate
