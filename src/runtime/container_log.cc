#include "runtime/container_log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <ctime>

#include "util/error.h"
#include "util/strings.h"

namespace gocrate {

namespace {

constexpr uint64_t kMinimumMaxSize = 4096;
constexpr int kMaximumFiles = 100;
constexpr size_t kIovecBatch = 192;  // entries of 3 pieces each per writev

std::string_view stream_name(LogStream stream) {
  return stream == LogStream::out ? "stdout" : "stderr";
}

std::string rotated_path(const std::string& path, int n) {
  return path + "." + std::to_string(n);
}

}  // namespace

LogOptions LogOptions::parse(const std::vector<std::string>& options) {
  LogOptions parsed;
  for (const auto& option : options) {
    size_t eq = option.find('=');
    std::string key = option.substr(0, eq);
    std::string value = eq == std::string::npos ? "" : option.substr(eq + 1);
    if (key == "max-size") {
      if (!parse_byte_size(value, parsed.max_size) || parsed.max_size < kMinimumMaxSize) {
        fail("invalid --log-opt max-size=\"{}\": use a size of at least 4k, such as 10m", value);
      }
    } else if (key == "max-file") {
      int64_t files = 0;
      if (!parse_int(value, 1, kMaximumFiles, files)) {
        fail("invalid --log-opt max-file=\"{}\": use a number of files from 1 to {}", value, kMaximumFiles);
      }
      parsed.max_files = static_cast<int>(files);
    } else {
      fail("unknown --log-opt \"{}\": gocrate knows max-size=SIZE and max-file=N", option);
    }
  }
  return parsed;
}

bool parse_log_entry(std::string_view line, LogEntry& entry) {
  size_t first = line.find(' ');
  if (first == std::string_view::npos) return false;
  size_t second = line.find(' ', first + 1);
  if (second == std::string_view::npos || second + 2 > line.size()) return false;
  std::string_view stream = line.substr(first + 1, second - first - 1);
  char tag = line[second + 1];
  if ((stream != "stdout" && stream != "stderr") || (tag != 'F' && tag != 'P')) return false;
  if (second + 2 < line.size() && line[second + 2] != ' ') return false;
  entry.time = line.substr(0, first);
  entry.stream = stream == "stdout" ? LogStream::out : LogStream::err;
  entry.partial = tag == 'P';
  entry.text = second + 3 <= line.size() ? line.substr(second + 3) : std::string_view();
  return true;
}

std::string container_log_path(const std::string& container_dir) {
  return container_dir + "/container.log";
}

size_t format_log_time(char (&out)[40]) {
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  tm utc{};
  ::gmtime_r(&ts.tv_sec, &utc);
  int n = std::snprintf(out, sizeof out, "%04d-%02d-%02dT%02d:%02d:%02d.%09ldZ", utc.tm_year + 1900,
                        utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec,
                        static_cast<long>(ts.tv_nsec));
  return n > 0 ? static_cast<size_t>(n) : 0;
}

// ---- Writer ----------------------------------------------------------------

ContainerLogWriter::ContainerLogWriter(const std::string& container_dir, LogOptions options)
    : path_(container_log_path(container_dir)), options_(options) {
  open_current();
}

void ContainerLogWriter::open_current() {
  fd_ = open_or_fail(path_, O_WRONLY | O_CREAT | O_APPEND, 0600);
  struct stat st;
  size_ = ::fstat(fd_.get(), &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
}

void ContainerLogWriter::rotate() {
  if (options_.max_files == 1) {
    if (::ftruncate(fd_.get(), 0) != 0) fail_errno(fmt::format("cannot truncate {}", path_));
    size_ = 0;
    return;
  }
  ::unlink(rotated_path(path_, options_.max_files - 1).c_str());
  for (int n = options_.max_files - 2; n >= 1; --n) {
    ::rename(rotated_path(path_, n).c_str(), rotated_path(path_, n + 1).c_str());
  }
  if (::rename(path_.c_str(), rotated_path(path_, 1).c_str()) != 0) {
    fail_errno(fmt::format("cannot rotate {}", path_));
  }
  open_current();
}

void ContainerLogWriter::write(LogStream stream, std::string_view data) {
  char time[40];
  size_t time_size = format_log_time(time);
  char prefix_full[64], prefix_partial[64];
  int full = std::snprintf(prefix_full, sizeof prefix_full, "%.*s %s F ", static_cast<int>(time_size), time,
                           stream_name(stream).data());
  int partial = std::snprintf(prefix_partial, sizeof prefix_partial, "%.*s %s P ",
                              static_cast<int>(time_size), time, stream_name(stream).data());
  static char newline = '\n';
  iovec pieces[kIovecBatch * 3];
  while (!data.empty()) {
    size_t count = 0;
    uint64_t bytes = 0;
    while (!data.empty() && count + 3 <= kIovecBatch * 3) {
      size_t end = data.find('\n');
      bool complete = end != std::string_view::npos;
      std::string_view line = data.substr(0, complete ? end : data.size());
      data.remove_prefix(complete ? end + 1 : data.size());
      char* prefix = complete ? prefix_full : prefix_partial;
      size_t prefix_size = static_cast<size_t>(complete ? full : partial);
      pieces[count++] = {prefix, prefix_size};
      pieces[count++] = {const_cast<char*>(line.data()), line.size()};
      pieces[count++] = {&newline, 1};
      bytes += prefix_size + line.size() + 1;
    }
    if (size_ > 0 && size_ + bytes > options_.max_size) rotate();
    // A short write on a full disk loses the rest of this batch, not the log.
    ssize_t written = ::writev(fd_.get(), pieces, static_cast<int>(count));
    if (written > 0) size_ += static_cast<uint64_t>(written);
  }
}

// ---- Reader ----------------------------------------------------------------

ContainerLogReader::ContainerLogReader(const std::string& container_dir)
    : path_(container_log_path(container_dir)) {}

void ContainerLogReader::read_from(int fd, const std::function<void(const LogEntry&)>& on_entry) {
  char buffer[65536];
  for (;;) {
    ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    if (fd == current_.get()) offset_ += n;
    pending_.append(buffer, static_cast<size_t>(n));
    size_t start = 0;
    for (size_t end; (end = pending_.find('\n', start)) != std::string::npos; start = end + 1) {
      LogEntry entry;
      if (parse_log_entry(std::string_view(pending_).substr(start, end - start), entry)) on_entry(entry);
    }
    pending_.erase(0, start);
  }
}

void ContainerLogReader::read_all(const std::function<void(const LogEntry&)>& on_entry) {
  for (int n = kMaximumFiles; n >= 1; --n) {
    UniqueFd rotated(::open(rotated_path(path_, n).c_str(), O_RDONLY | O_CLOEXEC));
    if (!rotated) continue;
    read_from(rotated.get(), on_entry);
    pending_.clear();
  }
  current_.reset(::open(path_.c_str(), O_RDONLY | O_CLOEXEC));
  offset_ = 0;
  if (!current_) return;
  struct stat st;
  inode_ = ::fstat(current_.get(), &st) == 0 ? st.st_ino : 0;
  read_from(current_.get(), on_entry);
}

void ContainerLogReader::reopen_if_rotated(const std::function<void(const LogEntry&)>& on_entry) {
  struct stat now;
  if (::stat(path_.c_str(), &now) != 0) return;
  if (current_ && now.st_ino == inode_) {
    if (static_cast<off_t>(now.st_size) < offset_) {  // truncated (max-file=1)
      ::lseek(current_.get(), 0, SEEK_SET);
      offset_ = 0;
      pending_.clear();
    }
    return;
  }
  if (current_) read_from(current_.get(), on_entry);  // what came before the rotation
  pending_.clear();
  current_.reset(::open(path_.c_str(), O_RDONLY | O_CLOEXEC));
  offset_ = 0;
  struct stat st;
  inode_ = current_ && ::fstat(current_.get(), &st) == 0 ? st.st_ino : 0;
}

void ContainerLogReader::read_new(const std::function<void(const LogEntry&)>& on_entry) {
  if (current_) read_from(current_.get(), on_entry);
  reopen_if_rotated(on_entry);
  if (current_) read_from(current_.get(), on_entry);
}

}  // namespace gocrate
