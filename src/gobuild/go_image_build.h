#pragma once

#include <functional>
#include <string>
#include <vector>

#include "gobuild/go_toolchain.h"
#include "gobuild/image_builder.h"
#include "util/progress.h"

namespace gocrate {

struct GoImageRequest {
  std::vector<std::string> targets;  // directories or import paths
  std::string working_dir;
  std::vector<Platform> platforms;  // empty: the host's
  bool all_platforms = false;       // every platform the base offers
  std::vector<std::string> with;    // more main packages in every image
  GoBuildOptions go;
  // Adjusts the Go options for one package (from the project configuration).
  std::function<void(const GoPackage&, GoBuildOptions&)> adjust_go_options;
  ImageRecipe recipe;      // kodata_dir is filled in per target
  bool provenance = true;  // record SLSA provenance of each image's entrypoint
};

struct GoImage {
  GoPackage package;
  BuiltImage image;
  std::vector<Platform> platforms;
};

// The platforms a request means: the list given (each checked to be one Go
// can build for), all the base offers, or the host's.
std::vector<Platform> resolve_platforms(const GoImageRequest& request);

// Builds every target into an image in the store: packages resolved in
// parallel, each platform compiled in parallel, then packed. Compiler errors
// of all platforms are shown before the first is thrown.
std::vector<GoImage> build_go_images(Store& store, const GoImageRequest& request, Progress& progress);

}  // namespace gocrate
