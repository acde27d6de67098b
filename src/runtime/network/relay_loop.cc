#include "runtime/network/relay_loop.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <span>
#include <string>

#include "util/error.h"

namespace gocrate {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

namespace {

constexpr size_t kChunk = size_t{1} << 16;
constexpr int kMaxEvents = 64;
constexpr int kAcceptBatch = 32;
constexpr int kDatagramBatch = 32;
constexpr size_t kPipePoolSize = 64;
// After accept() ran out of descriptors: how long the port stays unwatched.
constexpr auto kAcceptPause = 100ms;

// What an epoll event points to.
class Handler {
 public:
  virtual void on_event(uint32_t events) = 0;

 protected:
  ~Handler() = default;
};

struct Pipe {
  int read = -1;
  int write = -1;
};

sockaddr_in container_loopback(uint16_t port) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return address;
}

void set_no_delay(int fd) {
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

// Closing with linger 0 sends a reset instead of a FIN: how a relayed
// connection tells the peer that the other side failed.
void reset_and_close(int fd) {
  linger abort_on_close{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &abort_on_close, sizeof abort_on_close);
  ::close(fd);
}

}  // namespace

class TcpConnection;
class UdpSession;

struct RelayLoop::Impl {
  Impl(const std::vector<BoundPort>& ports, int stop_fd, std::chrono::milliseconds udp_idle_timeout);
  ~Impl();

  void run();
  void watch(int fd, uint32_t events, Handler* handler);
  void change(int fd, uint32_t events, Handler* handler);
  void unwatch(int fd);
  Pipe take_pipe();
  void give_back_pipe(Pipe pipe, bool empty);
  void retire(TcpConnection* connection);
  void pause_listener(class TcpListener* listener);

  UniqueFd epoll;
  int stop_fd;
  std::chrono::milliseconds udp_idle_timeout;
  std::vector<std::unique_ptr<class TcpListener>> tcp_listeners;
  std::vector<std::unique_ptr<class UdpListener>> udp_listeners;
  std::map<TcpConnection*, std::unique_ptr<TcpConnection>> connections;
  std::vector<std::unique_ptr<TcpConnection>> retired;  // freed after the batch of events
  std::vector<Pipe> pipe_pool;
  std::vector<char> scratch;  // a chunk or a datagram on its way through
  Clock::time_point next_sweep{};
  bool stopping = false;

 private:
  int next_timeout_ms() const;
  void on_timer();
};

// ---- TCP ----------------------------------------------------------------

// One accepted connection and its twin inside the container.
class TcpConnection {
 public:
  TcpConnection(RelayLoop::Impl& loop, UniqueFd client, UniqueFd server, bool connected)
      : loop_(loop), client_(std::move(client)), server_(std::move(server)), connecting_(!connected) {
    if (connecting_) {
      loop_.watch(server_.get(), EPOLLOUT, &server_side_);
    } else {
      begin_relaying();
    }
  }

  ~TcpConnection() {
    for (Direction* d : {&up_, &down_}) {
      if (d->pipe.read >= 0) loop_.give_back_pipe(d->pipe, d->buffered == 0);
    }
  }

  // Tears both sockets down; `reset` passes a failure on as a reset.
  void close(bool reset) {
    if (closed_) return;
    closed_ = true;
    for (UniqueFd* fd : {&client_, &server_}) {
      if (!*fd) continue;
      loop_.unwatch(fd->get());
      if (reset) {
        reset_and_close(fd->release());
      } else {
        fd->reset();
      }
    }
    loop_.retire(this);
  }

 private:
  // Bytes one way: from a socket into a pipe, from the pipe into the other
  // socket.
  struct Direction {
    Pipe pipe;
    size_t buffered = 0;
    bool eof = false;        // the source sent FIN
    bool shut_down = false;  // passed on with shutdown(SHUT_WR)
    bool bulk = false;       // the last read filled a whole chunk: splice the next
    bool wants_read() const { return !eof && buffered == 0; }
    bool wants_write() const { return buffered > 0; }
  };

  struct Side final : Handler {
    Side(TcpConnection* connection, bool client) : connection(connection), client(client) {}
    void on_event(uint32_t events) override { connection->on_event(client, events); }
    TcpConnection* connection;
    bool client;
  };

  void begin_relaying() {
    connecting_ = false;
    client_events_ = EPOLLIN;
    server_events_ = EPOLLIN;
    loop_.watch(client_.get(), client_events_, &client_side_);
    if (server_watched_) {
      loop_.change(server_.get(), server_events_, &server_side_);
    } else {
      loop_.watch(server_.get(), server_events_, &server_side_);
    }
  }

  void finish_connect() {
    int error = 0;
    socklen_t size = sizeof error;
    if (::getsockopt(server_.get(), SOL_SOCKET, SO_ERROR, &error, &size) != 0 || error != 0)
      return close(true);
    server_watched_ = true;
    begin_relaying();
  }

  void on_event(bool client, uint32_t events) {
    if (closed_) return;
    if (connecting_) {
      if (!client) finish_connect();
      return;
    }
    if (events & EPOLLERR) return close(true);
    Direction& from_this = client ? up_ : down_;
    Direction& to_this = client ? down_ : up_;
    if (events & (EPOLLIN | EPOLLHUP)) {
      if (!pump(from_this, client)) return;
    }
    if (events & EPOLLOUT) {
      if (!pump(to_this, !client)) return;
    }
    if ((events & EPOLLHUP) && from_this.eof && !to_this.wants_write() && !to_this.eof) {
      return close(true);  // the peer is gone both ways while the other side still talks
    }
    if (up_.shut_down && down_.shut_down) return close(false);
    update_interest();
  }

  // Moves at most one chunk from the source: small reads are copied and sent
  // on at once (cheaper than two splices for the small messages most traffic
  // is made of); after a read that filled a whole chunk the next one is
  // spliced into the pipe instead, without copies. What the destination does
  // not take waits in the pipe (taken from the pool only when needed) and
  // leaves it by splice before anything more is read. False when the
  // connection was closed.
  bool pump(Direction& d, bool from_client) {
    int from = from_client ? client_.get() : server_.get();
    int to = from_client ? server_.get() : client_.get();
    if (d.wants_read() && !(d.bulk ? splice_chunk(d, from) : relay_chunk(d, from, to))) return false;
    if (d.buffered > 0) {
      ssize_t n = ::splice(d.pipe.read, nullptr, to, nullptr, d.buffered, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
      if (n > 0) {
        d.buffered -= static_cast<size_t>(n);
      } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
        close(true);
        return false;
      }
    }
    if (d.eof && d.buffered == 0 && !d.shut_down) {
      ::shutdown(to, SHUT_WR);
      d.shut_down = true;
    }
    return true;
  }

  bool splice_chunk(Direction& d, int from) {
    if (d.pipe.read < 0) d.pipe = loop_.take_pipe();
    if (d.pipe.read < 0) {
      close(true);
      return false;
    }
    ssize_t n = ::splice(from, nullptr, d.pipe.write, nullptr, kChunk, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
    if (n > 0) {
      d.buffered = static_cast<size_t>(n);
      d.bulk = d.buffered == kChunk;
    } else if (n == 0) {
      d.eof = true;
    } else if (errno != EAGAIN && errno != EINTR) {
      close(true);
      return false;
    }
    return true;
  }

  bool relay_chunk(Direction& d, int from, int to) {
    std::span<char> chunk(loop_.scratch.data(), kChunk);
    ssize_t n = ::recv(from, chunk.data(), chunk.size(), MSG_DONTWAIT);
    if (n == 0) {
      d.eof = true;
      return true;
    }
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) return true;
      close(true);
      return false;
    }
    ssize_t sent = ::send(to, chunk.data(), static_cast<size_t>(n), MSG_DONTWAIT | MSG_NOSIGNAL);
    if (sent < 0) {
      if (errno != EAGAIN && errno != EINTR) {
        close(true);
        return false;
      }
      sent = 0;
    }
    d.bulk = static_cast<size_t>(n) == chunk.size();
    if (sent == n) return true;
    return keep_unsent(d, chunk.subspan(static_cast<size_t>(sent), static_cast<size_t>(n - sent)));
  }

  // The chunk fits: take_pipe() gives pipes that hold a whole chunk.
  bool keep_unsent(Direction& d, std::span<const char> unsent) {
    if (d.pipe.read < 0) d.pipe = loop_.take_pipe();
    if (d.pipe.read < 0 ||
        ::write(d.pipe.write, unsent.data(), unsent.size()) != static_cast<ssize_t>(unsent.size())) {
      close(true);
      return false;
    }
    d.buffered = unsent.size();
    return true;
  }

  // What a socket waits for: input while its outgoing direction may read,
  // room while its incoming direction has bytes for it.
  static uint32_t interest(const Direction& outgoing, const Direction& incoming) {
    uint32_t events = 0;
    if (outgoing.wants_read()) events |= EPOLLIN;
    if (incoming.wants_write()) events |= EPOLLOUT;
    return events;
  }

  void update_interest() {
    uint32_t client_events = interest(up_, down_);
    uint32_t server_events = interest(down_, up_);
    if (client_events != client_events_)
      loop_.change(client_.get(), client_events_ = client_events, &client_side_);
    if (server_events != server_events_)
      loop_.change(server_.get(), server_events_ = server_events, &server_side_);
  }

  RelayLoop::Impl& loop_;
  UniqueFd client_;  // accepted on the host
  UniqueFd server_;  // inside the container
  Side client_side_{this, true};
  Side server_side_{this, false};
  Direction up_;    // client to server
  Direction down_;  // server to client
  uint32_t client_events_ = 0;
  uint32_t server_events_ = 0;
  bool connecting_;
  bool server_watched_ = false;
  bool closed_ = false;
};

class TcpListener final : public Handler {
 public:
  TcpListener(RelayLoop::Impl& loop, int fd, uint16_t container_port)
      : loop_(loop), fd_(fd), container_port_(container_port) {}

  int fd() const { return fd_; }
  Clock::time_point paused_until{};

  void on_event(uint32_t) override {
    for (int i = 0; i < kAcceptBatch; ++i) {
      UniqueFd client(::accept4(fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
      if (!client) {
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
          loop_.pause_listener(this);
        return;
      }
      connect_inside(std::move(client));
    }
  }

 private:
  // The new socket is made by this thread, so it lives in the container's
  // network namespace.
  void connect_inside(UniqueFd client) {
    UniqueFd server(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!server) return reset_and_close(client.release());
    set_no_delay(client.get());
    set_no_delay(server.get());
    sockaddr_in address = container_loopback(container_port_);
    bool connected = ::connect(server.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
    if (!connected && errno != EINPROGRESS) return reset_and_close(client.release());
    auto connection = std::make_unique<TcpConnection>(loop_, std::move(client), std::move(server), connected);
    TcpConnection* key = connection.get();
    loop_.connections.emplace(key, std::move(connection));
  }

  RelayLoop::Impl& loop_;
  int fd_;
  uint16_t container_port_;
};

// ---- UDP ----------------------------------------------------------------

class UdpListener;

// The datagrams of one source address, through a socket of its own in the
// container, so that replies find their way back.
class UdpSession final : public Handler {
 public:
  UdpSession(RelayLoop::Impl& loop, UdpListener& listener, UniqueFd socket, const sockaddr_storage& source,
             socklen_t source_size)
      : loop_(loop),
        listener_(listener),
        socket_(std::move(socket)),
        source_(source),
        source_size_(source_size) {
    loop_.watch(socket_.get(), EPOLLIN, this);
  }
  ~UdpSession() { loop_.unwatch(socket_.get()); }

  int fd() const { return socket_.get(); }
  Clock::time_point last_active = Clock::now();
  void on_event(uint32_t events) override;

 private:
  RelayLoop::Impl& loop_;
  UdpListener& listener_;
  UniqueFd socket_;
  sockaddr_storage source_;
  socklen_t source_size_;
};

class UdpListener final : public Handler {
 public:
  UdpListener(RelayLoop::Impl& loop, int fd, uint16_t container_port)
      : loop_(loop), fd_(fd), container_port_(container_port) {}

  int fd() const { return fd_; }

  void on_event(uint32_t) override {
    for (int i = 0; i < kDatagramBatch; ++i) {
      sockaddr_storage source{};
      socklen_t source_size = sizeof source;
      ssize_t n = ::recvfrom(fd_, loop_.scratch.data(), loop_.scratch.size(), MSG_DONTWAIT,
                             reinterpret_cast<sockaddr*>(&source), &source_size);
      if (n < 0) return;
      UdpSession* session = session_for(source, source_size);
      if (!session) continue;
      session->last_active = Clock::now();
      [[maybe_unused]] ssize_t sent =
          ::send(session->fd(), loop_.scratch.data(), static_cast<size_t>(n), MSG_DONTWAIT);
    }
  }

  // Closes the sessions that were silent for the idle timeout.
  void expire(Clock::time_point now) {
    std::erase_if(sessions_, [&](const auto& entry) {
      return now - entry.second->last_active >= loop_.udp_idle_timeout;
    });
  }

  bool has_sessions() const { return !sessions_.empty(); }

 private:
  UdpSession* session_for(const sockaddr_storage& source, socklen_t source_size) {
    std::string key(reinterpret_cast<const char*>(&source), source_size);
    auto found = sessions_.find(key);
    if (found != sessions_.end()) return found->second.get();
    UniqueFd socket(::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!socket) return nullptr;
    sockaddr_in address = container_loopback(container_port_);
    if (::connect(socket.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) return nullptr;
    auto session = std::make_unique<UdpSession>(loop_, *this, std::move(socket), source, source_size);
    return sessions_.emplace(std::move(key), std::move(session)).first->second.get();
  }

  friend class UdpSession;
  RelayLoop::Impl& loop_;
  int fd_;
  uint16_t container_port_;
  std::map<std::string, std::unique_ptr<UdpSession>> sessions_;
};

void UdpSession::on_event(uint32_t) {
  for (int i = 0; i < kDatagramBatch; ++i) {
    ssize_t n = ::recv(socket_.get(), loop_.scratch.data(), loop_.scratch.size(), MSG_DONTWAIT);
    if (n < 0) return;  // EAGAIN, or ECONNREFUSED while nothing listens in the container
    last_active = Clock::now();
    [[maybe_unused]] ssize_t sent =
        ::sendto(listener_.fd(), loop_.scratch.data(), static_cast<size_t>(n), MSG_DONTWAIT,
                 reinterpret_cast<const sockaddr*>(&source_), source_size_);
  }
}

// ---- The loop -----------------------------------------------------------

namespace {

class StopHandler final : public Handler {
 public:
  explicit StopHandler(bool& stopping) : stopping_(stopping) {}
  void on_event(uint32_t) override { stopping_ = true; }

 private:
  bool& stopping_;
};

}  // namespace

RelayLoop::Impl::Impl(const std::vector<BoundPort>& ports, int stop_fd,
                      std::chrono::milliseconds udp_idle_timeout)
    : epoll(::epoll_create1(EPOLL_CLOEXEC)),
      stop_fd(stop_fd),
      udp_idle_timeout(udp_idle_timeout),
      scratch(kChunk) {
  if (!epoll) fail_errno("cannot create the port forwarder's epoll instance");
  for (const auto& port : ports) {
    if (port.mapping.protocol == Protocol::tcp) {
      tcp_listeners.push_back(
          std::make_unique<TcpListener>(*this, port.socket.get(), port.mapping.container_port));
      watch(port.socket.get(), EPOLLIN, tcp_listeners.back().get());
    } else {
      udp_listeners.push_back(
          std::make_unique<UdpListener>(*this, port.socket.get(), port.mapping.container_port));
      watch(port.socket.get(), EPOLLIN, udp_listeners.back().get());
    }
  }
}

RelayLoop::Impl::~Impl() {
  stopping = true;
  for (auto& [key, connection] : connections) connection->close(false);
  retired.clear();
  connections.clear();
  udp_listeners.clear();
  for (const auto& pipe : pipe_pool) {
    ::close(pipe.read);
    ::close(pipe.write);
  }
}

void RelayLoop::Impl::watch(int fd, uint32_t events, Handler* handler) {
  epoll_event event{events, {.ptr = handler}};
  if (::epoll_ctl(epoll.get(), EPOLL_CTL_ADD, fd, &event) != 0) fail_errno("cannot watch a forwarded socket");
}

void RelayLoop::Impl::change(int fd, uint32_t events, Handler* handler) {
  epoll_event event{events, {.ptr = handler}};
  ::epoll_ctl(epoll.get(), EPOLL_CTL_MOD, fd, &event);
}

void RelayLoop::Impl::unwatch(int fd) {
  ::epoll_ctl(epoll.get(), EPOLL_CTL_DEL, fd, nullptr);
}

Pipe RelayLoop::Impl::take_pipe() {
  if (!pipe_pool.empty()) {
    Pipe pipe = pipe_pool.back();
    pipe_pool.pop_back();
    return pipe;
  }
  int fds[2];
  if (::pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) return {};
  // Past the user's soft limit on pipe pages a new pipe is smaller.
  if (::fcntl(fds[0], F_GETPIPE_SZ) < static_cast<int>(kChunk) &&
      ::fcntl(fds[0], F_SETPIPE_SZ, static_cast<int>(kChunk)) < 0) {
    ::close(fds[0]);
    ::close(fds[1]);
    return {};
  }
  return {fds[0], fds[1]};
}

void RelayLoop::Impl::give_back_pipe(Pipe pipe, bool empty) {
  if (empty && !stopping && pipe_pool.size() < kPipePoolSize) {
    pipe_pool.push_back(pipe);
    return;
  }
  ::close(pipe.read);
  ::close(pipe.write);
}

void RelayLoop::Impl::retire(TcpConnection* connection) {
  if (stopping) return;
  auto found = connections.find(connection);
  if (found == connections.end()) return;
  retired.push_back(std::move(found->second));
  connections.erase(found);
}

void RelayLoop::Impl::pause_listener(TcpListener* listener) {
  change(listener->fd(), 0, listener);
  listener->paused_until = Clock::now() + kAcceptPause;
}

int RelayLoop::Impl::next_timeout_ms() const {
  auto next = Clock::time_point::max();
  for (const auto& listener : tcp_listeners) {
    if (listener->paused_until != Clock::time_point{}) next = std::min(next, listener->paused_until);
  }
  if (next_sweep != Clock::time_point{}) next = std::min(next, next_sweep);
  if (next == Clock::time_point::max()) return -1;
  auto wait = std::chrono::ceil<std::chrono::milliseconds>(next - Clock::now());
  return static_cast<int>(std::max<int64_t>(wait.count(), 0));
}

void RelayLoop::Impl::on_timer() {
  auto now = Clock::now();
  for (auto& listener : tcp_listeners) {
    if (listener->paused_until != Clock::time_point{} && now >= listener->paused_until) {
      listener->paused_until = {};
      change(listener->fd(), EPOLLIN, listener.get());
    }
  }
  bool sessions = false;
  for (auto& listener : udp_listeners) {
    if (next_sweep != Clock::time_point{} && now >= next_sweep) listener->expire(now);
    sessions = sessions || listener->has_sessions();
  }
  if (!sessions) {
    next_sweep = {};
  } else if (next_sweep == Clock::time_point{} || now >= next_sweep) {
    // Sessions end at most a quarter of the timeout late.
    next_sweep = now + std::clamp<Clock::duration>(udp_idle_timeout / 4, 10ms, 1s);
  }
}

void RelayLoop::Impl::run() {
  StopHandler stop(stopping);
  watch(stop_fd, EPOLLIN, &stop);
  epoll_event events[kMaxEvents];
  while (!stopping) {
    int n = ::epoll_wait(epoll.get(), events, kMaxEvents, next_timeout_ms());
    if (n < 0 && errno != EINTR) fail_errno("the port forwarder cannot wait for its sockets");
    for (int i = 0; i < n; ++i) static_cast<Handler*>(events[i].data.ptr)->on_event(events[i].events);
    retired.clear();
    on_timer();
  }
  unwatch(stop_fd);
}

RelayLoop::RelayLoop(const std::vector<BoundPort>& ports, int stop_fd,
                     std::chrono::milliseconds udp_idle_timeout)
    : impl_(std::make_unique<Impl>(ports, stop_fd, udp_idle_timeout)) {}

RelayLoop::~RelayLoop() = default;

void RelayLoop::run() {
  impl_->run();
}

}  // namespace gocrate
