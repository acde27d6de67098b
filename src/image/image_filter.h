#pragma once

// `images -f` as Docker reads it, and the sizes Docker's images prints.

#include <cstdint>
#include <ctime>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "util/filters.h"

namespace gocrate {

struct ImageFacts {
  std::string name;  // repository:tag as stored
  std::map<std::string, std::string> labels;
  time_t created = 0;
  bool dangling = false;  // no name
};

// The creation time of the image a before= or since= value names, or
// nullopt when the store has no such image.
using ImageCreatedOf = std::function<std::optional<time_t>(const std::string& ref)>;

class ImageFilter {
 public:
  // Refuses unknown keys, dangling= values other than true/false and
  // before=/since= images that do not exist.
  static ImageFilter parse(const std::vector<std::string>& flags, const ImageCreatedOf& created_of);
  bool matches(const ImageFacts& image) const;

 private:
  FilterArgs args_;
  std::optional<time_t> before_, since_;
};

// Docker's familiar name: "alpine:3" for docker.io/library/alpine:3.
std::string familiar_name(const std::string& name);

// Docker's units.HumanSizeWithPrecision: "7.5MB", "123kB", "1.23GB" (SI,
// `digits` significant digits: 3 in `images`, 4 in `system df`).
std::string docker_human_size(uint64_t bytes, int digits = 3);

}  // namespace gocrate
