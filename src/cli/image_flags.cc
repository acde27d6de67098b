#include "cli/image_flags.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <future>
#include <nlohmann/json.hpp>

#include "gobuild/git_info.h"
#include "gobuild/layer_contents.h"
#include "image/config_options.h"
#include "image/reference.h"
#include "store/events.h"
#include "store/oci_layout.h"
#include "transport/archive.h"
#include "transport/registry/pull.h"
#include "transport/registry/push.h"
#include "trust/image_trust.h"
#include "trust/registry_policy.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/process.h"
#include "util/strings.h"

namespace gocrate::cli {

void add_image_flags(CLI::App& app, ImageFlags& f) {
  app.add_option("-t,--tag", f.tags, "Name of the image, NAME[:TAG] (repeatable)");
  app.add_option("--platform", f.platform,
                 "Platforms, e.g. linux/amd64,linux/arm64,linux/arm/v7, or all (default: this machine's)");
  app.add_option("--base", f.base,
                 "Base image: scratch, oci-layout:DIR[:TAG], docker-archive:FILE[:NAME], an image in the "
                 "store, or HOST[:PORT]/REPO[:TAG] in a registry")
      ->capture_default_str();
  app.add_option("-e,--env", f.env, "Environment variable KEY=VALUE (repeatable)");
  app.add_option("--port", f.ports, "Exposed port PORT[/tcp|udp] (repeatable)");
  app.add_option("--user", f.user, "User to run as, UID[:GID] (default 65532:65532)");
  app.add_option("--workdir", f.workdir, "Working directory in the container");
  app.add_option("--label", f.labels, "Config label KEY=VALUE (repeatable)");
  app.add_option("--annotation", f.annotations, "Manifest annotation KEY=VALUE (repeatable)");
  app.add_option("--file", f.files, "Add a host file or directory, SRC:DST (repeatable)");
  app.add_option("--app-dir", f.app_dir, "Directory of the executables in the image")->capture_default_str();
  app.add_option("--sbom", f.sbom, "spdx or none")->capture_default_str();
  app.add_option("--provenance", f.provenance, "slsa (SLSA v1 of each built executable) or none")
      ->capture_default_str();
  app.add_option("--compression", f.compression, "gzip, zstd or none, optionally :LEVEL")
      ->capture_default_str();
  app.add_option("--oci-layout", f.oci_layout, "Also write the image into this OCI layout directory");
  app.add_option("--tarball", f.tarball, "Also write the image into this tar (docker load / podman load)");
  app.add_flag("--push", f.push, "Push the images to the registries their names give");
  app.add_option("--insecure-registry", f.insecure_registries,
                 "Reach this registry HOST[:PORT] without TLS verification, or over plain HTTP (repeatable)");
  app.add_flag("--json", f.json, "Print the result as JSON");
  app.add_flag("-q,--quiet", f.quiet, "No progress display");
  app.add_option("--signature-policy", f.signature_policy,
                 "containers-policy.json(5) for the base image (default: $GOCRATE_SIGNATURE_POLICY, else "
                 "/etc/containers/policy.json when it exists)");
  app.add_flag(
      "--sign", f.sign,
      "Sign the images (in their registry with --push, else in the store) and attest their provenance "
      "and SBOM, with --key");
  app.add_option("--key", f.sign_key, "The private key for --sign (PREFIX.key of `gocrate key generate`)");
}

void apply_project_config(const ProjectConfig& config, const CLI::App& app, ImageFlags& flags,
                          GoImageRequest* request) {
  auto unset = [&](const char* option) {
    const CLI::Option* given = app.get_option_no_throw(option);
    return given == nullptr || given->count() == 0;
  };
  if (unset("--base") && !config.base.empty()) flags.base = config.base;
  if (unset("--sbom") && !config.sbom.empty()) flags.sbom = config.sbom;
  if (unset("--compression") && !config.compression.empty()) flags.compression = config.compression;
  flags.env.insert(flags.env.begin(), config.env.begin(), config.env.end());
  flags.repository = config.repository;
  // The rest concerns Go builds; pack takes its platforms from the executables.
  if (!request) return;
  if (unset("--platform") && !config.platforms.empty()) flags.platform = join(config.platforms, ",");
  std::string shared_ldflags = config.ldflags;
  request->adjust_go_options = [&config, shared_ldflags](const GoPackage& package, GoBuildOptions& options) {
    std::string ldflags = shared_ldflags;
    if (const PackageBuildConfig* b = config.build_for(package.import_path, package.dir)) {
      if (b->ldflags) ldflags = *b->ldflags;
      options.flags.insert(options.flags.begin(), b->flags.begin(), b->flags.end());
      for (const auto& entry : b->env) {
        auto [key, value] = parse_key_value(entry, config.path + ": builds env");
        options.env[key] = value;
      }
    }
    ldflags = expand_ldflags_template(ldflags, package.dir);
    if (!ldflags.empty())
      options.ldflags = options.ldflags.empty() ? ldflags : ldflags + " " + options.ldflags;
  };
}

RegistryOptions registry_options(const ImageFlags& f) {
  RegistryOptions options = RegistryOptions::from_environment();
  for (const auto& host : f.insecure_registries) options.insecure_registries.push_back(host);
  return options;
}

void check_push_names(const ImageFlags& f) {
  if (!f.push) return;
  if (f.tags.empty() && f.repository.empty()) {
    fail("--push needs a registry: name the image with -t HOST[:PORT]/REPO[:TAG] or set GOCRATE_DOCKER_REPO");
  }
  for (const auto& tag : f.tags) {
    if (Reference::parse(tag).domain.empty()) {
      fail("--push cannot push {}: it names no registry; use -t HOST[:PORT]/REPO[:TAG]", tag);
    }
  }
}

std::string default_image_name(const std::string& name, const std::string& repository) {
  if (repository.empty()) return Store::canonical_name(name);
  std::string prefix = repository;
  while (prefix.ends_with('/')) prefix.pop_back();
  return Store::canonical_name(prefix + "/" + name);
}

std::vector<Platform> parse_platform_list(const std::string& text) {
  std::vector<Platform> out;
  if (text.empty() || text == "all") return out;
  for (const auto& item : split(text, ',')) out.push_back(Platform::parse(item));
  return out;
}

ImageRecipe make_recipe(const ImageFlags& f, Store& store, LocatedImage& base) {
  ImageRecipe recipe;
  if (f.base != "scratch" && !f.base.empty()) {
    auto policy = load_policy_in_effect(f.signature_policy);
    base = locate_image(f.base, store, registry_options(f));
    enforce_base_policy(store, base, f.base, policy);
    recipe.base = BaseImage{base.source, base.root, base.name};
  }
  if (!f.app_dir.starts_with('/')) fail("invalid --app-dir \"{}\": it must be an absolute path", f.app_dir);
  recipe.app_dir = "/" + LayerContents::normalize_path(f.app_dir);
  for (const auto& e : f.env) recipe.env.push_back(parse_env_assignment(e, "--env"));
  for (const auto& p : f.ports) recipe.ports.insert(parse_exposed_port(p, "--port"));
  if (!f.user.empty()) recipe.user = parse_user_spec(f.user, "--user");
  if (!f.workdir.empty() && !f.workdir.starts_with('/')) {
    fail("invalid --workdir \"{}\": it must be an absolute path", f.workdir);
  }
  recipe.workdir = f.workdir;
  for (const auto& l : f.labels) recipe.labels.insert(parse_key_value(l, "--label"));
  for (const auto& a : f.annotations) recipe.annotations.insert(parse_key_value(a, "--annotation"));
  for (const auto& file : f.files) recipe.files.push_back(parse_file_mapping(file, "--file"));
  if (f.sbom != "spdx" && f.sbom != "none") fail("invalid --sbom \"{}\": use spdx or none", f.sbom);
  if (f.provenance != "slsa" && f.provenance != "none")
    fail("invalid --provenance \"{}\": use slsa or none", f.provenance);
  recipe.sbom = f.sbom == "spdx";
  recipe.compression = parse_compression(f.compression);
  recipe.epoch = source_date_epoch();
  return recipe;
}

void prepare_go_build(const ImageFlags& flags, Store& store, LocatedImage& base, GoImageRequest& request) {
  request.recipe = make_recipe(flags, store, base);
  request.all_platforms = flags.platform == "all";
  request.provenance = flags.provenance == "slsa";
  request.platforms = parse_platform_list(flags.platform);
  add_git_annotations(request.recipe, request.working_dir);
}

void publish(Store& store, const std::vector<Published>& results, const ImageFlags& f) {
  for (const auto& r : results) {
    // Built here: the signature policy accepts it to run or build on.
    store.cache_put("built", r.image.root.digest.hex,
                    nlohmann::json{{"digest", r.image.root.digest.str()}}.dump());
    for (const auto& name : r.names) store.add_name(name, r.image.root);
    for (const auto& sbom : r.image.sboms) store.add_referrer(sbom);
    for (const auto& statement : r.image.provenance) store.add_referrer(statement);
  }
  store.commit();
  double took = seconds_since_process_start();
  for (const auto& r : results) {
    for (const auto& name : r.names)
      record_image_event(store.dir(), "build", r.image.root.digest.str(), name, took);
    if (r.names.empty()) record_image_event(store.dir(), "build", r.image.root.digest.str(), "", took);
  }

  // In a layout an image of one build is named by its tag alone (DIR:TAG).
  // Tools that cannot pick a platform from an index (umoci 0.4) also find
  // each platform's manifest as TAG-OS-ARCH[-VARIANT].
  auto write_to = [&](ImageSink& sink, bool is_layout) {
    for (const auto& r : results) {
      copy_image(store, r.image.root, sink);
      for (const auto* artifacts : {&r.image.sboms, &r.image.provenance}) {
        for (const auto& artifact : *artifacts) {
          copy_image(store, artifact, sink);
          sink.add_referrer(artifact);
        }
      }
      for (const auto& name : r.names) {
        std::string entry = name;
        if (is_layout && results.size() == 1) entry = Reference::parse(name).with_default_tag().tag;
        sink.add_name(entry, r.image.root);
        if (!is_layout || r.image.manifests.size() < 2) continue;
        for (const auto& manifest : r.image.manifests) {
          std::string suffix = manifest.platform->str();
          std::replace(suffix.begin(), suffix.end(), '/', '-');
          sink.add_name(entry + "-" + suffix, manifest);
        }
      }
    }
    sink.commit();
  };
  if (!f.oci_layout.empty()) {
    OciLayout layout(absolute_path(f.oci_layout), true);
    write_to(layout, true);
  }
  if (!f.tarball.empty()) {
    std::optional<Platform> docker_platform;
    ArchiveWriter archive(absolute_path(f.tarball), docker_platform);
    write_to(archive, false);
  }
  if (f.push) {
    std::vector<std::pair<std::string, Descriptor>> pushes;
    for (const auto& r : results) {
      for (const auto& name : r.names) pushes.emplace_back(name, r.image.root);
    }
    PushOptions options;
    options.registry = registry_options(f);
    options.show_progress = !f.quiet && !f.json && pushes.size() == 1;
    std::vector<std::future<void>> running;
    for (const auto& [name, root] : pushes) {
      running.push_back(std::async(std::launch::async, [&store, &options, name = name, root = root] {
        push_image(store, NamedImage{name, root}, name, options);
      }));
    }
    std::exception_ptr first_error;
    for (auto& push : running) {
      try {
        push.get();
      } catch (...) {
        if (!first_error) first_error = std::current_exception();
      }
    }
    if (first_error) std::rethrow_exception(first_error);
  }
}

void print_results(const std::vector<Published>& results, bool as_json) {
  if (!as_json) {
    for (const auto& r : results) fmt::print("{}@{}\n", r.names.front(), r.image.root.digest.str());
    return;
  }
  nlohmann::json images = nlohmann::json::array();
  for (const auto& r : results) {
    nlohmann::json platforms = nlohmann::json::array();
    for (size_t i = 0; i < r.image.manifests.size(); ++i) {
      platforms.push_back({{"platform", r.image.manifests[i].platform->str()},
                           {"digest", r.image.manifests[i].digest.str()},
                           {"size", r.image.manifests[i].size}});
    }
    nlohmann::json sboms = nlohmann::json::array();
    for (const auto& s : r.image.sboms) sboms.push_back(s.digest.str());
    nlohmann::json provenance = nlohmann::json::array();
    for (const auto& p : r.image.provenance) provenance.push_back(p.digest.str());
    images.push_back({{"names", r.names},
                      {"digest", r.image.root.digest.str()},
                      {"mediaType", r.image.root.media_type},
                      {"platforms", platforms},
                      {"sboms", sboms},
                      {"provenance", provenance}});
  }
  fmt::print("{}\n", nlohmann::json{{"images", images}}.dump(2));
}

std::vector<std::string> canonical_names(const std::vector<std::string>& tags) {
  std::vector<std::string> names;
  for (const auto& t : tags) names.push_back(Store::canonical_name(t));
  return names;
}

std::string current_dir() {
  char buffer[4096];
  if (!::getcwd(buffer, sizeof buffer)) fail_errno("cannot read the current directory");
  return buffer;
}

void add_git_annotations(ImageRecipe& recipe, const std::string& dir) {
  auto git = read_git_info(dir);
  if (!git) return;
  recipe.annotations.try_emplace(std::string(annotation::revision), git->revision);
  if (!git->source.empty()) recipe.annotations.try_emplace(std::string(annotation::source), git->source);
}

}  // namespace gocrate::cli
