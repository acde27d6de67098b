#include <fcntl.h>
#include <sys/stat.h>

#include "cli/commands.h"
#include "cli/run_flags.h"
#include "runtime/containment/mount_options.h"
#include "runtime/oci/from_container_spec.h"
#include "runtime/oci/spec.h"
#include "unpack/layer_cache.h"
#include "unpack/rootfs_copy.h"
#include "util/error.h"
#include "util/fs.h"

namespace gocrate::cli {

namespace {

// The bundle's directory, made if missing; one that already holds a bundle
// is refused rather than mixed with this one.
std::string prepare_bundle(const std::string& dir) {
  std::string bundle = absolute_path(dir);
  make_directories(bundle);
  for (const char* name : {"config.json", "rootfs", "etc"}) {
    if (path_exists(bundle + "/" + name)) {
      fail("--bundle {}: it already has {}; give an empty or new directory", dir, name);
    }
  }
  return bundle;
}

// What user resolution reads, without merging the whole image: its
// /etc/passwd and /etc/group as its layers stack them.
void write_user_files(const ContainerSpec& spec, const std::string& root) {
  make_directories(root + "/etc");
  for (const char* path : {"/etc/passwd", "/etc/group"}) {
    if (auto text = read_file_in_layers(spec.lower_dirs, path, spec.image))
      write_file_atomic(root + path, *text);
  }
}

}  // namespace

int spec_command(Globals& globals, int argc, char** argv) {
  RunFlags f;
  parse_run_command_line(globals, f, argc, argv, RunVerb::spec);
  Store store = open_store(globals);
  FileLock lease = store.lease();
  ContainerSpec spec = build_run_spec(store, f);
  // Named volumes are made as run makes them, for their directories.
  claim_volumes(store.dir(), spec.volumes);
  check_volume_sources(spec.volumes, store.dir());

  std::string bundle;
  std::optional<TempDir> scratch;
  std::string root;
  if (!f.bundle.empty()) {
    bundle = prepare_bundle(f.bundle);
    root = bundle + "/rootfs";
    make_directories(root);
    copy_layers(spec.lower_dirs, root);
  } else {
    scratch.emplace();
    root = scratch->path();
    write_user_files(spec, root);
  }
  UniqueFd root_fd = open_or_fail(root, O_PATH | O_DIRECTORY);
  oci::Spec config = oci::oci_spec_of(spec, {.root_fd = root_fd.get(), .etc_dir = "etc", .terminal = f.tty});
  std::string text = oci::to_json_text(config);
  if (!bundle.empty()) {
    make_directories(bundle + "/etc");
    for (const auto& file : oci::container_etc_files(spec))
      write_file_atomic(bundle + "/etc/" + file.name, file.content, 0644);
    write_file_atomic(bundle + "/config.json", text, 0644);
  }
  fmt::print("{}\n", text);
  return 0;
}

}  // namespace gocrate::cli
