#include "runtime/container_manage.h"

#include <gtest/gtest.h>

#include "util/error_for_tests.h"

namespace gocrate {
namespace {

constexpr uint64_t kMiB = 1024 * 1024;
constexpr uint64_t kHostMemory = 4096 * kMiB;

TEST(Top, ParsesProcStat) {
  // A command name with spaces and a parenthesis, as the kernel writes it.
  auto stat = parse_proc_stat(
      "4242 (my (odd) prog) S 4200 4242 4242 34816 4242 4194560 120 0 0 0 150 50 0 0 20 0 1 0 987654 1000 10 "
      "18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0");
  ASSERT_TRUE(stat);
  EXPECT_EQ(stat->pid, 4242);
  EXPECT_EQ(stat->comm, "my (odd) prog");
  EXPECT_EQ(stat->ppid, 4200);
  EXPECT_EQ(stat->tty_nr, 34816);
  EXPECT_EQ(stat->cpu_ticks, 200u);
  EXPECT_EQ(stat->start_ticks, 987654u);
  EXPECT_FALSE(parse_proc_stat("garbage"));
  EXPECT_FALSE(parse_proc_stat("1 (x) S 0"));
}

TEST(Top, FormatsPsColumns) {
  EXPECT_EQ(ps_cpu_time(0), "00:00:00");
  EXPECT_EQ(ps_cpu_time(3725), "01:02:05");
  EXPECT_EQ(ps_cpu_time(2 * 86400 + 61), "2-00:01:01");
  EXPECT_EQ(ps_tty_name(0), "?");
  EXPECT_EQ(ps_tty_name(34816), "pts/0");  // major 136, minor 0
  EXPECT_EQ(ps_tty_name((136 << 8) | 5), "pts/5");
  EXPECT_EQ(ps_tty_name((4 << 8) | 1), "tty1");
  time_t now = 1700000000;
  EXPECT_EQ(ps_start_time(now, now).size(), 5u);                // HH:MM
  EXPECT_EQ(ps_start_time(now - 400 * 86400, now).size(), 4u);  // the year
}

TEST(Top, FiltersPsOutputByPidAsDockerDoes) {
  std::string output =
      "UID          PID    PPID  C STIME TTY          TIME CMD\n"
      "root           1       0  0 10:00 ?        00:00:01 /sbin/init splash\n"
      "root         100       1  0 10:01 ?        00:00:00 /svc tick --every 1s\n"
      "root         101     100  0 10:01 ?        00:00:00 sleep 5\n";
  ProcessTable table = filter_ps_output(output, {100, 101});
  EXPECT_EQ(table.titles,
            (std::vector<std::string>{"UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"}));
  ASSERT_EQ(table.rows.size(), 2u);
  EXPECT_EQ(table.rows[0][1], "100");
  EXPECT_EQ(table.rows[0][7], "/svc tick --every 1s");
  EXPECT_EQ(table.rows[1][7], "sleep 5");
  EXPECT_NE(error_of([&] { filter_ps_output("USER COMMAND\nroot x\n", {1}); }).find("no PID column"),
            std::string::npos);
  EXPECT_NE(error_of([&] { filter_ps_output("PID CMD\nabc x\n", {1}); }).find("\"abc\""), std::string::npos);
}

TEST(Port, ParsesQueries) {
  EXPECT_EQ(parse_port_query("80").port, 80);
  EXPECT_EQ(parse_port_query("80").protocol, Protocol::tcp);
  EXPECT_EQ(parse_port_query("53/udp").protocol, Protocol::udp);
  EXPECT_NE(error_of([] { parse_port_query("http"); }).find("PRIVATE_PORT[/PROTO]"), std::string::npos);
  EXPECT_NE(error_of([] { parse_port_query("0"); }).find("invalid port"), std::string::npos);
  EXPECT_NE(error_of([] { parse_port_query("80/sctp"); }).find("tcp or udp"), std::string::npos);
}

TEST(Port, PrintsDockersLines) {
  std::vector<PortMapping> ports = {{"", 32768, 8080, Protocol::tcp},
                                    {"127.0.0.1", 5353, 53, Protocol::udp},
                                    {"::1", 9000, 8080, Protocol::tcp}};
  EXPECT_EQ(port_lines(ports, std::nullopt, "web"),
            (std::vector<std::string>{"53/udp -> 127.0.0.1:5353", "8080/tcp -> 0.0.0.0:32768",
                                      "8080/tcp -> [::1]:9000"}));
  EXPECT_EQ(port_lines(ports, PortQuery{8080, Protocol::tcp, "8080"}, "web"),
            (std::vector<std::string>{"0.0.0.0:32768", "[::1]:9000"}));
  EXPECT_EQ(error_of([&] { port_lines(ports, parse_port_query("53"), "web"); }),
            "no public port '53' published for web");
  EXPECT_EQ(error_of([&] { port_lines(ports, parse_port_query("53/tcp"), "web"); }),
            "no public port '53/tcp' published for web");
  EXPECT_TRUE(port_lines({}, std::nullopt, "web").empty());
}

TEST(Update, ParsesFlagsAgainstTheHost) {
  UpdateFlags flags;
  flags.memory = "64m";
  flags.cpus = "1.5";
  flags.pids_limit = -1;
  flags.restart = "on-failure:3";
  ContainerUpdate update = parse_container_update(flags, kHostMemory, 2);
  EXPECT_EQ(update.memory_bytes, 64 * kMiB);
  EXPECT_EQ(update.cpus, 1.5);
  EXPECT_EQ(update.pids, -1);
  ASSERT_TRUE(update.restart);
  EXPECT_EQ(update.restart->str(), "on-failure:3");

  auto error = [](UpdateFlags f) { return error_of([&] { parse_container_update(f, kHostMemory, 2); }); };
  EXPECT_NE(error({}).find("nothing to update"), std::string::npos);
  EXPECT_NE(error({.memory = "12q"}).find("invalid --memory \"12q\""), std::string::npos);
  EXPECT_NE(error({.memory = "1m"}).find("at least 6m"), std::string::npos);
  EXPECT_NE(error({.memory = "8g"}).find("this host has 4 GiB"), std::string::npos);
  EXPECT_NE(error({.cpus = "3"}).find("this host has 2 CPUs"), std::string::npos);
  EXPECT_NE(error({.cpus = "lots"}).find("invalid --cpus"), std::string::npos);
  EXPECT_NE(error({.cpu_shares = "1"}).find("2 to 262144"), std::string::npos);
  EXPECT_NE(error({.pids_limit = 0}).find("invalid --pids-limit 0"), std::string::npos);
  EXPECT_NE(error({.memory_swap = "big"}).find("invalid --memory-swap"), std::string::npos);
  EXPECT_NE(error({.restart = "sometimes"}).find("sometimes"), std::string::npos);
}

TEST(Update, CombinesMemoryAndSwapAsDockerDoes) {
  ResourceLimits current;
  current.memory_bytes = 64 * kMiB;
  current.memory_swap_bytes = 128 * kMiB;
  current.pids = 50;

  ContainerUpdate raise;
  raise.memory_bytes = 100 * kMiB;
  ResourceLimits next = updated_limits(current, raise);
  EXPECT_EQ(next.memory_bytes, 100 * kMiB);
  EXPECT_EQ(next.memory_swap_bytes, 128 * static_cast<int64_t>(kMiB));
  EXPECT_EQ(next.pids, 50);

  ContainerUpdate above_swap;
  above_swap.memory_bytes = 256 * kMiB;
  EXPECT_NE(error_of([&] { updated_limits(current, above_swap); }).find("give a larger --memory-swap"),
            std::string::npos);
  above_swap.memory_swap_bytes = -1;
  EXPECT_EQ(updated_limits(current, above_swap).memory_swap_bytes, -1);

  ContainerUpdate swap_only;
  swap_only.memory_swap_bytes = 32 * static_cast<int64_t>(kMiB);
  EXPECT_NE(error_of([&] { updated_limits(current, swap_only); }).find("at least the memory limit"),
            std::string::npos);
  EXPECT_NE(error_of([&] { updated_limits({}, swap_only); }).find("has no memory limit"), std::string::npos);

  ContainerUpdate unlimited_pids;
  unlimited_pids.pids = -1;
  EXPECT_FALSE(updated_limits(current, unlimited_pids).pids);
}

TEST(Update, OrdersV1MemoryWritesForTheKernel) {
  ResourceLimits limits;
  limits.memory_bytes = 256 * kMiB;
  auto writes = cgroup_limit_writes("memory", false, limits);
  ASSERT_EQ(writes.size(), 2u);
  // Raising above the current memory+swap limit: that one first.
  auto raised = order_v1_memory_writes(writes, 128 * kMiB);
  EXPECT_EQ(raised[0].file, "memory.memsw.limit_in_bytes");
  EXPECT_EQ(raised[1].file, "memory.limit_in_bytes");
  // Lowering: the memory limit first.
  auto lowered = order_v1_memory_writes(writes, 512 * kMiB);
  EXPECT_EQ(lowered[0].file, "memory.limit_in_bytes");
}

}  // namespace
}  // namespace gocrate
