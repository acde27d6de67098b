#include "gobuild/project_config.h"

#include <yaml-cpp/yaml.h>

#include <cstdlib>

#include "image/config_options.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/process.h"
#include "util/strings.h"

namespace gocrate {

namespace {

std::vector<std::string> string_list(const YAML::Node& node, const std::string& what) {
  std::vector<std::string> out;
  if (!node || node.IsNull()) return out;
  if (node.IsScalar()) return split(node.as<std::string>(), ',');
  if (!node.IsSequence()) fail("{} must be a list of strings", what);
  for (const auto& item : node) out.push_back(item.as<std::string>());
  return out;
}

std::string string_value(const YAML::Node& node, const std::string& what) {
  if (!node || node.IsNull()) return {};
  if (!node.IsScalar()) fail("{} must be a string", what);
  return node.as<std::string>();
}

// The first of several spellings (ours, then ko's) that is present.
YAML::Node first_of(const YAML::Node& map, std::initializer_list<const char*> keys) {
  for (const char* key : keys) {
    if (map[key]) return map[key];
  }
  return YAML::Node();
}

}  // namespace

ProjectConfig parse_project_config(const std::string& text, const std::string& path) {
  ProjectConfig config;
  config.path = path;
  try {
    YAML::Node root = YAML::Load(text);
    if (!root || root.IsNull()) return config;
    if (!root.IsMap()) fail("{}: expected a mapping of settings", path);
    config.repository = string_value(first_of(root, {"repository", "defaultRepo"}), path + ": repository");
    config.base = string_value(first_of(root, {"base", "defaultBaseImage"}), path + ": base");
    config.platforms = string_list(first_of(root, {"platforms", "defaultPlatforms"}), path + ": platforms");
    config.env = string_list(first_of(root, {"env", "defaultEnv"}), path + ": env");
    config.ldflags = string_value(first_of(root, {"ldflags", "defaultLdflags"}), path + ": ldflags");
    config.sbom = string_value(root["sbom"], path + ": sbom");
    config.compression = string_value(root["compression"], path + ": compression");
    if (YAML::Node builds = root["builds"]) {
      if (!builds.IsSequence()) fail("{}: builds must be a list", path);
      for (const auto& entry : builds) {
        PackageBuildConfig b;
        std::string what = path + ": builds entry";
        b.import_path = string_value(first_of(entry, {"importPath", "main", "dir"}), what);
        if (b.import_path.empty()) fail("{} has no importPath", what);
        b.env = string_list(entry["env"], what + " env");
        b.flags = string_list(entry["flags"], what + " flags");
        if (YAML::Node ldflags = entry["ldflags"]) {
          b.ldflags =
              ldflags.IsSequence() ? join(string_list(ldflags, what), " ") : string_value(ldflags, what);
        }
        if (YAML::Node base = entry["base"]) b.base = string_value(base, what + " base");
        b.platforms = string_list(entry["platforms"], what + " platforms");
        config.builds.push_back(std::move(b));
      }
    }
  } catch (const YAML::Exception& e) {
    fail("{}:{}: {}", path, e.mark.line + 1, e.msg);
  }
  for (const auto& entry : config.env) parse_env_assignment(entry, path + ": env");
  return config;
}

void apply_environment_overrides(ProjectConfig& config) {
  auto get = [](const char* name) -> std::optional<std::string> {
    const char* value = std::getenv(name);
    if (!value || !*value) return std::nullopt;
    return std::string(value);
  };
  if (auto v = get("GOCRATE_DOCKER_REPO")) config.repository = *v;
  if (auto v = get("GOCRATE_BASE")) config.base = *v;
  if (auto v = get("GOCRATE_PLATFORMS")) config.platforms = split(*v, ',');
  if (auto v = get("GOCRATE_ENV")) {
    config.env = split(*v, ',');
    for (const auto& entry : config.env) parse_env_assignment(entry, "GOCRATE_ENV");
  }
  if (auto v = get("GOCRATE_LDFLAGS")) config.ldflags = *v;
  if (auto v = get("GOCRATE_SBOM")) config.sbom = *v;
  if (auto v = get("GOCRATE_COMPRESSION")) config.compression = *v;
}

ProjectConfig load_project_config(const std::string& working_dir) {
  ProjectConfig config;
  for (std::string dir = absolute_path(working_dir);; dir = dir_name(dir)) {
    for (const char* name : {".gocrate.yaml", ".gocrate.yml", ".ko.yaml"}) {
      std::string path = dir + "/" + name;
      if (auto text = read_file_if_exists(path)) {
        config = parse_project_config(*text, path);
        apply_environment_overrides(config);
        return config;
      }
    }
    if (dir == "/" || path_exists(dir + "/.git")) break;
  }
  apply_environment_overrides(config);
  return config;
}

const PackageBuildConfig* ProjectConfig::build_for(const std::string& import_path,
                                                   const std::string& package_dir) const {
  std::string root = path.empty() ? "" : dir_name(path);
  for (const auto& b : builds) {
    if (b.import_path == import_path) return &b;
    if (!root.empty() && (b.import_path.starts_with("./") || b.import_path == ".")) {
      if (absolute_path(root + "/" + b.import_path) == absolute_path(package_dir)) return &b;
    }
  }
  return nullptr;
}

std::string expand_ldflags_template(const std::string& text, const std::string& source_dir) {
  if (text.find("{{") == std::string::npos) return text;
  std::map<std::string, std::string> git;
  auto git_value = [&](const std::string& key, std::vector<std::string> args) -> std::string {
    if (auto it = git.find(key); it != git.end()) return it->second;
    std::string value;
    if (find_executable("git")) {
      args.insert(args.begin(), "git");
      ProcessOptions options;
      options.working_dir = source_dir;
      auto result = run_process(args, options);
      if (result.exit_code == 0) value = std::string(trim(result.out));
    }
    return git[key] = value;
  };
  std::string out;
  size_t at = 0;
  while (true) {
    size_t open = text.find("{{", at);
    out += text.substr(at, open - at);
    if (open == std::string::npos) break;
    size_t close = text.find("}}", open);
    if (close == std::string::npos) fail("ldflags \"{}\": a {{{{ is not closed", text);
    std::string field(trim(std::string_view(text).substr(open + 2, close - open - 2)));
    if (field == ".Version") {
      std::string version = git_value("version", {"describe", "--tags", "--always", "--dirty"});
      out += version.empty() ? "devel" : version;
    } else if (field == ".Commit") {
      out += git_value("commit", {"rev-parse", "HEAD"});
    } else if (field == ".ShortCommit") {
      out += git_value("short", {"rev-parse", "--short", "HEAD"});
    } else if (field == ".Date") {
      int64_t epoch = source_date_epoch();
      if (epoch == 0) {
        int64_t commit_time = 0;
        parse_int(git_value("date", {"log", "-1", "--format=%ct"}), 0, INT64_MAX, commit_time);
        epoch = commit_time;
      }
      out += rfc3339_utc(epoch);
    } else if (field.starts_with(".Env.")) {
      const char* value = std::getenv(field.substr(5).c_str());
      out += value ? value : "";
    } else {
      fail(
          "ldflags \"{}\": unknown template field {{{{{}}}}}: use .Version, .Commit, .ShortCommit, .Date or "
          ".Env.NAME",
          text, field);
    }
    at = close + 2;
  }
  return out;
}

}  // namespace gocrate
