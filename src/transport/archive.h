#pragma once

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "image/content.h"
#include "layer/diff_id.h"
#include "util/fs.h"

namespace gocrate {

// Writes images into one tar file that is at the same time an OCI image
// layout (index.json, oci-layout, blobs/sha256/...) and a Docker image
// archive (manifest.json pointing at the same blobs), so that `docker load`,
// `podman load`, skopeo's oci-archive: and gocrate's own load all read it.
// Docker's part holds one platform per image: `platform`, else the host's,
// else the first the image has. The file appears whole on commit().
class ArchiveWriter : public ImageSink {
 public:
  ArchiveWriter(std::string path, std::optional<Platform> platform);
  ~ArchiveWriter() override;

  bool has_blob(const Descriptor& descriptor) override;
  void put_blob(const Descriptor& descriptor, ByteReader& content) override;
  using ImageSink::put_blob;
  void add_name(const std::string& name, const Descriptor& root) override;
  void add_referrer(const Descriptor& referrer) override;
  void commit() override;
  std::string describe() const override { return "archive " + path_; }

 private:
  void write(std::string_view data);
  void add_file(const std::string& name, std::string_view content);
  std::string path_;
  std::string temp_path_;
  std::optional<Platform> platform_;
  UniqueFd fd_;
  std::string buffer_;
  std::set<Digest> written_;
  std::map<Digest, std::string> json_blobs_;  // manifests and indexes, for manifest.json
  std::vector<std::pair<std::string, Descriptor>> names_;
  std::vector<Descriptor> referrers_;
  bool committed_ = false;
};

// Reads an image archive: `docker save` and `podman save` output (Docker's
// manifest.json), OCI archives (index.json) and gocrate's own, optionally
// gzip- or zstd-compressed. Docker-format images are presented as OCI
// images: their layers keep their bytes and digests, their manifest is
// written anew. `limit`, when given, caps the size of a compressed archive
// once decompressed.
class ArchiveReader : public BlobSource {
 public:
  explicit ArchiveReader(std::string path, DecompressionLimit* limit = nullptr);
  ~ArchiveReader() override;

  struct Image {
    std::vector<std::string> names;  // "hello:latest"; may be empty
    Descriptor root;
  };
  const std::vector<Image>& images() const { return images_; }
  // Unnamed artifact manifests of the OCI index (SBOMs, signatures): what
  // refers to the images rather than being one.
  const std::vector<Descriptor>& artifacts() const { return artifacts_; }

  std::string read_blob(const Descriptor& descriptor) override;
  std::unique_ptr<ByteReader> open_blob(const Descriptor& descriptor) override;
  std::string describe() const override { return "archive " + path_; }

 private:
  struct Member {
    int64_t offset = 0;
    int64_t size = 0;
    std::string link;  // for symlinks and hard links
  };
  void scan();
  const Member& member(const std::string& name) const;
  std::string read_member(const std::string& name) const;
  void load_oci_index();
  void load_docker_manifest();

  std::string path_;
  std::optional<TempDir> decompressed_dir_;
  UniqueFd fd_;
  std::map<std::string, Member> members_;
  std::map<Digest, std::string> blob_members_;  // digest -> member name
  std::map<Digest, std::string> synthesized_;   // manifests made for Docker-format images
  std::vector<Image> images_;
  std::vector<Descriptor> artifacts_;
};

}  // namespace gocrate
