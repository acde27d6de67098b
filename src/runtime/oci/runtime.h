#pragma once

#include <sys/types.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "runtime/oci/spec.h"

// The OCI runtime (runtime-spec "Runtime and Lifecycle"): what the
// `gocrate-runtime` command line (runc's verbs) calls, and what engines
// (containerd, Podman, Docker) reach through it. Each container is a
// directory under the root (`--root`, default /run/gocrate-runtime) holding
// its state; there is no daemon: `create` leaves the container's init
// waiting for `start`, parented to the caller (a shim or conmon, which
// reaps it).
namespace gocrate::oci {

enum class Status { creating, created, running, paused, stopped };
std::string_view status_name(Status status);  // "created", as the spec spells it

// The runtime-spec state, plus what `list` shows.
struct State {
  std::string oci_version{kSpecVersion};
  std::string id;
  Status status = Status::creating;
  pid_t pid = 0;  // of the container's init while it exists
  std::string bundle;
  std::map<std::string, std::string> annotations;
  std::string created;  // RFC 3339 with nanoseconds
  std::string owner;    // the user name of whoever created it ("" for root: runc shows "root")
  std::string rootfs;
};
// runtime-spec state JSON (`state`, hooks' stdin).
std::string state_json_text(const State& state);

struct RuntimeOptions {
  std::string root = "/run/gocrate-runtime";
  bool systemd_cgroup = false;  // refused: no systemd cgroup driver
  bool debug = false;
};

struct CreateOptions {
  std::string bundle = ".";
  std::string pid_file;        // written with the init's pid once created
  std::string console_socket;  // with process.terminal: the pty master is sent here (SCM_RIGHTS)
  int console_fd = -1;         // instead, a connected socket (run relays the terminal itself)
  bool no_pivot = false;       // MS_MOVE + chroot instead of pivot_root
  bool no_new_keyring = false;
  int preserve_fds = 0;  // fds 3 .. 3+N-1 of the caller are passed to the process
};

// Makes the container: namespaces, mounts, cgroup, hooks up to
// createContainer; the process waits for start(). Throws with the reason;
// nothing is left behind.
void create(const RuntimeOptions& runtime, const std::string& id, const CreateOptions& options);
// Lets the created container's init execute its program (startContainer and
// poststart hooks around it).
void start(const RuntimeOptions& runtime, const std::string& id);
// create + start; without `detach` waits for the process and deletes the
// container, returning its exit code (128+signal).
int run(const RuntimeOptions& runtime, const std::string& id, const CreateOptions& options, bool detach);

State state(const RuntimeOptions& runtime, const std::string& id);
std::vector<State> list(const RuntimeOptions& runtime);
// Signals the init (or, with `all`, every process in the container's cgroup).
void kill(const RuntimeOptions& runtime, const std::string& id, int signal, bool all);
// Removes a stopped container (poststop hooks run); with `force` kills it first.
void remove(const RuntimeOptions& runtime, const std::string& id, bool force);

struct ExecOptions {
  Process process;
  bool detach = false;
  std::string console_socket;
  std::string pid_file;
  int preserve_fds = 0;
};
// Runs another process in the container; without `detach` waits and returns
// its exit code.
int exec(const RuntimeOptions& runtime, const std::string& id, const ExecOptions& options);

// Host pids of the container's processes.
std::vector<pid_t> processes(const RuntimeOptions& runtime, const std::string& id);
void pause(const RuntimeOptions& runtime, const std::string& id);
void resume(const RuntimeOptions& runtime, const std::string& id);
// Applies new limits to a created, running or paused container.
void update(const RuntimeOptions& runtime, const std::string& id, const Resources& resources);

}  // namespace gocrate::oci
