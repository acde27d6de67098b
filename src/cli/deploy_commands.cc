#include <dirent.h>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "cli/commands.h"
#include "cli/image_flags.h"
#include "deploy/kubernetes_manifest.h"
#include "deploy/yaml_references.h"
#include "image/media_types.h"
#include "image/reference.h"
#include "measure/engines.h"
#include "unpack/layer_cache.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/process.h"
#include "util/sha256.h"
#include "util/strings.h"

namespace gocrate::cli {

namespace {

bool is_manifest_file(const std::string& name) {
  return name.ends_with(".yaml") || name.ends_with(".yml") || name.ends_with(".json");
}

void collect_files(const std::string& dir, bool recursive, std::vector<std::string>& files) {
  DIR* d = ::opendir(dir.c_str());
  if (!d) fail_errno(fmt::format("cannot read directory {}", dir));
  std::vector<std::string> names;
  while (dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name != "." && name != "..") names.push_back(name);
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());
  for (const auto& name : names) {
    std::string path = dir + "/" + name;
    if (is_directory(path)) {
      if (recursive) collect_files(path, recursive, files);
    } else if (is_manifest_file(name)) {
      files.push_back(path);
    }
  }
}

// The YAML streams -f names: files, directories (their .yaml, .yml and
// .json files; with -R, those of subdirectories too) and - for stdin.
std::vector<YamlSource> read_sources(const std::vector<std::string>& inputs, bool recursive) {
  std::vector<YamlSource> sources;
  for (const auto& input : inputs) {
    if (input == "-") {
      sources.push_back({"-", read_fd(STDIN_FILENO)});
    } else if (is_directory(input)) {
      std::vector<std::string> files;
      collect_files(input, recursive, files);
      for (const auto& file : files) sources.push_back({file, read_file(file)});
    } else {
      if (!path_exists(input)) fail("{} does not exist: give -f a YAML file, a directory or -", input);
      sources.push_back({input, read_file(input)});
    }
  }
  return sources;
}

// Repository names for built images: REPOSITORY/BINARY, with a short hash of
// the import path when two packages share a binary name.
std::vector<std::string> repository_names(const std::vector<GoImage>& images, const std::string& repository) {
  std::map<std::string, int> uses;
  for (const auto& image : images) ++uses[image.package.binary_name()];
  std::vector<std::string> names;
  for (const auto& image : images) {
    std::string name = image.package.binary_name();
    if (uses[name] > 1) name += "-" + sha256_hex(image.package.import_path).substr(0, 8);
    names.push_back(Store::canonical_name(repository + "/" + name));
  }
  return names;
}

struct ResolveFlags {
  std::vector<std::string> files;
  bool recursive = false;
  ImageFlags image;
};

void add_resolve_flags(CLI::App& app, ResolveFlags& f) {
  app.add_option("-f,--filename", f.files, "YAML file, directory, or - for standard input (repeatable)")
      ->required();
  app.add_flag("-R,--recursive", f.recursive, "Also read the directories inside the -f directories");
  add_image_flags(app, f.image);
}

// Builds the import paths once each, pushes the images, and returns
// import path -> REPOSITORY/NAME@DIGEST. `app` tells which flags were given.
std::map<std::string, std::string> build_and_push(Globals& globals, const CLI::App& app,
                                                  ImageFlags& image_flags,
                                                  const std::set<std::string>& paths) {
  std::string working_dir = current_dir();
  ProjectConfig config = load_project_config(working_dir);
  GoImageRequest request;
  request.working_dir = working_dir;
  apply_project_config(config, app, image_flags, &request);
  if (image_flags.repository.empty()) {
    fail(
        "no repository to push to: set GOCRATE_DOCKER_REPO (or repository: in .gocrate.yaml), e.g. "
        "GOCRATE_DOCKER_REPO=localhost:5000/team");
  }
  std::map<std::string, std::string> resolved;
  if (paths.empty()) return resolved;
  request.targets.assign(paths.begin(), paths.end());
  Store store = open_store(globals);
  store.remove_stale_ingests();
  LocatedImage base;
  prepare_go_build(image_flags, store, base, request);
  Progress progress(!image_flags.quiet && Progress::stderr_is_terminal());
  std::vector<GoImage> images;
  {
    FileLock lease = store.lease();
    images = build_go_images(store, request, progress);
  }
  progress.finish();
  std::vector<std::string> names = repository_names(images, image_flags.repository);
  std::vector<Published> published;
  for (size_t i = 0; i < images.size(); ++i)
    published.push_back({{names[i]}, images[i].image, images[i].platforms});
  ImageFlags push_flags = image_flags;
  push_flags.push = true;
  push_flags.quiet = true;
  publish(store, published, push_flags);
  for (size_t i = 0; i < images.size(); ++i) {
    resolved[request.targets[i]] =
        Reference::parse(names[i]).name() + "@" + images[i].image.root.digest.str();
  }
  return resolved;
}

// The streams with every reference replaced by what it was built and pushed as.
std::string resolve_sources(Globals& globals, const CLI::App& app, ResolveFlags& f) {
  std::vector<YamlSource> sources = read_sources(f.files, f.recursive);
  std::set<std::string> paths;
  for (const auto& source : sources) {
    for (const auto& path : find_image_references(source)) paths.insert(path);
  }
  std::map<std::string, std::string> resolved = build_and_push(globals, app, f.image, paths);
  std::string out;
  for (const auto& source : sources) {
    std::string text = replace_image_references(source, resolved);
    if (!out.empty()) {
      if (!out.ends_with('\n')) out += '\n';
      if (!text.starts_with("---")) out += "---\n";
    }
    out += text;
  }
  return out;
}

// Runs kubectl with the input on stdin; its output and errors go straight
// through, and its exit code becomes ours.
int run_kubectl(std::vector<std::string> args, const std::optional<std::string>& input) {
  if (!find_executable("kubectl")) {
    fail("kubectl was not found in PATH: install it (Debian's kubernetes-client package) or add it to PATH");
  }
  args.insert(args.begin(), "kubectl");
  ProcessOptions options;
  options.capture_stdout = false;
  options.capture_stderr = false;
  options.stdin_data = input;
  auto result = run_process(args, options);
  if (result.exit_code != 0) {
    throw Error(
        fmt::format("kubectl {} failed with exit code {} (its message is above)", args[1], result.exit_code),
        result.exit_code);
  }
  return 0;
}

int resolve_then_kubectl(Globals& globals, int argc, char** argv, const char* verb) {
  CLI::App app{fmt::format("Resolve gocrate:// and ko:// references, then kubectl {} the result. Arguments "
                           "after -- go to kubectl.",
                           verb),
               verb};
  ResolveFlags flags;
  std::vector<std::string> kubectl_args = take_arguments_after_double_dash(argc, argv);
  add_global_options(app, globals);
  add_resolve_flags(app, flags);
  parse_command_line(app, argc, argv);
  std::string resolved = resolve_sources(globals, app, flags);
  std::vector<std::string> args{verb, "-f", "-"};
  args.insert(args.end(), kubectl_args.begin(), kubectl_args.end());
  return run_kubectl(args, resolved);
}

}  // namespace

int resolve_command(Globals& globals, int argc, char** argv) {
  CLI::App app{
      "Build every gocrate:// and ko:// reference in Kubernetes YAML once, push it to the default "
      "repository and print the YAML with REPOSITORY/NAME@DIGEST in its place",
      "resolve"};
  ResolveFlags flags;
  add_global_options(app, globals);
  add_resolve_flags(app, flags);
  parse_command_line(app, argc, argv);
  std::string out = resolve_sources(globals, app, flags);
  fwrite(out.data(), 1, out.size(), stdout);
  return 0;
}

int apply_command(Globals& globals, int argc, char** argv) {
  return resolve_then_kubectl(globals, argc, argv, "apply");
}

int kubectl_create_command(Globals& globals, int argc, char** argv) {
  return resolve_then_kubectl(globals, argc, argv, "create");
}

int delete_command(Globals& globals, int argc, char** argv) {
  CLI::App app{
      "kubectl delete the resources in the files (nothing is built). Arguments after -- go to kubectl.",
      "delete"};
  std::vector<std::string> files;
  std::vector<std::string> kubectl_args = take_arguments_after_double_dash(argc, argv);
  add_global_options(app, globals);
  app.add_option("-f,--filename", files, "YAML file or directory (repeatable)")->required();
  parse_command_line(app, argc, argv);
  std::vector<std::string> args{"delete"};
  for (const auto& file : files) {
    args.push_back("-f");
    args.push_back(file);
  }
  args.insert(args.end(), kubectl_args.begin(), kubectl_args.end());
  return run_kubectl(args, std::nullopt);
}

int manifest_command(Globals& globals, int argc, char** argv) {
  CLI::App app{
      "Print a Deployment, a Service and a HorizontalPodAutoscaler for an image (or gocrate://IMPORTPATH, "
      "built and pushed first), with resource requests and limits from `gocrate measure`",
      "manifest"};
  std::string target, name, probe_path;
  int replicas = 2, max_replicas = 10;
  std::optional<int> port;
  ImageFlags image_flags;
  add_global_options(app, globals);
  app.add_option("image", target, "An image in the store, or gocrate://IMPORTPATH / ko://IMPORTPATH")
      ->required();
  app.add_option("--name", name, "Name of the resources (default: from the image)");
  app.add_option("--replicas", replicas, "Replicas, and the autoscaler's minimum")->capture_default_str();
  app.add_option("--max-replicas", max_replicas, "The autoscaler's maximum")->capture_default_str();
  app.add_option("--port", port, "Container port (default: the image's first exposed TCP port)");
  app.add_option("--probe-path", probe_path, "HTTP path for the probes (default: a TCP check)");
  app.add_option("--insecure-registry", image_flags.insecure_registries, "See build --insecure-registry");
  parse_command_line(app, argc, argv);
  if (replicas < 1 || max_replicas < replicas) {
    fail("invalid --replicas {} / --max-replicas {}: need 1 <= replicas <= max", replicas, max_replicas);
  }

  std::string image_ref, local;
  if (std::string path = import_path_of_reference(target); !path.empty()) {
    // Built and pushed as resolve does it; the store's copy is what gets measured.
    image_ref = build_and_push(globals, app, image_flags, {path}).at(path);
    local = image_ref;
  } else {
    Store store = open_store(globals);
    NamedImage named = store.resolve(target);
    local = named.name;
    auto ref = Reference::try_parse(named.name);
    image_ref = ref && !ref->domain.empty() ? ref->name() + "@" + named.descriptor.digest.str() : named.name;
  }

  if (std::string warning = unpullable_image_warning(image_ref); !warning.empty())
    fmt::print(stderr, "gocrate: warning: {}\n", warning);

  Store store = open_store(globals);
  NamedImage named = store.resolve(local);
  PlatformImage image = load_platform_image(store, named.descriptor, std::nullopt, local);
  if (!port) {
    for (const auto& exposed : image.config.config.exposed_ports) {
      if (exposed.ends_with("/tcp")) {
        port = std::stoi(exposed);
        break;
      }
    }
  }
  PodUser user = pod_user_for(image.config.config.user, std::nullopt, std::nullopt);
  // Names (and a uid's primary group) come from the image's own files.
  if (!image.config.config.user.empty() && (!user.uid || !user.gid || !user.warning.empty())) {
    FileLock lease = store.lease();
    LayerCache cache(store.dir() + "/layers");
    std::vector<std::string> layers =
        image_lower_dirs(cache, store, image.manifest.layers, image.config.diff_ids, local);
    user = pod_user_for(image.config.config.user, read_file_in_layers(layers, "/etc/passwd", local),
                        read_file_in_layers(layers, "/etc/group", local));
  }
  if (!user.warning.empty()) fmt::print(stderr, "gocrate: warning: {}\n", user.warning);
  auto measured = load_measurement(store, image.descriptor.digest.str());
  if (!measured) {
    // Without a port to wait for, a server would run until the timeout.
    if (!port) {
      fail(
          "{} exposes no TCP port, so manifest cannot tell when it is ready to measure and probe it: give "
          "--port PORT (the port it listens on); for a program that is not a server, measure it first with "
          "`gocrate measure {}`",
          local, local);
    }
    if (::geteuid() != 0) fail("{} has not been measured: run `sudo gocrate measure {}` first", local, local);
    MeasureRequest request;
    request.image = local;
    request.runs = 3;
    request.gocrate_binary = gocrate_executable();
    request.ready = fmt::format("tcp://127.0.0.1:{}", *port);
    measure_image(store, request);
    measured = load_measurement(store, image.descriptor.digest.str());
  }
  WorkloadSpec spec;
  spec.name = name.empty() ? workload_name_for(local) : name;
  spec.image = image_ref;
  spec.replicas = replicas;
  spec.max_replicas = max_replicas;
  spec.port = port;
  spec.probe_path = probe_path;
  spec.user = user;
  spec.resources = resources_from_measurement(measured->peak_memory_bytes, measured->peak_cpu_cores);
  fmt::print("{}", kubernetes_manifest(spec));
  return 0;
}

}  // namespace gocrate::cli
