#include "runtime/containment/sysctls.h"

#include <gtest/gtest.h>

#include "util/error_for_tests.h"

namespace gocrate {
namespace {

bool mentions(const std::string& error, std::string_view text) {
  return error.find(text) != std::string::npos;
}

TEST(Sysctl, NamespacedOnesAreAccepted) {
  for (std::string text : {"net.ipv4.ip_unprivileged_port_start=0", "net.core.somaxconn=1024",
                           "kernel.shmmax=1", "kernel.shm_rmid_forced=1", "kernel.msgmax=8192",
                           "kernel.sem=250 32000 32 128", "fs.mqueue.msg_max=20", "net/ipv4/ip_forward=1"}) {
    EXPECT_EQ(error_of([&] { parse_sysctl(text); }), "") << text;
  }
  Sysctl s = parse_sysctl("net/ipv4/ip_forward=1");
  EXPECT_EQ(s.key, "net.ipv4.ip_forward");
  EXPECT_EQ(s.value, "1");
  EXPECT_EQ(parse_sysctl("kernel.sem=250 32000 32 128").value, "250 32000 32 128");
}

TEST(Sysctl, HostWideOnesAreRefusedWithTheReason) {
  EXPECT_TRUE(
      mentions(error_of([] { parse_sysctl("kernel.core_pattern=|/tmp/x"); }), "not a namespaced sysctl"));
  EXPECT_TRUE(mentions(error_of([] { parse_sysctl("vm.overcommit_memory=1"); }), "not a namespaced sysctl"));
  EXPECT_TRUE(mentions(error_of([] { parse_sysctl("kernel.hostname=x"); }), "--hostname"));
  EXPECT_TRUE(mentions(error_of([] { parse_sysctl("kernel.domainname=x"); }), "--domainname"));
  EXPECT_TRUE(mentions(error_of([] { parse_sysctl("net..x=1"); }), "not a sysctl name"));
  EXPECT_TRUE(mentions(error_of([] { parse_sysctl("net.ipv4.../../../kernel/core_pattern=1"); }),
                       "not a sysctl name"));
  EXPECT_TRUE(mentions(error_of([] { parse_sysctl("net.core.somaxconn"); }), "KEY=VALUE"));
  EXPECT_TRUE(mentions(error_of([] { parse_sysctl("net.core.somaxconn=1\n2"); }), "newline"));
  EXPECT_TRUE(mentions(error_of([] { check_sysctls({parse_sysctl("net.core.somaxconn=1")}, true, false); }),
                       "--network host"));
  EXPECT_TRUE(mentions(error_of([] { check_sysctls({parse_sysctl("kernel.shmmax=1")}, false, true); }),
                       "--ipc host"));
  EXPECT_EQ(error_of([] { check_sysctls({parse_sysctl("kernel.shmmax=1")}, true, false); }), "");
}

}  // namespace
}  // namespace gocrate
