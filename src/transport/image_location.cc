#include "transport/image_location.h"

#include "image/media_types.h"
#include "store/oci_layout.h"
#include "transport/archive.h"
#include "transport/registry/pull.h"
#include "util/error.h"
#include "util/strings.h"

namespace gocrate {

namespace {

std::pair<std::string, std::string> split_path_and_name(std::string_view rest) {
  // The name follows the last ':' unless that ':' is part of the path itself.
  auto colon = rest.find(':');
  if (colon == std::string_view::npos) return {std::string(rest), ""};
  return {std::string(rest.substr(0, colon)), std::string(rest.substr(colon + 1))};
}

LocatedImage from_layout(std::string_view location, std::string_view rest) {
  auto [dir, tag] = split_path_and_name(rest);
  auto layout = std::make_shared<OciLayout>(dir, false);
  std::vector<std::string> names;
  std::optional<Descriptor> match;
  int unnamed_images = 0;
  for (const auto& d : layout->read_index().manifests) {
    auto it = d.annotations.find(std::string(annotation::ref_name));
    std::string name = it == d.annotations.end() ? "" : it->second;
    if (name.empty()) {
      if (d.artifact_type.empty()) ++unnamed_images;
      if (tag.empty() && d.artifact_type.empty()) match = d;
      continue;
    }
    names.push_back(name);
    if (name == tag || (tag.empty() && !match)) match = d;
  }
  bool ambiguous = tag.empty() && names.size() + unnamed_images > 1;
  if (!match || ambiguous) {
    fail("{}: {} — the layout has {}", location,
         ambiguous ? "name which image with :TAG" : fmt::format("no image tagged \"{}\"", tag),
         names.empty() ? "no tagged images" : "tags " + join(names, ", "));
  }
  Descriptor root = *match;
  root.annotations.clear();
  return {layout, layout.get(), root, std::string(location)};
}

LocatedImage from_archive(std::string_view location, std::string_view rest) {
  auto [file, name] = split_path_and_name(rest);
  auto archive = std::make_shared<ArchiveReader>(file);
  const auto& images = archive->images();
  if (images.empty()) fail("{} holds no image", file);
  if (name.empty()) {
    if (images.size() > 1) fail("{} holds {} images: name one with {}:NAME", file, images.size(), location);
    return {archive, archive.get(), images[0].root, std::string(location)};
  }
  std::string wanted = Store::canonical_name(name);
  for (const auto& image : images) {
    for (const auto& n : image.names) {
      if (n == wanted) return {archive, archive.get(), image.root, std::string(location)};
    }
  }
  fail("{} has no image named {}", file, name);
}

}  // namespace

LocatedImage locate_image(std::string_view location, Store& store, const RegistryOptions& registry) {
  for (std::string_view prefix : {"oci-layout:", "oci:"}) {
    if (location.starts_with(prefix)) return from_layout(location, location.substr(prefix.size()));
  }
  for (std::string_view prefix : {"docker-archive:", "oci-archive:"}) {
    if (location.starts_with(prefix)) return from_archive(location, location.substr(prefix.size()));
  }
  if (!location.starts_with("docker://")) {
    if (auto image = store.find(location)) return {nullptr, &store, image->descriptor, image->name};
  }
  if (names_registry(location)) {
    RemoteImage remote = open_remote_image(location, registry);
    return {remote.source, remote.source.get(), remote.root, remote.name};
  }
  NamedImage image = store.resolve(location);
  return {nullptr, &store, image.descriptor, image.name};
}

}  // namespace gocrate
