#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

namespace gocrate {

// Validators for what users write on the command line. Each returns the
// normalised value or throws an Error that names the flag and the value.

// "KEY=value" (value may be empty); KEY non-empty without '=' or spaces.
std::string parse_env_assignment(std::string_view text, std::string_view flag);
// "8080", "8080/tcp", "53/udp" -> "8080/tcp"
std::string parse_exposed_port(std::string_view text, std::string_view flag);
// "65532", "65532:65532", "nonroot", "app:staff"
std::string parse_user_spec(std::string_view text, std::string_view flag);
// "key=value" -> {key, value}; key non-empty
std::pair<std::string, std::string> parse_key_value(std::string_view text, std::string_view flag);
// "SRC:DST" with DST absolute; SRC must exist.
std::pair<std::string, std::string> parse_file_mapping(std::string_view text, std::string_view flag);
// SOURCE_DATE_EPOCH: unset or empty means 0.
int64_t source_date_epoch();

}  // namespace gocrate
