#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>
#include <vector>

#include "runtime/oci/spec.h"
#include "util/fs.h"

// The containment sequence of an OCI container's init, as a list of steps
// (containment.cc, `container_init`), and of a process `exec` adds to it.
// The runtime (runtime.cc) spawns the process with the namespaces to
// create and talks to it over `sync`:
//   runtime → init  "go"        (id maps written; the init then joins its cgroup)
//   init → runtime  "hooks"     (mounts made: run prestart/createRuntime)
//   runtime → init  "go <state JSON>" (for createContainer/startContainer hooks)
//   init → runtime  "ready"     (everything but the exec is done), or
//                   "error <exit code> <message>" at any step.
// Then the init blocks opening the exec FIFO until `start` reads it.
namespace gocrate::oci {

struct InitContext {
  const Spec* spec = nullptr;
  std::string rootfs;  // absolute host path
  std::string cgroup;  // the container's cgroup, relative to its hierarchies' roots
  int sync = -1;
  int console = -1;    // connected console socket, or -1
  int exec_fifo = -1;  // O_PATH of the exec FIFO
  int preserve_fds = 0;
  bool no_pivot = false;
  bool no_new_keyring = false;
  std::string id;
  // Cgroup::open_join_files(): the init moves itself (a v1 move from outside
  // waits for an RCU grace period, 10 ms and more).
  const std::vector<UniqueFd>* cgroup_join_files = nullptr;
};

// The namespaces the init is cloned with (those created new, without the
// cgroup namespace, which it enters itself once in its cgroup).
unsigned long clone_flags(const Spec& spec);
// In the process that spawns the init: joins the namespaces given by path,
// the user namespace first.
void join_namespaces_by_path(const Spec& spec);

[[noreturn]] void container_init(const InitContext& context);

// A process joining a running container (`exec`), after setns into its
// namespaces: the same steps from the terminal on.
struct ExecContext {
  const Process* process = nullptr;
  const Spec* spec = nullptr;  // the container's: seccomp, and the defaults
  int sync = -1;
  int console = -1;
  int preserve_fds = 0;
};
[[noreturn]] void exec_init(const ExecContext& context);

// Sync messages.
void send_message(int fd, std::string_view message);
// The next message; empty when the other end closed.
std::string receive_message(int fd);
// "error <code> <message>" → throws Error(message, code); "" → throws
// "the container's init exited during setup".
void expect_message(int fd, std::string_view expected);

}  // namespace gocrate::oci
