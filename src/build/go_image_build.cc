#include "build/go_image_build.h"

#include <future>

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

}  // namespace

std::vector<GoImage> build_go_images(Store& store, const GoImageRequest& request, Progress& progress) {
  std::vector<Platform> platforms = resolve_platforms(request);
  TempDir scratch = store.make_temp_dir();

  std::vector<std::future<GoPackage>> listing;
  for (const auto& target : request.targets) {
    listing.push_back(
        std::async(std::launch::async, [&, target] { return go_list(target, request.working_dir); }));
  }
  std::vector<std::future<GoPackage>> with_listing;
  for (const auto& extra : request.with) {
    with_listing.push_back(
        std::async(std::launch::async, [&, extra] { return go_list(extra, request.working_dir); }));
  }
  std::vector<GoPackage> packages = collect(listing);
  std::vector<GoPackage> extras = collect(with_listing);

  std::vector<std::future<GoImage>> images;
  for (size_t t = 0; t < packages.size(); ++t) {
    images.push_back(std::async(std::launch::async, [&, t] {
      const GoPackage& package = packages[t];
      std::vector<const GoPackage*> image_packages{&package};
      for (const auto& extra : extras) image_packages.push_back(&extra);
      std::vector<size_t> lines;
      for (const auto& p : platforms) lines.push_back(progress.add(package.binary_name() + " " + p.str()));

      std::vector<std::future<PlatformExecutables>> compiled;
      for (size_t i = 0; i < platforms.size(); ++i) {
        compiled.push_back(std::async(std::launch::async, [&, i] {
          const Platform& platform = platforms[i];
          progress.set(lines[i], "compiling");
          std::string dir = fmt::format("{}/{}/{}", scratch.path(), t, platform_dir_name(platform));
          make_directories(dir);
          PlatformExecutables out{platform, {}};
          for (const GoPackage* p : image_packages) {
            std::string output = dir + "/" + p->binary_name();
            GoBuildOptions options = request.go;
            if (request.adjust_go_options) request.adjust_go_options(*p, options);
            go_build(*p, platform, options, output);
            out.executables.push_back({p->binary_name(), output, true});
          }
          progress.set(lines[i], "packing");
          return out;
        }));
      }
      std::vector<PlatformExecutables> executables = collect(compiled);

      ImageRecipe recipe = request.recipe;
      std::string kodata = package.dir + "/kodata";
      if (is_directory(kodata)) recipe.kodata_dir = kodata;
      GoImage image{package, assemble_image(store, recipe, executables), platforms};
      for (size_t i = 0; i < platforms.size(); ++i) {
        progress.set(lines[i], "done " + image.image.manifests[i].digest.str().substr(0, 19));
      }
      return image;
    }));
  }
  return collect(images);
}

}  // namespace gocrate
