#include "util/strings.h"

#include <fmt/format.h>

#include <charconv>
#include <ctime>

namespace gocrate {

std::vector<std::string> split(std::string_view text, char separator) {
  std::vector<std::string> parts;
  while (true) {
    auto at = text.find(separator);
    parts.emplace_back(text.substr(0, at));
    if (at == std::string_view::npos) break;
    text.remove_prefix(at + 1);
  }
  return parts;
}

std::string join(const std::vector<std::string>& parts, std::string_view separator) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i) out += separator;
    out += parts[i];
  }
  return out;
}

std::string_view trim(std::string_view text) {
  const char* space = " \t\r\n";
  auto first = text.find_first_not_of(space);
  if (first == std::string_view::npos) return {};
  auto last = text.find_last_not_of(space);
  return text.substr(first, last - first + 1);
}

namespace {

std::string scaled_size(uint64_t bytes, double base, const char* const (&units)[5], bool binary) {
  double value = static_cast<double>(bytes);
  int unit = 0;
  while (value >= base && unit < 4) {
    value /= base;
    ++unit;
  }
  if (unit == 0) return fmt::format("{} B", bytes);
  return binary ? fmt::format("{:.4g} {}", value, units[unit]) : fmt::format("{:.3g} {}", value, units[unit]);
}

}  // namespace

std::string human_size(uint64_t bytes) {
  static const char* const units[] = {"B", "kB", "MB", "GB", "TB"};
  return scaled_size(bytes, 1000, units, false);
}

std::string binary_size(uint64_t bytes) {
  static const char* const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  return scaled_size(bytes, 1024, units, true);
}

bool parse_int(std::string_view text, int64_t min, int64_t max, int64_t& value) {
  if (text.empty()) return false;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  return ec == std::errc() && end == text.data() + text.size() && value >= min && value <= max;
}

bool parse_byte_size(std::string_view text, uint64_t& bytes) {
  std::string lower;
  for (char c : text) lower += static_cast<char>(tolower(static_cast<unsigned char>(c)));
  std::string_view rest = lower;
  if (rest.ends_with('b')) rest.remove_suffix(1);
  int shift = 0;
  if (!rest.empty()) {
    switch (rest.back()) {
      case 'k':
        shift = 10;
        break;
      case 'm':
        shift = 20;
        break;
      case 'g':
        shift = 30;
        break;
      case 't':
        shift = 40;
        break;
    }
    if (shift) rest.remove_suffix(1);
  }
  int64_t value;
  if (!parse_int(rest, 0, INT64_MAX >> shift, value)) return false;
  bytes = static_cast<uint64_t>(value) << shift;
  return true;
}

std::string rfc3339_utc(int64_t seconds) {
  time_t t = static_cast<time_t>(seconds);
  tm utc;
  gmtime_r(&t, &utc);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", utc.tm_year + 1900, utc.tm_mon + 1, utc.tm_mday,
                     utc.tm_hour, utc.tm_min, utc.tm_sec);
}

}  // namespace gocrate
