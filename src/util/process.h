#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "util/fs.h"

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
// cannot be started; a non-zero exit is the caller's to judge. Should gocrate
// be killed meanwhile, the program is killed too (PR_SET_PDEATHSIG).
ProcessResult run_process(const std::vector<std::string>& argv, const ProcessOptions& options = {});

// Closes `fd` in a short-lived detached process (a grandchild that nobody
// waits for), for a descriptor whose last close waits for the kernel: a tap
// device's queue and a packet socket wait for an RCU grace period, several
// milliseconds, and a process's exit waits for its descriptors to close. If
// no process can be made, `fd` is closed here.
void close_detached(UniqueFd fd);

// Full path of an executable found in PATH, or nullopt.
std::optional<std::string> find_executable(const std::string& name);

// Seconds since this process began (its static initialisation): how long a
// command such as build has taken when it records its event.
double seconds_since_process_start();
// Seconds since `start`.
double seconds_since(std::chrono::steady_clock::time_point start);

}  // namespace gocrate
