#include "gobuild/go_image_build.h"

#include <algorithm>
#include <future>
#include <map>

#include "gobuild/git_info.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/strings.h"

namespace gocrate {

std::vector<Platform> resolve_platforms(const GoImageRequest& request) {
  if (request.all_platforms) {
    if (request.recipe.base.is_scratch()) return default_all_platforms();
    std::vector<Platform> out;
    for (const auto& p : request.recipe.base.platforms()) {
      if (is_go_platform(p)) out.push_back(p);
    }
    if (out.empty()) fail("base {} offers no platform Go can build for", request.recipe.base.name);
    return out;
  }
  if (request.platforms.empty()) return {Platform::host()};
  for (const auto& p : request.platforms) {
    if (!is_go_platform(p))
      fail("platform {} is not supported: use one of {}", p.str(), supported_platforms_text());
  }
  return request.platforms;
}

namespace {

// Waits for every future, then rethrows the first failure.
template <typename T>
std::vector<T> collect(std::vector<std::future<T>>& futures) {
  std::vector<T> results;
  std::exception_ptr first_error;
  for (auto& f : futures) {
    try {
      results.push_back(f.get());
    } catch (...) {
      if (!first_error) first_error = std::current_exception();
    }
  }
  if (first_error) std::rethrow_exception(first_error);
  return results;
}

std::string platform_dir_name(const Platform& p) {
  std::string name = p.str();
  for (char& c : name) {
    if (c == '/') c = '_';
  }
  return name;
}

// Packages compiled by one go command: the same options and build directory,
// distinct executable names.
struct CompileBatch {
  std::vector<const GoPackage*> packages;
  GoBuildOptions options;
  std::string key;
};

// One go command resolves every package it builds from one directory, so
// packages resolved from different ones are built apart.
std::string options_key(const GoBuildOptions& o, const GoPackage& package) {
  std::string key =
      fmt::format("{}|{}|{}|{}|{}|", o.cgo, o.strip, o.ldflags, package.build_dir, package.goroot);
  for (const auto& f : o.flags) key += f + "\x1f";
  for (const auto& [k, v] : o.env) key += k + "=" + v + "\x1f";
  return key;
}

std::vector<CompileBatch> plan_batches(const std::vector<const GoPackage*>& packages,
                                       const GoImageRequest& request) {
  std::vector<CompileBatch> batches;
  for (const GoPackage* package : packages) {
    GoBuildOptions options = request.go;
    if (request.adjust_go_options) request.adjust_go_options(*package, options);
    std::string key = options_key(options, *package);
    auto fits = [&](const CompileBatch& b) {
      if (b.key != key) return false;
      for (const GoPackage* other : b.packages) {
        if (other->binary_name() == package->binary_name()) return false;
      }
      return true;
    };
    auto batch = std::find_if(batches.begin(), batches.end(), fits);
    if (batch == batches.end()) {
      batches.push_back({{}, options, key});
      batch = batches.end() - 1;
    }
    batch->packages.push_back(package);
  }
  return batches;
}

// What the provenance of an image records of its entrypoint's build.
ProvenanceInputs provenance_inputs(const GoPackage& package, const GoBuildOptions& options) {
  ProvenanceInputs inputs;
  inputs.package = package.import_path;
  inputs.flags = go_build_arguments(options);
  inputs.env.push_back(std::string("CGO_ENABLED=") + (options.cgo ? "1" : "0"));
  for (const auto& [key, value] : options.env) inputs.env.push_back(key + "=" + value);
  inputs.git = read_git_info(package.dir);
  return inputs;
}

}  // namespace

std::vector<GoImage> build_go_images(Store& store, const GoImageRequest& request, Progress& progress) {
  std::vector<Platform> platforms = resolve_platforms(request);
  TempDir scratch = store.make_temp_dir();

  std::vector<std::string> all_targets = request.targets;
  all_targets.insert(all_targets.end(), request.with.begin(), request.with.end());
  std::vector<GoPackage> listed = go_list_many(all_targets, request.working_dir);
  std::vector<GoPackage> packages(listed.begin(), listed.begin() + request.targets.size());
  std::vector<GoPackage> extras(listed.begin() + request.targets.size(), listed.end());

  // Every package once, compiled for each platform by as few go commands as
  // possible, all platforms at once.
  std::vector<const GoPackage*> unique;
  for (const auto* list : {&packages, &extras}) {
    for (const auto& p : *list) {
      bool seen = std::any_of(unique.begin(), unique.end(),
                              [&](const GoPackage* u) { return u->import_path == p.import_path; });
      if (!seen) unique.push_back(&p);
    }
  }
  std::vector<CompileBatch> batches = plan_batches(unique, request);
  std::map<std::pair<std::string, std::string>, std::string> binary_of;  // (platform, import path) -> file
  for (const auto& platform : platforms) {
    for (size_t b = 0; b < batches.size(); ++b) {
      for (const GoPackage* p : batches[b].packages) {
        binary_of[{platform.str(), p->import_path}] =
            fmt::format("{}/{}/{}/{}", scratch.path(), platform_dir_name(platform), b, p->binary_name());
      }
    }
  }

  std::vector<std::vector<size_t>> lines(packages.size());
  for (size_t t = 0; t < packages.size(); ++t) {
    for (const auto& p : platforms)
      lines[t].push_back(progress.add(packages[t].binary_name() + " " + p.str()));
  }
  auto show = [&](size_t platform, const std::string& status) {
    for (auto& target_lines : lines) progress.set(target_lines[platform], status);
  };

  std::vector<std::future<int>> compiles;
  for (size_t i = 0; i < platforms.size(); ++i) {
    compiles.push_back(std::async(std::launch::async, [&, i] {
      show(i, "compiling");
      for (size_t b = 0; b < batches.size(); ++b) {
        std::string dir = fmt::format("{}/{}/{}", scratch.path(), platform_dir_name(platforms[i]), b);
        make_directories(dir);
        go_build_many(batches[b].packages, platforms[i], batches[b].options, dir);
      }
      show(i, "packing");
      return 0;
    }));
  }
  collect(compiles);

  std::vector<std::future<GoImage>> images;
  for (size_t t = 0; t < packages.size(); ++t) {
    images.push_back(std::async(std::launch::async, [&, t] {
      const GoPackage& package = packages[t];
      std::vector<PlatformExecutables> executables;
      for (const auto& platform : platforms) {
        PlatformExecutables out{platform, {}};
        out.executables.push_back(
            {package.binary_name(), binary_of.at({platform.str(), package.import_path}), true});
        for (const auto& extra : extras) {
          if (extra.import_path == package.import_path) continue;
          out.executables.push_back(
              {extra.binary_name(), binary_of.at({platform.str(), extra.import_path}), true});
        }
        executables.push_back(std::move(out));
      }
      ImageRecipe recipe = request.recipe;
      std::string kodata = package.dir + "/kodata";
      if (is_directory(kodata)) recipe.kodata_dir = kodata;
      for (const auto& batch : batches) {
        for (const GoPackage* p : batch.packages) {
          if (request.provenance && p->import_path == package.import_path)
            recipe.provenance = provenance_inputs(package, batch.options);
        }
      }
      GoImage image{package, assemble_image(store, recipe, executables), platforms};
      for (size_t i = 0; i < platforms.size(); ++i) {
        progress.set(lines[t][i], "done " + image.image.manifests[i].digest.str().substr(0, 19));
      }
      return image;
    }));
  }
  return collect(images);
}

}  // namespace gocrate
