#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "image/content.h"
#include "image/manifest.h"
#include "util/fs.h"

namespace gocrate {

// Writes one blob into a layout: content goes to a temporary file in the
// layout's ingest directory, held (util/fs.h) through `fd` until the writer
// is destroyed, and appears under blobs/ only on commit(), after
// an fsync, under the digest it was checked to have. A writer destroyed
// before commit() leaves nothing behind. The blobs directory itself is synced
// once per index.json update, before any name can lead to the new blobs.
class BlobWriter {
 public:
  BlobWriter(std::string blobs_dir, std::string temp_path, UniqueFd fd, std::string where);
  BlobWriter(BlobWriter&&) = default;
  ~BlobWriter();
  void write(std::string_view data);
  // Verifies digest and size when expected ones are given.
  Descriptor commit(std::string media_type, const std::optional<Digest>& expected_digest = std::nullopt,
                    std::optional<int64_t> expected_size = std::nullopt);

 private:
  void flush();
  void write_out(std::string_view data);
  std::string blobs_dir_;
  std::string temp_path_;
  UniqueFd fd_;
  std::string where_;
  std::string buffer_;
  Sha256 hash_;
  int64_t size_ = 0;
  off_t written_ = 0;
  bool committed_ = false;
};

// A directory in the OCI image layout: oci-layout, index.json, blobs/sha256.
// Blob writes are atomic; index.json changes are atomic and serialised by a
// lock file, so several processes can write one layout at once.
class OciLayout : public BlobSource, public ImageSink {
 public:
  // Opens `dir`; with create, makes it a layout if it is empty or missing.
  // A directory that exists but is not a layout is refused.
  OciLayout(std::string dir, bool create);

  const std::string& dir() const { return dir_; }
  std::string blob_path(const Digest& digest) const;
  bool has_blob(const Digest& digest) const;
  BlobWriter begin_blob();
  Descriptor write_blob(std::string_view data, std::string media_type);

  Index read_index() const;
  // Applies `change` to index.json under the layout's lock and writes the
  // result atomically.
  void update_index(const std::function<void(Index&)>& change);

  // BlobSource
  std::string read_blob(const Descriptor& descriptor) override;
  std::unique_ptr<ByteReader> open_blob(const Descriptor& descriptor) override;
  std::string describe() const override;

  // ImageSink: names are recorded as org.opencontainers.image.ref.name; a
  // name given again moves to the new image.
  bool has_blob(const Descriptor& descriptor) override { return has_blob(descriptor.digest); }
  void put_blob(const Descriptor& descriptor, ByteReader& content) override;
  using ImageSink::put_blob;
  void add_name(const std::string& name, const Descriptor& root) override;
  void add_referrer(const Descriptor& referrer) override;
  void commit() override;

  // A scratch directory inside the layout (same file system, removed with
  // the object), held for the object's lifetime so that
  // remove_stale_ingests() clears it only once its process is gone.
  TempDir make_temp_dir() const;

  // Removes the temporary files and directories of writers that are gone
  // (killed, or crashed): those nobody holds (util/fs.h), whatever became
  // of their process ids.
  void remove_stale_ingests() const;

 protected:
  [[noreturn]] void corrupt_blob(const Digest& digest, std::string_view why) const;
  std::string dir_;
  std::string label_;

 private:
  std::vector<std::pair<std::string, Descriptor>> pending_names_;
  std::vector<Descriptor> pending_referrers_;
};

}  // namespace gocrate
