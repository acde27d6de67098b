#pragma once

#include <sys/types.h>

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
ContainerUser resolve_user(int root_fd, std::string_view spec);

// Sets supplementary groups, gid and uid (in that order, all of real,
// effective and saved).
void switch_to_user(const ContainerUser& user);

// Opens `path` inside the root `root_fd`, symlinks resolved as if `root_fd`
// were "/" and magic links refused; -1 with errno set on failure.
int open_in_root(int root_fd, std::string_view path, int flags);

}  // namespace gocrate
