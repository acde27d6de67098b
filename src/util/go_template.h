#pragma once

// Go's text/template, as `docker inspect -f` and `docker ps --format` use it,
// evaluated over JSON: fields, variables, pipelines, if/else/range/with,
// comparisons and the functions of Go's text/template and of Docker's
// (json, join, split, upper, lower, title, pad, truncate). Values print as
// Go's fmt prints them: numbers without a needless ".0", objects as
// map[k:v], arrays as [a b], a missing key as <no value>.

#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace gocrate {

struct GoTemplateOptions {
  // What `.Name ARGS` calls on an object that has no key Name: Docker's
  // methods with arguments, such as ps's {{.Label "com.example"}}.
  using Method =
      std::function<nlohmann::json(const nlohmann::json& receiver, const std::vector<nlohmann::json>& args)>;
  std::map<std::string, Method> methods;
  // Non-empty: a field missing from an object is an error naming this type,
  // as a Go struct's would be ("*formatter.ContainerContext"). Empty: it
  // prints <no value>, as a Go map's does.
  std::string struct_type;
  // Docker's table header: json, join, split, upper, lower, title, pad and
  // truncate give back their first argument, and an error ends the output
  // where it happened instead of failing.
  bool header = false;
};

namespace go_template_detail {
struct Tree;
}

class GoTemplate {
 public:
  // Throws Error "template parsing error: template: NAME:LINE: ..." (Docker's
  // words and Go's) on a syntax error.
  static GoTemplate parse(std::string_view text, std::string name = "");

  // Throws Error "template: NAME:LINE:COL: executing ..." when evaluation
  // fails (a field of a string, a function given the wrong type, ...).
  std::string execute(const nlohmann::json& data, const GoTemplateOptions& options = {}) const;

 private:
  std::shared_ptr<const go_template_detail::Tree> tree_;
};

// Go's fmt %v of a JSON value (what {{.}} prints).
std::string go_print_value(const nlohmann::json& value);
// Go's strconv.Quote.
std::string go_quote(std::string_view text);

// Docker's --format: "table" at the start asks for a header and aligned
// columns; blanks around the template are dropped and, unless `raw`, the
// two characters \t and \n stand for a tab and a newline.
struct DockerFormat {
  bool table = false;
  std::string text;  // the template, without "table"
};
DockerFormat parse_docker_format(std::string_view format, bool raw = false);

// docker inspect -f: the template run over each object of the array, each
// output followed by a newline (the template is taken as written: no \t
// replacement). Errors, of parsing or executing, read "template parsing
// error: ...", as Docker's.
std::string docker_inspect_format(std::string_view format, const nlohmann::json& objects);

// Go's text/tabwriter as Docker's tables use it (minimum width 10, padding
// 3, spaces): tab-separated cells of consecutive lines aligned in columns.
std::string align_docker_columns(std::string_view text);

}  // namespace gocrate
