#pragma once

#include <sys/types.h>

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/containment/cgroups.h"
#include "runtime/network/port_mapping.h"

namespace gocrate {

// One mount a container was given (-v, --mount, --tmpfs), as inspect's
// .Mounts shows it (Docker's names).
struct MountRecord {
  std::string type;  // bind, volume, tmpfs
  std::string name;  // a volume's name
  std::string source;
  std::string destination;
  std::string mode;  // the options as given ("ro", "z", ...)
  bool rw = true;
  std::string propagation;
  std::string tmpfs_options;  // tmpfs: as mounted ("rw,nosuid,nodev,noexec,size=64m")
  bool tmpfs_flag = false;    // from --tmpfs: HostConfig.Tmpfs rather than .Mounts, as Docker shows it
};

// A container's lifecycle state; state.json and inspect spell it as
// status_name() does. `paused` is what the kernel says of a running
// container's freezer (runtime/containment/freezer.h), which commands read
// when they look at it; state.json keeps "running".
enum class ContainerStatus { created, running, restarting, exited, dead, paused };

std::string_view status_name(ContainerStatus status);
// An error naming `what` for a word status_name() does not give.
ContainerStatus parse_container_status(std::string_view name, const std::string& what);

// What another process can learn about a container: <store>/containers/<id>/state.json.
struct ContainerState {
  std::string id;  // 64 hex digits
  std::string name;
  std::string image;         // as the user named it
  std::string image_digest;  // of the platform manifest that was run
  std::string platform;
  std::string hostname;
  std::vector<std::string> command;
  std::string network;
  std::vector<PortMapping> ports;  // published with -p, host ports as bound
  ContainerStatus status = ContainerStatus::created;
  pid_t pid = 0;  // host pid of the container's pid 1 while running
  std::string created;
  std::string finished;
  std::vector<std::string> cgroup_dirs;
  bool cgroup_v2 = false;
  std::optional<int> exit_code;
  bool oom_killed = false;
  std::optional<CgroupStats> stats;  // last read, when the container ended
  bool auto_remove = false;
  std::string started;  // when the latest start executed the program

  // How the program runs, for exec: the same environment, user and
  // restrictions.
  std::vector<std::string> env;
  std::string user;
  std::string workdir;
  uint64_t capabilities = 0;
  bool seccomp = true;
  std::string seccomp_profile;  // a Docker profile's JSON text; empty: gocrate's default filter
  bool privileged = false;
  // The process that holds the directory's lock: a foreground gocrate, or a
  // detached container's supervisor (inspect's SupervisorPid; what rm -f
  // kills when a start hangs).
  pid_t owner_pid = 0;
  std::string stop_signal;                    // the image's StopSignal; empty: SIGTERM
  std::map<std::string, std::string> labels;  // Config.Labels: the image's, then --label-file and -l
  std::vector<MountRecord> mounts;
  // What exec's processes inherit, as in Docker: --ulimit (NAME=SOFT:HARD)
  // and --group-add.
  std::vector<std::string> ulimits;
  std::vector<std::string> group_add;

  // Kept by the supervisor of a detached container (run -d).
  bool supervised = false;
  int restart_count = 0;
  std::string health;            // starting, healthy, unhealthy; empty without a health check
  std::string error;             // why the latest start failed, or what became of a lost supervisor
  bool stopped_by_user = false;  // by stop or kill: restart policies leave it stopped

  std::string to_json_text() const;
  static ContainerState parse(const std::string& text, const std::string& what);
};

// The containers of a store: <store>/containers/<id>/ (state.json, the
// upper layer, the root mount point) and <store>/containers/by-name/<name>, a
// symlink to the id that claims the name.
class ContainerDirectory {
 public:
  explicit ContainerDirectory(const std::string& store_root);

  const std::string& dir() const { return dir_; }
  std::string dir_of(const std::string& id) const { return dir_ + "/" + id; }
  // Creates <store>/containers itself if needed.
  void ensure_exists() const;
  // Creates the container's directory and claims its name: an error when a
  // container that still exists has it.
  void create(const ContainerState& state);
  // Claims `name` for the container `id`: an error naming the container
  // that has it (a name whose container is gone is taken over). `fix` ends
  // the error ("choose another --name").
  void claim_name(const std::string& name, const std::string& id, std::string_view fix);
  // Gives `name` up, if `id` still has it.
  void release_name(const std::string& name, const std::string& id) const;
  // Replaces state.json in one step. Not fsynced: the state of a container
  // does not outlive the machine's uptime in any way that matters.
  void save(const ContainerState& state) const;
  std::optional<ContainerState> find(const std::string& id_or_name) const;
  std::vector<ContainerState> list() const;
  // The ids of every container directory, with or without state yet.
  std::vector<std::string> ids() const;
  // A container that has ended and was kept: marked by an empty file, so
  // that finding stale containers needs no state to be parsed.
  void mark_ended(const std::string& id) const;
  bool is_ended(const std::string& id) const;
  // Removes the directory and the name.
  void remove(const ContainerState& state) const;

 private:
  std::string dir_;
};

// A new random container id.
std::string new_container_id();
// Docker's rule for names: [a-zA-Z0-9][a-zA-Z0-9_.-]*.
void check_container_name(const std::string& name);

}  // namespace gocrate
