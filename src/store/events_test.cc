#include "store/events.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <ctime>
#include <functional>
#include <thread>

#include "util/error.h"
#include "util/fs.h"

namespace gocrate {
namespace {

// Sets an environment variable for the test's lifetime.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::string& value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    ::setenv(name, value.c_str(), 1);
    ::tzset();
  }
  ~ScopedEnv() {
    if (old_)
      ::setenv(name_, old_->c_str(), 1);
    else
      ::unsetenv(name_);
    ::tzset();
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

class EventsTest : public ::testing::Test {
 protected:
  TempDir dir_;
  std::string root() const { return dir_.path(); }
  std::string journal() const { return events_directory(root()) + "/journal"; }

  std::vector<Event> read_all(const EventQuery& query = {}) const {
    std::vector<Event> out;
    read_events(root(), query, false, [&](const Event& e) {
      out.push_back(e);
      return true;
    });
    return out;
  }
};

Event container_event(const std::string& action, const std::string& id, const std::string& name,
                      int seq = 0) {
  Event e;
  e.action = action;
  e.id = id;
  e.attributes = {{"name", name}, {"image", "hello:latest"}, {"seq", std::to_string(seq)}};
  return e;
}

int64_t now_nano() {
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return int64_t(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

// Runs `child` in `n` forked processes at once; each must exit 0.
void in_processes(int n, const std::function<void(int)>& child) {
  std::vector<pid_t> pids;
  for (int i = 0; i < n; ++i) {
    pid_t pid = ::fork();
    if (pid == 0) {
      try {
        child(i);
        ::_exit(0);
      } catch (...) {
        ::_exit(1);
      }
    }
    pids.push_back(pid);
  }
  for (pid_t pid : pids) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
}

TEST_F(EventsTest, RecordsAndReadsBack) {
  Event e = container_event("die", "abc123", "web");
  e.attributes["exitCode"] = "3";
  e.attributes["com.example.note"] = "quote \" and \x1e and\nnewline";
  record_event(root(), e);
  record_event(root(), Event{EventType::image, "tag", "sha256:1234", {{"name", "hello:v2"}}, 0});
  auto events = read_all();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].action, "die");
  EXPECT_EQ(events[0].id, "abc123");
  EXPECT_EQ(events[0].attributes, e.attributes);
  EXPECT_GT(events[0].time_nano, 0);
  EXPECT_LE(events[0].time_nano, events[1].time_nano);
  EXPECT_EQ(events[1].type, EventType::image);
  EXPECT_EQ(events[1].attributes.at("name"), "hello:v2");
}

TEST_F(EventsTest, ReadingAStoreWithoutJournalFindsNothing) {
  EXPECT_TRUE(read_all().empty());
}

TEST_F(EventsTest, ConcurrentWritersNeverTearRecords) {
  ScopedEnv size("GOCRATE_EVENTS_MAX_SIZE", std::to_string(64 << 20));
  constexpr int kWriters = 8, kEach = 400;
  in_processes(kWriters, [&](int w) {
    for (int i = 0; i < kEach; ++i) {
      Event e = container_event("start", "c" + std::to_string(w), "n" + std::to_string(w), i);
      // Records of different sizes, some several pages long.
      e.attributes["pad"] = std::string(size_t((i * 37) % 9000), 'a' + w);
      record_event(root(), e);
    }
  });
  testing::internal::CaptureStderr();
  auto events = read_all();
  EXPECT_EQ(testing::internal::GetCapturedStderr(), "");
  ASSERT_EQ(events.size(), size_t(kWriters * kEach));
  std::map<std::string, int> next;
  for (const auto& e : events) {
    int seq = std::stoi(e.attributes.at("seq"));
    EXPECT_EQ(seq, next[e.id]) << e.id;  // in each writer's order, none missing
    next[e.id] = seq + 1;
    EXPECT_EQ(e.attributes.at("pad").size(), size_t((seq * 37) % 9000));
  }
}

TEST_F(EventsTest, RotatesAndKeepsOnePreviousJournal) {
  ScopedEnv size("GOCRATE_EVENTS_MAX_SIZE", "4096");
  for (int i = 0; i < 300; ++i) record_event(root(), container_event("start", "c", "n", i));
  struct stat st {};
  ASSERT_EQ(::stat(journal().c_str(), &st), 0);
  EXPECT_LE(st.st_size, 4096);
  ASSERT_EQ(::stat((journal() + ".1").c_str(), &st), 0);
  EXPECT_LE(st.st_size, 4096);
  auto events = read_all();
  ASSERT_FALSE(events.empty());
  EXPECT_LT(events.size(), 300u);
  // The newest records, in order, with no gap across the two files.
  for (size_t i = 0; i < events.size(); ++i)
    EXPECT_EQ(std::stoi(events[i].attributes.at("seq")), int(300 - events.size() + i));
}

TEST_F(EventsTest, ConcurrentWritersAcrossRotationsKeepEachWritersOrder) {
  ScopedEnv size("GOCRATE_EVENTS_MAX_SIZE", "65536");
  constexpr int kWriters = 6, kEach = 500;
  in_processes(kWriters, [&](int w) {
    for (int i = 0; i < kEach; ++i)
      record_event(root(), container_event("die", "c" + std::to_string(w), "n", i));
  });
  testing::internal::CaptureStderr();
  auto events = read_all();
  EXPECT_EQ(testing::internal::GetCapturedStderr(), "");
  ASSERT_FALSE(events.empty());
  // What rotation dropped is each writer's oldest: the rest is a run that
  // ends with its last record.
  std::map<std::string, std::vector<int>> seen;
  for (const auto& e : events) seen[e.id].push_back(std::stoi(e.attributes.at("seq")));
  for (const auto& [id, seqs] : seen) {
    EXPECT_EQ(seqs.back(), kEach - 1) << id;
    for (size_t i = 1; i < seqs.size(); ++i) EXPECT_EQ(seqs[i], seqs[i - 1] + 1) << id;
  }
}

TEST_F(EventsTest, SkipsDamagedRecordsAndSaysSoOnce) {
  record_event(root(), container_event("create", "c", "n", 0));
  std::string whole = read_file(journal());
  {
    UniqueFd fd = open_or_fail(journal(), O_WRONLY | O_APPEND);
    // A record a crash cut short: the next one starts right after it.
    write_all(fd.get(), whole.substr(0, whole.size() / 2), "journal");
  }
  record_event(root(), container_event("start", "c", "n", 1));
  record_event(root(), container_event("die", "c", "n", 2));
  record_event(root(), container_event("destroy", "c", "n", 3));
  // A bit flipped inside the "die" record.
  std::string text = read_file(journal());
  size_t die = text.find("\"die\"");
  ASSERT_NE(die, std::string::npos);
  text[die + 2] = 'X';
  {
    UniqueFd fd = open_or_fail(journal(), O_WRONLY | O_TRUNC);
    write_all(fd.get(), text, "journal");
  }
  testing::internal::CaptureStderr();
  auto events = read_all();
  std::string err = testing::internal::GetCapturedStderr();
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].action, "create");
  EXPECT_EQ(events[1].action, "start");
  EXPECT_EQ(events[2].action, "destroy");
  EXPECT_EQ(err, "gocrate: events: skipped 2 damaged record(s) in " + journal() + "\n");

  // Damage is found whatever the filter selects.
  testing::internal::CaptureStderr();
  EventQuery query;
  query.filters = parse_event_filters({"container=nothing-like-it"});
  EXPECT_TRUE(read_all(query).empty());
  EXPECT_EQ(testing::internal::GetCapturedStderr(),
            "gocrate: events: skipped 2 damaged record(s) in " + journal() + "\n");
}

TEST_F(EventsTest, GarbageBetweenRecordsIsSkipped) {
  record_event(root(), container_event("create", "c", "n"));
  {
    UniqueFd fd = open_or_fail(journal(), O_WRONLY | O_APPEND);
    write_all(fd.get(), std::string(100, '\0') + "not a record\n", "journal");
  }
  record_event(root(), container_event("start", "c", "n"));
  testing::internal::CaptureStderr();
  auto events = read_all();
  std::string err = testing::internal::GetCapturedStderr();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_NE(err.find("skipped 1 damaged record(s)"), std::string::npos) << err;
}

TEST_F(EventsTest, SinceAndUntilSelectByTime) {
  for (int i = 0; i < 5; ++i) {
    Event e = container_event("start", "c", "n", i);
    e.time_nano = int64_t(1000 + i) * 1000000000;
    record_event(root(), e);
  }
  EventQuery query;
  query.since = int64_t(1001) * 1000000000;
  query.until = int64_t(1003) * 1000000000;
  auto events = read_all(query);
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events.front().attributes.at("seq"), "1");
  EXPECT_EQ(events.back().attributes.at("seq"), "3");
}

TEST(EventFilters, MatchAsDockersDo) {
  Event e = container_event("start", "4f5a6b7c8d9e", "web");
  e.attributes["com.example.tier"] = "front";
  e.attributes["image"] = "registry.local/app:v1";
  auto matches = [&](const std::vector<std::string>& flags, const Event& event) {
    EventQuery q;
    q.filters = parse_event_filters(flags);
    return event_matches(q, event);
  };
  EXPECT_TRUE(matches({}, e));
  EXPECT_TRUE(matches({"container=4f5a"}, e));
  EXPECT_TRUE(matches({"container=web"}, e));
  EXPECT_TRUE(matches({"container=db", "container=web"}, e));
  EXPECT_FALSE(matches({"container=db"}, e));
  EXPECT_TRUE(matches({"image=registry.local/app:v1"}, e));
  EXPECT_TRUE(matches({"image=registry.local/app"}, e));
  EXPECT_FALSE(matches({"image=app"}, e));
  EXPECT_TRUE(matches({"event=start", "event=die"}, e));
  EXPECT_FALSE(matches({"event=die"}, e));
  EXPECT_TRUE(matches({"type=container"}, e));
  EXPECT_FALSE(matches({"type=image"}, e));
  EXPECT_TRUE(matches({"label=com.example.tier"}, e));
  EXPECT_TRUE(matches({"label=com.example.tier=front"}, e));
  EXPECT_FALSE(matches({"label=com.example.tier=back"}, e));
  EXPECT_FALSE(matches({"label=com.example.tier", "label=missing"}, e));
  EXPECT_TRUE(matches({"container=web", "event=start", "label=com.example.tier=front"}, e));
  EXPECT_FALSE(matches({"container=web", "event=die"}, e));

  Event health = container_event("health_status: healthy", "4f5a", "web");
  EXPECT_TRUE(matches({"event=health_status"}, health));
  EXPECT_FALSE(matches({"event=health"}, health));

  Event image{EventType::image, "tag", "sha256:abcd", {{"name", "hello:v2"}}, 1};
  EXPECT_TRUE(matches({"image=hello:v2"}, image));
  EXPECT_TRUE(matches({"image=hello"}, image));
  EXPECT_TRUE(matches({"image=sha256:abcd"}, image));
  EXPECT_FALSE(matches({"container=hello"}, image));

  EXPECT_THROW(parse_event_filters({"type=plugin"}), Error);
  EXPECT_THROW(parse_event_filters({"colour=red"}), Error);
  EXPECT_THROW(parse_event_filters({"container"}), Error);
}

TEST(EventTime, ReadsDockersForms) {
  ScopedEnv tz("TZ", "UTC");
  const int64_t s = 1000000000;
  const int64_t now = int64_t(1700000000) * s + 123;
  EXPECT_EQ(parse_event_time("0", now), 0);
  EXPECT_EQ(parse_event_time("now", now), now);
  EXPECT_EQ(parse_event_time("10m", now), now - 600 * s);
  EXPECT_EQ(parse_event_time("1h30m", now), now - 5400 * s);
  EXPECT_EQ(parse_event_time("1.5s", now), now - 1500000000);
  EXPECT_EQ(parse_event_time("250ms", now), now - 250000000);
  EXPECT_EQ(parse_event_time("-1m", now), now + 60 * s);
  EXPECT_EQ(parse_event_time("1700000000", now), 1700000000 * s);
  EXPECT_EQ(parse_event_time("1700000000.5", now), 1700000000 * s + 500000000);
  EXPECT_EQ(parse_event_time("1700000000.000000007", now), 1700000000 * s + 7);
  EXPECT_EQ(parse_event_time("2023-11-14T22:13:20Z", now), 1700000000 * s);
  EXPECT_EQ(parse_event_time("2023-11-14T22:13:20.25Z", now), 1700000000 * s + 250000000);
  EXPECT_EQ(parse_event_time("2023-11-14T23:13:20+01:00", now), 1700000000 * s);
  EXPECT_EQ(parse_event_time("2023-11-14T21:13:20.000000001-01:00", now), 1700000000 * s + 1);
  EXPECT_EQ(parse_event_time("2023-11-14T22:13:20", now), 1700000000 * s);
  EXPECT_EQ(parse_event_time("2023-11-14T22:13", now), 1699999980 * s);
  EXPECT_EQ(parse_event_time("2023-11-14T22", now), 1699999200 * s);
  EXPECT_EQ(parse_event_time("2023-11-14", now), 1699920000 * s);
  for (const char* bad : {"", "yesterday", "10x", "2023-13-01", "2023-11-14T22:13:20+0100", "1.2.3", "12a"}) {
    EXPECT_THROW(parse_event_time(bad, now), Error) << bad;
  }
}

TEST(EventTime, ReadsZonelessTimesInTheLocalZone) {
  ScopedEnv tz("TZ", "Europe/Paris");
  const int64_t s = 1000000000;
  const int64_t now = int64_t(1700000000) * s;  // November: UTC+1
  EXPECT_EQ(parse_event_time("2023-11-14T23:13:20", now), 1700000000 * s);
}

TEST(EventTime, TakesTheZonesOffsetAtThatDate) {
  ScopedEnv tz("TZ", "Europe/Paris");
  const int64_t s = 1000000000;
  const int64_t now = int64_t(1700000000) * s;  // November: UTC+1, but July is UTC+2
  EXPECT_EQ(parse_event_time("2023-07-14T12:00:00", now), 1689328800 * s);
}

TEST(EventTime, RefusesDatesThatDoNotExist) {
  const int64_t now = int64_t(1700000000) * 1000000000;
  for (const char* bad : {"2024-02-31", "2023-02-29", "2023-04-31", "2023-11-00"}) {
    EXPECT_THROW(parse_event_time(bad, now), Error) << bad;
  }
  EXPECT_NO_THROW(parse_event_time("2024-02-29", now));
}

// Times past int64 nanoseconds (the year 2262) are after every event, not a
// wrapped-around time in the past.
TEST(EventTime, HoldsTimesPastTheRangeAtItsEnds) {
  ScopedEnv tz("TZ", "UTC");
  const int64_t now = int64_t(1700000000) * 1000000000;
  EXPECT_EQ(parse_event_time("10000000000", now), INT64_MAX);
  EXPECT_EQ(parse_event_time("9999-12-31", now), INT64_MAX);
  EXPECT_EQ(parse_event_time("9999-12-31T23:59:59.999999999Z", now), INT64_MAX);
  EXPECT_EQ(parse_event_time("-2500000h", now), INT64_MAX);
  EXPECT_EQ(parse_event_time("1000-01-01", now), INT64_MIN);
  EXPECT_GT(parse_event_time("2261-12-31", now), now);
}

TEST(EventTime, DropsDigitsPastNanoseconds) {
  const int64_t s = 1000000000;
  const int64_t now = int64_t(1700000000) * s;
  EXPECT_EQ(parse_event_time("1700000000.1234567891", now), 1700000000 * s + 123456789);
  EXPECT_EQ(parse_event_time("2023-11-14T22:13:20.1234567891Z", now), 1700000000 * s + 123456789);
}

TEST(EventOutput, PrintsDockersLineAndJson) {
  ScopedEnv tz("TZ", "UTC");
  Event e = container_event("start", "4f5a", "web");
  e.attributes.erase("seq");
  e.time_nano = int64_t(1700000000) * 1000000000 + 42;
  EXPECT_EQ(format_event_line(e),
            "2023-11-14T22:13:20.000000042Z container start 4f5a (image=hello:latest, name=web)");
  EXPECT_EQ(event_json_line(e),
            "{\"status\":\"start\",\"id\":\"4f5a\",\"from\":\"hello:latest\",\"Type\":\"container\","
            "\"Action\":\"start\",\"Actor\":{\"ID\":\"4f5a\",\"Attributes\":{\"image\":\"hello:latest\","
            "\"name\":\"web\"}},\"scope\":\"local\",\"time\":1700000000,\"timeNano\":1700000000000000042}");
  auto json = event_to_docker_json(e);
  EXPECT_EQ(json["Actor"]["Attributes"]["name"], "web");
  EXPECT_EQ(json["timeNano"], e.time_nano);
}

TEST_F(EventsTest, FollowingSeesNewRecordsAcrossARotation) {
  ScopedEnv size("GOCRATE_EVENTS_MAX_SIZE", "10000");  // one rotation in the 100 records
  record_event(root(), container_event("create", "first", "n"));
  EventQuery query;
  query.until = now_nano() + int64_t(60) * 1000000000;  // bounds the test, not a figure it checks
  query.filters = parse_event_filters({"container=follow"});
  std::vector<int> seen;
  std::thread writer;
  bool started = false;
  EventQuery all = query;
  all.filters = FilterArgs();
  read_events(root(), all, true, [&](const Event& e) {
    if (!started) {
      // Past records are read once the journal is watched: what is written
      // from here on must be seen.
      started = true;
      writer = std::thread([&] {
        for (int i = 0; i < 100; ++i) record_event(root(), container_event("start", "follow", "n", i));
      });
      return true;
    }
    if (e.id != "follow") return true;
    seen.push_back(std::stoi(e.attributes.at("seq")));
    return seen.size() < 100;
  });
  writer.join();
  EXPECT_TRUE(path_exists(journal() + ".1"));
  ASSERT_EQ(seen.size(), 100u);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(seen[i], i);
}

// Reads in a thread until `want` records of id "r" came or `seconds` passed;
// `on_first` runs inside the first call, the follower waiting for it.
std::vector<int> follow_records(const std::string& root, size_t want, const std::function<void()>& on_first,
                                int seconds = 60) {
  EventQuery query;
  query.until = now_nano() + int64_t(seconds) * 1000000000;  // bounds the test, not a figure it checks
  std::vector<int> seen;
  bool first = true;
  read_events(root, query, true, [&](const Event& e) {
    if (first) {
      first = false;
      on_first();
    }
    if (e.id == "r") seen.push_back(std::stoi(e.attributes.at("seq")));
    return seen.size() < want;
  });
  return seen;
}

ino_t inode_of(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? st.st_ino : 0;
}

// Writes records "r" from `seq` on until the journal rotated `rotations`
// times, then two more; returns the next seq.
int write_through_rotations(const std::string& root, const std::string& journal, int seq, int rotations) {
  for (int done = 0; done < rotations;) {
    ino_t before = inode_of(journal);
    record_event(root, container_event("start", "r", "n", seq++));
    if (inode_of(journal) != before) ++done;
  }
  for (int i = 0; i < 2; ++i) record_event(root, container_event("start", "r", "n", seq++));
  return seq;
}

// The follower is held in its first record while the journal rotates twice:
// journal.1 is then not the file it read, but the one after it, which it
// must read before the new journal.
TEST_F(EventsTest, FollowingReadsTheFileBetweenTwoRotations) {
  ScopedEnv size("GOCRATE_EVENTS_MAX_SIZE", "2000");
  record_event(root(), container_event("create", "first", "n"));
  int written = 0;
  ::testing::internal::CaptureStderr();
  auto seen = follow_records(
      root(), 1000000, [&] { written = write_through_rotations(root(), journal(), 0, 2); }, 2);
  std::string err = ::testing::internal::GetCapturedStderr();
  ASSERT_EQ(seen.size(), size_t(written)) << err;
  for (int i = 0; i < written; ++i) EXPECT_EQ(seen[i], i);
  EXPECT_EQ(err.find("rotated faster"), std::string::npos) << err;
}

// Three rotations while it is held: a whole file is gone, and it says so
// once, still reading what there is.
TEST_F(EventsTest, FollowingSaysWhenAFileWasLost) {
  ScopedEnv size("GOCRATE_EVENTS_MAX_SIZE", "2000");
  record_event(root(), container_event("create", "first", "n"));
  int written = 0;
  ::testing::internal::CaptureStderr();
  auto seen = follow_records(
      root(), 1000000, [&] { written = write_through_rotations(root(), journal(), 0, 3); }, 2);
  std::string err = ::testing::internal::GetCapturedStderr();
  ASSERT_FALSE(seen.empty());
  EXPECT_EQ(seen.back(), written - 1);
  EXPECT_LT(seen.size(), size_t(written));
  size_t first = err.find("rotated faster than it was read");
  EXPECT_NE(first, std::string::npos) << err;
  EXPECT_EQ(err.find("rotated faster", first + 1), std::string::npos) << err;
}

// Four writers and a follower that stops now and then (2 ms every 50
// records, a file's worth of lag at times), across many rotations: every
// record is seen, each writer's in order.
TEST_F(EventsTest, FollowingFourWritersAcrossRotationsMissesNothing) {
  ScopedEnv size("GOCRATE_EVENTS_MAX_SIZE", "16384");
  constexpr int kWriters = 4, kEach = 1000;
  record_event(root(), container_event("create", "first", "n"));
  std::vector<std::thread> writers;
  EventQuery query;
  query.until = now_nano() + int64_t(60) * 1000000000;  // bounds the test
  std::vector<std::vector<int>> seen(kWriters);
  size_t total = 0;
  bool started = false;
  read_events(root(), query, true, [&](const Event& e) {
    if (!started) {
      started = true;
      for (int w = 0; w < kWriters; ++w) {
        writers.emplace_back([this, w] {
          for (int i = 0; i < kEach; ++i) {
            record_event(root(), container_event("start", "w" + std::to_string(w), "n", i));
            std::this_thread::sleep_for(std::chrono::microseconds(200));
          }
        });
      }
    }
    if (e.id.size() == 2 && e.id[0] == 'w') {
      seen[e.id[1] - '0'].push_back(std::stoi(e.attributes.at("seq")));
      if (++total % 50 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    return total < size_t(kWriters * kEach);
  });
  for (auto& t : writers) t.join();
  EXPECT_TRUE(path_exists(journal() + ".1"));
  for (int w = 0; w < kWriters; ++w) {
    ASSERT_EQ(seen[w].size(), size_t(kEach)) << "writer " << w;
    for (int i = 0; i < kEach; ++i) ASSERT_EQ(seen[w][i], i) << "writer " << w;
  }
}

// Records carry labels and exec commands: the journal is root's alone. A
// FIFO or a link in its place is an error, not a reader or writer that
// waits forever.
TEST_F(EventsTest, JournalIsPrivateAndOnlyARegularFile) {
  record_event(root(), container_event("create", "a", "n"));
  struct stat st {};
  ASSERT_EQ(::stat(journal().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat((events_directory(root()) + "/lock").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  ::unlink(journal().c_str());
  ASSERT_EQ(::mkfifo(journal().c_str(), 0600), 0);
  std::string error;
  try {
    read_all();
  } catch (const Error& e) {
    error = e.what();
  }
  EXPECT_NE(error.find(journal() + " is not a regular file"), std::string::npos) << error;
  record_event(root(), container_event("create", "b", "n"));  // a warning, and no wait

  ::unlink(journal().c_str());
  ASSERT_EQ(::symlink("/dev/zero", journal().c_str()), 0);
  error.clear();
  try {
    read_all();
  } catch (const Error& e) {
    error = e.what();
  }
  EXPECT_NE(error.find(journal() + " is not a regular file"), std::string::npos) << error;
}

TEST_F(EventsTest, FollowingEndsAtUntil) {
  EventQuery query;
  query.until = now_nano() + 50000000;
  int count = 0;
  read_events(root(), query, true, [&](const Event&) {
    ++count;
    return true;
  });
  EXPECT_EQ(count, 0);
}

}  // namespace
}  // namespace gocrate
