// spec: a starter config.json.

#include <fcntl.h>

#include <cerrno>

#include "runtime/oci/spec.h"
#include "runtime_cli/commands.h"
#include "util/error.h"
#include "util/fs.h"

namespace gocrate::oci::cli {
namespace {

constexpr FlagSpec kSpecFlags[] = {
    {"bundle", "b", true, "path to the root of the bundle directory"},
    {"rootless", "", false, "not supported: gocrate-runtime runs containers as root"},
};

int spec_command(const GlobalOptions&, const Flags& flags) {
  if (flags.enabled("rootless"))
    fail("spec --rootless is not supported: gocrate-runtime runs containers as root; leave the flag out");
  std::string bundle = flags.value("bundle");
  std::string path = bundle.empty() ? "config.json" : bundle + "/config.json";
  std::string text = to_json_text(default_spec());
  if (!text.ends_with('\n')) text += '\n';
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
  if (fd < 0) {
    if (errno == EEXIST) fail("File config.json exists. Remove it first");
    fail_errno("cannot create " + path);
  }
  UniqueFd file(fd);
  write_all(file.get(), text, path);
  return 0;
}

}  // namespace

constexpr Verb kSpecVerb{
    "spec", "create a new specification file", "", kSpecFlags, FlagOrder::anywhere, 0, 0, spec_command};

}  // namespace gocrate::oci::cli
