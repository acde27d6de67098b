#pragma once

#include <string_view>

namespace gocrate {

// How open_in_root() resolves a path inside its root.
enum class RootedResolve {
  // Symlinks resolved as if the root were "/"; magic links refused (a
  // container's root file system).
  in_root,
  // No symlinks or magic links at all, and no crossing into another mount
  // (writing an untrusted tree, such as a layer, into a directory).
  strict,
};

// openat2(2) of `path` relative to `root_fd`, never leaving it, with
// O_CLOEXEC added; -1 with errno set on failure.
int open_in_root(int root_fd, std::string_view path, int flags,
                 RootedResolve resolve = RootedResolve::in_root);

}  // namespace gocrate
