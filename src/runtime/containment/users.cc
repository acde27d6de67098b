#include "runtime/containment/users.h"

#include <fcntl.h>
#include <grp.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <optional>

#include "util/error.h"
#include "util/fs.h"
#include "util/rooted_open.h"
#include "util/strings.h"

namespace gocrate {

namespace {

struct DatabaseEntry {
  std::vector<std::string> fields;
};

std::vector<DatabaseEntry> read_database(int root_fd, std::string_view path, std::string_view image) {
  std::vector<DatabaseEntry> entries;
  auto text = read_image_file(root_fd, path, image);
  if (!text) return entries;
  for (const auto& line : split(*text, '\n')) {
    if (line.empty() || line[0] == '#') continue;
    entries.push_back({split(line, ':')});
  }
  return entries;
}

std::optional<uint32_t> as_id(std::string_view text) {
  int64_t value = 0;
  if (!parse_int(text, 0, UINT32_MAX - 1, value)) return std::nullopt;
  return static_cast<uint32_t>(value);
}

}  // namespace

std::optional<std::string> read_image_file(int root_fd, std::string_view path, std::string_view image,
                                           size_t limit) {
  std::string name = image.empty() ? std::string("the image") : fmt::format("image {}", image);
  UniqueFd fd(open_in_root(root_fd, path, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_NOCTTY));
  if (!fd && errno == ENOENT) return std::nullopt;
  if (!fd && errno == ELOOP)
    fail("{}: {} is a symbolic link, not a file: make it a regular file", name, path);
  if (!fd) fail_errno(fmt::format("{}: cannot open {}", name, path));
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) fail_errno(fmt::format("{}: cannot inspect {}", name, path));
  if (!S_ISREG(st.st_mode)) {
    fail("{}: {} is {}, not a regular file: make it a regular file", name, path, file_type_name(st.st_mode));
  }
  std::string text;
  char buffer[65536];
  for (;;) {
    ssize_t n = ::read(fd.get(), buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail_errno(fmt::format("{}: cannot read {}", name, path));
    if (n == 0) return text;
    if (text.size() + n > limit) fail("{}: {} is larger than {} bytes: make it smaller", name, path, limit);
    text.append(buffer, n);
  }
}

ContainerUser resolve_user(int root_fd, std::string_view spec, std::string_view image) {
  ContainerUser user;
  if (spec.empty()) {
    user.name = "root";
    user.home = "/root";
    return user;
  }
  size_t colon = spec.find(':');
  std::string user_part(spec.substr(0, colon));
  std::optional<std::string> group_part;
  if (colon != std::string_view::npos) group_part = std::string(spec.substr(colon + 1));
  if (user_part.empty()) fail("--user \"{}\" names no user: give NAME, UID, NAME:GROUP or UID:GID", spec);

  auto passwd = read_database(root_fd, "/etc/passwd", image);
  auto numeric_uid = as_id(user_part);
  bool found = false;
  for (const auto& e : passwd) {
    if (e.fields.size() < 4) continue;
    auto uid = as_id(e.fields[2]);
    auto gid = as_id(e.fields[3]);
    if (!uid || !gid) continue;
    if (e.fields[0] == user_part || (numeric_uid && *numeric_uid == *uid)) {
      user.uid = *uid;
      user.gid = *gid;
      user.name = e.fields[0];
      if (e.fields.size() > 5 && !e.fields[5].empty()) user.home = e.fields[5];
      found = true;
      break;
    }
  }
  if (!found) {
    if (!numeric_uid) {
      fail(
          "unknown user \"{}\": the image's /etc/passwd has no such user; give a numeric UID or a user the "
          "image "
          "defines",
          user_part);
    }
    user.uid = *numeric_uid;
  }

  auto groups = read_database(root_fd, "/etc/group", image);
  if (group_part) {
    if (auto gid = as_id(*group_part)) {
      user.gid = *gid;
    } else {
      bool group_found = false;
      for (const auto& e : groups) {
        if (e.fields.size() >= 3 && e.fields[0] == *group_part) {
          if (auto gid = as_id(e.fields[2])) {
            user.gid = *gid;
            group_found = true;
            break;
          }
        }
      }
      if (!group_found) {
        fail("unknown group \"{}\": the image's /etc/group has no such group; give a numeric GID",
             *group_part);
      }
    }
  }
  user.supplementary_groups.push_back(user.gid);
  if (!user.name.empty()) {
    for (const auto& e : groups) {
      if (e.fields.size() < 4) continue;
      auto gid = as_id(e.fields[2]);
      if (!gid || *gid == user.gid) continue;
      for (const auto& member : split(e.fields[3], ',')) {
        if (member == user.name) user.supplementary_groups.push_back(*gid);
      }
    }
  }
  return user;
}

void add_groups(int root_fd, ContainerUser& user, const std::vector<std::string>& groups,
                std::string_view image) {
  if (groups.empty()) return;
  std::optional<std::vector<DatabaseEntry>> database;
  for (const auto& group : groups) {
    std::optional<uint32_t> gid = as_id(group);
    if (!gid) {
      if (!database) database = read_database(root_fd, "/etc/group", image);
      for (const auto& e : *database) {
        if (e.fields.size() >= 3 && e.fields[0] == group) {
          gid = as_id(e.fields[2]);
          if (gid) break;
        }
      }
      if (!gid) {
        fail("--group-add {}: unable to find group {} in the image's /etc/group; give a numeric GID", group,
             group);
      }
    }
    auto& list = user.supplementary_groups;
    if (std::find(list.begin(), list.end(), *gid) == list.end()) list.push_back(*gid);
  }
}

void switch_to_user(const ContainerUser& user) {
  // Raw system calls: the caller is a clone of gocrate, and libc's wrappers
  // would try to signal threads that exist only in the parent.
  if (::syscall(SYS_setgroups, user.supplementary_groups.size(), user.supplementary_groups.data()) != 0) {
    fail_errno("cannot set the supplementary groups");
  }
  if (::syscall(SYS_setresgid, user.gid, user.gid, user.gid) != 0) {
    fail_errno(fmt::format("cannot switch to group {}", user.gid));
  }
  if (::syscall(SYS_setresuid, user.uid, user.uid, user.uid) != 0) {
    fail_errno(fmt::format("cannot switch to user {}", user.uid));
  }
}

}  // namespace gocrate
