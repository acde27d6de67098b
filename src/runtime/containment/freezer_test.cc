#include "runtime/containment/freezer.h"

#include <gtest/gtest.h>

namespace gocrate {
namespace {

const std::string kId = "gocrate/0123abcd";

CgroupLayout hybrid() {
  CgroupLayout layout;
  layout.hierarchies = {{"/sys/fs/cgroup/memory", false, {"memory"}},
                        {"/sys/fs/cgroup/pids", false, {"pids"}},
                        {"/sys/fs/cgroup/freezer", false, {"freezer"}},
                        {"/sys/fs/cgroup/unified", true, {"cpuacct"}}};
  return layout;
}

TEST(Freezer, HybridUsesTheV1FreezerBesideTheContainersDirectories) {
  auto f = freezer_cgroup(hybrid(), {"/sys/fs/cgroup/memory/" + kId, "/sys/fs/cgroup/pids/" + kId});
  ASSERT_TRUE(f);
  EXPECT_EQ(f->dir, "/sys/fs/cgroup/freezer/" + kId);
  EXPECT_FALSE(f->v2);
  EXPECT_FALSE(f->joined);
}

TEST(Freezer, AJoinedV2DirectoryComesFirst) {
  // A hybrid host's v2 directory made for the device rules holds every process.
  auto f = freezer_cgroup(hybrid(), {"/sys/fs/cgroup/memory/" + kId, "/sys/fs/cgroup/unified/" + kId});
  ASSERT_TRUE(f);
  EXPECT_EQ(f->dir, "/sys/fs/cgroup/unified/" + kId);
  EXPECT_TRUE(f->v2);
  EXPECT_TRUE(f->joined);
}

TEST(Freezer, PureV2FreezesTheContainersOwnCgroup) {
  CgroupLayout layout;
  layout.hierarchies = {{"/sys/fs/cgroup", true, {"memory", "pids", "cpu", "cpuacct"}}};
  auto f = freezer_cgroup(layout, {"/sys/fs/cgroup/" + kId});
  ASSERT_TRUE(f);
  EXPECT_EQ(f->dir, "/sys/fs/cgroup/" + kId);
  EXPECT_TRUE(f->v2);
  EXPECT_TRUE(f->joined);
}

TEST(Freezer, V1WithoutAFreezerFallsBackToTheV2Hierarchy) {
  CgroupLayout layout = hybrid();
  layout.hierarchies.erase(layout.hierarchies.begin() + 2);
  auto f = freezer_cgroup(layout, {"/sys/fs/cgroup/memory/" + kId});
  ASSERT_TRUE(f);
  EXPECT_EQ(f->dir, "/sys/fs/cgroup/unified/" + kId);
  EXPECT_TRUE(f->v2);
  EXPECT_FALSE(f->joined);
}

TEST(Freezer, NothingToFreezeWith) {
  CgroupLayout v1_only;
  v1_only.hierarchies = {{"/sys/fs/cgroup/memory", false, {"memory"}}};
  EXPECT_FALSE(freezer_cgroup(v1_only, {"/sys/fs/cgroup/memory/" + kId}));
  EXPECT_FALSE(freezer_cgroup(hybrid(), {}));
  EXPECT_FALSE(freezer_cgroup(hybrid(), {"/elsewhere/" + kId}));
}

TEST(Freezer, ReadsTheStateFiles) {
  EXPECT_TRUE(freezer_text_frozen("FROZEN\n", false));
  EXPECT_TRUE(freezer_text_frozen("FREEZING\n", false));
  EXPECT_FALSE(freezer_text_frozen("THAWED\n", false));
  EXPECT_TRUE(freezer_text_frozen("1\n", true));
  EXPECT_FALSE(freezer_text_frozen("0\n", true));
}

}  // namespace
}  // namespace gocrate
