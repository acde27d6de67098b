#include "runtime/oci/cli_args.h"

#include <charconv>
#include <cstdint>

#include "runtime/containment/capabilities.h"
#include "runtime/terminal/signal_names.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/strings.h"

namespace gocrate::oci::cli {
namespace {

constexpr FlagSpec kHelpFlag{"help", "h", false, "show help"};

std::string help_hint(std::string_view command) {
  return command.empty() ? "gocrate-runtime --help" : fmt::format("gocrate-runtime {} --help", command);
}

std::string_view flag_place(std::string_view command) {
  return command.empty() ? "global flag" : "flag";
}

// Go's strconv.ParseBool.
bool parse_bool(std::string_view text, bool& value) {
  for (std::string_view yes : {"1", "t", "T", "TRUE", "true", "True"}) {
    if (text == yes) {
      value = true;
      return true;
    }
  }
  for (std::string_view no : {"0", "f", "F", "FALSE", "false", "False"}) {
    if (text == no) {
      value = false;
      return true;
    }
  }
  return false;
}

bool parse_unsigned(std::string_view text, uint64_t max, uint64_t& value) {
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  return !text.empty() && error == std::errc() && end == text.data() + text.size() && value <= max;
}

int64_t signed_flag(const Flags& flags, std::string_view name, std::string_view advice) {
  std::string text = flags.value(name);
  int64_t value = 0;
  if (!parse_int(text, INT64_MIN, INT64_MAX, value)) fail("invalid --{} \"{}\": {}", name, text, advice);
  return value;
}

uint64_t unsigned_flag(const Flags& flags, std::string_view name, uint64_t max, std::string_view advice) {
  std::string text = flags.value(name);
  uint64_t value = 0;
  if (!parse_unsigned(text, max, value)) fail("invalid --{} \"{}\": {}", name, text, advice);
  return value;
}

int64_t memory_flag(const Flags& flags, std::string_view name) {
  std::string text(trim(flags.value(name)));
  if (text == "-1") return -1;
  uint64_t bytes = 0;
  if (!parse_byte_size(text, bytes) || bytes > uint64_t{INT64_MAX})
    fail("invalid --{} \"{}\": use a size in bytes or with a unit such as 64m or 1g, or -1 for no limit",
         name, flags.value(name));
  return static_cast<int64_t>(bytes);
}

uint32_t id_number(std::string_view text, std::string_view flag, std::string_view whole) {
  uint64_t value = 0;
  if (!parse_unsigned(text, UINT32_MAX, value))
    fail("invalid --{} \"{}\": use numeric ids{}", flag, whole, flag == "user" ? " as uid[:gid]" : "");
  return static_cast<uint32_t>(value);
}

}  // namespace

std::string Flags::value(std::string_view name, std::string_view fallback) const {
  auto it = values_.find(name);
  return it == values_.end() ? std::string(fallback) : it->second.back();
}

std::vector<std::string> Flags::values(std::string_view name) const {
  auto it = values_.find(name);
  return it == values_.end() ? std::vector<std::string>{} : it->second;
}

bool Flags::enabled(std::string_view name) const {
  return value(name, "false") == "true";
}

Flags parse_flags(std::span<const FlagSpec> specs, std::span<const std::string> args, FlagOrder order,
                  std::string_view command) {
  auto lookup = [&](std::string_view name) -> const FlagSpec* {
    if (name == kHelpFlag.name || name == kHelpFlag.alias) return &kHelpFlag;
    for (const FlagSpec& spec : specs)
      if (name == spec.name || (!spec.alias.empty() && name == spec.alias)) return &spec;
    return nullptr;
  };
  Flags flags;
  bool flags_done = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (flags_done || arg.size() < 2 || arg[0] != '-') {
      flags.args.push_back(arg);
      if (order == FlagOrder::before_arguments) flags_done = true;
      continue;
    }
    if (arg == "--") {
      // Go's flag package drops a "--" that ends the flags; one after an
      // argument stays an argument.
      if (!flags.args.empty()) flags.args.push_back(arg);
      flags_done = true;
      continue;
    }
    std::string_view body(arg);
    body.remove_prefix(body.starts_with("--") ? 2 : 1);
    if (body.empty() || body[0] == '-' || body[0] == '=')
      fail("bad flag syntax {}: see {}", arg, help_hint(command));
    size_t equals = body.find('=');
    std::string_view name = body.substr(0, equals);
    const FlagSpec* spec = lookup(name);
    if (!spec) {
      if (!flags.args.empty()) {  // urfave/cli leaves an unknown one after an argument in place
        flags.args.push_back(arg);
        continue;
      }
      if (command.empty()) fail("unknown global flag {}: see {}", arg, help_hint(command));
      fail("unknown flag {} for {}: see {}", arg, command, help_hint(command));
    }
    std::string value;
    if (spec->takes_value) {
      if (equals != std::string_view::npos) {
        value = body.substr(equals + 1);
      } else if (i + 1 < args.size()) {
        value = args[++i];
      } else {
        fail("{} --{} needs a value: see {}", flag_place(command), spec->name, help_hint(command));
      }
    } else {
      bool on = true;
      if (equals != std::string_view::npos && !parse_bool(body.substr(equals + 1), on))
        fail("invalid value in {}: --{} takes true or false", arg, spec->name);
      value = on ? "true" : "false";
    }
    if (spec == &kHelpFlag) {
      flags.help = value == "true";
    } else {
      flags.add(spec->name, std::move(value));
    }
  }
  return flags;
}

std::string flag_synopsis(const FlagSpec& spec) {
  std::string_view suffix = spec.takes_value ? " value" : "";
  std::string text = fmt::format("--{}{}", spec.name, suffix);
  if (!spec.alias.empty())
    text += fmt::format(", {}{}{}", spec.alias.size() == 1 ? "-" : "--", spec.alias, suffix);
  return text;
}

GlobalOptions parse_global_options(std::span<const std::string> args) {
  Flags flags = parse_flags(kGlobalFlags, args, FlagOrder::before_arguments, "");
  GlobalOptions options;
  options.runtime.root = flags.value("root", options.runtime.root);
  // create works in the bundle: a relative --root must not follow it there.
  if (!options.runtime.root.empty()) options.runtime.root = absolute_path(options.runtime.root);
  options.runtime.debug = flags.enabled("debug");
  options.systemd_cgroup = flags.enabled("systemd-cgroup");
  options.runtime.systemd_cgroup = options.systemd_cgroup;
  options.log_file = flags.value("log");
  options.log_format = flags.value("log-format", options.log_format);
  options.rootless = flags.value("rootless", options.rootless);
  options.version = flags.enabled("version");
  options.help = flags.help;
  options.command = std::move(flags.args);
  return options;
}

void check_global_options(const GlobalOptions& options) {
  if (options.log_format != "text" && options.log_format != "json")
    fail("invalid --log-format \"{}\": use text or json", options.log_format);
  if (options.systemd_cgroup)
    fail(
        "--systemd-cgroup is not supported: gocrate-runtime has no systemd cgroup driver; use cgroupfs (drop "
        "the flag)");
  if (options.runtime.root.empty()) fail("--root is empty: give the directory for container state");
  bool rootless = false;
  if (options.rootless != "auto" && !parse_bool(options.rootless, rootless))
    fail("invalid --rootless \"{}\": use auto or false", options.rootless);
  if (rootless)
    fail("--rootless=true is not supported: gocrate-runtime runs containers as root; use --rootless=auto");
}

int parse_kill_signal(std::string_view text) {
  return parse_signal(text, "signal");
}

void check_exec_flags(const Flags& flags) {
  for (std::string_view lsm : {"apparmor", "process-label"})
    if (!flags.value(lsm).empty())
      fail("exec --{} is not supported: gocrate-runtime applies no LSM profile; leave it out", lsm);
  if (!flags.value("cgroup").empty())
    fail("exec --cgroup is not supported: the process joins the container's own cgroup; leave it out");
}

Process exec_process(Process process, const Flags& flags) {
  if (flags.args.size() < 2)
    fail("exec needs a command after the container id, or --process FILE: see gocrate-runtime exec --help");
  process.args.assign(flags.args.begin() + 1, flags.args.end());
  if (std::string cwd = flags.value("cwd"); !cwd.empty()) process.cwd = cwd;
  if (!process.cwd.starts_with('/'))
    fail("invalid --cwd \"{}\": the working directory must be an absolute path", process.cwd);
  for (const std::string& cap : flags.values("cap")) {
    CapabilitySet set = parse_capability(cap);
    if (!process.capabilities) process.capabilities.emplace();
    process.capabilities->bounding |= set;
    process.capabilities->effective |= set;
    process.capabilities->permitted |= set;
    process.capabilities->ambient |= set;
  }
  for (std::string& env : flags.values("env")) process.env.push_back(std::move(env));
  process.terminal = flags.enabled("tty");
  if (flags.has("no-new-privs")) process.no_new_privileges = flags.enabled("no-new-privs");
  if (std::string user = flags.value("user"); !user.empty()) {
    size_t colon = user.find(':');
    process.user.uid = id_number(std::string_view(user).substr(0, colon), "user", user);
    if (colon != std::string::npos)
      process.user.gid = id_number(std::string_view(user).substr(colon + 1), "user", user);
  }
  for (const std::string& gids : flags.values("additional-gids"))
    for (const std::string& gid : split(gids, ','))
      process.user.additional_gids.push_back(id_number(gid, "additional-gids", gids));
  return process;
}

Resources update_resources(const Flags& flags) {
  for (std::string_view rdt : {"l3-cache-schema", "mem-bw-schema"})
    if (!flags.value(rdt).empty())
      fail("update --{} is not supported: gocrate-runtime has no Intel RDT support; leave it out", rdt);
  Resources resources;
  auto memory = [&]() -> MemoryResources& {
    if (!resources.memory) resources.memory.emplace();
    return *resources.memory;
  };
  auto cpu = [&]() -> CpuResources& {
    if (!resources.cpu) resources.cpu.emplace();
    return *resources.cpu;
  };
  constexpr std::string_view kMicroseconds = "use a whole number of microseconds";
  if (flags.has("memory")) memory().limit = memory_flag(flags, "memory");
  if (flags.has("memory-reservation")) memory().reservation = memory_flag(flags, "memory-reservation");
  if (flags.has("memory-swap")) memory().swap = memory_flag(flags, "memory-swap");
  if (flags.has("cpu-share"))
    cpu().shares = unsigned_flag(flags, "cpu-share", UINT64_MAX, "use a whole number such as 1024");
  if (flags.has("cpu-period")) cpu().period = unsigned_flag(flags, "cpu-period", UINT64_MAX, kMicroseconds);
  if (flags.has("cpu-quota")) cpu().quota = signed_flag(flags, "cpu-quota", kMicroseconds);
  if (flags.has("cpu-rt-period"))
    cpu().realtime_period = unsigned_flag(flags, "cpu-rt-period", UINT64_MAX, kMicroseconds);
  if (flags.has("cpu-rt-runtime"))
    cpu().realtime_runtime = signed_flag(flags, "cpu-rt-runtime", kMicroseconds);
  if (flags.has("cpuset-cpus")) cpu().cpus = flags.value("cpuset-cpus");
  if (flags.has("cpuset-mems")) cpu().mems = flags.value("cpuset-mems");
  if (flags.has("pids-limit"))
    resources.pids_limit = signed_flag(flags, "pids-limit", "use a whole number, or -1 for no limit");
  if (flags.has("blkio-weight")) {
    uint64_t weight = unsigned_flag(flags, "blkio-weight", 1000, "use a weight from 10 to 1000");
    if (weight < 10)
      fail("invalid --blkio-weight \"{}\": use a weight from 10 to 1000", flags.value("blkio-weight"));
    resources.block_io.emplace().weight = static_cast<uint16_t>(weight);
  }
  return resources;
}

}  // namespace gocrate::oci::cli
