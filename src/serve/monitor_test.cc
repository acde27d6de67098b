#include "serve/monitor.h"

#include <gtest/gtest.h>

#include "runtime/supervision/container_log.h"
#include "util/fs.h"

namespace gocrate {
namespace {

TEST(NetDev, ReadsEveryInterfaceButLoopback) {
  const char* text =
      "Inter-|   Receive                                                |  Transmit\n"
      " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo "
      "colls "
      "carrier compressed\n"
      "    lo:     240       4    0    0    0     0          0         0      240       4    0    0    0     "
      "0 "
      "      0          0\n"
      "  eth0:   15876     120    1    2    0     0          0         0     3210      30    3    4    0     "
      "0 "
      "      0          0\n";
  auto interfaces = parse_net_dev(text);
  ASSERT_EQ(interfaces.size(), 1u);
  EXPECT_EQ(interfaces[0].name, "eth0");
  EXPECT_EQ(interfaces[0].receive_bytes, 15876u);
  EXPECT_EQ(interfaces[0].receive_packets, 120u);
  EXPECT_EQ(interfaces[0].receive_errors, 1u);
  EXPECT_EQ(interfaces[0].receive_dropped, 2u);
  EXPECT_EQ(interfaces[0].transmit_bytes, 3210u);
  EXPECT_EQ(interfaces[0].transmit_packets, 30u);
  EXPECT_EQ(interfaces[0].transmit_errors, 3u);
  EXPECT_EQ(interfaces[0].transmit_dropped, 4u);
  EXPECT_TRUE(parse_net_dev("").empty());
}

TEST(MemoryStat, WorkingSetAndRssAsCadvisorReadsThem) {
  // cgroup v1: the hierarchical totals, not the cgroup's own counts.
  const char* v1 =
      "cache 100\nrss 200\ninactive_file 50\ntotal_cache 4096\ntotal_rss 8192\ntotal_inactive_file 1024\n";
  MemoryFigures m = memory_figures(16384, v1, false);
  EXPECT_EQ(m.working_set, 16384u - 1024u);
  EXPECT_EQ(m.rss, 8192u);
  EXPECT_EQ(m.cache, 4096u);
  const char* v2 = "anon 7000\nfile 3000\ninactive_file 2000\nactive_file 1000\n";
  m = memory_figures(12000, v2, true);
  EXPECT_EQ(m.working_set, 10000u);
  EXPECT_EQ(m.rss, 7000u);
  EXPECT_EQ(m.cache, 3000u);
  // Never below zero when inactive file pages exceed the usage read earlier.
  EXPECT_EQ(memory_figures(10, v2, true).working_set, 0u);
}

TEST(MemoryStat, FindsWholeKeysOnly) {
  EXPECT_EQ(stat_value("total_rss 5\nrss 7\n", "rss"), 7u);
  EXPECT_EQ(stat_value("rss_huge 5\n", "rss"), std::nullopt);
  EXPECT_EQ(stat_value("a 1", "a"), 1u);
}

// A log of progress lines that never end (\r, no \n) is many partial
// pieces: the tail keeps at most kLogTailBytes of them, not the whole log.
TEST(LogTail, KeepsAtMostItsBytesOfPartialLines) {
  TempDir dir;
  {
    ContainerLogWriter writer(dir.path(), LogOptions::parse({}, "json-file"));
    std::string progress(100, '#');
    for (int i = 0; i < 20000; ++i) writer.write(LogStream::out, progress + "\r");
    writer.write(LogStream::out, "done\n");
  }
  ContainerView view;
  view.dir = dir.path();
  view.state.supervised = true;
  Monitor monitor(dir.path());
  auto lines = monitor.log_tail(view, 200);
  ASSERT_FALSE(lines.empty());
  EXPECT_EQ(lines.back().text, "done");
  size_t text = 0;
  for (const auto& l : lines) text += l.text.size();
  EXPECT_LE(text, kLogTailBytes);
  EXPECT_LE(log_json(lines).dump().size(), 2 * kLogTailBytes);
}

}  // namespace
}  // namespace gocrate
