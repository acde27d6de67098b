#pragma once

#include <map>
#include <string>
#include <vector>

#include "image/platform.h"

namespace gocrate {

// A Go main package, as `go list` describes it.
struct GoPackage {
  std::string import_path;  // "example.com/hello/cmd/server"
  std::string dir;          // its source directory
  std::string module_path;  // empty for a package of the Go distribution (cmd/gofmt)
  std::string module_dir;
  bool goroot = false;  // in the Go distribution's own tree
  // Where go resolved it, and where `go build IMPORT_PATH` must run to get
  // the same package: the user's module (its go.mod or go.work, replace
  // directives and vendor/ apply) for an import path, the package's own
  // module for a directory.
  std::string build_dir;
  // The executable's name, as `go build` would choose it: the last element
  // of the import path, skipping a trailing major version ("v2").
  std::string binary_name() const;
};

struct GoBuildOptions {
  bool cgo = false;
  bool strip = true;  // -ldflags=-s -w
  std::string ldflags;
  std::vector<std::string> flags;          // passed to go build as they are
  std::map<std::string, std::string> env;  // for go build (GOFLAGS, GOEXPERIMENT, ...)
};

// The go command, or an Error saying how to install it.
std::string find_go();

// Resolves a build target as `go build` does: "." or a path starting with
// "/", "./" or "../" is a directory; anything else, and anything with the
// ko:// or gocrate:// prefix, an import path, resolved from `working_dir`'s
// module (a dependency's main package, a replaced or vendored one, a
// workspace's, or one of the Go distribution's such as cmd/gofmt, which need
// no module). A relative directory written without "./" is taken as one when
// it does not resolve as an import path. Fails with advice when there is no
// go.mod or the package is not main.
GoPackage go_list(const std::string& target, const std::string& working_dir);

// go_list for several targets with one go command when they all resolve from
// `working_dir`; falls back to one command per target (and its precise
// errors) when they do not.
std::vector<GoPackage> go_list_many(const std::vector<std::string>& targets, const std::string& working_dir);

// Builds one package for one platform into `output`: CGO_ENABLED=0 unless
// asked, -trimpath, GOOS/GOARCH/GOARM/GOAMD64 from the platform. A compiler
// error is printed to stderr as the compiler wrote it and then thrown.
void go_build(const GoPackage& package, const Platform& platform, const GoBuildOptions& options,
              const std::string& output);

// The arguments go build gets besides -o and the packages: -trimpath, the
// linker flags, then the options' flags as they are.
std::vector<std::string> go_build_arguments(const GoBuildOptions& options);

// Builds several packages for one platform in one go command (sharing its
// package loading and cache checks) into output_dir/<binary name>. The
// packages must have distinct binary names and one build_dir, where go runs.
void go_build_many(const std::vector<const GoPackage*>& packages, const Platform& platform,
                   const GoBuildOptions& options, const std::string& output_dir);

// "go1.19.8"
std::string go_version();

}  // namespace gocrate
