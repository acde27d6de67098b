#include "runtime/terminal/terminal.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "util/error.h"

namespace gocrate {

TerminalSize terminal_size(int fd) {
  winsize ws{};
  if (::ioctl(fd, TIOCGWINSZ, &ws) != 0) return {};
  return {ws.ws_row, ws.ws_col};
}

namespace {

void send_descriptor(int socket, int fd) {
  char tag = 't';
  iovec data{&tag, 1};
  msghdr message{};
  message.msg_iov = &data;
  message.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  message.msg_control = control;
  message.msg_controllen = sizeof control;
  cmsghdr* header = CMSG_FIRSTHDR(&message);
  header->cmsg_level = SOL_SOCKET;
  header->cmsg_type = SCM_RIGHTS;
  header->cmsg_len = CMSG_LEN(sizeof(int));
  std::memcpy(CMSG_DATA(header), &fd, sizeof fd);
  while (::sendmsg(socket, &message, MSG_NOSIGNAL) != 1) {
    if (errno != EINTR) fail_errno("cannot hand the container's terminal over");
  }
}

}  // namespace

void attach_new_terminal(int socket, TerminalSize size) {
  UniqueFd master(::open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC));
  if (!master) fail_errno("cannot open /dev/ptmx in the container");
  int unlock = 0;
  if (::ioctl(master.get(), TIOCSPTLCK, &unlock) != 0) fail_errno("cannot unlock the container's terminal");
  UniqueFd slave(::ioctl(master.get(), TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC));
  if (!slave) fail_errno("cannot open the container's terminal");
  if (size.rows && size.columns) {
    winsize ws{size.rows, size.columns, 0, 0};
    ::ioctl(slave.get(), TIOCSWINSZ, &ws);
  }
  if (::getsid(0) != ::getpid() && ::setsid() < 0)
    fail_errno("cannot start a session for the container's terminal");
  if (::ioctl(slave.get(), TIOCSCTTY, 0) != 0) fail_errno("cannot make the container's terminal controlling");
  for (int target = 0; target < 3; ++target) {
    if (::dup2(slave.get(), target) < 0) fail_errno("cannot connect the container's terminal");
  }
  send_descriptor(socket, master.get());
}

UniqueFd receive_terminal(int socket) {
  char tag = 0;
  iovec data{&tag, 1};
  msghdr message{};
  message.msg_iov = &data;
  message.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  message.msg_control = control;
  message.msg_controllen = sizeof control;
  ssize_t n;
  while ((n = ::recvmsg(socket, &message, MSG_CMSG_CLOEXEC)) < 0 && errno == EINTR) {
  }
  if (n != 1) return {};
  cmsghdr* header = CMSG_FIRSTHDR(&message);
  if (!header || header->cmsg_type != SCM_RIGHTS) return {};
  int fd;
  std::memcpy(&fd, CMSG_DATA(header), sizeof fd);
  return UniqueFd(fd);
}

TerminalRelay::TerminalRelay(int master, int in, int out, bool forward_input)
    : master_(master), in_(in), out_(out), forward_input_(forward_input) {
  ::fcntl(master_, F_SETFL, ::fcntl(master_, F_GETFL) | O_NONBLOCK);
  termios mode{};
  if (forward_input_ && ::tcgetattr(in_, &mode) == 0) {
    saved_mode_ = new termios(mode);
    ::cfmakeraw(&mode);
    ::tcsetattr(in_, TCSANOW, &mode);
  }
}

TerminalRelay::~TerminalRelay() {
  if (saved_mode_) {
    ::tcsetattr(in_, TCSANOW, saved_mode_);
    delete saved_mode_;
  }
}

void TerminalRelay::resize() const {
  winsize ws{};
  if (::ioctl(in_, TIOCGWINSZ, &ws) == 0 || ::ioctl(out_, TIOCGWINSZ, &ws) == 0) {
    ::ioctl(master_, TIOCSWINSZ, &ws);
  }
}

// Copies what the container's terminal has: the number of bytes, 0 when it
// has nothing now, -1 once every slave is closed.
ssize_t TerminalRelay::copy_output() const {
  char buffer[16384];
  ssize_t n = ::read(master_, buffer, sizeof buffer);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return 0;
  if (n <= 0) return -1;
  for (ssize_t done = 0; done < n;) {
    ssize_t w = ::write(out_, buffer + done, n - done);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return -1;
    done += w;
  }
  return n;
}

namespace {

void write_fully(int fd, const char* data, size_t size) {
  while (size > 0) {
    ssize_t w = ::write(fd, data, size);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && errno == EAGAIN) {
      pollfd ready{fd, POLLOUT, 0};
      ::poll(&ready, 1, 100);
      continue;
    }
    if (w <= 0) return;
    data += w;
    size -= w;
  }
}

}  // namespace

void TerminalRelay::run(int pidfd, const std::vector<int>& forward,
                        const std::function<void(int)>& on_signal) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGWINCH);
  for (int sig : forward) sigaddset(&set, sig);
  UniqueFd signals(::signalfd(-1, &set, SFD_CLOEXEC));
  resize();
  bool input_open = forward_input_;
  bool output_open = true;
  for (;;) {
    pollfd fds[4] = {{pidfd, POLLIN, 0},
                     {output_open ? master_ : -1, POLLIN, 0},
                     {signals.get(), POLLIN, 0},
                     {in_, POLLIN, 0}};
    int n = ::poll(fds, input_open ? 4 : 3, -1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail_errno("cannot relay the container's terminal");
    // Every slave closed: nothing more will come, but the process may live on.
    if ((fds[1].revents & (POLLIN | POLLHUP | POLLERR)) && copy_output() < 0) output_open = false;
    if (fds[2].revents & POLLIN) {
      signalfd_siginfo info{};
      if (::read(signals.get(), &info, sizeof info) == sizeof info) {
        int sig = static_cast<int>(info.ssi_signo);
        if (sig == SIGWINCH)
          resize();
        else if (on_signal)
          on_signal(sig);
      }
    }
    if (input_open && (fds[3].revents & (POLLIN | POLLHUP))) {
      char buffer[4096];
      ssize_t r = ::read(in_, buffer, sizeof buffer);
      if (r <= 0)
        input_open = false;
      else
        write_fully(master_, buffer, r);
    }
    if (fds[0].revents & POLLIN) break;
  }
  while (output_open && copy_output() > 0) {
  }
}

}  // namespace gocrate
