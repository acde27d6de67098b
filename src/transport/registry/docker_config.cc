#include "transport/registry/docker_config.h"

#include <cstdlib>

#include "image/manifest.h"
#include "transport/registry/base64.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/process.h"

namespace gocrate {

using nlohmann::json;

namespace {

constexpr std::string_view kDockerHubKey = "https://index.docker.io/v1/";

// "https://host:port/v1/" -> "host:port".
std::string host_of_key(std::string_view key) {
  if (auto scheme = key.find("://"); scheme != std::string_view::npos) key.remove_prefix(scheme + 3);
  return std::string(key.substr(0, key.find('/')));
}

std::string normalized(std::string_view registry) {
  std::string host = host_of_key(registry);
  if (host == "docker.io" || host == "index.docker.io" || host == "registry-1.docker.io") return "docker.io";
  return host;
}

std::string helper_program(const std::string& helper) {
  return "docker-credential-" + helper;
}

ProcessResult run_helper(const std::string& helper, const std::string& action, const std::string& input) {
  std::string program = helper_program(helper);
  if (!find_executable(program)) {
    fail(
        "the credential helper {} that {} names is not installed: install it or remove \"{}\" from that file",
        program, docker_config_path(), helper);
  }
  ProcessOptions options;
  options.stdin_data = input;
  return run_process({program, action}, options);
}

std::string first_line(std::string_view text) {
  auto end = text.find('\n');
  return std::string(text.substr(0, end));
}

}  // namespace

std::string docker_config_path() {
  if (const char* dir = std::getenv("DOCKER_CONFIG"); dir && *dir) return std::string(dir) + "/config.json";
  const char* home = std::getenv("HOME");
  if (!home || !*home) fail("cannot find Docker's config.json: set HOME or DOCKER_CONFIG");
  return std::string(home) + "/.docker/config.json";
}

std::string credential_key(std::string_view registry) {
  std::string host = normalized(registry);
  return host == "docker.io" ? std::string(kDockerHubKey) : host;
}

DockerConfig DockerConfig::load(const std::string& path) {
  auto text = read_file_if_exists(path);
  if (!text || text->find_first_not_of(" \t\r\n") == std::string::npos) {
    DockerConfig config;
    config.path_ = path;
    return config;
  }
  return parse(*text, path);
}

DockerConfig DockerConfig::parse(std::string_view text, std::string path) {
  DockerConfig config;
  config.path_ = std::move(path);
  config.json_ = parse_json(text, config.path_);
  if (!config.json_.is_object()) fail("{} is not a JSON object: fix or remove it", config.path_);
  for (const char* key : {"auths", "credHelpers"}) {
    if (config.json_.contains(key) && !config.json_[key].is_object()) {
      fail("{}: \"{}\" must be an object: fix or remove it", config.path_, key);
    }
  }
  if (config.json_.contains("credsStore") && !config.json_["credsStore"].is_string()) {
    fail("{}: \"credsStore\" must be a string: fix or remove it", config.path_);
  }
  return config;
}

std::string DockerConfig::helper_for(std::string_view registry) const {
  std::string host = normalized(registry);
  if (auto helpers = json_.find("credHelpers"); helpers != json_.end()) {
    for (const auto& [key, value] : helpers->items()) {
      if (normalized(key) == host && value.is_string()) return value.get<std::string>();
    }
  }
  if (auto store = json_.find("credsStore"); store != json_.end()) return store->get<std::string>();
  return "";
}

std::optional<Credentials> DockerConfig::inline_credentials(std::string_view registry) const {
  auto auths = json_.find("auths");
  if (auths == json_.end()) return std::nullopt;
  std::string host = normalized(registry);
  for (const auto& [key, entry] : auths->items()) {
    if (normalized(key) != host || !entry.is_object()) continue;
    Credentials credentials;
    if (entry.contains("auth") && entry["auth"].is_string() && !entry["auth"].get<std::string>().empty()) {
      auto decoded = base64_decode(entry["auth"].get<std::string>());
      auto colon = decoded ? decoded->find(':') : std::string::npos;
      if (colon == std::string::npos) {
        fail("{}: the \"auth\" of {} is not base64 of USER:PASSWORD: log in again with `gocrate login {}`",
             path_, key, registry);
      }
      credentials.username = decoded->substr(0, colon);
      credentials.password = decoded->substr(colon + 1);
    }
    if (entry.contains("username") && entry["username"].is_string() && credentials.username.empty()) {
      credentials.username = entry["username"].get<std::string>();
      credentials.password = entry.value("password", "");
    }
    if (entry.contains("identitytoken") && entry["identitytoken"].is_string()) {
      credentials.identity_token = entry["identitytoken"].get<std::string>();
    }
    if (!credentials.empty()) return credentials;
  }
  return std::nullopt;
}

void DockerConfig::set_inline_credentials(std::string_view registry, const Credentials& credentials) {
  remove_inline_credentials(registry);
  json entry = json::object();
  if (!credentials.identity_token.empty()) {
    entry["auth"] = base64_encode(credentials.username + ":");
    entry["identitytoken"] = credentials.identity_token;
  } else {
    entry["auth"] = base64_encode(credentials.username + ":" + credentials.password);
  }
  json_["auths"][credential_key(registry)] = entry;
}

bool DockerConfig::remove_inline_credentials(std::string_view registry) {
  auto auths = json_.find("auths");
  if (auths == json_.end()) return false;
  std::string host = normalized(registry);
  std::vector<std::string> keys;
  for (const auto& [key, entry] : auths->items()) {
    if (normalized(key) == host) keys.push_back(key);
  }
  for (const auto& key : keys) auths->erase(key);
  return !keys.empty();
}

void DockerConfig::save() const {
  make_directories(dir_name(path_), 0700);
  write_file_atomic(path_, json_.dump(1, '\t') + "\n", 0600);
}

Credentials find_credentials(std::string_view registry) {
  DockerConfig config = DockerConfig::load(docker_config_path());
  if (std::string helper = config.helper_for(registry); !helper.empty()) {
    ProcessResult result = run_helper(helper, "get", credential_key(registry));
    if (result.exit_code == 0) {
      json answer = parse_json(result.out, helper_program(helper) + " get");
      Credentials credentials;
      credentials.username = answer.value("Username", "");
      credentials.password = answer.value("Secret", "");
      if (credentials.username == "<token>") {
        credentials.identity_token = credentials.password;
        credentials.username.clear();
        credentials.password.clear();
      }
      return credentials;
    }
    std::string said = result.out + result.err;
    if (said.find("credentials not found") == std::string::npos) {
      fail("{} get failed for {}: {}", helper_program(helper), registry, first_line(said));
    }
  }
  return config.inline_credentials(registry).value_or(Credentials{});
}

std::string store_credentials(std::string_view registry, const Credentials& credentials) {
  DockerConfig config = DockerConfig::load(docker_config_path());
  if (std::string helper = config.helper_for(registry); !helper.empty()) {
    bool token = !credentials.identity_token.empty();
    json input = {{"ServerURL", credential_key(registry)},
                  {"Username", token ? "<token>" : credentials.username},
                  {"Secret", token ? credentials.identity_token : credentials.password}};
    ProcessResult result = run_helper(helper, "store", input.dump());
    if (result.exit_code != 0) {
      fail("{} store failed for {}: {}", helper_program(helper), registry,
           first_line(result.out + result.err));
    }
    return helper_program(helper);
  }
  config.set_inline_credentials(registry, credentials);
  config.save();
  return config.path();
}

bool erase_credentials(std::string_view registry) {
  DockerConfig config = DockerConfig::load(docker_config_path());
  bool erased = false;
  if (std::string helper = config.helper_for(registry); !helper.empty()) {
    ProcessResult result = run_helper(helper, "erase", credential_key(registry));
    std::string said = result.out + result.err;
    if (result.exit_code == 0) {
      erased = true;
    } else if (said.find("credentials not found") == std::string::npos) {
      fail("{} erase failed for {}: {}", helper_program(helper), registry, first_line(said));
    }
  }
  if (config.remove_inline_credentials(registry)) {
    config.save();
    erased = true;
  }
  return erased;
}

}  // namespace gocrate
