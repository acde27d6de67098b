// exec: another process in a running container.

#include "runtime/oci/runtime.h"
#include "runtime/oci/spec.h"
#include "runtime_cli/commands.h"
#include "util/error.h"
#include "util/fs.h"

namespace gocrate::oci::cli {
namespace {

// Without --process, runc starts from the process of the container's
// config.json (its env, cwd, user, capabilities) and applies the flags.
Process process_from_bundle(const GlobalOptions& global, const Flags& flags) {
  State container = state(global.runtime, flags.args[0]);
  std::string config = container.bundle + "/config.json";
  Spec spec = parse_spec(read_file(config), config);
  if (!spec.process)
    fail("{} has no process to start the exec from: give the whole process with --process FILE", config);
  return exec_process(std::move(*spec.process), flags);
}

int exec_command(const GlobalOptions& global, const Flags& flags) {
  check_exec_flags(flags);
  ExecOptions options;
  if (std::string path = flags.value("process"); !path.empty()) {
    options.process = parse_process(read_file(path), path);
  } else {
    options.process = process_from_bundle(global, flags);
  }
  options.detach = flags.enabled("detach");
  options.console_socket = flags.value("console-socket");
  options.pid_file = flags.value("pid-file");
  options.preserve_fds = count_flag(flags, "preserve-fds");
  return exec(global.runtime, flags.args[0], options);
}

}  // namespace

constexpr Verb kExecVerb{"exec",
                         "execute new process inside the container",
                         "<container-id> <command> [command options]  || -p process.json <container-id>",
                         kExecFlags,
                         FlagOrder::before_arguments,
                         1,
                         SIZE_MAX,
                         exec_command};

}  // namespace gocrate::oci::cli
