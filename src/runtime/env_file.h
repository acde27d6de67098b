#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gocrate {

// Docker's --env-file and --label-file format: one KEY=VALUE or KEY a line;
// leading blanks are dropped, blank lines and lines starting with # are
// skipped, the value is kept verbatim (quotes and trailing blanks included).
// A line whose key holds a blank (`export A=1`, `A = 1`) is an error naming
// `what`, the line number and the fix. A line that is only KEY takes the
// value `lookup` gives, and is left out when it gives none.
using EnvLookup = std::function<std::optional<std::string>(const std::string& key)>;
std::vector<std::string> parse_env_file(std::string_view text, const std::string& what,
                                        const EnvLookup& lookup);

// Reads and parses the file (at most 16 MiB); `flag` names the option in
// errors ("--env-file").
std::vector<std::string> read_env_file(const std::string& path, std::string_view flag,
                                       const EnvLookup& lookup);

// --env-file PATH: KEY alone takes its value from gocrate's environment.
std::vector<std::string> read_env_file(const std::string& path);

// The value of KEY in gocrate's own environment.
std::optional<std::string> host_environment(const std::string& key);

// -l/--label and --label-file as Docker merges them: the image's labels,
// then the files' lines, then the flags; a later key wins; KEY alone is an
// empty value.
std::map<std::string, std::string> merge_labels(const std::map<std::string, std::string>& image_labels,
                                                const std::vector<std::string>& label_files,
                                                const std::vector<std::string>& label_flags);

}  // namespace gocrate
