#pragma once

#include <cstdint>
#include <string>

#include "gobuild/go_buildinfo.h"

namespace gocrate {

// An SPDX 2.3 JSON document describing a Go executable: its main module,
// every dependency module with a purl, and the Go standard library. The
// document depends only on its inputs (no clock, no random namespace), so
// reproducible images get reproducible SBOMs.
// `identity` (the Go build ID, or a content fingerprint) makes the document
// namespace unique to the executable.
std::string spdx_sbom(const GoBuildInfo& info, const std::string& identity, int64_t created_epoch);

}  // namespace gocrate
