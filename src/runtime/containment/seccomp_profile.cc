#include "runtime/containment/seccomp_profile.h"

#include <fcntl.h>
#include <seccomp.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <optional>

#include "image/platform.h"
#include "util/error.h"
#include "util/fs.h"

namespace gocrate {

using nlohmann::json;

namespace {

constexpr size_t kMaxProfileSize = 1 << 20;
constexpr int kMaxErrno = 4095;  // what the kernel returns at most

// A Go architecture's names in Docker's profiles: its name in includes and
// excludes ("arches"), and its SCMP_ARCH_* entry in archMap.
struct ArchNames {
  std::string_view go;
  std::string_view native;
  std::string_view scmp;
};

constexpr std::array<ArchNames, 13> kArchNames = {{
    {"386", "x86", "SCMP_ARCH_X86"},
    {"amd64", "amd64", "SCMP_ARCH_X86_64"},
    {"arm", "arm", "SCMP_ARCH_ARM"},
    {"arm64", "arm64", "SCMP_ARCH_AARCH64"},
    {"loong64", "loongarch64", "SCMP_ARCH_LOONGARCH64"},
    {"mips64", "mips64", "SCMP_ARCH_MIPS64"},
    {"mips64le", "mipsel64", "SCMP_ARCH_MIPSEL64"},
    {"mipsle", "mipsel", "SCMP_ARCH_MIPSEL"},
    {"ppc64", "ppc64", "SCMP_ARCH_PPC64"},
    {"ppc64le", "ppc64le", "SCMP_ARCH_PPC64LE"},
    {"riscv64", "riscv64", "SCMP_ARCH_RISCV64"},
    {"s390", "s390", "SCMP_ARCH_S390"},
    {"s390x", "s390x", "SCMP_ARCH_S390X"},
}};

ArchNames arch_names(std::string_view go_architecture) {
  for (const auto& names : kArchNames) {
    if (names.go == go_architecture) return names;
  }
  return {go_architecture, go_architecture, ""};
}

struct KernelVersion {
  int kernel = 0;
  int major = 0;
};

bool at_least(const KernelVersion& running, const KernelVersion& wanted) {
  return running.kernel != wanted.kernel ? running.kernel > wanted.kernel : running.major >= wanted.major;
}

// A value as an error message shows it: its JSON, cut short.
std::string shown(const json& value) {
  std::string text = value.dump();
  return text.size() <= 40 ? text : text.substr(0, 37) + "...";
}

// Reads one profile, naming the field of every problem. Go's encoding/json
// is what Docker reads profiles with, so its rules are followed: unknown keys
// are ignored, keys match without regard to case, null is an absent value.
class ProfileReader {
 public:
  ProfileReader(std::string_view what, const SeccompConditions& conditions)
      : what_(what), arch_(arch_names(conditions.architecture)) {
    running_ = {conditions.kernel_major, conditions.kernel_minor};
    if (running_.kernel == 0) {
      utsname u{};
      ::uname(&u);
      std::sscanf(u.release, "%d.%d", &running_.kernel, &running_.major);
    }
    held_ = capability_names(conditions.capabilities);
  }

  SeccompProfile read(const json& root) {
    if (!root.is_object())
      bad("", "is not a JSON object: a profile is {\"defaultAction\": ..., \"syscalls\": [...]}");
    SeccompProfile profile;
    std::string default_action = string_at(root, "defaultAction", "defaultAction");
    if (default_action.empty()) {
      bad("defaultAction",
          "is missing: name the action for system calls no rule lists (SCMP_ACT_ERRNO, SCMP_ACT_ALLOW, ...), "
          "or "
          "use --security-opt seccomp=unconfined for no filter");
    }
    std::optional<uint64_t> default_errno = optional_number_at(root, "defaultErrnoRet", "defaultErrnoRet");
    profile.default_action = action(default_action, default_errno, "defaultAction", "defaultErrnoRet");

    if (!array_at(root, "flags", "flags").empty()) {
      bad("flags", "are not supported by gocrate (it installs the filter without flags): remove them");
    }
    if (!string_at(root, "listenerPath", "listenerPath").empty()) {
      bad("listenerPath", "is not supported: gocrate has no seccomp agent for SCMP_ACT_NOTIFY");
    }
    profile.arches = architectures(root);

    const json& syscalls = array_at(root, "syscalls", "syscalls");
    for (size_t i = 0; i < syscalls.size(); ++i)
      add_syscall(profile, syscalls[i], fmt::format("syscalls[{}]", i));
    return profile;
  }

 private:
  [[noreturn]] void bad(std::string_view field, std::string_view problem) const {
    if (field.empty()) fail("seccomp profile {} {}", what_, problem);
    fail("seccomp profile {}: {} {}", what_, field, problem);
  }

  // The member `key` of `object`: an exact match first, then one that differs
  // only in case; nullptr when absent or null.
  static const json* member(const json& object, std::string_view key) {
    auto exact = object.find(std::string(key));
    if (exact != object.end()) return exact->is_null() ? nullptr : &*exact;
    for (auto it = object.begin(); it != object.end(); ++it) {
      const std::string& name = it.key();
      bool same =
          name.size() == key.size() && std::equal(name.begin(), name.end(), key.begin(), [](char a, char b) {
            return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
          });
      if (same) return it->is_null() ? nullptr : &*it;
    }
    return nullptr;
  }

  std::string string_at(const json& object, std::string_view key, const std::string& field) const {
    const json* value = member(object, key);
    if (!value) return "";
    if (!value->is_string()) bad(field, fmt::format("must be a string, not {}", shown(*value)));
    return value->get<std::string>();
  }

  const json& array_at(const json& object, std::string_view key, const std::string& field) const {
    static const json empty = json::array();
    const json* value = member(object, key);
    if (!value) return empty;
    if (!value->is_array()) bad(field, fmt::format("must be a list, not {}", shown(*value)));
    return *value;
  }

  std::vector<std::string> strings_at(const json& object, std::string_view key,
                                      const std::string& field) const {
    std::vector<std::string> out;
    const json& list = array_at(object, key, field);
    for (size_t i = 0; i < list.size(); ++i) {
      if (!list[i].is_string())
        bad(fmt::format("{}[{}]", field, i), fmt::format("must be a string, not {}", shown(list[i])));
      out.push_back(list[i].get<std::string>());
    }
    return out;
  }

  uint64_t number(const json& value, const std::string& field) const {
    if (value.is_number_unsigned()) return value.get<uint64_t>();
    if (value.is_number_integer() && value.get<int64_t>() >= 0) return value.get<uint64_t>();
    bad(field, fmt::format("must be a whole number from 0 to 18446744073709551615, not {}", shown(value)));
  }

  std::optional<uint64_t> optional_number_at(const json& object, std::string_view key,
                                             const std::string& field) const {
    const json* value = member(object, key);
    if (!value) return std::nullopt;
    return number(*value, field);
  }

  SeccompAction action(const std::string& name, std::optional<uint64_t> errno_ret, const std::string& field,
                       const std::string& errno_field) const {
    using Kind = SeccompAction::Kind;
    if (name == "SCMP_ACT_ALLOW") return SeccompAction::allow();
    if (name == "SCMP_ACT_KILL" || name == "SCMP_ACT_KILL_THREAD") return {Kind::kill_thread, 0};
    if (name == "SCMP_ACT_KILL_PROCESS") return {Kind::kill_process, 0};
    if (name == "SCMP_ACT_TRAP") return {Kind::trap, 0};
    if (name == "SCMP_ACT_LOG") return {Kind::log, 0};
    if (name == "SCMP_ACT_ERRNO") {
      uint64_t value = errno_ret.value_or(EPERM);
      if (value > kMaxErrno)
        bad(errno_field, fmt::format("{} is not an errno: use a number from 0 to {}", value, kMaxErrno));
      return SeccompAction::error(static_cast<int>(value));
    }
    if (name == "SCMP_ACT_TRACE") {
      uint64_t value = errno_ret.value_or(EPERM);
      if (value > 0xffff)
        bad(errno_field, fmt::format("{} is too large for SCMP_ACT_TRACE: use 0 to 65535", value));
      return {Kind::trace, static_cast<int>(value)};
    }
    if (name == "SCMP_ACT_NOTIFY")
      bad(field, "SCMP_ACT_NOTIFY is not supported: gocrate has no seccomp agent");
    bad(field,
        fmt::format(
            "\"{}\" is not a seccomp action: use SCMP_ACT_ALLOW, SCMP_ACT_ERRNO, SCMP_ACT_KILL, "
            "SCMP_ACT_KILL_THREAD, SCMP_ACT_KILL_PROCESS, SCMP_ACT_TRAP, SCMP_ACT_TRACE or SCMP_ACT_LOG",
            name));
  }

  // SCMP_ARCH_X86_64 -> "x86_64", libseccomp's name; `used` ones must be
  // known to libseccomp.
  std::string libseccomp_arch(const std::string& name, const std::string& field, bool used) const {
    constexpr std::string_view prefix = "SCMP_ARCH_";
    if (!name.starts_with(prefix) || name.size() == prefix.size()) {
      bad(field,
          fmt::format("\"{}\" is not an architecture: use SCMP_ARCH_X86_64, SCMP_ARCH_AARCH64, ...", name));
    }
    std::string lower = name.substr(prefix.size());
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (used && seccomp_arch_resolve_name(lower.c_str()) == 0)
      bad(field, fmt::format("\"{}\" is an architecture this libseccomp does not know", name));
    return lower;
  }

  // Docker's rule: `architectures` as listed, or from archMap the host's
  // entry with its subArchitectures; never both.
  std::vector<std::string> architectures(const json& root) const {
    std::vector<std::string> arches;
    std::vector<std::string> listed = strings_at(root, "architectures", "architectures");
    const json& map = array_at(root, "archMap", "archMap");
    if (!listed.empty() && !map.empty()) {
      bad("archMap", "and architectures are both given: use one of them");
    }
    for (size_t i = 0; i < listed.size(); ++i)
      arches.push_back(libseccomp_arch(listed[i], fmt::format("architectures[{}]", i), true));
    for (size_t i = 0; i < map.size(); ++i) {
      std::string field = fmt::format("archMap[{}]", i);
      if (!map[i].is_object()) bad(field, fmt::format("must be an object, not {}", shown(map[i])));
      std::string arch = string_at(map[i], "architecture", field + ".architecture");
      bool host = !arch_.scmp.empty() && arch == arch_.scmp;
      libseccomp_arch(arch, field + ".architecture", host);
      std::vector<std::string> subs = strings_at(map[i], "subArchitectures", field + ".subArchitectures");
      for (size_t k = 0; k < subs.size(); ++k)
        libseccomp_arch(subs[k], fmt::format("{}.subArchitectures[{}]", field, k), host);
      if (!host || !arches.empty()) continue;  // Docker takes the first entry for the host
      arches.push_back(libseccomp_arch(arch, field + ".architecture", true));
      for (size_t k = 0; k < subs.size(); ++k)
        arches.push_back(libseccomp_arch(subs[k], fmt::format("{}.subArchitectures[{}]", field, k), true));
    }
    return arches;
  }

  struct Filter {
    std::vector<std::string> caps;
    std::vector<std::string> arches;
    std::optional<KernelVersion> min_kernel;
  };

  std::optional<Filter> filter_at(const json& call, std::string_view key, const std::string& field) const {
    const json* value = member(call, key);
    if (!value) return std::nullopt;
    if (!value->is_object()) bad(field, fmt::format("must be an object, not {}", shown(*value)));
    Filter filter;
    filter.caps = strings_at(*value, "caps", field + ".caps");
    filter.arches = strings_at(*value, "arches", field + ".arches");
    std::string kernel = string_at(*value, "minKernel", field + ".minKernel");
    if (!kernel.empty()) filter.min_kernel = kernel_version(kernel, field + ".minKernel");
    return filter;
  }

  // "<kernel>.<major>", as Docker reads it ("4.8").
  KernelVersion kernel_version(const std::string& text, const std::string& field) const {
    auto part = [&](std::string_view digits) {
      unsigned value = 0;
      auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
      if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size() || value > 255)
        bad(field,
            fmt::format("\"{}\" is not a kernel version: use <kernel>.<major>, such as \"4.8\"", text));
      return static_cast<int>(value);
    };
    size_t dot = text.find('.');
    if (dot == std::string::npos) part("");
    KernelVersion version{part(std::string_view(text).substr(0, dot)),
                          part(std::string_view(text).substr(dot + 1))};
    if (version.kernel == 0 && version.major == 0) part("");
    return version;
  }

  bool holds(const std::string& cap) const {
    return std::find(held_.begin(), held_.end(), cap) != held_.end();
  }
  bool on_arch(const std::vector<std::string>& arches) const {
    return std::find(arches.begin(), arches.end(), arch_.native) != arches.end();
  }

  // Docker's conditions: an excludes that matches anything, or an includes
  // that misses anything, leaves the section out.
  bool applies(const std::optional<Filter>& includes, const std::optional<Filter>& excludes) const {
    if (excludes) {
      if (!excludes->arches.empty() && on_arch(excludes->arches)) return false;
      if (std::any_of(excludes->caps.begin(), excludes->caps.end(), [&](auto& c) { return holds(c); }))
        return false;
      if (excludes->min_kernel && at_least(running_, *excludes->min_kernel)) return false;
    }
    if (includes) {
      if (!includes->arches.empty() && !on_arch(includes->arches)) return false;
      if (!std::all_of(includes->caps.begin(), includes->caps.end(), [&](auto& c) { return holds(c); }))
        return false;
      if (includes->min_kernel && !at_least(running_, *includes->min_kernel)) return false;
    }
    return true;
  }

  SyscallRule::Arg arg(const json& value, const std::string& field) const {
    using Op = SyscallRule::Arg::Op;
    if (!value.is_object()) bad(field, fmt::format("must be an object, not {}", shown(value)));
    SyscallRule::Arg a;
    uint64_t index = optional_number_at(value, "index", field + ".index").value_or(0);
    if (index > 5) bad(field + ".index", fmt::format("{} is not an argument index: use 0 to 5", index));
    a.index = static_cast<unsigned>(index);
    uint64_t first = optional_number_at(value, "value", field + ".value").value_or(0);
    uint64_t second = optional_number_at(value, "valueTwo", field + ".valueTwo").value_or(0);
    std::string op = string_at(value, "op", field + ".op");
    a.value = first;
    if (op == "SCMP_CMP_EQ") {
      a.op = Op::equal;
    } else if (op == "SCMP_CMP_NE") {
      a.op = Op::not_equal;
    } else if (op == "SCMP_CMP_LT") {
      a.op = Op::less;
    } else if (op == "SCMP_CMP_LE") {
      a.op = Op::less_equal;
    } else if (op == "SCMP_CMP_GT") {
      a.op = Op::greater;
    } else if (op == "SCMP_CMP_GE") {
      a.op = Op::greater_equal;
    } else if (op == "SCMP_CMP_MASKED_EQ") {
      // Docker's order: value is the mask, valueTwo what the masked argument equals.
      a.op = Op::masked_equal;
      a.mask = first;
      a.value = second;
    } else {
      bad(field + ".op",
          fmt::format("\"{}\" is not a comparison: use SCMP_CMP_EQ, SCMP_CMP_NE, SCMP_CMP_LT, SCMP_CMP_LE, "
                      "SCMP_CMP_GT, SCMP_CMP_GE or SCMP_CMP_MASKED_EQ",
                      op));
    }
    return a;
  }

  void add_syscall(SeccompProfile& profile, const json& call, const std::string& field) const {
    if (!call.is_object()) bad(field, fmt::format("must be an object, not {}", shown(call)));
    std::vector<std::string> names = strings_at(call, "names", field + ".names");
    std::string name = string_at(call, "name", field + ".name");
    if (!name.empty()) {
      if (!names.empty()) bad(field, "has both name and names: use one of them");
      names.push_back(name);
    }
    for (size_t i = 0; i < names.size(); ++i) {
      if (names[i].empty()) bad(fmt::format("{}.names[{}]", field, i), "is empty: name a system call");
    }
    std::string action_name = string_at(call, "action", field + ".action");
    if (action_name.empty()) bad(field + ".action", "is missing: name an action such as SCMP_ACT_ALLOW");
    std::optional<uint64_t> errno_ret = optional_number_at(call, "errnoRet", field + ".errnoRet");
    SeccompAction act = action(action_name, errno_ret, field + ".action", field + ".errnoRet");
    const json& arg_list = array_at(call, "args", field + ".args");
    std::vector<SyscallRule::Arg> args;
    for (size_t i = 0; i < arg_list.size(); ++i)
      args.push_back(arg(arg_list[i], fmt::format("{}.args[{}]", field, i)));
    auto includes = filter_at(call, "includes", field + ".includes");
    auto excludes = filter_at(call, "excludes", field + ".excludes");
    if (!applies(includes, excludes)) return;

    add_syscall_rules(profile, names, act, args);
  }

  std::string_view what_;
  ArchNames arch_;
  KernelVersion running_;
  std::vector<std::string> held_;
};

json parse_json(std::string_view text, std::string_view what) {
  try {
    return json::parse(text);
  } catch (const json::parse_error& e) {
    std::string message = e.what();
    if (size_t end = message.find("] "); message.starts_with("[json.exception") && end != std::string::npos)
      message = message.substr(end + 2);
    fail("seccomp profile {} is not valid JSON: {}", what, message);
  }
}

// The file at `path` when it is a regular file, opened without opening
// anything else first: a FIFO would block, a device could act on the open.
std::string read_profile_file(const std::string& path) {
  UniqueFd node(::open(path.c_str(), O_PATH | O_CLOEXEC));
  if (!node) fail_errno(fmt::format("cannot read seccomp profile {}", path));
  struct stat st {};
  if (::fstat(node.get(), &st) != 0) fail_errno(fmt::format("cannot read seccomp profile {}", path));
  if (!S_ISREG(st.st_mode))
    fail("seccomp profile {} is {}, not a file: name a JSON file", path, file_type_name(st.st_mode));
  auto too_large = [&] {
    fail("seccomp profile {} is larger than {} KiB, more than any profile needs: name a JSON profile file",
         path, kMaxProfileSize / 1024);
  };
  if (static_cast<uint64_t>(st.st_size) > kMaxProfileSize) too_large();
  UniqueFd file(::open(fmt::format("/proc/self/fd/{}", node.get()).c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
  if (!file) fail_errno(fmt::format("cannot read seccomp profile {}", path));
  std::string text;
  char buffer[65536];
  for (;;) {
    ssize_t n = ::read(file.get(), buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail_errno(fmt::format("cannot read seccomp profile {}", path));
    if (n == 0) break;
    text.append(buffer, static_cast<size_t>(n));
    if (text.size() > kMaxProfileSize) too_large();
  }
  return text;
}

}  // namespace

SeccompProfile parse_docker_seccomp_profile(std::string_view text, std::string_view what,
                                            const SeccompConditions& conditions) {
  json root = parse_json(text, what);
  return ProfileReader(what, conditions).read(root);
}

std::string read_docker_seccomp_profile(const std::string& path, CapabilitySet capabilities) {
  std::string text = read_profile_file(path);
  json root = parse_json(text, path);
  ProfileReader(path, {capabilities, Platform::host().architecture}).read(root);
  return root.dump();
}

SeccompProfile container_seccomp_profile(std::string_view docker_profile, CapabilitySet capabilities,
                                         std::string_view host_architecture,
                                         std::string_view image_architecture) {
  if (docker_profile.empty())
    return docker_default_profile(capabilities, host_architecture, image_architecture);
  return parse_docker_seccomp_profile(docker_profile, "of the container",
                                      {capabilities, std::string(host_architecture)});
}

}  // namespace gocrate
