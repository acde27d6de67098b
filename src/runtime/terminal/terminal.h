#pragma once

#include <sys/types.h>

#include <functional>
#include <vector>

#include "util/fs.h"

struct termios;

namespace gocrate {

struct TerminalSize {
  unsigned short rows = 0;
  unsigned short columns = 0;
};

// The window size of the terminal on `fd`; zero when `fd` is not a terminal.
TerminalSize terminal_size(int fd);

// In a container's process, inside its root and before it drops privileges:
// opens a pty pair in the container's own devpts (/dev/ptmx), so that its
// name means something inside; sizes it; makes the slave the controlling
// terminal of a new session and the standard streams; and sends the master
// to the starter over `socket` (SCM_RIGHTS).
void attach_new_terminal(int socket, TerminalSize size);
// The starter's side: the master, or an empty fd when the process ended (or
// failed) before sending it.
UniqueFd receive_terminal(int socket);

// Relays between the user's terminal and a container's pty, as `run -it` and
// `exec -it` do: `in` in raw mode while the relay lives (when it is a
// terminal), input passed on when `forward_input`, output copied to `out`,
// and the window size followed.
class TerminalRelay {
 public:
  TerminalRelay(int master, int in, int out, bool forward_input);
  TerminalRelay(const TerminalRelay&) = delete;
  ~TerminalRelay();

  // Relays until the process behind `pidfd` has exited and the output it
  // left is copied. The signals in `forward` must be blocked by the caller
  // (with SIGWINCH); each one received goes to `on_signal`, SIGWINCH resizes
  // the container's terminal.
  void run(int pidfd, const std::vector<int>& forward, const std::function<void(int)>& on_signal);

 private:
  void resize() const;
  ssize_t copy_output() const;

  int master_;
  int in_;
  int out_;
  bool forward_input_;
  termios* saved_mode_ = nullptr;
};

}  // namespace gocrate
