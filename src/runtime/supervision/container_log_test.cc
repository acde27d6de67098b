#include "runtime/supervision/container_log.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <regex>

#include "util/error.h"
#include "util/error_for_tests.h"
#include "util/fs.h"
#include "util/strings.h"

namespace gocrate {
namespace {

struct Line {
  LogStream stream;
  bool partial;
  std::string text;
  bool operator==(const Line&) const = default;
};

std::vector<Line> read_all(ContainerLogReader& reader) {
  std::vector<Line> lines;
  reader.read_all([&](const LogEntry& e) { lines.push_back({e.stream, e.partial, std::string(e.text)}); });
  return lines;
}

TEST(LogOptions, ParsesDockersOptions) {
  LogOptions defaults = LogOptions::parse({});
  EXPECT_EQ(defaults.max_size, 10u << 20);
  EXPECT_EQ(defaults.max_files, 2);
  LogOptions set = LogOptions::parse({"max-size=64k", "max-file=5"});
  EXPECT_EQ(set.max_size, 64u << 10);
  EXPECT_EQ(set.max_files, 5);
  for (const char* bad :
       {"max-size=tiny", "max-size=1k", "max-file=0", "max-file=x", "compress=true", "max-size"}) {
    EXPECT_THROW(LogOptions::parse({bad}), Error) << bad;
  }
}

TEST(LogOptions, TakesTheDriversGocrateHas) {
  EXPECT_EQ(LogOptions::parse({}).driver, LogDriver::json_file);
  EXPECT_EQ(LogOptions::parse({}, "json-file").driver, LogDriver::json_file);
  LogOptions local = LogOptions::parse({}, "local");
  EXPECT_EQ(local.driver, LogDriver::local);
  EXPECT_EQ(local.max_size, 20u << 20);  // Docker's local defaults
  EXPECT_EQ(local.max_files, 5);
  EXPECT_EQ(LogOptions::parse({}, "none").driver, LogDriver::none);
  LogOptions unlimited = LogOptions::parse({"max-size=-1", "compress=false"}, "json-file");
  EXPECT_EQ(unlimited.max_size, UINT64_MAX);
  EXPECT_EQ(unlimited.max_files, 1);
  struct Bad {
    std::vector<std::string> options;
    std::string driver;
    std::string error;
  };
  for (const auto& bad : std::vector<Bad>{
           {{}, "syslog", "unsupported --log-driver \"syslog\": gocrate keeps logs with json-file"},
           {{}, "journald", "json-file (the default), local, or none"},
           {{"max-size=1m"}, "none", "--log-opt max-size=1m cannot apply to --log-driver none"},
           {{"max-size=-1"}, "local", "invalid --log-opt max-size=\"-1\""},
           {{"max-size=-1", "max-file=3"}, "json-file", "max-file=3 needs a max-size"},
           {{"compress=true"}, "local", "compress=true is not supported"},
           {{"labels=a"}, "json-file", "unsupported --log-opt \"labels=a\" for --log-driver json-file"},
       }) {
    std::string error = error_of([&] { LogOptions::parse(bad.options, bad.driver); });
    EXPECT_NE(error.find(bad.error), std::string::npos) << error;
  }
}

TEST(LogEntry, ParsesTheCriFormat) {
  LogEntry e;
  ASSERT_TRUE(parse_log_entry("2024-01-02T03:04:05.123456789Z stdout F hello world", e));
  EXPECT_EQ(e.time, "2024-01-02T03:04:05.123456789Z");
  EXPECT_EQ(e.stream, LogStream::out);
  EXPECT_FALSE(e.partial);
  EXPECT_EQ(e.text, "hello world");
  ASSERT_TRUE(parse_log_entry("t stderr P ", e));
  EXPECT_TRUE(e.partial);
  EXPECT_EQ(e.text, "");
  ASSERT_TRUE(parse_log_entry("t stdout F", e));
  EXPECT_EQ(e.text, "");
  for (const char* bad : {"", "t", "t stdout", "t stdin F x", "t stdout X x", "t stdout Fx"}) {
    EXPECT_FALSE(parse_log_entry(bad, e)) << bad;
  }
}

TEST(LogEntry, ParsesDockersJsonFileLines) {
  LogEntry e;
  std::string storage;
  ASSERT_TRUE(parse_log_entry(
      R"({"log":"hi \u003cthere\u003e\n","stream":"stderr","time":"2024-01-02T03:04:05.1Z"})", e, storage));
  EXPECT_EQ(e.stream, LogStream::err);
  EXPECT_FALSE(e.partial);
  EXPECT_EQ(e.text, "hi <there>");
  EXPECT_EQ(e.time, "2024-01-02T03:04:05.1Z");
  ASSERT_TRUE(parse_log_entry(R"({"log":"part","stream":"stdout","time":"t"})", e, storage));
  EXPECT_TRUE(e.partial);
  EXPECT_EQ(e.text, "part");
  for (const char* bad : {R"({"log":"x\n"})", R"({"log":1,"stream":"stdout"})",
                          R"({"log":"x","stream":"stdin"})", "{", "[1]"}) {
    EXPECT_FALSE(parse_log_entry(bad, e, storage)) << bad;
  }
  ASSERT_TRUE(parse_log_entry("t stdout F cri", e, storage));  // both formats
  EXPECT_EQ(e.text, "cri");
}

TEST(ContainerLog, WritesDockersJsonFileLines) {
  TempDir dir;
  ContainerLogWriter writer(dir.path(), LogOptions::parse({}, "json-file"));
  writer.write(LogStream::out, "say \"<hi>\" & \t\x01\n");
  writer.write(LogStream::err, "bad \xff byte\nno end");
  std::string text = read_file(container_log_path(dir.path()));
  auto lines = split(text, '\n');
  ASSERT_EQ(lines.size(), 4u) << text;
  EXPECT_TRUE(std::regex_match(
      lines[0], std::regex(R"(\{"log":"say \\"\\u003chi\\u003e\\" \\u0026 \\t\\u0001\\n","stream":"stdout",)"
                           R"("time":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z"\})")))
      << lines[0];
  EXPECT_TRUE(lines[1].starts_with(R"({"log":"bad \ufffd byte\n","stream":"stderr")")) << lines[1];
  EXPECT_TRUE(lines[2].starts_with(R"({"log":"no end","stream":"stderr")")) << lines[2];
  for (size_t i = 0; i < 3; ++i) EXPECT_FALSE(nlohmann::json::parse(lines[i], nullptr, false).is_discarded());
  ContainerLogReader reader(dir.path());
  EXPECT_EQ(read_all(reader), (std::vector<Line>{{LogStream::out, false, "say \"<hi>\" & \t\x01"},
                                                 {LogStream::err, false, "bad \xef\xbf\xbd byte"},
                                                 {LogStream::err, true, "no end"}}));
}

TEST(ContainerLog, KeepsACharacterCutBetweenReadsWhole) {
  TempDir dir;
  ContainerLogWriter writer(dir.path(), LogOptions::parse({}, "json-file"));
  writer.write(LogStream::out, "caf\xc3");
  writer.write(LogStream::err, "x\n");
  writer.write(LogStream::out, "\xa9 \xe2\x82");
  writer.write(LogStream::out, "\xac\n");
  ContainerLogReader reader(dir.path());
  std::string out;
  reader.read_all([&](const LogEntry& e) {
    if (e.stream == LogStream::out) out += std::string(e.text) + (e.partial ? "" : "\n");
  });
  EXPECT_EQ(out, "caf\xc3\xa9 \xe2\x82\xac\n");
}

// A container.log that is a FIFO or a link to one (or to /dev/zero) is not
// read: the reader would block or never end.
TEST(ContainerLog, ReaderRefusesFifosAndLinks) {
  TempDir dir;
  std::string log = container_log_path(dir.path());
  ASSERT_EQ(::mkfifo(log.c_str(), 0600), 0);
  ContainerLogReader fifo_reader(dir.path());
  EXPECT_TRUE(read_all(fifo_reader).empty());
  ::unlink(log.c_str());
  ASSERT_EQ(::symlink("/dev/zero", log.c_str()), 0);
  ContainerLogReader link_reader(dir.path());
  EXPECT_TRUE(read_all(link_reader).empty());
  link_reader.read_new([](const LogEntry&) { FAIL() << "read through a link"; });
}

TEST(ContainerLog, NoneKeepsNothing) {
  TempDir dir;
  ContainerLogWriter writer(dir.path(), LogOptions::parse({}, "none"));
  writer.write(LogStream::out, "secret\n");
  EXPECT_FALSE(path_exists(container_log_path(dir.path())));
}

TEST(ContainerLog, KeepsLinesStreamsAndPartsInOrder) {
  TempDir dir;
  ContainerLogWriter writer(dir.path(), LogOptions::parse({}, "local"));
  writer.write(LogStream::out, "one\ntwo\nthr");
  writer.write(LogStream::out, "ee\n");
  writer.write(LogStream::err, "oops\n\n");
  ContainerLogReader reader(dir.path());
  EXPECT_EQ(read_all(reader), (std::vector<Line>{{LogStream::out, false, "one"},
                                                 {LogStream::out, false, "two"},
                                                 {LogStream::out, true, "thr"},
                                                 {LogStream::out, false, "ee"},
                                                 {LogStream::err, false, "oops"},
                                                 {LogStream::err, false, ""}}));
  std::string text = read_file(container_log_path(dir.path()));
  EXPECT_TRUE(
      std::regex_search(text, std::regex(R"(^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z stdout F one\n)")))
      << text;
}

TEST(ContainerLog, RotatesBySizeAndKeepsTheNewest) {
  TempDir dir;
  LogOptions options = LogOptions::parse({"max-size=4k", "max-file=3"});  // json-file
  ContainerLogWriter writer(dir.path(), options);
  for (int i = 0; i < 1000; ++i) writer.write(LogStream::out, fmt::format("line {:04}\n", i));
  std::string log = container_log_path(dir.path());
  EXPECT_TRUE(path_exists(log + ".1"));
  EXPECT_TRUE(path_exists(log + ".2"));
  EXPECT_FALSE(path_exists(log + ".3"));
  for (const char* suffix : {"", ".1", ".2"}) EXPECT_LE(read_file(log + suffix).size(), 4096u) << suffix;
  ContainerLogReader reader(dir.path());
  auto lines = read_all(reader);
  ASSERT_GT(lines.size(), 100u);
  EXPECT_EQ(lines.back().text, "line 0999");
  for (size_t i = 1; i < lines.size(); ++i) {  // consecutive, oldest first
    EXPECT_EQ(std::stoi(lines[i].text.substr(5)), std::stoi(lines[i - 1].text.substr(5)) + 1);
  }
}

TEST(ContainerLog, AReaderFollowsAcrossRotations) {
  TempDir dir;
  ContainerLogWriter writer(dir.path(), LogOptions::parse({"max-size=4k", "max-file=2"}));
  writer.write(LogStream::out, "first\n");
  ContainerLogReader reader(dir.path());
  EXPECT_EQ(read_all(reader).size(), 1u);
  std::vector<std::string> seen;
  int written = 0;
  for (int round = 0; round < 5; ++round) {
    for (int i = 0; i < 40; ++i) writer.write(LogStream::out, fmt::format("n {}\n", written++));
    reader.read_new([&](const LogEntry& e) { seen.emplace_back(e.text); });
  }
  ASSERT_EQ(seen.size(), static_cast<size_t>(written));
  EXPECT_EQ(seen.front(), "n 0");
  EXPECT_EQ(seen.back(), fmt::format("n {}", written - 1));
}

TEST(ContainerLog, OneFileIsTruncatedInPlace) {
  TempDir dir;
  ContainerLogWriter writer(dir.path(), LogOptions::parse({"max-size=4k", "max-file=1"}));
  for (int i = 0; i < 500; ++i) writer.write(LogStream::out, fmt::format("line {}\n", i));
  EXPECT_FALSE(path_exists(container_log_path(dir.path()) + ".1"));
  EXPECT_LE(read_file(container_log_path(dir.path())).size(), 4096u);
}

}  // namespace
}  // namespace gocrate
