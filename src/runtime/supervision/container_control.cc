#include "runtime/supervision/container_control.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <thread>

#include "util/error.h"
#include "util/fs.h"

namespace gocrate {

std::string control_fifo_path(const std::string& container_dir) {
  return container_dir + "/control";
}

bool container_is_owned(const std::string& container_dir) {
  UniqueFd dir(::open(container_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir) return false;
  return is_file_locked(dir.get());
}

bool wait_until_released(const std::string& container_dir, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (container_is_owned(container_dir)) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

bool send_supervisor_request(const std::string& container_dir, std::string_view request) {
  UniqueFd fifo(::open(control_fifo_path(container_dir).c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC));
  if (!fifo) return false;  // ENXIO: nobody reads it
  std::string line = std::string(request) + "\n";
  // The supervisor may go away meanwhile: EPIPE, not a fatal SIGPIPE.
  sighandler_t previous = ::signal(SIGPIPE, SIG_IGN);
  ssize_t n = ::write(fifo.get(), line.data(), line.size());
  ::signal(SIGPIPE, previous);
  return n == static_cast<ssize_t>(line.size());
}

bool kill_stuck_owner(const std::string& container_dir, pid_t owner_pid) {
  if (owner_pid <= 0) return false;
  UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, owner_pid, 0)));
  if (!pidfd || !container_is_owned(container_dir)) return false;
  auto comm = read_file_if_exists(fmt::format("/proc/{}/comm", owner_pid));
  if (!comm || !comm->starts_with("gocrate")) return false;
  return ::syscall(SYS_pidfd_send_signal, pidfd.get(), SIGKILL, nullptr, 0) == 0;
}

}  // namespace gocrate
