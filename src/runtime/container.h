#pragma once

#include <sys/types.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "image/platform.h"
#include "runtime/containment/capabilities.h"
#include "runtime/containment/cgroups.h"
#include "runtime/containment/device_rules.h"
#include "runtime/containment/etc_files.h"
#include "runtime/containment/mounts.h"
#include "runtime/containment/namespaces.h"
#include "runtime/containment/sysctls.h"
#include "runtime/containment/ulimits.h"
#include "runtime/network/outbound_network.h"
#include "runtime/state.h"
#include "runtime/terminal/terminal.h"
#include "util/fs.h"

namespace gocrate {

// Everything a container is started from: built by `gocrate run` from the
// image's config and the flags (cli/run_command.cc), or by a supervisor.
struct ContainerSpec {
  std::string id;                         // empty: a new random id
  std::string name;                       // empty: the first 12 digits of the id
  std::string hostname;                   // empty: the name
  std::string domainname;                 // --domainname: the UTS domain name; in /etc/hosts too
  std::vector<HostEntry> extra_hosts;     // --add-host, in /etc/hosts
  DnsSettings dns;                        // --dns, --dns-search, --dns-option, in /etc/resolv.conf
  uint64_t shm_bytes = kDefaultShmBytes;  // --shm-size: the size of /dev/shm
  std::string image;
  std::string image_digest;
  Platform platform;
  std::map<std::string, std::string> labels;  // the image's, then --label-file and -l

  // File system: cached layers, topmost first (image_lower_dirs()).
  std::string layers_dir;
  std::vector<std::string> lower_dirs;
  bool read_only = false;
  // -v, --mount and --tmpfs, mounted in this order; a named volume's source
  // is filled in (and the volume created) by start().
  std::vector<VolumeMount> volumes;
  std::vector<DeviceMapping> devices;  // --device: host nodes made in the container and allowed by its rules

  // Process. args[0] is the program: a path, or a name looked up in the
  // container's PATH.
  std::vector<std::string> args;
  std::vector<std::string> env;         // "K=V"; HOME is added from the user's entry when missing
  std::string user;                     // docker --user syntax; empty: root
  std::string workdir;                  // absolute; empty: "/"
  bool init = false;                    // a minimal init as pid 1 (--init)
  std::vector<Ulimit> ulimits;          // --ulimit, set before the program is executed
  std::vector<Sysctl> sysctls;          // --sysctl, namespaced ones only
  std::vector<std::string> group_add;   // --group-add: GIDs or the image's group names
  std::optional<std::string> emulator;  // host path of qemu-*-static for another architecture

  CapabilitySet capabilities = docker_default_capabilities();
  bool seccomp = true;
  // --security-opt seccomp=FILE: the Docker profile's JSON text, applied as
  // given instead of gocrate's default (runtime/containment/seccomp_profile.h).
  std::string seccomp_profile;
  // --privileged: every capability, no seccomp filter, no masked or
  // read-only kernel paths, /sys and /proc/sys writable, every device.
  bool privileged = false;
  // Docker's device rules on the cgroup; false when the user opted out with
  // --security-opt devices=unconfined (no rules at all: what lets a root
  // container run on a host that cannot enforce them).
  bool device_rules = true;
  ResourceLimits limits;
  std::string cgroup_parent = "gocrate";  // relative to each hierarchy's root (docker's --cgroup-parent)
  NetworkMode network = NetworkMode::private_network;
  bool host_pid = false;  // --pid host: the host's pid namespace
  IpcMode ipc = IpcMode::private_ipc;
  bool host_uts = false;  // --uts host: the host's hostname (hostname is then the host's)
  // Published ports, recorded in the state; the caller binds and runs their
  // PortForwarder (runtime/network/port_forwarder.h) with network_namespace().
  std::vector<PortMapping> ports;
  // Config.ExposedPorts ("80/tcp"): the image's, --expose's and -p's.
  std::vector<std::string> exposed_ports;
  bool publish_all = false;  // -P: `ports` holds a free host port for each exposed one
  bool auto_remove = false;  // --rm: nothing is kept once it has ended
  std::string stop_signal;   // the image's StopSignal ("SIGQUIT", "3"); empty: SIGTERM
};

// The state of a container about to be made from `spec`, created now; the
// caller sets owner_pid and supervised.
ContainerState state_of(const ContainerSpec& spec);

// How the caller connects to the container.
struct StartOptions {
  int stdin_fd = -1;  // -1: the container's /dev/null
  int stdout_fd = 1;
  int stderr_fd = 2;
  // The container is killed if the process that started it dies (foreground
  // `run`, or the supervisor of a detached container).
  bool kill_with_parent = true;
  // A terminal (-t): a pty made in the container's own devpts, whose slave
  // is its controlling terminal and standard streams (the fds above are not
  // used) and whose master terminal() gives.
  bool terminal = false;
  TerminalSize terminal_size;
  // Set by a supervisor, which made the container's directory, claimed its
  // name and holds its lock across restarts, and which records its state:
  // start() neither makes, locks nor writes them, and wait() removes the
  // cgroup and fills in state() but writes nothing.
  bool supervised = false;
};

struct ExitStatus {
  int code = 0;    // the program's exit code, or 128 + the signal that ended it
  int signal = 0;  // that signal, 0 for a normal exit
  bool oom_killed = false;
  CgroupStats stats;  // read just before the cgroup was removed
};

// Exit codes of `run` when the program never started, as Docker's.
inline constexpr int kExitRuntimeFailure = 125;
inline constexpr int kExitNotExecutable = 126;
inline constexpr int kExitNotFound = 127;

// A started container. The launch API: start() returns once the container's
// program has been executed (or throws, having removed everything it made);
// pid(), pidfd() and cgroup() are what a supervisor watches; wait() reaps it;
// cleanup() removes its cgroup and, for auto_remove, its state (done by
// wait() too). Destroying a container that was not waited for kills it.
class Container {
 public:
  static Container start(const std::string& store_root, ContainerSpec spec, const StartOptions& options = {});

  Container(Container&& other) noexcept;
  Container& operator=(Container&&) = delete;
  ~Container();

  const ContainerState& state() const { return state_; }
  pid_t pid() const { return state_.pid; }
  // The container's network namespace (-1 with the host's network), held
  // until it ends: what a PortForwarder and outbound networking enter.
  int network_namespace() const { return network_namespace_.get(); }
  int pidfd() const { return pidfd_.get(); }
  int terminal() const { return terminal_.get(); }
  const Cgroup& cgroup() const { return cgroup_; }
  CgroupStats stats() const { return cgroup_.stats(); }
  void signal(int sig) const;

  // Waits until the container's pid 1 exits. Signals in `forward` must be
  // blocked by the caller; each one received meanwhile goes to the container.
  // Then cleans up: the cgroup always, the state and upper layer with
  // auto_remove, else state.json records the exit.
  ExitStatus wait(const std::vector<int>& forward = {});

  // Cleans up after containers whose gocrate or supervisor was killed (kill
  // -9, a crash): their cgroups go (with anything left in them), and their
  // state is marked exited (a foreground container) or dead with the reason
  // (a supervised one), or removed for auto_remove. A container's starter or
  // supervisor holds the lock on its directory while it lives.
  static void remove_stale(const std::string& store_root);

 private:
  Container() = default;
  void cleanup(const ExitStatus* status);

  std::string store_root_;
  ContainerState state_;
  UniqueFd network_namespace_;
  std::unique_ptr<OutboundNetwork> outbound_;  // slirp4netns, started at the first packet out
  Cgroup cgroup_;
  UniqueFd pidfd_;
  UniqueFd terminal_;
  UniqueFd lock_;
  std::string copy_dir_;
  bool supervised_ = false;
  bool finished_ = true;
};

}  // namespace gocrate
