#include "runtime/containment/capabilities.h"

#include <gtest/gtest.h>
#include <linux/capability.h>

#include "util/error.h"

namespace gocrate {
namespace {

TEST(Capabilities, DockerDefaultSetHasFourteen) {
  EXPECT_EQ(docker_default_capabilities(), 0xa80425fbULL);
  EXPECT_EQ(capability_names(docker_default_capabilities()).size(), 14u);
}

TEST(Capabilities, AddAndDropAsDocker) {
  CapabilitySet set = resolve_capabilities({"NET_ADMIN", "cap_sys_ptrace"}, {"CHOWN"});
  EXPECT_TRUE(set & (1ULL << CAP_NET_ADMIN));
  EXPECT_TRUE(set & (1ULL << CAP_SYS_PTRACE));
  EXPECT_FALSE(set & (1ULL << CAP_CHOWN));
  EXPECT_EQ(resolve_capabilities({}, {"ALL"}), 0u);
  EXPECT_EQ(resolve_capabilities({"KILL"}, {"all"}), 1ULL << CAP_KILL);
  EXPECT_EQ(capability_name(CAP_NET_BIND_SERVICE), "CAP_NET_BIND_SERVICE");
  EXPECT_THROW(parse_capability("FLY"), Error);
}

}  // namespace
}  // namespace gocrate
