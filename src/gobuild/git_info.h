#pragma once

#include <optional>
#include <string>

namespace gocrate {

// Where a build's source came from, for the OCI source/revision annotations.
struct GitInfo {
  std::string revision;   // HEAD commit
  std::string source;     // origin as a public URL; empty when it is a local path
  std::string work_tree;  // the checkout's top directory
};

// nullopt when `dir` is not in a git work tree or git is not installed.
std::optional<GitInfo> read_git_info(const std::string& dir);

// "git@github.com:org/repo.git" -> "https://github.com/org/repo"; credentials
// removed; "" for local paths and file:// URLs.
std::string public_source_url(const std::string& remote);

}  // namespace gocrate
