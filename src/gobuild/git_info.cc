#include "gobuild/git_info.h"

#include "util/process.h"
#include "util/strings.h"

namespace gocrate {

std::string public_source_url(const std::string& remote) {
  std::string url(trim(remote));
  if (url.empty() || url.starts_with("/") || url.starts_with(".") || url.starts_with("file:")) return "";
  auto scheme = url.find("://");
  if (scheme == std::string::npos) {
    // scp-like: [user@]host:path
    auto colon = url.find(':');
    if (colon == std::string::npos) return "";
    std::string host = url.substr(0, colon);
    if (auto at = host.find('@'); at != std::string::npos) host = host.substr(at + 1);
    url = "https://" + host + "/" + url.substr(colon + 1);
  } else {
    std::string rest = url.substr(scheme + 3);
    auto slash = rest.find('/');
    std::string authority = rest.substr(0, slash);
    if (auto at = authority.rfind('@'); at != std::string::npos) authority = authority.substr(at + 1);
    std::string scheme_name = url.substr(0, scheme);
    if (scheme_name == "ssh" || scheme_name == "git") scheme_name = "https";
    if (auto colon = authority.find(':');
        colon != std::string::npos && scheme_name == "https" && url.substr(0, scheme) != "https") {
      authority = authority.substr(0, colon);  // an ssh port means nothing over https
    }
    url = scheme_name + "://" + authority + (slash == std::string::npos ? "" : rest.substr(slash));
  }
  if (url.ends_with(".git")) url.resize(url.size() - 4);
  return url;
}

std::optional<GitInfo> read_git_info(const std::string& dir) {
  if (!find_executable("git")) return std::nullopt;
  ProcessOptions options;
  options.working_dir = dir;
  auto head = run_process({"git", "rev-parse", "--show-toplevel", "HEAD"}, options);
  if (head.exit_code != 0) return std::nullopt;
  auto lines = split(std::string(trim(head.out)), '\n');
  if (lines.size() != 2) return std::nullopt;
  GitInfo info;
  info.work_tree = lines[0];
  info.revision = lines[1];
  auto origin = run_process({"git", "config", "--get", "remote.origin.url"}, options);
  if (origin.exit_code == 0) info.source = public_source_url(origin.out);
  return info;
}

}  // namespace gocrate
