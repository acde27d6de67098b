#include "transport/registry/http_client.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <exception>

#include "transport/registry/curl_library.h"
#include "util/error.h"
#include "util/fs.h"

namespace gocrate {

namespace {

constexpr size_t kMaxBufferedBody = 64 << 20;
constexpr size_t kStreamHighWater = 4 << 20;
constexpr const char* kSystemCaBundle = "/etc/ssl/certs/ca-certificates.crt";

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view trim_space(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) text.remove_prefix(1);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.remove_suffix(1);
  return text;
}

TransportFailure classify(CURLcode code, const char* detail) {
  const CurlLibrary& curl = curl_library();
  TransportFailure failure;
  failure.message = detail && *detail ? detail : curl.easy_strerror(code);
  failure.curl_code = static_cast<int>(code);
  switch (code) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
      failure.kind = TransportFailure::Kind::connect;
      break;
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_UPLOAD_FAILED:
    case CURLE_SEND_FAIL_REWIND:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
      failure.kind = TransportFailure::Kind::reset;
      break;
    case CURLE_OPERATION_TIMEDOUT:
      failure.kind = TransportFailure::Kind::timeout;
      break;
    case CURLE_SSL_CONNECT_ERROR:
      failure.kind = TransportFailure::Kind::tls_handshake;
      break;
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
      failure.kind = TransportFailure::Kind::tls_untrusted;
      break;
    default:
      failure.kind = TransportFailure::Kind::other;
  }
  return failure;
}

// The system's CAs and the extra ones, for CURLOPT_CAINFO_BLOB (which
// replaces the default bundle rather than adding to it).
std::string ca_bundle_with(const std::string& extra) {
  static std::once_flag once;
  static std::string system;
  std::call_once(once, [] { system = read_file_if_exists(kSystemCaBundle).value_or(""); });
  return system + "\n" + extra;
}

}  // namespace

std::string HttpResponse::header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (key == name) return value;
  }
  return "";
}

std::vector<std::string> HttpResponse::headers_named(std::string_view name) const {
  std::vector<std::string> out;
  for (const auto& [key, value] : headers) {
    if (key == name) out.push_back(value);
  }
  return out;
}

struct HttpClient::Connection {
  CURLM* multi = nullptr;
  CURL* easy = nullptr;
  ~Connection() {
    const CurlLibrary& curl = curl_library();
    if (easy) curl.easy_cleanup(easy);
    if (multi) curl.multi_cleanup(multi);
  }
};

// One request on a pooled connection, driven through curl's multi interface
// so that a response body can be pulled as it arrives.
class Transfer {
 public:
  Transfer(HttpClient& client, const HttpRequest& request, bool stream)
      : client_(client), request_(request), stream_(stream), curl_(curl_library()) {
    connection_ = client_.take_connection();
    configure();
    curl_.multi_add_handle(connection_->multi, connection_->easy);
  }

  ~Transfer() {
    curl_.multi_remove_handle(connection_->multi, connection_->easy);
    curl_.slist_free_all(headers_);
    // A connection left in the middle of a response is closed by curl on
    // removal; the handles themselves are reused either way.
    client_.return_connection(std::move(connection_));
  }

  void run_until_headers() {
    while (!done_ && !headers_done_) step();
  }

  void run_to_end() {
    while (!done_) step();
  }

  size_t read(void* buffer, size_t size) {
    while (pending_pos_ == pending_.size() && !done_) {
      if (paused_) {
        paused_ = false;
        curl_.easy_pause(connection_->easy, CURLPAUSE_CONT);
        continue;
      }
      step();
    }
    rethrow_callback_error();
    size_t n = std::min(size, pending_.size() - pending_pos_);
    std::copy_n(pending_.data() + pending_pos_, n, static_cast<char*>(buffer));
    pending_pos_ += n;
    if (pending_pos_ == pending_.size()) {
      pending_.clear();
      pending_pos_ = 0;
    }
    return n;
  }

  HttpResponse& response() { return response_; }
  const std::optional<TransportFailure>& failure() const { return failure_; }
  void rethrow_callback_error() {
    if (callback_error_) std::rethrow_exception(std::exchange(callback_error_, nullptr));
  }

 private:
  void configure() {
    CURL* easy = connection_->easy;
    curl_.easy_reset(easy);
    auto set = [&](CURLoption option, auto value) { curl_.easy_setopt(easy, option, value); };
    set(CURLOPT_URL, request_.url.c_str());
    set(CURLOPT_SHARE, static_cast<CURLSH*>(client_.share()));
    set(CURLOPT_NOSIGNAL, 1L);
    set(CURLOPT_PROTOCOLS_STR, "http,https");
    set(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    set(CURLOPT_USERAGENT, "gocrate/" GOCRATE_VERSION);
    set(CURLOPT_CONNECTTIMEOUT, 15L);
    set(CURLOPT_LOW_SPEED_LIMIT, 1L);
    set(CURLOPT_LOW_SPEED_TIME, 60L);
    set(CURLOPT_TCP_KEEPALIVE, 1L);
    set(CURLOPT_BUFFERSIZE, 512L * 1024);
    set(CURLOPT_UPLOAD_BUFFERSIZE, 512L * 1024);
    set(CURLOPT_ERRORBUFFER, error_buffer_);
    set(CURLOPT_FOLLOWLOCATION, request_.follow_redirects ? 1L : 0L);
    set(CURLOPT_MAXREDIRS, 10L);
    set(CURLOPT_SSL_VERIFYPEER, request_.tls.verify ? 1L : 0L);
    set(CURLOPT_SSL_VERIFYHOST, request_.tls.verify ? 2L : 0L);
    if (request_.tls.verify && !request_.tls.extra_ca_pem.empty()) {
      ca_bundle_ = ca_bundle_with(request_.tls.extra_ca_pem);
      curl_blob blob{ca_bundle_.data(), ca_bundle_.size(), CURL_BLOB_COPY};
      set(CURLOPT_CAINFO_BLOB, &blob);
    }
    for (const auto& header : request_.headers) headers_ = curl_.slist_append(headers_, header.c_str());
    // No "Expect: 100-continue" unless asked for: it costs every upload a
    // round trip, and requests are authorized before their bodies go out.
    if (method_has_body() && !has_header("expect")) headers_ = curl_.slist_append(headers_, "Expect:");
    set(CURLOPT_HTTPHEADER, headers_);
    set(CURLOPT_HEADERFUNCTION, &Transfer::on_header);
    set(CURLOPT_HEADERDATA, this);
    set(CURLOPT_WRITEFUNCTION, &Transfer::on_body);
    set(CURLOPT_WRITEDATA, this);

    const std::string& method = request_.method;
    if (method == "HEAD") {
      set(CURLOPT_NOBODY, 1L);
    } else if (method == "GET") {
      set(CURLOPT_HTTPGET, 1L);
    } else {
      body_size_ = request_.body_reader ? request_.body_size : static_cast<int64_t>(request_.body.size());
      set(CURLOPT_UPLOAD, 1L);
      set(CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(body_size_));
      set(CURLOPT_READFUNCTION, &Transfer::on_read);
      set(CURLOPT_READDATA, this);
      if (method != "PUT") set(CURLOPT_CUSTOMREQUEST, method.c_str());
    }
  }

  bool method_has_body() const { return request_.method != "GET" && request_.method != "HEAD"; }

  bool has_header(std::string_view name) const {
    for (const auto& header : request_.headers) {
      if (lower(header.substr(0, header.find(':'))) == name) return true;
    }
    return false;
  }

  void step() {
    int running = 0;
    curl_.multi_perform(connection_->multi, &running);
    int left = 0;
    while (CURLMsg* message = curl_.multi_info_read(connection_->multi, &left)) {
      if (message->msg != CURLMSG_DONE) continue;
      finish(message->data.result);
    }
    // A stream with data for its reader returns to it rather than wait.
    bool data_waiting = stream_ && headers_done_ && pending_pos_ < pending_.size();
    if (!done_ && !data_waiting) curl_.multi_poll(connection_->multi, nullptr, 0, 1000, nullptr);
  }

  void finish(CURLcode code) {
    done_ = true;
    headers_done_ = true;
    if (code == CURLE_OK) return;
    if (callback_error_) return;
    failure_ = classify(code, error_buffer_);
  }

  static size_t on_header(char* data, size_t size, size_t count, void* self_ptr) {
    auto* self = static_cast<Transfer*>(self_ptr);
    std::string_view line(data, size * count);
    if (line.starts_with("HTTP/")) {
      self->response_.headers.clear();
      auto space = line.find(' ');
      self->response_.status =
          space == std::string_view::npos ? 0 : std::atoi(std::string(line.substr(space + 1, 3)).c_str());
    } else if (trim_space(line).empty()) {
      int status = self->response_.status;
      bool redirect = status >= 300 && status < 400 && self->request_.follow_redirects &&
                      !self->response_.header("location").empty();
      if (status >= 200 && !redirect) self->headers_done_ = true;
    } else if (auto colon = line.find(':'); colon != std::string_view::npos) {
      self->response_.headers.emplace_back(lower(trim_space(line.substr(0, colon))),
                                           std::string(trim_space(line.substr(colon + 1))));
    }
    return size * count;
  }

  static size_t on_body(char* data, size_t size, size_t count, void* self_ptr) {
    auto* self = static_cast<Transfer*>(self_ptr);
    size_t n = size * count;
    if (!self->stream_) {
      if (self->response_.body.size() + n > kMaxBufferedBody) return 0;
      self->response_.body.append(data, n);
      return n;
    }
    if (self->pending_.size() - self->pending_pos_ >= kStreamHighWater) {
      self->paused_ = true;
      return CURL_WRITEFUNC_PAUSE;
    }
    self->pending_.append(data, n);
    return n;
  }

  static size_t on_read(char* buffer, size_t size, size_t count, void* self_ptr) {
    auto* self = static_cast<Transfer*>(self_ptr);
    size_t wanted = size * count;
    try {
      size_t n = 0;
      if (self->request_.body_reader) {
        int64_t left = self->body_size_ - self->sent_;
        n = self->request_.body_reader->read(buffer, std::min<int64_t>(wanted, left));
        if (n == 0 && left > 0) fail("the content ended {} bytes early", left);
      } else {
        n = std::min(wanted, self->request_.body.size() - static_cast<size_t>(self->sent_));
        std::copy_n(self->request_.body.data() + self->sent_, n, buffer);
      }
      self->sent_ += n;
      if (self->request_.on_sent) self->request_.on_sent(self->sent_);
      return n;
    } catch (...) {
      self->callback_error_ = std::current_exception();
      return CURL_READFUNC_ABORT;
    }
  }

  HttpClient& client_;
  const HttpRequest& request_;
  bool stream_;
  const CurlLibrary& curl_;
  std::unique_ptr<HttpClient::Connection> connection_;
  curl_slist* headers_ = nullptr;
  std::string ca_bundle_;
  char error_buffer_[CURL_ERROR_SIZE] = {};
  HttpResponse response_;
  std::optional<TransportFailure> failure_;
  std::exception_ptr callback_error_;
  int64_t body_size_ = 0;
  int64_t sent_ = 0;
  std::string pending_;
  size_t pending_pos_ = 0;
  bool paused_ = false;
  bool headers_done_ = false;
  bool done_ = false;
};

HttpStream::HttpStream(std::unique_ptr<Transfer> transfer) : transfer_(std::move(transfer)) {}
HttpStream::~HttpStream() = default;
const HttpResponse& HttpStream::response() const {
  return transfer_->response();
}
size_t HttpStream::read(void* buffer, size_t size) {
  return transfer_->read(buffer, size);
}
const std::optional<TransportFailure>& HttpStream::failure() const {
  return transfer_->failure();
}

namespace {

void lock_share(CURL*, curl_lock_data data, curl_lock_access, void* locks) {
  static_cast<std::mutex*>(locks)[data].lock();
}

void unlock_share(CURL*, curl_lock_data data, void* locks) {
  static_cast<std::mutex*>(locks)[data].unlock();
}

}  // namespace

HttpClient::HttpClient() {
  const CurlLibrary& curl = curl_library();
  share_locks_ = std::make_unique<std::mutex[]>(CURL_LOCK_DATA_LAST);
  CURLSH* share = curl.share_init();
  curl.share_setopt(share, CURLSHOPT_LOCKFUNC, &lock_share);
  curl.share_setopt(share, CURLSHOPT_UNLOCKFUNC, &unlock_share);
  curl.share_setopt(share, CURLSHOPT_USERDATA, share_locks_.get());
  curl.share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
  curl.share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
  share_ = share;
}

HttpClient::~HttpClient() {
  idle_.clear();
  curl_library().share_cleanup(static_cast<CURLSH*>(share_));
}

std::unique_ptr<HttpClient::Connection> HttpClient::take_connection() {
  {
    std::lock_guard lock(mutex_);
    if (!idle_.empty()) {
      auto connection = std::move(idle_.back());
      idle_.pop_back();
      return connection;
    }
  }
  const CurlLibrary& curl = curl_library();
  auto connection = std::make_unique<Connection>();
  connection->multi = curl.multi_init();
  connection->easy = curl.easy_init();
  if (!connection->multi || !connection->easy)
    fail("cannot start an HTTP transfer: libcurl is out of memory");
  return connection;
}

void HttpClient::return_connection(std::unique_ptr<Connection> connection) {
  std::lock_guard lock(mutex_);
  idle_.push_back(std::move(connection));
}

namespace {

// GOCRATE_HTTP_TRACE=1 prints one line per request to stderr: when it
// started and how long it took (ms), method, URL (without query), status.
void trace(const HttpRequest& request, std::chrono::steady_clock::time_point start, int status,
           const std::optional<TransportFailure>& failure) {
  static const bool enabled = [] {
    const char* value = std::getenv("GOCRATE_HTTP_TRACE");
    return value && *value && std::string_view(value) != "0";
  }();
  if (!enabled) return;
  static const auto epoch = std::chrono::steady_clock::now();
  auto now = std::chrono::steady_clock::now();
  using ms = std::chrono::duration<double, std::milli>;
  std::string url = request.url.substr(0, request.url.find('?'));
  fmt::print(stderr, "http {:8.2f} {:7.2f} {} {} {}\n", ms(start - epoch).count(), ms(now - start).count(),
             request.method, url, failure ? failure->message : std::to_string(status));
}

}  // namespace

HttpResult HttpClient::send(const HttpRequest& request) {
  auto start = std::chrono::steady_clock::now();
  Transfer transfer(*this, request, false);
  transfer.run_to_end();
  transfer.rethrow_callback_error();
  trace(request, start, transfer.response().status, transfer.failure());
  HttpResult result;
  result.failure = transfer.failure();
  if (!result.failure) result.response = std::move(transfer.response());
  return result;
}

std::unique_ptr<HttpStream> HttpClient::open(const HttpRequest& request) {
  auto start = std::chrono::steady_clock::now();
  auto transfer = std::make_unique<Transfer>(*this, request, true);
  transfer->run_until_headers();
  transfer->rethrow_callback_error();
  trace(request, start, transfer->response().status, transfer->failure());
  return std::make_unique<HttpStream>(std::move(transfer));
}

std::string HttpClient::peer_certificate(const std::string& url) {
  const CurlLibrary& curl = curl_library();
  CURL* easy = curl.easy_init();
  if (!easy) return "";
  curl.easy_setopt(easy, CURLOPT_URL, url.c_str());
  curl.easy_setopt(easy, CURLOPT_CONNECT_ONLY, 1L);
  curl.easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 0L);
  curl.easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 0L);
  curl.easy_setopt(easy, CURLOPT_CERTINFO, 1L);
  curl.easy_setopt(easy, CURLOPT_CONNECTTIMEOUT, 5L);
  curl.easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  CURLM* multi = curl.multi_init();
  curl.multi_add_handle(multi, easy);
  bool done = false;
  CURLcode result = CURLE_OK;
  for (int rounds = 0; !done && rounds < 100; ++rounds) {
    int running = 0;
    curl.multi_perform(multi, &running);
    int left = 0;
    while (CURLMsg* message = curl.multi_info_read(multi, &left)) {
      if (message->msg == CURLMSG_DONE) {
        done = true;
        result = message->data.result;
      }
    }
    if (!done) curl.multi_poll(multi, nullptr, 0, 100, nullptr);
  }
  std::string subject, issuer;
  curl_certinfo* info = nullptr;
  if (done && result == CURLE_OK && curl.easy_getinfo(easy, CURLINFO_CERTINFO, &info) == CURLE_OK && info &&
      info->num_of_certs > 0) {
    for (curl_slist* item = info->certinfo[0]; item; item = item->next) {
      std::string_view field = item->data;
      if (field.starts_with("Subject:")) subject = trim_space(field.substr(8));
      if (field.starts_with("Issuer:")) issuer = trim_space(field.substr(7));
    }
  }
  curl.multi_remove_handle(multi, easy);
  curl.easy_cleanup(easy);
  curl.multi_cleanup(multi);
  if (subject.empty()) return "";
  return issuer.empty() || issuer == subject ? fmt::format("subject {} (self-signed)", subject)
                                             : fmt::format("subject {}, issued by {}", subject, issuer);
}

}  // namespace gocrate
