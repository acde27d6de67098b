#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "util/byte_reader.h"

namespace gocrate {

struct TlsSettings {
  bool verify = true;
  std::string extra_ca_pem;  // trusted besides the system's CAs
};

struct HttpRequest {
  std::string method = "GET";
  std::string url;
  std::vector<std::string> headers;   // "Name: value"
  std::string body;                   // sent when body_reader is null
  ByteReader* body_reader = nullptr;  // streamed instead: exactly body_size bytes
  int64_t body_size = 0;
  std::function<void(int64_t)> on_sent;  // bytes of the body handed to the connection so far
  bool follow_redirects = true;
  TlsSettings tls;
};

struct HttpResponse {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // names in lower case
  std::string body;
  // The first value of a header (name in lower case), or "".
  std::string header(std::string_view name) const;
  std::vector<std::string> headers_named(std::string_view name) const;
};

// A request that failed below HTTP.
struct TransportFailure {
  enum class Kind { connect, reset, timeout, tls_handshake, tls_untrusted, other };
  Kind kind = Kind::other;
  std::string message;  // curl's words
  int curl_code = 0;
  // Worth trying again: the peer may come back or the connection was cut.
  bool retryable() const { return kind == Kind::connect || kind == Kind::reset || kind == Kind::timeout; }
};

struct HttpResult {
  std::optional<TransportFailure> failure;
  HttpResponse response;
};

class Transfer;

// A response whose body is read as it arrives.
class HttpStream : public ByteReader {
 public:
  explicit HttpStream(std::unique_ptr<Transfer> transfer);
  ~HttpStream() override;
  const HttpResponse& response() const;
  // 0 at the end of the body or when the transfer broke (see failure()).
  size_t read(void* buffer, size_t size) override;
  const std::optional<TransportFailure>& failure() const;

 private:
  std::unique_ptr<Transfer> transfer_;
};

// HTTP over libcurl (loaded on first use). Connections are kept alive and
// reused; any number of threads may send requests at once.
class HttpClient {
 public:
  HttpClient();
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Sends a request and reads the whole response; bodies over 64 MiB fail.
  HttpResult send(const HttpRequest& request);
  // Sends a request and returns once the response headers have arrived.
  std::unique_ptr<HttpStream> open(const HttpRequest& request);
  // "subject CN=x, issued by CN=y" of the certificate a TLS server shows,
  // read without trusting it (no request is sent), or "" if none was read.
  std::string peer_certificate(const std::string& url);

  struct Connection;
  std::unique_ptr<Connection> take_connection();
  void return_connection(std::unique_ptr<Connection> connection);
  void* share() const { return share_; }

 private:
  std::mutex mutex_;
  std::vector<std::unique_ptr<Connection>> idle_;
  void* share_ = nullptr;
  std::unique_ptr<std::mutex[]> share_locks_;
};

}  // namespace gocrate
