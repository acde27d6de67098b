#include "runtime/oci/oci_seccomp.h"

#include <linux/seccomp.h>

#include <cctype>

#include "util/error.h"

namespace gocrate::oci {

namespace {

SeccompAction action_of(std::string_view name, std::optional<uint32_t> errno_ret, std::string_view field) {
  using Kind = SeccompAction::Kind;
  if (name == "SCMP_ACT_ALLOW") return {Kind::allow, 0};
  if (name == "SCMP_ACT_ERRNO") return {Kind::error, static_cast<int>(errno_ret.value_or(EPERM))};
  if (name == "SCMP_ACT_KILL" || name == "SCMP_ACT_KILL_THREAD") return {Kind::kill_thread, 0};
  if (name == "SCMP_ACT_KILL_PROCESS") return {Kind::kill_process, 0};
  if (name == "SCMP_ACT_TRAP") return {Kind::trap, 0};
  if (name == "SCMP_ACT_TRACE") return {Kind::trace, static_cast<int>(errno_ret.value_or(EPERM))};
  if (name == "SCMP_ACT_LOG") return {Kind::log, 0};
  if (name == "SCMP_ACT_NOTIFY")
    fail("linux.seccomp.{}: SCMP_ACT_NOTIFY needs a seccomp agent, which gocrate-runtime does not support",
         field);
  fail("linux.seccomp.{}: unknown action \"{}\"", field, name);
}

SyscallRule::Arg::Op op_of(std::string_view name, std::string_view field) {
  using Op = SyscallRule::Arg::Op;
  if (name == "SCMP_CMP_EQ") return Op::equal;
  if (name == "SCMP_CMP_NE") return Op::not_equal;
  if (name == "SCMP_CMP_LT") return Op::less;
  if (name == "SCMP_CMP_LE") return Op::less_equal;
  if (name == "SCMP_CMP_GT") return Op::greater;
  if (name == "SCMP_CMP_GE") return Op::greater_equal;
  if (name == "SCMP_CMP_MASKED_EQ") return Op::masked_equal;
  fail("linux.seccomp.{}: unknown comparison \"{}\"", field, name);
}

}  // namespace

SeccompProfile seccomp_profile_of(const Seccomp& seccomp) {
  if (!seccomp.listener_path.empty())
    fail("linux.seccomp.listenerPath: gocrate-runtime has no seccomp agent support; drop it");
  SeccompProfile profile;
  profile.default_action = action_of(seccomp.default_action, seccomp.default_errno_ret, "defaultAction");
  for (const auto& arch : seccomp.architectures) {
    std::string_view name = arch;
    if (!name.starts_with("SCMP_ARCH_"))
      fail("linux.seccomp.architectures: \"{}\" is not an SCMP_ARCH_ name", arch);
    std::string lower;
    for (char c : name.substr(10)) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    profile.arches.push_back(lower);
  }
  for (size_t i = 0; i < seccomp.syscalls.size(); ++i) {
    const auto& s = seccomp.syscalls[i];
    std::string field = fmt::format("syscalls[{}]", i);
    SeccompAction action = action_of(s.action, s.errno_ret, field + ".action");
    std::vector<SyscallRule::Arg> args;
    for (size_t j = 0; j < s.args.size(); ++j) {
      const auto& a = s.args[j];
      if (a.index > 5) fail("linux.seccomp.{}.args[{}].index: {} is above 5", field, j, a.index);
      SyscallRule::Arg arg{a.index, op_of(a.op, fmt::format("{}.args[{}].op", field, j)), a.value, 0};
      if (arg.op == SyscallRule::Arg::Op::masked_equal) {
        arg.mask = a.value;
        arg.value = a.value_two;
      }
      args.push_back(arg);
    }
    add_syscall_rules(profile, s.names, action, args);
  }
  return profile;
}

unsigned seccomp_flags_of(const Seccomp& seccomp) {
  unsigned flags = 0;
  for (const auto& flag : seccomp.flags) {
    if (flag == "SECCOMP_FILTER_FLAG_TSYNC") {
      flags |= SECCOMP_FILTER_FLAG_TSYNC;
    } else if (flag == "SECCOMP_FILTER_FLAG_LOG") {
      flags |= SECCOMP_FILTER_FLAG_LOG;
    } else if (flag == "SECCOMP_FILTER_FLAG_SPEC_ALLOW") {
      flags |= SECCOMP_FILTER_FLAG_SPEC_ALLOW;
    } else {
      fail("linux.seccomp.flags: unknown flag \"{}\"", flag);
    }
  }
  return flags;
}

}  // namespace gocrate::oci
