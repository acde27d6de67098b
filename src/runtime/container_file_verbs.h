#pragma once

#include <string>
#include <vector>

#include "runtime/container_changes.h"

namespace gocrate {

// One side of `cp`, split as Docker splits it: an absolute path, a path
// whose first component starts with '.', or anything without ':' is on the
// host; else CONTAINER:PATH (PATH relative to the container's root). "-" is
// a tar stream on standard input or output.
struct CpLocation {
  std::string container;  // empty: the host
  std::string path;
  bool stream = false;
};
CpLocation parse_cp_location(const std::string& arg);

struct CpOptions {
  // -a: into a container, owned by its user (when it has one) instead of
  // as on the host; out of one, -a changes nothing (the caller owns the
  // copy), as with Docker 20.10.
  bool archive = false;
  bool follow_link = false;  // -L: follow a symlink named as the source
};

// `cp SRC DEST` (one side a container): through a running container's own
// root, or a stopped one's layers; every container path resolved inside its
// root. `stdin_fd` and `stdout_fd` serve "-".
void copy_files(const std::string& store_root, const std::string& source, const std::string& dest,
                const CpOptions& options, int stdin_fd, int stdout_fd);

// `diff`: the container's changes to its image, as Docker lists them.
std::vector<FileChange> container_diff(const std::string& store_root, const std::string& ref);

// `export`: the container's root file system (its layers, not its volumes)
// as one tar, to `output` (replaced once complete) or, when empty, to
// `stdout_fd`.
void export_container(const std::string& store_root, const std::string& ref, const std::string& output,
                      int stdout_fd);

}  // namespace gocrate
