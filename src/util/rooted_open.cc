#include "util/rooted_open.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <string>

namespace gocrate {

int open_in_root(int root_fd, std::string_view path, int flags, RootedResolve resolve) {
  open_how how{};
  how.flags = static_cast<uint64_t>(flags | O_CLOEXEC);
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  if (resolve == RootedResolve::strict) how.resolve |= RESOLVE_NO_SYMLINKS | RESOLVE_NO_XDEV;
  std::string p(path);
  for (;;) {
    long fd = ::syscall(SYS_openat2, root_fd, p.c_str(), &how, sizeof how);
    if (fd >= 0 || errno != EAGAIN) return static_cast<int>(fd);
  }
}

}  // namespace gocrate
