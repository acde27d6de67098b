#include "util/filters.h"

#include <fnmatch.h>

#include <algorithm>
#include <regex>

#include "util/error.h"
#include "util/strings.h"

namespace gocrate {

FilterArgs FilterArgs::parse(const std::vector<std::string>& flags,
                             const std::vector<std::string_view>& accepted,
                             const std::vector<std::string_view>& unsupported) {
  FilterArgs args;
  for (const auto& flag : flags) {
    size_t eq = flag.find('=');
    if (eq == std::string::npos || eq == 0) fail("bad format of filter \"{}\" (expected name=value)", flag);
    std::string key = flag.substr(0, eq);
    std::transform(key.begin(), key.end(), key.begin(), [](unsigned char c) { return std::tolower(c); });
    if (std::find(unsupported.begin(), unsupported.end(), key) != unsupported.end())
      fail("filter '{}' is not supported by gocrate: use {}", key,
           join({accepted.begin(), accepted.end()}, ", "));
    if (std::find(accepted.begin(), accepted.end(), key) == accepted.end())
      fail("invalid filter '{}': use {}", key, join({accepted.begin(), accepted.end()}, ", "));
    args.values_[key].push_back(flag.substr(eq + 1));
  }
  return args;
}

const std::vector<std::string>& FilterArgs::values(std::string_view key) const {
  static const std::vector<std::string> none;
  auto it = values_.find(key);
  return it == values_.end() ? none : it->second;
}

bool FilterArgs::labels_match(const std::map<std::string, std::string>& labels) const {
  for (const auto& wanted : values("label")) {
    size_t eq = wanted.find('=');
    auto it = labels.find(wanted.substr(0, eq));
    if (it == labels.end()) return false;
    if (eq != std::string::npos && it->second != wanted.substr(eq + 1)) return false;
  }
  return true;
}

bool glob_match(std::string_view pattern, std::string_view text) {
  // fnmatch with FNM_PATHNAME is Go's path.Match but for [!...], which Go
  // reads as a literal '!': map Go's [^...] through unchanged (glibc takes
  // both) and escape a leading '!' in a class.
  std::string p;
  for (size_t i = 0; i < pattern.size(); ++i) {
    p += pattern[i];
    if (pattern[i] == '\\' && i + 1 < pattern.size()) {
      p += pattern[++i];
    } else if (pattern[i] == '[' && i + 1 < pattern.size() && pattern[i + 1] == '!') {
      p += "\\!";
      ++i;
    }
  }
  return ::fnmatch(p.c_str(), std::string(text).c_str(), FNM_PATHNAME) == 0;
}

bool regex_search(const std::string& pattern, const std::string& text, std::string_view filter) {
  try {
    return std::regex_search(text, std::regex(pattern, std::regex::ECMAScript));
  } catch (const std::regex_error&) {
    fail("invalid filter '{}={}': not a valid regular expression", filter, pattern);
  }
}

}  // namespace gocrate
