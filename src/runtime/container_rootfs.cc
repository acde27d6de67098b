#include "runtime/container_rootfs.h"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "image/media_types.h"
#include "runtime/containment/mounts.h"
#include "runtime/terminal/exec.h"
#include "store/store.h"
#include "unpack/layer_cache.h"
#include "unpack/rootfs_copy.h"
#include "util/error.h"

namespace gocrate {

namespace {

void enter_private_mount_namespace() {
  static bool entered = false;
  if (entered) return;
  if (::unshare(CLONE_NEWNS) != 0) fail_errno("cannot make a mount namespace to read the container's layers");
  make_mounts_private();
  entered = true;
}

// Mounts the overlay of `plan` without leaving the working directory
// (mount_rootfs enters the layer cache to keep the options short).
void mount_keeping_cwd(const RootfsPlan& plan, bool read_only) {
  UniqueFd cwd(::open(".", O_PATH | O_DIRECTORY | O_CLOEXEC));
  mount_rootfs(plan, read_only);
  if (cwd && ::fchdir(cwd.get()) != 0) fail_errno("cannot return to the working directory");
}

}  // namespace

ContainerLayers container_layers(const std::string& store_root, const ContainerState& state) {
  Store store(store_root);
  auto digest = Digest::try_parse(state.image_digest);
  if (!digest || !store.has_blob(*digest))
    fail("the image of container {} ({}) is no longer in the store: its layers cannot be read", state.name,
         state.image);
  struct stat st;
  if (::stat(store.blob_path(*digest).c_str(), &st) != 0)
    fail_errno("cannot read " + store.blob_path(*digest));
  std::string text = store.read_blob(Descriptor{std::string(media_type::oci_manifest), *digest, st.st_size});
  Descriptor root{sniff_media_type(text), *digest, st.st_size};
  ContainerLayers layers;
  layers.image = load_platform_image(store, root, std::nullopt, state.image);
  layers.layers_dir = store_root + "/layers";
  LayerCache cache(layers.layers_dir);
  layers.lower_dirs =
      image_lower_dirs(cache, store, layers.image.manifest.layers, layers.image.config.diff_ids, state.image);
  std::string dir = ContainerDirectory(store_root).dir_of(state.id);
  if (!state.auto_remove && is_directory(dir + "/upper")) {
    layers.upper_dir = dir + "/upper";
    layers.work_dir = dir + "/work";
  }
  return layers;
}

ContainerRootfs ContainerRootfs::open(const std::string& store_root, const ContainerView& c, View view) {
  ContainerRootfs rootfs;
  rootfs.what_ = "container " + c.state.name;
  const ContainerState& s = c.state;
  if (view == View::live && c.running() && s.pid > 0) {
    // The pidfd, taken first and checked alive after, proves that the root
    // opened is the container's, not that of a process that got its pid.
    UniqueFd pidfd = open_container_pidfd(s);
    rootfs.root_.reset(::open(fmt::format("/proc/{}/root", s.pid).c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!rootfs.root_) fail_errno(fmt::format("cannot open the root of container {}", s.name));
    pollfd exited{pidfd.get(), POLLIN, 0};
    if (::poll(&exited, 1, 0) != 0)
      fail("container {} stopped while its files were opened: copy again", s.name);
    return rootfs;
  }
  if (view == View::live && c.active())
    fail("container {} is {}: wait until it runs or stops, then copy again", s.name, status_name(s.status));
  ContainerLayers layers = container_layers(store_root, s);
  bool writable = view == View::live;
  if (layers.upper_dir.empty()) {
    if (c.running() && s.pid > 0)
      fail(
          "container {} keeps its changes in memory (--rm) or in a private copy: its layers cannot be read "
          "from outside while it runs",
          s.name);
    // A container made but never started gets the upper layer its first
    // start would make; where containers get a private copy instead, there
    // is nothing that would keep a write.
    if (writable && (s.auto_remove || rootfs_method(layers.layers_dir) != RootfsMethod::overlay))
      fail(
          "container {} has no upper layer to write into: it keeps its changes in memory (--rm) or in a "
          "private "
          "copy made at each start",
          s.name);
    if (writable) {
      layers.upper_dir = c.dir + "/upper";
      layers.work_dir = c.dir + "/work";
      make_directories(layers.upper_dir, 0755);
      make_directories(layers.work_dir, 0700);
    }
  }
  std::string dir = c.dir;
  if (writable) {
    // Holding the directory's lock keeps the container from starting while
    // its upper layer is mounted here.
    rootfs.lock_.reset(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!rootfs.lock_ || !try_lock_file(rootfs.lock_.get(), LockMode::exclusive, dir))
      fail("container {} is being started: copy again once it runs", s.name);
  }
  enter_private_mount_namespace();
  RootfsPlan plan;
  plan.layers_dir = layers.layers_dir;
  std::string prefix = layers.layers_dir + "/";
  if (!writable && !layers.upper_dir.empty()) plan.lower_dirs.push_back(layers.upper_dir);
  for (const auto& lower : layers.lower_dirs)
    plan.lower_dirs.push_back(lower.starts_with(prefix) ? lower.substr(prefix.size()) : lower);
  if (writable) {
    plan.upper_dir = layers.upper_dir;
    plan.work_dir = layers.work_dir;
  }
  plan.mount_point = dir + "/rootfs";
  make_directories(plan.mount_point, 0700);
  mount_keeping_cwd(plan, !writable);
  rootfs.root_ = open_or_fail(plan.mount_point, O_PATH | O_DIRECTORY);
  return rootfs;
}

}  // namespace gocrate
