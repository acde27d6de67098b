#pragma once

#include <string>
#include <string_view>

#include "util/byte_reader.h"

namespace gocrate {

// Unpacks one image layer (an uncompressed tar stream) into the empty
// directory `root_fd`, in the form overlayfs stacks: an image-spec whiteout
// `.wh.NAME` becomes a 0:0 character device NAME, and `.wh..wh..opq` marks its
// directory with trusted.overlay.opaque=y. A device node entry (debootstrap
// and `docker import` layers carry /dev/null, /dev/full, ...) is never
// created, nor a hardlink to one: the container's /dev is made by the
// runtime.
//
// Every path is resolved relative to `root_fd` and never through a symlink,
// so a layer cannot write outside the root. Refused, with an error naming
// `layer` and the entry: absolute names, `..` components, writing through a
// symlink, hardlinks whose target is outside the root or missing, malformed
// whiteouts and overlay xattrs.
void extract_layer(ByteReader& tar, int root_fd, std::string_view layer);

}  // namespace gocrate
