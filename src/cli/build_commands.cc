#include <fmt/format.h>
#include <unistd.h>

#include <cstdlib>
#include <map>
#include <nlohmann/json.hpp>

#include "build/elf.h"
#include "build/git_info.h"
#include "build/go_image_build.h"
#include "build/layer_contents.h"
#include "cli/commands.h"
#include "image/config_options.h"
#include "image/reference.h"
#include "store/oci_layout.h"
#include "transport/archive.h"
#include "transport/image_location.h"
#include "transport/registry/push.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/strings.h"

namespace gocrate::cli {

namespace {

// Flags that build and pack share: what goes into the image and where it goes.
struct ImageFlags {
  std::string base = "scratch";
  std::string platform;
  std::vector<std::string> tags;
  std::vector<std::string> env, ports, labels, annotations, files;
  std::string user, workdir, app_dir = "/app";
  std::string sbom = "spdx";
  std::string compression = "gzip";
  std::string oci_layout, tarball;
  bool push = false;
  std::vector<std::string> insecure_registries;
  bool json = false;
  bool quiet = false;
};

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
  app.add_option("--compression", f.compression, "gzip, zstd or none, optionally :LEVEL")
      ->capture_default_str();
  app.add_option("--oci-layout", f.oci_layout, "Also write the image into this OCI layout directory");
  app.add_option("--tarball", f.tarball, "Also write the image into this tar (docker load / podman load)");
  app.add_flag("--push", f.push, "Push the images to the registries their names give");
  app.add_option("--insecure-registry", f.insecure_registries,
                 "Reach this registry HOST[:PORT] without TLS verification, or over plain HTTP (repeatable)");
  app.add_flag("--json", f.json, "Print the result as JSON");
  app.add_flag("-q,--quiet", f.quiet, "No progress display");
}

RegistryOptions registry_options(const ImageFlags& f) {
  RegistryOptions options = RegistryOptions::from_environment();
  for (const auto& host : f.insecure_registries) options.insecure_registries.push_back(host);
  return options;
}

// Fails before any work when --push is given for names without a registry.
void check_push_names(const ImageFlags& f) {
  if (!f.push) return;
  if (f.tags.empty() && !std::getenv("GOCRATE_DOCKER_REPO")) {
    fail("--push needs a registry: name the image with -t HOST[:PORT]/REPO[:TAG] or set GOCRATE_DOCKER_REPO");
  }
  for (const auto& tag : f.tags) {
    if (Reference::parse(tag).domain.empty()) {
      fail("--push cannot push {}: it names no registry; use -t HOST[:PORT]/REPO[:TAG]", tag);
    }
  }
}

// The name of an image built without -t: $GOCRATE_DOCKER_REPO/NAME when set.
std::string default_image_name(const std::string& name) {
  const char* repo = std::getenv("GOCRATE_DOCKER_REPO");
  if (!repo || !*repo) return Store::canonical_name(name);
  std::string prefix(repo);
  while (prefix.ends_with('/')) prefix.pop_back();
  return Store::canonical_name(prefix + "/" + name);
}

std::vector<Platform> parse_platform_list(const std::string& text) {
  std::vector<Platform> out;
  if (text.empty() || text == "all") return out;
  for (const auto& item : split(text, ',')) out.push_back(Platform::parse(item));
  return out;
}

// The recipe the flags describe. `base` keeps the base's source open.
ImageRecipe make_recipe(const ImageFlags& f, Store& store, LocatedImage& base) {
  ImageRecipe recipe;
  if (f.base != "scratch" && !f.base.empty()) {
    base = locate_image(f.base, store, registry_options(f));
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
  recipe.sbom = f.sbom == "spdx";
  recipe.compression = parse_compression(f.compression);
  recipe.epoch = source_date_epoch();
  return recipe;
}

struct Published {
  std::vector<std::string> names;
  BuiltImage image;
  std::vector<Platform> platforms;
};

// Records the names in the store and writes the requested extra outputs.
void publish(Store& store, const std::vector<Published>& results, const ImageFlags& f) {
  for (const auto& r : results) {
    for (const auto& name : r.names) store.add_name(name, r.image.root);
    for (const auto& sbom : r.image.sboms) store.add_referrer(sbom);
  }
  store.commit();

  // In a layout an image of one build is named by its tag alone (DIR:TAG).
  // Tools that cannot pick a platform from an index (umoci 0.4) also find
  // each platform's manifest as TAG-OS-ARCH[-VARIANT].
  auto write_to = [&](ImageSink& sink, bool is_layout) {
    for (const auto& r : results) {
      copy_image(store, r.image.root, sink);
      for (const auto& sbom : r.image.sboms) {
        copy_image(store, sbom, sink);
        sink.add_referrer(sbom);
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
    PushOptions options;
    options.registry = registry_options(f);
    options.show_progress = !f.quiet && !f.json;
    for (const auto& r : results) {
      for (const auto& name : r.names) push_image(store, NamedImage{name, r.image.root}, name, options);
    }
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
    images.push_back({{"names", r.names},
                      {"digest", r.image.root.digest.str()},
                      {"mediaType", r.image.root.media_type},
                      {"platforms", platforms},
                      {"sboms", sboms}});
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

}  // namespace

int build_command(Globals& globals, int argc, char** argv) {
  CLI::App app{
      "Build Go main packages into OCI images. Several targets give several images, built in parallel.",
      "build"};
  ImageFlags flags;
  GoImageRequest request;
  std::string ldflags;
  bool no_strip = false;
  add_global_options(app, globals);
  add_image_flags(app, flags);
  app.add_option("targets", request.targets, "Directories or import paths (default: .)");
  app.add_option("--with", request.with, "Another main package to put into every image (repeatable)");
  app.add_option("--ldflags", request.go.ldflags, "Extra flags for the Go linker");
  app.add_option("--build-flag", request.go.flags, "A flag passed to go build as it is (repeatable)");
  app.add_flag("--cgo", request.go.cgo, "Build with CGO_ENABLED=1");
  app.add_flag("--no-strip", no_strip, "Keep the symbol table and DWARF (no -s -w)");
  parse_command_line(app, argc, argv);
  request.go.strip = !no_strip;
  if (request.targets.empty()) request.targets.push_back(".");
  if (!flags.tags.empty() && request.targets.size() > 1) {
    fail("-t names one image, but {} targets were given: build them one at a time to name them",
         request.targets.size());
  }

  check_push_names(flags);
  Store store = open_store(globals);
  store.remove_stale_ingests();
  LocatedImage base;
  request.recipe = make_recipe(flags, store, base);
  request.working_dir = current_dir();
  request.all_platforms = flags.platform == "all";
  request.platforms = parse_platform_list(flags.platform);
  add_git_annotations(request.recipe, request.working_dir);

  Progress progress(!flags.quiet && !flags.json && Progress::stderr_is_terminal());
  FileLock lease = store.lease();
  std::vector<Published> results;
  for (auto& built : build_go_images(store, request, progress)) {
    std::vector<std::string> names =
        flags.tags.empty() ? std::vector<std::string>{default_image_name(built.package.binary_name())}
                           : canonical_names(flags.tags);
    results.push_back({names, built.image, built.platforms});
  }
  progress.finish();
  publish(store, results, flags);
  print_results(results, flags.json);
  return 0;
}

int pack_command(Globals& globals, int argc, char** argv) {
  CLI::App app{
      "Pack static Linux executables (Go, Rust, C, Zig, ...) into an image. Executables for several "
      "architectures give a multi-platform image; the first of each is the entrypoint.",
      "pack"};
  ImageFlags flags;
  std::vector<std::string> binaries;
  add_global_options(app, globals);
  add_image_flags(app, flags);
  app.add_option("binaries", binaries, "Executables to pack")->required();
  parse_command_line(app, argc, argv);
  check_push_names(flags);

  Store store = open_store(globals);
  LocatedImage base;
  ImageRecipe recipe = make_recipe(flags, store, base);
  std::vector<Platform> forced = parse_platform_list(flags.platform);
  if (forced.size() > 1)
    fail("--platform for pack names one platform; the executables' own decide otherwise");

  std::vector<PlatformExecutables> groups;
  for (const auto& path : binaries) {
    MappedFile file(path);
    ElfInfo elf = inspect_elf(file.data(), path);
    if (!elf.is_static() && recipe.base.is_scratch()) {
      fail(
          "{} is dynamically linked: it needs the interpreter {}, which scratch does not have; link it "
          "statically or give a --base that provides it",
          path, elf.interpreter.empty() ? join(elf.needed, ", ") : elf.interpreter);
    }
    Platform platform = forced.empty() ? elf.platform : forced.front();
    auto group = std::find_if(groups.begin(), groups.end(),
                              [&](const PlatformExecutables& g) { return g.platform == platform; });
    if (group == groups.end()) {
      groups.push_back({platform, {}});
      group = groups.end() - 1;
    }
    group->executables.push_back({base_name(path), absolute_path(path)});
  }

  std::vector<std::string> names =
      flags.tags.empty() ? std::vector<std::string>{default_image_name(base_name(binaries.front()))}
                         : canonical_names(flags.tags);
  FileLock lease = store.lease();
  BuiltImage image = assemble_image(store, recipe, groups);
  std::vector<Platform> platforms;
  for (const auto& g : groups) platforms.push_back(g.platform);
  std::vector<Published> results{{names, image, platforms}};
  publish(store, results, flags);
  print_results(results, flags.json);
  return 0;
}

}  // namespace gocrate::cli
