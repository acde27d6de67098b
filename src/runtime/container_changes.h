#pragma once

#include <string>
#include <vector>

#include "layer/tar.h"

namespace gocrate {

// One line of `diff`: A (added), C (changed) or D (deleted), and the path in
// the container.
struct FileChange {
  char kind = 'C';
  std::string path;  // absolute
};

// What a container changed, as Docker lists it when it compares the
// container's tree with its image's (archive.ChangesDirs), computed from the
// overlay upper layer alone: an entry the image lacks is added (A, and all
// below it); one it has is changed (C) when its mode, owner or device differ
// or, for what is not a directory, its size or mtime; a whiteout, and what an
// opaque directory hides, is deleted (D); a directory with changes inside is
// changed, listed before them. Depth first, names sorted bytewise; the
// image's layers (`lower_dirs`, topmost first) are read stacked as overlay
// stacks them, every path opened without leaving its layer.
std::vector<FileChange> upper_layer_changes(const std::string& upper_dir,
                                            const std::vector<std::string>& lower_dirs);

// Writes the upper layer as an image layer: entries in the same order,
// whiteouts as OCI `.wh.NAME` entries and opaque directories followed by
// `.wh..wh..opq`, overlay's own attributes dropped, hardlinks within the
// layer as hardlink entries. Owners, modes and mtimes are kept, nothing else
// (no access or change times, no user names), so the same files always give
// the same bytes.
void write_upper_layer(const std::string& upper_dir, TarWriter& tar);

}  // namespace gocrate
