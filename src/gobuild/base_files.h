#pragma once

#include <string_view>

#include "gobuild/layer_contents.h"

namespace gocrate {

inline constexpr std::string_view kCaBundlePath = "/etc/ssl/certs/ca-certificates.crt";
inline constexpr uint32_t kNonrootId = 65532;

// What a Go program needs on an empty (scratch) base: a CA bundle for TLS,
// /etc/passwd and /etc/group with root and nonroot (65532), their home
// directories, nsswitch.conf so that the Go resolver reads /etc/hosts
// first, and a world-writable /tmp.
LayerContents scratch_base_files();

// The CA bundle gocrate was built with (Debian's ca-certificates, pinned in
// the source tree so that images are the same on every machine).
std::string_view embedded_ca_bundle();

}  // namespace gocrate
