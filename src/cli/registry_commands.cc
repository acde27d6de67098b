#include <fmt/format.h>
#include <termios.h>
#include <unistd.h>

#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "image/reference.h"
#include "transport/registry/docker_config.h"
#include "transport/registry/pull.h"
#include "transport/registry/push.h"
#include "transport/registry/registry_client.h"
#include "util/error.h"
#include "util/strings.h"

namespace gocrate::cli {

using nlohmann::json;

namespace {

void add_insecure_option(CLI::App& app, std::vector<std::string>& hosts) {
  app.add_option(
      "--insecure-registry", hosts,
      "Reach this registry HOST[:PORT] without TLS verification, or over plain HTTP (repeatable; also "
      "$GOCRATE_INSECURE_REGISTRY)");
}

RegistryOptions registry_options(const std::vector<std::string>& insecure) {
  RegistryOptions options = RegistryOptions::from_environment();
  for (const auto& host : insecure) options.insecure_registries.push_back(host);
  return options;
}

// "https://host:5000/v2/" -> "host:5000", as docker login accepts.
std::string registry_host(std::string_view text) {
  if (auto scheme = text.find("://"); scheme != std::string_view::npos) text.remove_prefix(scheme + 3);
  std::string host(text.substr(0, text.find('/')));
  if (host == "index.docker.io" || host == "registry-1.docker.io") host = "docker.io";
  if (host.empty() || host.find_first_of(" @") != std::string::npos) {
    fail("invalid registry \"{}\": give HOST[:PORT], e.g. localhost:5000 or docker.io", text);
  }
  return host;
}

std::string read_line(bool echo) {
  termios saved{};
  bool terminal = ::isatty(STDIN_FILENO) && ::tcgetattr(STDIN_FILENO, &saved) == 0;
  if (terminal && !echo) {
    termios quiet = saved;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    ::tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
  }
  std::string line;
  std::getline(std::cin, line);
  if (terminal && !echo) {
    ::tcsetattr(STDIN_FILENO, TCSANOW, &saved);
    fmt::print(stderr, "\n");
  }
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

json referrer_list(const std::vector<Descriptor>& referrers) {
  json out = json::array();
  for (const auto& r : referrers)
    out.push_back({{"digest", r.digest.str()}, {"artifactType", r.artifact_type}});
  return out;
}

}  // namespace

int push_command(Globals& globals, int argc, char** argv) {
  CLI::App app{"Push an image from the store to a registry, with its SBOMs", "push"};
  std::string image_ref, destination;
  std::vector<std::string> insecure;
  bool as_json = false, quiet = false;
  add_global_options(app, globals);
  app.add_option("image", image_ref, "Image in the store")->required();
  app.add_option("destination", destination, "HOST[:PORT]/REPOSITORY[:TAG] (default: the image's name)");
  add_insecure_option(app, insecure);
  app.add_flag("--json", as_json, "Print the result as JSON");
  app.add_flag("-q,--quiet", quiet, "No progress display");
  parse_command_line(app, argc, argv);

  Store store = open_store(globals);
  NamedImage image = store.resolve(image_ref);
  PushOptions options;
  options.registry = registry_options(insecure);
  options.show_progress = !quiet && !as_json;
  PushResult result = push_image(store, image, destination.empty() ? image.name : destination, options);
  if (!as_json) {
    fmt::print("{}@{}\n", result.reference, result.root.digest.str());
    return 0;
  }
  json referrers = json::array();
  for (const auto& r : result.referrers)
    referrers.push_back({{"digest", r.digest.str()}, {"artifactType", r.artifact_type}});
  fmt::print(
      "{}\n",
      json{{"reference", result.reference},
           {"digest", result.root.digest.str()},
           {"mediaType", result.root.media_type},
           {"blobs",
            {{"uploaded", result.uploaded}, {"mounted", result.mounted}, {"existing", result.skipped}}},
           {"bytesUploaded", result.bytes_uploaded},
           {"referrers", referrers}}
          .dump(2));
  return 0;
}

int pull_command(Globals& globals, int argc, char** argv) {
  CLI::App app{"Pull an image from a registry into the store", "pull"};
  std::string reference, platform, signature_policy;
  std::vector<std::string> insecure;
  bool as_json = false, quiet = false;
  add_global_options(app, globals);
  app.add_option("reference", reference, "HOST[:PORT]/REPOSITORY[:TAG|@DIGEST]")->required();
  app.add_option("--platform", platform,
                 "The platform to pull, OS/ARCH[/VARIANT], or all (default: this machine's)");
  add_insecure_option(app, insecure);
  app.add_flag("--json", as_json, "Print the result as JSON");
  app.add_flag("-q,--quiet", quiet, "No progress display");
  app.add_option("--signature-policy", signature_policy,
                 "containers-policy.json(5) the image must satisfy (default: $GOCRATE_SIGNATURE_POLICY, else "
                 "/etc/containers/policy.json when it exists)");
  parse_command_line(app, argc, argv);

  if (!reference.starts_with("docker://")) Reference::parse(reference);
  if (!names_registry(reference)) {
    fail(
        "cannot pull {}: it names no registry; write HOST[:PORT]/REPOSITORY[:TAG] (docker.io/library/{} for "
        "Docker Hub)",
        reference, reference);
  }
  Store store = open_store(globals);
  store.remove_stale_ingests();
  PullOptions options;
  options.registry = registry_options(insecure);
  options.signature_policy = signature_policy;
  options.all_platforms = platform == "all";
  if (!platform.empty() && platform != "all") options.platform = Platform::parse(platform);
  options.show_progress = !quiet && !as_json;
  PullResult result = pull_image(store, reference, options);
  if (!as_json) {
    fmt::print("{}@{}\n", result.image.name, result.image.descriptor.digest.str());
    return 0;
  }
  fmt::print("{}\n", json{{"name", result.image.name},
                          {"digest", result.image.descriptor.digest.str()},
                          {"mediaType", result.image.descriptor.media_type},
                          {"blobs", {{"pulled", result.blobs_fetched}, {"existing", result.blobs_present}}},
                          {"bytesPulled", result.bytes_fetched},
                          {"referrers", referrer_list(result.referrers)}}
                         .dump(2));
  return 0;
}

int login_command(Globals& globals, int argc, char** argv) {
  CLI::App app{
      "Log in to a registry; credentials go where Docker keeps them (its credential helper or "
      "~/.docker/config.json)",
      "login"};
  std::string registry, username, password;
  std::vector<std::string> insecure;
  bool password_stdin = false;
  add_global_options(app, globals);
  app.add_option("registry", registry, "HOST[:PORT]")->required();
  app.add_option("-u,--username", username, "User name");
  app.add_option("-p,--password", password, "Password (prefer --password-stdin: this one shows in `ps`)");
  app.add_flag("--password-stdin", password_stdin, "Read the password from standard input");
  add_insecure_option(app, insecure);
  parse_command_line(app, argc, argv);

  std::string host = registry_host(registry);
  bool interactive = ::isatty(STDIN_FILENO);
  if (password_stdin && !password.empty()) fail("give the password with -p or --password-stdin, not both");
  if (password_stdin && username.empty()) fail("--password-stdin needs -u USER");
  if (username.empty()) {
    if (!interactive) fail("no user name: give -u USER (and --password-stdin) when not at a terminal");
    fmt::print(stderr, "Username: ");
    username = read_line(true);
  }
  if (password_stdin) {
    std::string all((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
    password = std::string(trim(all));
  } else if (password.empty()) {
    if (!interactive) fail("no password: give --password-stdin and pipe it in");
    fmt::print(stderr, "Password: ");
    password = read_line(false);
  }
  if (username.empty() || password.empty())
    fail("a user name and a password are needed to log in to {}", host);

  Credentials credentials{username, password, ""};
  RegistryClient client(host, registry_options(insecure));
  if (!client.verify_credentials(credentials)) {
    fmt::print(stderr, "gocrate: note: registry {} accepts requests without credentials\n", host);
  }
  std::string where = store_credentials(host, credentials);
  fmt::print("Login Succeeded (credentials stored with {})\n", where);
  return 0;
}

int logout_command(Globals& globals, int argc, char** argv) {
  CLI::App app{"Remove the stored credentials of a registry", "logout"};
  std::string registry;
  add_global_options(app, globals);
  app.add_option("registry", registry, "HOST[:PORT]")->required();
  parse_command_line(app, argc, argv);
  std::string host = registry_host(registry);
  if (erase_credentials(host)) {
    fmt::print("Removed login credentials for {}\n", host);
  } else {
    fmt::print("Not logged in to {}\n", host);
  }
  return 0;
}

}  // namespace gocrate::cli
