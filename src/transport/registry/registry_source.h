#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "image/content.h"
#include "transport/registry/registry_client.h"
#include "transport/registry/transfer_display.h"

namespace gocrate {

// The Accept header for manifests: OCI and Docker schema 2, single and lists.
extern const char* const kManifestAccept;

// Reads images from one repository of a registry. Every blob is checked
// against its digest and size as it streams; a dropped download resumes
// with a Range request. Thread-safe.
class RegistrySource : public BlobSource {
 public:
  // With authorize, the client's requests are scoped to pulling `repository`.
  RegistrySource(std::shared_ptr<RegistryClient> client, std::string repository, bool authorize = true);

  // The root descriptor a tag or digest names; its content is kept for
  // read_blob. `image_name` is for messages.
  Descriptor resolve(const std::string& tag_or_digest, const std::string& image_name);

  // The artifacts (SBOMs, signatures) whose subject is `subject`: from the
  // referrers API, else from the sha256-<digest> tag that stands in for it.
  std::vector<Descriptor> referrers(const Digest& subject);

  std::string read_blob(const Descriptor& descriptor) override;
  std::unique_ptr<ByteReader> open_blob(const Descriptor& descriptor) override;
  std::string describe() const override;

  void set_display(TransferDisplay* display) { display_ = display; }
  RegistryClient& client() { return *client_; }
  const std::string& repository() const { return repository_; }

 private:
  std::string fetch_manifest(const std::string& tag_or_digest, std::string& media_type,
                             const std::string& what);

  std::shared_ptr<RegistryClient> client_;
  std::string repository_;
  TransferDisplay* display_ = nullptr;
  std::mutex mutex_;
  std::map<Digest, std::string> manifests_;
  std::optional<bool> referrers_api_;
};

}  // namespace gocrate
