#pragma once

#include <sys/types.h>

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace gocrate {

// Owns a file descriptor and closes it once.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept;
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { reset(); }

  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }
  void reset(int fd = -1);
  explicit operator bool() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

// open(2) that throws a named error; flags get O_CLOEXEC added.
UniqueFd open_or_fail(const std::string& path, int flags, mode_t mode = 0644);
UniqueFd openat_or_fail(int dir_fd, const std::string& name, int flags, mode_t mode = 0644);

std::string read_file(const std::string& path);
std::string read_fd(int fd);
std::optional<std::string> read_file_if_exists(const std::string& path);
void write_all(int fd, std::string_view data, std::string_view what);
// pread of exactly size bytes at offset, or an error naming `what`.
void read_exact_at(int fd, void* buffer, size_t size, off_t offset, std::string_view what);

// Replaces `path` so that readers see either the old or the new content,
// never a mix, and so that a crash at any moment leaves one of the two:
// write a temporary file beside it, fsync, rename over, fsync the directory.
void write_file_atomic(const std::string& path, std::string_view data, mode_t mode = 0644);
void fsync_directory(const std::string& dir);
// As write_file_atomic, without the fsyncs: readers still never see a mix,
// but a crash may lose the new content. For caches, where a lost entry only
// costs a recomputation.
void write_file_replace(const std::string& path, std::string_view data, mode_t mode = 0644);

// mkdir -p that reports the failing component.
void make_directories(const std::string& path, mode_t mode = 0755);
// rm -rf that does not follow symlinks; a missing path is not an error.
void remove_tree(const std::string& path);

bool path_exists(const std::string& path);
bool is_directory(const std::string& path);
bool is_executable_file(const std::string& path);
std::string absolute_path(const std::string& path);
std::string base_name(std::string_view path);
std::string dir_name(std::string_view path);

// flock(2) held for the object's lifetime.
class FileLock {
 public:
  enum class Mode { shared, exclusive };
  FileLock(const std::string& path, Mode mode);
  // Without wait, nullopt when another process holds a conflicting lock.
  static std::optional<FileLock> acquire(const std::string& path, Mode mode, bool wait);
  FileLock(FileLock&&) = default;
  FileLock& operator=(FileLock&&) = default;

 private:
  FileLock() = default;
  UniqueFd fd_;
};

// A fresh directory that is removed with everything in it on destruction.
class TempDir {
 public:
  explicit TempDir(const std::string& parent = "", std::string_view prefix = "gocrate-");
  TempDir(TempDir&& other) noexcept : path_(std::exchange(other.path_, {})) {}
  TempDir(const TempDir&) = delete;
  ~TempDir();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// A read-only view of a whole file, mapped into memory.
class MappedFile {
 public:
  explicit MappedFile(const std::string& path);
  MappedFile(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  ~MappedFile();
  std::string_view data() const { return {static_cast<const char*>(address_), size_}; }
  size_t size() const { return size_; }
  mode_t mode() const { return mode_; }

 private:
  void* address_ = nullptr;
  size_t size_ = 0;
  mode_t mode_ = 0;
};

}  // namespace gocrate
