#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "image/digest.h"
#include "image/platform.h"

namespace gocrate {

// The "config" object of an image configuration: how to run the image.
// Keys this struct does not model (Healthcheck, OnBuild, ...) stay in `extra`
// and are written back unchanged.
struct RunConfig {
  std::string user;
  std::set<std::string> exposed_ports;  // "8080/tcp"
  std::vector<std::string> env;         // "KEY=value"
  std::optional<std::vector<std::string>> entrypoint;
  std::optional<std::vector<std::string>> cmd;
  std::set<std::string> volumes;
  std::string working_dir;
  std::map<std::string, std::string> labels;
  std::string stop_signal;
  nlohmann::json extra = nlohmann::json::object();

  // The value of KEY in env, or nullopt.
  std::optional<std::string> env_value(std::string_view key) const;
  // Sets KEY=value, replacing an earlier KEY in place.
  void set_env(std::string_view key, std::string_view value);
};

struct HistoryEntry {
  std::string created;
  std::string created_by;
  std::string author;
  std::string comment;
  bool empty_layer = false;
};

// An OCI image configuration (the Docker one has the same shape).
struct ImageConfig {
  std::string created;
  std::string author;
  std::string architecture;
  std::string os;
  std::string os_version;
  std::vector<std::string> os_features;
  std::string variant;
  RunConfig config;
  std::vector<Digest> diff_ids;
  std::vector<HistoryEntry> history;
  nlohmann::json extra = nlohmann::json::object();

  Platform platform() const;
  void set_platform(const Platform& platform);

  static ImageConfig parse(std::string_view json_text, std::string_view what);
  std::string to_json_text() const;
};

}  // namespace gocrate
