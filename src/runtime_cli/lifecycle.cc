// create, start, run, kill, delete.

#include <climits>
#include <csignal>

#include "runtime/oci/runtime.h"
#include "runtime_cli/commands.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/strings.h"

namespace gocrate::oci::cli {
namespace {

constexpr FlagSpec kCreateFlags[] = {
    {"bundle", "b", true, "path to the root of the bundle directory, defaults to the current directory"},
    {"console-socket", "", true,
     "path to an AF_UNIX socket which will receive a file descriptor referencing the master end of the "
     "console's pseudoterminal"},
    {"pid-file", "", true, "specify the file to write the process id to"},
    {"no-pivot", "", false,
     "do not use pivot root to jail process inside rootfs.  This should be used whenever the rootfs is on "
     "top "
     "of a ramdisk"},
    {"no-new-keyring", "", false,
     "do not create a new session keyring for the container.  This will cause the container to inherit the "
     "calling processes session key"},
    {"preserve-fds", "", true,
     "Pass N additional file descriptors to the container (stdio + $LISTEN_FDS + N in total) (default: 0)"},
};

constexpr FlagSpec kRunFlags[] = {
    kCreateFlags[0],
    kCreateFlags[1],
    {"detach", "d", false, "detach from the container's process"},
    {"keep", "", false, "accepted for runc compatibility; the container is deleted after it exits"},
    kCreateFlags[2],
    {"no-subreaper", "", false, "accepted for runc compatibility"},
    kCreateFlags[3],
    kCreateFlags[4],
    kCreateFlags[5],
};

constexpr FlagSpec kKillFlags[] = {
    {"all", "a", false, "send the specified signal to all processes inside the container"},
};

constexpr FlagSpec kDeleteFlags[] = {
    {"force", "f", false, "Forcibly deletes the container if it is still running (uses SIGKILL)"},
};

CreateOptions create_options(const Flags& flags) {
  CreateOptions options;
  options.bundle = absolute_path(flags.value("bundle", "."));
  options.console_socket = flags.value("console-socket");
  options.pid_file = flags.value("pid-file");
  options.no_pivot = flags.enabled("no-pivot");
  options.no_new_keyring = flags.enabled("no-new-keyring");
  options.preserve_fds = count_flag(flags, "preserve-fds");
  return options;
}

int create_command(const GlobalOptions& global, const Flags& flags) {
  create(global.runtime, flags.args[0], create_options(flags));
  return 0;
}

int start_command(const GlobalOptions& global, const Flags& flags) {
  start(global.runtime, flags.args[0]);
  return 0;
}

int run_command(const GlobalOptions& global, const Flags& flags) {
  return run(global.runtime, flags.args[0], create_options(flags), flags.enabled("detach"));
}

int kill_command(const GlobalOptions& global, const Flags& flags) {
  int signal = flags.args.size() > 1 ? parse_kill_signal(flags.args[1]) : SIGTERM;
  kill(global.runtime, flags.args[0], signal, flags.enabled("all"));
  return 0;
}

int delete_command(const GlobalOptions& global, const Flags& flags) {
  const std::string& id = flags.args[0];
  bool force = flags.enabled("force");
  // As runc: forcing the delete of a container that is already gone is done.
  if (force && !id.empty() && id.find('/') == std::string::npos &&
      !path_exists(global.runtime.root + "/" + id))
    return 0;
  remove(global.runtime, id, force);
  return 0;
}

}  // namespace

int count_flag(const Flags& flags, std::string_view name) {
  if (!flags.has(name)) return 0;
  int64_t count = 0;
  if (!parse_int(flags.value(name), 0, INT_MAX - 3, count))
    fail("invalid --{} \"{}\": use a number of file descriptors, such as 2", name, flags.value(name));
  return static_cast<int>(count);
}

constexpr Verb kCreateVerb{
    "create", "create a container", "<container-id>", kCreateFlags, FlagOrder::anywhere, 1,
    1,        create_command};
constexpr Verb kStartVerb{"start",
                          "executes the user defined process in a created container",
                          "<container-id>",
                          {},
                          FlagOrder::anywhere,
                          1,
                          1,
                          start_command};
constexpr Verb kRunVerb{
    "run", "create and run a container", "<container-id>", kRunFlags, FlagOrder::anywhere, 1, 1, run_command};
constexpr Verb kKillVerb{"kill",
                         "kill sends the specified signal (default: SIGTERM) to the container's init process",
                         "<container-id> [signal]",
                         kKillFlags,
                         FlagOrder::anywhere,
                         1,
                         2,
                         kill_command};
constexpr Verb kDeleteVerb{"delete",
                           "delete any resources held by the container often used with detached container",
                           "<container-id>",
                           kDeleteFlags,
                           FlagOrder::anywhere,
                           1,
                           1,
                           delete_command};

}  // namespace gocrate::oci::cli
