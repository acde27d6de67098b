#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "layer/tar.h"
#include "util/byte_reader.h"

namespace gocrate {

// One side of `cp`: a file tree and a path in it. A container's tree is its
// root (every path, and every symlink in it, resolved inside it: `..` and
// absolute links stop at its root); the host's is "/" with paths resolved
// as usual.
struct TreePath {
  int root_fd = -1;
  std::string path;  // absolute in the tree; a trailing "/" or "/." kept as given
  bool container = false;
  std::string what;  // "container web", "the host": for errors
  // A running container's volumes and binds (absolute in the tree): below
  // the top entry, the copy goes into these mount points; every other
  // mount (its /proc, /sys, /dev, a tmpfs) is copied as an empty directory.
  std::vector<std::string> user_mounts;
};

// What a path is, Docker's way: every component but the last resolved in the
// tree, the last too with `follow_link` or a trailing "/" or "/.".
struct PathInfo {
  bool exists = false;
  bool is_dir = false;
};
PathInfo stat_tree_path(const TreePath& at, bool follow_link);

// Writes what `at` names as a tar stream whose top entry is called `top` (a
// name, "." for a directory's contents, or "" for a directory's contents
// without a prefix, as `export` writes the root): a directory with
// everything in it, never following a symlink below it. Owners, modes and mtimes as they
// are.
void archive_tree_path(const TreePath& at, bool follow_link, const std::string& top, TarWriter& tar);

// How extract_archive writes entries.
struct ExtractOptions {
  // Every entry owned by this uid:gid instead of the archive's.
  std::optional<std::pair<uid_t, gid_t>> owner;
};

// Extracts a tar stream into the existing directory `into`. In a container
// every entry's path is resolved inside its root; on the host no entry's
// parent may be a symlink, so nothing lands outside `into`. Entries with
// absolute names or `..` components are refused, naming them.
void extract_archive(ByteReader& tar, const std::string& tar_what, const TreePath& into,
                     const ExtractOptions& options);

// `docker cp` between two trees: the copy of `from` lands at `to` by
// Docker's rules (a directory destination receives the source by its name,
// or its contents for SRC/.; a missing destination becomes the copy; a
// directory never replaces a file). Every entry is owned by `owner`, or as
// the source's when there is none. A copy onto the host that fails removes
// what it made.
void copy_tree_path(const TreePath& from, const TreePath& to, bool follow_link,
                    std::optional<std::pair<uid_t, gid_t>> owner);

// Extracts a tar stream (cp - CONTAINER:DEST) into the directory `to`,
// owned by `owner` or, without one, as the stream says.
void copy_archive_into(ByteReader& tar, const TreePath& to, std::optional<std::pair<uid_t, gid_t>> owner);

// Writes what `from` names as a tar stream (cp CONTAINER:SRC -).
void copy_tree_path_to_archive(const TreePath& from, bool follow_link, TarWriter& tar);

// The last component of a cp path: "." for SRC/., "" for "/".
std::string cp_base_name(const std::string& path);

}  // namespace gocrate
