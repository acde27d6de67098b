#pragma once

#include <optional>
#include <string>
#include <vector>

#include "runtime/containment/cgroups.h"

namespace gocrate {

// Pausing a container (pause/unpause): the v1 freezer (freezer.state
// FROZEN/THAWED) or cgroup v2's cgroup.freeze. A container's cgroup has no
// v1 freezer directory of its own (run makes only those of its limits), so
// pause makes one beside the others and moves the container's processes in.

// Where a container with cgroup directories `cgroup_dirs` is frozen.
struct FreezerCgroup {
  std::string dir;
  bool v2 = false;
  // The container's processes are in it already (one of `cgroup_dirs`);
  // otherwise pause moves them in.
  bool joined = false;
};

// The container's own v2 directory, else the v1 freezer hierarchy's, else a
// v2 one beside its v1 directories; nullopt when the host has neither or
// `cgroup_dirs` is under no hierarchy of `layout` (whose v1 controllers must
// include the freezer: CgroupLayout::detect(true)).
std::optional<FreezerCgroup> freezer_cgroup(const CgroupLayout& layout,
                                            const std::vector<std::string>& cgroup_dirs);

// Whether freezer.state's (v1) or cgroup.freeze's (v2) text says frozen; a
// v1 cgroup still FREEZING counts.
bool freezer_text_frozen(const std::string& text, bool v2);

// Freezes every process of the container, waiting until the kernel says it
// is done; an error names why it cannot.
void freeze_container_cgroup(const std::vector<std::string>& cgroup_dirs);
void thaw_container_cgroup(const std::vector<std::string>& cgroup_dirs);
bool container_cgroup_frozen(const std::vector<std::string>& cgroup_dirs);
// Once the container has ended: the directories of its cgroup that pause
// (freezer) or update (a v1 controller it had no limit of) made beside
// `cgroup_dirs`, removed where empty.
void remove_added_cgroups(const std::vector<std::string>& cgroup_dirs);

// The directory of the container's cgroup in the v1 hierarchy of
// `controller`, or its v2 one: made and joined by its processes if it has
// none yet (update gives a limit of a controller it had none of). Empty
// when the host has no such controller.
std::string container_controller_dir(const std::vector<std::string>& cgroup_dirs,
                                     std::string_view controller);

}  // namespace gocrate
