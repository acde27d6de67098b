#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace gocrate {

// `gocrate serve`: /metrics (Prometheus), /api/... (JSON), /api/stream
// (server-sent events) and the web view at /, all read from the store's files
// when asked. HTTP is Boost.Beast's (see src/CMakeLists.txt for why).

struct ListenAddress {
  std::string host;  // an IP address; "localhost" is 127.0.0.1
  uint16_t port = 0;
};

inline constexpr std::string_view kDefaultListen = "127.0.0.1:9323";

// "HOST:PORT", "[IPV6]:PORT" or ":PORT" (every address); an error naming
// `text` otherwise.
ListenAddress parse_listen_address(std::string_view text);
// Whether only this machine can reach `host`: 127.0.0.0/8, ::1, localhost.
bool is_loopback(std::string_view host);
// The token of --token-file: its first line, without surrounding spaces;
// an error when it is missing or empty.
std::string read_token_file(const std::string& path);
// Whether a request's Host header names this machine's loopback at `port`
// (127.0.0.1, [::1] or localhost; the port may be left out for 80): what a
// server without a token answers, so that no other site's page reaches it
// through a name made to point at 127.0.0.1.
bool is_local_host_header(std::string_view host, uint16_t port);
// Compares in time that depends only on the lengths.
bool same_token(std::string_view given, std::string_view expected);

struct ServeOptions {
  std::string store_root;
  std::string listen = std::string(kDefaultListen);
  std::string token_file;  // required unless `listen` is a loopback address
};

class Server {
 public:
  // Binds the address: an error when it is in use, or not loopback and no
  // token is given.
  explicit Server(const ServeOptions& options);
  ~Server();
  // "http://127.0.0.1:9323", the port as bound.
  std::string url() const;
  // Answers requests, each connection on a thread of its own (at most 64,
  // 16 of them streams; more are answered 503), until the process ends.
  [[noreturn]] void run();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace gocrate
