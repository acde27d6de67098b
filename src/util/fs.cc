#include "util/fs.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <random>
#include <vector>

#include "util/error.h"

namespace gocrate {

UniqueFd& UniqueFd::operator=(UniqueFd&& other) noexcept {
  if (this != &other) reset(other.release());
  return *this;
}

void UniqueFd::reset(int fd) {
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
}

UniqueFd open_or_fail(const std::string& path, int flags, mode_t mode) {
  int fd = ::open(path.c_str(), flags | O_CLOEXEC, mode);
  if (fd < 0) fail_errno(fmt::format("cannot open {}", path));
  return UniqueFd(fd);
}

UniqueFd openat_or_fail(int dir_fd, const std::string& name, int flags, mode_t mode) {
  int fd = ::openat(dir_fd, name.c_str(), flags | O_CLOEXEC, mode);
  if (fd < 0) fail_errno(fmt::format("cannot open {}", name));
  return UniqueFd(fd);
}

std::string read_fd(int fd) {
  std::string out;
  struct stat st;
  if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) out.reserve(st.st_size);
  char buffer[65536];
  for (;;) {
    ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail_errno("read failed");
    }
    if (n == 0) break;
    out.append(buffer, n);
  }
  return out;
}

std::string read_file(const std::string& path) {
  UniqueFd fd = open_or_fail(path, O_RDONLY);
  try {
    return read_fd(fd.get());
  } catch (const Error& e) {
    fail("cannot read {}: {}", path, e.what());
  }
}

std::optional<std::string> read_file_if_exists(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return std::nullopt;
    fail_errno(fmt::format("cannot open {}", path));
  }
  UniqueFd owned(fd);
  return read_fd(fd);
}

void write_all(int fd, std::string_view data, std::string_view what) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      fail_errno(fmt::format("cannot write {}", what));
    }
    data.remove_prefix(n);
  }
}

void read_exact_at(int fd, void* buffer, size_t size, off_t offset, std::string_view what) {
  auto* out = static_cast<char*>(buffer);
  while (size > 0) {
    ssize_t n = ::pread(fd, out, size, offset);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail_errno(fmt::format("cannot read {}", what));
    }
    if (n == 0) fail("cannot read {}: the file ends early", what);
    out += n;
    size -= n;
    offset += n;
  }
}

void fsync_directory(const std::string& dir) {
  UniqueFd fd = open_or_fail(dir.empty() ? "." : dir, O_RDONLY | O_DIRECTORY);
  if (::fsync(fd.get()) != 0 && errno != EINVAL) fail_errno(fmt::format("cannot sync {}", dir));
}

namespace {

std::string random_suffix() {
  static thread_local std::mt19937_64 generator{std::random_device{}()};
  return fmt::format("{:016x}", generator());
}

}  // namespace

namespace {

void write_and_rename(const std::string& path, std::string_view data, mode_t mode, bool durable) {
  std::string dir = dir_name(path);
  std::string temp = fmt::format("{}/.{}.tmp-{}-{}", dir, base_name(path), getpid(), random_suffix());
  {
    UniqueFd fd = open_or_fail(temp, O_WRONLY | O_CREAT | O_EXCL, mode);
    try {
      write_all(fd.get(), data, path);
      if (durable && ::fsync(fd.get()) != 0) fail_errno(fmt::format("cannot sync {}", path));
    } catch (...) {
      ::unlink(temp.c_str());
      throw;
    }
  }
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(temp.c_str());
    fail_errno(fmt::format("cannot replace {}", path), err);
  }
  if (durable) fsync_directory(dir);
}

}  // namespace

void write_file_atomic(const std::string& path, std::string_view data, mode_t mode) {
  write_and_rename(path, data, mode, true);
}

void write_file_replace(const std::string& path, std::string_view data, mode_t mode) {
  write_and_rename(path, data, mode, false);
}

void make_directories(const std::string& path, mode_t mode) {
  if (path.empty()) return;
  struct stat st;
  if (::stat(path.c_str(), &st) == 0) {
    if (!S_ISDIR(st.st_mode)) fail("{} exists and is not a directory", path);
    return;
  }
  std::string parent = dir_name(path);
  if (parent != path && !parent.empty()) make_directories(parent, mode);
  if (::mkdir(path.c_str(), mode) != 0 && errno != EEXIST) {
    fail_errno(fmt::format("cannot create directory {}", path));
  }
}

namespace {

void remove_tree_at(int parent_fd, const char* name) {
  if (::unlinkat(parent_fd, name, 0) == 0 || errno == ENOENT) return;
  if (errno != EISDIR && errno != EPERM) fail_errno(fmt::format("cannot remove {}", name));
  int fd = ::openat(parent_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return;
    fail_errno(fmt::format("cannot open {}", name));
  }
  DIR* dir = ::fdopendir(fd);
  if (!dir) {
    ::close(fd);
    fail_errno(fmt::format("cannot list {}", name));
  }
  while (dirent* entry = ::readdir(dir)) {
    std::string_view child = entry->d_name;
    if (child == "." || child == "..") continue;
    remove_tree_at(fd, entry->d_name);
  }
  ::closedir(dir);
  if (::unlinkat(parent_fd, name, AT_REMOVEDIR) != 0 && errno != ENOENT) {
    fail_errno(fmt::format("cannot remove directory {}", name));
  }
}

}  // namespace

void remove_tree(const std::string& path) {
  std::string parent = dir_name(path);
  UniqueFd parent_fd = open_or_fail(parent.empty() ? "." : parent, O_RDONLY | O_DIRECTORY);
  std::string name = base_name(path);
  try {
    remove_tree_at(parent_fd.get(), name.c_str());
  } catch (const Error& e) {
    fail("cannot remove {}: {}", path, e.what());
  }
}

std::string_view file_type_name(mode_t mode) {
  switch (mode & S_IFMT) {
    case S_IFREG:
      return "a regular file";
    case S_IFDIR:
      return "a directory";
    case S_IFLNK:
      return "a symbolic link";
    case S_IFIFO:
      return "a FIFO";
    case S_IFSOCK:
      return "a socket";
    case S_IFCHR:
      return "a character device";
    case S_IFBLK:
      return "a block device";
  }
  return "a file of unknown type";
}

bool path_exists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

bool is_directory(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

bool is_executable_file(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(path.c_str(), X_OK) == 0;
}

std::string absolute_path(const std::string& path) {
  return std::filesystem::absolute(path).lexically_normal().string();
}

std::string base_name(std::string_view path) {
  while (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  auto slash = path.rfind('/');
  return std::string(slash == std::string_view::npos ? path : path.substr(slash + 1));
}

std::string dir_name(std::string_view path) {
  while (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  auto slash = path.rfind('/');
  if (slash == std::string_view::npos) return ".";
  if (slash == 0) return "/";
  return std::string(path.substr(0, slash));
}

namespace {

int flock_operation(LockMode mode) {
  return mode == LockMode::shared ? LOCK_SH : LOCK_EX;
}

}  // namespace

void lock_file(int fd, LockMode mode, std::string_view what) {
  while (::flock(fd, flock_operation(mode)) != 0) {
    if (errno != EINTR) fail_errno(fmt::format("cannot lock {}", what));
  }
}

bool try_lock_file(int fd, LockMode mode, std::string_view what) {
  while (::flock(fd, flock_operation(mode) | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) return false;
    if (errno != EINTR) fail_errno(fmt::format("cannot lock {}", what));
  }
  return true;
}

bool is_file_locked(int fd) {
  if (::flock(fd, LOCK_SH | LOCK_NB) == 0) {
    ::flock(fd, LOCK_UN);
    return false;
  }
  return errno == EWOULDBLOCK;
}

FileLock::FileLock(const std::string& path, Mode mode) {
  fd_ = open_or_fail(path, O_RDWR | O_CREAT, 0644);
  lock_file(fd_.get(), mode, path);
}

std::optional<FileLock> FileLock::acquire(const std::string& path, Mode mode, bool wait) {
  if (wait) return FileLock(path, mode);
  FileLock lock;
  lock.fd_ = open_or_fail(path, O_RDWR | O_CREAT, 0644);
  if (!try_lock_file(lock.fd_.get(), mode, path)) return std::nullopt;
  return lock;
}

namespace {

constexpr std::string_view kLockSuffix = ".lock";
// Tries before giving up on making a held entry; each one fails only when a
// cleaner removes the new entry in the moment before it is locked.
constexpr int kHoldAttempts = 100;

// From the kernel, so that processes forked from one another differ.
std::string random_name_part() {
  uint64_t value = 0;
  if (::getrandom(&value, sizeof value, 0) != static_cast<ssize_t>(sizeof value)) return random_suffix();
  return fmt::format("{:016x}", value);
}

// Whether `path` still names the file open as `fd`.
bool still_named(int fd, const std::string& path) {
  struct stat opened, named;
  return ::fstat(fd, &opened) == 0 && ::lstat(path.c_str(), &named) == 0 && opened.st_dev == named.st_dev &&
         opened.st_ino == named.st_ino;
}

HeldFile create_and_hold(const std::string& dir, std::string_view prefix, std::string_view suffix,
                         mode_t mode) {
  for (int attempt = 0; attempt < kHoldAttempts; ++attempt) {
    std::string path = fmt::format("{}/{}{}{}", dir, prefix, random_name_part(), suffix);
    UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, mode));
    if (!fd) {
      if (errno == EEXIST) continue;
      fail_errno(fmt::format("cannot create a file in {}", dir));
    }
    // A cleaner that locked the file first removes it: leave it that one.
    if (try_lock_file(fd.get(), LockMode::exclusive, path) && still_named(fd.get(), path))
      return {std::move(path), std::move(fd)};
  }
  fail("cannot create a file in {}: each new one was removed at once; is another program emptying {}?", dir,
       dir);
}

// Removes the file `path`, and the directory it holds if it is a lock file,
// when no writer holds it.
void remove_if_unheld(const std::string& path) {
  // Open for writing where possible: NFS grants exclusive locks only then.
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  if (!fd && (errno == EACCES || errno == EROFS || errno == ETXTBSY)) {
    fd.reset(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  }
  if (!fd || !try_lock_file(fd.get(), LockMode::exclusive, path) || !still_named(fd.get(), path)) return;
  // Still locked, so that a writer that made this file but has not locked
  // it yet sees it gone and makes another.
  if (path.ends_with(kLockSuffix)) remove_tree(path.substr(0, path.size() - kLockSuffix.size()));
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) fail_errno(fmt::format("cannot remove {}", path));
}

}  // namespace

HeldFile create_held_file(const std::string& dir, std::string_view prefix, mode_t mode) {
  return create_and_hold(dir, prefix, "", mode);
}

void remove_unheld_entries(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (!d) return;
  std::vector<std::string> names;
  while (dirent* entry = ::readdir(d)) {
    std::string_view name = entry->d_name;
    if (name != "." && name != "..") names.emplace_back(name);
  }
  ::closedir(d);
  for (const auto& name : names) {
    std::string path = dir + "/" + name;
    struct stat st;
    if (::lstat(path.c_str(), &st) != 0) continue;
    try {
      if (S_ISREG(st.st_mode)) {
        remove_if_unheld(path);
      } else if (!path_exists(path + std::string(kLockSuffix))) {
        // A writer makes the lock file before the directory and removes it
        // after, so nobody holds a directory without one.
        remove_tree(path);
      }
    } catch (const Error&) {
      // Left for the next cleaner; a cleanup never fails the work it precedes.
    }
  }
}

TempDir TempDir::held(const std::string& parent, std::string_view prefix) {
  for (int attempt = 0; attempt < kHoldAttempts; ++attempt) {
    HeldFile lock = create_and_hold(parent, prefix, kLockSuffix, 0644);
    std::string path = lock.path.substr(0, lock.path.size() - kLockSuffix.size());
    if (::mkdir(path.c_str(), 0700) != 0) {
      int err = errno;
      ::unlink(lock.path.c_str());
      if (err == EEXIST) continue;
      fail_errno(fmt::format("cannot create a temporary directory in {}", parent), err);
    }
    return TempDir(Adopt{}, std::move(path), std::move(lock.path), std::move(lock.fd));
  }
  fail("cannot create a temporary directory in {}: every new name was taken", parent);
}

TempDir::TempDir(const std::string& parent, std::string_view prefix) {
  std::string base = parent;
  if (base.empty()) {
    const char* tmp = std::getenv("TMPDIR");
    base = tmp && *tmp ? tmp : "/tmp";
  }
  std::string pattern = fmt::format("{}/{}XXXXXX", base, prefix);
  if (!::mkdtemp(pattern.data())) fail_errno(fmt::format("cannot create a temporary directory in {}", base));
  path_ = pattern;
}

TempDir::~TempDir() {
  if (!path_.empty()) {
    try {
      remove_tree(path_);
    } catch (...) {
    }
  }
  // The directory goes first: a directory without its lock file is free to
  // remove. lock_ closes after, giving up the hold.
  if (!lock_path_.empty()) ::unlink(lock_path_.c_str());
}

MappedFile::MappedFile(const std::string& path) {
  UniqueFd fd = open_or_fail(path, O_RDONLY);
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) fail_errno(fmt::format("cannot stat {}", path));
  if (!S_ISREG(st.st_mode)) fail("{} is not a regular file", path);
  size_ = st.st_size;
  mode_ = st.st_mode;
  if (size_ == 0) return;
  address_ = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd.get(), 0);
  if (address_ == MAP_FAILED) {
    address_ = nullptr;
    fail_errno(fmt::format("cannot map {}", path));
  }
}

MappedFile::MappedFile(MappedFile&& other) noexcept
    : address_(std::exchange(other.address_, nullptr)),
      size_(std::exchange(other.size_, 0)),
      mode_(other.mode_) {}

MappedFile::~MappedFile() {
  if (address_) ::munmap(address_, size_);
}

std::vector<std::string> sorted_directory_names(int dir_fd, const std::string& what) {
  int fd = ::openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) fail_errno(fmt::format("cannot read the directory {}", what));
  DIR* dir = ::fdopendir(fd);
  if (!dir) {
    ::close(fd);
    fail_errno(fmt::format("cannot read the directory {}", what));
  }
  std::vector<std::string> names;
  while (dirent* e = ::readdir(dir)) {
    std::string_view name = e->d_name;
    if (name != "." && name != "..") names.emplace_back(name);
  }
  ::closedir(dir);
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace gocrate
