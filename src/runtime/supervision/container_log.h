#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "util/fs.h"

namespace gocrate {

// Docker's log drivers that gocrate has: json-file (the default; Docker's
// {"log","stream","time"} lines), local (CRI lines, below) and none.
enum class LogDriver { json_file, local, none };

std::string_view log_driver_name(LogDriver driver);
// "json-file", "local", "none" ("" is json-file); another driver (syslog,
// journald, ...) is an error naming those gocrate has.
LogDriver parse_log_driver(std::string_view name);

// What a detached container's log keeps (--log-driver, --log-opt): at most
// max-size × max-file bytes. json-file keeps 10m × 2 unless told (Docker's
// keeps everything unless told: max-size=-1 asks for that), local 20m × 5
// as Docker's.
struct LogOptions {
  LogDriver driver = LogDriver::json_file;
  uint64_t max_size = 10 << 20;  // bytes in one file before it is rotated; UINT64_MAX: never
  int max_files = 2;             // the current file and the rotated ones

  // "max-size=10m", "max-file=3", "compress=false" for `driver`; an unknown
  // option, one the driver does not take, or a bad value is an error naming it.
  static LogOptions parse(const std::vector<std::string>& options, std::string_view driver = "");
};

enum class LogStream { out, err };

// One entry of a container log. local writes it as CRI (and podman's
// k8s-file) does: "2024-01-02T03:04:05.123456789Z stdout F text", where F
// ends a line and P is a part of a line whose end comes in a later entry.
// json-file writes Docker's {"log":"text\n","stream":"stdout","time":"…"},
// a part of a line being a "log" without its newline.
struct LogEntry {
  std::string_view time;
  LogStream stream = LogStream::out;
  bool partial = false;
  std::string_view text;  // without the line's newline
};

// Parses one CRI line of a log file (without its newline); false when malformed.
bool parse_log_entry(std::string_view line, LogEntry& entry);
// Parses one line of either format; the entry's views point into `line` or
// into `storage`.
bool parse_log_entry(std::string_view line, LogEntry& entry, std::string& storage);

// The current file of a container's log in its directory; rotated ones add
// ".1" (the newest) to ".<max_files - 1>".
std::string container_log_path(const std::string& container_dir);

// Written by the supervisor: what the container writes to stdout and stderr,
// an entry per line, timestamped when it was read, rotated by size (nothing
// at all with the none driver). Each write is one writev of whole entries,
// so readers never see a torn entry once the call returns.
class ContainerLogWriter {
 public:
  ContainerLogWriter(const std::string& container_dir, LogOptions options);
  ContainerLogWriter(ContainerLogWriter&&) = default;

  // Appends what one read of a stream gave: each complete line as an F
  // entry, a trailing piece without its newline as a P entry.
  void write(LogStream stream, std::string_view data);
  uint64_t size() const { return size_; }

 private:
  void open_current();
  void rotate();
  void write_cri(LogStream stream, std::string_view data);
  void write_json(LogStream stream, std::string_view data);
  void flush_json();

  std::string path_;
  LogOptions options_;
  UniqueFd fd_;
  uint64_t size_ = 0;
  std::string json_;     // json-file entries not written yet
  std::string held_[2];  // per stream: the start of a UTF-8 character cut by the end of a read
};

// Reads a container's log for `gocrate logs`: every file, oldest first, and
// then (following) what is appended, across rotations.
class ContainerLogReader {
 public:
  explicit ContainerLogReader(const std::string& container_dir);

  // Every entry now in the log, oldest first. Leaves the reader at the end of
  // the current file, for read_new().
  void read_all(const std::function<void(const LogEntry&)>& on_entry);
  // The entries appended since the last call, including those written to the
  // current file before it was rotated away.
  void read_new(const std::function<void(const LogEntry&)>& on_entry);

 private:
  void read_from(int fd, const std::function<void(const LogEntry&)>& on_entry);
  void reopen_if_rotated(const std::function<void(const LogEntry&)>& on_entry);

  std::string path_;
  UniqueFd current_;
  ino_t inode_ = 0;
  off_t offset_ = 0;
  std::string pending_;  // an entry not yet complete in the file
  std::string storage_;  // what a json-file entry's text was unescaped into
};

// "2024-01-02T03:04:05.123456789Z" for now (CLOCK_REALTIME), into `out`.
size_t format_log_time(char (&out)[40]);

}  // namespace gocrate
