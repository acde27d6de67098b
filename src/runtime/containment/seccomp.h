#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/containment/capabilities.h"

namespace gocrate {

// What a filter does with a system call: Docker's SCMP_ACT_* actions.
struct SeccompAction {
  enum class Kind : uint8_t { allow, error, kill_thread, kill_process, trap, trace, log };
  Kind kind = Kind::allow;
  int value = 0;  // error: the errno returned (0 fakes success); trace: the number the tracer is given

  static SeccompAction allow() { return {}; }
  static SeccompAction error(int errno_value) { return {Kind::error, errno_value}; }
  bool operator==(const SeccompAction&) const = default;
};

// A seccomp profile with the meaning of Docker's profiles: a system call no
// rule matches gets default_action; a rule matches when all its argument
// conditions hold. Rules for one syscall add up.
struct SyscallRule {
  struct Arg {
    enum class Op { equal, not_equal, masked_equal, less, less_equal, greater, greater_equal };
    unsigned index = 0;
    Op op = Op::equal;
    uint64_t value = 0;
    uint64_t mask = 0;  // masked_equal: (arg & mask) == value
  };
  std::string name;
  SeccompAction action;
  std::vector<Arg> args;
};

struct SeccompProfile {
  SeccompAction default_action = SeccompAction::error(1);  // EPERM
  std::vector<std::string> arches;  // libseccomp names: "x86_64", "x86", "x32"; the native one is always in
  std::vector<SyscallRule> rules;

  // A stable text form: what the compiled filter is cached under.
  std::string canonical_text() const;
};

// Adds a rule per name. As runc: conditions on different arguments must all
// hold (one rule); several on one argument are alternatives (a rule each).
void add_syscall_rules(SeccompProfile& profile, const std::vector<std::string>& names, SeccompAction action,
                       const std::vector<SyscallRule::Arg>& args);

// Docker's default profile resolved for a capability set and the host's Go
// architecture name ("amd64"): capability- and arch-conditional sections are
// kept or left out, as Docker does when it starts a container. The filter
// covers the host's native system call ABI, plus the 32-bit one only when
// the image is a 32-bit program the host runs natively (386 on amd64, arm on
// arm64): other ABIs are refused outright, which is stricter than Docker and
// keeps the filter a third of the size, so it loads faster.
SeccompProfile docker_default_profile(CapabilitySet capabilities, std::string_view host_architecture,
                                      std::string_view image_architecture, int kernel_major = 0,
                                      int kernel_minor = 0);

// Compiles a profile into a classic BPF program (struct sock_filter array).
std::string compile_seccomp(const SeccompProfile& profile);

// The compiled program of `profile`, from `cache_dir` when it was compiled
// before, else compiled and stored there: compiling costs milliseconds.
std::string cached_seccomp_program(const SeccompProfile& profile, const std::string& cache_dir);

// Installs a compiled program on the calling thread (no_new_privs must be set
// already, or the caller hold CAP_SYS_ADMIN).
// `flags`: SECCOMP_FILTER_FLAG_* (seccomp(2)).
void load_seccomp_program(std::string_view program, unsigned flags = 0);

}  // namespace gocrate
