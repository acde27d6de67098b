#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace gocrate {

struct ProcessOptions {
  std::string working_dir;                           // empty: inherit
  std::map<std::string, std::string> env_overrides;  // set on top of this process's environment
  bool capture_stdout = true;                        // false: inherit the terminal
  bool capture_stderr = true;
  std::optional<std::string> stdin_data;  // nullopt: /dev/null
};

struct ProcessResult {
  int exit_code = 0;  // 128 + signal number when killed by a signal
  std::string out;
  std::string err;
};

// Runs argv[0] (looked up in PATH) to completion. Fails only when the program
// cannot be started; a non-zero exit is the caller's to judge.
ProcessResult run_process(const std::vector<std::string>& argv, const ProcessOptions& options = {});

// Full path of an executable found in PATH, or nullopt.
std::optional<std::string> find_executable(const std::string& name);

}  // namespace gocrate
