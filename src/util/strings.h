#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace gocrate {

std::vector<std::string> split(std::string_view text, char separator);
std::string join(const std::vector<std::string>& parts, std::string_view separator);
std::string_view trim(std::string_view text);
// "4.2 MB" in SI units, as docker images prints sizes.
std::string human_size(uint64_t bytes);
// "32 GiB", "1.5 MiB" in binary units, as parse_byte_size reads them.
std::string binary_size(uint64_t bytes);
// Parses "64m", "1g", "512k", "1048576" (binary units, as docker -m).
// Returns false on malformed input.
bool parse_byte_size(std::string_view text, uint64_t& bytes);
// RFC 3339 UTC time ("2006-01-02T15:04:05Z") for seconds since the epoch.
std::string rfc3339_utc(int64_t seconds);
// Whether the text is a decimal number in [min, max].
bool parse_int(std::string_view text, int64_t min, int64_t max, int64_t& value);

}  // namespace gocrate
