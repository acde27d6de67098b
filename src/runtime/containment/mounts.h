#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/containment/device_rules.h"

namespace gocrate {

enum class MountType { bind, volume, tmpfs };

// One of -v, --mount and --tmpfs: a single list the container mounts in
// order (runtime/containment/mount_options.h parses them).
struct VolumeMount {
  // bind: absolute host path; volume: the volume's data directory in the
  // store (filled in by Container::start); tmpfs: empty.
  std::string source;
  std::string target;  // absolute path inside the container
  bool read_only = false;
  MountType type = MountType::bind;
  std::string volume_name;  // volume
  bool no_copy = false;     // volume: not filled from the image's content at the target
  // bind: rprivate (default), private, rslave or slave; nonrecursive:
  // without the mounts below the source (bind-nonrecursive).
  std::string propagation;
  bool nonrecursive = false;
  // tmpfs: mount flags (MS_*) and the data given to the kernel (size=,
  // mode=, uid=, gid=, nr_inodes=).
  unsigned long tmpfs_flags = 0;
  std::string tmpfs_data;
  // What inspect shows as the mount's Mode (Docker's: the -v options as
  // given); from_tmpfs_flag: --tmpfs (HostConfig.Tmpfs, not .Mounts).
  std::string mode;
  bool from_tmpfs_flag = false;
};

std::string_view mount_type_name(MountType type);
MountType parse_mount_type(std::string_view text);

// Refuses a bind of the store at `store_root` or of anything inside it; a
// named volume must be its own data directory in the store.
void check_volume_sources(const std::vector<VolumeMount>& volumes, const std::string& store_root);

// How the container's root file system is put together.
struct RootfsPlan {
  std::string layers_dir;               // lower directories are given relative to it
  std::vector<std::string> lower_dirs;  // topmost first, relative to layers_dir
  std::string upper_dir;                // empty: read-only, no upper layer
  std::string work_dir;
  std::string copy_dir;  // overlay fallback: a private copy of the layers, bound instead
  std::string mount_point;
  // Non-empty: a tmpfs is mounted here first, in the container's own mount
  // namespace, and holds the upper layer, work directory and mount point.
  // It vanishes with the container: nothing to create or delete on disk.
  std::string scratch_dir;
};

// The steps of building the container's file system view, in the order
// container.cc calls them. All run in the container's mount namespace,
// before pivot_root; paths inside the root are resolved in the root.
void make_mounts_private();
void mount_rootfs(const RootfsPlan& plan, bool read_only);
// Mounts /proc and /dev (tmpfs with the standard nodes, pts, shm of
// `shm_bytes`) inside `root_fd`.
inline constexpr uint64_t kDefaultShmBytes = uint64_t{64} << 20;  // Docker's
void mount_proc_and_dev(int root_fd, uint64_t shm_bytes = kDefaultShmBytes);
// --shm-size: "64m", "1g", "64MiB", "67108864"; nullopt for 0 or malformed.
std::optional<uint64_t> parse_shm_size(std::string_view text);
// Mounts /dev/mqueue: after joining the ipc namespace, whose queues it shows.
void mount_mqueue(int root_fd);
// Mounts /sys (read-only unless privileged): after joining the network
// namespace, whose devices sysfs shows.
void mount_sys(int root_fd, bool read_only = true);
// Docker's masked (/proc/kcore, ...) and read-only (/proc/sys, ...) paths.
void mask_kernel_paths(int root_fd);
std::span<const char* const> masked_kernel_paths();
std::span<const char* const> read_only_kernel_paths();
// The character devices mount_proc_and_dev makes in /dev, mode 0666.
struct DeviceNode {
  const char* name;
  unsigned major;
  unsigned minor;
};
std::span<const DeviceNode> standard_device_nodes();
// Volumes are mounted nodev (their submounts too): a device node in a
// volume cannot be opened. An empty named volume is first filled from the
// image's content at its target (unless no_copy), as Docker does.
void mount_volumes(int root_fd, const std::vector<VolumeMount>& volumes, bool create_targets);
// --ipc none: no /dev/shm; --ipc host: the host's /dev/shm bound there.
void replace_dev_shm(int root_fd, bool host);
// Makes the --device nodes (a node on a nodev mount, such as the root, is
// the host's node bound there instead) and, with `host_devices`
// (--privileged), a copy of every device node of the host's /dev but pts,
// shm and mqueue in the container's /dev.
void make_device_nodes(int root_fd, const std::vector<DeviceMapping>& devices, bool host_devices);
// pivot_root into `new_root` and detach the old root entirely.
void pivot_into(const std::string& new_root);
// Makes the container's / read-only (--read-only with the copy fallback).
void remount_root_read_only();

// Creates `path` (and its parents, 0755 root) inside `root_fd`; the result
// is inside the root even when the path contains symlinks.
void make_directories_in_root(int root_fd, const std::string& path);
// Where `path` leads inside the root, every symbolic link followed as if
// `root_fd` were "/", dangling ones too: the place to create a missing
// mount point so that open_in_root(path) finds it.
std::string resolve_in_root(int root_fd, const std::string& path);

}  // namespace gocrate
