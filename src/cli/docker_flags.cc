#include "cli/docker_flags.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>

#include "cli/commands.h"
#include "runtime/container.h"
#include "util/error.h"
#include "util/strings.h"

namespace gocrate::cli {

namespace {

bool parse_bool(std::string_view text, bool& value) {
  if (text == "true" || text == "1" || text == "t" || text == "T" || text == "TRUE" || text == "True") {
    value = true;
    return true;
  }
  if (text == "false" || text == "0" || text == "f" || text == "F" || text == "FALSE" || text == "False") {
    value = false;
    return true;
  }
  return false;
}

template <typename T>
std::optional<T> parse_integer(std::string_view text) {
  T value{};
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

}  // namespace

std::string closest_match(std::string_view word, const std::vector<std::string>& candidates) {
  std::string best;
  size_t best_distance = 3;
  for (const auto& candidate : candidates) {
    size_t distance = edit_distance(word, candidate);
    if (distance < best_distance) {
      best_distance = distance;
      best = candidate;
    }
  }
  return best;
}

FlagSet::FlagSet(std::string command, std::string usage, std::string summary)
    : command_(std::move(command)), usage_(std::move(usage)), summary_(std::move(summary)) {}

void FlagSet::add(std::string_view names, Kind kind, std::string value_name, std::string help,
                  std::function<void(std::string_view)> set) {
  Flag flag;
  for (const auto& name : split(names, ',')) {
    if (name.size() == 1)
      flag.short_name = name[0];
    else
      flag.long_name = name;
  }
  flag.kind = kind;
  flag.value_name = std::move(value_name);
  flag.help = std::move(help);
  flag.set = std::move(set);
  flags_.push_back(std::move(flag));
}

void FlagSet::add_bool(std::string_view names, bool& target, std::string help) {
  add(names, Kind::boolean, "", std::move(help), [&target](std::string_view v) { target = v == "true"; });
}

void FlagSet::add_string(std::string_view names, std::string& target, std::string help) {
  add(names, Kind::value, "string", std::move(help), [&target](std::string_view v) { target = v; });
}

void FlagSet::add_string(std::string_view names, std::optional<std::string>& target, std::string help) {
  add(names, Kind::value, "string", std::move(help),
      [&target](std::string_view v) { target = std::string(v); });
}

void FlagSet::add_list(std::string_view names, std::vector<std::string>& target, std::string help) {
  add(names, Kind::value, "list", std::move(help), [&target](std::string_view v) { target.emplace_back(v); });
}

template <typename T>
void FlagSet::add_integer(std::string_view names, std::optional<T>& target, std::string help) {
  add(names, Kind::value, "int", std::move(help), [this, &target, names](std::string_view v) {
    auto value = parse_integer<T>(v);
    if (!value) {
      usage_error(
          fmt::format("invalid argument \"{}\" for --{}: use a whole number", v, split(names, ',').back()));
    }
    target = *value;
  });
}

void FlagSet::add_int(std::string_view names, std::optional<int64_t>& target, std::string help) {
  add_integer(names, target, std::move(help));
}

void FlagSet::add_int(std::string_view names, std::optional<int>& target, std::string help) {
  add_integer(names, target, std::move(help));
}

void FlagSet::add_refused(std::string_view names, bool takes_value, std::string reason,
                          std::function<bool(std::string_view)> accepted) {
  std::string long_name = split(names, ',').back();
  std::string help = "Not supported: " + reason;
  add(names, takes_value ? Kind::value : Kind::boolean, takes_value ? "string" : "", help,
      [long_name, reason, accepted](std::string_view v) {
        if (accepted && accepted(v)) return;
        fail_with_code(kExitRuntimeFailure, "--{} is not supported: {}", long_name, reason);
      });
}

void FlagSet::add_help_section(std::string title, std::string text) {
  sections_.emplace_back(std::move(title), std::move(text));
}

const FlagSet::Flag* FlagSet::find_long(std::string_view name) const {
  for (const auto& flag : flags_) {
    if (flag.long_name == name) return &flag;
  }
  return nullptr;
}

const FlagSet::Flag* FlagSet::find_short(char name) const {
  for (const auto& flag : flags_) {
    if (flag.short_name == name) return &flag;
  }
  return nullptr;
}

void FlagSet::usage_error(const std::string& message) const {
  fail_with_code(kExitRuntimeFailure, "{}; see 'gocrate {} --help'", message, command_);
}

void FlagSet::apply(const Flag& flag, std::string_view value, std::string_view given_as) const {
  if (flag.kind == Kind::boolean) {
    bool b = false;
    if (!parse_bool(value, b))
      usage_error(fmt::format("invalid argument \"{}\" for {}: use true or false", value, given_as));
    flag.set(b ? "true" : "false");
    return;
  }
  flag.set(value);
}

std::vector<std::string> FlagSet::parse(int argc, char** argv, size_t min_positionals) {
  std::vector<std::string> rest;
  int i = 1;
  auto take_value = [&](std::string_view given_as) -> std::string_view {
    if (i + 1 >= argc) usage_error(fmt::format("flag needs an argument: {}", given_as));
    return argv[++i];
  };
  for (; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--") {
      ++i;
      break;
    }
    if (arg.size() < 2 || arg[0] != '-') break;
    if (arg.starts_with("--")) {
      std::string_view body = arg.substr(2);
      size_t eq = body.find('=');
      std::string_view name = body.substr(0, eq);
      if (name == "help") {
        fmt::print("{}", help());
        throw ExitRequest{0};
      }
      const Flag* flag = find_long(name);
      if (!flag) {
        std::vector<std::string> names;
        for (const auto& f : flags_) {
          if (!f.long_name.empty()) names.push_back(f.long_name);
        }
        std::string near = closest_match(name, names);
        usage_error(fmt::format("unknown flag: --{}{}", name,
                                near.empty() ? "" : fmt::format(" (did you mean --{}?)", near)));
      }
      std::string given_as = "--" + std::string(name);
      if (eq != std::string_view::npos) {
        apply(*flag, body.substr(eq + 1), given_as);
      } else if (flag->kind == Kind::boolean) {
        apply(*flag, "true", given_as);
      } else {
        apply(*flag, take_value(given_as), given_as);
      }
      continue;
    }
    // One or more short flags: -d, -dit, -eK=V, -e=K=V, -itp80:80.
    std::string_view shorts = arg.substr(1);
    for (size_t k = 0; k < shorts.size(); ++k) {
      char c = shorts[k];
      const Flag* flag = find_short(c);
      std::string given_as = fmt::format("'{}' in {}", c, arg);
      if (!flag) usage_error(fmt::format("unknown shorthand flag: {}", given_as));
      std::string_view tail = shorts.substr(k + 1);
      if (flag->kind == Kind::boolean) {
        if (tail.starts_with('=')) {
          apply(*flag, tail.substr(1), given_as);
          break;
        }
        apply(*flag, "true", given_as);
        continue;
      }
      if (tail.starts_with('=')) tail.remove_prefix(1);
      apply(*flag, tail.empty() ? take_value(given_as) : tail, given_as);
      break;
    }
  }
  rest.assign(argv + i, argv + argc);
  if (rest.size() < min_positionals) {
    usage_error(fmt::format("\"gocrate {}\" requires at least {} argument{}", command_, min_positionals,
                            min_positionals == 1 ? "" : "s"));
  }
  return rest;
}

std::string FlagSet::help() const {
  std::string out = fmt::format("Usage:  {}\n\n{}\n\nOptions:\n", usage_, summary_);
  std::vector<std::pair<std::string, std::string>> rows;
  size_t width = 0;
  for (const auto& flag : flags_) {
    std::string left = flag.short_name ? fmt::format("-{}, ", flag.short_name) : "    ";
    left += "--" + flag.long_name;
    if (flag.kind == Kind::value) left += " " + flag.value_name;
    width = std::max(width, left.size());
    rows.emplace_back(std::move(left), flag.help);
  }
  for (const auto& [left, text] : rows) out += fmt::format("  {:<{}}   {}\n", left, width, text);
  for (const auto& [title, text] : sections_) out += fmt::format("\n{}:\n{}", title, text);
  return out;
}

}  // namespace gocrate::cli
