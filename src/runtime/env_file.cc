#include "runtime/env_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>

#include "util/error.h"
#include "util/fs.h"

namespace gocrate {

namespace {

constexpr size_t kMaxFileSize = 16 << 20;

bool valid_utf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    unsigned char c = s[i];
    size_t n = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    for (size_t k = 1; k < n; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    }
    i += n;
  }
  return true;
}

bool is_blank(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

}  // namespace

std::vector<std::string> parse_env_file(std::string_view text, const std::string& what,
                                        const EnvLookup& lookup) {
  std::vector<std::string> out;
  if (text.starts_with("\xEF\xBB\xBF")) text.remove_prefix(3);
  size_t number = 0;
  for (size_t start = 0; start <= text.size();) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(start, end - start);
    bool last = end == text.size();
    start = end + 1;
    if (last && line.empty()) break;
    ++number;
    if (line.ends_with('\r')) line.remove_suffix(1);
    if (!valid_utf8(line)) fail("{} line {} is not valid UTF-8: save the file as UTF-8", what, number);
    while (!line.empty() && is_blank(line.front())) line.remove_prefix(1);
    if (line.empty() || line.front() == '#') continue;
    size_t eq = line.find('=');
    std::string_view key = line.substr(0, eq);
    if (key.find_first_of(" \t") != std::string_view::npos) {
      fail(
          "{} line {}: the name \"{}\" contains whitespace: write the line as KEY=VALUE or KEY (no `export`, "
          "no "
          "blanks around =)",
          what, number, key);
    }
    if (key.empty())
      fail("{} line {}: \"{}\" has no name before =: write the line as KEY=VALUE", what, number, line);
    if (eq != std::string_view::npos) {
      out.push_back(std::string(line));
    } else if (auto value = lookup(std::string(key))) {
      out.push_back(std::string(key) + "=" + *value);
    }
  }
  return out;
}

std::vector<std::string> read_env_file(const std::string& path, std::string_view flag,
                                       const EnvLookup& lookup) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
  if (!fd) fail_errno(fmt::format("cannot read {} {}", flag, path));
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode))
    fail("cannot read {} {}: it is not a regular file", flag, path);
  if (static_cast<size_t>(st.st_size) > kMaxFileSize)
    fail("{} {} is larger than 16 MiB: it is not an environment file", flag, path);
  std::string text = read_fd(fd.get());
  return parse_env_file(text, fmt::format("{} {}", flag, path), lookup);
}

std::vector<std::string> read_env_file(const std::string& path) {
  return read_env_file(path, "--env-file", host_environment);
}

std::optional<std::string> host_environment(const std::string& key) {
  const char* value = std::getenv(key.c_str());
  if (!value) return std::nullopt;
  return std::string(value);
}

std::map<std::string, std::string> merge_labels(const std::map<std::string, std::string>& image_labels,
                                                const std::vector<std::string>& label_files,
                                                const std::vector<std::string>& label_flags) {
  std::map<std::string, std::string> labels = image_labels;
  auto add = [&labels](const std::string& entry, std::string_view what) {
    size_t eq = entry.find('=');
    std::string key = entry.substr(0, eq);
    std::string_view trimmed = key;
    while (!trimmed.empty() && is_blank(trimmed.front())) trimmed.remove_prefix(1);
    while (!trimmed.empty() && is_blank(trimmed.back())) trimmed.remove_suffix(1);
    if (trimmed.empty()) fail("invalid {} \"{}\": empty name; use KEY=VALUE", what, entry);
    if (trimmed.find_first_of(" \t") != std::string_view::npos)
      fail("invalid {} \"{}\": the name contains whitespace; use KEY=VALUE", what, entry);
    labels[key] = eq == std::string::npos ? "" : entry.substr(eq + 1);
  };
  auto empty_value = [](const std::string&) { return std::optional<std::string>(""); };
  for (const auto& file : label_files) {
    for (const auto& entry : read_env_file(file, "--label-file", empty_value))
      add(entry, "--label-file line");
  }
  for (const auto& flag : label_flags) add(flag, "--label");
  return labels;
}

}  // namespace gocrate
