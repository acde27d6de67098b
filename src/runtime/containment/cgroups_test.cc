#include "runtime/containment/cgroups.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>

#include "util/error.h"
#include "util/error_for_tests.h"
#include "util/fs.h"

namespace gocrate {
namespace {

TEST(CgroupLimits, ParsesMemorySizes) {
  EXPECT_EQ(parse_memory_limit("64m"), 64u << 20);
  EXPECT_EQ(parse_memory_limit("1g"), 1ull << 30);
  EXPECT_EQ(parse_memory_limit("32M"), 32u << 20);
  EXPECT_EQ(parse_memory_limit("8388608"), 8388608u);
  EXPECT_FALSE(parse_memory_limit("1m"));  // below docker's 6 MiB floor
  EXPECT_FALSE(parse_memory_limit("lots"));
  EXPECT_FALSE(parse_memory_limit("-5m"));
  EXPECT_FALSE(parse_memory_limit(""));
}

TEST(CgroupLimits, ParsesCpus) {
  EXPECT_DOUBLE_EQ(*parse_cpus("0.5"), 0.5);
  EXPECT_DOUBLE_EQ(*parse_cpus("1"), 1.0);
  EXPECT_FALSE(parse_cpus("0"));
  EXPECT_FALSE(parse_cpus("-1"));
  EXPECT_FALSE(parse_cpus("half"));
  EXPECT_FALSE(parse_cpus("1e3"));
  EXPECT_FALSE(parse_cpus("100000"));  // more than this host has
}

TEST(CgroupLimits, ParsesCpuLists) {
  EXPECT_EQ(parse_cpu_list("0-3,5"), (std::vector<unsigned>{0, 1, 2, 3, 5}));
  EXPECT_EQ(parse_cpu_list("5,1,1,0-1"), (std::vector<unsigned>{0, 1, 5}));
  for (auto bad : {"", "a", "1-", "-1", "3-1", "1,,2", "1 ,2", "0x1", "9999", "1-99999"}) {
    EXPECT_FALSE(parse_cpu_list(bad)) << bad;
  }
  EXPECT_EQ(format_cpu_list({0, 1, 2, 3, 5, 7, 8}), "0-3,5,7-8");
  EXPECT_EQ(format_cpu_list({4}), "4");
}

TEST(CgroupLimits, ChecksCpusetsAgainstOnlineCpus) {
  EXPECT_EQ(check_cpuset("1,0", "0-1\n"), "0-1");
  EXPECT_EQ(check_cpuset("2", "0-1,2-3"), "2");
  std::string error = error_of([] { check_cpuset("99", "0-1\n"); });
  EXPECT_NE(error.find("CPU 99 is not online on this host (online: 0-1)"), std::string::npos) << error;
  error = error_of([] { check_cpuset("0-4", "0-1"); });
  EXPECT_NE(error.find("CPU 2-4 is not online"), std::string::npos) << error;
  error = error_of([] { check_cpuset("one", "0-1"); });
  EXPECT_NE(error.find("invalid --cpuset-cpus \"one\""), std::string::npos) << error;
}

TEST(CgroupLimits, MapsSharesToWeightsAsRuncDoes) {
  EXPECT_EQ(cpu_weight_of_shares(2), 1u);
  EXPECT_EQ(cpu_weight_of_shares(1024), 39u);
  EXPECT_EQ(cpu_weight_of_shares(512), 20u);
  EXPECT_EQ(cpu_weight_of_shares(262144), 10000u);
}

TEST(CgroupLimits, ParsesResourceFlagsWithDockersRules) {
  ResourceFlags f;
  f.memory = "64m";
  f.memory_swap = "128m";
  f.memory_reservation = "32m";
  f.oom_kill_disable = true;
  f.cpu_shares = "512";
  f.cpuset_cpus = "0";
  ResourceLimits limits = parse_resource_limits(f);
  EXPECT_EQ(limits.memory_bytes, 64u << 20);
  EXPECT_EQ(limits.memory_swap_bytes, int64_t{128} << 20);
  EXPECT_EQ(limits.memory_reservation_bytes, 32u << 20);
  EXPECT_TRUE(limits.oom_kill_disable);
  EXPECT_EQ(limits.cpu_shares, 512u);
  EXPECT_EQ(limits.cpuset_cpus, "0");

  f = {};
  f.memory = "64m";
  f.memory_swap = "-1";
  EXPECT_EQ(parse_resource_limits(f).memory_swap_bytes, -1);
  f.memory_swap = "0";  // Docker's "unset"
  EXPECT_FALSE(parse_resource_limits(f).memory_swap_bytes);
  f = {};
  f.memory_swap = "-1";  // unlimited swap needs no memory limit
  EXPECT_EQ(parse_resource_limits(f).memory_swap_bytes, -1);
  f.cpu_shares = "0";
  EXPECT_FALSE(parse_resource_limits(f).cpu_shares);

  struct Bad {
    ResourceFlags flags;
    std::string error;
  };
  std::vector<Bad> bad = {
      {{.memory_swap = "1g"}, "--memory-swap 1g needs --memory"},
      {{.memory = "64m", .memory_swap = "32m"}, "must be at least --memory 64m"},
      {{.memory = "64m", .memory_swap = "lots"}, "invalid --memory-swap \"lots\""},
      {{.memory = "64m", .memory_swap = "-2"}, "invalid --memory-swap \"-2\""},
      {{.memory = "64m", .memory_reservation = "128m"}, "it is above --memory 64m"},
      {{.memory_reservation = "1m"}, "the smallest reservation is 6m"},
      {{.oom_kill_disable = true}, "--oom-kill-disable needs --memory"},
      {{.cpu_shares = "1"}, "invalid --cpu-shares \"1\""},
      {{.cpu_shares = "-5"}, "invalid --cpu-shares \"-5\""},
      {{.cpu_shares = "300000"}, "from 2 to 262144"},
      {{.cpuset_cpus = "9999"}, "invalid --cpuset-cpus \"9999\""},
      {{.cpuset_cpus = "8000"}, "is not online on this host"},
  };
  for (const auto& b : bad) {
    std::string error = error_of([&] { parse_resource_limits(b.flags); });
    EXPECT_NE(error.find(b.error), std::string::npos) << error;
  }
}

std::string writes_text(std::string_view controller, bool v2, const ResourceLimits& limits) {
  std::string text;
  for (const auto& w : cgroup_limit_writes(controller, v2, limits)) {
    text += fmt::format("{}={}{} ", w.file, w.value, w.optional ? "?" : w.missing.empty() ? "" : "!");
  }
  return text;
}

TEST(CgroupLimits, WritesV1Files) {
  ResourceLimits limits;
  limits.memory_bytes = 64u << 20;
  EXPECT_EQ(writes_text("memory", false, limits),
            "memory.limit_in_bytes=67108864 memory.memsw.limit_in_bytes=67108864? ");
  limits.memory_swap_bytes = int64_t{96} << 20;
  limits.memory_reservation_bytes = 32u << 20;
  limits.oom_kill_disable = true;
  EXPECT_EQ(writes_text("memory", false, limits),
            "memory.limit_in_bytes=67108864 memory.memsw.limit_in_bytes=100663296! "
            "memory.soft_limit_in_bytes=33554432! memory.oom_control=1! ");
  limits.memory_swap_bytes = -1;
  limits.memory_reservation_bytes.reset();
  limits.oom_kill_disable = false;
  EXPECT_EQ(writes_text("memory", false, limits),
            "memory.limit_in_bytes=67108864 memory.memsw.limit_in_bytes=-1? ");
  limits = {};
  limits.cpu_shares = 512;
  limits.cpus = 0.5;
  EXPECT_EQ(writes_text("cpu", false, limits),
            "cpu.cfs_period_us=100000 cpu.cfs_quota_us=50000 cpu.shares=512 ");
  limits.cpuset_cpus = "0-1";
  EXPECT_EQ(writes_text("cpuset", false, limits), "cpuset.cpus=0-1 ");
  EXPECT_EQ(writes_text("pids", false, limits), "");
}

TEST(CgroupLimits, WritesV2Files) {
  ResourceLimits limits;
  limits.memory_bytes = 64u << 20;
  EXPECT_EQ(writes_text("memory", true, limits), "memory.max=67108864 memory.swap.max=0? ");
  limits.memory_swap_bytes = int64_t{96} << 20;
  limits.memory_reservation_bytes = 32u << 20;
  EXPECT_EQ(writes_text("memory", true, limits),
            "memory.max=67108864 memory.swap.max=33554432! memory.low=33554432! ");
  limits.memory_swap_bytes = int64_t{64} << 20;  // equal: no swap
  limits.memory_reservation_bytes.reset();
  EXPECT_EQ(writes_text("memory", true, limits), "memory.max=67108864 memory.swap.max=0! ");
  limits.memory_swap_bytes = -1;
  EXPECT_EQ(writes_text("memory", true, limits), "memory.max=67108864 memory.swap.max=max? ");
  limits.oom_kill_disable = true;
  std::string error = error_of([&] { cgroup_limit_writes("memory", true, limits); });
  EXPECT_NE(error.find("--oom-kill-disable cannot work on cgroup v2"), std::string::npos) << error;
  limits = {};
  limits.cpu_shares = 1024;
  limits.cpus = 1.5;
  EXPECT_EQ(writes_text("cpu", true, limits), "cpu.max=150000 100000 cpu.weight=39 ");
  limits.cpuset_cpus = "1,3";
  EXPECT_EQ(writes_text("cpuset", true, limits), "cpuset.cpus=1,3 ");
  limits.pids = 7;
  EXPECT_EQ(writes_text("pids", true, limits), "pids.max=7 ");
}

TEST(CgroupLayout, FindsTheControllersOfThisHost) {
  CgroupLayout layout = CgroupLayout::detect();
  ASSERT_FALSE(layout.hierarchies.empty()) << "no cgroup file system mounted";
  for (auto controller : {"memory", "cpu", "pids"}) {
    const CgroupHierarchy* h = layout.find(controller);
    ASSERT_NE(h, nullptr) << controller;
    EXPECT_TRUE(is_directory(h->mount)) << h->mount;
  }
  std::printf("cgroup layout of this host: %s\n", layout.describe().c_str());
}

// A child that sleeps until killed.
pid_t sleeper() {
  pid_t pid = ::fork();
  if (pid == 0) {
    for (;;) ::pause();
  }
  return pid;
}

TEST(Cgroup, CreatesLimitsCountsAndRemovesOnThisHost) {
  CgroupLayout layout = CgroupLayout::detect();
  ResourceLimits limits;
  limits.memory_bytes = 64u << 20;
  limits.cpus = 0.5;
  limits.pids = 16;
  std::string name = "gocrate-test/limits-" + std::to_string(::getpid());
  Cgroup cgroup = Cgroup::create(layout, name, limits);
  ASSERT_FALSE(cgroup.dirs().empty());
  pid_t pid = sleeper();
  cgroup.add_process(pid);
  CgroupStats stats = cgroup.stats();
  EXPECT_EQ(stats.pids, 1u);
  const CgroupHierarchy* memory = layout.find("memory");
  std::string limit_file = memory->v2 ? "memory.max" : "memory.limit_in_bytes";
  EXPECT_EQ(read_file(memory->mount + "/" + name + "/" + limit_file), std::to_string(64u << 20) + "\n");
  const CgroupHierarchy* cpu = layout.find("cpu");
  if (cpu->v2) {
    EXPECT_EQ(read_file(cpu->mount + "/" + name + "/cpu.max"), "50000 100000\n");
  } else {
    EXPECT_EQ(read_file(cpu->mount + "/" + name + "/cpu.cfs_quota_us"), "50000\n");
  }
  const CgroupHierarchy* pids = layout.find("pids");
  EXPECT_EQ(read_file(pids->mount + "/" + name + "/pids.max"), "16\n");
  cgroup.remove();  // kills what is left inside
  ::waitpid(pid, nullptr, 0);
  for (const auto& h : layout.hierarchies) EXPECT_FALSE(path_exists(h.mount + "/" + name)) << h.mount;
}

TEST(Cgroup, AppliesSwapReservationOomSharesAndCpusetOnThisHost) {
  CgroupLayout layout = CgroupLayout::detect();
  ResourceLimits limits;
  limits.memory_bytes = 64u << 20;
  limits.memory_swap_bytes = int64_t{96} << 20;
  limits.memory_reservation_bytes = 32u << 20;
  limits.cpu_shares = 512;
  limits.cpuset_cpus = "0";
  const CgroupHierarchy* memory = layout.find("memory");
  ASSERT_NE(memory, nullptr);
  limits.oom_kill_disable = !memory->v2;
  bool swap_accounting = memory->v2 || path_exists(memory->mount + "/memory.memsw.limit_in_bytes");
  if (!swap_accounting) limits.memory_swap_bytes.reset();
  // Below a parent made now, as the default "gocrate" may be made by a container.
  std::string name = "gocrate-test-" + std::to_string(::getpid()) + "/res";
  Cgroup cgroup = Cgroup::create(layout, name, limits);
  pid_t pid = sleeper();
  cgroup.add_process(pid);  // a v1 cpuset takes no task without cpus and mems
  auto file = [&](std::string_view controller, std::string_view f) {
    return read_file(layout.find(controller)->mount + "/" + name + "/" + std::string(f));
  };
  if (memory->v2) {
    EXPECT_EQ(file("memory", "memory.swap.max"), std::to_string(32u << 20) + "\n");
    EXPECT_EQ(file("memory", "memory.low"), std::to_string(32u << 20) + "\n");
  } else {
    if (swap_accounting) {
      EXPECT_EQ(file("memory", "memory.memsw.limit_in_bytes"), std::to_string(96u << 20) + "\n");
    }
    EXPECT_EQ(file("memory", "memory.soft_limit_in_bytes"), std::to_string(32u << 20) + "\n");
    EXPECT_NE(file("memory", "memory.oom_control").find("oom_kill_disable 1"), std::string::npos);
  }
  EXPECT_EQ(file("cpu", layout.find("cpu")->v2 ? "cpu.weight" : "cpu.shares"),
            layout.find("cpu")->v2 ? "20\n" : "512\n");
  EXPECT_EQ(file("cpuset", "cpuset.cpus"), "0\n");
  std::string parent = layout.find("cpuset")->mount + "/" + dir_name(name);
  cgroup.remove();
  ::waitpid(pid, nullptr, 0);
  for (const auto& h : layout.hierarchies) {
    EXPECT_FALSE(path_exists(h.mount + "/" + name)) << h.mount;
    ::rmdir((h.mount + "/" + dir_name(name)).c_str());
  }
  EXPECT_FALSE(path_exists(parent));
}

TEST(Cgroup, RefusesOomKillDisableOnV2) {
  CgroupLayout layout;
  layout.hierarchies.push_back({"/nonexistent-cgroup2", true, {"memory", "cpuacct"}});
  ResourceLimits limits;
  limits.memory_bytes = 64u << 20;
  limits.oom_kill_disable = true;
  std::string error = error_of([&] { Cgroup::create(layout, "gocrate/x", limits); });
  EXPECT_NE(error.find("--oom-kill-disable cannot work on cgroup v2"), std::string::npos) << error;
}

// The cgroup v2 code path, on a real cgroup2 mount of its own.
class CgroupV2 : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "mounting cgroup2 needs root";
    make_directories(dir_.path() + "/mnt");
    if (::mount("cgroup2", (dir_.path() + "/mnt").c_str(), "cgroup2", 0, nullptr) != 0) {
      GTEST_SKIP() << "cannot mount cgroup2 here: " << errno_text(errno);
    }
    mounted_ = true;
    layout_ = CgroupLayout::v2_at(dir_.path() + "/mnt");
  }
  void TearDown() override {
    if (mounted_) ::umount2((dir_.path() + "/mnt").c_str(), MNT_DETACH);
  }
  TempDir dir_;
  bool mounted_ = false;
  CgroupLayout layout_;
};

TEST_F(CgroupV2, CreatesPlacesReadsAndRemoves) {
  std::string name = "gocrate-test/v2-" + std::to_string(::getpid());
  Cgroup cgroup = Cgroup::create(layout_, name, {});
  ASSERT_EQ(cgroup.dirs().size(), 1u);
  EXPECT_TRUE(cgroup.v2());
  pid_t pid = sleeper();
  cgroup.add_process(pid);
  std::string procs = read_file(cgroup.dirs()[0] + "/cgroup.procs");
  EXPECT_EQ(procs, std::to_string(pid) + "\n");
  // cpu.stat exists in every v2 cgroup, with or without the cpu controller.
  EXPECT_TRUE(path_exists(cgroup.dirs()[0] + "/cpu.stat"));
  cgroup.stats();
  cgroup.remove();
  ::waitpid(pid, nullptr, 0);
  EXPECT_FALSE(path_exists(dir_.path() + "/mnt/" + name));
  ::rmdir((dir_.path() + "/mnt/gocrate-test").c_str());
}

TEST_F(CgroupV2, RefusesALimitWhoseControllerIsMissingOrEnforcesIt) {
  std::string name = "gocrate-test/v2-limits-" + std::to_string(::getpid());
  ResourceLimits limits;
  limits.memory_bytes = 32u << 20;
  limits.pids = 8;
  limits.cpus = 0.5;
  bool all = layout_.find("memory") && layout_.find("pids") && layout_.find("cpu");
  if (!all) {
    try {
      Cgroup::create(layout_, name, limits);
      FAIL() << "a limit without its controller was accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("cgroup controller"), std::string::npos) << e.what();
    }
    EXPECT_FALSE(path_exists(dir_.path() + "/mnt/" + name));
    GTEST_SKIP()
        << "LOUD: this host's cgroup2 hierarchy has no memory, cpu or pids controller (they are bound to "
           "cgroup v1 here), so v2 limits could not be enforced in this test; only the refusal was checked";
  }
  Cgroup cgroup = Cgroup::create(layout_, name, limits);
  EXPECT_EQ(read_file(cgroup.dirs()[0] + "/memory.max"), std::to_string(32u << 20) + "\n");
  EXPECT_EQ(read_file(cgroup.dirs()[0] + "/pids.max"), "8\n");
  EXPECT_EQ(read_file(cgroup.dirs()[0] + "/cpu.max"), "50000 100000\n");
  cgroup.remove();
}

}  // namespace
}  // namespace gocrate
