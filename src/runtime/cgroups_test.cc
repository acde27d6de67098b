#include "runtime/cgroups.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>

#include "util/error.h"
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
