#include "runtime/containment/seccomp.h"

#include <gtest/gtest.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>

namespace gocrate {
namespace {

const SyscallRule* find_rule(const SeccompProfile& p, std::string_view name) {
  auto it =
      std::find_if(p.rules.begin(), p.rules.end(), [&](const SyscallRule& r) { return r.name == name; });
  return it == p.rules.end() ? nullptr : &*it;
}

int count_rules(const SeccompProfile& p, std::string_view name) {
  return static_cast<int>(
      std::count_if(p.rules.begin(), p.rules.end(), [&](auto& r) { return r.name == name; }));
}

TEST(SeccompProfile, DefaultCapabilitiesDenyNamespaceAndKernelCalls) {
  auto p = docker_default_profile(docker_default_capabilities(), "amd64", "amd64", 6, 1);
  EXPECT_EQ(p.default_action, SeccompAction::error(EPERM));
  EXPECT_EQ(p.arches, std::vector<std::string>{"x86_64"});
  for (auto name : {"mount", "umount2", "unshare", "setns", "keyctl", "init_module", "finit_module", "bpf",
                    "reboot", "kexec_load", "open_by_handle_at", "add_key", "request_key"}) {
    EXPECT_EQ(find_rule(p, name), nullptr) << name;
  }
  for (auto name : {"read", "execve", "arch_prctl", "modify_ldt", "ptrace", "chroot", "futex"}) {
    ASSERT_NE(find_rule(p, name), nullptr) << name;
    EXPECT_EQ(find_rule(p, name)->action, SeccompAction::allow()) << name;
  }
  for (auto name : {"io_uring_setup", "io_uring_enter", "io_uring_register"})
    EXPECT_EQ(find_rule(p, name), nullptr) << name;
}

TEST(SeccompProfile, CloneMayNotCreateNamespacesWithoutSysAdmin) {
  auto p = docker_default_profile(docker_default_capabilities(), "amd64", "amd64", 6, 1);
  const SyscallRule* clone = find_rule(p, "clone");
  ASSERT_NE(clone, nullptr);
  ASSERT_EQ(clone->args.size(), 1u);
  EXPECT_EQ(clone->args[0].index, 0u);
  EXPECT_EQ(clone->args[0].op, SyscallRule::Arg::Op::masked_equal);
  EXPECT_EQ(clone->args[0].mask, 0x7E020000u);
  EXPECT_EQ(clone->args[0].value, 0u);
  const SyscallRule* clone3 = find_rule(p, "clone3");
  ASSERT_NE(clone3, nullptr);
  EXPECT_EQ(clone3->action, SeccompAction::error(ENOSYS));
}

TEST(SeccompProfile, CapabilitiesUnlockTheirSections) {
  CapabilitySet caps = docker_default_capabilities() | (1ULL << CAP_SYS_ADMIN) | (1ULL << CAP_SYS_MODULE);
  auto p = docker_default_profile(caps, "amd64", "amd64", 6, 1);
  for (auto name : {"unshare", "setns", "sethostname"}) EXPECT_NE(find_rule(p, name), nullptr) << name;
  const SyscallRule* clone = find_rule(p, "clone");
  ASSERT_NE(clone, nullptr);
  EXPECT_TRUE(clone->args.empty());
  EXPECT_EQ(count_rules(p, "clone3"), 1);
  EXPECT_EQ(find_rule(p, "clone3")->action, SeccompAction::allow());

  CapabilitySet no_chroot = docker_default_capabilities() & ~(1ULL << CAP_SYS_CHROOT);
  EXPECT_EQ(find_rule(docker_default_profile(no_chroot, "amd64", "amd64", 6, 1), "chroot"), nullptr);
}

// Short of --privileged (no filter), no capability reopens what would let a
// container out: mounts over /proc/sys, kernel memory, modules, file handles.
TEST(SeccompProfile, AddedCapabilitiesKeepTheEscapesDenied) {
  auto p = docker_default_profile(all_capabilities(), "amd64", "amd64", 6, 1);
  for (auto name :
       {"mount",       "umount",        "umount2",       "pivot_root", "move_mount",        "fsopen",
        "fsmount",     "fspick",        "fsconfig",      "open_tree",  "mount_setattr",     "bpf",
        "init_module", "finit_module",  "delete_module", "kexec_load", "open_by_handle_at", "iopl",
        "ioperm",      "io_uring_setup"}) {
    EXPECT_EQ(find_rule(p, name), nullptr) << name;
  }
}

TEST(SeccompProfile, ArgumentConditionsAndArchitectureSections) {
  auto p = docker_default_profile(docker_default_capabilities(), "amd64", "amd64", 6, 1);
  const SyscallRule* socket = find_rule(p, "socket");
  ASSERT_NE(socket, nullptr);
  ASSERT_EQ(socket->args.size(), 1u);
  EXPECT_EQ(socket->args[0].op, SyscallRule::Arg::Op::not_equal);
  EXPECT_EQ(socket->args[0].value, 40u);  // AF_VSOCK
  EXPECT_EQ(count_rules(p, "personality"), 5);

  auto arm = docker_default_profile(docker_default_capabilities(), "arm64", "arm64", 6, 1);
  EXPECT_EQ(arm.arches, std::vector<std::string>{"aarch64"});
  EXPECT_NE(find_rule(arm, "cacheflush"), nullptr);
  EXPECT_EQ(find_rule(arm, "arch_prctl"), nullptr);
  EXPECT_EQ(find_rule(arm, "modify_ldt"), nullptr);

  auto x86 = docker_default_profile(docker_default_capabilities(), "amd64", "386", 6, 1);
  EXPECT_EQ(x86.arches, (std::vector<std::string>{"x86_64", "x86"}));

  auto old = docker_default_profile(docker_default_capabilities(), "amd64", "amd64", 4, 4);
  EXPECT_EQ(find_rule(old, "ptrace"), nullptr);
}

TEST(SeccompProfile, CanonicalTextChangesWithTheProfile) {
  auto a = docker_default_profile(docker_default_capabilities(), "amd64", "amd64", 6, 1);
  auto b =
      docker_default_profile(docker_default_capabilities() | (1ULL << CAP_SYS_ADMIN), "amd64", "amd64", 6, 1);
  EXPECT_NE(a.canonical_text(), b.canonical_text());
  EXPECT_EQ(a.canonical_text(),
            docker_default_profile(docker_default_capabilities(), "amd64", "amd64", 6, 1).canonical_text());
}

// The compiled filter, installed in a child, refuses what the profile leaves
// out and lets the rest through.
TEST(SeccompFilter, CompiledProgramDeniesAndAllows) {
  auto profile = docker_default_profile(docker_default_capabilities(), "amd64", "amd64");
  std::string program = compile_seccomp(profile);
  ASSERT_GT(program.size(), 0u);
  ASSERT_EQ(program.size() % sizeof(sock_filter), 0u);
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    load_seccomp_program(program);
    int code = 0;
    if (::syscall(SYS_unshare, 0x10000000 /* CLONE_NEWUSER */) != -1 || errno != EPERM) code |= 1;
    if (::syscall(SYS_keyctl, 0, 0, 0, 0, 0) != -1 || errno != EPERM) code |= 2;
    if (::syscall(SYS_clone3, nullptr, 0) != -1 || errno != ENOSYS) code |= 4;
    if (::getpid() <= 0) code |= 8;
    if (::syscall(SYS_socket, 40, 1, 0) != -1 || errno != EPERM) code |= 16;
    // The request is 32 bits: setting the upper half must not get TIOCSTI through.
    char c = 'x';
    if (::syscall(SYS_ioctl, 0, TIOCSTI, &c) != -1 || errno != EPERM) code |= 32;
    if (::syscall(SYS_ioctl, 0, (1UL << 32) | TIOCSTI, &c) != -1 || errno != EPERM) code |= 32;
    if (::syscall(SYS_ioctl, 0, TIOCLINUX, &c) != -1 || errno != EPERM) code |= 32;
    int fds[2];
    if (::pipe(fds) != 0) code |= 64;
    int available = -1;
    if (::syscall(SYS_ioctl, fds[0], FIONREAD, &available) != 0 || available != 0) code |= 64;
    if (::syscall(SYS_ioctl, fds[0], TIOCSTI + 1, &c) != -1 || errno != ENOTTY) code |= 64;
    if (::syscall(SYS_io_uring_setup, 1, nullptr) != -1 || errno != EPERM) code |= 128;
    ::_exit(code);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

}  // namespace
}  // namespace gocrate
