#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "image/content.h"
#include "transport/registry/registry_client.h"

namespace gocrate {

struct BlobUploadOptions {
  // A repository of the same registry that may hold the blob: tried first
  // as a cross-repository mount (POST ...?mount=DIGEST&from=REPO).
  std::string mount_from;
  // An upload already started for this blob (see start_upload_or_find).
  std::string started_location;
  // Blobs up to this size go in one PUT; larger ones in PATCHes of it.
  int64_t chunk_size = 64 << 20;
  std::function<void(int64_t)> on_progress;  // bytes the registry has so far
};

enum class BlobUploadOutcome { uploaded, mounted };

// Asks for a blob and starts its upload in one request: POST with
// ?mount=DIGEST&from=REPOSITORY (the repository itself) answers 201 when the
// repository has the blob, else 202 with an upload location for upload_blob.
struct UploadProbe {
  enum class Result { present, started, unanswered } result;
  std::string location;  // when started
};
// `unanswered`: the registry refused the request; ask with HEAD instead.
UploadProbe start_upload_or_find(RegistryClient& client, const std::string& repository,
                                 const Descriptor& descriptor);

// Uploads one blob into `repository`. When a connection drops, the upload
// continues where the registry's Range header says it got to; when the
// registry lost the upload (it restarted, say), it starts over with the
// content opened anew. Fails with one line once retries are spent.
BlobUploadOutcome upload_blob(RegistryClient& client, const std::string& repository,
                              const Descriptor& descriptor, const ImageSink::BlobOpener& open,
                              const BlobUploadOptions& options);

}  // namespace gocrate
