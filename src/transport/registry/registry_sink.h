#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "image/content.h"
#include "transport/registry/blob_upload.h"
#include "transport/registry/registry_client.h"
#include "transport/registry/transfer_display.h"

namespace gocrate {

struct RegistrySinkOptions {
  // Repositories of the same registry to mount blobs from (the first is tried).
  std::vector<std::string> mount_from;
  int64_t chunk_size = 64 << 20;
  TransferDisplay* display = nullptr;
};

// Writes images into one repository of a registry: blobs the repository has
// are skipped (found by HEAD, or by a POST that mounts from the repository
// itself and otherwise starts the upload), others mounted from a sibling
// repository or uploaded;
// manifests and indexes are pushed by digest, and tags are set on commit().
// Referrers (SBOM artifacts) are listed through the referrers API when the
// registry has it, else under the sha256-<subject> tag. Thread-safe.
class RegistrySink : public ImageSink {
 public:
  RegistrySink(std::shared_ptr<RegistryClient> client, std::string repository, RegistrySinkOptions options);

  bool has_blob(const Descriptor& descriptor) override;
  void put_blob(const Descriptor& descriptor, ByteReader& content) override;
  void put_blob(const Descriptor& descriptor, std::string_view content) override;
  void put_blob_from(const Descriptor& descriptor, const BlobOpener& open) override;
  // `name` is a tag or a reference whose tag is used.
  void add_name(const std::string& name, const Descriptor& root) override;
  // Pushes `root` straight under `tag` when copy_image puts it, instead of
  // by digest and then by tag: its children are all there by then, and the
  // registry keeps it by digest as well. Saves a request.
  void put_root_as(const std::string& tag, const Digest& root);
  void add_referrer(const Descriptor& referrer) override;
  void commit() override;
  std::string describe() const override;

  struct Counts {
    std::atomic<int> uploaded{0}, mounted{0}, skipped{0};
    std::atomic<int64_t> bytes_uploaded{0};
  };
  const Counts& counts() const { return counts_; }

 private:
  void put_manifest(const Descriptor& descriptor, std::string_view content, const std::string& reference);
  std::string manifest_content(const Descriptor& descriptor);
  void tag(const std::string& tag, const Descriptor& root);
  void list_referrer(const Descriptor& referrer);
  bool registry_has_referrers_api(const Digest& subject);
  std::string what(const Descriptor& descriptor) const;

  std::shared_ptr<RegistryClient> client_;
  std::string repository_;
  RegistrySinkOptions options_;
  Counts counts_;
  std::mutex mutex_;
  std::set<Digest> present_;
  std::map<Digest, std::string> manifests_;        // pushed in this session
  std::map<Digest, std::string> started_uploads_;  // by has_blob, for put_blob
  std::optional<bool> referrers_api_;
  std::string root_tag_;
  Digest root_digest_;
  bool root_tagged_ = false;
  std::vector<std::pair<std::string, Descriptor>> pending_tags_;
  std::vector<Descriptor> pending_referrers_;
};

}  // namespace gocrate
