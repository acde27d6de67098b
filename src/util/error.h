#pragma once

#include <fmt/format.h>

#include <stdexcept>
#include <string>
#include <string_view>

namespace gocrate {

// The one error type of the project. Its message is a single line that says
// what failed and, where the user can do something, what to do about it.
// Commands print it as "gocrate: <message>" and exit with exit_code().
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message, int exit_code = 1)
      : std::runtime_error(message), exit_code_(exit_code) {}
  int exit_code() const { return exit_code_; }

 private:
  int exit_code_;
};

template <typename... Args>
[[noreturn]] void fail(fmt::format_string<Args...> format, Args&&... args) {
  throw Error(fmt::format(format, std::forward<Args>(args)...));
}

template <typename... Args>
[[noreturn]] void fail_with_code(int exit_code, fmt::format_string<Args...> format, Args&&... args) {
  throw Error(fmt::format(format, std::forward<Args>(args)...), exit_code);
}

// strerror() of an errno value, thread-safe.
std::string errno_text(int err);

// Throws "<what>: <strerror(errno)>", with advice for the errno values a user
// can act on (a full disk, a read-only file system, missing permission).
[[noreturn]] void fail_errno(std::string_view what);
[[noreturn]] void fail_errno(std::string_view what, int err);

}  // namespace gocrate
