#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "runtime/containment/mounts.h"
#include "runtime/state.h"
#include "store/volumes.h"

namespace gocrate {

// -v SRC:DST[:OPTS] and NAME:DST[:OPTS], as Docker reads them: SRC an
// existing absolute host path, NAME a named volume; OPTS a comma-separated
// list of ro, rw, nocopy (volumes), rprivate, private, rslave, slave (binds),
// and z, Z, consistent, cached, delegated (accepted, no effect on Linux
// without SELinux, as in Docker).
VolumeMount parse_volume(const std::string& text);

// --mount type=bind|volume|tmpfs,KEY=VALUE,... with Docker's keys and
// aliases (src/source, dst/destination/target, ro/readonly).
VolumeMount parse_mount(const std::string& text);

// --tmpfs /PATH[:OPTS] with Docker's default options noexec,nosuid,nodev;
// OPTS as mount(8) takes them for tmpfs: ro, rw, exec, noexec, suid,
// nosuid, nodev, the atime family, sync, async, dirsync, size=, nr_inodes=,
// mode=, uid=, gid=.
VolumeMount parse_tmpfs(const std::string& text);

// -v, --mount and --tmpfs together, as Docker orders them: a mount before
// the mounts below it (by the depth of the target, stably); two mounts on
// one container path are refused.
std::vector<VolumeMount> order_mounts(std::vector<VolumeMount> mounts);

// What state.json records of a mount for inspect's .Mounts.
MountRecord mount_record(const VolumeMount& m);

// Fills in each named volume's source (creating the volume if missing) and
// holds the volumes against removal until the returned descriptors close.
std::vector<UniqueFd> claim_volumes(const std::string& store_root, std::vector<VolumeMount>& mounts);

// The containers (ids) that use volume `name`: their state or their
// config.json names it, whether they run or not.
std::vector<std::string> containers_using_volume(const std::string& store_root, const std::string& name);

// The tmpfs options text as mounted ("rw,nosuid,nodev,noexec,size=65536k"),
// for inspect.
std::string tmpfs_options_text(const VolumeMount& m);

}  // namespace gocrate
