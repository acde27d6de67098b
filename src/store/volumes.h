#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/fs.h"

namespace gocrate {

// A named volume: <store>/volumes/<name>/_data, with volume.json beside it.
struct VolumeInfo {
  std::string name;
  std::string created_at;  // RFC 3339, UTC
  std::map<std::string, std::string> labels;
  std::string mountpoint;  // the _data directory

  // Docker's `volume inspect` object.
  std::string to_json_text(int indent = -1) const;
};

// Held by a container's starter from the moment it picks a volume until its
// state names it: `remove` and `prune` wait for it, then see the container.
struct VolumeUse {
  VolumeInfo volume;
  UniqueFd lock;
};

// The named volumes of a store. Each is created whole or not at all (made in
// <store>/volumes/.tmp and renamed into place), and removed by renaming it
// away first, so a volume that is listed is always complete.
class VolumeStore {
 public:
  explicit VolumeStore(const std::string& store_root);

  std::string data_dir(const std::string& name) const { return dir_ + "/" + name + "/_data"; }

  // Creates the volume unless it exists (labels apply to a new one only).
  VolumeInfo create(const std::string& name, const std::map<std::string, std::string>& labels = {});
  std::optional<VolumeInfo> find(const std::string& name) const;
  std::vector<VolumeInfo> list() const;
  // The volume, created if missing, held against removal (see VolumeUse).
  VolumeUse use(const std::string& name);

  // `users` returns the containers that use a volume (ids); it is asked
  // while the volume is locked. A volume in use is an error naming them.
  void remove(const std::string& name,
              const std::function<std::vector<std::string>(const std::string&)>& users);
  // Removes every volume no container uses (that `keep` does not keep);
  // returns the names removed.
  std::vector<std::string> prune(const std::function<std::vector<std::string>(const std::string&)>& users,
                                 const std::function<bool(const VolumeInfo&)>& keep = {});

 private:
  std::string dir_;
};

// Docker's rule for a volume name: [a-zA-Z0-9][a-zA-Z0-9_.-]*.
bool valid_volume_name(std::string_view name);
// Fails naming `what` (the flag or command) for an invalid name.
void check_volume_name(std::string_view name, std::string_view what);

// A new random volume name (64 hex digits), as Docker gives an unnamed one.
std::string new_volume_name();

// The label Docker puts on a volume made without a name (by `volume create`
// with no NAME); `system prune --volumes` removes only volumes with it.
inline constexpr std::string_view kAnonymousVolumeLabel = "com.docker.volume.anonymous";

}  // namespace gocrate
