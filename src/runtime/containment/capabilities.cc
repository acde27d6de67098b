#include "runtime/containment/capabilities.h"

#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>

#include "util/error.h"
#include "util/fs.h"

namespace gocrate {

namespace {

constexpr std::string_view kNames[] = {
    "CHOWN",
    "DAC_OVERRIDE",
    "DAC_READ_SEARCH",
    "FOWNER",
    "FSETID",
    "KILL",
    "SETGID",
    "SETUID",
    "SETPCAP",
    "LINUX_IMMUTABLE",
    "NET_BIND_SERVICE",
    "NET_BROADCAST",
    "NET_ADMIN",
    "NET_RAW",
    "IPC_LOCK",
    "IPC_OWNER",
    "SYS_MODULE",
    "SYS_RAWIO",
    "SYS_CHROOT",
    "SYS_PTRACE",
    "SYS_PACCT",
    "SYS_ADMIN",
    "SYS_BOOT",
    "SYS_NICE",
    "SYS_RESOURCE",
    "SYS_TIME",
    "SYS_TTY_CONFIG",
    "MKNOD",
    "LEASE",
    "AUDIT_WRITE",
    "AUDIT_CONTROL",
    "SETFCAP",
    "MAC_OVERRIDE",
    "MAC_ADMIN",
    "SYSLOG",
    "WAKE_ALARM",
    "BLOCK_SUSPEND",
    "AUDIT_READ",
    "PERFMON",
    "BPF",
    "CHECKPOINT_RESTORE",
};
constexpr int kKnown = static_cast<int>(std::size(kNames));

CapabilitySet bit(int cap) {
  return CapabilitySet{1} << cap;
}

}  // namespace

CapabilitySet all_capabilities() {
  int last = last_capability();
  return last >= 63 ? ~CapabilitySet{0} : (bit(last + 1) - 1);
}

CapabilitySet docker_default_capabilities() {
  return bit(CAP_CHOWN) | bit(CAP_DAC_OVERRIDE) | bit(CAP_FSETID) | bit(CAP_FOWNER) | bit(CAP_MKNOD) |
         bit(CAP_NET_RAW) | bit(CAP_SETGID) | bit(CAP_SETUID) | bit(CAP_SETFCAP) | bit(CAP_SETPCAP) |
         bit(CAP_NET_BIND_SERVICE) | bit(CAP_SYS_CHROOT) | bit(CAP_KILL) | bit(CAP_AUDIT_WRITE);
}

int last_capability() {
  static int last = [] {
    auto text = read_file_if_exists("/proc/sys/kernel/cap_last_cap");
    int value = text ? std::atoi(text->c_str()) : CAP_LAST_CAP;
    return std::clamp(value, 0, 63);
  }();
  return last;
}

CapabilitySet parse_capability(std::string_view name) {
  std::string upper;
  for (char c : name) upper += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (upper == "ALL") return all_capabilities();
  std::string_view bare = upper;
  if (bare.starts_with("CAP_")) bare.remove_prefix(4);
  for (int i = 0; i < kKnown; ++i) {
    if (kNames[i] == bare) return bit(i);
  }
  fail("unknown capability \"{}\": use a name such as NET_ADMIN or SYS_PTRACE (see capabilities(7))", name);
}

std::string capability_name(int number) {
  return number < kKnown ? "CAP_" + std::string(kNames[number]) : fmt::format("CAP_{}", number);
}

std::vector<std::string> capability_names(CapabilitySet set) {
  std::vector<std::string> names;
  for (int i = 0; i < 64; ++i) {
    if (set & bit(i)) names.push_back(capability_name(i));
  }
  return names;
}

CapabilitySet resolve_capabilities(const std::vector<std::string>& add,
                                   const std::vector<std::string>& drop) {
  CapabilitySet set = docker_default_capabilities();
  for (const auto& name : drop) set &= ~parse_capability(name);
  for (const auto& name : add) set |= parse_capability(name);
  return set & all_capabilities();
}

void limit_bounding_set(CapabilitySet keep) {
  for (int cap = 0; cap <= last_capability(); ++cap) {
    if (keep & bit(cap)) continue;
    if (::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL) {
      fail_errno(fmt::format("cannot drop {} from the bounding set", capability_name(cap)));
    }
  }
  if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL) {
    fail_errno("cannot clear the ambient capabilities");
  }
}

void set_process_capabilities(CapabilitySet keep) {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  if (::syscall(SYS_capget, &header, data) != 0) fail_errno("cannot read the process capabilities");
  CapabilitySet permitted = (CapabilitySet{data[1].permitted} << 32 | data[0].permitted) & keep;
  for (int i = 0; i < 2; ++i) {
    data[i].permitted = static_cast<uint32_t>(permitted >> (32 * i));
    data[i].effective = data[i].permitted;
    data[i].inheritable = 0;
  }
  if (::syscall(SYS_capset, &header, data) != 0) fail_errno("cannot set the process capabilities");
}

void set_capability_sets(CapabilitySet effective, CapabilitySet permitted, CapabilitySet inheritable) {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  for (int i = 0; i < 2; ++i) {
    data[i].permitted = static_cast<uint32_t>(permitted >> (32 * i));
    data[i].effective = static_cast<uint32_t>(effective >> (32 * i));
    data[i].inheritable = static_cast<uint32_t>(inheritable >> (32 * i));
  }
  if (::syscall(SYS_capset, &header, data) != 0) fail_errno("cannot set the process capabilities");
}

void raise_ambient_capabilities(CapabilitySet ambient) {
  for (int cap = 0; cap <= last_capability(); ++cap) {
    if (!(ambient & bit(cap))) continue;
    if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) != 0) {
      fail_errno(fmt::format("cannot raise the ambient capability {}", capability_name(cap)));
    }
  }
}

}  // namespace gocrate
