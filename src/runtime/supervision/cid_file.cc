#include "runtime/supervision/cid_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

#include "util/error.h"

namespace gocrate {

CidFile CidFile::create(const std::string& path) {
  CidFile file;
  if (path.empty()) return file;
  // O_EXCL refuses a symlink at the path too, dangling or not.
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd < 0 && errno == EEXIST) {
    fail("Container ID file found, make sure the other container isn't running or delete {}", path);
  }
  if (fd < 0) fail_errno(fmt::format("cannot create the container ID file {} (--cidfile)", path));
  file.path_ = path;
  file.fd_.reset(fd);
  return file;
}

CidFile::CidFile(CidFile&& other) noexcept
    : path_(std::move(other.path_)), fd_(std::move(other.fd_)), written_(other.written_) {
  other.path_.clear();
}

CidFile::~CidFile() {
  if (!path_.empty() && !written_) ::unlink(path_.c_str());
}

void CidFile::write(const std::string& id) {
  if (!fd_) return;
  if (::write(fd_.get(), id.data(), id.size()) != static_cast<ssize_t>(id.size())) {
    fail_errno(fmt::format("cannot write the container ID to {} (--cidfile)", path_));
  }
  written_ = true;
  fd_.reset();
}

}  // namespace gocrate
