#include "util/error.h"

#include <cerrno>
#include <cstring>

namespace gocrate {

std::string errno_text(int err) {
  char buffer[256];
  return strerror_r(err, buffer, sizeof buffer);
}

namespace {

std::string_view advice_for(int err) {
  switch (err) {
    case ENOSPC:
    case EDQUOT:
      return " (the disk is full: free space or point --root at another file system)";
    case EROFS:
      return " (the file system is read-only: point --root at a writable directory)";
    case EACCES:
    case EPERM:
      return " (permission denied: run as root or point --root at a directory you own)";
    default:
      return "";
  }
}

}  // namespace

void fail_errno(std::string_view what) {
  fail_errno(what, errno);
}

void fail_errno(std::string_view what, int err) {
  throw Error(fmt::format("{}: {}{}", what, errno_text(err), advice_for(err)));
}

}  // namespace gocrate
