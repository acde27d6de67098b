#include "util/go_template.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <optional>
#include <variant>

#include "util/error.h"

namespace gocrate {

using nlohmann::json;

// ---- Printing values as Go's fmt does ----------------------------------------

namespace {

// fmt's %v of a float64 (strconv's shortest 'g': exponent form below 1e-4
// and from 1e6), or with `for_json` encoding/json's (exponent form below
// 1e-6 and from 1e21, "e-7" not "e-07").
std::string go_float(double value, bool for_json = false) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  char buffer[64];
  auto sci = std::to_chars(buffer, buffer + sizeof buffer, value, std::chars_format::scientific);
  std::string text(buffer, sci.ptr);
  size_t e = text.find('e');
  int exponent = std::atoi(text.c_str() + e + 1);
  double magnitude = std::fabs(value);
  bool exponent_form =
      value != 0 && (for_json ? (magnitude < 1e-6 || magnitude >= 1e21) : (exponent < -4 || exponent >= 6));
  if (exponent_form) {
    if (for_json && text.size() == e + 4 && text[e + 1] == '-' && text[e + 2] == '0') text.erase(e + 2, 1);
    return text;
  }
  auto fixed = std::to_chars(buffer, buffer + sizeof buffer, value, std::chars_format::fixed);
  return std::string(buffer, fixed.ptr);
}

std::string number_text(const json& v) {
  if (v.is_number_unsigned()) return std::to_string(v.get<uint64_t>());
  if (v.is_number_integer()) return std::to_string(v.get<int64_t>());
  return go_float(v.get<double>());
}

void print_nested(std::string& out, const json& v) {
  switch (v.type()) {
    case json::value_t::null:
      out += "<nil>";
      break;
    case json::value_t::string:
      out += v.get_ref<const std::string&>();
      break;
    case json::value_t::boolean:
      out += v.get<bool>() ? "true" : "false";
      break;
    case json::value_t::array: {
      out += '[';
      bool first = true;
      for (const auto& e : v) {
        if (!first) out += ' ';
        first = false;
        print_nested(out, e);
      }
      out += ']';
      break;
    }
    case json::value_t::object: {
      out += "map[";
      bool first = true;
      for (const auto& [k, e] : v.items()) {
        if (!first) out += ' ';
        first = false;
        out += k;
        out += ':';
        print_nested(out, e);
      }
      out += ']';
      break;
    }
    default:
      if (v.is_number()) out += number_text(v);
      break;
  }
}

void json_compact(std::string& out, const json& v) {
  switch (v.type()) {
    case json::value_t::array: {
      out += '[';
      bool first = true;
      for (const auto& e : v) {
        if (!first) out += ',';
        first = false;
        json_compact(out, e);
      }
      out += ']';
      break;
    }
    case json::value_t::object: {
      out += '{';
      bool first = true;
      for (const auto& [k, e] : v.items()) {
        if (!first) out += ',';
        first = false;
        out += json(k).dump(-1, ' ', false, json::error_handler_t::replace);
        out += ':';
        json_compact(out, e);
      }
      out += '}';
      break;
    }
    case json::value_t::number_float:
      out += go_float(v.get<double>(), true);
      break;
    default:
      out += v.dump(-1, ' ', false, json::error_handler_t::replace);
  }
}

std::string go_type_name(const json* v) {
  if (!v) return "<nil>";
  switch (v->type()) {
    case json::value_t::null:
      return "<nil>";
    case json::value_t::string:
      return "string";
    case json::value_t::boolean:
      return "bool";
    case json::value_t::array:
      return "[]interface {}";
    case json::value_t::object:
      return "map[string]interface {}";
    case json::value_t::number_float:
      return "float64";
    default:
      return "int";
  }
}

size_t rune_count(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

}  // namespace

std::string go_print_value(const json& value) {
  if (value.is_null()) return "<no value>";
  std::string out;
  print_nested(out, value);
  return out;
}

std::string go_quote(std::string_view text) {
  std::string out = "\"";
  for (size_t i = 0; i < text.size(); ++i) {
    unsigned char c = text[i];
    switch (c) {
      case '"':
        out += "\\\"";
        continue;
      case '\\':
        out += "\\\\";
        continue;
      case '\a':
        out += "\\a";
        continue;
      case '\b':
        out += "\\b";
        continue;
      case '\f':
        out += "\\f";
        continue;
      case '\n':
        out += "\\n";
        continue;
      case '\r':
        out += "\\r";
        continue;
      case '\t':
        out += "\\t";
        continue;
      case '\v':
        out += "\\v";
        continue;
      default:
        break;
    }
    if (c < 0x20 || c == 0x7f) {
      out += fmt::format("\\x{:02x}", c);
    } else if (c < 0x80) {
      out += static_cast<char>(c);
    } else {
      // A valid UTF-8 sequence is kept; a stray byte is escaped.
      size_t len = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
      bool valid = len > 0 && i + len <= text.size();
      for (size_t k = 1; valid && k < len; ++k)
        valid = (static_cast<unsigned char>(text[i + k]) & 0xC0) == 0x80;
      if (valid) {
        out.append(text.substr(i, len));
        i += len - 1;
      } else {
        out += fmt::format("\\x{:02x}", c);
      }
    }
  }
  return out + "\"";
}

// ---- The parse tree --------------------------------------------------------------

namespace go_template_detail {

struct Pipeline;
struct Operand;

enum class OperandKind { field, variable, dot, nil, boolean, number, string, identifier, pipeline, chain };

struct Operand {
  OperandKind kind = OperandKind::dot;
  size_t pos = 0;
  std::string text;                 // as written, for error messages
  std::vector<std::string> fields;  // field: .A.B; variable $x.A.B; chain (X).A.B
  std::string name;                 // variable or function name
  json constant;                    // boolean, number, string
  std::shared_ptr<Pipeline> pipe;   // pipeline, chain of a parenthesized pipeline
  std::shared_ptr<Operand> inner;   // chain: the operand the fields apply to
};

struct Command {
  std::vector<Operand> args;
  size_t pos = 0;
  std::string text;
};

struct Pipeline {
  std::vector<std::string> decl;
  bool is_assign = false;
  std::vector<Command> cmds;
  size_t pos = 0;
};

struct Node;
using List = std::vector<Node>;

enum class NodeKind { text, action, if_node, range, with, break_node, continue_node };

struct Node {
  NodeKind kind;
  std::string text;
  std::shared_ptr<Pipeline> pipe;
  std::shared_ptr<List> list;
  std::shared_ptr<List> else_list;
  size_t pos = 0;
};

struct Tree {
  std::string name;
  std::string source;
  List root;
};

}  // namespace go_template_detail

using namespace go_template_detail;

// ---- Lexer (Go's text/template/parse/lex.go) ----------------------------------------

namespace {

enum class Item {
  error,
  text,
  left_delim,
  right_delim,
  space,
  field,
  variable,
  dot,
  identifier,
  keyword,
  boolean,
  nil,
  number,
  char_constant,
  string,
  raw_string,
  pipe,
  left_paren,
  right_paren,
  declare,
  assign,
  character,
  eof
};

struct Token {
  Item type;
  std::string value;
  size_t pos;
  int line;
};

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

bool is_alnum(unsigned char c) {
  return c == '_' || std::isalnum(c) || c >= 0x80;
}

const char* const kKeywords[] = {"if",    "else",     "end",    "range",    "with",
                                 "break", "continue", "define", "template", "block"};

class Lexer {
 public:
  Lexer(std::string_view text, std::string name) : text_(text), name_(std::move(name)) {}

  // A lexing error ends the tokens with an error token: the parser reports
  // it only if nothing before it is wrong, as Go's does.
  std::vector<Token> run() {
    try {
      lex();
    } catch (const Stop&) {
      return std::move(tokens_);
    }
    tokens_.push_back({Item::eof, "", text_.size(), line_});
    return std::move(tokens_);
  }

 private:
  struct Stop {};

  void lex() {
    while (pos_ < text_.size()) {
      size_t open = text_.find("{{", pos_);
      size_t end = open == std::string_view::npos ? text_.size() : open;
      std::string_view chunk = text_.substr(pos_, end - pos_);
      bool trim_left = open != std::string_view::npos && open + 3 < text_.size() + 1 &&
                       text_.substr(open + 2).starts_with("-") && open + 3 < text_.size() &&
                       is_space(text_[open + 3]);
      std::string_view kept = chunk;
      if (trim_left) {
        while (!kept.empty() && is_space(kept.back())) kept.remove_suffix(1);
      }
      if (!kept.empty()) emit(Item::text, kept, pos_);
      line_ += std::count(chunk.begin(), chunk.end(), '\n');
      if (open == std::string_view::npos) break;
      pos_ = open + 2 + (trim_left ? 2 : 0);
      if (text_.substr(pos_).starts_with("/*")) {
        lex_comment(open);
      } else {
        emit(Item::left_delim, "{{", open);
        lex_action();
      }
    }
  }

  [[noreturn]] void error(std::string_view message) {
    tokens_.push_back({Item::error, std::string(message), pos_, line_});
    throw Stop{};
  }

  void emit(Item type, std::string_view value, size_t pos) {
    tokens_.push_back({type, std::string(value), pos, line_});
  }

  // At the end of an action: "}}" or " -}}" (which trims what follows).
  bool at_right_delim(bool& trim) const {
    if (text_.substr(pos_).starts_with("}}")) {
      trim = false;
      return true;
    }
    if (pos_ < text_.size() && is_space(text_[pos_]) && text_.substr(pos_ + 1).starts_with("-}}")) {
      trim = true;
      return true;
    }
    return false;
  }

  void after_right_delim(bool trim) {
    pos_ += trim ? 4 : 2;
    if (trim) {
      while (pos_ < text_.size() && is_space(text_[pos_])) {
        if (text_[pos_] == '\n') ++line_;
        ++pos_;
      }
    }
  }

  void lex_comment(size_t open) {
    size_t close = text_.find("*/", pos_ + 2);
    if (close == std::string_view::npos) error("unclosed comment");
    line_ += std::count(text_.begin() + pos_, text_.begin() + close, '\n');
    pos_ = close + 2;
    bool trim = false;
    if (!at_right_delim(trim)) error("comment ends before closing delimiter");
    after_right_delim(trim);
    (void)open;
  }

  void lex_action() {
    int parens = 0;
    for (;;) {
      bool trim = false;
      if (at_right_delim(trim)) {
        if (parens > 0) error("unclosed left paren");
        emit(Item::right_delim, "}}", pos_);
        after_right_delim(trim);
        return;
      }
      if (pos_ >= text_.size()) error("unclosed action");
      char c = text_[pos_];
      size_t start = pos_;
      if (is_space(c)) {
        while (pos_ < text_.size() && is_space(text_[pos_])) {
          bool t = false;
          if (at_right_delim(t) && t) break;
          if (text_[pos_] == '\n') ++line_;
          ++pos_;
        }
        if (pos_ > start) emit(Item::space, text_.substr(start, pos_ - start), start);
        continue;
      }
      if (c == '|') {
        emit(Item::pipe, "|", pos_++);
      } else if (c == '(') {
        ++parens;
        emit(Item::left_paren, "(", pos_++);
      } else if (c == ')') {
        if (--parens < 0) error("unexpected right paren");
        emit(Item::right_paren, ")", pos_++);
      } else if (c == '"') {
        ++pos_;
        for (;;) {
          if (pos_ >= text_.size() || text_[pos_] == '\n') error("unterminated quoted string");
          if (text_[pos_] == '\\') {
            pos_ += 2;
            continue;
          }
          if (text_[pos_++] == '"') break;
        }
        emit(Item::string, text_.substr(start, pos_ - start), start);
      } else if (c == '`') {
        size_t close = text_.find('`', pos_ + 1);
        if (close == std::string_view::npos) error("unterminated raw quoted string");
        line_ += std::count(text_.begin() + pos_, text_.begin() + close, '\n');
        pos_ = close + 1;
        emit(Item::raw_string, text_.substr(start, pos_ - start), start);
      } else if (c == '\'') {
        ++pos_;
        for (;;) {
          if (pos_ >= text_.size() || text_[pos_] == '\n') error("unterminated character constant");
          if (text_[pos_] == '\\') {
            pos_ += 2;
            continue;
          }
          if (text_[pos_++] == '\'') break;
        }
        emit(Item::char_constant, text_.substr(start, pos_ - start), start);
      } else if (c == '$') {
        ++pos_;
        while (pos_ < text_.size() && is_alnum(text_[pos_])) ++pos_;
        emit(Item::variable, text_.substr(start, pos_ - start), start);
      } else if (c == ':') {
        if (!text_.substr(pos_).starts_with(":=")) error("expected :=");
        pos_ += 2;
        emit(Item::declare, ":=", start);
      } else if (c == '=') {
        emit(Item::assign, "=", pos_++);
      } else if (c == '.') {
        if (pos_ + 1 < text_.size() && std::isdigit(static_cast<unsigned char>(text_[pos_ + 1]))) {
          lex_number();
        } else if (pos_ + 1 < text_.size() && is_alnum(text_[pos_ + 1])) {
          ++pos_;
          while (pos_ < text_.size() && is_alnum(text_[pos_])) ++pos_;
          emit(Item::field, text_.substr(start, pos_ - start), start);
        } else {
          emit(Item::dot, ".", pos_++);
        }
      } else if (c == '+' || c == '-' || std::isdigit(static_cast<unsigned char>(c))) {
        lex_number();
      } else if (is_alnum(c)) {
        while (pos_ < text_.size() && is_alnum(text_[pos_])) ++pos_;
        std::string_view word = text_.substr(start, pos_ - start);
        if (word == "true" || word == "false") {
          emit(Item::boolean, word, start);
        } else if (word == "nil") {
          emit(Item::nil, word, start);
        } else if (std::find(std::begin(kKeywords), std::end(kKeywords), word) != std::end(kKeywords)) {
          emit(Item::keyword, word, start);
        } else {
          emit(Item::identifier, word, start);
        }
      } else if (static_cast<unsigned char>(c) < 0x80 && std::isprint(static_cast<unsigned char>(c))) {
        emit(Item::character, text_.substr(pos_, 1), pos_);
        ++pos_;
      } else {
        error(fmt::format("unrecognized character in action: U+{:04X}", static_cast<unsigned char>(c)));
      }
    }
  }

  void lex_number() {
    size_t start = pos_;
    if (text_[pos_] == '+' || text_[pos_] == '-') ++pos_;
    while (pos_ < text_.size()) {
      char c = text_[pos_];
      bool exponent_sign = (c == '+' || c == '-') && pos_ > start &&
                           (text_[pos_ - 1] == 'e' || text_[pos_ - 1] == 'E' || text_[pos_ - 1] == 'p' ||
                            text_[pos_ - 1] == 'P') &&
                           !text_.substr(start).starts_with("0x") && !text_.substr(start).starts_with("0X");
      if (is_alnum(c) || c == '.' || exponent_sign) {
        ++pos_;
      } else {
        break;
      }
    }
    emit(Item::number, text_.substr(start, pos_ - start), start);
  }

  std::string_view text_;
  std::string name_;
  size_t pos_ = 0;
  int line_ = 1;
  std::vector<Token> tokens_;
};

// ---- Parser (Go's text/template/parse/parse.go) --------------------------------------

std::string item_text(const Token& t) {
  switch (t.type) {
    case Item::eof:
      return "EOF";
    case Item::keyword:
      return "<" + t.value + ">";
    case Item::right_delim:
      return "\"}}\"";
    case Item::left_delim:
      return "\"{{\"";
    default:
      break;
  }
  if (t.value.size() > 10) return go_quote(t.value.substr(0, 10)) + "...";
  return go_quote(t.value);
}

bool is_builtin_function(std::string_view name);

// Go's strconv.Unquote of a "..." or '...' literal.
std::string unquote(std::string_view literal, const std::function<void(std::string_view)>& error) {
  std::string out;
  std::string_view body = literal.substr(1, literal.size() - 2);
  auto append_rune = [&out](uint32_t r) {
    if (r < 0x80) {
      out += static_cast<char>(r);
    } else if (r < 0x800) {
      out += static_cast<char>(0xC0 | (r >> 6));
      out += static_cast<char>(0x80 | (r & 0x3F));
    } else if (r < 0x10000) {
      out += static_cast<char>(0xE0 | (r >> 12));
      out += static_cast<char>(0x80 | ((r >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (r & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (r >> 18));
      out += static_cast<char>(0x80 | ((r >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((r >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (r & 0x3F));
    }
  };
  for (size_t i = 0; i < body.size(); ++i) {
    char c = body[i];
    if (c != '\\') {
      out += c;
      continue;
    }
    if (++i >= body.size()) error("invalid syntax");
    char e = body[i];
    auto hex = [&](size_t digits) {
      uint32_t value = 0;
      for (size_t k = 1; k <= digits; ++k) {
        if (i + k >= body.size() || !std::isxdigit(static_cast<unsigned char>(body[i + k])))
          error("invalid syntax");
        value = value * 16 + static_cast<uint32_t>(std::stoi(std::string(1, body[i + k]), nullptr, 16));
      }
      i += digits;
      return value;
    };
    switch (e) {
      case 'a':
        out += '\a';
        break;
      case 'b':
        out += '\b';
        break;
      case 'f':
        out += '\f';
        break;
      case 'n':
        out += '\n';
        break;
      case 'r':
        out += '\r';
        break;
      case 't':
        out += '\t';
        break;
      case 'v':
        out += '\v';
        break;
      case '\\':
        out += '\\';
        break;
      case '"':
      case '\'':
        out += e;
        break;
      case 'x':
        out += static_cast<char>(hex(2));
        break;
      case 'u':
        append_rune(hex(4));
        break;
      case 'U':
        append_rune(hex(8));
        break;
      default:
        if (e >= '0' && e <= '7' && i + 2 < body.size()) {
          uint32_t value = 0;
          for (size_t k = 0; k < 3; ++k) {
            char d = body[i + k];
            if (d < '0' || d > '7') error("invalid syntax");
            value = value * 8 + static_cast<uint32_t>(d - '0');
          }
          if (value > 255) error("invalid syntax");
          out += static_cast<char>(value);
          i += 2;
        } else {
          error("invalid syntax");
        }
    }
  }
  return out;
}

class Parser {
 public:
  Parser(std::vector<Token> tokens, std::string_view source, std::string name)
      : tokens_(std::move(tokens)), source_(source), name_(std::move(name)) {}

  List parse() {
    vars_ = {"$"};
    List list;
    for (;;) {
      if (peek().type == Item::eof) break;
      if (peek().type == Item::left_delim) {
        const Token& after = peek_non_space_at(pos_ + 1);
        if (after.type == Item::keyword && (after.value == "end" || after.value == "else"))
          error(fmt::format("unexpected {}", after.value == "end" ? "{{end}}" : "{{else}}"));
      }
      list.push_back(text_or_action());
    }
    return list;
  }

 private:
  [[noreturn]] void error(std::string_view message) {
    int line = tokens_[std::min(pos_ == 0 ? 0 : pos_ - 1, tokens_.size() - 1)].line;
    throw Error(fmt::format("template parsing error: template: {}:{}: {}", name_, line, message));
  }
  [[noreturn]] void unexpected(const Token& t, std::string_view context) {
    error(fmt::format("unexpected {} in {}", item_text(t), context));
  }

  [[noreturn]] void lex_error(const Token& t) {
    throw Error(fmt::format("template parsing error: template: {}:{}: {}", name_, t.line, t.value));
  }
  const Token& checked(const Token& t) {
    if (t.type == Item::error) lex_error(t);
    return t;
  }
  const Token& peek() { return checked(tokens_[std::min(pos_, tokens_.size() - 1)]); }
  const Token& next() { return checked(tokens_[std::min(pos_++, tokens_.size() - 1)]); }
  const Token& peek_non_space_at(size_t at) {
    while (at < tokens_.size() && tokens_[at].type == Item::space) ++at;
    return checked(tokens_[std::min(at, tokens_.size() - 1)]);
  }
  const Token& peek_non_space() {
    while (peek().type == Item::space) ++pos_;
    return peek();
  }
  const Token& next_non_space() {
    while (peek().type == Item::space) ++pos_;
    return next();
  }
  void expect(Item type, std::string_view context) {
    const Token& t = next_non_space();
    if (t.type != type) unexpected(t, context);
  }

  Node text_or_action() {
    const Token& t = next();
    if (t.type == Item::text) return Node{NodeKind::text, t.value, nullptr, nullptr, nullptr, t.pos};
    if (t.type != Item::left_delim) unexpected(t, "input");
    return action();
  }

  Node action() {
    const Token& t = peek_non_space();
    if (t.type == Item::keyword) {
      std::string word = t.value;
      size_t pos = t.pos;
      next();
      if (word == "if") return control(NodeKind::if_node, "if", pos);
      if (word == "range") return control(NodeKind::range, "range", pos);
      if (word == "with") return control(NodeKind::with, "with", pos);
      if (word == "break" || word == "continue") {
        if (range_depth_ == 0) error(fmt::format("{{{{{}}}}} outside {{{{range}}}}", word));
        expect(Item::right_delim, word);
        return Node{word == "break" ? NodeKind::break_node : NodeKind::continue_node,
                    "",
                    nullptr,
                    nullptr,
                    nullptr,
                    pos};
      }
      if (word == "end" || word == "else") error(fmt::format("unexpected {{{{{}}}}}", word));
      error(fmt::format("{{{{{}}}}} is not supported", word));
    }
    size_t pos = t.pos;
    auto pipe = pipeline("command", Item::right_delim);
    return Node{NodeKind::action, "", pipe, nullptr, nullptr, pos};
  }

  // {{if|range|with PIPELINE}} LIST [{{else [if|with ...]}} LIST] {{end}}
  // Nesting is bounded: a template is parsed and run by recursion.
  void nest() {
    if (++depth_ > kMaxDepth) error(fmt::format("template nested more than {} levels deep", kMaxDepth));
  }

  Node control(NodeKind kind, std::string_view context, size_t pos) {
    nest();
    size_t vars_mark = vars_.size();
    if (kind == NodeKind::range) ++range_depth_;
    auto pipe = pipeline(context, Item::right_delim);
    auto list = std::make_shared<List>();
    std::shared_ptr<List> else_list;
    std::string ending = item_list(*list);
    if (kind == NodeKind::range) --range_depth_;
    if (ending == "else") {
      const Token& t = peek_non_space();
      if (kind != NodeKind::range && t.type == Item::keyword && t.value == context) {
        // {{else if X}} is {{else}}{{if X}}...{{end}}{{end}}, sharing the end.
        size_t inner_pos = t.pos;
        next();
        else_list = std::make_shared<List>();
        else_list->push_back(control(kind, context, inner_pos));
        vars_.resize(vars_mark);
        --depth_;
        return Node{kind, "", pipe, list, else_list, pos};
      }
      expect(Item::right_delim, "else");
      else_list = std::make_shared<List>();
      if (item_list(*else_list) != "end") error("expected end; found {{else}}");
    }
    vars_.resize(vars_mark);
    --depth_;
    return Node{kind, "", pipe, list, else_list, pos};
  }

  // Nodes until {{end}} (its right delimiter consumed) or {{else (not).
  std::string item_list(List& list) {
    for (;;) {
      if (peek().type == Item::eof) error("unexpected EOF");
      if (peek().type == Item::left_delim) {
        size_t save = pos_;
        next();
        const Token& t = peek_non_space();
        if (t.type == Item::keyword && t.value == "end") {
          next();
          expect(Item::right_delim, "end");
          return "end";
        }
        if (t.type == Item::keyword && t.value == "else") {
          next();
          return "else";
        }
        pos_ = save;
      }
      list.push_back(text_or_action());
    }
  }

  std::shared_ptr<Pipeline> pipeline(std::string_view context, Item end) {
    auto pipe = std::make_shared<Pipeline>();
    pipe->pos = peek_non_space().pos;
    for (;;) {
      const Token& v = peek_non_space();
      if (v.type != Item::variable) break;
      size_t save = pos_;
      next();
      const Token& after = peek_non_space();
      if (after.type == Item::declare || after.type == Item::assign) {
        pipe->is_assign = after.type == Item::assign;
        next();
        if (pipe->is_assign) use_variable(v.value);
        pipe->decl.push_back(v.value);
        vars_.push_back(v.value);
        break;
      }
      if (after.type == Item::character && after.value == ",") {
        next();
        pipe->decl.push_back(v.value);
        vars_.push_back(v.value);
        if (context == "range" && pipe->decl.size() < 2) {
          const Token& t = peek_non_space();
          if (t.type == Item::variable || t.type == Item::right_delim || t.type == Item::right_paren)
            continue;
          error("range can only initialize variables");
        }
        error(fmt::format("too many declarations in {}", context));
      }
      pos_ = save;
      break;
    }
    if (pipe->decl.size() == 1 && context == "range" && pos_ > 0 && tokens_[pos_ - 1].type != Item::declare &&
        tokens_[pos_ - 1].type != Item::assign)
      error("range can only initialize variables");
    for (;;) {
      const Token& t = next_non_space();
      if (t.type == end) {
        if (pipe->cmds.empty()) error(fmt::format("missing value for {}", context));
        for (size_t i = 1; i < pipe->cmds.size(); ++i) {
          OperandKind k = pipe->cmds[i].args[0].kind;
          if (k == OperandKind::boolean || k == OperandKind::dot || k == OperandKind::nil ||
              k == OperandKind::number || k == OperandKind::string)
            error(fmt::format("non executable command in pipeline stage {}", i + 1));
        }
        return pipe;
      }
      switch (t.type) {
        case Item::boolean:
        case Item::char_constant:
        case Item::dot:
        case Item::field:
        case Item::identifier:
        case Item::number:
        case Item::nil:
        case Item::raw_string:
        case Item::string:
        case Item::variable:
        case Item::left_paren:
          --pos_;
          pipe->cmds.push_back(command());
          break;
        default:
          unexpected(t, context);
      }
    }
  }

  Command command() {
    Command cmd;
    cmd.pos = peek_non_space().pos;
    for (;;) {
      peek_non_space();
      if (auto op = operand()) cmd.args.push_back(std::move(*op));
      const Token& t = next();
      if (t.type == Item::space) continue;
      if (t.type == Item::right_delim || t.type == Item::right_paren) {
        --pos_;
      } else if (t.type != Item::pipe) {
        unexpected(t, "operand");
      }
      break;
    }
    if (cmd.args.empty()) error("empty command");
    size_t end = pos_ < tokens_.size() ? tokens_[pos_].pos : source_.size();
    cmd.text = std::string(trim_view(source_.substr(cmd.pos, end - cmd.pos)));
    if (!cmd.text.empty() && cmd.text.back() == '|')
      cmd.text = std::string(trim_view(cmd.text.substr(0, cmd.text.size() - 1)));
    return cmd;
  }

  static std::string_view trim_view(std::string_view s) {
    while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
    while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
    return s;
  }

  void use_variable(const std::string& name) {
    std::string base = name;
    if (std::find(vars_.begin(), vars_.end(), base) == vars_.end())
      error(fmt::format("undefined variable {}", go_quote(base)));
  }

  std::optional<Operand> operand() {
    size_t start = peek().pos;
    auto node = term();
    if (!node) return std::nullopt;
    if (peek().type == Item::field) {
      std::vector<std::string> fields;
      while (peek().type == Item::field) fields.push_back(next().value.substr(1));
      switch (node->kind) {
        case OperandKind::field:
          node->fields.insert(node->fields.end(), fields.begin(), fields.end());
          break;
        case OperandKind::variable:
          node->fields.insert(node->fields.end(), fields.begin(), fields.end());
          break;
        case OperandKind::boolean:
        case OperandKind::string:
        case OperandKind::number:
        case OperandKind::nil:
        case OperandKind::dot:
          error(fmt::format("unexpected . after term {}", go_quote(node->text)));
        default: {
          Operand chain;
          chain.kind = OperandKind::chain;
          chain.inner = std::make_shared<Operand>(std::move(*node));
          chain.fields = std::move(fields);
          node = std::move(chain);
        }
      }
    }
    size_t end = tokens_[std::min(pos_, tokens_.size() - 1)].pos;
    node->pos = start;
    node->text = std::string(source_.substr(start, end - start));
    return node;
  }

  std::optional<Operand> term() {
    const Token& t = next_non_space();
    Operand op;
    op.text = t.value;
    switch (t.type) {
      case Item::identifier:
        if (!is_builtin_function(t.value)) error(fmt::format("function {} not defined", go_quote(t.value)));
        op.kind = OperandKind::identifier;
        op.name = t.value;
        return op;
      case Item::dot:
        op.kind = OperandKind::dot;
        return op;
      case Item::nil:
        op.kind = OperandKind::nil;
        return op;
      case Item::variable:
        use_variable(t.value);
        op.kind = OperandKind::variable;
        op.name = t.value;
        return op;
      case Item::field:
        op.kind = OperandKind::field;
        op.fields = {t.value.substr(1)};
        return op;
      case Item::boolean:
        op.kind = OperandKind::boolean;
        op.constant = t.value == "true";
        return op;
      case Item::char_constant:
      case Item::number:
        op.kind = OperandKind::number;
        op.constant = number(t);
        return op;
      case Item::left_paren: {
        nest();
        op.kind = OperandKind::pipeline;
        op.pipe = pipeline("parenthesized pipeline", Item::right_paren);
        --depth_;
        return op;
      }
      case Item::string:
      case Item::raw_string:
        op.kind = OperandKind::string;
        op.constant = t.type == Item::raw_string ? t.value.substr(1, t.value.size() - 2)
                                                 : unquote(t.value, [this, &t](std::string_view why) {
                                                     error(fmt::format("{}: {}", why, t.value));
                                                   });
        return op;
      default:
        --pos_;
        return std::nullopt;
    }
  }

  json number(const Token& t) {
    auto bad = [&]() { error(fmt::format("bad number syntax: {}", go_quote(t.value))); };
    if (t.type == Item::char_constant) {
      std::string rune = unquote(t.value, [&](std::string_view) { bad(); });
      // The code point of the (UTF-8) character.
      uint32_t r = static_cast<unsigned char>(rune[0]);
      if (r >= 0x80) {
        int extra = (r & 0xE0) == 0xC0 ? 1 : (r & 0xF0) == 0xE0 ? 2 : 3;
        r &= (0x3F >> extra);
        for (int k = 1; k <= extra && k < static_cast<int>(rune.size()); ++k) r = (r << 6) | (rune[k] & 0x3F);
      }
      return static_cast<int64_t>(r);
    }
    std::string text;
    for (char c : t.value) {
      if (c != '_') text += c;
    }
    bool negative = !text.empty() && text[0] == '-';
    std::string body = text[0] == '-' || text[0] == '+' ? text.substr(1) : text;
    int base = 10;
    std::string digits = body;
    if (body.size() > 1 && body[0] == '0' && (body[1] == 'x' || body[1] == 'X')) {
      base = 16;
      digits = body.substr(2);
    } else if (body.size() > 1 && body[0] == '0' && (body[1] == 'o' || body[1] == 'O')) {
      base = 8;
      digits = body.substr(2);
    } else if (body.size() > 1 && body[0] == '0' && (body[1] == 'b' || body[1] == 'B')) {
      base = 2;
      digits = body.substr(2);
    } else if (body.size() > 1 && body[0] == '0' && body.find_first_not_of("01234567") == std::string::npos) {
      base = 8;
      digits = body.substr(1);
    }
    if (!digits.empty()) {
      uint64_t value = 0;
      auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value, base);
      if (ec == std::errc() && ptr == digits.data() + digits.size()) {
        if (negative) {
          if (value > static_cast<uint64_t>(INT64_MAX) + 1) bad();
          return static_cast<int64_t>(0 - value);
        }
        if (value > static_cast<uint64_t>(INT64_MAX)) return value;
        return static_cast<int64_t>(value);
      }
    }
    if (base == 10 || base == 8) {
      double value = 0;
      auto [ptr, ec] = std::from_chars(body.data(), body.data() + body.size(), value);
      if (ec == std::errc() && ptr == body.data() + body.size() && !body.empty() &&
          body.find_first_of(".eE") != std::string::npos)
        return negative ? -value : value;
    }
    bad();
    return nullptr;
  }

  std::vector<Token> tokens_;
  std::string_view source_;
  std::string name_;
  size_t pos_ = 0;
  static constexpr int kMaxDepth = 1000;
  int range_depth_ = 0;
  int depth_ = 0;
  std::vector<std::string> vars_;
};

// ---- Execution (Go's text/template/exec.go) -----------------------------------------

// A value during evaluation: nothing (Go's invalid reflect.Value, printed
// as <no value>), a reference into the data, or one made by a function.
class Value {
 public:
  Value() = default;
  static Value of(json v) {
    Value r;
    r.owned_ = std::make_shared<const json>(std::move(v));
    r.ptr_ = r.owned_.get();
    return r;
  }
  static Value ref(const json& v) {
    Value r;
    r.ptr_ = &v;
    return r;
  }
  bool valid() const { return ptr_ != nullptr; }
  // Nothing and JSON null alike: what Go's nil interface is.
  bool nil() const { return !ptr_ || ptr_->is_null(); }
  const json& get() const {
    static const json null_value;
    return ptr_ ? *ptr_ : null_value;
  }
  const json* ptr() const { return ptr_; }

 private:
  std::shared_ptr<const json> owned_;
  const json* ptr_ = nullptr;
};

bool truth(const Value& v) {
  if (v.nil()) return false;
  const json& j = v.get();
  switch (j.type()) {
    case json::value_t::boolean:
      return j.get<bool>();
    case json::value_t::string:
      return !j.get_ref<const std::string&>().empty();
    case json::value_t::array:
    case json::value_t::object:
      return !j.empty();
    case json::value_t::number_float:
      return j.get<double>() != 0;
    case json::value_t::number_unsigned:
      return j.get<uint64_t>() != 0;
    case json::value_t::number_integer:
      return j.get<int64_t>() != 0;
    default:
      return true;
  }
}

struct Loop {
  enum Kind { none, break_loop, continue_loop } kind = none;
};

class Executor;
using Builtin = std::function<Value(Executor&, const std::vector<Value>&)>;

class Executor {
 public:
  Executor(const Tree& tree, const json& data, const GoTemplateOptions& options)
      : tree_(tree), options_(options), root_(Value::ref(data)) {
    vars_.push_back({"$", root_});
  }

  void walk_list(const List& list, const Value& dot, Loop& loop) {
    for (const auto& node : list) {
      walk(node, dot, loop);
      if (loop.kind != Loop::none) return;
    }
  }

  std::string& out() { return out_; }

  [[noreturn]] void error(const std::string& message) {
    size_t pos = at_ ? at_->pos : 0;
    std::string_view before = std::string_view(tree_.source).substr(0, std::min(pos, tree_.source.size()));
    size_t newline = before.rfind('\n');
    size_t col = newline == std::string_view::npos ? pos : pos - newline - 1;
    int line = 1 + static_cast<int>(std::count(before.begin(), before.end(), '\n'));
    std::string context = at_ ? at_->text : "";
    if (context.size() > 40) context = context.substr(0, 40) + "...";
    throw Error(fmt::format("template: {}:{}:{}: executing {} at <{}>: {}", tree_.name, line, col,
                            go_quote(tree_.name), context, message));
  }

  const GoTemplateOptions& options() const { return options_; }

 private:
  struct Located {
    size_t pos;
    std::string text;
  };

  void at(size_t pos, const std::string& text) {
    at_storage_ = {pos, text};
    at_ = &at_storage_;
  }

  void walk(const Node& node, const Value& dot, Loop& loop) {
    switch (node.kind) {
      case NodeKind::text:
        out_ += node.text;
        return;
      case NodeKind::action: {
        Value v = eval_pipeline(dot, *node.pipe);
        if (node.pipe->decl.empty()) print(v);
        return;
      }
      case NodeKind::if_node:
      case NodeKind::with: {
        size_t mark = vars_.size();
        Value v = eval_pipeline(dot, *node.pipe);
        if (truth(v)) {
          walk_list(*node.list, node.kind == NodeKind::with ? v : dot, loop);
        } else if (node.else_list) {
          walk_list(*node.else_list, dot, loop);
        }
        vars_.resize(mark);
        return;
      }
      case NodeKind::range:
        walk_range(node, dot, loop);
        return;
      case NodeKind::break_node:
        loop.kind = Loop::break_loop;
        return;
      case NodeKind::continue_node:
        loop.kind = Loop::continue_loop;
        return;
    }
  }

  void walk_range(const Node& node, const Value& dot, Loop& outer) {
    size_t mark = vars_.size();
    Value v = eval_pipeline(dot, *node.pipe);
    size_t body_mark = vars_.size();
    const Pipeline& pipe = *node.pipe;
    auto one = [&](const Value& index, const Value& element) {
      if (!pipe.decl.empty()) {
        if (pipe.is_assign) {
          assign(pipe.decl.size() > 1 ? pipe.decl[1] : pipe.decl[0], element);
          if (pipe.decl.size() > 1) assign(pipe.decl[0], index);
        } else {
          vars_[vars_.size() - 1].second = element;
          if (pipe.decl.size() > 1) vars_[vars_.size() - 2].second = index;
        }
      }
      Loop loop;
      walk_list(*node.list, element, loop);
      vars_.resize(body_mark);
      return loop.kind != Loop::break_loop;
    };
    bool any = false;
    const json& j = v.get();
    if (v.nil()) {
      // Nothing to range over: the else branch, as for Go's nil map.
    } else if (j.is_array()) {
      for (size_t i = 0; i < j.size(); ++i) {
        any = true;
        if (!one(Value::of(static_cast<int64_t>(i)), Value::ref(j[i]))) break;
      }
    } else if (j.is_object()) {
      for (const auto& [k, e] : j.items()) {
        any = true;
        if (!one(Value::of(k), Value::ref(e))) break;
      }
    } else if (j.is_number_integer()) {
      int64_t n = j.get<int64_t>();
      if (pipe.decl.size() > 1)
        error("can't use " + go_print_value(j) + " to iterate over more than one variable");
      for (int64_t i = 0; i < n; ++i) {
        any = true;
        if (!one(Value::of(i), Value::of(i))) break;
      }
    } else {
      error(fmt::format("range can't iterate over {}", go_print_value(j)));
    }
    if (!any && node.else_list) walk_list(*node.else_list, dot, outer);
    vars_.resize(mark);
  }

  void print(const Value& v) {
    if (v.nil()) {
      out_ += "<no value>";
      return;
    }
    print_nested(out_, v.get());
  }

  void assign(const std::string& name, const Value& v) {
    for (auto it = vars_.rbegin(); it != vars_.rend(); ++it) {
      if (it->first == name) {
        it->second = v;
        return;
      }
    }
    error(fmt::format("undefined variable: {}", name));
  }

  Value variable(const std::string& name) {
    for (auto it = vars_.rbegin(); it != vars_.rend(); ++it) {
      if (it->first == name) return it->second;
    }
    error(fmt::format("undefined variable: {}", name));
  }

 public:
  Value eval_pipeline(const Value& dot, const Pipeline& pipe) {
    std::optional<Value> value;
    for (const auto& cmd : pipe.cmds) value = eval_command(dot, cmd, value);
    Value result = value.value_or(Value());
    for (const auto& name : pipe.decl) {
      if (pipe.is_assign) {
        assign(name, result);
      } else {
        vars_.push_back({name, result});
      }
    }
    return result;
  }

 private:
  void not_a_function(const Command& cmd, const std::optional<Value>& final) {
    if (cmd.args.size() > 1 || final) error("can't give argument to non-function " + cmd.args[0].text);
  }

  Value eval_command(const Value& dot, const Command& cmd, const std::optional<Value>& final) {
    const Operand& first = cmd.args[0];
    at(first.pos, first.text);
    switch (first.kind) {
      case OperandKind::field:
        return eval_field_chain(dot, dot, first, first.fields, &cmd.args, final);
      case OperandKind::chain: {
        Value inner = eval_arg(dot, *first.inner);
        at(first.pos, first.text);
        return eval_field_chain(dot, inner, first, first.fields, &cmd.args, final);
      }
      case OperandKind::variable: {
        Value v = variable(first.name);
        if (first.fields.empty()) {
          not_a_function(cmd, final);
          return v;
        }
        return eval_field_chain(dot, v, first, first.fields, &cmd.args, final);
      }
      case OperandKind::identifier:
        return eval_function(dot, first, cmd.args, final);
      case OperandKind::pipeline:
        not_a_function(cmd, final);
        return eval_pipeline(dot, *first.pipe);
      case OperandKind::dot:
        not_a_function(cmd, final);
        return dot;
      case OperandKind::nil:
        error("nil is not a command");
      default:
        not_a_function(cmd, final);
        return Value::of(first.constant);
    }
  }

  Value eval_arg(const Value& dot, const Operand& op) {
    at(op.pos, op.text);
    switch (op.kind) {
      case OperandKind::dot:
        return dot;
      case OperandKind::nil:
        return Value::of(nullptr);
      case OperandKind::field:
        return eval_field_chain(dot, dot, op, op.fields, nullptr, std::nullopt);
      case OperandKind::variable: {
        Value v = variable(op.name);
        if (op.fields.empty()) return v;
        return eval_field_chain(dot, v, op, op.fields, nullptr, std::nullopt);
      }
      case OperandKind::pipeline:
        return eval_pipeline(dot, *op.pipe);
      case OperandKind::chain: {
        Value inner = eval_arg(dot, *op.inner);
        at(op.pos, op.text);
        return eval_field_chain(dot, inner, op, op.fields, nullptr, std::nullopt);
      }
      case OperandKind::identifier: {
        std::vector<Operand> args{op};
        return eval_function(dot, op, args, std::nullopt);
      }
      default:
        return Value::of(op.constant);
    }
  }

  Value eval_field_chain(const Value& dot, Value receiver, const Operand& node,
                         const std::vector<std::string>& fields, const std::vector<Operand>* args,
                         const std::optional<Value>& final) {
    for (size_t i = 0; i + 1 < fields.size(); ++i)
      receiver = eval_field(dot, fields[i], node, nullptr, std::nullopt, receiver);
    return eval_field(dot, fields.back(), node, args, final, receiver);
  }

  Value eval_field(const Value& dot, const std::string& name, const Operand& node,
                   const std::vector<Operand>* args, const std::optional<Value>& final,
                   const Value& receiver) {
    if (receiver.nil()) return Value();
    bool has_args = (args && args->size() > 1) || final;
    const json& r = receiver.get();
    if (!r.is_object()) error(fmt::format("can't evaluate field {} in type {}", name, go_type_name(&r)));
    auto it = r.find(name);
    if (it != r.end()) {
      if (has_args) error(fmt::format("{} is not a method but has arguments", name));
      return Value::ref(*it);
    }
    auto method = options_.methods.find(name);
    if (method != options_.methods.end()) {
      std::vector<json> values;
      if (args) {
        for (size_t i = 1; i < args->size(); ++i) values.push_back(eval_arg(dot, (*args)[i]).get());
      }
      if (final) values.push_back(final->get());
      at(node.pos, node.text);
      return Value::of(method->second(r, values));
    }
    if (!options_.struct_type.empty())
      error(fmt::format("can't evaluate field {} in type {}", name, options_.struct_type));
    if (has_args) error(fmt::format("{} is not a method but has arguments", name));
    return Value();
  }

  Value eval_function(const Value& dot, const Operand& name, const std::vector<Operand>& args,
                      const std::optional<Value>& final);

 public:
  const Tree& tree_;
  const GoTemplateOptions& options_;
  Value root_;
  std::vector<std::pair<std::string, Value>> vars_;
  std::string out_;
  Located at_storage_{0, ""};
  const Located* at_ = nullptr;
};

// ---- Functions -------------------------------------------------------------------

const std::string& string_arg(Executor& ex, const Value& v) {
  if (!v.valid()) ex.error("invalid value; expected string");
  if (!v.get().is_string())
    ex.error(fmt::format("wrong type for value; expected string; got {}", go_type_name(v.ptr())));
  return v.get().get_ref<const std::string&>();
}

int64_t int_arg(Executor& ex, const Value& v) {
  if (!v.valid()) ex.error("invalid value; expected int");
  const json& j = v.get();
  if (j.is_number_integer()) return j.get<int64_t>();
  if (j.is_number_float() && std::floor(j.get<double>()) == j.get<double>())
    return static_cast<int64_t>(j.get<double>());
  ex.error(fmt::format("wrong type for value; expected int; got {}", go_type_name(v.ptr())));
}

// Go's fmt.Sprint: a space between operands when neither is a string.
std::string sprint(const std::vector<Value>& args) {
  std::string out;
  for (size_t i = 0; i < args.size(); ++i) {
    bool is_string = args[i].valid() && args[i].get().is_string();
    if (i > 0 && !is_string && !(args[i - 1].valid() && args[i - 1].get().is_string())) out += ' ';
    if (args[i].nil())
      out += "<nil>";
    else
      print_nested(out, args[i].get());
  }
  return out;
}

std::string sprintln(const std::vector<Value>& args) {
  std::string out;
  for (size_t i = 0; i < args.size(); ++i) {
    if (i > 0) out += ' ';
    if (args[i].nil())
      out += "<nil>";
    else
      print_nested(out, args[i].get());
  }
  return out + "\n";
}

struct Spec {
  bool minus = false, plus = false, zero = false, space = false, sharp = false;
  int width = -1, precision = -1;
};

std::string pad(std::string text, const Spec& s) {
  size_t n = rune_count(text);
  if (s.width < 0 || n >= static_cast<size_t>(s.width)) return text;
  size_t fill = static_cast<size_t>(s.width) - n;
  if (s.minus) return text + std::string(fill, ' ');
  if (s.zero) {
    size_t sign = !text.empty() && (text[0] == '-' || text[0] == '+') ? 1 : 0;
    return text.substr(0, sign) + std::string(fill, '0') + text.substr(sign);
  }
  return std::string(fill, ' ') + text;
}

std::string format_one(char verb, const Spec& s, const json& v);

std::string bad_verb(char verb, const json& v) {
  return fmt::format("%!{}({}={})", verb, go_type_name(&v), v.is_null() ? "<nil>" : go_print_value(v));
}

std::string format_integer(char verb, const Spec& s, int64_t value, bool is_unsigned, uint64_t uvalue) {
  std::string digits;
  bool negative = !is_unsigned && value < 0;
  uint64_t magnitude = is_unsigned ? uvalue
                       : negative  ? 0 - static_cast<uint64_t>(value)
                                   : static_cast<uint64_t>(value);
  switch (verb) {
    case 'd':
    case 'v':
      digits = std::to_string(magnitude);
      break;
    case 'x':
      digits = fmt::format("{:x}", magnitude);
      if (s.sharp) digits = "0x" + digits;
      break;
    case 'X':
      digits = fmt::format("{:X}", magnitude);
      if (s.sharp) digits = "0X" + digits;
      break;
    case 'o':
      digits = fmt::format("{:o}", magnitude);
      if (s.sharp) digits = "0" + digits;
      break;
    case 'b':
      digits = fmt::format("{:b}", magnitude);
      break;
    case 'c': {
      json str = std::string(1, static_cast<char>(magnitude));
      return pad(str.get<std::string>(), s);
    }
    case 'q':
      return pad("'" + std::string(1, static_cast<char>(magnitude)) + "'", s);
    default:
      return "";
  }
  if (s.precision >= 0 && digits.size() < static_cast<size_t>(s.precision))
    digits = std::string(s.precision - digits.size(), '0') + digits;
  std::string sign = negative ? "-" : s.plus ? "+" : s.space ? " " : "";
  Spec padded = s;
  if (s.precision >= 0) padded.zero = false;
  return pad(sign + digits, padded);
}

std::string format_float(char verb, const Spec& s, double value) {
  std::string text;
  if (verb == 'v' || (verb == 'g' && s.precision < 0)) {
    text = go_float(value);
    if (verb == 'g') {
      // %g is shortest with an exponent from the precision of %e (6 digits
      // minimum is %v's; %g uses the digit count).
      text = go_float(value);
    }
  } else {
    char spec[16];
    int precision = s.precision >= 0 ? s.precision : (verb == 'g' || verb == 'G') ? -1 : 6;
    std::snprintf(spec, sizeof spec, "%%.%d%c", precision < 0 ? 6 : precision, verb == 'F' ? 'f' : verb);
    char buffer[512];
    std::snprintf(buffer, sizeof buffer, spec, value);
    text = buffer;
  }
  if (value >= 0 && s.plus)
    text = "+" + text;
  else if (value >= 0 && s.space)
    text = " " + text;
  return pad(text, s);
}

std::string format_one(char verb, const Spec& s, const json& v) {
  if (v.is_array() && verb != 'v') {
    std::string out = "[";
    for (size_t i = 0; i < v.size(); ++i) out += (i ? " " : "") + format_one(verb, s, v[i]);
    return out + "]";
  }
  switch (v.type()) {
    case json::value_t::string: {
      const std::string& str = v.get_ref<const std::string&>();
      std::string text = str;
      if (s.precision >= 0) {
        size_t runes = 0, i = 0;
        while (i < text.size() && runes < static_cast<size_t>(s.precision)) {
          ++i;
          while (i < text.size() && (static_cast<unsigned char>(text[i]) & 0xC0) == 0x80) ++i;
          ++runes;
        }
        text = text.substr(0, i);
      }
      if (verb == 's' || verb == 'v') return pad(text, s);
      if (verb == 'q')
        return pad(s.sharp && text.find('`') == std::string::npos ? "`" + text + "`" : go_quote(text), s);
      if (verb == 'x' || verb == 'X') {
        std::string hex;
        for (unsigned char c : text) hex += verb == 'x' ? fmt::format("{:02x}", c) : fmt::format("{:02X}", c);
        return pad(hex, s);
      }
      return bad_verb(verb, v);
    }
    case json::value_t::boolean:
      if (verb == 't' || verb == 'v') return pad(v.get<bool>() ? "true" : "false", s);
      return bad_verb(verb, v);
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
      if (std::string_view("dvxXobcq").find(verb) != std::string_view::npos)
        return format_integer(verb, s, v.is_number_unsigned() ? 0 : v.get<int64_t>(), v.is_number_unsigned(),
                              v.is_number_unsigned() ? v.get<uint64_t>() : 0);
      return bad_verb(verb, v);
    case json::value_t::number_float:
      if (std::string_view("vfFeEgG").find(verb) != std::string_view::npos)
        return format_float(verb, s, v.get<double>());
      return bad_verb(verb, v);
    case json::value_t::null:
      if (verb == 'v' || verb == 's') return pad("<nil>", s);
      return bad_verb(verb, v);
    default:
      if (verb == 'v' || verb == 's') return pad(go_print_value(v), s);
      return bad_verb(verb, v);
  }
}

std::string sprintf(Executor& ex, const std::vector<Value>& args) {
  const std::string& format = string_arg(ex, args[0]);
  std::string out;
  size_t next_arg = 1;
  for (size_t i = 0; i < format.size(); ++i) {
    if (format[i] != '%') {
      out += format[i];
      continue;
    }
    Spec s;
    ++i;
    for (; i < format.size(); ++i) {
      char c = format[i];
      if (c == '-')
        s.minus = true;
      else if (c == '+')
        s.plus = true;
      else if (c == '0')
        s.zero = !s.minus;
      else if (c == ' ')
        s.space = true;
      else if (c == '#')
        s.sharp = true;
      else
        break;
    }
    // Go's fmt refuses widths and precisions beyond a million.
    constexpr int64_t kTooLarge = 1000000;
    auto number = [&](int& target, std::string_view bad) {
      int64_t value = 0;
      if (i < format.size() && format[i] == '*') {
        ++i;
        if (next_arg < args.size() && args[next_arg].valid() && args[next_arg].get().is_number_integer()) {
          value = args[next_arg++].get().get<int64_t>();
        } else {
          out += bad;
          return;
        }
      } else {
        bool any = false;
        while (i < format.size() && std::isdigit(static_cast<unsigned char>(format[i]))) {
          value = std::min(value * 10 + (format[i++] - '0'), kTooLarge + 1);
          any = true;
        }
        if (!any) return;
      }
      if (value < 0 || value > kTooLarge) {
        out += bad;
        return;
      }
      target = static_cast<int>(value);
    };
    number(s.width, "%!(BADWIDTH)");
    if (i < format.size() && format[i] == '.') {
      ++i;
      s.precision = 0;
      number(s.precision, "%!(BADPREC)");
    }
    if (i >= format.size()) {
      out += "%!(NOVERB)";
      break;
    }
    char verb = format[i];
    if (verb == '%') {
      out += '%';
      continue;
    }
    if (next_arg >= args.size()) {
      out += fmt::format("%!{}(MISSING)", verb);
      continue;
    }
    const Value& arg = args[next_arg++];
    out += format_one(verb, s, arg.valid() ? arg.get() : json(nullptr));
  }
  if (next_arg < args.size()) {
    out += "%!(EXTRA ";
    for (size_t k = next_arg; k < args.size(); ++k) {
      if (k > next_arg) out += ", ";
      out += go_type_name(args[k].ptr()) + "=" + (args[k].nil() ? "<nil>" : go_print_value(args[k].get()));
    }
    out += ")";
  }
  return out;
}

int compare_values(Executor& ex, const Value& a, const Value& b, bool ordered) {
  const json& x = a.get();
  const json& y = b.get();
  if (x.is_number() && y.is_number()) {
    auto fits = [](const json& v) {
      return v.is_number_integer() && (!v.is_number_unsigned() || v.get<uint64_t>() <= INT64_MAX);
    };
    if (fits(x) && fits(y)) {
      int64_t p = x.get<int64_t>(), q = y.get<int64_t>();
      return p < q ? -1 : p > q;
    }
    double p = x.get<double>(), q = y.get<double>();
    return p < q ? -1 : p > q;
  }
  if (x.is_string() && y.is_string()) {
    int c = x.get_ref<const std::string&>().compare(y.get_ref<const std::string&>());
    return c < 0 ? -1 : c > 0;
  }
  if (!ordered) {
    if (x.is_boolean() && y.is_boolean()) return x.get<bool>() != y.get<bool>();
    if (a.nil() && b.nil()) return 0;
    if (x.is_array() || x.is_object() || y.is_array() || y.is_object())
      ex.error("error calling eq: non-comparable type");
    if (a.nil() || b.nil()) return 1;
    ex.error("error calling eq: incompatible types for comparison");
  }
  if (x.type() != y.type() && !(x.is_number() && y.is_number()))
    ex.error("incompatible types for comparison");
  ex.error("invalid type for comparison");
}

std::string title(const std::string& s) {
  std::string out = s;
  bool previous_separator = true;
  for (auto& c : out) {
    unsigned char u = c;
    bool separator = !(std::isalnum(u) || u == '_' || u >= 0x80);
    if (previous_separator && std::islower(u)) c = static_cast<char>(std::toupper(u));
    previous_separator = separator;
  }
  return out;
}

std::string html_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '&':
        out += "&amp;";
        break;
      case '\'':
        out += "&#39;";
        break;
      case '"':
        out += "&#34;";
        break;
      case '\0':
        out += "\uFFFD";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string url_query_escape(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~')
      out += static_cast<char>(c);
    else if (c == ' ')
      out += '+';
    else
      out += fmt::format("%{:02X}", c);
  }
  return out;
}

struct FunctionDef {
  int min_args;
  int max_args;  // -1: any number
  Builtin call;
};

std::string header_text(Executor& ex, const Value& v) {
  return string_arg(ex, v);
}

const std::map<std::string, FunctionDef, std::less<>>& functions() {
  static const std::map<std::string, FunctionDef, std::less<>> table = {
      {"len",
       {1, 1,
        [](Executor& ex, const std::vector<Value>& a) {
          const json& v = a[0].get();
          if (a[0].nil()) ex.error("error calling len: len of nil pointer");
          if (v.is_string()) return Value::of(static_cast<int64_t>(v.get_ref<const std::string&>().size()));
          if (v.is_array() || v.is_object()) return Value::of(static_cast<int64_t>(v.size()));
          ex.error(fmt::format("error calling len: len of type {}", go_type_name(&v)));
        }}},
      {"index",
       {1, -1,
        [](Executor& ex, const std::vector<Value>& a) {
          Value item = a[0];
          for (size_t i = 1; i < a.size(); ++i) {
            if (item.nil()) ex.error("error calling index: index of untyped nil");
            const json& v = item.get();
            const json& key = a[i].get();
            if (v.is_object()) {
              if (!key.is_string())
                ex.error(fmt::format("error calling index: value has type {}; should be string",
                                     go_type_name(&key)));
              auto it = v.find(key.get_ref<const std::string&>());
              item = it == v.end() ? Value() : Value::ref(*it);
            } else if (v.is_array() || v.is_string()) {
              if (!key.is_number_integer())
                ex.error(fmt::format("error calling index: cannot index slice/array with type {}",
                                     go_type_name(&key)));
              int64_t n = key.get<int64_t>();
              size_t size = v.is_array() ? v.size() : v.get_ref<const std::string&>().size();
              if (n < 0 || static_cast<size_t>(n) >= size)
                ex.error(fmt::format("error calling index: index out of range: {}", n));
              item = v.is_array() ? Value::ref(v[n])
                                  : Value::of(static_cast<int64_t>(
                                        static_cast<unsigned char>(v.get_ref<const std::string&>()[n])));
            } else {
              ex.error(fmt::format("error calling index: can't index item of type {}", go_type_name(&v)));
            }
          }
          return item;
        }}},
      {"slice",
       {1, 4,
        [](Executor& ex, const std::vector<Value>& a) {
          const json& v = a[0].get();
          if (!v.is_array() && !v.is_string())
            ex.error(fmt::format("error calling slice: can't slice item of type {}", go_type_name(&v)));
          int64_t size =
              static_cast<int64_t>(v.is_array() ? v.size() : v.get_ref<const std::string&>().size());
          int64_t from = a.size() > 1 ? int_arg(ex, a[1]) : 0;
          int64_t to = a.size() > 2 ? int_arg(ex, a[2]) : size;
          if (from < 0 || to < from || to > size)
            ex.error(fmt::format("error calling slice: index out of range: {}", to > size ? to : from));
          if (v.is_string()) return Value::of(v.get_ref<const std::string&>().substr(from, to - from));
          return Value::of(json(v.begin() + from, v.begin() + to));
        }}},
      {"not", {1, 1, [](Executor&, const std::vector<Value>& a) { return Value::of(!truth(a[0])); }}},
      {"print", {0, -1, [](Executor&, const std::vector<Value>& a) { return Value::of(sprint(a)); }}},
      {"println", {0, -1, [](Executor&, const std::vector<Value>& a) { return Value::of(sprintln(a)); }}},
      {"printf",
       {1, -1, [](Executor& ex, const std::vector<Value>& a) { return Value::of(sprintf(ex, a)); }}},
      {"html",
       {0, -1, [](Executor&, const std::vector<Value>& a) { return Value::of(html_escape(sprint(a))); }}},
      {"urlquery",
       {0, -1,
        [](Executor&, const std::vector<Value>& a) { return Value::of(url_query_escape(sprint(a))); }}},
      {"js",
       {0, -1,
        [](Executor&, const std::vector<Value>& a) {
          std::string out;
          for (unsigned char c : sprint(a)) {
            if (c == '\\' || c == '\'' || c == '"')
              out += std::string("\\") + static_cast<char>(c);
            else if (c == '<' || c == '>' || c == '&' || c == '=' || c < 0x20)
              out += fmt::format("\\u{:04X}", c);
            else
              out += static_cast<char>(c);
          }
          return Value::of(out);
        }}},
      {"eq",
       {2, -1,
        [](Executor& ex, const std::vector<Value>& a) {
          for (size_t i = 1; i < a.size(); ++i) {
            if (compare_values(ex, a[0], a[i], false) == 0) return Value::of(true);
          }
          return Value::of(false);
        }}},
      {"ne",
       {2, 2,
        [](Executor& ex, const std::vector<Value>& a) {
          return Value::of(compare_values(ex, a[0], a[1], false) != 0);
        }}},
      {"lt",
       {2, 2,
        [](Executor& ex, const std::vector<Value>& a) {
          return Value::of(compare_values(ex, a[0], a[1], true) < 0);
        }}},
      {"le",
       {2, 2,
        [](Executor& ex, const std::vector<Value>& a) {
          return Value::of(compare_values(ex, a[0], a[1], true) <= 0);
        }}},
      {"gt",
       {2, 2,
        [](Executor& ex, const std::vector<Value>& a) {
          return Value::of(compare_values(ex, a[0], a[1], true) > 0);
        }}},
      {"ge",
       {2, 2,
        [](Executor& ex, const std::vector<Value>& a) {
          return Value::of(compare_values(ex, a[0], a[1], true) >= 0);
        }}},
      {"call",
       {1, -1,
        [](Executor& ex, const std::vector<Value>&) -> Value {
          ex.error("error calling call: there are no functions in the data");
        }}},
      // Docker's functions (cli/templates/templates.go).
      {"json",
       {1, 1,
        [](Executor& ex, const std::vector<Value>& a) {
          if (ex.options().header) return Value::of(header_text(ex, a[0]));
          std::string out;
          json_compact(out, a[0].get());
          return Value::of(out);
        }}},
      {"split",
       {2, 2,
        [](Executor& ex, const std::vector<Value>& a) {
          const std::string& s = string_arg(ex, a[0]);
          if (ex.options().header) return Value::of(s);
          const std::string& sep = string_arg(ex, a[1]);
          json parts = json::array();
          if (sep.empty()) {
            for (size_t i = 0; i < s.size();) {
              size_t n = 1;
              while (i + n < s.size() && (static_cast<unsigned char>(s[i + n]) & 0xC0) == 0x80) ++n;
              parts.push_back(s.substr(i, n));
              i += n;
            }
          } else {
            size_t start = 0;
            for (;;) {
              size_t at = s.find(sep, start);
              parts.push_back(s.substr(start, at == std::string::npos ? std::string::npos : at - start));
              if (at == std::string::npos) break;
              start = at + sep.size();
            }
          }
          return Value::of(parts);
        }}},
      {"join",
       {2, 2,
        [](Executor& ex, const std::vector<Value>& a) {
          if (ex.options().header) return Value::of(header_text(ex, a[0]));
          const std::string& sep = string_arg(ex, a[1]);
          if (a[0].nil()) return Value::of("");
          const json& list = a[0].get();
          if (!list.is_array())
            ex.error(fmt::format("wrong type for value; expected []string; got {}", go_type_name(&list)));
          std::string out;
          for (size_t i = 0; i < list.size(); ++i) {
            if (i) out += sep;
            print_nested(out, list[i]);
          }
          return Value::of(out);
        }}},
      {"title",
       {1, 1,
        [](Executor& ex, const std::vector<Value>& a) {
          const std::string& s = string_arg(ex, a[0]);
          return Value::of(ex.options().header ? s : title(s));
        }}},
      {"lower",
       {1, 1,
        [](Executor& ex, const std::vector<Value>& a) {
          std::string s = string_arg(ex, a[0]);
          if (!ex.options().header)
            std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
          return Value::of(s);
        }}},
      {"upper",
       {1, 1,
        [](Executor& ex, const std::vector<Value>& a) {
          std::string s = string_arg(ex, a[0]);
          if (!ex.options().header)
            std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::toupper(c); });
          return Value::of(s);
        }}},
      {"pad",
       {3, 3,
        [](Executor& ex, const std::vector<Value>& a) {
          const std::string& s = string_arg(ex, a[0]);
          if (ex.options().header) return Value::of(s);
          int64_t before = int_arg(ex, a[1]), after = int_arg(ex, a[2]);
          if (before < 0 || after < 0 || before > 4096 || after > 4096)
            ex.error("error calling pad: negative or huge padding");
          return Value::of(std::string(before, ' ') + s + std::string(after, ' '));
        }}},
      {"truncate",
       {2, 2,
        [](Executor& ex, const std::vector<Value>& a) {
          const std::string& s = string_arg(ex, a[0]);
          if (ex.options().header) return Value::of(s);
          int64_t n = int_arg(ex, a[1]);
          if (n < 0) ex.error("error calling truncate: negative length");
          return Value::of(static_cast<size_t>(n) >= s.size() ? s : s.substr(0, n));
        }}},
  };
  return table;
}

bool is_builtin_function(std::string_view name) {
  return name == "and" || name == "or" || functions().count(name) > 0;
}

Value Executor::eval_function(const Value& dot, const Operand& name, const std::vector<Operand>& args,
                              const std::optional<Value>& final) {
  size_t given = args.size() - 1 + (final ? 1 : 0);
  // and, or: evaluated from the left, stopping at the first false (true).
  if (name.name == "and" || name.name == "or") {
    if (given < 1) error(fmt::format("wrong number of args for {}: want at least 1 got 0", name.name));
    bool is_and = name.name == "and";
    Value v;
    for (size_t i = 1; i < args.size(); ++i) {
      v = eval_arg(dot, args[i]);
      if (truth(v) != is_and) return v;
    }
    if (final) v = *final;
    return v;
  }
  const FunctionDef& def = functions().find(name.name)->second;
  std::vector<Value> values;
  for (size_t i = 1; i < args.size(); ++i) values.push_back(eval_arg(dot, args[i]));
  if (final) values.push_back(*final);
  at(name.pos, name.text);
  if (static_cast<int>(given) < def.min_args ||
      (def.max_args >= 0 && static_cast<int>(given) > def.max_args)) {
    if (def.max_args < 0)
      error(fmt::format("wrong number of args for {}: want at least {} got {}", name.name, def.min_args,
                        given));
    error(fmt::format("wrong number of args for {}: want {} got {}", name.name, def.max_args, given));
  }
  return def.call(*this, values);
}

// Go's text/tabwriter.Writer.format, with flags 0 and padding character ' '.
struct Cell {
  std::string text;
  size_t width;
};

class TabWriter {
 public:
  TabWriter(size_t min_width, size_t padding) : min_width_(min_width), padding_(padding) {}

  std::string run(std::string_view text) {
    for (const auto& line_text : split_view(text, '\n')) {
      std::vector<Cell> line;
      for (const auto& cell : split_view(line_text, '\t'))
        line.push_back({std::string(cell), rune_count(cell)});
      lines_.push_back(std::move(line));
    }
    format(0, lines_.size());
    return out_;
  }

 private:
  static std::vector<std::string_view> split_view(std::string_view text, char separator) {
    std::vector<std::string_view> parts;
    size_t start = 0;
    for (;;) {
      size_t at = text.find(separator, start);
      parts.push_back(text.substr(start, at == std::string_view::npos ? std::string_view::npos : at - start));
      if (at == std::string_view::npos) return parts;
      start = at + 1;
    }
  }

  void write_lines(size_t from, size_t to) {
    for (size_t i = from; i < to; ++i) {
      const auto& line = lines_[i];
      for (size_t j = 0; j < line.size(); ++j) {
        out_ += line[j].text;
        if (j < widths_.size() && j + 1 < line.size())
          out_.append(widths_[j] - std::min(widths_[j], line[j].width), ' ');
      }
      if (i + 1 < lines_.size()) out_ += '\n';
    }
  }

  // Cells but the last one of a line are tab-terminated and form columns; a
  // column's width holds for the block of consecutive lines that have it.
  void format(size_t line0, size_t line1) {
    size_t column = widths_.size();
    for (size_t current = line0; current < line1; ++current) {
      if (column + 1 >= lines_[current].size()) continue;
      write_lines(line0, current);
      line0 = current;
      size_t width = min_width_;
      for (; current < line1; ++current) {
        if (column + 1 >= lines_[current].size()) break;
        width = std::max(width, lines_[current][column].width + padding_);
      }
      widths_.push_back(width);
      format(line0, current);
      widths_.pop_back();
      line0 = current;
      if (current >= line1) break;
    }
    write_lines(line0, line1);
  }

  size_t min_width_;
  size_t padding_;
  std::vector<std::vector<Cell>> lines_;
  std::vector<size_t> widths_;
  std::string out_;
};

}  // namespace

// ---- Public API ---------------------------------------------------------------------

GoTemplate GoTemplate::parse(std::string_view text, std::string name) {
  auto tree = std::make_shared<Tree>();
  tree->name = std::move(name);
  tree->source = std::string(text);
  std::vector<Token> tokens = Lexer(tree->source, tree->name).run();
  tree->root = Parser(std::move(tokens), tree->source, tree->name).parse();
  GoTemplate t;
  t.tree_ = std::move(tree);
  return t;
}

std::string GoTemplate::execute(const json& data, const GoTemplateOptions& options) const {
  Executor ex(*tree_, data, options);
  Loop loop;
  try {
    ex.walk_list(tree_->root, Value::ref(data), loop);
  } catch (const Error&) {
    if (options.header) return ex.out();
    throw;
  }
  return ex.out();
}

DockerFormat parse_docker_format(std::string_view format, bool raw) {
  DockerFormat f;
  std::string_view text = format;
  if (text.starts_with("table")) {
    f.table = true;
    text.remove_prefix(5);
  }
  while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  while (!text.empty() && text.back() == ' ') text.remove_suffix(1);
  if (raw) {
    f.text = std::string(text);
    return f;
  }
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\\' && i + 1 < text.size() && (text[i + 1] == 't' || text[i + 1] == 'n')) {
      f.text += text[i + 1] == 't' ? '\t' : '\n';
      ++i;
    } else {
      f.text += text[i];
    }
  }
  return f;
}

std::string docker_inspect_format(std::string_view format, const json& objects) {
  GoTemplate t = GoTemplate::parse(format);
  std::string out;
  for (const auto& object : objects) {
    try {
      out += t.execute(object);
    } catch (const Error& e) {
      throw Error(std::string("template parsing error: ") + e.what());
    }
    out += '\n';
  }
  return out;
}

std::string align_docker_columns(std::string_view text) {
  return TabWriter(10, 3).run(text);
}

}  // namespace gocrate
