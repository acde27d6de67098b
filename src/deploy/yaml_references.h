#pragma once

#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace gocrate {

// A YAML stream (one file, or standard input) that may hold several documents.
struct YamlSource {
  std::string name;  // file name for messages; "-" for standard input
  std::string text;
};

// The import paths that `gocrate://IMPORTPATH` and `ko://IMPORTPATH` scalar
// values name, anywhere in any document. Comments and keys are not values
// and are left alone. A stream that does not parse is an error naming the
// file and line.
std::set<std::string> find_image_references(const YamlSource& source);

// The stream with every such value replaced by resolved[import path]. The
// text is rewritten in place: documents, fields, order, quoting and comments
// all stay as they were.
std::string replace_image_references(const YamlSource& source,
                                     const std::map<std::string, std::string>& resolved);

// "gocrate://example.com/x" or "ko://example.com/x" -> "example.com/x"; empty
// for other strings.
std::string import_path_of_reference(std::string_view value);

}  // namespace gocrate
