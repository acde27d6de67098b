// pause, resume, update: the container's cgroup.

#include "runtime/oci/runtime.h"
#include "runtime/oci/spec.h"
#include "runtime_cli/commands.h"
#include "util/fs.h"

namespace gocrate::oci::cli {
namespace {

int pause_command(const GlobalOptions& global, const Flags& flags) {
  pause(global.runtime, flags.args[0]);
  return 0;
}

int resume_command(const GlobalOptions& global, const Flags& flags) {
  resume(global.runtime, flags.args[0]);
  return 0;
}

// As runc: with --resources the file (or standard input, "-") says it all and
// the other flags are ignored.
int update_command(const GlobalOptions& global, const Flags& flags) {
  Resources resources;
  if (std::string path = flags.value("resources"); !path.empty()) {
    resources = path == "-" ? parse_resources(read_fd(0), "resources on standard input")
                            : parse_resources(read_file(path), path);
  } else {
    resources = update_resources(flags);
  }
  update(global.runtime, flags.args[0], resources);
  return 0;
}

}  // namespace

constexpr Verb kPauseVerb{"pause",
                          "pause suspends all processes inside the container",
                          "<container-id>",
                          {},
                          FlagOrder::anywhere,
                          1,
                          1,
                          pause_command};
constexpr Verb kResumeVerb{"resume",
                           "resumes all processes that have been previously paused",
                           "<container-id>",
                           {},
                           FlagOrder::anywhere,
                           1,
                           1,
                           resume_command};
constexpr Verb kUpdateVerb{"update",
                           "update container resource constraints",
                           "<container-id>",
                           kUpdateFlags,
                           FlagOrder::anywhere,
                           1,
                           1,
                           update_command};

}  // namespace gocrate::oci::cli
