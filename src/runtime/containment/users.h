#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gocrate {

struct ContainerUser {
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> supplementary_groups;
  std::string name;  // empty for a uid the image's /etc/passwd does not list
  std::string home = "/";
};

// Resolves a user as docker --user does: "", "name", "uid", "name:group",
// "uid:gid", with names looked up in the image's own /etc/passwd and
// /etc/group, read relative to `root_fd` (never the host's). A name the image
// does not know is an error naming it; a bare number needs no entry.
ContainerUser resolve_user(int root_fd, std::string_view spec, std::string_view image = {});

// --group-add: each a GID, or a group name looked up in the image's own
// /etc/group (read as resolve_user does); added to the user's
// supplementary groups.
void add_groups(int root_fd, ContainerUser& user, const std::vector<std::string>& groups,
                std::string_view image = {});

// Sets supplementary groups, gid and uid (in that order, all of real,
// effective and saved).
void switch_to_user(const ContainerUser& user);

// A small file gocrate reads from an image (/etc/passwd, /etc/group), read
// inside `root_fd` without blocking or following a last symlink: nullopt
// when it does not exist. A FIFO, device, socket, symlink, or a file larger
// than `limit` is an error naming the image and the file.
inline constexpr size_t kImageFileLimit = size_t{16} << 20;
std::optional<std::string> read_image_file(int root_fd, std::string_view path, std::string_view image,
                                           size_t limit = kImageFileLimit);

}  // namespace gocrate
