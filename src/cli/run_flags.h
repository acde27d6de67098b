#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/docker_flags.h"
#include "runtime/container.h"
#include "runtime/supervision/health.h"

namespace gocrate::cli {

// The options of `run` and `create`, as given on the command line (Docker's
// names); build_spec() in run_command.cc turns them into a ContainerSpec.
struct RunFlags {
  // Identity and metadata.
  std::string name;
  std::vector<std::string> labels;       // -l/--label KEY=VALUE
  std::vector<std::string> label_files;  // --label-file
  std::string cidfile;

  // Process.
  std::vector<std::string> env;
  std::vector<std::string> env_files;
  std::string user;
  std::vector<std::string> group_add;
  std::string workdir;
  std::optional<std::string> entrypoint;
  bool init = false;
  bool interactive = false;
  bool tty = false;
  bool detach = false;
  bool remove = false;
  std::string stop_signal;
  std::optional<int> stop_timeout;
  std::vector<std::string> ulimits;  // --ulimit nofile=1024:2048
  std::vector<std::string> sysctls;  // --sysctl net.ipv4.ip_forward=1

  // File system.
  bool read_only = false;
  std::vector<std::string> volumes;  // -v SRC:DST[:OPTS], NAME:DST
  std::vector<std::string> mounts;   // --mount type=bind|volume|tmpfs,...
  std::vector<std::string> tmpfs;    // --tmpfs /run[:OPTS]
  std::vector<std::string> devices;
  std::string shm_size;

  // Resources.
  std::string memory;
  std::string memory_swap;
  std::string memory_reservation;
  bool oom_kill_disable = false;
  std::string cpus;
  std::string cpu_shares;
  std::string cpuset_cpus;
  std::optional<int64_t> pids_limit;
  std::string cgroup_parent;

  // Security.
  std::vector<std::string> cap_add;
  std::vector<std::string> cap_drop;
  bool privileged = false;
  std::vector<std::string> security_options;

  // Namespaces and network.
  std::string network = "private";
  std::string pid;  // "" or host
  std::string ipc;  // "" , private, shareable, none, host
  std::string uts;  // "" or host
  std::string hostname;
  std::string domainname;
  std::vector<std::string> publish;
  bool publish_all = false;              // -P
  std::vector<std::string> expose;       // --expose 80[/tcp], 8000-8010
  std::vector<std::string> add_hosts;    // --add-host NAME:IP
  std::vector<std::string> dns;          // --dns IP
  std::vector<std::string> dns_search;   // --dns-search DOMAIN
  std::vector<std::string> dns_options;  // --dns-option OPT

  // Supervision (detached containers).
  std::string restart;
  HealthFlags health;
  std::string health_on_failure;  // none, kill, restart, stop (Podman's)
  bool no_healthcheck = false;
  std::string log_driver;  // "" (json-file), none, json-file, local
  std::vector<std::string> log_options;

  // Image.
  std::string platform;
  std::string pull = "missing";
  std::string signature_policy;  // --signature-policy FILE
  std::string policy_verb;       // "run" or "create", which apply the signature policy; empty for spec
  std::string image;
  std::vector<std::string> args;

  // `spec --bundle DIR`: where the bundle is written.
  std::string bundle;
};

// `spec` reads run's options, and --bundle.
enum class RunVerb { run, create, spec };

// Every option of Docker 20.10's `docker run` (`create`: all but those that
// attach or detach), each one filling `f` or refused with the reason.
void add_run_flags(FlagSet& flags, Globals& globals, RunFlags& f, RunVerb verb);

// Parses `run`/`create`'s command line into `f`: options, then the image and
// the program's own arguments verbatim.
void parse_run_command_line(Globals& globals, RunFlags& f, int argc, char** argv, RunVerb verb);

// The ContainerSpec `run` starts for `f` (the image pulled first if --pull
// asks for it): what `spec` describes as config.json.
ContainerSpec build_run_spec(Store& store, const RunFlags& f);

}  // namespace gocrate::cli
