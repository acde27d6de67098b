#include "runtime/containment/device_rules.h"

#include <fcntl.h>
#include <linux/capability.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "util/error.h"
#include "util/strings.h"

namespace gocrate {

namespace {

constexpr int64_t kPtySlaveMajorFirst = 136;
constexpr int64_t kPtySlaveMajorLast = 143;

std::string number_text(int64_t n) {
  return n == DeviceRule::kAny ? "*" : std::to_string(n);
}

// ---- BPF instructions ------------------------------------------------------

bpf_insn instruction(uint8_t code, uint8_t dst, uint8_t src, int16_t offset, int32_t imm) {
  bpf_insn insn{};
  insn.code = code;
  insn.dst_reg = dst & 0xf;
  insn.src_reg = src & 0xf;
  insn.off = offset;
  insn.imm = imm;
  return insn;
}

bpf_insn load_context_word(uint8_t dst, int16_t offset) {
  return instruction(BPF_LDX | BPF_MEM | BPF_W, dst, BPF_REG_1, offset, 0);
}
bpf_insn alu32_immediate(uint8_t operation, uint8_t dst, int32_t imm) {
  return instruction(BPF_ALU | operation | BPF_K, dst, 0, 0, imm);
}
bpf_insn move32_register(uint8_t dst, uint8_t src) {
  return instruction(BPF_ALU | BPF_MOV | BPF_X, dst, src, 0, 0);
}
// Jumps when the low 32 bits of `reg` differ from `imm`; the offset is
// patched once the block's length is known.
bpf_insn jump32_not_equal(uint8_t reg, int32_t imm) {
  return instruction(BPF_JMP32 | BPF_JNE | BPF_K, reg, 0, 0, imm);
}
bpf_insn jump32_not_equal_register(uint8_t dst, uint8_t src) {
  return instruction(BPF_JMP32 | BPF_JNE | BPF_X, dst, src, 0, 0);
}
bpf_insn return_value(int32_t value) {
  return instruction(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, value);
}
bpf_insn exit_program() {
  return instruction(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
}

// The kernel's bits for the access wanted (bpf_cgroup_dev_ctx.access_type
// >> 16): BPF_DEVCG_ACC_MKNOD 1, _READ 2, _WRITE 4.
int32_t kernel_access_bits(unsigned access) {
  int32_t bits = 0;
  if (access & kDeviceRead) bits |= BPF_DEVCG_ACC_READ;
  if (access & kDeviceWrite) bits |= BPF_DEVCG_ACC_WRITE;
  if (access & kDeviceMknod) bits |= BPF_DEVCG_ACC_MKNOD;
  return bits;
}

long bpf_call(int command, bpf_attr& attr) {
  return ::syscall(SYS_bpf, command, &attr, sizeof attr);
}

}  // namespace

std::optional<unsigned> parse_device_access(std::string_view text) {
  if (text.empty()) return std::nullopt;
  unsigned access = 0;
  for (char c : text) {
    unsigned bit = 0;
    if (c == 'r') bit = kDeviceRead;
    if (c == 'w') bit = kDeviceWrite;
    if (c == 'm') bit = kDeviceMknod;
    if (bit == 0 || (access & bit)) return std::nullopt;
    access |= bit;
  }
  return access;
}

std::string device_access_text(unsigned access) {
  std::string text;
  if (access & kDeviceRead) text += 'r';
  if (access & kDeviceWrite) text += 'w';
  if (access & kDeviceMknod) text += 'm';
  return text;
}

std::string DeviceRule::str() const {
  return fmt::format("{} {}:{} {}", type, number_text(major), number_text(minor), device_access_text(access));
}

bool DeviceRule::allows(char device_type, uint32_t device_major, uint32_t device_minor,
                        unsigned wanted) const {
  return (type == 'a' || type == device_type) && (major == kAny || major == device_major) &&
         (minor == kAny || minor == device_minor) && (wanted & ~access) == 0;
}

std::vector<DeviceRule> docker_default_device_rules() {
  std::vector<DeviceRule> rules = {
      {'c', DeviceRule::kAny, DeviceRule::kAny, kDeviceMknod},
      {'b', DeviceRule::kAny, DeviceRule::kAny, kDeviceMknod},
      {'c', 1, 3, kDeviceAllAccess},  // null
      {'c', 1, 5, kDeviceAllAccess},  // zero
      {'c', 1, 7, kDeviceAllAccess},  // full
      {'c', 1, 8, kDeviceAllAccess},  // random
      {'c', 1, 9, kDeviceAllAccess},  // urandom
      {'c', 5, 0, kDeviceAllAccess},  // tty
      {'c', 5, 2, kDeviceAllAccess},  // ptmx
  };
  for (int64_t major = kPtySlaveMajorFirst; major <= kPtySlaveMajorLast; ++major) {
    rules.push_back({'c', major, DeviceRule::kAny, kDeviceAllAccess});
  }
  return rules;
}

std::string DeviceMapping::str() const {
  return fmt::format("{}:{}:{}", host_path, container_path, device_access_text(access));
}

DeviceMapping parse_device_mapping(std::string_view text) {
  auto parts = split(std::string(text), ':');
  auto usage = [&]() -> std::string {
    return fmt::format("invalid --device \"{}\": use HOST_PATH[:CONTAINER_PATH][:PERMISSIONS]", text);
  };
  if (parts.empty() || parts.size() > 3 || parts[0].empty()) throw Error(usage());
  DeviceMapping d;
  d.host_path = parts[0];
  d.container_path = parts[0];
  std::optional<std::string> permissions;
  if (parts.size() == 2) {
    if (parse_device_access(parts[1])) {
      permissions = parts[1];
    } else {
      d.container_path = parts[1];
    }
  } else if (parts.size() == 3) {
    d.container_path = parts[1];
    permissions = parts[2];
  }
  if (permissions) {
    auto access = parse_device_access(*permissions);
    if (!access) {
      fail(
          "invalid --device \"{}\": the permissions \"{}\" must be letters from r, w and m (such as rwm or "
          "r)",
          text, *permissions);
    }
    d.access = *access;
  }
  if (d.container_path.empty()) throw Error(usage());
  if (!d.host_path.starts_with('/')) fail("invalid --device \"{}\": the host path must be absolute", text);
  if (!d.container_path.starts_with('/'))
    fail("invalid --device \"{}\": the container path must be absolute", text);
  for (const auto& part : split(d.container_path, '/')) {
    if (part == "..") fail("invalid --device \"{}\": the container path may not contain ..", text);
  }
  if (d.container_path.find_first_not_of('/') == std::string::npos) {
    fail("invalid --device \"{}\": the container path must name a file, not /", text);
  }
  struct stat st;
  if (::stat(d.host_path.c_str(), &st) != 0) {
    fail("invalid --device \"{}\": cannot read {}: {}", text, d.host_path, errno_text(errno));
  }
  if (!S_ISCHR(st.st_mode) && !S_ISBLK(st.st_mode)) {
    fail("invalid --device \"{}\": {} is not a device node but a {}", text, d.host_path,
         file_type_name(st.st_mode));
  }
  d.type = S_ISCHR(st.st_mode) ? 'c' : 'b';
  d.major = ::major(st.st_rdev);
  d.minor = ::minor(st.st_rdev);
  d.mode = st.st_mode & 07777;
  d.uid = st.st_uid;
  d.gid = st.st_gid;
  return d;
}

DevicePolicy container_device_policy(bool device_rules, bool privileged, CapabilitySet capabilities,
                                     const std::vector<DeviceMapping>& devices) {
  DevicePolicy policy;
  if (!device_rules) return policy;
  policy.confine = true;
  if (privileged) {
    policy.rules = {allow_all_devices()};
    return policy;
  }
  policy.rules = docker_default_device_rules();
  for (const auto& d : devices) policy.rules.push_back(d.rule());
  // CAP_MKNOD makes nodes; CAP_SYS_ADMIN can mount without nodev. Either
  // reaches any device the rules do not refuse. A non-root user has no
  // capabilities left (set_process_capabilities), but `exec -u 0` has.
  for (auto [number, name] : {std::pair{CAP_MKNOD, "MKNOD"}, {CAP_SYS_ADMIN, "SYS_ADMIN"}}) {
    if (capabilities & (CapabilitySet{1} << number)) policy.required_by.push_back(name);
  }
  return policy;
}

void write_v1_device_rules(const std::string& cgroup_dir, const std::vector<DeviceRule>& rules) {
  // Each rule is one write(2): the kernel parses one rule per write.
  auto write_rules = [&](const std::string& file, const std::vector<std::string>& lines) {
    std::string path = cgroup_dir + "/" + file;
    UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
    if (!fd) fail_errno(fmt::format("cannot open cgroup file {}", path));
    for (const auto& line : lines) {
      if (::write(fd.get(), line.data(), line.size()) != static_cast<ssize_t>(line.size())) {
        fail_errno(fmt::format("cannot write \"{}\" to {}", line, path));
      }
    }
  };
  write_rules("devices.deny", {"a"});
  std::vector<std::string> allowed;
  for (const auto& rule : rules) allowed.push_back(rule.str());
  write_rules("devices.allow", allowed);
}

std::vector<bpf_insn> device_program(const std::vector<DeviceRule>& rules) {
  // R2 type, R3 access wanted, R4 major, R5 minor (struct bpf_cgroup_dev_ctx:
  // access_type = access << 16 | type, then major, then minor).
  std::vector<bpf_insn> program = {
      load_context_word(BPF_REG_2, 0), alu32_immediate(BPF_AND, BPF_REG_2, 0xffff),
      load_context_word(BPF_REG_3, 0), alu32_immediate(BPF_RSH, BPF_REG_3, 16),
      load_context_word(BPF_REG_4, 4), load_context_word(BPF_REG_5, 8),
  };
  for (const auto& rule : rules) {
    // Each rule is a block: a test that fails jumps past the block's end,
    // to the next rule; a block whose tests all pass returns 1.
    std::vector<bpf_insn> block;
    if (rule.type != 'a')
      block.push_back(
          jump32_not_equal(BPF_REG_2, rule.type == 'c' ? BPF_DEVCG_DEV_CHAR : BPF_DEVCG_DEV_BLOCK));
    if (rule.access != kDeviceAllAccess) {
      // Allowed only when the access wanted is a subset of the rule's.
      block.push_back(move32_register(BPF_REG_1, BPF_REG_3));
      block.push_back(alu32_immediate(BPF_AND, BPF_REG_1, kernel_access_bits(rule.access)));
      block.push_back(jump32_not_equal_register(BPF_REG_1, BPF_REG_3));
    }
    if (rule.major != DeviceRule::kAny)
      block.push_back(jump32_not_equal(BPF_REG_4, static_cast<int32_t>(rule.major)));
    if (rule.minor != DeviceRule::kAny)
      block.push_back(jump32_not_equal(BPF_REG_5, static_cast<int32_t>(rule.minor)));
    bool unconditional = block.empty();
    block.push_back(return_value(1));
    block.push_back(exit_program());
    for (size_t i = 0; i < block.size(); ++i) {
      if ((block[i].code & 0x07) == BPF_JMP32) block[i].off = static_cast<int16_t>(block.size() - i - 1);
    }
    program.insert(program.end(), block.begin(), block.end());
    // Nothing after a rule that allows everything is reachable, and the
    // verifier refuses unreachable instructions.
    if (unconditional) return program;
  }
  program.push_back(return_value(0));
  program.push_back(exit_program());
  return program;
}

UniqueFd load_device_program(const std::vector<bpf_insn>& program) {
  static const char kLicense[] = "Apache-2.0";
  bpf_attr attr{};
  attr.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
  attr.insns = reinterpret_cast<uint64_t>(program.data());
  attr.insn_cnt = static_cast<uint32_t>(program.size());
  attr.license = reinterpret_cast<uint64_t>(kLicense);
  std::snprintf(attr.prog_name, sizeof attr.prog_name, "%s", "gocrate_devices");
  long fd = bpf_call(BPF_PROG_LOAD, attr);
  if (fd >= 0) return UniqueFd(static_cast<int>(fd));
  int err = errno;
  if (err == EINVAL || err == EACCES) {
    // Ask again with the verifier's log, for the message.
    std::string log(16384, '\0');
    attr.log_level = 1;
    attr.log_size = static_cast<uint32_t>(log.size());
    attr.log_buf = reinterpret_cast<uint64_t>(log.data());
    fd = bpf_call(BPF_PROG_LOAD, attr);
    if (fd >= 0) return UniqueFd(static_cast<int>(fd));
    log.resize(std::strlen(log.c_str()));
    auto lines = split(std::string(trim(log)), '\n');
    if (!lines.empty() && !lines.back().empty()) {
      fail("the kernel refused the BPF device program ({}: {})", errno_text(err), lines.back());
    }
  }
  fail("the kernel refused to load the BPF device program: {}", errno_text(err));
}

void attach_device_program(int cgroup_fd, int program_fd, const std::string& cgroup_dir) {
  bpf_attr attr{};
  attr.target_fd = static_cast<uint32_t>(cgroup_fd);
  attr.attach_bpf_fd = static_cast<uint32_t>(program_fd);
  attr.attach_type = BPF_CGROUP_DEVICE;
  attr.attach_flags = BPF_F_ALLOW_MULTI;
  if (bpf_call(BPF_PROG_ATTACH, attr) != 0) {
    fail("the kernel refused to attach the BPF device program to {}: {}", cgroup_dir, errno_text(errno));
  }
}

}  // namespace gocrate
