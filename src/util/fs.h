#pragma once

#include <sys/types.h>

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

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
// "a directory", "a FIFO", "a character device", ... for a stat mode.
std::string_view file_type_name(mode_t mode);
bool is_directory(const std::string& path);
bool is_executable_file(const std::string& path);
std::string absolute_path(const std::string& path);
std::string base_name(std::string_view path);
std::string dir_name(std::string_view path);

// flock(2) on an open descriptor, retried on EINTR; `what` names the file in
// errors ("cannot lock <what>").
enum class LockMode { shared, exclusive };
// Waits for the lock.
void lock_file(int fd, LockMode mode, std::string_view what);
// False when another open file holds a conflicting lock.
bool try_lock_file(int fd, LockMode mode, std::string_view what);
// Whether another open file holds an exclusive lock on it; takes no lock.
bool is_file_locked(int fd);

// flock(2) held for the object's lifetime.
class FileLock {
 public:
  using Mode = LockMode;
  FileLock(const std::string& path, Mode mode);
  // Without wait, nullopt when another process holds a conflicting lock.
  static std::optional<FileLock> acquire(const std::string& path, Mode mode, bool wait);
  FileLock(FileLock&&) = default;
  FileLock& operator=(FileLock&&) = default;

 private:
  FileLock() = default;
  UniqueFd fd_;
};

// Temporary entries in a directory shared by several processes (a store's
// ingest and scratch directories) are "held": their writer keeps an
// exclusive flock(2) on a descriptor open for as long as it writes. The
// kernel drops the lock when that descriptor closes, however the process
// ends, so remove_unheld_entries() in another process can tell a live
// writer's entry from a dead one's with no pid (pids are reused) and no age.
// A file is held through itself; a directory through the lock file
// <name>.lock beside it, made before the directory and removed after it
// (directories cannot be locked for writing on every file system, NFS among
// them).
//
// Between creating an entry and locking it, a cleaner may find it free and
// remove it; the writer then finds its name gone (or the lock taken) and
// makes another, so the entries a writer goes on to use are never removed.

// A new file <dir>/<prefix><random>, open for writing and held.
struct HeldFile {
  std::string path;
  UniqueFd fd;  // closing it gives up the hold
};
HeldFile create_held_file(const std::string& dir, std::string_view prefix = "", mode_t mode = 0644);

// Removes from `dir` every entry that no live writer holds: files that are
// not locked, directories whose lock file is not locked (with the lock
// file), and directories with no lock file at all. Entries that cannot be
// removed are left for the next call. A missing `dir` is not an error.
void remove_unheld_entries(const std::string& dir);

// A fresh directory that is removed with everything in it on destruction.
class TempDir {
 public:
  explicit TempDir(const std::string& parent = "", std::string_view prefix = "gocrate-");
  // A fresh directory <parent>/<prefix><random> held (see above) until
  // destruction, for a `parent` that remove_unheld_entries() cleans.
  static TempDir held(const std::string& parent, std::string_view prefix);
  TempDir(TempDir&& other) noexcept
      : path_(std::exchange(other.path_, {})),
        lock_path_(std::exchange(other.lock_path_, {})),
        lock_(std::move(other.lock_)) {}
  TempDir(const TempDir&) = delete;
  ~TempDir();
  const std::string& path() const { return path_; }

 private:
  struct Adopt {};
  TempDir(Adopt, std::string path, std::string lock_path, UniqueFd lock)
      : path_(std::move(path)), lock_path_(std::move(lock_path)), lock_(std::move(lock)) {}
  std::string path_;
  std::string lock_path_;  // empty unless held
  UniqueFd lock_;
};

// The names in the directory open as `dir_fd`, sorted, without "." and
// "..". `what` names the directory in the error.
std::vector<std::string> sorted_directory_names(int dir_fd, const std::string& what);

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
