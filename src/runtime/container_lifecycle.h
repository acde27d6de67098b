#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "runtime/containment/cgroups.h"
#include "runtime/state.h"
#include "runtime/terminal/exec.h"

namespace gocrate {

// What commands do to containers that exist: everything they know is in the
// files of the state directory (README.md), so each call reads them and, for
// a running container, talks to its supervisor or signals it. A container is
// named by `ref`: a full id, a name, or a prefix of exactly one id.

// A container as commands see it: its state and whether a process (its
// supervisor or foreground gocrate) still owns it.
struct ContainerView {
  ContainerState state;
  std::string dir;
  bool owned = false;

  // A paused container is running, as Docker's State.Running says.
  bool running() const {
    return owned && (state.status == ContainerStatus::running || state.status == ContainerStatus::paused);
  }
  bool paused() const { return owned && state.status == ContainerStatus::paused; }
  bool active() const {
    return running() || (owned && (state.status == ContainerStatus::restarting ||
                                   state.status == ContainerStatus::created));
  }
};

// An error naming `ref` when no container, or more than one id, matches it.
ContainerView find_container(const ContainerDirectory& directory, const std::string& ref);
// Every container, the last created first.
std::vector<ContainerView> all_containers(const ContainerDirectory& directory);

// "running", "exited (1)", "restarting (1)", "dead (supervisor gone)".
std::string status_text(const ContainerView& c);
[[noreturn]] void fail_not_running(const ContainerView& c);

// The stop signal, then SIGKILL after `timeout_seconds` (default: the
// container's stop timeout, else 10); returns once nothing owns it.
void stop_container(const std::string& store_root, const std::string& ref,
                    std::optional<int> timeout_seconds);
// `signal` to a running container (through its supervisor, which then
// does not restart it for SIGKILL or the stop signal).
void kill_container(const std::string& store_root, const std::string& ref, int signal);
// Removes a container that is not running, with `force` one that is, once
// it has stopped: its state, log, upper layer and cgroups.
void remove_container(const std::string& store_root, const std::string& ref, bool force);
// Waits until the container stops: its exit code (128 + SIGKILL for one
// whose owner was killed).
int wait_container(const std::string& store_root, const std::string& ref);
// Calls `read_new` now and whenever the container's directory changes, until
// nothing owns the container or its directory is gone (logs -f).
void follow_container(const std::string& container_dir, const std::function<void()>& read_new);

// The containers `start --boot` starts: detached ones a reboot or a lost
// supervisor stopped whose restart policy starts them at boot.
std::vector<std::string> containers_to_start_at_boot(const std::string& store_root);
// Starts a detached container that is not running again (a new supervisor).
void start_container(const std::string& store_root, const std::string& ref);

// `command` in a running container with gocrate's standard streams, a pty
// with `tty`, and input forwarded with `interactive`; SIGHUP, SIGINT,
// SIGQUIT, SIGTERM, SIGUSR1 and SIGUSR2 go to it. Its exit code.
int exec_in_container(const std::string& store_root, const ContainerState& container, const ExecSpec& spec,
                      bool tty, bool interactive);

// For stats: the container's cgroup counters now; the host's memory and the
// container's memory limit (`host` when it has none).
CgroupStats container_stats(const ContainerState& s);
uint64_t host_memory_bytes();
uint64_t container_memory_limit(const ContainerState& s, uint64_t host);

}  // namespace gocrate
