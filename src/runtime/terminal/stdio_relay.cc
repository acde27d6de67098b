#include "runtime/terminal/stdio_relay.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "util/error.h"

namespace gocrate {

namespace {

constexpr size_t kChunk = size_t{1} << 16;

void make_pipe(UniqueFd& read_end, UniqueFd& write_end) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) fail_errno("cannot create a pipe for the container's standard streams");
  read_end.reset(fds[0]);
  write_end.reset(fds[1]);
}

void set_nonblocking(int fd) {
  int flags = ::fcntl(fd, F_GETFL);
  if (flags >= 0) ::fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

// Writes all of `data` to a host descriptor that may be non-blocking (a
// shared terminal or pipe the user set so): false when its reader is gone.
bool write_to_host(int fd, const char* data, size_t size) {
  while (size > 0) {
    ssize_t n = ::write(fd, data, size);
    if (n > 0) {
      data += n;
      size -= static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) {
      pollfd writable{fd, POLLOUT, 0};
      ::poll(&writable, 1, -1);
      continue;
    }
    return false;
  }
  return true;
}

// SIGPIPE ignored while the relay runs: a closed host output is an error
// to handle, not the end of gocrate (and of the container with it).
class IgnoredSigpipe {
 public:
  IgnoredSigpipe() {
    struct sigaction ignore {};
    ignore.sa_handler = SIG_IGN;
    ::sigaction(SIGPIPE, &ignore, &saved_);
  }
  ~IgnoredSigpipe() { ::sigaction(SIGPIPE, &saved_, nullptr); }

 private:
  struct sigaction saved_ {};
};

// One of the container's output pipes, copied to a host descriptor.
struct Output {
  UniqueFd* pipe;
  int host;

  // Copies what is there now; false once the pipe has ended (EOF, or the
  // host's reader is gone, in which case the pipe is closed).
  bool copy(std::string& buffer) {
    for (;;) {
      ssize_t n = ::read(pipe->get(), buffer.data(), buffer.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN) return true;
      if (n <= 0 || !write_to_host(host, buffer.data(), static_cast<size_t>(n))) {
        pipe->reset();
        return false;
      }
      if (static_cast<size_t>(n) < buffer.size()) return true;
    }
  }
};

}  // namespace

StdioRelay::StdioRelay(int in, int out, int err, bool forward_input)
    : host_in_(forward_input ? in : -1), host_out_(out), host_err_(err) {
  if (forward_input) make_pipe(in_read_, in_write_);
  make_pipe(out_read_, out_write_);
  make_pipe(err_read_, err_write_);
}

StdioRelay::~StdioRelay() = default;

void StdioRelay::close_container_ends() {
  in_read_.reset();
  out_write_.reset();
  err_write_.reset();
}

void StdioRelay::run(int pidfd, const std::vector<int>& forward, const std::function<void(int)>& on_signal) {
  close_container_ends();
  IgnoredSigpipe ignored_sigpipe;
  sigset_t set;
  sigemptyset(&set);
  for (int sig : forward) sigaddset(&set, sig);
  UniqueFd signals(forward.empty() ? -1 : ::signalfd(-1, &set, SFD_CLOEXEC));
  for (UniqueFd* fd : {&in_write_, &out_read_, &err_read_}) {
    if (*fd) set_nonblocking(fd->get());
  }
  Output outputs[2] = {{&out_read_, host_out_}, {&err_read_, host_err_}};
  std::string buffer(kChunk, '\0');
  std::string input;  // read from the host, not yet taken by the container
  size_t input_offset = 0;
  bool input_open = static_cast<bool>(in_write_);

  for (;;) {
    enum { kExit, kSignals, kStdout, kStderr, kHostIn, kContainerIn, kCount };
    pollfd fds[kCount] = {};
    fds[kExit] = {pidfd, POLLIN, 0};
    fds[kSignals] = {signals.get(), POLLIN, 0};
    fds[kStdout] = {out_read_ ? out_read_.get() : -1, POLLIN, 0};
    fds[kStderr] = {err_read_ ? err_read_.get() : -1, POLLIN, 0};
    bool want_input = input_open && input_offset == input.size();
    fds[kHostIn] = {want_input ? host_in_ : -1, POLLIN, 0};
    fds[kContainerIn] = {input_open && !want_input ? in_write_.get() : -1, POLLOUT, 0};
    if (::poll(fds, kCount, -1) < 0) {
      if (errno == EINTR) continue;
      fail_errno("cannot relay the container's standard streams");
    }
    if (fds[kSignals].revents & POLLIN) {
      signalfd_siginfo info{};
      if (::read(signals.get(), &info, sizeof info) == sizeof info)
        on_signal(static_cast<int>(info.ssi_signo));
    }
    for (int i : {kStdout, kStderr}) {
      if (fds[i].revents) outputs[i - kStdout].copy(buffer);
    }
    if (fds[kHostIn].revents) {
      ssize_t n = ::read(host_in_, buffer.data(), buffer.size());
      if (n > 0) {
        input.assign(buffer.data(), static_cast<size_t>(n));
        input_offset = 0;
      } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
        in_write_.reset();  // the container reads end of file
        input_open = false;
      }
    }
    if (fds[kContainerIn].revents) {
      ssize_t n = ::write(in_write_.get(), input.data() + input_offset, input.size() - input_offset);
      if (n > 0) {
        input_offset += static_cast<size_t>(n);
      } else if (n < 0 && errno != EINTR && errno != EAGAIN) {
        in_write_.reset();  // the container closed its input
        input_open = false;
      }
    }
    if (fds[kExit].revents & (POLLIN | POLLHUP)) break;
  }
  // What the process wrote before it ended is in the pipes now.
  for (auto& output : outputs) {
    while (*output.pipe && output.copy(buffer)) {
      pollfd more{output.pipe->get(), POLLIN, 0};
      if (::poll(&more, 1, 0) != 1) break;
    }
  }
  in_write_.reset();
}

}  // namespace gocrate
