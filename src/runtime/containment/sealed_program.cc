#include "runtime/containment/sealed_program.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>

#include "util/error.h"

extern "C" {
extern const char gocrate_init_program_start[];
extern const char gocrate_init_program_end[];
}

namespace gocrate {

namespace {

#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U
#endif

UniqueFd create_memfd(std::string_view name) {
  std::string n(name);
  // Kernels from 6.3 on want executable memory files asked for as such.
  int fd = ::memfd_create(n.c_str(), MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_EXEC);
  if (fd < 0 && errno == EINVAL) fd = ::memfd_create(n.c_str(), MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0) fail_errno(fmt::format("cannot create a memory file for {}", name));
  return UniqueFd(fd);
}

void seal(int fd, std::string_view name) {
  if (::fchmod(fd, 0555) != 0 ||
      ::fcntl(fd, F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) != 0) {
    fail_errno(fmt::format("cannot seal the memory file of {}", name));
  }
}

}  // namespace

UniqueFd sealed_program(std::string_view name, std::string_view content) {
  UniqueFd fd = create_memfd(name);
  write_all(fd.get(), content, name);
  seal(fd.get(), name);
  return fd;
}

UniqueFd sealed_program_from_file(std::string_view name, const std::string& path) {
  UniqueFd source = open_or_fail(path, O_RDONLY);
  struct stat st;
  if (::fstat(source.get(), &st) != 0) fail_errno(fmt::format("cannot inspect {}", path));
  UniqueFd fd = create_memfd(name);
  off_t offset = 0;
  while (offset < st.st_size) {
    ssize_t n = ::sendfile(fd.get(), source.get(), &offset, st.st_size - offset);
    if (n <= 0) fail_errno(fmt::format("cannot copy {} into memory", path));
  }
  seal(fd.get(), name);
  return fd;
}

UniqueFd init_program() {
  return sealed_program(
      "gocrate-init",
      std::string_view(gocrate_init_program_start, gocrate_init_program_end - gocrate_init_program_start));
}

}  // namespace gocrate
