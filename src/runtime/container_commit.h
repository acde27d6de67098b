#pragma once

#include <string>
#include <vector>

#include "image/config.h"
#include "image/digest.h"
#include "image/manifest.h"
#include "layer/compress.h"
#include "runtime/container_lifecycle.h"

namespace gocrate {

struct CommitOptions {
  std::string name;     // REPO[:TAG]; empty: the image is kept without a name
  std::string message;  // -m: the history entry's comment
  std::string author;   // -a
  // -c: Dockerfile instructions applied to the config (CMD, ENTRYPOINT, ENV,
  // EXPOSE, LABEL, USER, VOLUME, WORKDIR, STOPSIGNAL).
  std::vector<std::string> changes;
  bool pause = true;  // freeze a running container while its layer is read
  CompressionSettings compression;
};

struct CommitResult {
  Descriptor manifest;
  Digest config;  // the image id Docker prints
};

// The container's upper layer as a new layer on top of its image's, the
// image's config with the container's command and `options.changes`,
// written to the store (and named). The layer's bytes depend only on the
// files; the config's creation time is SOURCE_DATE_EPOCH when set, else now.
// Records a container "commit" event.
CommitResult commit_container(const std::string& store_root, const ContainerView& container,
                              const CommitOptions& options);

// Applies one Dockerfile instruction of `commit -c`/`--change` to `config`.
void apply_config_change(RunConfig& config, const std::string& change);

}  // namespace gocrate
