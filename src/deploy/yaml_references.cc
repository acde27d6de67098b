#include "deploy/yaml_references.h"

#include <yaml-cpp/yaml.h>

#include "util/error.h"
#include "util/strings.h"

namespace gocrate {

namespace {

struct Site {
  int line;  // 0-based
  std::string value;
};

void collect(const YAML::Node& node, std::vector<Site>& sites) {
  switch (node.Type()) {
    case YAML::NodeType::Scalar:
      if (!import_path_of_reference(node.Scalar()).empty())
        sites.push_back({node.Mark().line, node.Scalar()});
      break;
    case YAML::NodeType::Sequence:
      for (const auto& child : node) collect(child, sites);
      break;
    case YAML::NodeType::Map:
      for (const auto& entry : node) collect(entry.second, sites);
      break;
    default:
      break;
  }
}

std::vector<Site> parse_sites(const YamlSource& source) {
  std::vector<Site> sites;
  try {
    for (const auto& document : YAML::LoadAll(source.text)) collect(document, sites);
  } catch (const YAML::Exception& e) {
    fail("{}:{}: YAML does not parse: {}", source.name, e.mark.line + 1, e.msg);
  }
  return sites;
}

bool ends_scalar(char c) {
  return c == '\n' || c == '\r' || c == ' ' || c == '\t' || c == '"' || c == '\'' || c == ',' || c == ']' ||
         c == '}' || c == '#';
}

}  // namespace

std::string import_path_of_reference(std::string_view value) {
  for (std::string_view scheme : {"gocrate://", "ko://"}) {
    if (value.starts_with(scheme) && value.size() > scheme.size())
      return std::string(value.substr(scheme.size()));
  }
  return {};
}

std::set<std::string> find_image_references(const YamlSource& source) {
  std::set<std::string> paths;
  for (const auto& site : parse_sites(source)) paths.insert(import_path_of_reference(site.value));
  return paths;
}

std::string replace_image_references(const YamlSource& source,
                                     const std::map<std::string, std::string>& resolved) {
  std::map<int, std::set<std::string>> values_by_line;
  for (auto& site : parse_sites(source)) values_by_line[site.line].insert(site.value);

  std::vector<std::string> lines = split(source.text, '\n');
  for (const auto& [line, values] : values_by_line) {
    std::string& text = lines.at(line);
    for (const auto& value : values) {
      auto it = resolved.find(import_path_of_reference(value));
      if (it == resolved.end()) fail("{}: no image was built for {}", source.name, value);
      size_t replaced = 0;
      for (size_t at = text.find(value); at != std::string::npos; at = text.find(value, at)) {
        size_t end = at + value.size();
        if (end < text.size() && !ends_scalar(text[end])) {
          at = end;
          continue;
        }
        text.replace(at, value.size(), it->second);
        at += it->second.size();
        ++replaced;
      }
      if (replaced == 0) {
        fail(
            "{}:{}: {} is written in a form gocrate cannot rewrite in place (folded or escaped): write it on "
            "one "
            "line",
            source.name, line + 1, value);
      }
    }
  }
  return join(lines, "\n");
}

}  // namespace gocrate
