#pragma once

// For tests only.

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <functional>
#include <vector>

namespace gocrate {

// Runs `child` in `n` forked processes at once and waits for all; each must
// exit 0 (an exception in a child is a failure).
inline void in_processes(int n, const std::function<void(int)>& child) {
  std::vector<pid_t> pids;
  for (int i = 0; i < n; ++i) {
    pid_t pid = fork();
    if (pid == 0) {
      try {
        child(i);
        _exit(0);
      } catch (...) {
        _exit(1);
      }
    }
    pids.push_back(pid);
  }
  for (pid_t pid : pids) {
    int status = 0;
    waitpid(pid, &status, 0);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
}

}  // namespace gocrate
