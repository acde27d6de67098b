#pragma once

#include <string>
#include <vector>

#include "image/content.h"
#include "runtime/container_lifecycle.h"
#include "util/fs.h"

namespace gocrate {

// The layers a container's root is made of.
struct ContainerLayers {
  std::string layers_dir;               // <store>/layers
  std::vector<std::string> lower_dirs;  // the image's layers, topmost first, the runtime base last
  // containers/<id>/upper; empty for a container that keeps its changes on a
  // tmpfs (--rm) or in a private copy (the overlay fallback).
  std::string upper_dir;
  std::string work_dir;
  PlatformImage image;  // the platform image the container was made from
};

// Reads the container's image from the store (unpacking layers that were
// pruned from the layer cache) and finds its upper layer.
ContainerLayers container_layers(const std::string& store_root, const ContainerState& state);

// A container's files, for cp, export and commit. fd() is its root as
// open_in_root() takes it.
class ContainerRootfs {
 public:
  enum class View {
    // What the container sees: a running container's own root through
    // /proc/PID/root (its volumes too); a stopped one's layers mounted with
    // its upper layer as the writable one (the container is kept from
    // starting meanwhile).
    live,
    // Only the layers, read-only, the upper one on top (export): never the
    // volumes, /proc or /dev of a running container.
    layers,
  };
  // The mounts it needs are made in a private mount namespace of this
  // process, which it enters the first time; they vanish with the process.
  static ContainerRootfs open(const std::string& store_root, const ContainerView& container, View view);

  int fd() const { return root_.get(); }
  const std::string& what() const { return what_; }

 private:
  ContainerRootfs() = default;
  UniqueFd root_;
  UniqueFd lock_;
  std::string what_;
};

}  // namespace gocrate
