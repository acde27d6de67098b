#pragma once

#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/oci/runtime.h"
#include "runtime/oci/spec.h"

// The command-line grammar of `gocrate-runtime`, runc's: flags as Go's flag
// package and urfave/cli read them (`--root X`, `--root=X`, `-root X`; bool
// flags alone or as `--detach=false`), and what the verbs build from them.
namespace gocrate::oci::cli {

struct FlagSpec {
  std::string_view name;   // "bundle": --bundle, -bundle
  std::string_view alias;  // "b" (-b), or another long name; may be empty
  bool takes_value = false;
  std::string_view help;
};

// Where a verb's flags may stand. runc moves a verb's flags that follow its
// positional arguments to the front, except for exec and ps, whose arguments
// after the container id belong to the command they run.
enum class FlagOrder { anywhere, before_arguments };

class Flags {
 public:
  bool has(std::string_view name) const { return values_.find(name) != values_.end(); }
  // The last value given, or `fallback`.
  std::string value(std::string_view name, std::string_view fallback = "") const;
  // Every value given to a repeatable flag, in order.
  std::vector<std::string> values(std::string_view name) const;
  // A bool flag: true when given alone or as =true.
  bool enabled(std::string_view name) const;

  std::vector<std::string> args;  // the positional arguments
  bool help = false;              // --help or -h

  void add(std::string_view name, std::string value) {
    values_[std::string(name)].push_back(std::move(value));
  }

 private:
  std::map<std::string, std::vector<std::string>, std::less<>> values_;
};

// Parses `args` (what follows the verb) against `specs`; `command` names the
// verb in errors ("unknown flag --bogus for kill: see gocrate-runtime kill --help").
Flags parse_flags(std::span<const FlagSpec> specs, std::span<const std::string> args, FlagOrder order,
                  std::string_view command);

// "--bundle value, -b value" as a verb's help lists a flag.
std::string flag_synopsis(const FlagSpec& spec);

inline constexpr FlagSpec kGlobalFlags[] = {
    {"debug", "", false, "enable debug logging"},
    {"log", "", true, "set the log file to write gocrate-runtime logs to (default is '/dev/stderr')"},
    {"log-format", "", true, "set the log format ('text' (default), or 'json') (default: \"text\")"},
    {"root", "", true,
     "root directory for storage of container state (this should be located in tmpfs) (default: "
     "\"/run/gocrate-runtime\")"},
    {"criu", "", true, "accepted for runc compatibility; checkpoint and restore are not supported"},
    {"systemd-cgroup", "", false, "not supported: gocrate-runtime manages cgroups through cgroupfs"},
    {"rootless", "", true,
     "ignore cgroup permission errors ('false' or 'auto'; 'true' is refused) (default: \"auto\")"},
    {"version", "v", false, "print the version"},
};

struct GlobalOptions {
  RuntimeOptions runtime;
  std::string log_file;             // empty: errors go to stderr only
  std::string log_format = "text";  // or "json": logrus's, which shims read
  std::string rootless = "auto";
  bool systemd_cgroup = false;
  bool help = false;
  bool version = false;
  std::vector<std::string> command;  // the verb and its arguments
};

// The flags before the verb. Syntax errors throw; the settings gocrate-runtime
// cannot honour are left for check_global_options, so that its error still
// reaches the --log file.
GlobalOptions parse_global_options(std::span<const std::string> args);
void check_global_options(const GlobalOptions& options);

// `kill`'s signal: "KILL", "SIGKILL", "kill" or "9".
int parse_kill_signal(std::string_view text);

inline constexpr FlagSpec kExecFlags[] = {
    {"console-socket", "", true,
     "path to an AF_UNIX socket which will receive a file descriptor referencing the master end of the "
     "console's pseudoterminal"},
    {"cwd", "", true, "current working directory in the container"},
    {"env", "e", true, "set environment variables"},
    {"tty", "t", false, "allocate a pseudo-TTY"},
    {"user", "u", true, "UID (format: <uid>[:<gid>])"},
    {"additional-gids", "g", true, "additional gids"},
    {"process", "p", true, "path to the process.json"},
    {"detach", "d", false, "detach from the container's process"},
    {"pid-file", "", true, "specify the file to write the process id to"},
    {"process-label", "", true, "not supported (no LSM): must be empty"},
    {"apparmor", "", true, "not supported (no LSM): must be empty"},
    {"no-new-privs", "", false, "set the no new privileges value for the process"},
    {"cap", "c", true, "add a capability to the bounding set for the process"},
    {"preserve-fds", "", true,
     "Pass N additional file descriptors to the container (stdio + $LISTEN_FDS + N in total) (default: 0)"},
    {"cgroup", "", true, "not supported: must be empty"},
    {"ignore-paused", "", false, "allow exec in a paused container"},
};

// runc exec's process without --process: the container's own process from
// its config.json, with args, --cwd, --env, --tty, --user, --additional-gids,
// --cap, --no-new-privs applied. `flags.args` holds the container id first.
Process exec_process(Process base, const Flags& flags);
// Refuses what exec's flags ask and gocrate-runtime cannot do (an LSM label,
// a sub-cgroup), with --process as without.
void check_exec_flags(const Flags& flags);

inline constexpr FlagSpec kUpdateFlags[] = {
    {"resources", "r", true,
     "path to the file containing the resources to update or '-' to read from the standard input"},
    {"blkio-weight", "", true, "Specifies per cgroup weight, range is from 10 to 1000 (default: 0)"},
    {"cpu-period", "", true, "CPU CFS period to be used for hardcapping (in usecs). 0 to use system default"},
    {"cpu-quota", "", true, "CPU CFS hardcap limit (in usecs). Allowed cpu time in a given period"},
    {"cpu-share", "cpu-shares", true, "CPU shares (relative weight vs. other containers)"},
    {"cpu-rt-period", "", true,
     "CPU realtime period to be used for hardcapping (in usecs). 0 to use system default"},
    {"cpu-rt-runtime", "", true, "CPU realtime hardcap limit (in usecs). Allowed cpu time in a given period"},
    {"cpuset-cpus", "", true, "CPU(s) to use"},
    {"cpuset-mems", "", true, "Memory node(s) to use"},
    {"memory", "", true, "Memory limit (in bytes)"},
    {"memory-reservation", "", true, "Memory reservation or soft_limit (in bytes)"},
    {"memory-swap", "", true, "Total memory usage (memory + swap); set '-1' to enable unlimited swap"},
    {"pids-limit", "", true, "Maximum number of pids allowed in the container (default: 0)"},
    {"l3-cache-schema", "", true, "not supported (no Intel RDT): must be empty"},
    {"mem-bw-schema", "", true, "not supported (no Intel RDT): must be empty"},
};

// `update`'s flags (--memory, --cpu-quota, ...) as the Resources to apply;
// only what a flag names is set.
Resources update_resources(const Flags& flags);

}  // namespace gocrate::oci::cli
