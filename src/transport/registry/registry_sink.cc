#include "transport/registry/registry_sink.h"

#include "image/media_types.h"
#include "image/reference.h"
#include "transport/registry/registry_source.h"
#include "transport/registry/registry_urls.h"
#include "util/error.h"

namespace gocrate {

namespace {

bool is_manifest_like(const Descriptor& d) {
  return media_type::is_index(d.media_type) || media_type::is_manifest(d.media_type);
}

std::vector<std::string> push_scopes(const std::string& repository,
                                     const std::vector<std::string>& mount_from) {
  std::vector<std::string> scopes{repository_scope(repository, "pull,push")};
  for (const auto& other : mount_from) {
    if (other != repository) scopes.push_back(repository_scope(other, "pull"));
  }
  return scopes;
}

}  // namespace

RegistrySink::RegistrySink(std::shared_ptr<RegistryClient> client, std::string repository,
                           RegistrySinkOptions options)
    : client_(std::move(client)), repository_(std::move(repository)), options_(std::move(options)) {
  if (options_.mount_from.size() > 1) options_.mount_from.resize(1);
  client_->set_scopes(push_scopes(repository_, options_.mount_from));
}

std::string RegistrySink::describe() const {
  return fmt::format("registry {}/{}", client_->registry(), repository_);
}

std::string RegistrySink::what(const Descriptor& descriptor) const {
  return fmt::format("push {} to {}/{}", descriptor.digest.str(), client_->registry(), repository_);
}

bool RegistrySink::has_blob(const Descriptor& descriptor) {
  {
    std::lock_guard lock(mutex_);
    if (present_.contains(descriptor.digest)) return true;
  }
  UploadProbe probe{UploadProbe::Result::unanswered, ""};
  if (!is_manifest_like(descriptor) && options_.mount_from.empty()) {
    // One request instead of HEAD and POST: a mount from the repository itself.
    probe = start_upload_or_find(*client_, repository_, descriptor);
  }
  if (probe.result == UploadProbe::Result::started) {
    std::lock_guard lock(mutex_);
    started_uploads_[descriptor.digest] = probe.location;
    return false;
  }
  if (probe.result == UploadProbe::Result::unanswered) {
    HttpRequest request;
    request.method = "HEAD";
    request.url = is_manifest_like(descriptor) ? manifest_path(repository_, descriptor.digest.str())
                                               : blob_path(repository_, descriptor.digest);
    if (is_manifest_like(descriptor)) request.headers.push_back(kManifestAccept);
    HttpResponse response = client_->send(request, what(descriptor));
    if (response.status == 404) return false;
    if (response.status != 200) client_->fail_response(response, what(descriptor));
  }
  {
    std::lock_guard lock(mutex_);
    present_.insert(descriptor.digest);
  }
  counts_.skipped++;
  if (options_.display && !is_manifest_like(descriptor)) options_.display->finished(descriptor, "exists");
  return true;
}

void RegistrySink::put_blob(const Descriptor& descriptor, ByteReader& content) {
  bool opened = false;
  put_blob_from(descriptor, [&]() -> std::unique_ptr<ByteReader> {
    if (opened) {
      fail("registry {} lost the upload of blob {} and its content cannot be read again: run the push again",
           client_->registry(), descriptor.digest.str());
    }
    opened = true;
    struct Borrowed : ByteReader {
      ByteReader& in;
      explicit Borrowed(ByteReader& r) : in(r) {}
      size_t read(void* buffer, size_t size) override { return in.read(buffer, size); }
    };
    return std::make_unique<Borrowed>(content);
  });
}

void RegistrySink::put_blob(const Descriptor& descriptor, std::string_view content) {
  if (is_manifest_like(descriptor)) {
    if (static_cast<int64_t>(content.size()) != descriptor.size || Digest::of(content) != descriptor.digest) {
      fail("manifest {} does not match its descriptor; it was not pushed", descriptor.digest.str());
    }
    bool as_root = !root_tag_.empty() && descriptor.digest == root_digest_;
    put_manifest(descriptor, content, as_root ? root_tag_ : descriptor.digest.str());
    std::lock_guard lock(mutex_);
    root_tagged_ |= as_root;
    manifests_[descriptor.digest] = std::string(content);
    present_.insert(descriptor.digest);
    return;
  }
  put_blob_from(descriptor, [content] { return std::make_unique<StringReader>(content); });
}

void RegistrySink::put_blob_from(const Descriptor& descriptor, const BlobOpener& open) {
  if (is_manifest_like(descriptor)) {
    std::string content = open()->read_all();
    put_blob(descriptor, std::string_view(content));
    return;
  }
  BlobUploadOptions upload;
  if (!options_.mount_from.empty()) upload.mount_from = options_.mount_from.front();
  {
    std::lock_guard lock(mutex_);
    if (auto it = started_uploads_.find(descriptor.digest); it != started_uploads_.end()) {
      upload.started_location = it->second;
      started_uploads_.erase(it);
    }
  }
  upload.chunk_size = options_.chunk_size;
  if (options_.display) upload.on_progress = [&](int64_t done) { options_.display->bytes(descriptor, done); };
  BlobUploadOutcome outcome = upload_blob(*client_, repository_, descriptor, open, upload);
  if (outcome == BlobUploadOutcome::mounted) {
    counts_.mounted++;
  } else {
    counts_.uploaded++;
    counts_.bytes_uploaded += descriptor.size;
  }
  if (options_.display) {
    options_.display->finished(descriptor, outcome == BlobUploadOutcome::mounted ? "mounted" : "pushed");
  }
  std::lock_guard lock(mutex_);
  present_.insert(descriptor.digest);
}

void RegistrySink::put_manifest(const Descriptor& descriptor, std::string_view content,
                                const std::string& reference) {
  HttpRequest request;
  request.method = "PUT";
  request.url = manifest_path(repository_, reference);
  request.body = std::string(content);
  request.headers.push_back("Content-Type: " + descriptor.media_type);
  std::string action = fmt::format("push manifest {} to {}/{}:{}", descriptor.digest.str(),
                                   client_->registry(), repository_, reference);
  HttpResponse response = client_->send(request, action);
  if (response.status != 201 && response.status != 200) client_->fail_response(response, action);
  if (!response.header("oci-subject").empty()) {
    std::lock_guard lock(mutex_);
    referrers_api_ = true;
  }
}

void RegistrySink::add_name(const std::string& name, const Descriptor& root) {
  std::string tag = name;
  if (!is_valid_tag(name)) {
    Reference ref = Reference::parse(name);
    tag = ref.tag;
    if (tag.empty()) return;  // a digest reference: the manifest is already there by digest
  }
  pending_tags_.emplace_back(tag, root);
}

void RegistrySink::put_root_as(const std::string& tag, const Digest& root) {
  root_tag_ = tag;
  root_digest_ = root;
}

void RegistrySink::add_referrer(const Descriptor& referrer) {
  pending_referrers_.push_back(referrer);
}

std::string RegistrySink::manifest_content(const Descriptor& descriptor) {
  {
    std::lock_guard lock(mutex_);
    if (auto it = manifests_.find(descriptor.digest); it != manifests_.end()) return it->second;
  }
  RegistrySource source(client_, repository_, false);
  return source.read_blob(descriptor);
}

void RegistrySink::tag(const std::string& tag, const Descriptor& root) {
  bool pushed_now;
  {
    std::lock_guard lock(mutex_);
    if (root_tagged_ && tag == root_tag_ && root.digest == root_digest_) return;
    pushed_now = manifests_.contains(root.digest);
  }
  // A manifest new to the registry cannot be tagged yet.
  if (pushed_now) {
    put_manifest(root, manifest_content(root), tag);
    return;
  }
  HttpRequest head;
  head.method = "HEAD";
  head.url = manifest_path(repository_, tag);
  head.headers.push_back(kManifestAccept);
  HttpResponse current =
      client_->send(head, fmt::format("read tag {} of {}/{}", tag, client_->registry(), repository_));
  if (current.status == 200 && current.header("docker-content-digest") == root.digest.str()) return;
  put_manifest(root, manifest_content(root), tag);
}

bool RegistrySink::registry_has_referrers_api(const Digest& subject) {
  {
    std::lock_guard lock(mutex_);
    if (referrers_api_) return *referrers_api_;
  }
  HttpRequest request;
  request.url = referrers_path(repository_, subject);
  HttpResponse response =
      client_->send(request, fmt::format("list referrers in {}/{}", client_->registry(), repository_));
  std::string type = response.header("content-type");
  bool supported = response.status == 200 && type.starts_with(media_type::oci_index);
  std::lock_guard lock(mutex_);
  referrers_api_ = supported;
  return supported;
}

void RegistrySink::list_referrer(const Descriptor& referrer) {
  Manifest artifact =
      Manifest::parse(manifest_content(referrer), fmt::format("artifact {}", referrer.digest.str()));
  if (!artifact.subject) return;
  if (registry_has_referrers_api(artifact.subject->digest)) return;

  // The fallback of the distribution spec: an index tagged sha256-<subject>.
  std::string tag = referrers_tag(artifact.subject->digest);
  HttpRequest get;
  get.url = manifest_path(repository_, tag);
  get.headers.push_back("Accept: application/vnd.oci.image.index.v1+json");
  std::string action = fmt::format("read {}/{}:{}", client_->registry(), repository_, tag);
  HttpResponse response = client_->send(get, action);
  Index index;
  index.media_type = media_type::oci_index;
  if (response.status == 200) {
    index = Index::parse(response.body, action);
  } else if (response.status != 404) {
    client_->fail_response(response, action);
  }
  for (const auto& entry : index.manifests) {
    if (entry.digest == referrer.digest) return;
  }
  Descriptor entry{referrer.media_type, referrer.digest, referrer.size};
  entry.artifact_type = !artifact.artifact_type.empty() ? artifact.artifact_type : artifact.config.media_type;
  entry.annotations = artifact.annotations;
  index.manifests.push_back(entry);
  std::string text = index.to_json_text();
  put_manifest(
      Descriptor{std::string(media_type::oci_index), Digest::of(text), static_cast<int64_t>(text.size())},
      text, tag);
}

void RegistrySink::commit() {
  for (const auto& [tag_name, root] : pending_tags_) tag(tag_name, root);
  for (const auto& referrer : pending_referrers_) list_referrer(referrer);
  pending_tags_.clear();
  pending_referrers_.clear();
}

}  // namespace gocrate
