#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "image/digest.h"

namespace gocrate {

// An image reference in Docker's grammar: [domain[:port]/]path[:tag][@digest].
// A first component is a domain when it has a '.' or a ':' or is "localhost".
struct Reference {
  std::string domain;  // empty: none was written
  std::string path;    // "hello", "library/alpine", "team/app"
  std::string tag;     // empty: none was written
  std::optional<Digest> digest;

  // Throws Error "invalid reference ...: <why>".
  static Reference parse(std::string_view text);
  static std::optional<Reference> try_parse(std::string_view text);

  std::string name() const;  // [domain/]path
  std::string str() const;   // name[:tag][@digest]
  // The same reference with tag "latest" when it has neither tag nor digest.
  Reference with_default_tag() const;

  // The registry host and repository a client talks to: docker.io and its
  // library/ prefix fill in what a short name leaves out.
  std::string registry() const;
  std::string repository() const;
};

bool is_valid_tag(std::string_view tag);
// Docker's grammar for a registry host[:port], and for one component of a path.
bool is_valid_domain(std::string_view domain);
bool is_valid_path_component(std::string_view component);

}  // namespace gocrate
