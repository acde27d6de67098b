#include "image/config_options.h"

#include <cstdlib>

#include "util/error.h"
#include "util/fs.h"
#include "util/strings.h"

namespace gocrate {

std::string parse_env_assignment(std::string_view text, std::string_view flag) {
  auto eq = text.find('=');
  std::string_view key = text.substr(0, eq);
  if (eq == std::string_view::npos || key.empty() || key.find_first_of(" \t\n") != std::string_view::npos) {
    fail("invalid {} \"{}\": expected KEY=VALUE", flag, text);
  }
  return std::string(text);
}

std::string parse_exposed_port(std::string_view text, std::string_view flag) {
  auto slash = text.find('/');
  std::string_view number = text.substr(0, slash);
  std::string protocol = slash == std::string_view::npos ? "tcp" : std::string(text.substr(slash + 1));
  int64_t port;
  if (!parse_int(number, 1, 65535, port) || (protocol != "tcp" && protocol != "udp" && protocol != "sctp")) {
    fail("invalid {} \"{}\": expected PORT[/tcp|udp] with PORT from 1 to 65535", flag, text);
  }
  return fmt::format("{}/{}", port, protocol);
}

std::string parse_user_spec(std::string_view text, std::string_view flag) {
  auto valid_part = [](std::string_view part) {
    if (part.empty() || part.size() > 32) return false;
    for (char c : part) {
      if (!isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-' && c != '.') return false;
    }
    int64_t id;
    bool numeric = part.find_first_not_of("0123456789") == std::string_view::npos;
    return !numeric || parse_int(part, 0, 4294967294, id);
  };
  auto parts = split(text, ':');
  if (parts.size() > 2 || !valid_part(parts[0]) || (parts.size() == 2 && !valid_part(parts[1]))) {
    fail("invalid {} \"{}\": expected UID[:GID] or NAME[:GROUP], e.g. 65532:65532", flag, text);
  }
  return std::string(text);
}

std::pair<std::string, std::string> parse_key_value(std::string_view text, std::string_view flag) {
  auto eq = text.find('=');
  if (eq == std::string_view::npos || eq == 0) fail("invalid {} \"{}\": expected KEY=VALUE", flag, text);
  return {std::string(text.substr(0, eq)), std::string(text.substr(eq + 1))};
}

std::pair<std::string, std::string> parse_file_mapping(std::string_view text, std::string_view flag) {
  auto colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == text.size()) {
    fail("invalid {} \"{}\": expected SRC:DST, e.g. ./config.yaml:/etc/app/config.yaml", flag, text);
  }
  std::string source(text.substr(0, colon));
  std::string destination(text.substr(colon + 1));
  if (!destination.starts_with('/'))
    fail("invalid {} \"{}\": the destination must be an absolute path", flag, text);
  if (!path_exists(source)) fail("invalid {} \"{}\": {} does not exist", flag, text, source);
  return {source, destination};
}

int64_t source_date_epoch() {
  const char* text = std::getenv("SOURCE_DATE_EPOCH");
  if (!text || !*text) return 0;
  int64_t epoch;
  if (!parse_int(text, 0, 253402300799, epoch)) {
    fail("invalid SOURCE_DATE_EPOCH \"{}\": expected seconds since 1970-01-01 UTC", text);
  }
  return epoch;
}

}  // namespace gocrate
