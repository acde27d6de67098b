#include "gobuild/go_toolchain.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>

#include "util/error.h"
#include "util/fs.h"
#include "util/process.h"
#include "util/strings.h"

namespace gocrate {

std::string GoPackage::binary_name() const {
  auto parts = split(import_path, '/');
  std::string name = parts.back();
  bool major_version =
      name.size() > 1 && name[0] == 'v' && name.find_first_not_of("0123456789", 1) == std::string::npos;
  if (major_version && parts.size() > 1) name = parts[parts.size() - 2];
  return name;
}

std::string find_go() {
  if (auto go = find_executable("go")) return *go;
  for (const char* candidate : {"/usr/lib/go/bin/go", "/usr/local/go/bin/go"}) {
    if (is_executable_file(candidate)) return candidate;
  }
  fail(
      "the go command was not found in PATH: install Debian's golang-go package (apt-get install golang-go)");
}

namespace {

// go needs a build cache; when HOME is unset (some CI runners), give it one.
std::map<std::string, std::string> go_environment_defaults() {
  std::map<std::string, std::string> env;
  if (!std::getenv("GOCACHE") && !std::getenv("HOME") && !std::getenv("XDG_CACHE_HOME")) {
    env["GOCACHE"] = "/tmp/gocrate-go-cache";
  }
  return env;
}

std::string strip_scheme(std::string target) {
  for (std::string_view scheme : {"gocrate://", "ko://"}) {
    if (target.starts_with(scheme)) return target.substr(scheme.size());
  }
  return target;
}

// go's own rule: only these name directories; anything else is an import path.
bool is_directory_pattern(const std::string& target) {
  return target == "." || target == ".." || target.starts_with("./") || target.starts_with("../") ||
         target.starts_with("/");
}

// A target goes to go as an argument: one starting with "-" would be a flag
// of go's (-toolexec runs a program), and could come from a YAML file.
std::string checked_pattern(const std::string& raw_target) {
  std::string target = strip_scheme(raw_target);
  if (target.empty()) fail("\"{}\" names no package: give a directory or an import path", raw_target);
  if (target.starts_with("-")) {
    fail(
        "\"{}\" is not a package: a directory or import path cannot start with - (write ./{} for a "
        "directory)",
        raw_target, target);
  }
  return target;
}

// go's message on one line: "to add it:\n\tgo get X" reads "to add it: go get X".
std::string one_line(std::string_view text) {
  std::string out;
  for (const auto& line : split(std::string(trim(text)), '\n')) {
    std::string_view l = trim(line);
    if (l.empty()) continue;
    if (!out.empty()) out += out.ends_with(':') ? " " : "; ";
    out += l;
  }
  return out;
}

GoPackage package_from_json(const nlohmann::json& info) {
  GoPackage package;
  package.import_path = info.value("ImportPath", "");
  package.dir = info.value("Dir", "");
  package.goroot = info.value("Goroot", false);
  if (auto module = info.find("Module"); module != info.end() && module->is_object()) {
    package.module_path = module->value("Path", "");
    package.module_dir = module->value("Dir", "");
  }
  return package;
}

constexpr const char* kListFields = "-json=ImportPath,Name,Dir,Module,Goroot,Error";

[[noreturn]] void fail_no_module(const std::string& raw_target, bool directory,
                                 const std::string& working_dir) {
  if (directory) {
    fail("{} is not in a Go module (no go.mod found): run `go mod init <module path>` in the project's root",
         raw_target);
  }
  fail(
      "cannot resolve import path {} from {}: it is in no Go module (no go.mod or go.work found there or "
      "above); run gocrate in the module that requires it (or `go mod init` there, then `go get {}`)",
      raw_target, working_dir, strip_scheme(raw_target));
}

// Runs go list for one pattern in `dir` and checks that it found one main package.
GoPackage list_one(const std::string& raw_target, const std::string& pattern, const std::string& dir,
                   bool directory, const std::string& working_dir) {
  ProcessOptions options;
  options.env_overrides = go_environment_defaults();
  options.working_dir = dir;
  auto result = run_process({find_go(), "list", kListFields, pattern}, options);
  if (result.exit_code != 0) {
    std::string message = one_line(result.err);
    if (message.find("go.mod file not found") != std::string::npos ||
        message.find("cannot find main module") != std::string::npos) {
      fail_no_module(raw_target, directory, working_dir);
    }
    if (message.empty()) message = fmt::format("go list exited with code {}", result.exit_code);
    fail("cannot find Go package {}: {}", raw_target, message);
  }
  auto info = nlohmann::json::parse(result.out, nullptr, false);
  if (!info.is_object()) fail("cannot find Go package {}: go list printed something unexpected", raw_target);
  GoPackage package = package_from_json(info);
  package.build_dir = dir;
  std::string name = info.value("Name", "");
  if (package.module_path.empty() && !package.goroot) fail_no_module(raw_target, directory, working_dir);
  if (name.empty()) fail("{} has no Go files: point gocrate at a directory with package main", raw_target);
  if (name != "main") {
    fail("{} is package {}, not a main package: point gocrate at a directory with package main", raw_target,
         name);
  }
  return package;
}

GoPackage list_directory(const std::string& raw_target, const std::string& target,
                         const std::string& working_dir) {
  std::string dir = target.starts_with("/") ? target : working_dir + "/" + target;
  if (!is_directory(dir)) fail("{} is not a directory", target);
  return list_one(raw_target, ".", dir, true, working_dir);
}

}  // namespace

std::vector<GoPackage> go_list_many(const std::vector<std::string>& targets, const std::string& working_dir) {
  auto one_by_one = [&] {
    std::vector<GoPackage> out;
    for (const auto& target : targets) out.push_back(go_list(target, working_dir));
    return out;
  };
  if (targets.size() < 2) return one_by_one();
  std::vector<std::string> argv{find_go(), "list", "-e", kListFields};
  std::vector<std::string> patterns;
  for (const auto& target : targets) {
    patterns.push_back(checked_pattern(target));
    argv.push_back(patterns.back());
  }
  ProcessOptions options;
  options.working_dir = working_dir;
  options.env_overrides = go_environment_defaults();
  auto result = run_process(argv, options);
  if (result.exit_code != 0) return one_by_one();
  // go list prints one JSON object per package, one after another.
  std::vector<nlohmann::json> listed;
  std::istringstream stream(result.out);
  try {
    while (stream >> std::ws, !stream.eof()) {
      nlohmann::json value;
      stream >> value;
      listed.push_back(std::move(value));
    }
  } catch (const nlohmann::json::exception&) {
    return one_by_one();
  }
  std::vector<GoPackage> out;
  for (size_t i = 0; i < targets.size(); ++i) {
    const std::string& pattern = patterns[i];
    bool directory = pattern == targets[i] && is_directory_pattern(pattern);
    std::string wanted_dir =
        directory ? absolute_path(pattern.starts_with("/") ? pattern : working_dir + "/" + pattern) : "";
    const nlohmann::json* match = nullptr;
    for (const auto& info : listed) {
      if (directory ? info.value("Dir", "") == wanted_dir : info.value("ImportPath", "") == pattern)
        match = &info;
    }
    // Anything unusual (an error, no module, not main): ask again alone, for the precise message.
    if (!match || match->contains("Error") || match->value("Name", "") != "main" ||
        !(match->contains("Module") || match->value("Goroot", false))) {
      out.push_back(go_list(targets[i], working_dir));
    } else {
      out.push_back(package_from_json(*match));
      out.back().build_dir = working_dir;
    }
  }
  return out;
}

GoPackage go_list(const std::string& raw_target, const std::string& working_dir) {
  std::string target = checked_pattern(raw_target);
  bool scheme = target != raw_target;
  if (!scheme && is_directory_pattern(target)) return list_directory(raw_target, target, working_dir);
  try {
    return list_one(raw_target, target, working_dir, false, working_dir);
  } catch (const Error&) {
    // "cmd/server" for ./cmd/server, as gocrate has always read it, when go finds no such package.
    if (!scheme && is_directory(working_dir + "/" + target))
      return list_directory(raw_target, target, working_dir);
    throw;
  }
}

std::vector<std::string> go_build_arguments(const GoBuildOptions& options) {
  std::string ldflags = options.strip ? "-s -w" : "";
  if (!options.ldflags.empty()) ldflags += (ldflags.empty() ? "" : " ") + options.ldflags;
  std::vector<std::string> arguments{"-trimpath"};
  if (!ldflags.empty()) arguments.push_back("-ldflags=" + ldflags);
  arguments.insert(arguments.end(), options.flags.begin(), options.flags.end());
  return arguments;
}

void go_build_many(const std::vector<const GoPackage*>& packages, const Platform& platform,
                   const GoBuildOptions& options, const std::string& output_dir) {
  // With -o naming a directory, go writes each main package as DIR/NAME.
  std::vector<std::string> argv{find_go(), "build", "-o", output_dir + "/"};
  for (auto& argument : go_build_arguments(options)) argv.push_back(std::move(argument));
  std::vector<std::string> paths;
  for (const GoPackage* p : packages) {
    argv.push_back(p->import_path);
    paths.push_back(p->import_path);
  }

  ProcessOptions process;
  process.working_dir =
      packages.front()->build_dir.empty() ? packages.front()->dir : packages.front()->build_dir;
  process.env_overrides = go_environment_defaults();
  process.env_overrides["CGO_ENABLED"] = options.cgo ? "1" : "0";
  for (const auto& [key, value] : options.env) process.env_overrides[key] = value;
  for (const auto& [key, value] : platform.go_environment()) process.env_overrides[key] = value;
  auto result = run_process(argv, process);
  if (result.exit_code == 0) return;
  // Compiler output goes out as it came, in one piece even when builds of
  // several platforms fail at once.
  static std::mutex stderr_mutex;
  {
    std::lock_guard lock(stderr_mutex);
    fputs(result.err.c_str(), stderr);
    fputs(result.out.c_str(), stderr);
    fflush(stderr);
  }
  std::string what = join(paths, ", ");
  if (result.err.find("no space left on device") != std::string::npos) {
    fail(
        "go build of {} for {} failed: no space left on the disk holding {} (the disk is full: free space or "
        "point --root at another file system)",
        what, platform.str(), output_dir);
  }
  fail("go build of {} for {} failed (the compiler's output is above)", what, platform.str());
}

void go_build(const GoPackage& package, const Platform& platform, const GoBuildOptions& options,
              const std::string& output) {
  std::string dir = dir_name(output);
  go_build_many({&package}, platform, options, dir);
  std::string built = dir + "/" + package.binary_name();
  if (built != output && ::rename(built.c_str(), output.c_str()) != 0) {
    fail_errno(fmt::format("cannot move {} to {}", built, output));
  }
}

std::string go_version() {
  auto result = run_process({find_go(), "env", "GOVERSION"});
  return std::string(trim(result.out));
}

}  // namespace gocrate
