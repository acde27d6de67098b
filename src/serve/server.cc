#include "serve/server.h"

#include <openssl/crypto.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <cctype>
#include <chrono>
#include <functional>
#include <future>
#include <thread>

#include "runtime/supervision/container_log.h"
#include "serve/event_feed.h"
#include "serve/metrics.h"
#include "serve/monitor.h"
#include "serve/web_page.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/strings.h"

namespace gocrate {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;
using nlohmann::json;

namespace {

// Each connection has a thread: these bound the threads, and the deadlines
// bound how long a client that sends or reads slowly keeps one.
constexpr size_t kMaxConnections = 64;
constexpr size_t kMaxStreams = 16;
constexpr auto kIdleTimeout = std::chrono::seconds(30);
constexpr auto kHeaderTimeout = std::chrono::seconds(10);
constexpr auto kWriteTimeout = std::chrono::seconds(10);
constexpr size_t kConnectionStack = 512 << 10;
constexpr auto kStreamTick = std::chrono::milliseconds(500);
constexpr size_t kLogTail = 200;

std::string dump(const json& value) {
  return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// A query parameter's value (no percent-decoding beyond what ids and names need).
std::string query_value(std::string_view target, std::string_view key) {
  size_t q = target.find('?');
  if (q == std::string_view::npos) return "";
  for (const auto& pair : split(target.substr(q + 1), '&')) {
    size_t eq = pair.find('=');
    if (pair.substr(0, eq) == key) return eq == std::string::npos ? "" : pair.substr(eq + 1);
  }
  return "";
}

std::string path_of(std::string_view target) {
  return std::string(target.substr(0, target.find('?')));
}

struct Reply {
  http::status status = http::status::ok;
  std::string content_type = "application/json";
  std::string body;
  std::string cache = "no-store";
};

Reply json_reply(const json& value, http::status status = http::status::ok) {
  return {status, "application/json", dump(value) + "\n"};
}

Reply error_reply(http::status status, const std::string& message) {
  return json_reply({{"message", message}}, status);
}

// A detached thread with a small stack: there may be kMaxConnections of them.
bool spawn_detached(std::function<void()> body) {
  auto task = std::make_unique<std::function<void()>>(std::move(body));
  pthread_attr_t attr;
  if (::pthread_attr_init(&attr) != 0) return false;
  ::pthread_attr_setstacksize(&attr, kConnectionStack);
  ::pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_t thread;
  auto start = [](void* p) -> void* {
    std::unique_ptr<std::function<void()>> f(static_cast<std::function<void()>*>(p));
    (*f)();
    return nullptr;
  };
  int rc = ::pthread_create(&thread, &attr, start, task.get());
  ::pthread_attr_destroy(&attr);
  if (rc != 0) return false;
  task.release();
  return true;
}

std::string busy_response(std::string_view why) {
  std::string body = dump({{"message", why}}) + "\n";
  return fmt::format(
      "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: 1\r\n"
      "Content-Length: {}\r\nConnection: close\r\n\r\n{}",
      body.size(), body);
}

// Answers 503 without waiting for the client: the accept loop calls it.
void refuse_busy(tcp::socket& socket) {
  static const std::string response = busy_response(
      fmt::format("the server has {} connections open, its most: try again shortly", kMaxConnections));
  int fd = socket.native_handle();
  char drain[4096];
  // Taking what the client sent makes the close an orderly one, not a reset.
  while (::recv(fd, drain, sizeof drain, MSG_DONTWAIT) > 0) {
  }
  ::send(fd, response.data(), response.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
  ::shutdown(fd, SHUT_WR);
}

// A connection's socket whose reads and writes end at a deadline (the socket
// is closed then). The operations run on the server's I/O thread while the
// connection's thread waits for them.
class Connection {
 public:
  explicit Connection(tcp::socket socket) : stream_(std::move(socket)) {}

  int native_handle() { return stream_.socket().native_handle(); }

  // Whether a request starts within `timeout`.
  bool wait_readable(std::chrono::milliseconds timeout) {
    pollfd ready{native_handle(), POLLIN, 0};
    return ::poll(&ready, 1, static_cast<int>(timeout.count())) > 0;
  }

  boost::system::error_code read_header(beast::flat_buffer& buffer,
                                        http::request_parser<http::empty_body>& parser) {
    stream_.expires_after(kHeaderTimeout);
    return wait([&](auto handler) { http::async_read(stream_, buffer, parser, std::move(handler)); });
  }

  template <typename Message>
  boost::system::error_code write_message(Message& message) {
    stream_.expires_after(kWriteTimeout);
    return wait([&](auto handler) { http::async_write(stream_, message, std::move(handler)); });
  }

  boost::system::error_code write(std::string_view data) {
    stream_.expires_after(kWriteTimeout);
    return wait([&](auto handler) { asio::async_write(stream_, asio::buffer(data), std::move(handler)); });
  }

 private:
  template <typename Start>
  boost::system::error_code wait(Start start) {
    std::promise<boost::system::error_code> done;
    auto result = done.get_future();
    start([&done](boost::system::error_code ec, size_t) { done.set_value(ec); });
    return result.get();
  }

  beast::tcp_stream stream_;
};

}  // namespace

ListenAddress parse_listen_address(std::string_view text) {
  auto bad = [&] {
    fail("invalid --listen {}: use HOST:PORT with an IP address (127.0.0.1:9323, [::1]:9323, 0.0.0.0:9323)",
         text);
  };
  size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) bad();
  std::string host(text.substr(0, colon));
  int64_t port = 0;
  if (!parse_int(text.substr(colon + 1), 0, 65535, port)) bad();
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  } else if (host.find(':') != std::string::npos) {
    bad();
  }
  if (host.empty()) host = "0.0.0.0";
  if (host == "localhost") host = "127.0.0.1";
  boost::system::error_code ec;
  asio::ip::make_address(host, ec);
  if (ec) bad();
  return {host, static_cast<uint16_t>(port)};
}

bool is_loopback(std::string_view host) {
  if (host == "localhost") return true;
  boost::system::error_code ec;
  auto address = asio::ip::make_address(std::string(host), ec);
  return !ec && address.is_loopback();
}

std::string read_token_file(const std::string& path) {
  auto text = read_file_if_exists(path);
  if (!text) fail("cannot read --token-file {}: no such file", path);
  std::string token(trim(std::string_view(*text).substr(0, text->find('\n'))));
  if (token.empty())
    fail("--token-file {} is empty: write the token clients send as \"Bearer TOKEN\" in it", path);
  return token;
}

bool is_local_host_header(std::string_view host, uint16_t port) {
  std::string lower;
  for (char c : host) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (std::string_view name : {"127.0.0.1", "[::1]", "localhost"}) {
    if (lower == fmt::format("{}:{}", name, port)) return true;
    if (port == 80 && lower == name) return true;
  }
  return false;
}

bool same_token(std::string_view given, std::string_view expected) {
  if (given.size() != expected.size()) return false;
  return CRYPTO_memcmp(given.data(), expected.data(), given.size()) == 0;
}

struct Server::State {
  ServeOptions options;
  std::string token;
  asio::io_context io;
  tcp::acceptor acceptor{io};
  uint16_t port = 0;
  Monitor monitor;
  EventFeed events;
  std::atomic<size_t> connections{0};
  std::atomic<size_t> streams{0};

  explicit State(const ServeOptions& o) : options(o), monitor(o.store_root), events(o.store_root) {}

  void serve_connection(Connection& connection);
  bool authorized(const http::request<http::empty_body>& request) const;
  bool host_allowed(const http::request<http::empty_body>& request) const;
  Reply answer(const std::string& target);
  void stream(Connection& connection, const std::string& target);
};

Server::Server(const ServeOptions& options) : state_(std::make_unique<State>(options)) {
  ListenAddress address = parse_listen_address(options.listen);
  if (options.token_file.empty() && !is_loopback(address.host)) {
    fail(
        "refusing to serve on {} without --token-file: only loopback addresses may go without a token, as "
        "anyone who reaches the address would see every container",
        options.listen);
  }
  if (!options.token_file.empty()) {
    state_->token = read_token_file(options.token_file);
    struct stat st {};
    if (::stat(options.token_file.c_str(), &st) == 0 && (st.st_mode & (S_IRGRP | S_IROTH))) {
      fmt::print(
          stderr,
          "gocrate serve: warning: --token-file {} is readable by other users (mode {:03o}): run chmod "
          "600 {}\n",
          options.token_file, st.st_mode & 0777, options.token_file);
    }
  }
  tcp::endpoint endpoint(asio::ip::make_address(address.host), address.port);
  boost::system::error_code ec;
  auto& acceptor = state_->acceptor;
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec == asio::error::address_in_use)
    fail("cannot listen on {}: the address is in use; stop what listens there or give another --listen",
         options.listen);
  if (ec) fail("cannot listen on {}: {}", options.listen, ec.message());
  state_->port = acceptor.local_endpoint().port();
}

Server::~Server() = default;

std::string Server::url() const {
  auto endpoint = state_->acceptor.local_endpoint();
  auto address = endpoint.address();
  std::string host = address.is_v6() ? "[" + address.to_string() + "]" : address.to_string();
  return fmt::format("http://{}:{}", host, endpoint.port());
}

void Server::run() {
  state_->events.start();
  // Runs the reads and writes of every connection, each with its deadline.
  std::thread([this] {
    auto work = asio::make_work_guard(state_->io);
    state_->io.run();
  }).detach();
  for (;;) {
    boost::system::error_code ec;
    tcp::socket socket(state_->io);
    state_->acceptor.accept(socket, ec);
    if (ec) {
      // Out of descriptors or a connection reset before it was taken: the next one may do.
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      continue;
    }
    if (state_->connections.load() >= kMaxConnections) {
      refuse_busy(socket);
      continue;
    }
    ++state_->connections;
    auto connection = std::make_shared<Connection>(std::move(socket));
    bool started = spawn_detached([this, connection] {
      try {
        state_->serve_connection(*connection);
      } catch (const std::exception&) {
        // A connection that broke: nothing to tell anyone.
      }
      --state_->connections;
    });
    if (!started) --state_->connections;  // no thread to spare now: the connection is closed
  }
}

bool Server::State::authorized(const http::request<http::empty_body>& request) const {
  if (token.empty()) return true;
  auto header = request[http::field::authorization];
  std::string_view value(header.data(), header.size());
  if (!value.starts_with("Bearer ")) return false;
  return same_token(trim(value.substr(7)), token);
}

// Without a token, a web page from elsewhere whose name was made to point at
// 127.0.0.1 (DNS rebinding) would read everything: its requests carry its
// own name in Host.
bool Server::State::host_allowed(const http::request<http::empty_body>& request) const {
  if (!token.empty()) return true;
  auto header = request[http::field::host];
  return is_local_host_header(std::string_view(header.data(), header.size()), port);
}

void Server::State::serve_connection(Connection& connection) {
  beast::flat_buffer buffer;
  for (bool first = true;; first = false) {
    if (!first && buffer.size() == 0 && !connection.wait_readable(kIdleTimeout)) return;
    http::request_parser<http::empty_body> parser;
    parser.header_limit(16 * 1024);
    boost::system::error_code ec = connection.read_header(buffer, parser);
    if (ec == http::error::end_of_stream || ec == asio::error::eof || ec == asio::error::connection_reset ||
        ec == beast::error::timeout || ec == asio::error::operation_aborted)
      return;
    http::response<http::string_body> response;
    response.version(11);
    if (ec) {
      response.result(ec == http::error::unexpected_body ? http::status::payload_too_large
                                                         : http::status::bad_request);
      response.set(http::field::content_type, "application/json");
      response.body() = dump({{"message", ec.message()}}) + "\n";
      response.keep_alive(false);
      response.prepare_payload();
      connection.write_message(response);
      return;
    }
    auto& request = parser.get();
    std::string target(request.target());
    std::string path = path_of(target);
    Reply reply;
    const WebAsset* asset = web_asset(path);
    bool keep_alive = request.keep_alive();
    if (request.method() != http::verb::get && request.method() != http::verb::head) {
      reply = error_reply(http::status::method_not_allowed, "only GET and HEAD are served");
    } else if (!host_allowed(request)) {
      reply =
          error_reply(http::status::misdirected_request,
                      fmt::format("without --token-file only Host 127.0.0.1:{0}, [::1]:{0} or localhost:{0} "
                                  "is answered",
                                  port));
      keep_alive = false;
    } else if (asset) {
      // The page's own code holds no data: it asks /api/... with the token.
      reply = {http::status::ok, std::string(asset->content_type), std::string(asset->content), "no-cache"};
    } else if (!authorized(request)) {
      reply = error_reply(http::status::unauthorized,
                          "send the token of --token-file as \"Authorization: Bearer TOKEN\"");
    } else if (path == "/api/stream" && request.method() == http::verb::head) {
      reply = {http::status::ok, "text/event-stream", ""};
      keep_alive = false;
    } else if (path == "/api/stream") {
      stream(connection, target);
      return;
    } else {
      try {
        reply = answer(target);
      } catch (const Error& e) {
        reply = error_reply(http::status::not_found, e.what());
      } catch (const std::exception& e) {
        reply = error_reply(http::status::internal_server_error, e.what());
      }
    }
    response.result(reply.status);
    response.set(http::field::content_type, reply.content_type);
    response.set(http::field::cache_control, reply.cache);
    response.set(http::field::server, "gocrate/" GOCRATE_VERSION);
    if (reply.status == http::status::unauthorized) response.set(http::field::www_authenticate, "Bearer");
    if (reply.status == http::status::method_not_allowed) response.set(http::field::allow, "GET, HEAD");
    response.keep_alive(keep_alive);
    size_t length = reply.body.size();
    if (request.method() != http::verb::head) response.body() = std::move(reply.body);
    response.content_length(length);
    ec = connection.write_message(response);
    if (ec || !keep_alive) return;
  }
}

Reply Server::State::answer(const std::string& target) {
  std::string path = path_of(target);
  if (path == "/metrics") {
    auto text = prometheus_text(monitor.containers(), monitor.images(), events.counts(), now_ms());
    return {http::status::ok, "text/plain; version=0.0.4; charset=utf-8", std::move(text)};
  }
  if (path == "/api/containers") {
    json list = json::array();
    for (const auto& c : monitor.containers()) list.push_back(container_json(c));
    return json_reply(list);
  }
  if (path.starts_with("/api/containers/")) {
    std::string rest = path.substr(16);
    bool logs = rest.ends_with("/logs");
    if (logs) rest.resize(rest.size() - 5);
    if (rest.empty() || rest.find('/') != std::string::npos)
      return error_reply(http::status::not_found, "no such path: " + path);
    ContainerSample c = monitor.container(rest);
    if (!logs) return json_reply(container_json(c));
    int64_t tail = kLogTail;
    std::string wanted = query_value(target, "tail");
    if (!wanted.empty() && !parse_int(wanted, 0, 100000, tail))
      return error_reply(http::status::bad_request,
                         "invalid tail " + wanted + ": use a number of lines, 0 to 100000");
    return json_reply(log_json(monitor.log_tail(c.view, static_cast<size_t>(tail))));
  }
  if (path == "/api/images") {
    json list = json::array();
    for (const auto& image : monitor.images()) list.push_back(image_json(image));
    return json_reply(list);
  }
  if (path == "/api/events") {
    json list = json::array();
    for (const auto& e : events.recent()) list.push_back(e.json);
    return json_reply(list);
  }
  return error_reply(http::status::not_found, "no such path: " + path);
}

// Server-sent events until the client goes: "containers" every tick (the
// page draws its charts from them), "images" when the store's names change,
// "event" for each new journal record, and with ?logs=CONTAINER "log" for
// the lines that container writes.
void Server::State::stream(Connection& connection, const std::string& target) {
  struct Counted {
    std::atomic<size_t>& count;
    ~Counted() { --count; }
  } counted{streams};
  if (++streams > kMaxStreams) {
    connection.write(busy_response(fmt::format(
        "{} streams are open, the most the server sends: close one or try again later", kMaxStreams)));
    return;
  }
  auto send = [&](std::string_view event, const json& data) {
    std::string message = fmt::format("event: {}\ndata: {}\n\n", event, dump(data));
    return !connection.write(message);
  };
  std::string head =
      "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-store\r\n"
      "Connection: close\r\nX-Accel-Buffering: no\r\n\r\nretry: 1000\n\n";
  if (connection.write(head)) return;

  std::optional<ContainerView> log_container;
  std::unique_ptr<ContainerLogReader> log_reader;
  if (std::string ref = query_value(target, "logs"); !ref.empty()) {
    try {
      ContainerSample c = monitor.container(ref);
      json lines = log_json(monitor.log_tail(c.view, kLogTail));
      if (!send("logs", {{"id", c.view.state.id}, {"lines", lines}})) return;
      if (c.view.state.supervised) {
        // Positioned at the end; what is written from now on comes through read_new.
        log_reader = std::make_unique<ContainerLogReader>(c.view.dir);
        log_reader->read_all([](const LogEntry&) {});
      }
      log_container = c.view;
    } catch (const Error& e) {
      if (!send("error", {{"message", e.what()}})) return;
    }
  }

  uint64_t seen = 0;
  {
    json recent = json::array();
    for (const auto& e : events.recent()) {
      recent.push_back(e.json);
      seen = e.sequence;
    }
    if (!send("events", recent)) return;
  }
  std::string image_names;
  auto last_tick = std::chrono::steady_clock::time_point{};
  int ticks = 0;
  for (;;) {
    auto now = std::chrono::steady_clock::now();
    if (now - last_tick >= kStreamTick) {
      last_tick = now;
      json list = json::array();
      for (const auto& c : monitor.containers()) list.push_back(container_json(c));
      if (!send("containers", list)) return;
      if (ticks++ % 4 == 0) {
        json images = json::array();
        std::string names;
        for (const auto& image : monitor.images()) {
          names += image.name + "@" + image.digest + "\n";
          images.push_back(image_json(image));
        }
        if (names != image_names) {
          image_names = names;
          if (!send("images", images)) return;
        }
      }
      if (log_reader) {
        json lines = json::array();
        log_reader->read_new([&](const LogEntry& e) {
          lines.push_back({{"time", std::string(e.time)},
                           {"stream", e.stream == LogStream::out ? "stdout" : "stderr"},
                           {"text", std::string(e.text)},
                           {"partial", e.partial}});
        });
        if (!lines.empty() && !send("log", {{"id", log_container->state.id}, {"lines", lines}})) return;
      }
    }
    auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(
        kStreamTick - (std::chrono::steady_clock::now() - last_tick));
    for (const auto& e : events.after(seen, std::max(wait, std::chrono::milliseconds(1)))) {
      seen = e.sequence;
      if (!send("event", e.json)) return;
    }
  }
}

}  // namespace gocrate
