#include "image/image_filter.h"

#include "util/error.h"

namespace gocrate {

std::string familiar_name(const std::string& name) {
  for (std::string_view prefix : {"docker.io/library/", "index.docker.io/library/", "docker.io/"}) {
    if (name.starts_with(prefix)) return name.substr(prefix.size());
  }
  return name;
}

ImageFilter ImageFilter::parse(const std::vector<std::string>& flags, const ImageCreatedOf& created_of) {
  ImageFilter f;
  f.args_ = FilterArgs::parse(flags, {"reference", "label", "dangling", "before", "since"}, {"until"});
  for (const auto& d : f.args_.values("dangling")) {
    if (d != "true" && d != "false" && d != "1" && d != "0")
      fail("invalid filter 'dangling={}': use dangling=true or dangling=false", d);
  }
  auto time_of = [&](std::string_view key) -> std::optional<time_t> {
    std::optional<time_t> result;
    for (const auto& ref : f.args_.values(key)) {
      auto t = created_of(ref);
      if (!t) fail("invalid filter '{}={}': no such image: see `gocrate images`", key, ref);
      result = t;
    }
    return result;
  };
  f.before_ = time_of("before");
  f.since_ = time_of("since");
  return f;
}

bool ImageFilter::matches(const ImageFacts& image) const {
  std::string familiar = familiar_name(image.name);
  size_t slash = familiar.rfind('/');
  size_t colon = familiar.rfind(':');
  bool tagged = colon != std::string::npos && (slash == std::string::npos || colon > slash);
  std::string repository = tagged ? familiar.substr(0, colon) : familiar;
  if (size_t at = repository.find('@'); at != std::string::npos) repository.resize(at);
  return args_.any("reference",
                   [&](const std::string& p) {
                     return !image.dangling && (glob_match(p, familiar) || glob_match(p, repository));
                   }) &&
         args_.any("dangling",
                   [&](const std::string& d) { return image.dangling == (d == "true" || d == "1"); }) &&
         (!before_ || image.created < *before_) && (!since_ || image.created > *since_) &&
         args_.labels_match(image.labels);
}

std::string docker_human_size(uint64_t bytes, int digits) {
  const char* units[] = {"B", "kB", "MB", "GB", "TB", "PB", "EB"};
  double size = static_cast<double>(bytes);
  int unit = 0;
  while (size >= 1000 && unit < 6) {
    size /= 1000;
    ++unit;
  }
  // %.Ng, as Go's: at most N significant digits, no trailing zeros.
  return fmt::format("{:.{}g}{}", size, digits, units[unit]);
}

}  // namespace gocrate
