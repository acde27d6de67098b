#pragma once

#include <string>
#include <vector>

namespace gocrate {

// How a container's root is assembled from cached layers. Overlayfs stacks
// them without copying; where it does not work (a kernel without it, a store
// on a file system it cannot use, such as overlayfs itself or NFS), each
// container gets a private copy of the layers merged in order instead: slower
// to start and using disk per container, but the same view.
enum class RootfsMethod { overlay, copy };

// Which method this store's file system allows, probed once by mounting a
// test overlay in a private mount namespace and remembered in
// <layers>/overlay-check. GOCRATE_ROOTFS=overlay|copy overrides the probe.
RootfsMethod rootfs_method(const std::string& layers_dir);

// Merges `lower_dirs` (topmost first, as overlay's lowerdir) into the empty
// directory `dest`, applying overlay whiteouts and opaque directories.
void copy_layers(const std::vector<std::string>& lower_dirs, const std::string& dest);

}  // namespace gocrate
