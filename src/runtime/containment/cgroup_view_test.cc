#include "runtime/containment/cgroup_view.h"

#include <gtest/gtest.h>

namespace gocrate {
namespace {

std::vector<std::string> names(const std::vector<OwnCgroupHierarchy>& hierarchies) {
  std::vector<std::string> out;
  for (const auto& h : hierarchies) out.push_back((h.v2 ? "v2:" : "v1:") + h.controllers + "@" + h.name);
  return out;
}

TEST(CgroupView, V1ShowsTheHierarchiesTheContainerHasACgroupIn) {
  constexpr std::string_view text =
      "9:name=systemd:/gocrate/abc\n"
      "8:pids:/gocrate/abc\n"
      "7:blkio:/\n"
      "5:devices:/gocrate/abc\n"
      "4:memory:/gocrate/abc\n"
      "2:cpu,cpuacct:/gocrate/abc\n"
      "1:cpuset:/gocrate/abcd\n"
      "0::/\n";
  EXPECT_EQ(names(own_cgroup_hierarchies(text, "/gocrate/abc")),
            (std::vector<std::string>{"v1:pids@pids", "v1:devices@devices", "v1:memory@memory",
                                      "v1:cpu,cpuacct@cpu,cpuacct"}));
}

TEST(CgroupView, HybridAddsUnifiedOnlyWhenTheContainerHasAV2CgroupOfItsOwn) {
  constexpr std::string_view own = "4:memory:/gocrate/x\n0::/gocrate/x\n";
  EXPECT_EQ(names(own_cgroup_hierarchies(own, "/gocrate/x")),
            (std::vector<std::string>{"v1:memory@memory", "v2:@unified"}));
  constexpr std::string_view host = "4:memory:/gocrate/x\n0::/user.slice/session-1.scope\n";
  EXPECT_EQ(names(own_cgroup_hierarchies(host, "/gocrate/x")),
            (std::vector<std::string>{"v1:memory@memory"}));
}

TEST(CgroupView, PureV2IsMountedOnSysFsCgroupItself) {
  EXPECT_EQ(names(own_cgroup_hierarchies("0::/gocrate/x\n", "/gocrate/x")),
            (std::vector<std::string>{"v2:@"}));
  EXPECT_TRUE(own_cgroup_hierarchies("0::/system.slice\n", "/gocrate/x").empty());
  EXPECT_TRUE(own_cgroup_hierarchies("garbage\n\n", "/gocrate/x").empty());
}

}  // namespace
}  // namespace gocrate
