#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace gocrate {

struct Credentials {
  std::string username;
  std::string password;
  std::string identity_token;  // an OAuth2 refresh token, used instead of a password
  bool empty() const { return username.empty() && password.empty() && identity_token.empty(); }
};

// Docker's client configuration: $DOCKER_CONFIG/config.json, else
// ~/.docker/config.json. gocrate reads and writes the same file so that a
// `docker login` serves gocrate and the other way round.
std::string docker_config_path();

// The key Docker files a registry's credentials under:
// "https://index.docker.io/v1/" for Docker Hub, host[:port] otherwise.
std::string credential_key(std::string_view registry);

// The credential parts of config.json. Every other key is kept as it is when
// the file is written back.
class DockerConfig {
 public:
  // A missing file is an empty configuration.
  static DockerConfig load(const std::string& path);
  static DockerConfig parse(std::string_view text, std::string path);

  // The credential helper for a registry: credHelpers[registry], else
  // credsStore; "" for none.
  std::string helper_for(std::string_view registry) const;
  // What "auths" holds for a registry; keys are compared without scheme and
  // path, as Docker writes "https://host/v1/" for some.
  std::optional<Credentials> inline_credentials(std::string_view registry) const;
  void set_inline_credentials(std::string_view registry, const Credentials& credentials);
  bool remove_inline_credentials(std::string_view registry);
  // Replaces the file atomically, readable by its owner only.
  void save() const;
  const std::string& path() const { return path_; }

 private:
  nlohmann::json json_ = nlohmann::json::object();
  std::string path_;
};

// The credentials for a registry, from its helper or from config.json;
// empty when there are none.
Credentials find_credentials(std::string_view registry);
// Stores credentials as the configuration says: through its helper, else in
// config.json. Returns where they went, for the user.
std::string store_credentials(std::string_view registry, const Credentials& credentials);
// Removes stored credentials; false when there were none.
bool erase_credentials(std::string_view registry);

}  // namespace gocrate
