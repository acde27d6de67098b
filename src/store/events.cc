#include "store/events.h"

#include <fcntl.h>
#include <libdeflate.h>
#include <poll.h>
#include <signal.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "util/error.h"
#include "util/fs.h"
#include "util/strings.h"

// A journal is a sequence of records, each written by one write(2) on a
// descriptor opened with O_APPEND, so that records of concurrent writers
// never interleave:
//
//   RS CRC32 SP TIME_NANO SP JSON LF
//
// RS is the byte 0x1e (as in RFC 7464's JSON text sequences), CRC32 eight
// hex digits of the CRC-32 of "TIME_NANO SP JSON", JSON one line (control
// characters escaped, so neither RS nor LF occurs inside). A record cut
// short by a crash fails its check or lacks its LF; the next RS starts the
// next record, so only the damaged one is lost.
//
// Writers hold a shared flock on events/lock while they append; rotation
// (journal -> journal.1) holds it exclusively, so once a reader sees the
// rename, nothing more is written to the file it was reading.

namespace gocrate {

namespace {

constexpr char kRecordStart = '\x1e';
constexpr int64_t kDefaultMaxSize = 16 << 20;
// Larger records would not be one atomic write on every file system; labels
// are what would make one this big, so they are dropped first.
constexpr size_t kMaxRecordSize = 64 << 10;

int64_t max_journal_size() {
  if (const char* value = std::getenv("GOCRATE_EVENTS_MAX_SIZE")) {
    int64_t size = 0;
    auto [end, ec] = std::from_chars(value, value + std::strlen(value), size);
    if (ec == std::errc() && *end == '\0' && size > 0) return size;
  }
  return kDefaultMaxSize;
}

int64_t now_nano() {
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return int64_t(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

std::string journal_path(const std::string& dir) {
  return dir + "/journal";
}
std::string previous_journal_path(const std::string& dir) {
  return dir + "/journal.1";
}
std::string lock_path(const std::string& dir) {
  return dir + "/lock";
}

uint32_t crc32_of(std::string_view data) {
  return libdeflate_crc32(0, data.data(), data.size());
}

std::optional<EventType> event_type_from_name(std::string_view name) {
  if (name == "container") return EventType::container;
  if (name == "image") return EventType::image;
  if (name == "volume") return EventType::volume;
  return std::nullopt;
}

std::string encode_record(const Event& event) {
  nlohmann::json body = {{"Type", event_type_name(event.type)}, {"Action", event.action}, {"ID", event.id}};
  body["Attributes"] = event.attributes;
  std::string payload = fmt::format("{} {}", event.time_nano,
                                    body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  if (payload.size() + 11 > kMaxRecordSize) {
    nlohmann::json attributes = nlohmann::json::object();
    for (const char* key : {"name", "image", "exitCode", "signal", "oldName", "execID"}) {
      auto it = event.attributes.find(key);
      if (it != event.attributes.end()) attributes[key] = it->second.substr(0, 1024);
    }
    body["Attributes"] = attributes;
    payload = fmt::format("{} {}", event.time_nano,
                          body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  }
  return fmt::format("{}{:08x} {}\n", kRecordStart, crc32_of(payload), payload);
}

// The record body between RS and LF, or nullopt when it is damaged.
std::optional<Event> decode_record(std::string_view record) {
  if (record.size() < 12 || record[8] != ' ') return std::nullopt;
  uint32_t crc = 0;
  auto [end, ec] = std::from_chars(record.data(), record.data() + 8, crc, 16);
  if (ec != std::errc() || end != record.data() + 8) return std::nullopt;
  std::string_view payload = record.substr(9);
  if (crc32_of(payload) != crc) return std::nullopt;
  Event event;
  size_t space = payload.find(' ');
  if (space == std::string_view::npos) return std::nullopt;
  auto [tend, tec] = std::from_chars(payload.data(), payload.data() + space, event.time_nano);
  if (tec != std::errc() || tend != payload.data() + space) return std::nullopt;
  try {
    auto body = nlohmann::json::parse(payload.substr(space + 1));
    auto type = event_type_from_name(body.at("Type").get<std::string>());
    if (!type) return std::nullopt;
    event.type = *type;
    event.action = body.at("Action").get<std::string>();
    event.id = body.at("ID").get<std::string>();
    event.attributes = body.at("Attributes").get<std::map<std::string, std::string>>();
  } catch (const nlohmann::json::exception&) {
    return std::nullopt;
  }
  return event;
}

// A file of the journal: never a link or a FIFO put in its place, which
// would send records elsewhere or make a reader or writer wait forever.
std::optional<UniqueFd> open_journal_file(const std::string& path, int flags) {
  int fd = ::open(path.c_str(), flags | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0600);
  if (fd < 0) {
    if (errno == ENOENT && !(flags & O_CREAT)) return std::nullopt;
    if (errno == ELOOP || errno == ENXIO)
      fail("{} is not a regular file: remove it (gocrate makes a new one)", path);
    fail_errno("cannot open " + path);
  }
  UniqueFd owned(fd);
  struct stat st {};
  if (::fstat(fd, &st) != 0) fail_errno("cannot stat " + path);
  if (!S_ISREG(st.st_mode)) fail("{} is not a regular file: remove it (gocrate makes a new one)", path);
  // Records carry labels and exec commands: only root reads them.
  if ((flags & O_CREAT) && (st.st_mode & 077) && st.st_uid == ::geteuid()) ::fchmod(fd, 0600);
  return owned;
}

std::optional<UniqueFd> open_if_exists(const std::string& path) {
  return open_journal_file(path, O_RDONLY);
}

void append_record(const std::string& dir, const std::string& record) {
  int64_t max_size = max_journal_size();
  std::string journal = journal_path(dir);
  UniqueFd lock = std::move(*open_journal_file(lock_path(dir), O_RDWR | O_CREAT));
  for (int attempt = 0;; ++attempt) {
    lock_file(lock.get(), LockMode::shared, lock_path(dir));
    UniqueFd fd = std::move(*open_journal_file(journal, O_WRONLY | O_APPEND | O_CREAT));
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) fail_errno("cannot stat " + journal);
    // A record larger than the cap still goes into an empty journal.
    if (st.st_size == 0 || st.st_size + int64_t(record.size()) <= max_size || attempt > 0) {
      write_all(fd.get(), record, journal);
      return;
    }
    fd.reset();
    ::flock(lock.get(), LOCK_UN);
    lock_file(lock.get(), LockMode::exclusive, lock_path(dir));
    // Another writer may have rotated it between our locks.
    if (::stat(journal.c_str(), &st) == 0 && st.st_size + int64_t(record.size()) > max_size) {
      if (::rename(journal.c_str(), previous_journal_path(dir).c_str()) != 0)
        fail_errno("cannot rotate " + journal);
    }
    ::flock(lock.get(), LOCK_UN);
  }
}

// Docker's FuzzyMatch: the value equals `source` or is a prefix of it.
bool fuzzy_match(const FilterArgs& filters, std::string_view key, std::string_view source) {
  return filters.any(key, [&](const std::string& v) { return source.starts_with(v); });
}

bool exact_match(const FilterArgs& filters, std::string_view key, std::string_view source) {
  return filters.any(key, [&](const std::string& v) { return v == source; });
}

std::string strip_tag(const std::string& ref) {
  if (ref.find('@') != std::string::npos) return ref.substr(0, ref.find('@'));
  size_t colon = ref.rfind(':');
  if (colon != std::string::npos && ref.find('/', colon) == std::string::npos) return ref.substr(0, colon);
  return ref;
}

std::string attribute(const Event& event, const std::string& key) {
  auto it = event.attributes.find(key);
  return it == event.attributes.end() ? std::string() : it->second;
}

// Whether `text` can appear verbatim in a record's JSON (no character that
// JSON escapes), so that a record without it cannot match.
bool verbatim_in_json(std::string_view text) {
  for (unsigned char c : text) {
    if (c < 0x20 || c == '"' || c == '\\') return false;
  }
  return !text.empty();
}

// A quick test on a record's raw text: false only when the query cannot
// select it, so that most records of a filtered query are never parsed.
class Prefilter {
 public:
  explicit Prefilter(const EventQuery& query) {
    for (std::string_view key : {"container", "image", "event", "type"}) {
      std::vector<std::string> needles;
      for (const auto& value : query.filters.values(key)) {
        // image=name:tag also matches an id without the tag.
        std::string needle = key == "image" ? strip_tag(value) : value;
        if (!verbatim_in_json(needle)) {
          needles.clear();
          break;
        }
        needles.push_back(needle);
      }
      if (!needles.empty()) groups_.push_back(std::move(needles));
    }
  }
  bool may_match(std::string_view record) const {
    for (const auto& group : groups_) {
      bool found = false;
      for (const auto& needle : group) {
        if (record.find(needle) != std::string_view::npos) {
          found = true;
          break;
        }
      }
      if (!found) return false;
    }
    return true;
  }

 private:
  std::vector<std::vector<std::string>> groups_;
};

// Reads records from one journal file, across calls as it grows.
class JournalReader {
 public:
  JournalReader(std::string path, UniqueFd fd) : path_(std::move(path)), fd_(std::move(fd)) {}

  // Reads what was appended since the last call; calls `emit` on each
  // selected event. False when `emit` asked to stop.
  bool read_more(const EventQuery& query, const Prefilter& prefilter,
                 const std::function<bool(const Event&)>& emit) {
    char chunk[1 << 16];
    for (;;) {
      ssize_t n = ::read(fd_.get(), chunk, sizeof chunk);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) fail_errno("cannot read " + path_);
      if (n == 0) break;
      buffer_.append(chunk, size_t(n));
      if (!scan(query, prefilter, emit)) return false;
    }
    return true;
  }

  // Says how many damaged records were skipped since it last said so.
  void report_damage() {
    if (damaged_ == 0) return;
    fmt::print(stderr, "gocrate: events: skipped {} damaged record(s) in {}\n", damaged_, path_);
    std::fflush(stderr);
    damaged_ = 0;
  }
  // At the end of a file no one will write to again, an unfinished record is damaged.
  void finish() {
    if (buffer_.find_first_not_of('\0') != std::string::npos) ++damaged_;
    buffer_.clear();
  }
  const std::string& path() const { return path_; }
  int fd() const { return fd_.get(); }

 private:
  bool scan(const EventQuery& query, const Prefilter& prefilter,
            const std::function<bool(const Event&)>& emit) {
    size_t pos = 0;
    bool go_on = true;
    while (go_on) {
      size_t start = buffer_.find(kRecordStart, pos);
      if (start == std::string::npos) {
        if (buffer_.find_first_not_of('\0', pos) != std::string::npos) ++damaged_;
        pos = buffer_.size();
        break;
      }
      if (start > pos && buffer_.find_first_not_of('\0', pos) < start) ++damaged_;
      size_t next = buffer_.find(kRecordStart, start + 1);
      size_t newline = buffer_.find('\n', start);
      if (newline == std::string::npos || (next != std::string::npos && newline > next)) {
        if (next == std::string::npos) {
          // Unfinished: being written now, or torn (found when more follows).
          pos = start;
          break;
        }
        ++damaged_;
        pos = next;
        continue;
      }
      std::string_view record(buffer_.data() + start + 1, newline - start - 1);
      pos = newline + 1;
      if (!check_time(query, record)) continue;
      if (!prefilter.may_match(record)) {
        // Still checked, so that damage is reported whatever the filter.
        if (!valid(record)) ++damaged_;
        continue;
      }
      auto event = decode_record(record);
      if (!event) {
        ++damaged_;
        continue;
      }
      if (event_matches(query, *event)) go_on = emit(*event);
    }
    buffer_.erase(0, pos);
    return go_on;
  }

  static bool valid(std::string_view record) {
    if (record.size() < 12 || record[8] != ' ') return false;
    uint32_t crc = 0;
    auto [end, ec] = std::from_chars(record.data(), record.data() + 8, crc, 16);
    return ec == std::errc() && end == record.data() + 8 && crc32_of(record.substr(9)) == crc;
  }

  // False when the record's time is outside the query (cheap: the time is
  // read from the record's head, unchecked; the full check follows for the
  // records that pass).
  bool check_time(const EventQuery& query, std::string_view record) {
    if (!query.since && !query.until) return true;
    if (record.size() < 12) return true;
    std::string_view rest = record.substr(9);
    int64_t t = 0;
    auto [end, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), t);
    if (ec != std::errc()) return true;
    if ((query.since && t < *query.since) || (query.until && t > *query.until)) {
      if (!valid(record)) ++damaged_;
      return false;
    }
    return true;
  }

  std::string path_;
  UniqueFd fd_;
  std::string buffer_;
  size_t damaged_ = 0;
};

bool same_file(int fd, const std::string& path) {
  struct stat a {
  }, b{};
  if (::fstat(fd, &a) != 0 || ::stat(path.c_str(), &b) != 0) return false;
  return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

bool same_open_file(int a, int b) {
  struct stat x {
  }, y{};
  if (::fstat(a, &x) != 0 || ::fstat(b, &y) != 0) return false;
  return x.st_dev == y.st_dev && x.st_ino == y.st_ino;
}

// Counts the journal's rotations from the watch on its directory:
// rename(2) queues its event before it returns, so under the shared lock
// (no rotation then) the count is exact, unless the queue overflowed.
class RotationCount {
 public:
  explicit RotationCount(int fd) : fd_(fd) {}
  void drain() {
    alignas(inotify_event) char buffer[4096];
    for (;;) {
      ssize_t n = ::read(fd_, buffer, sizeof buffer);
      if (n <= 0) return;
      for (ssize_t at = 0; at < n;) {
        const auto* e = reinterpret_cast<const inotify_event*>(buffer + at);
        if (e->mask & IN_Q_OVERFLOW)
          unknown_ = true;
        else if ((e->mask & IN_MOVED_TO) && e->len > 0 && std::strcmp(e->name, "journal.1") == 0)
          ++count_;
        at += ssize_t(sizeof(inotify_event) + e->len);
      }
    }
  }
  // From now on: what was queued so far happened before.
  void restart() {
    drain();
    count_ = 0;
    unknown_ = false;
  }
  int count() const { return count_; }
  bool unknown() const { return unknown_; }

 private:
  int fd_;
  int count_ = 0;
  bool unknown_ = false;
};

// Blocks SIGINT and SIGTERM for the object's lifetime and delivers them
// through a descriptor, so that following ends by returning.
class StopSignals {
 public:
  StopSignals() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    ::sigprocmask(SIG_BLOCK, &set, &old_);
    fd_.reset(::signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK));
    if (!fd_) fail_errno("cannot watch for signals");
  }
  ~StopSignals() {
    // Taken, so that unblocking does not deliver them after all.
    signalfd_siginfo info{};
    while (::read(fd_.get(), &info, sizeof info) == sizeof info) {
    }
    fd_.reset();
    ::sigprocmask(SIG_SETMASK, &old_, nullptr);
  }
  int fd() const { return fd_.get(); }

 private:
  sigset_t old_{};
  UniqueFd fd_;
};

// Go's time.ParseDuration; nullopt when `text` is not a duration.
std::optional<int64_t> parse_go_duration(std::string_view text) {
  if (text.empty()) return std::nullopt;
  bool negative = false;
  if (text[0] == '-' || text[0] == '+') {
    negative = text[0] == '-';
    text.remove_prefix(1);
  }
  if (text == "0") return 0;
  if (text.empty()) return std::nullopt;
  long double total = 0;
  while (!text.empty()) {
    size_t i = 0;
    long double value = 0;
    bool digits = false;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
      value = value * 10 + (text[i++] - '0');
      digits = true;
    }
    if (i < text.size() && text[i] == '.') {
      ++i;
      long double scale = 0.1L;
      while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
        value += (text[i++] - '0') * scale;
        scale /= 10;
        digits = true;
      }
    }
    if (!digits) return std::nullopt;
    size_t unit_end = i;
    while (unit_end < text.size() && !std::isdigit(static_cast<unsigned char>(text[unit_end])) &&
           text[unit_end] != '.')
      ++unit_end;
    std::string_view unit = text.substr(i, unit_end - i);
    long double factor = 0;
    if (unit == "ns")
      factor = 1;
    else if (unit == "us" || unit == "\u00b5s" || unit == "\u03bcs")
      factor = 1e3L;
    else if (unit == "ms")
      factor = 1e6L;
    else if (unit == "s")
      factor = 1e9L;
    else if (unit == "m")
      factor = 60e9L;
    else if (unit == "h")
      factor = 3600e9L;
    else
      return std::nullopt;
    total += value * factor;
    text.remove_prefix(unit_end);
  }
  if (total > static_cast<long double>(INT64_MAX)) return std::nullopt;
  return negative ? -int64_t(total) : int64_t(total);
}

// Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm).
int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

bool leap_year(int64_t y) {
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

unsigned days_in_month(int64_t y, int64_t m) {
  static constexpr unsigned days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && leap_year(y) ? 29 : days[m - 1];
}

// The local zone's offset from UTC at that wall-clock time (its own daylight
// saving time, not today's), as Go's time.ParseInLocation takes it.
long local_offset_seconds(int64_t year, int64_t month, int64_t day, int64_t hour, int64_t minute,
                          int64_t second) {
  struct tm tm {};
  tm.tm_year = int(year - 1900);
  tm.tm_mon = int(month - 1);
  tm.tm_mday = int(day);
  tm.tm_hour = int(hour);
  tm.tm_min = int(minute);
  tm.tm_sec = int(second);
  tm.tm_isdst = -1;
  errno = 0;
  if (::mktime(&tm) == time_t(-1) && errno != 0) return 0;
  return tm.tm_gmtoff;
}

// Seconds and nanoseconds as ns since the epoch, held at the ends of int64's
// range (the years 1677 and 2262): a time past them is before or after
// every event all the same.
int64_t clamped_nanos(int64_t seconds, int64_t nanos) {
  int64_t out = 0;
  if (__builtin_mul_overflow(seconds, int64_t{1000000000}, &out) || __builtin_add_overflow(out, nanos, &out))
    return seconds < 0 ? INT64_MIN : INT64_MAX;
  return out;
}

// RFC 3339 and its shorter forms as Docker's GetTimestamp reads them:
// DATE[Thh[:mm[:ss[.frac]]]][Z|±hh:mm].
std::optional<int64_t> parse_rfc3339(std::string_view text) {
  size_t i = 0;
  auto number = [&](size_t digits, int64_t& out) {
    if (i + digits > text.size()) return false;
    out = 0;
    for (size_t k = 0; k < digits; ++k) {
      char c = text[i + k];
      if (!std::isdigit(static_cast<unsigned char>(c))) return false;
      out = out * 10 + (c - '0');
    }
    i += digits;
    return true;
  };
  auto expect = [&](char c) {
    if (i < text.size() && text[i] == c) {
      ++i;
      return true;
    }
    return false;
  };
  int64_t year, month, day, hour = 0, minute = 0, second = 0, nanos = 0;
  if (!number(4, year) || !expect('-') || !number(2, month) || !expect('-') || !number(2, day))
    return std::nullopt;
  if (month < 1 || month > 12 || day < 1 || day > days_in_month(year, month)) return std::nullopt;
  if (expect('T')) {
    if (!number(2, hour)) return std::nullopt;
    if (expect(':')) {
      if (!number(2, minute)) return std::nullopt;
      if (expect(':')) {
        if (!number(2, second)) return std::nullopt;
        if (expect('.')) {
          size_t digits = 0;
          while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
            if (digits < 9) nanos = nanos * 10 + (text[i] - '0');
            ++digits;
            ++i;
          }
          if (digits == 0) return std::nullopt;
          for (size_t k = digits; k < 9; ++k) nanos *= 10;
        }
      }
    }
    if (hour > 23 || minute > 59 || second > 60) return std::nullopt;
  }
  std::optional<int64_t> offset;
  if (expect('Z')) {
    offset = 0;
  } else if (i < text.size() && (text[i] == '+' || text[i] == '-')) {
    int sign = text[i++] == '-' ? -1 : 1;
    int64_t oh, om;
    if (!number(2, oh) || !expect(':') || !number(2, om)) return std::nullopt;
    offset = sign * (oh * 3600 + om * 60);
  }
  if (i != text.size()) return std::nullopt;
  int64_t seconds =
      days_from_civil(year, unsigned(month), unsigned(day)) * 86400 + hour * 3600 + minute * 60 + second;
  seconds -= offset ? *offset : local_offset_seconds(year, month, day, hour, minute, second);
  return clamped_nanos(seconds, nanos);
}

}  // namespace

std::string_view event_type_name(EventType type) {
  switch (type) {
    case EventType::container:
      return "container";
    case EventType::image:
      return "image";
    case EventType::volume:
      return "volume";
  }
  return "container";
}

std::string events_directory(const std::string& store_root) {
  return store_root + "/events";
}

void record_event(const std::string& store_root, Event event) {
  static std::atomic<bool> reported{false};
  try {
    if (event.time_nano == 0) event.time_nano = now_nano();
    std::string dir = events_directory(store_root);
    if (!is_directory(dir)) make_directories(dir);
    append_record(dir, encode_record(event));
  } catch (const std::exception& e) {
    if (!reported.exchange(true)) {
      fmt::print(stderr, "gocrate: warning: cannot record the {} event in the events journal: {}\n",
                 event.action, e.what());
    }
  }
}

void record_image_event(const std::string& store_root, std::string action, const std::string& digest,
                        const std::string& name, std::optional<double> duration_seconds) {
  Event event;
  event.type = EventType::image;
  event.action = std::move(action);
  event.id = digest;
  if (!name.empty()) event.attributes["name"] = name;
  if (duration_seconds) event.attributes["duration"] = fmt::format("{:.3f}", *duration_seconds);
  record_event(store_root, std::move(event));
}

FilterArgs parse_event_filters(const std::vector<std::string>& flags) {
  auto filters =
      FilterArgs::parse(flags, {"container", "image", "event", "type", "label"},
                        {"daemon", "network", "node", "plugin", "scope", "secret", "service", "config"});
  for (const auto& type : filters.values("type")) {
    if (!event_type_from_name(type)) fail("invalid filter 'type={}': use container, image or volume", type);
  }
  return filters;
}

bool event_matches(const EventQuery& query, const Event& event) {
  if (query.since && event.time_nano < *query.since) return false;
  if (query.until && event.time_nano > *query.until) return false;
  const FilterArgs& f = query.filters;
  if (f.empty()) return true;
  // Docker's #25798: these actions carry a suffix ("exec_start: sh -c ..."),
  // so a bare name matches them as a prefix.
  bool fuzzy_event = false;
  for (const auto& v : f.values("event")) {
    if (v == "health_status" || v == "exec_create" || v == "exec_start") fuzzy_event = true;
  }
  if (!(fuzzy_event ? fuzzy_match(f, "event", event.action) : exact_match(f, "event", event.action)))
    return false;
  if (!exact_match(f, "type", event_type_name(event.type))) return false;
  if (f.has("container")) {
    if (event.type != EventType::container) return false;
    if (!fuzzy_match(f, "container", event.id) && !fuzzy_match(f, "container", attribute(event, "name")))
      return false;
  }
  if (f.has("image")) {
    std::string name = attribute(event, event.type == EventType::image ? "name" : "image");
    if (!exact_match(f, "image", event.id) && !exact_match(f, "image", name) &&
        !exact_match(f, "image", strip_tag(event.id)) && !exact_match(f, "image", strip_tag(name)))
      return false;
  }
  return f.labels_match(event.attributes);
}

void read_events(const std::string& store_root, const EventQuery& query, bool follow,
                 const std::function<bool(const Event&)>& emit) {
  std::string dir = events_directory(store_root);
  Prefilter prefilter(query);
  std::optional<StopSignals> signals;
  UniqueFd notify;
  if (follow) {
    // Only the main thread takes the signals: in another, they stay the process's.
    if (::gettid() == ::getpid()) signals.emplace();
    make_directories(dir);
    notify.reset(::inotify_init1(IN_CLOEXEC | IN_NONBLOCK));
    if (!notify) fail_errno("cannot watch " + dir);
    // Watched before anything is read, so that no change goes unseen.
    if (::inotify_add_watch(notify.get(), dir.c_str(), IN_MODIFY | IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM) <
        0)
      fail_errno("cannot watch " + dir);
  }

  std::optional<JournalReader> previous, current;
  std::optional<RotationCount> rotations;
  if (follow) rotations.emplace(notify.get());
  auto lock_journal = [&] {
    std::optional<UniqueFd> lock_fd = open_if_exists(lock_path(dir));
    if (lock_fd) lock_file(lock_fd->get(), LockMode::shared, lock_path(dir));
    return lock_fd;
  };
  {
    // No rotation between opening the two files.
    auto lock = lock_journal();
    if (auto fd = open_if_exists(previous_journal_path(dir)))
      previous.emplace(previous_journal_path(dir), std::move(*fd));
    if (auto fd = open_if_exists(journal_path(dir))) current.emplace(journal_path(dir), std::move(*fd));
    if (rotations) rotations->restart();
  }
  // Whether the journal was open when the rotations began to be counted.
  bool counted_from_journal = current.has_value();
  if (previous) {
    bool go_on = previous->read_more(query, prefilter, emit);
    previous->finish();
    previous->report_damage();
    if (!go_on) return;
  }
  if (current) {
    bool go_on = current->read_more(query, prefilter, emit);
    current->report_damage();
    if (!go_on) return;
  }
  if (!follow) return;
  // The last file read to its end: journal.1 is either it or one not read yet.
  std::optional<JournalReader> finished = std::move(previous);

  for (;;) {
    int64_t now = now_nano();
    if (query.until && now > *query.until) return;
    int timeout = -1;
    if (query.until) {
      int64_t ms = (*query.until - now) / 1000000 + 1;
      timeout = ms > INT_MAX ? INT_MAX : int(ms);
    }
    pollfd fds[2] = {{notify.get(), POLLIN, 0}, {signals ? signals->fd() : -1, POLLIN, 0}};
    int n = ::poll(fds, signals ? 2 : 1, timeout);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail_errno("cannot wait for events");
    if (signals && fds[1].revents) return;
    if (n == 0) continue;
    rotations->drain();
    // Rotated: the file read so far is complete (its writers are done).
    // journal.1 is then that file, or, when it rotated again before this
    // look, the one after it, read in full before the new journal.
    for (;;) {
      if (current) {
        if (!current->read_more(query, prefilter, emit)) return;
        if (same_file(current->fd(), journal_path(dir))) break;
        if (!current->read_more(query, prefilter, emit)) return;
        current->finish();
        current->report_damage();
        finished = std::move(current);
        current.reset();
      }
      std::optional<JournalReader> skipped;
      std::optional<UniqueFd> next;
      bool lost = false;
      {
        auto lock = lock_journal();
        rotations->drain();
        if (auto fd = open_if_exists(previous_journal_path(dir))) {
          if (!finished || !same_open_file(fd->get(), finished->fd())) {
            // Each rotation since `finished` was opened (or found
            // complete) put a file in journal.1; only the last is there.
            int behind = rotations->count() - (counted_from_journal ? 1 : 0);
            lost = rotations->unknown() || behind > 1;
            skipped.emplace(previous_journal_path(dir), std::move(*fd));
          }
        }
        next = open_if_exists(journal_path(dir));
        rotations->restart();
        counted_from_journal = next.has_value();
      }
      if (lost) {
        fmt::print(
            stderr,
            "gocrate: events: the journal rotated faster than it was read: records written before those "
            "of {} may be missing (raise GOCRATE_EVENTS_MAX_SIZE)\n",
            previous_journal_path(dir));
        std::fflush(stderr);
      }
      if (skipped) {
        bool go_on = skipped->read_more(query, prefilter, emit);
        skipped->finish();
        skipped->report_damage();
        if (!go_on) return;
        finished = std::move(skipped);
      }
      if (!next) break;
      current.emplace(journal_path(dir), std::move(*next));
    }
    if (current) current->report_damage();
  }
}

namespace {

// Docker's events.Message; ordered_json keeps Docker's order of the keys.
template <typename Json>
Json docker_event(const Event& event) {
  Json out = Json::object();
  if (event.type == EventType::container || event.type == EventType::image) {
    out["status"] = event.action;
    out["id"] = event.id;
    if (event.type == EventType::container) out["from"] = attribute(event, "image");
  }
  out["Type"] = event_type_name(event.type);
  out["Action"] = event.action;
  out["Actor"] = {{"ID", event.id}, {"Attributes", event.attributes}};
  out["scope"] = "local";
  out["time"] = event.time_nano / 1000000000;
  out["timeNano"] = event.time_nano;
  return out;
}

}  // namespace

nlohmann::json event_to_docker_json(const Event& event) {
  return docker_event<nlohmann::json>(event);
}

std::string event_json_line(const Event& event) {
  return docker_event<nlohmann::ordered_json>(event).dump(-1, ' ', false,
                                                          nlohmann::ordered_json::error_handler_t::replace);
}

std::string format_event_line(const Event& event) {
  time_t seconds = event.time_nano / 1000000000;
  struct tm tm {};
  ::localtime_r(&seconds, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
  std::string zone = "Z";
  if (tm.tm_gmtoff != 0) {
    long off = tm.tm_gmtoff;
    char sign = off < 0 ? '-' : '+';
    off = off < 0 ? -off : off;
    zone = fmt::format("{}{:02}:{:02}", sign, off / 3600, off / 60 % 60);
  }
  std::string line = fmt::format("{}.{:09}{} {} {} {}", stamp, event.time_nano % 1000000000, zone,
                                 event_type_name(event.type), event.action, event.id);
  if (!event.attributes.empty()) {
    std::vector<std::string> pairs;
    for (const auto& [k, v] : event.attributes) pairs.push_back(k + "=" + v);
    line += " (" + join(pairs, ", ") + ")";
  }
  return line;
}

int64_t parse_event_time(std::string_view text, int64_t now) {
  if (text == "now") return now;
  if (text != "0") {
    if (auto d = parse_go_duration(text)) {
      int64_t at = 0;
      if (__builtin_sub_overflow(now, *d, &at)) return *d > 0 ? INT64_MIN : INT64_MAX;
      return at;
    }
  }
  if (auto t = parse_rfc3339(text)) return *t;
  if (text.find('-') == std::string_view::npos) {
    std::string_view seconds = text.substr(0, text.find('.'));
    int64_t s = 0;
    auto [end, ec] = std::from_chars(seconds.data(), seconds.data() + seconds.size(), s);
    if (ec == std::errc() && end == seconds.data() + seconds.size() && !seconds.empty()) {
      int64_t nanos = 0;
      if (seconds.size() < text.size()) {
        std::string_view frac = text.substr(seconds.size() + 1);
        bool ok = !frac.empty();
        for (char c : frac) ok = ok && std::isdigit(static_cast<unsigned char>(c));
        if (!ok) fail("failed to parse value as time or duration: \"{}\"", text);
        // Digits past nanoseconds are dropped, as Docker does.
        frac = frac.substr(0, 9);
        for (char c : frac) nanos = nanos * 10 + (c - '0');
        for (size_t k = frac.size(); k < 9; ++k) nanos *= 10;
      }
      return clamped_nanos(s, nanos);
    }
  }
  fail(
      "failed to parse value as time or duration: \"{}\" (use RFC 3339 such as 2024-01-31T15:04:05Z, Unix "
      "seconds, or a duration such as 10m)",
      text);
}

}  // namespace gocrate
