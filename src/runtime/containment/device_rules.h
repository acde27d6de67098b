#pragma once

#include <linux/bpf.h>
#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/containment/capabilities.h"
#include "util/fs.h"

namespace gocrate {

// What a device rule lets a process do with a device node.
enum DeviceAccess : unsigned {
  kDeviceRead = 1,
  kDeviceWrite = 2,
  kDeviceMknod = 4,
  kDeviceAllAccess = 7,
};

// "r", "wm", "rwm": each letter at most once; nullopt for anything else.
std::optional<unsigned> parse_device_access(std::string_view text);
std::string device_access_text(unsigned access);  // "rwm"

// One allow rule of a container's device list. What no rule allows is
// refused: opening a device node for reading or writing, and mknod.
struct DeviceRule {
  static constexpr int64_t kAny = -1;
  char type = 'a';  // 'c' character, 'b' block, 'a' both
  int64_t major = kAny;
  int64_t minor = kAny;
  unsigned access = kDeviceAllAccess;

  // The devices cgroup (v1) syntax: "c 1:3 rwm", "c 136:* rwm", "a *:* rwm".
  std::string str() const;
  bool allows(char device_type, uint32_t device_major, uint32_t device_minor, unsigned wanted) const;
  bool allows_everything() const {
    return type == 'a' && major == kAny && minor == kAny && access == kDeviceAllAccess;
  }
  bool operator==(const DeviceRule&) const = default;
};

// Docker's defaults: mknod of any node; read, write and mknod of null, zero,
// full, random, urandom, tty, ptmx and the pty slaves (majors 136 to 143,
// the range Linux reserves for Unix98 pty slaves).
std::vector<DeviceRule> docker_default_device_rules();
inline DeviceRule allow_all_devices() {
  return {};
}

// --device HOST[:CONTAINER][:PERMISSIONS]: a host device node made in the
// container, and a rule that allows it.
struct DeviceMapping {
  std::string host_path;
  std::string container_path;
  unsigned access = kDeviceAllAccess;
  // Read from the host's node by parse_device_mapping().
  char type = 'c';
  uint32_t major = 0;
  uint32_t minor = 0;
  mode_t mode = 0600;  // permission bits
  uid_t uid = 0;
  gid_t gid = 0;

  std::string str() const;  // the flag's syntax, complete: "/dev/fuse:/dev/fuse:rwm"
  DeviceRule rule() const { return {type, major, minor, access}; }
};

// Parses the flag as Docker does (a second field made of r, w and m is the
// permissions) and reads the host node's type and numbers. A path that is no
// device node, a relative container path or bad permissions are errors
// naming the flag and value.
DeviceMapping parse_device_mapping(std::string_view text);

// Which devices a container's cgroup lets it use.
struct DevicePolicy {
  bool confine = false;  // false: no rules at all
  std::vector<DeviceRule> rules;
  // The capabilities ("MKNOD", "SYS_ADMIN") with which the container could
  // make and open any device node: a host that cannot enforce `rules`
  // refuses it unless this is empty.
  std::vector<std::string> required_by;
};

// `device_rules` false is --security-opt devices=unconfined; privileged
// allows every device; otherwise Docker's defaults and the --device rules.
DevicePolicy container_device_policy(bool device_rules, bool privileged, CapabilitySet capabilities,
                                     const std::vector<DeviceMapping>& devices);

// cgroup v1: denies everything in `cgroup_dir` (of the devices hierarchy),
// then allows `rules`.
void write_v1_device_rules(const std::string& cgroup_dir, const std::vector<DeviceRule>& rules);

// cgroup v2: a BPF_PROG_TYPE_CGROUP_DEVICE program that returns 1 (allow)
// for what a rule allows and 0 for everything else.
std::vector<bpf_insn> device_program(const std::vector<DeviceRule>& rules);
// Loads the program; an Error naming the reason when the kernel refuses
// (no CAP_BPF, no cgroup BPF in this kernel).
UniqueFd load_device_program(const std::vector<bpf_insn>& program);
// Attaches it to the v2 cgroup open as `cgroup_fd` alongside what the
// cgroup's ancestors have attached (BPF_F_ALLOW_MULTI: all must allow).
void attach_device_program(int cgroup_fd, int program_fd, const std::string& cgroup_dir);

}  // namespace gocrate
