#include "transport/registry/registry_source.h"

#include "image/media_types.h"
#include "transport/registry/registry_urls.h"
#include "util/error.h"

namespace gocrate {

const char* const kManifestAccept =
    "Accept: application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, "
    "application/vnd.docker.distribution.manifest.list.v2+json, "
    "application/vnd.docker.distribution.manifest.v2+json";

namespace {

std::string media_type_of(const HttpResponse& response, std::string_view body) {
  std::string type = response.header("content-type");
  type = type.substr(0, type.find(';'));
  if (media_type::is_index(type) || media_type::is_manifest(type)) return type;
  return sniff_media_type(body);
}

// Streams a blob, verifying it, resuming with Range after a dropped connection.
class RegistryBlobReader : public ByteReader {
 public:
  RegistryBlobReader(RegistryClient& client, std::string repository, Descriptor descriptor,
                     TransferDisplay* display)
      : client_(client),
        repository_(std::move(repository)),
        descriptor_(std::move(descriptor)),
        display_(display) {
    what_ = fmt::format("pull blob {} from {}/{}", descriptor_.digest.str(), client_.registry(), repository_);
  }

  size_t read(void* buffer, size_t size) override {
    if (verified_) return 0;
    for (int failures = 0;;) {
      if (!stream_) open_stream();
      size_t n = stream_->read(buffer, size);
      if (n > 0) {
        accept(buffer, n);
        return n;
      }
      const auto& failure = stream_->failure();
      bool cut_short = !failure && offset_ < descriptor_.size;
      if (!failure && !cut_short) break;
      if ((failure && !failure->retryable()) || failures >= RegistryClient::kRetries) {
        if (failure) client_.fail_transport(*failure, what_);
        fail("registry {} ended blob {} after {} of {} bytes", client_.registry(), descriptor_.digest.str(),
             offset_, descriptor_.size);
      }
      stream_.reset();
      RegistryClient::wait_before_retry(failures++);
    }
    verify();
    return 0;
  }

 private:
  void open_stream() {
    HttpRequest request;
    request.url = blob_path(repository_, descriptor_.digest);
    if (offset_ > 0) request.headers.push_back(fmt::format("Range: bytes={}-", offset_));
    stream_ = client_.open(request, what_);
    int status = stream_->response().status;
    if (status == 404) {
      fail("blob {} is missing from {}/{}: the registry's copy of the image is incomplete",
           descriptor_.digest.str(), client_.registry(), repository_);
    }
    if (status == 206 && offset_ > 0) return;
    if (status != 200) client_.fail_response(stream_->response(), what_);
    // The registry sent the whole blob again: skip what was already read.
    char skip[1 << 16];
    for (int64_t left = offset_; left > 0;) {
      size_t n = stream_->read(skip, std::min<int64_t>(sizeof skip, left));
      if (n == 0) break;
      left -= static_cast<int64_t>(n);
    }
  }

  void accept(const void* data, size_t n) {
    offset_ += static_cast<int64_t>(n);
    if (offset_ > descriptor_.size) {
      fail("blob {} from {}/{} is larger than its descriptor says ({} bytes): refused",
           descriptor_.digest.str(), client_.registry(), repository_, descriptor_.size);
    }
    hash_.update(data, n);
    if (display_) display_->bytes(descriptor_, offset_);
  }

  void verify() {
    verified_ = true;
    std::string actual = hash_.finish_hex();
    if (actual != descriptor_.digest.hex) {
      fail(
          "blob {} from {}/{} does not match its digest (its content has sha256:{}): refused, nothing of it "
          "was "
          "stored; the registry's copy is corrupt",
          descriptor_.digest.str(), client_.registry(), repository_, actual);
    }
  }

  RegistryClient& client_;
  std::string repository_;
  Descriptor descriptor_;
  TransferDisplay* display_;
  std::string what_;
  std::unique_ptr<HttpStream> stream_;
  Sha256 hash_;
  int64_t offset_ = 0;
  bool verified_ = false;
};

}  // namespace

RegistrySource::RegistrySource(std::shared_ptr<RegistryClient> client, std::string repository, bool authorize)
    : client_(std::move(client)), repository_(std::move(repository)) {
  if (authorize) client_->set_scopes({repository_scope(repository_, "pull")});
}

std::string RegistrySource::describe() const {
  return fmt::format("registry {}/{}", client_->registry(), repository_);
}

std::string RegistrySource::fetch_manifest(const std::string& tag_or_digest, std::string& media_type,
                                           const std::string& what) {
  HttpRequest request;
  request.url = manifest_path(repository_, tag_or_digest);
  request.headers.push_back(kManifestAccept);
  HttpResponse response = client_->send(request, what);
  if (response.status == 404) {
    if (response.body.find("NAME_UNKNOWN") != std::string::npos) {
      fail("repository {} not found on registry {}: check the name, or push it first", repository_,
           client_->registry());
    }
    fail("{}:{} not found: registry {} has no such tag or digest in repository {}", repository_,
         tag_or_digest, client_->registry(), repository_);
  }
  if (response.status != 200) client_->fail_response(response, what);
  media_type = media_type_of(response, response.body);
  if (!media_type::is_index(media_type) && !media_type::is_manifest(media_type)) {
    bool schema1 = response.body.find("\"schemaVersion\": 1") != std::string::npos ||
                   response.body.find("\"schemaVersion\":1") != std::string::npos;
    fail("{}/{}:{} is {}: gocrate reads OCI and Docker schema 2 images only", client_->registry(),
         repository_, tag_or_digest,
         schema1 ? "a Docker schema 1 image (push it again with a current Docker or skopeo)"
                 : "not an image (media type " + media_type + ")");
  }
  return std::move(response.body);
}

Descriptor RegistrySource::resolve(const std::string& tag_or_digest, const std::string& image_name) {
  Descriptor root;
  std::string content = fetch_manifest(tag_or_digest, root.media_type, "pull " + image_name);
  root.digest = Digest::of(content);
  root.size = static_cast<int64_t>(content.size());
  if (auto wanted = Digest::try_parse(tag_or_digest); wanted && *wanted != root.digest) {
    fail("registry {} answered {} with content of digest {}: refused", client_->registry(), image_name,
         root.digest.str());
  }
  std::lock_guard lock(mutex_);
  manifests_[root.digest] = std::move(content);
  return root;
}

std::vector<Descriptor> RegistrySource::referrers(const Digest& subject) {
  std::string what =
      fmt::format("list the referrers of {} in {}/{}", subject.str(), client_->registry(), repository_);
  auto listed = [&](const HttpResponse& response) {
    std::vector<Descriptor> out;
    for (auto& entry : Index::parse(response.body, what).manifests) {
      if (media_type::is_manifest(entry.media_type)) out.push_back(std::move(entry));
    }
    return out;
  };
  bool try_api;
  {
    std::lock_guard lock(mutex_);
    try_api = referrers_api_.value_or(true);
  }
  if (try_api) {
    HttpRequest request;
    request.url = referrers_path(repository_, subject);
    HttpResponse response = client_->send(request, what);
    bool supported =
        response.status == 200 && response.header("content-type").starts_with(media_type::oci_index);
    {
      std::lock_guard lock(mutex_);
      referrers_api_ = supported;
    }
    if (supported) return listed(response);
  }
  HttpRequest request;
  request.url = manifest_path(repository_, referrers_tag(subject));
  request.headers.push_back("Accept: application/vnd.oci.image.index.v1+json");
  HttpResponse response = client_->send(request, what);
  if (response.status == 404) return {};
  if (response.status != 200) client_->fail_response(response, what);
  return listed(response);
}

std::string RegistrySource::read_blob(const Descriptor& descriptor) {
  {
    std::lock_guard lock(mutex_);
    if (auto it = manifests_.find(descriptor.digest); it != manifests_.end()) return it->second;
  }
  std::string content;
  if (media_type::is_index(descriptor.media_type) || media_type::is_manifest(descriptor.media_type)) {
    std::string media_type;
    content = fetch_manifest(
        descriptor.digest.str(), media_type,
        fmt::format("pull manifest {} of {}/{}", descriptor.digest.str(), client_->registry(), repository_));
  } else {
    content = RegistryBlobReader(*client_, repository_, descriptor, display_).read_all();
  }
  if (static_cast<int64_t>(content.size()) != descriptor.size || Digest::of(content) != descriptor.digest) {
    fail("{} {} from {}/{} does not match its descriptor: refused", descriptor.media_type,
         descriptor.digest.str(), client_->registry(), repository_);
  }
  if (media_type::is_index(descriptor.media_type) || media_type::is_manifest(descriptor.media_type)) {
    std::lock_guard lock(mutex_);
    manifests_[descriptor.digest] = content;
  }
  return content;
}

std::unique_ptr<ByteReader> RegistrySource::open_blob(const Descriptor& descriptor) {
  if (media_type::is_index(descriptor.media_type) || media_type::is_manifest(descriptor.media_type)) {
    auto content = std::make_shared<std::string>(read_blob(descriptor));
    struct OwningReader : ByteReader {
      std::shared_ptr<std::string> data;
      StringReader reader;
      explicit OwningReader(std::shared_ptr<std::string> d) : data(std::move(d)), reader(*data) {}
      size_t read(void* buffer, size_t size) override { return reader.read(buffer, size); }
    };
    return std::make_unique<OwningReader>(content);
  }
  return std::make_unique<RegistryBlobReader>(*client_, repository_, descriptor, display_);
}

}  // namespace gocrate
