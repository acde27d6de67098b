#pragma once

// For tests only.

#include <functional>
#include <string>

#include "util/error.h"

namespace gocrate {

// The message of the Error that `action` throws; empty when it throws none.
inline std::string error_of(const std::function<void()>& action) {
  try {
    action();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace gocrate
