#include "transport/registry/blob_upload.h"

#include <optional>

#include "transport/registry/registry_urls.h"
#include "util/error.h"

namespace gocrate {

namespace {

constexpr int kMaxRestarts = 3;

// Counts what is read through it, so the upload knows how far its source
// has been consumed.
class CountingReader : public ByteReader {
 public:
  CountingReader(ByteReader& in, int64_t& count) : in_(in), count_(count) {}
  size_t read(void* buffer, size_t size) override {
    size_t n = in_.read(buffer, size);
    count_ += static_cast<int64_t>(n);
    return n;
  }

 private:
  ByteReader& in_;
  int64_t& count_;
};

bool is_tls_failure(const TransportFailure& failure) {
  return failure.kind == TransportFailure::Kind::tls_handshake ||
         failure.kind == TransportFailure::Kind::tls_untrusted;
}

bool mentions(const HttpResponse& response, std::string_view code) {
  return response.body.find(code) != std::string::npos;
}

class BlobUpload {
 public:
  BlobUpload(RegistryClient& client, const std::string& repository, const Descriptor& descriptor,
             const ImageSink::BlobOpener& open, const BlobUploadOptions& options)
      : client_(client), repository_(repository), descriptor_(descriptor), open_(open), options_(options) {
    what_ = fmt::format("push blob {} to {}/{}", descriptor_.digest.str(), client_.registry(), repository_);
  }

  BlobUploadOutcome run() {
    for (int restart = 0;; ++restart) {
      if (restart == 0 && !options_.started_location.empty()) {
        location_ = options_.started_location;
        offset_ = 0;
      } else if (start(restart == 0 ? options_.mount_from : "")) {
        return BlobUploadOutcome::mounted;
      }
      if (send_content()) {
        drain(*reader_);  // the source checks its digest at its end
        return BlobUploadOutcome::uploaded;
      }
      if (restart >= kMaxRestarts) {
        fail("registry {} lost the upload of blob {} {} times: run the push again", client_.registry(),
             descriptor_.digest.str(), restart + 1);
      }
    }
  }

 private:
  // POSTs a new upload; true when the registry mounted the blob instead.
  bool start(const std::string& mount_from) {
    HttpRequest request;
    request.method = "POST";
    request.url = upload_start_path(repository_);
    if (!mount_from.empty() && mount_from != repository_) {
      request.url =
          with_query(with_query(request.url, "mount", descriptor_.digest.str()), "from", mount_from);
    }
    HttpResponse response = client_.send(request, what_);
    if (response.status == 201) return true;
    if (response.status != 202) client_.fail_response(response, what_);
    std::string location = response.header("location");
    if (location.empty()) fail("registry {} started an upload without a Location header", client_.registry());
    location_ = resolve_location(client_.base_url() + request.url, location);
    offset_ = 0;
    return false;
  }

  // Sends everything from offset_ on; false when the registry lost the upload.
  bool send_content() {
    int failures = 0;
    while (true) {
      int64_t remaining = descriptor_.size - offset_;
      bool last = remaining <= options_.chunk_size;
      int64_t length = last ? remaining : options_.chunk_size;
      position_source(offset_);
      CountingReader counted(*reader_, read_position_);
      HttpRequest request;
      request.method = last ? "PUT" : "PATCH";
      request.url = last ? with_query(location_, "digest", descriptor_.digest.str()) : location_;
      request.body_reader = &counted;
      request.body_size = length;
      request.follow_redirects = false;
      request.headers.push_back("Content-Type: application/octet-stream");
      if (length > 0 && !(last && offset_ == 0)) {
        request.headers.push_back(fmt::format("Content-Range: {}-{}", offset_, offset_ + length - 1));
      }
      int64_t base = offset_;
      if (options_.on_progress) request.on_sent = [&](int64_t sent) { options_.on_progress(base + sent); };
      HttpResult result = client_.try_send(request);
      if (!result.failure) {
        const HttpResponse& response = result.response;
        if (last && (response.status == 201 || response.status == 204)) return true;
        if (!last && response.status == 202) {
          advance(response, offset_ + length);
          failures = 0;
          continue;
        }
        if (lost(response)) return false;
        if (response.status == 400 && mentions(response, "DIGEST_INVALID")) {
          check_source();
          return false;
        }
        if (response.status == 401) return false;  // the token expired mid-upload: start over with a new one
        if (response.status != 416 && !(response.status >= 500 && response.status != 501)) {
          client_.fail_response(response, what_);
        }
      } else if (is_tls_failure(*result.failure)) {
        client_.fail_transport(*result.failure, what_);
      }
      // Anything else that broke mid-body is asked about: the registry knows
      // how much arrived.
      if (failures >= RegistryClient::kRetries) {
        if (result.failure) client_.fail_transport(*result.failure, what_);
        client_.fail_response(result.response, what_);
      }
      RegistryClient::wait_before_retry(failures++);
      auto offset = query_offset();
      if (!offset) return false;
      offset_ = *offset;
    }
  }

  // The upload's state after a failure: how much the registry has, or
  // nullopt when it no longer knows the upload.
  std::optional<int64_t> query_offset() {
    HttpRequest request;
    request.url = location_;
    request.follow_redirects = false;
    HttpResponse response = client_.send(request, what_);
    if (response.status == 204 || response.status == 202) {
      auto offset = upload_offset_from_range(response.header("range"));
      if (!offset || *offset > descriptor_.size) return std::nullopt;
      if (std::string location = response.header("location"); !location.empty()) {
        location_ = resolve_location(location_, location);
      }
      return offset;
    }
    if (lost(response)) return std::nullopt;
    client_.fail_response(response, what_);
  }

  void advance(const HttpResponse& response, int64_t expected) {
    if (std::string location = response.header("location"); !location.empty()) {
      location_ = resolve_location(location_, location);
    }
    auto offset = upload_offset_from_range(response.header("range"));
    offset_ = offset && *offset <= descriptor_.size ? *offset : expected;
    if (options_.on_progress) options_.on_progress(offset_);
  }

  static bool lost(const HttpResponse& response) {
    return response.status == 404 || (response.status == 400 && (mentions(response, "BLOB_UPLOAD_INVALID") ||
                                                                 mentions(response, "BLOB_UPLOAD_UNKNOWN")));
  }

  // Reads the source from its start to `offset`, reopening it when it has
  // already been read past there.
  void position_source(int64_t offset) {
    if (!reader_ || read_position_ > offset) {
      reader_ = open_();
      read_position_ = 0;
    }
    char buffer[1 << 16];
    while (read_position_ < offset) {
      size_t n = reader_->read(buffer, std::min<int64_t>(sizeof buffer, offset - read_position_));
      if (n == 0)
        fail("blob {} ended after {} bytes, before {}", descriptor_.digest.str(), read_position_, offset);
      read_position_ += static_cast<int64_t>(n);
    }
  }

  // The registry computed another digest: fails if the source is at fault.
  void check_source() {
    reader_ = open_();
    read_position_ = 0;
    drain(*reader_);
    reader_.reset();
  }

  RegistryClient& client_;
  const std::string& repository_;
  const Descriptor& descriptor_;
  const ImageSink::BlobOpener& open_;
  const BlobUploadOptions& options_;
  std::string what_;
  std::string location_;
  int64_t offset_ = 0;
  std::unique_ptr<ByteReader> reader_;
  int64_t read_position_ = 0;
};

}  // namespace

UploadProbe start_upload_or_find(RegistryClient& client, const std::string& repository,
                                 const Descriptor& descriptor) {
  std::string what =
      fmt::format("push blob {} to {}/{}", descriptor.digest.str(), client.registry(), repository);
  HttpRequest request;
  request.method = "POST";
  request.url = with_query(with_query(upload_start_path(repository), "mount", descriptor.digest.str()),
                           "from", repository);
  HttpResponse response = client.send(request, what);
  if (response.status == 201) return {UploadProbe::Result::present, ""};
  std::string location = response.header("location");
  if (response.status == 401 || response.status == 403) client.fail_response(response, what);
  if (response.status != 202 || location.empty()) return {UploadProbe::Result::unanswered, ""};
  return {UploadProbe::Result::started, resolve_location(client.base_url() + request.url, location)};
}

BlobUploadOutcome upload_blob(RegistryClient& client, const std::string& repository,
                              const Descriptor& descriptor, const ImageSink::BlobOpener& open,
                              const BlobUploadOptions& options) {
  return BlobUpload(client, repository, descriptor, open, options).run();
}

}  // namespace gocrate
