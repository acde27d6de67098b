#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "runtime/state.h"
#include "runtime/terminal/terminal.h"
#include "util/fs.h"

namespace gocrate {

// What runs in a running container: `gocrate exec`, and --health-cmd.
struct ExecSpec {
  std::vector<std::string> args;  // args[0]: a path, or a name found in the PATH of env
  std::vector<std::string> env;   // the container's environment with -e on top
  std::string user;               // docker --user syntax; the container's user by default
  std::string workdir;            // absolute; the container's by default
};

struct ExecIo {
  int stdin_fd = -1;  // -1: /dev/null
  int stdout_fd = 1;
  int stderr_fd = 2;
  bool terminal = false;  // a pty in the container's devpts; its master is terminal()
  TerminalSize terminal_size;
};

// A pidfd for a running container's first process, checked to be that
// process (it sits in the container's cgroup), so that a pid the kernel
// reused is never signalled or entered. Fails "container X is not running".
UniqueFd open_container_pidfd(const ContainerState& state);

// A process started in a running container the way runc exec does: in its
// cgroup, then in every namespace of its first process (mount, pid, uts,
// ipc, network, cgroup), then as the container's user with its bounding
// set, capabilities, no_new_privs and seccomp filter. The starter makes
// itself non-dumpable for good before it makes the process, so that nothing
// in the container can open gocrate's executable or memory through /proc
// while the new process is still gocrate (CVE-2019-5736). The process dies
// with its starter.
class ExecProcess {
 public:
  // Returns once the program was executed, or throws its failure with the
  // exit code `exec` gives (126 not executable, 127 not found, 125 else).
  static ExecProcess start(const std::string& store_root, const ContainerState& container,
                           const ExecSpec& spec, const ExecIo& io);

  ExecProcess(ExecProcess&& other) noexcept;
  ExecProcess& operator=(ExecProcess&&) = delete;
  ~ExecProcess();  // kills and reaps a process that was not waited for

  pid_t pid() const { return pid_; }
  int pidfd() const { return pidfd_.get(); }
  int terminal() const { return terminal_.get(); }
  void signal(int sig) const;
  // Reaps the process: its exit code, or 128 + the signal that ended it.
  int wait();

 private:
  ExecProcess() = default;

  pid_t pid_ = 0;
  UniqueFd pidfd_;
  UniqueFd terminal_;
};

}  // namespace gocrate
