#pragma once

#include <chrono>
#include <string>
#include <string_view>

namespace gocrate {

// How commands reach a running container's owner: the supervisor of a
// detached container, or the foreground gocrate that runs one. Either holds
// the flock on the container's directory while it lives; a supervisor also
// reads requests from the FIFO <dir>/control.

// Whether a process (supervisor or foreground gocrate) still owns the
// container.
bool container_is_owned(const std::string& container_dir);
// Waits until nothing owns the container; false after `timeout`.
bool wait_until_released(const std::string& container_dir, std::chrono::milliseconds timeout);

// Requests to a supervisor, one line each: false when no supervisor reads
// the FIFO (it is gone).
//   stop SECONDS  stop signal now, SIGKILL after SECONDS; no restart
//   kill SIGNAL   the signal to the container; SIGKILL or the stop signal
//                 also prevent a restart, as in Docker
//   reload 0      read config.json again (rename, update): the name, the
//                 limits of later starts and the restart policy
bool send_supervisor_request(const std::string& container_dir, std::string_view request);

std::string control_fifo_path(const std::string& container_dir);

// Kills the owner of a container whose start never finished (SIGKILL; its
// container dies with it): only while it still holds the container's lock
// and is a gocrate process, so that a reused pid is never signalled. False
// when there was nothing to kill.
bool kill_stuck_owner(const std::string& container_dir, pid_t owner_pid);

}  // namespace gocrate
