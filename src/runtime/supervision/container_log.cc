#include "runtime/supervision/container_log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>

#include "util/error.h"
#include "util/strings.h"

namespace gocrate {

namespace {

constexpr uint64_t kMinimumMaxSize = 4096;
constexpr int kMaximumFiles = 100;
constexpr size_t kIovecBatch = 192;  // entries of 3 pieces each per writev

// A log the supervisor wrote: never a link or a FIFO put in its place, which
// would send the reader elsewhere or block it.
UniqueFd open_log_file(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK));
  struct stat st {};
  if (fd && (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode))) fd.reset();
  return fd;
}

std::string_view stream_name(LogStream stream) {
  return stream == LogStream::out ? "stdout" : "stderr";
}

std::string rotated_path(const std::string& path, int n) {
  return path + "." + std::to_string(n);
}

// The length of a valid UTF-8 sequence at the start of `s`, 0 if there is none.
size_t utf8_sequence(std::string_view s) {
  auto byte = [&s](size_t i) { return static_cast<unsigned char>(s[i]); };
  auto continuation = [&](size_t i, unsigned char low = 0x80, unsigned char high = 0xBF) {
    return i < s.size() && byte(i) >= low && byte(i) <= high;
  };
  unsigned char c = byte(0);
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) return continuation(1) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    unsigned char low = c == 0xE0 ? 0xA0 : 0x80, high = c == 0xED ? 0x9F : 0xBF;
    return continuation(1, low, high) && continuation(2) ? 3 : 0;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    unsigned char low = c == 0xF0 ? 0x90 : 0x80, high = c == 0xF4 ? 0x8F : 0xBF;
    return continuation(1, low, high) && continuation(2) && continuation(3) ? 4 : 0;
  }
  return 0;
}

// How many bytes at the end of `s` begin a UTF-8 character that the bytes
// after them could still complete (at most 3).
size_t incomplete_utf8_tail(std::string_view s) {
  for (size_t back = 1; back <= 3 && back <= s.size(); ++back) {
    unsigned char c = static_cast<unsigned char>(s[s.size() - back]);
    if (c < 0x80) return 0;
    if (c >= 0xC0) {
      size_t need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
      return need > back ? back : 0;
    }
  }
  return 0;
}

// `text` as the inside of a JSON string, as Go's encoding/json writes it
// (Docker's json-file): <, > and & escaped, invalid UTF-8 as U+FFFD.
void append_json_string(std::string& out, std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  while (!text.empty()) {
    unsigned char c = static_cast<unsigned char>(text[0]);
    size_t n = utf8_sequence(text);
    if (n == 0) {
      out += "\\ufffd";
      text.remove_prefix(1);
      continue;
    }
    if (n == 3 && c == 0xE2 && static_cast<unsigned char>(text[1]) == 0x80 &&
        (static_cast<unsigned char>(text[2]) == 0xA8 || static_cast<unsigned char>(text[2]) == 0xA9)) {
      out += static_cast<unsigned char>(text[2]) == 0xA8 ? "\\u2028" : "\\u2029";
    } else if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20 || c == '<' || c == '>' || c == '&') {
      out += "\\u00";
      out += kHex[c >> 4];
      out += kHex[c & 0xF];
    } else {
      out.append(text.substr(0, n));
    }
    text.remove_prefix(n);
  }
}

}  // namespace

std::string_view log_driver_name(LogDriver driver) {
  switch (driver) {
    case LogDriver::json_file:
      return "json-file";
    case LogDriver::local:
      return "local";
    case LogDriver::none:
      return "none";
  }
  return "json-file";
}

LogDriver parse_log_driver(std::string_view name) {
  if (name.empty() || name == "json-file") return LogDriver::json_file;
  if (name == "local") return LogDriver::local;
  if (name == "none") return LogDriver::none;
  fail("unsupported --log-driver \"{}\": gocrate keeps logs with json-file (the default), local, or none",
       name);
}

LogOptions LogOptions::parse(const std::vector<std::string>& options, std::string_view driver) {
  LogOptions parsed;
  parsed.driver = parse_log_driver(driver);
  std::string_view name = log_driver_name(parsed.driver);
  if (parsed.driver == LogDriver::local) {
    parsed.max_size = 20 << 20;
    parsed.max_files = 5;
  }
  if (parsed.driver == LogDriver::none && !options.empty()) {
    fail("--log-opt {} cannot apply to --log-driver none, which keeps nothing; drop it", options[0]);
  }
  bool files_given = false;
  for (const auto& option : options) {
    size_t eq = option.find('=');
    std::string key = option.substr(0, eq);
    std::string value = eq == std::string::npos ? "" : option.substr(eq + 1);
    if (key == "max-size") {
      if (value == "-1" && parsed.driver == LogDriver::json_file) {
        parsed.max_size = UINT64_MAX;
      } else if (!parse_byte_size(value, parsed.max_size) || parsed.max_size < kMinimumMaxSize) {
        fail("invalid --log-opt max-size=\"{}\": use a size of at least 4k, such as 10m{}", value,
             parsed.driver == LogDriver::json_file ? ", or -1 to keep everything" : "");
      }
    } else if (key == "max-file") {
      int64_t files = 0;
      if (!parse_int(value, 1, kMaximumFiles, files)) {
        fail("invalid --log-opt max-file=\"{}\": use a number of files from 1 to {}", value, kMaximumFiles);
      }
      parsed.max_files = static_cast<int>(files);
      files_given = true;
    } else if (key == "compress") {
      if (value == "true" || value == "1") {
        fail(
            "--log-opt compress={} is not supported: gocrate does not compress rotated logs; use "
            "compress=false or drop it",
            value);
      }
      if (value != "false" && value != "0") {
        fail("invalid --log-opt compress=\"{}\": use true or false", value);
      }
    } else {
      fail(
          "unsupported --log-opt \"{}\" for --log-driver {}: gocrate knows max-size=SIZE, max-file=N and "
          "compress=false",
          option, name);
    }
  }
  if (parsed.max_size == UINT64_MAX) {
    if (files_given && parsed.max_files > 1) {
      fail("--log-opt max-file={} needs a max-size: with max-size=-1 nothing is rotated", parsed.max_files);
    }
    parsed.max_files = 1;
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

bool parse_log_entry(std::string_view line, LogEntry& entry, std::string& storage) {
  if (!line.starts_with('{')) return parse_log_entry(line, entry);
  nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return false;
  auto log = j.find("log");
  auto stream = j.find("stream");
  auto time = j.find("time");
  if (log == j.end() || !log->is_string() || stream == j.end() || !stream->is_string()) return false;
  const auto& stream_name = stream->get_ref<const std::string&>();
  if (stream_name != "stdout" && stream_name != "stderr") return false;
  const auto& text = log->get_ref<const std::string&>();
  std::string_view time_text;
  if (time != j.end() && time->is_string()) time_text = time->get_ref<const std::string&>();
  storage.assign(time_text);
  storage += text;
  entry.stream = stream_name == "stdout" ? LogStream::out : LogStream::err;
  entry.partial = !text.ends_with('\n');
  entry.time = std::string_view(storage).substr(0, time_text.size());
  entry.text = std::string_view(storage).substr(time_text.size(), text.size() - (entry.partial ? 0 : 1));
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
  if (options_.driver != LogDriver::none) open_current();
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
  if (options_.driver == LogDriver::json_file) {
    write_json(stream, data);
  } else if (options_.driver == LogDriver::local) {
    write_cri(stream, data);
  }
}

void ContainerLogWriter::write_json(LogStream stream, std::string_view data) {
  constexpr size_t kFlushAt = 64 << 10;
  std::string& held = held_[stream == LogStream::out ? 0 : 1];
  std::string joined;
  if (!held.empty()) {
    joined = held + std::string(data);
    data = joined;
    held.clear();
  }
  // A character cut by the end of this read is finished by the next one.
  if (!data.ends_with('\n')) {
    size_t cut = incomplete_utf8_tail(data);
    held.assign(data.substr(data.size() - cut));
    data.remove_suffix(cut);
  }
  char time[40];
  std::string_view time_text(time, format_log_time(time));
  while (!data.empty()) {
    size_t end = data.find('\n');
    bool complete = end != std::string_view::npos;
    std::string_view line = data.substr(0, complete ? end : data.size());
    data.remove_prefix(complete ? end + 1 : data.size());
    json_ += R"({"log":")";
    append_json_string(json_, line);
    if (complete) json_ += "\\n";
    json_ += R"(","stream":")";
    json_ += stream_name(stream);
    json_ += R"(","time":")";
    json_ += time_text;
    json_ += "\"}\n";
    if (json_.size() >= kFlushAt) flush_json();
  }
  flush_json();
}

void ContainerLogWriter::flush_json() {
  if (json_.empty()) return;
  if (size_ > 0 && size_ + json_.size() > options_.max_size) rotate();
  // A short write on a full disk loses the rest of this batch, not the log.
  ssize_t written = ::write(fd_.get(), json_.data(), json_.size());
  if (written > 0) size_ += static_cast<uint64_t>(written);
  json_.clear();
}

void ContainerLogWriter::write_cri(LogStream stream, std::string_view data) {
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
      if (parse_log_entry(std::string_view(pending_).substr(start, end - start), entry, storage_))
        on_entry(entry);
    }
    pending_.erase(0, start);
  }
}

void ContainerLogReader::read_all(const std::function<void(const LogEntry&)>& on_entry) {
  for (int n = kMaximumFiles; n >= 1; --n) {
    UniqueFd rotated = open_log_file(rotated_path(path_, n));
    if (!rotated) continue;
    read_from(rotated.get(), on_entry);
    pending_.clear();
  }
  current_ = open_log_file(path_);
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
  current_ = open_log_file(path_);
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
