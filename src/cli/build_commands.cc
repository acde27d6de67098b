#include <fmt/format.h>
#include <unistd.h>

#include <cstdlib>
#include <map>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/image_flags.h"
#include "gobuild/elf.h"
#include "gobuild/git_info.h"
#include "gobuild/go_image_build.h"
#include "gobuild/layer_contents.h"
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
  request.working_dir = current_dir();
  ProjectConfig config = load_project_config(request.working_dir);
  apply_project_config(config, app, flags, &request);
  if (request.targets.empty()) request.targets.push_back(".");
  if (!flags.tags.empty() && request.targets.size() > 1) {
    fail("-t names one image, but {} targets were given: build them one at a time to name them",
         request.targets.size());
  }

  check_push_names(flags);
  std::optional<PrivateKey> key = signing_key(flags);
  Store store = open_store(globals);
  store.remove_stale_ingests();
  LocatedImage base;
  prepare_go_build(flags, store, base, request);

  Progress progress(!flags.quiet && !flags.json && Progress::stderr_is_terminal());
  FileLock lease = store.lease();
  std::vector<Published> results;
  for (auto& built : build_go_images(store, request, progress)) {
    std::vector<std::string> names =
        flags.tags.empty()
            ? std::vector<std::string>{default_image_name(built.package.binary_name(), flags.repository)}
            : canonical_names(flags.tags);
    results.push_back({names, built.image, built.platforms});
  }
  progress.finish();
  publish(store, results, flags);
  if (key) sign_published(store, results, flags, *key);
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
  apply_project_config(load_project_config(current_dir()), app, flags, nullptr);
  check_push_names(flags);
  std::optional<PrivateKey> key = signing_key(flags);

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
      flags.tags.empty()
          ? std::vector<std::string>{default_image_name(base_name(binaries.front()), flags.repository)}
          : canonical_names(flags.tags);
  FileLock lease = store.lease();
  BuiltImage image = assemble_image(store, recipe, groups);
  std::vector<Platform> platforms;
  for (const auto& g : groups) platforms.push_back(g.platform);
  std::vector<Published> results{{names, image, platforms}};
  publish(store, results, flags);
  if (key) sign_published(store, results, flags, *key);
  print_results(results, flags.json);
  return 0;
}

}  // namespace gocrate::cli
