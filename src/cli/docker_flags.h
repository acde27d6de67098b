#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gocrate::cli {

// Docker's command-line grammar (spf13/pflag without interspersed
// arguments), for the commands a `docker` user types the same way: `run`,
// `create`, `exec`.
//   - Options come first; the first argument that is not an option (the
//     image, the container) ends them, and it and everything after it are
//     returned verbatim, "--" included. A "--" before it ends the options.
//   - --name VALUE, --name=VALUE, -e VALUE, -eVALUE, -e=VALUE.
//   - Short booleans bundle, and the last of a bundle may take a value:
//     -dit, -itp 80:80, -itp80:80.
//   - Booleans take no separate value: --rm=false, never --rm false.
//   - An unknown option is refused: "unknown flag: --x", exit 125 (Docker's
//     code for a usage error of run).
class FlagSet {
 public:
  // `usage`: "gocrate run [OPTIONS] IMAGE [COMMAND] [ARG...]".
  FlagSet(std::string command, std::string usage, std::string summary);

  // `names`: "d,detach", "rm" or "h,hostname": one letter is the short
  // form. `value_name` is shown in --help ("list", "string").
  void add_bool(std::string_view names, bool& target, std::string help);
  void add_string(std::string_view names, std::string& target, std::string help);
  void add_string(std::string_view names, std::optional<std::string>& target, std::string help);
  void add_list(std::string_view names, std::vector<std::string>& target, std::string help);
  void add_int(std::string_view names, std::optional<int64_t>& target, std::string help);
  void add_int(std::string_view names, std::optional<int>& target, std::string help);
  // A flag of Docker's that gocrate parses and refuses with `reason` (what
  // to do instead) — unless `accepted` says the value given asks for what
  // gocrate does anyway ("--userns host"). A boolean's value is "true" or
  // "false".
  void add_refused(std::string_view names, bool takes_value, std::string reason,
                   std::function<bool(std::string_view)> accepted = {});
  // Shown in --help but not parsed: the options of another mode.
  void add_help_section(std::string title, std::string text);

  // Parses argv[1..argc): returns the first argument that is not an option
  // and all that follow it. Throws an Error (exit 125) for a usage error;
  // --help prints the help and throws ExitRequest{0}. At least
  // `min_positionals` arguments must remain.
  std::vector<std::string> parse(int argc, char** argv, size_t min_positionals);

  std::string help() const;

 private:
  enum class Kind { boolean, value };
  struct Flag {
    std::string long_name;
    char short_name = 0;
    Kind kind = Kind::value;
    std::string value_name;
    std::string help;
    std::function<void(std::string_view)> set;
  };

  void add(std::string_view names, Kind kind, std::string value_name, std::string help,
           std::function<void(std::string_view)> set);
  template <typename T>
  void add_integer(std::string_view names, std::optional<T>& target, std::string help);
  const Flag* find_long(std::string_view name) const;
  const Flag* find_short(char name) const;
  [[noreturn]] void usage_error(const std::string& message) const;
  void apply(const Flag& flag, std::string_view value, std::string_view given_as) const;

  std::string command_;
  std::string usage_;
  std::string summary_;
  std::vector<Flag> flags_;
  std::vector<std::pair<std::string, std::string>> sections_;
};

// The closest of `candidates` to a mistyped `word` (edit distance at most 2),
// or empty.
std::string closest_match(std::string_view word, const std::vector<std::string>& candidates);

}  // namespace gocrate::cli
