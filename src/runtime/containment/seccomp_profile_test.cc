#include "runtime/containment/seccomp_profile.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/capability.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "runtime/containment/moby_default_profile_for_tests.h"
#include "util/error_for_tests.h"
#include "util/fs.h"

namespace gocrate {
namespace {

using Op = SyscallRule::Arg::Op;

std::vector<const SyscallRule*> rules_of(const SeccompProfile& p, std::string_view name) {
  std::vector<const SyscallRule*> found;
  for (const auto& r : p.rules) {
    if (r.name == name) found.push_back(&r);
  }
  return found;
}

constexpr CapabilitySet cap(int number) {
  return CapabilitySet{1} << number;
}

SeccompProfile moby_default(CapabilitySet caps, std::string_view arch = "amd64", int kernel = 6,
                            int major = 1) {
  return parse_docker_seccomp_profile(kMobyDefaultProfileForTests, "default.json",
                                      {caps, std::string(arch), kernel, major});
}

TEST(DockerSeccompProfile, MobyDefaultForDefaultCapabilitiesOnAmd64) {
  auto p = moby_default(docker_default_capabilities());
  EXPECT_EQ(p.default_action, SeccompAction::error(EPERM));
  // archMap: the host's entry and its subArchitectures.
  EXPECT_EQ(p.arches, (std::vector<std::string>{"x86_64", "x86", "x32"}));
  for (auto name : {"read", "mkdirat", "execve", "arch_prctl", "modify_ldt", "chroot", "ptrace"}) {
    auto found = rules_of(p, name);
    ASSERT_FALSE(found.empty()) << name;
    EXPECT_EQ(found[0]->action, SeccompAction::allow()) << name;
    EXPECT_TRUE(found[0]->args.empty()) << name;
  }
  // Sections for capabilities the container lacks, and other arches, are out.
  for (auto name : {"bpf", "unshare", "setns", "reboot", "init_module", "open_by_handle_at", "iopl",
                    "cacheflush", "s390_runtime_instr", "riscv_flush_icache", "swapcontext"}) {
    EXPECT_TRUE(rules_of(p, name).empty()) << name;
  }
  auto socket = rules_of(p, "socket");
  ASSERT_EQ(socket.size(), 3u);
  EXPECT_EQ(socket[0]->args[0].op, Op::less);
  EXPECT_EQ(socket[0]->args[0].value, 38u);
  EXPECT_EQ(socket[1]->args[0].op, Op::equal);
  EXPECT_EQ(socket[2]->args[0].op, Op::greater);
  EXPECT_EQ(socket[2]->args[0].value, 40u);
  auto personality = rules_of(p, "personality");
  ASSERT_EQ(personality.size(), 5u);
  EXPECT_EQ(personality[4]->args[0].value, 0xffffffffu);

  // clone without namespace flags: MASKED_EQ's value is the mask, valueTwo
  // (absent: 0) what the masked argument must equal.
  auto clone = rules_of(p, "clone");
  ASSERT_EQ(clone.size(), 1u);
  ASSERT_EQ(clone[0]->args.size(), 1u);
  EXPECT_EQ(clone[0]->args[0].index, 0u);
  EXPECT_EQ(clone[0]->args[0].op, Op::masked_equal);
  EXPECT_EQ(clone[0]->args[0].mask, 2114060288u);
  EXPECT_EQ(clone[0]->args[0].value, 0u);
  auto clone3 = rules_of(p, "clone3");
  ASSERT_EQ(clone3.size(), 1u);
  EXPECT_EQ(clone3[0]->action, SeccompAction::error(ENOSYS));  // errnoRet 38
}

TEST(DockerSeccompProfile, CapabilitiesArchesAndKernelDecideTheSections) {
  auto admin = moby_default(docker_default_capabilities() | cap(CAP_SYS_ADMIN) | cap(CAP_DAC_READ_SEARCH));
  for (auto name : {"bpf", "unshare", "setns", "open_by_handle_at"})
    EXPECT_FALSE(rules_of(admin, name).empty()) << name;
  auto clone = rules_of(admin, "clone");
  ASSERT_EQ(clone.size(), 1u);
  EXPECT_TRUE(clone[0]->args.empty());
  auto clone3 = rules_of(admin, "clone3");
  ASSERT_EQ(clone3.size(), 1u);
  EXPECT_EQ(clone3[0]->action, SeccompAction::allow());

  auto no_chroot = moby_default(docker_default_capabilities() & ~cap(CAP_SYS_CHROOT));
  EXPECT_TRUE(rules_of(no_chroot, "chroot").empty());

  auto arm = moby_default(docker_default_capabilities(), "arm64");
  EXPECT_EQ(arm.arches, (std::vector<std::string>{"aarch64", "arm"}));
  EXPECT_FALSE(rules_of(arm, "cacheflush").empty());
  EXPECT_TRUE(rules_of(arm, "arch_prctl").empty());

  // s390's clone takes its flags second; subArchitectures null is none.
  auto s390 = moby_default(docker_default_capabilities(), "s390x");
  EXPECT_EQ(s390.arches, (std::vector<std::string>{"s390x", "s390"}));
  auto s390_clone = rules_of(s390, "clone");
  ASSERT_EQ(s390_clone.size(), 1u);
  EXPECT_EQ(s390_clone[0]->args[0].index, 1u);
  EXPECT_EQ(moby_default(docker_default_capabilities(), "riscv64").arches,
            std::vector<std::string>{"riscv64"});

  // minKernel 4.8 for ptrace without CAP_SYS_PTRACE.
  EXPECT_TRUE(rules_of(moby_default(docker_default_capabilities(), "amd64", 4, 4), "ptrace").empty());
  EXPECT_FALSE(rules_of(moby_default(docker_default_capabilities(), "amd64", 4, 8), "ptrace").empty());
  EXPECT_FALSE(rules_of(moby_default(docker_default_capabilities(), "amd64", 5, 0), "ptrace").empty());
}

SeccompProfile parse(std::string_view text, CapabilitySet caps = docker_default_capabilities()) {
  return parse_docker_seccomp_profile(text, "p.json", {caps, "amd64", 6, 1});
}

TEST(DockerSeccompProfile, ReadsJsonAsGoDoes) {
  // Unknown keys and comments are ignored, keys match in any case, null is
  // absent, and the old "name" still works.
  auto p = parse(R"({"DefaultAction": "SCMP_ACT_ALLOW", "architectures": null, "whatever": [1],
    "syscalls": [{"name": "mkdir", "action": "SCMP_ACT_ERRNO", "errnoRet": 13, "comment": "no", "args": null,
                  "includes": null, "excludes": {}},
                 {"names": ["rmdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 0},
                 {"names": ["umask"], "action": "SCMP_ACT_KILL"},
                 {"names": ["getpid"], "action": "SCMP_ACT_KILL_PROCESS"},
                 {"names": ["getppid"], "action": "SCMP_ACT_TRAP"},
                 {"names": ["gettid"], "action": "SCMP_ACT_LOG"},
                 {"names": ["uname"], "action": "SCMP_ACT_TRACE", "errnoRet": 7},
                 {"names": ["sync"], "action": "SCMP_ACT_ERRNO"}]})");
  EXPECT_EQ(p.default_action, SeccompAction::allow());
  EXPECT_TRUE(p.arches.empty());
  ASSERT_EQ(p.rules.size(), 8u);
  using Kind = SeccompAction::Kind;
  EXPECT_EQ(p.rules[0].name, "mkdir");
  EXPECT_EQ(p.rules[0].action, SeccompAction::error(EACCES));
  EXPECT_EQ(p.rules[1].action, SeccompAction::error(0));
  EXPECT_EQ(p.rules[2].action.kind, Kind::kill_thread);
  EXPECT_EQ(p.rules[3].action.kind, Kind::kill_process);
  EXPECT_EQ(p.rules[4].action.kind, Kind::trap);
  EXPECT_EQ(p.rules[5].action.kind, Kind::log);
  EXPECT_EQ(p.rules[6].action, (SeccompAction{Kind::trace, 7}));
  EXPECT_EQ(p.rules[7].action, SeccompAction::error(EPERM));

  auto errno_default = parse(R"({"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 38, "syscalls": []})");
  EXPECT_EQ(errno_default.default_action, SeccompAction::error(ENOSYS));
  auto listed =
      parse(R"({"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"]})");
  EXPECT_EQ(listed.arches, (std::vector<std::string>{"x86_64", "x86"}));
}

TEST(DockerSeccompProfile, ConditionsOnOneArgumentAreAlternatives) {
  auto p = parse(R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
    {"names": ["personality", "kill"], "action": "SCMP_ACT_ERRNO",
     "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}, {"index": 1, "value": 2, "valueTwo": 2, "op": "SCMP_CMP_MASKED_EQ"}]},
    {"names": ["fchmod"], "action": "SCMP_ACT_ERRNO",
     "args": [{"index": 1, "value": 1, "op": "SCMP_CMP_LE"}, {"index": 1, "value": 9, "op": "SCMP_CMP_GE"}]}]})");
  auto personality = rules_of(p, "personality");
  ASSERT_EQ(personality.size(), 1u);
  ASSERT_EQ(personality[0]->args.size(), 2u);
  EXPECT_EQ(personality[0]->args[1].op, Op::masked_equal);
  EXPECT_EQ(personality[0]->args[1].mask, 2u);
  EXPECT_EQ(personality[0]->args[1].value, 2u);
  EXPECT_EQ(rules_of(p, "kill").size(), 1u);
  auto fchmod = rules_of(p, "fchmod");
  ASSERT_EQ(fchmod.size(), 2u);
  EXPECT_EQ(fchmod[0]->args[0].op, Op::less_equal);
  EXPECT_EQ(fchmod[1]->args[0].op, Op::greater_equal);
}

// Everything Docker refuses, and what gocrate cannot apply, is one line that
// names the file and the field.
TEST(DockerSeccompProfile, BadProfilesNameTheFileAndTheField) {
  struct Case {
    std::string_view text;
    std::vector<std::string_view> expected;
  };
  const Case cases[] = {
      {R"({"defaultAction": "SCMP_ACT_ALLOW",)", {"p.json", "not valid JSON", "line 1"}},
      {"", {"p.json", "not valid JSON"}},
      {"[]", {"p.json", "not a JSON object"}},
      {"{}", {"p.json", "defaultAction", "missing", "seccomp=unconfined"}},
      {R"({"defaultAction": "SCMP_ACT_NOPE"})",
       {"p.json", "defaultAction", "SCMP_ACT_NOPE", "SCMP_ACT_ERRNO"}},
      {R"({"defaultAction": 3})", {"p.json", "defaultAction", "must be a string"}},
      {R"({"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": -1})", {"defaultErrnoRet", "whole number"}},
      {R"({"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 4096})",
       {"defaultErrnoRet", "4096", "errno"}},
      {R"({"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1.5})", {"defaultErrnoRet", "whole number"}},
      {R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": {}})", {"p.json", "syscalls", "must be a list"}},
      {R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": ["mkdir"]})", {"syscalls[0]", "must be an object"}},
      {R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": "mkdir", "action": "SCMP_ACT_ERRNO"}]})",
       {"syscalls[0].names", "must be a list"}},
      {R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": [1], "action": "SCMP_ACT_ERRNO"}]})",
       {"syscalls[0].names[0]", "must be a string"}},
      {R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": [], "action": "SCMP_ACT_LOG"}, {"names": ["mkdir"]}]})",
       {"syscalls[1].action", "missing"}},
      {R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["a"], "action": "SCMP_ACT_ERRNO"},
           {"names": ["mkdir"], "action": "ALLOW"}]})",
       {"p.json", "syscalls[1].action", "\"ALLOW\"", "SCMP_ACT_ALLOW"}},
      {R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"name": "a", "names": ["b"], "action": "SCMP_ACT_LOG"}]})",
       {"syscalls[0]", "both name and names"}},
      {R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["a"], "action": "SCMP_ACT_NOTIFY"}]})",
       {"syscalls[0].action", "SCMP_ACT_NOTIFY", "not supported"}},
      {R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["a"], "action": "SCMP_ACT_ERRNO",
           "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_LIKE"}]}]})",
       {"syscalls[0].args[0].op", "SCMP_CMP_LIKE", "SCMP_CMP_MASKED_EQ"}},
      {R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["a"], "action": "SCMP_ACT_ERRNO",
           "args": [{"index": 0, "value": 1}]}]})",
       {"syscalls[0].args[0].op", "not a comparison"}},
      {R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["a"], "action": "SCMP_ACT_ERRNO",
           "args": [{"index": 6, "value": 1, "op": "SCMP_CMP_EQ"}]}]})",
       {"syscalls[0].args[0].index", "0 to 5"}},
      {R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["a"], "action": "SCMP_ACT_ERRNO",
           "args": [{"index": 0, "value": "1", "op": "SCMP_CMP_EQ"}]}]})",
       {"syscalls[0].args[0].value", "whole number"}},
      {R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["a"], "action": "SCMP_ACT_ERRNO",
           "includes": {"minKernel": "4"}}]})",
       {"syscalls[0].includes.minKernel", "\"4\"", "kernel version"}},
      {R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["a"], "action": "SCMP_ACT_ERRNO",
           "excludes": {"caps": "CAP_SYS_ADMIN"}}]})",
       {"syscalls[0].excludes.caps", "must be a list"}},
      {R"({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["x86_64"]})",
       {"architectures[0]", "\"x86_64\"", "SCMP_ARCH_X86_64"}},
      {R"({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_VAX"]})",
       {"architectures[0]", "SCMP_ARCH_VAX", "does not know"}},
      {R"({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86"],
           "archMap": [{"architecture": "SCMP_ARCH_X86_64"}]})",
       {"archMap", "both"}},
      {R"({"defaultAction": "SCMP_ACT_ALLOW", "archMap": [{"architecture": "SCMP_ARCH_X86_64",
           "subArchitectures": ["SCMP_ARCH_PDP11"]}]})",
       {"archMap[0].subArchitectures[0]", "SCMP_ARCH_PDP11"}},
      {R"({"defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_LOG"]})",
       {"flags", "not supported"}},
      {R"({"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/run/agent.sock"})",
       {"listenerPath", "not supported"}},
  };
  for (const auto& c : cases) {
    std::string message = error_of([&] { parse(c.text); });
    ASSERT_FALSE(message.empty()) << c.text;
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
    for (auto expected : c.expected) EXPECT_NE(message.find(expected), std::string::npos) << message;
  }
  // Another host's archMap entry may name what this libseccomp lacks.
  EXPECT_EQ(
      error_of([] {
        parse(R"({"defaultAction": "SCMP_ACT_ALLOW", "archMap": [{"architecture": "SCMP_ARCH_FUTURE64"}]})");
      }),
      "");
}

// A Docker profile compiled and installed in a child does what it says.
TEST(DockerSeccompProfile, CompiledFilterActsAsTheProfileSays) {
  auto p = parse(R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
    {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1},
    {"names": ["rmdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 0},
    {"names": ["personality"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13,
     "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]},
    {"names": ["umask"], "action": "SCMP_ACT_ERRNO", "errnoRet": 22,
     "args": [{"index": 0, "value": 448, "valueTwo": 448, "op": "SCMP_CMP_MASKED_EQ"}]},
    {"names": ["getpriority"], "action": "SCMP_ACT_ALLOW"},
    {"names": ["no_such_call_anywhere"], "action": "SCMP_ACT_ERRNO"}]})");
  std::string program = compile_seccomp(p);
  ASSERT_EQ(program.size() % 8, 0u);
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    load_seccomp_program(program);
    int code = 0;
    if (::mkdir("/nonexistent-dir/x", 0755) != -1 || errno != EPERM) code |= 1;
    if (::syscall(SYS_mkdirat, AT_FDCWD, "/nonexistent-dir/x", 0755) != -1 || errno != EPERM) code |= 1;
    if (::rmdir("/nonexistent-dir") != 0) code |= 2;  // errnoRet 0: success without the call
    if (::syscall(SYS_personality, 8) != -1 || errno != EACCES) code |= 4;
    if (::syscall(SYS_personality, 0xffffffff) == -1) code |= 4;
    if (::syscall(SYS_umask, 0700) != -1 || errno != EINVAL) code |= 8;
    if (::syscall(SYS_umask, 0022) == -1) code |= 8;
    if (::getpid() <= 0) code |= 16;
    ::_exit(code);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);

  // A profile that denies by default allows only what it lists.
  auto deny = parse(R"({"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 38, "syscalls": [
    {"names": ["exit_group", "exit", "getpid"], "action": "SCMP_ACT_ALLOW"}]})");
  program = compile_seccomp(deny);
  pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    load_seccomp_program(program);
    int code = 0;
    if (::syscall(SYS_getppid) != -1 || errno != ENOSYS) code |= 1;
    if (::syscall(SYS_getpid) <= 0) code |= 2;
    ::syscall(SYS_exit_group, code);
  }
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

TEST(DockerSeccompProfile, TheContainerKeepsTheProfileItWasGiven) {
  auto given = container_seccomp_profile(R"({"defaultAction":"SCMP_ACT_LOG"})", docker_default_capabilities(),
                                         "amd64", "amd64");
  EXPECT_EQ(given.default_action.kind, SeccompAction::Kind::log);
  EXPECT_TRUE(given.rules.empty());
  auto fallback = container_seccomp_profile("", docker_default_capabilities(), "amd64", "amd64");
  EXPECT_EQ(fallback.canonical_text(),
            docker_default_profile(docker_default_capabilities(), "amd64", "amd64").canonical_text());
}

TEST(DockerSeccompProfile, OnlyARegularFileOfBoundedSizeIsRead) {
  TempDir dir;
  std::string file = dir.path() + "/p.json";
  write_file_atomic(file, R"({
    "defaultAction": "SCMP_ACT_ALLOW",
    "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"}]
  })");
  std::string text = read_docker_seccomp_profile(file, docker_default_capabilities());
  EXPECT_EQ(nlohmann::json::parse(text), nlohmann::json::parse(read_file(file)));
  EXPECT_EQ(text.find('\n'), std::string::npos);

  std::string fifo = dir.path() + "/fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  std::string message = error_of([&] { read_docker_seccomp_profile(fifo, 0); });
  EXPECT_NE(message.find(fifo), std::string::npos) << message;
  EXPECT_NE(message.find("a FIFO"), std::string::npos) << message;
  message = error_of([&] { read_docker_seccomp_profile("/dev/zero", 0); });
  EXPECT_NE(message.find("/dev/zero is a character device"), std::string::npos) << message;
  message = error_of([&] { read_docker_seccomp_profile(dir.path(), 0); });
  EXPECT_NE(message.find("a directory"), std::string::npos) << message;
  message = error_of([&] { read_docker_seccomp_profile(dir.path() + "/missing.json", 0); });
  EXPECT_NE(message.find("missing.json"), std::string::npos) << message;

  std::string big = dir.path() + "/big.json";
  write_file_atomic(
      big, R"({"defaultAction": "SCMP_ACT_ALLOW", "comment": ")" + std::string(2 << 20, 'x') + "\"}");
  message = error_of([&] { read_docker_seccomp_profile(big, 0); });
  EXPECT_NE(message.find("larger than"), std::string::npos) << message;

  std::string bad = dir.path() + "/bad.json";
  write_file_atomic(
      bad, R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["x"], "action": "NOPE"}]})");
  message = error_of([&] { read_docker_seccomp_profile(bad, 0); });
  EXPECT_NE(message.find(bad + ": syscalls[0].action"), std::string::npos) << message;
}

}  // namespace
}  // namespace gocrate
