#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace gocrate {

// Docker's -f/--filter KEY=VALUE arguments: values of one key are
// alternatives, different keys must all match.
class FilterArgs {
 public:
  // `accepted`: the keys this command applies. `unsupported`: keys Docker
  // has that gocrate refuses with a reason instead of ignoring them.
  static FilterArgs parse(const std::vector<std::string>& flags,
                          const std::vector<std::string_view>& accepted,
                          const std::vector<std::string_view>& unsupported = {});

  bool empty() const { return values_.empty(); }
  bool has(std::string_view key) const { return values_.count(key) > 0; }
  const std::vector<std::string>& values(std::string_view key) const;
  // Whether any value of `key` satisfies `match`; true when the key is not given.
  template <typename Match>
  bool any(std::string_view key, Match match) const {
    if (!has(key)) return true;
    for (const auto& v : values(key)) {
      if (match(v)) return true;
    }
    return false;
  }
  // label=KEY and label=KEY=VALUE: every one must match (Docker's rule).
  bool labels_match(const std::map<std::string, std::string>& labels) const;

 private:
  std::map<std::string, std::vector<std::string>, std::less<>> values_;
};

// Go's path.Match: * and ? do not cross '/', [a-z] and [^a] classes, \ escapes.
bool glob_match(std::string_view pattern, std::string_view text);
// Go's regexp.MatchString for Docker's name= and id= filters (a search, not
// a full match); a pattern that is not a valid expression is an error
// naming the filter.
bool regex_search(const std::string& pattern, const std::string& text, std::string_view filter);

}  // namespace gocrate
