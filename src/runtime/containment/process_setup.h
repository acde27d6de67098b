#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/containment/capabilities.h"
#include "runtime/containment/users.h"

namespace gocrate {

// The last steps of the containment sequence, shared by a container's first
// process (container.cc) and a process run in a container that is already
// running (exec.cc). They run in the new process, inside the container's
// root; each fails with an Error carrying the exit code `run` and `exec`
// give (125 runtime failure, 126 not executable, 127 not found).

// Sends "<code> <message>" to the starter through the error pipe and exits.
[[noreturn]] void report_and_exit(int error_fd, int code, std::string_view message);
// Runs `step` and reports what it throws to the starter.
[[noreturn]] void run_reporting_failure(int error_fd, const std::function<void()>& step);

std::string env_value(const std::vector<std::string>& env, std::string_view key);

// Enters `workdir` ("/" when empty) inside `root_fd`, creating it when
// missing if `may_create`; `read_only` only changes the advice given.
void enter_workdir(int root_fd, const std::string& workdir, bool may_create, bool read_only);

// The program to execute: `name` itself when it has a '/', else the first
// match in the PATH of `env`, as execvp would find it.
std::string find_program(const std::string& name, const std::vector<std::string>& env,
                         std::string_view image);

// Refuses a native run of a program built for another architecture with the
// reason, instead of the bare "exec format error" the kernel gives.
void check_architecture(const std::string& program);

// Makes in, out and err (in: -1 for /dev/null) the standard streams.
void connect_stdio(int in, int out, int err);
void reset_signals();

// Bounding set, user, capabilities, no_new_privs and seccomp, in that order.
// `after_user_switch` runs once the user is switched (the kernel forgets the
// parent-death signal then). An empty `seccomp_program` loads no filter.
void restrict_privileges(CapabilitySet capabilities, const ContainerUser& user,
                         std::string_view seccomp_program,
                         const std::function<void()>& after_user_switch = {});

// Every descriptor but the standard three closes on exec.
void close_on_exec_from(int first);
std::vector<char*> string_pointers(std::vector<std::string>& strings);
[[noreturn]] void explain_exec_failure(const std::string& program, const std::string& user, int err);

// The starter's side of the error pipe: throws what the new process reported
// (its message and exit code); returns when it executed its program (EOF
// without data). gocrate-init reports a failed execve as "<code> exec-errno
// <errno> <program>", explained here as explain_exec_failure does for `user`.
void rethrow_child_failure(int report_fd, std::string_view user = {});
// As rethrow_child_failure, but only for what the child has already reported:
// it may still be waiting for the starter.
void rethrow_reported_failure(int report_fd, std::string_view user = {});

}  // namespace gocrate
