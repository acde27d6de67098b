#pragma once

#include <functional>
#include <vector>

#include "util/fs.h"

namespace gocrate {

// A container process's standard streams when it has no terminal: pipes
// that gocrate relays to and from its own, as Docker's and Podman's shims
// do, so that no process in a container ever holds one of the host's files
// or terminals (a reopened /proc/self/fd/1 is the pipe, never the host's
// file; there is no host tty to push input into). Bytes pass unchanged; the
// input's end of file reaches the container as end of file.
class StdioRelay {
 public:
  // The host's side: `in` is relayed to the container's standard input when
  // `forward_input` (else the container reads its own /dev/null), its
  // standard output and error to `out` and `err`.
  StdioRelay(int in, int out, int err, bool forward_input);
  StdioRelay(const StdioRelay&) = delete;
  StdioRelay& operator=(const StdioRelay&) = delete;
  ~StdioRelay();

  // The container's ends, for StartOptions or ExecIo (-1: no input). Once the
  // process is started, close_container_ends() lets the relay see their end.
  int container_stdin() const { return in_read_.get(); }
  int container_stdout() const { return out_write_.get(); }
  int container_stderr() const { return err_write_.get(); }
  void close_container_ends();

  // Relays until the process behind `pidfd` has exited and what it wrote
  // before is copied (what a process it left behind writes later is not
  // waited for). The signals in `forward` must be blocked by the caller;
  // each one received goes to `on_signal`. When the host's output is closed
  // the container's pipe is closed too, so the program sees EPIPE as it
  // would without a container.
  void run(int pidfd, const std::vector<int>& forward, const std::function<void(int)>& on_signal);

 private:
  int host_in_;
  int host_out_;
  int host_err_;
  UniqueFd in_read_, in_write_;
  UniqueFd out_read_, out_write_;
  UniqueFd err_read_, err_write_;
};

}  // namespace gocrate
