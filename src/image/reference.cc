#include "image/reference.h"

#include "util/error.h"
#include "util/strings.h"

namespace gocrate {

namespace {

bool is_lower_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}
bool is_alnum(char c) {
  return is_lower_alnum(c) || (c >= 'A' && c <= 'Z');
}

// path-component := [a-z0-9]+ (separator [a-z0-9]+)*, separator := [_.] | __ | -+
bool is_path_component(std::string_view s) {
  if (s.empty() || !is_lower_alnum(s.front()) || !is_lower_alnum(s.back())) return false;
  for (size_t i = 0; i < s.size();) {
    if (is_lower_alnum(s[i])) {
      ++i;
      continue;
    }
    size_t start = i;
    while (i < s.size() && !is_lower_alnum(s[i])) ++i;
    std::string_view sep = s.substr(start, i - start);
    bool dashes = sep.find_first_not_of('-') == std::string_view::npos;
    if (!(sep == "." || sep == "_" || sep == "__" || dashes)) return false;
  }
  return true;
}

bool is_domain_component(std::string_view s) {
  if (s.empty() || !is_alnum(s.front()) || !is_alnum(s.back())) return false;
  for (char c : s) {
    if (!is_alnum(c) && c != '-') return false;
  }
  return true;
}

bool is_domain(std::string_view s) {
  auto colon = s.find(':');
  std::string_view host = s.substr(0, colon);
  if (colon != std::string_view::npos) {
    int64_t port;
    if (!parse_int(s.substr(colon + 1), 1, 65535, port)) return false;
  }
  for (const auto& part : split(host, '.')) {
    if (!is_domain_component(part)) return false;
  }
  return true;
}

bool looks_like_domain(std::string_view component) {
  return component.find_first_of(".:") != std::string_view::npos || component == "localhost" ||
         component.find_first_of("ABCDEFGHIJKLMNOPQRSTUVWXYZ") != std::string_view::npos;
}

}  // namespace

bool is_valid_domain(std::string_view domain) {
  return is_domain(domain);
}

bool is_valid_path_component(std::string_view component) {
  return is_path_component(component);
}

bool is_valid_tag(std::string_view tag) {
  if (tag.empty() || tag.size() > 128) return false;
  auto word = [](char c) { return is_alnum(c) || c == '_'; };
  if (!word(tag[0])) return false;
  for (char c : tag) {
    if (!word(c) && c != '.' && c != '-') return false;
  }
  return true;
}

std::optional<Reference> Reference::try_parse(std::string_view text) {
  try {
    return parse(text);
  } catch (const Error&) {
    return std::nullopt;
  }
}

Reference Reference::parse(std::string_view text) {
  auto invalid = [&](std::string_view why) -> Reference { fail("invalid reference \"{}\": {}", text, why); };
  if (text.empty()) return invalid("it is empty");
  Reference ref;
  std::string_view rest = text;
  if (auto at = rest.find('@'); at != std::string_view::npos) {
    auto digest = Digest::try_parse(rest.substr(at + 1));
    if (!digest) return invalid("the part after '@' must be sha256:<64 hex digits>");
    ref.digest = digest;
    rest = rest.substr(0, at);
  }
  auto last_slash = rest.rfind('/');
  auto tag_colon = rest.rfind(':');
  if (tag_colon != std::string_view::npos &&
      (last_slash == std::string_view::npos || tag_colon > last_slash)) {
    ref.tag = std::string(rest.substr(tag_colon + 1));
    if (!is_valid_tag(ref.tag)) {
      return invalid("a tag is up to 128 letters, digits, '_', '.' and '-', not starting with '.' or '-'");
    }
    rest = rest.substr(0, tag_colon);
  }
  auto components = split(rest, '/');
  size_t first_path = 0;
  if (components.size() > 1 && looks_like_domain(components[0])) {
    if (!is_domain(components[0])) return invalid("the registry host is not a valid host[:port]");
    ref.domain = components[0];
    first_path = 1;
  }
  std::vector<std::string> path(components.begin() + first_path, components.end());
  for (const auto& component : path) {
    if (!is_path_component(component)) {
      return invalid("repository names are lowercase letters, digits and separators (. _ __ -)");
    }
  }
  ref.path = join(path, "/");
  if (ref.name().size() > 255) return invalid("the name is longer than 255 characters");
  return ref;
}

std::string Reference::name() const {
  return domain.empty() ? path : domain + "/" + path;
}

std::string Reference::str() const {
  std::string out = name();
  if (!tag.empty()) out += ":" + tag;
  if (digest) out += "@" + digest->str();
  return out;
}

Reference Reference::with_default_tag() const {
  Reference out = *this;
  if (out.tag.empty() && !out.digest) out.tag = "latest";
  return out;
}

std::string Reference::registry() const {
  if (domain.empty() || domain == "index.docker.io") return "docker.io";
  return domain;
}

std::string Reference::repository() const {
  if (registry() == "docker.io" && path.find('/') == std::string::npos) return "library/" + path;
  return path;
}

}  // namespace gocrate
