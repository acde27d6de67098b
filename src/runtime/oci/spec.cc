#include "runtime/oci/spec.h"

#include <fmt/ranges.h>
#include <seccomp.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <limits>
#include <nlohmann/json.hpp>

#include "runtime/containment/capabilities.h"
#include "util/error.h"

namespace gocrate::oci {

namespace {

using json = nlohmann::json;
using ordered_json = nlohmann::ordered_json;

constexpr std::pair<NamespaceType, std::string_view> kNamespaceNames[] = {
    {NamespaceType::pid, "pid"},       {NamespaceType::network, "network"}, {NamespaceType::mount, "mount"},
    {NamespaceType::ipc, "ipc"},       {NamespaceType::uts, "uts"},         {NamespaceType::user, "user"},
    {NamespaceType::cgroup, "cgroup"}, {NamespaceType::time, "time"},
};

constexpr std::pair<std::string_view, int> kRlimits[] = {
    {"RLIMIT_CPU", RLIMIT_CPU},           {"RLIMIT_FSIZE", RLIMIT_FSIZE},
    {"RLIMIT_DATA", RLIMIT_DATA},         {"RLIMIT_STACK", RLIMIT_STACK},
    {"RLIMIT_CORE", RLIMIT_CORE},         {"RLIMIT_RSS", RLIMIT_RSS},
    {"RLIMIT_NPROC", RLIMIT_NPROC},       {"RLIMIT_NOFILE", RLIMIT_NOFILE},
    {"RLIMIT_MEMLOCK", RLIMIT_MEMLOCK},   {"RLIMIT_AS", RLIMIT_AS},
    {"RLIMIT_LOCKS", RLIMIT_LOCKS},       {"RLIMIT_SIGPENDING", RLIMIT_SIGPENDING},
    {"RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE}, {"RLIMIT_NICE", RLIMIT_NICE},
    {"RLIMIT_RTPRIO", RLIMIT_RTPRIO},     {"RLIMIT_RTTIME", RLIMIT_RTTIME},
};

constexpr std::string_view kSeccompActions[] = {
    "SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO",  "SCMP_ACT_KILL",  "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD",
    "SCMP_ACT_LOG",   "SCMP_ACT_NOTIFY", "SCMP_ACT_TRACE", "SCMP_ACT_TRAP",
};

constexpr std::string_view kSeccompOperators[] = {
    "SCMP_CMP_EQ", "SCMP_CMP_GE",        "SCMP_CMP_GT", "SCMP_CMP_LE",
    "SCMP_CMP_LT", "SCMP_CMP_MASKED_EQ", "SCMP_CMP_NE",
};

// The SCMP_ARCH_* names of the runtime-spec schema and of libseccomp.
constexpr std::string_view kSeccompArchs[] = {
    "SCMP_ARCH_AARCH64",  "SCMP_ARCH_ARM",         "SCMP_ARCH_LOONGARCH64", "SCMP_ARCH_M68K",
    "SCMP_ARCH_MIPS",     "SCMP_ARCH_MIPS64",      "SCMP_ARCH_MIPS64N32",   "SCMP_ARCH_MIPSEL",
    "SCMP_ARCH_MIPSEL64", "SCMP_ARCH_MIPSEL64N32", "SCMP_ARCH_PARISC",      "SCMP_ARCH_PARISC64",
    "SCMP_ARCH_PPC",      "SCMP_ARCH_PPC64",       "SCMP_ARCH_PPC64LE",     "SCMP_ARCH_RISCV64",
    "SCMP_ARCH_S390",     "SCMP_ARCH_S390X",       "SCMP_ARCH_SH",          "SCMP_ARCH_SHEB",
    "SCMP_ARCH_X32",      "SCMP_ARCH_X86",         "SCMP_ARCH_X86_64",
};

constexpr std::string_view kSeccompFlags[] = {
    "SECCOMP_FILTER_FLAG_TSYNC",
    "SECCOMP_FILTER_FLAG_LOG",
    "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
    "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
};

constexpr std::string_view kPropagations[] = {
    "private", "rprivate", "slave", "rslave", "shared", "rshared", "unbindable", "runbindable",
};

constexpr std::string_view kMountOptions[] = {
    "async",      "atime",       "bind",       "defaults",    "dev",        "diratime",   "dirsync",
    "exec",       "iversion",    "lazytime",   "loud",        "mand",       "noatime",    "nodev",
    "nodiratime", "noexec",      "noiversion", "nolazytime",  "nomand",     "norelatime", "nostrictatime",
    "nosuid",     "nosymfollow", "private",    "rbind",       "relatime",   "remount",    "ro",
    "rprivate",   "rshared",     "rslave",     "runbindable", "rw",         "shared",     "silent",
    "slave",      "strictatime", "suid",       "sync",        "unbindable",
};

template <typename List>
bool listed(const List& list, std::string_view name) {
  return std::find(std::begin(list), std::end(list), name) != std::end(list);
}

std::string join_key(const std::string& path, std::string_view key) {
  return path.empty() ? std::string(key) : path + "." + std::string(key);
}

std::string join_index(const std::string& path, size_t index) {
  return fmt::format("{}[{}]", path, index);
}

std::string found(const json& value) {
  if (value.is_number()) return value.dump();
  if (value.is_string()) return fmt::format("the string {}", value.dump());
  if (value.is_object()) return "an object";
  if (value.is_array()) return "an array";
  return value.type_name();
}

// Reads one JSON document, naming the document (`what`) and the field's path
// in every error.
class Reader {
 public:
  explicit Reader(std::string_view what) : what_(what) {}

  [[noreturn]] void bad(const std::string& path, std::string_view message) const {
    if (path.empty()) fail("{}: {}", what_, message);
    fail("{}: {}: {}", what_, path, message);
  }

  json parse(std::string_view text) const {
    try {
      return json::parse(text);
    } catch (const json::exception& e) {
      std::string reason = e.what();
      if (size_t end = reason.find("] "); reason.starts_with("[json.exception") && end != std::string::npos)
        reason = reason.substr(end + 2);
      fail("{} is not valid JSON: {}", what_, reason);
    }
  }

  void expect_object(const json& value, const std::string& path) const {
    if (!value.is_object()) bad(path, fmt::format("expected an object, found {}", found(value)));
  }

  std::string string(const json& value, const std::string& path) const {
    if (!value.is_string()) bad(path, fmt::format("expected a string, found {}", found(value)));
    return value.get<std::string>();
  }

  bool boolean(const json& value, const std::string& path) const {
    if (!value.is_boolean()) bad(path, fmt::format("expected true or false, found {}", found(value)));
    return value.get<bool>();
  }

  template <typename T>
  T integer(const json& value, const std::string& path) const {
    if (!value.is_number_integer()) bad(path, fmt::format("expected an integer, found {}", found(value)));
    bool in_range;
    if (value.is_number_unsigned()) {
      in_range = value.get<uint64_t>() <= static_cast<uint64_t>(std::numeric_limits<T>::max());
    } else {
      int64_t v = value.get<int64_t>();
      in_range = v >= 0 ? static_cast<uint64_t>(v) <= static_cast<uint64_t>(std::numeric_limits<T>::max())
                        : std::numeric_limits<T>::is_signed &&
                              v >= static_cast<int64_t>(std::numeric_limits<T>::min());
    }
    if (!in_range) {
      bad(path, fmt::format("{} is out of range: use {} to {}", value.dump(), std::numeric_limits<T>::min(),
                            std::numeric_limits<T>::max()));
    }
    return value.get<T>();
  }

  template <typename Fn>
  void each(const json& value, const std::string& path, Fn&& fn) const {
    if (!value.is_array()) bad(path, fmt::format("expected an array, found {}", found(value)));
    for (size_t i = 0; i < value.size(); ++i) fn(value[i], join_index(path, i));
  }

  std::vector<std::string> strings(const json& value, const std::string& path) const {
    std::vector<std::string> out;
    each(value, path, [&](const json& item, const std::string& p) { out.push_back(string(item, p)); });
    return out;
  }

  std::map<std::string, std::string> string_map(const json& value, const std::string& path) const {
    expect_object(value, path);
    std::map<std::string, std::string> out;
    for (const auto& [key, item] : value.items()) out[key] = string(item, join_key(path, key));
    return out;
  }

 private:
  std::string_view what_;
};

// One JSON object and its path: fields absent or null read as absent.
class Object {
 public:
  Object(const Reader& reader, const json& value, std::string path)
      : r_(reader), value_(value), path_(std::move(path)) {
    r_.expect_object(value_, path_);
  }

  const std::string& path() const { return path_; }
  std::string at(std::string_view key) const { return join_key(path_, key); }
  const Reader& reader() const { return r_; }
  [[noreturn]] void bad(std::string_view key, std::string_view message) const { r_.bad(at(key), message); }

  const json* get(std::string_view key) const {
    auto it = value_.find(key);
    return it == value_.end() || it->is_null() ? nullptr : &*it;
  }

  const json& need(std::string_view key, std::string_view hint) const {
    const json* v = get(key);
    if (!v) bad(key, fmt::format("is missing: {}", hint));
    return *v;
  }

  void read(std::string_view key, std::string& out) const {
    if (const json* v = get(key)) out = r_.string(*v, at(key));
  }
  void read(std::string_view key, bool& out) const {
    if (const json* v = get(key)) out = r_.boolean(*v, at(key));
  }
  void read(std::string_view key, std::optional<bool>& out) const {
    if (const json* v = get(key)) out = r_.boolean(*v, at(key));
  }
  template <typename T>
  requires std::is_integral_v<T>
  void read(std::string_view key, T& out) const {
    if (const json* v = get(key)) out = r_.integer<T>(*v, at(key));
  }
  template <typename T>
  requires std::is_integral_v<T>
  void read(std::string_view key, std::optional<T>& out) const {
    if (const json* v = get(key)) out = r_.integer<T>(*v, at(key));
  }
  void read(std::string_view key, std::vector<std::string>& out) const {
    if (const json* v = get(key)) out = r_.strings(*v, at(key));
  }
  void read(std::string_view key, std::map<std::string, std::string>& out) const {
    if (const json* v = get(key)) out = r_.string_map(*v, at(key));
  }

  template <typename Fn>
  void each_object(std::string_view key, Fn&& fn) const {
    if (const json* v = get(key)) {
      r_.each(*v, at(key), [&](const json& item, const std::string& p) { fn(Object(r_, item, p)); });
    }
  }

  std::optional<Object> object(std::string_view key) const {
    if (const json* v = get(key)) return Object(r_, *v, at(key));
    return std::nullopt;
  }

 private:
  const Reader& r_;
  const json& value_;
  std::string path_;
};

uint64_t capability_set(const Object& caps, std::string_view key) {
  uint64_t set = 0;
  const json* list = caps.get(key);
  if (!list) return set;
  caps.reader().each(*list, caps.at(key), [&](const json& item, const std::string& path) {
    std::string name = caps.reader().string(item, path);
    if (!name.starts_with("CAP_") || name == "CAP_ALL") {
      caps.reader().bad(path,
                        fmt::format("unknown capability \"{}\": use a name such as CAP_NET_ADMIN", name));
    }
    try {
      set |= parse_capability(name);
    } catch (const Error&) {
      caps.reader().bad(path, fmt::format("unknown capability \"{}\": use a name such as CAP_NET_ADMIN (see "
                                          "capabilities(7))",
                                          name));
    }
  });
  return set;
}

Process read_process(const Object& o) {
  Process p;
  o.read("terminal", p.terminal);
  if (auto size = o.object("consoleSize")) {
    ConsoleSize cs;
    size->read("height", cs.height);
    size->read("width", cs.width);
    p.console_size = cs;
  }
  if (auto user = o.object("user")) {
    user->read("uid", p.user.uid);
    user->read("gid", p.user.gid);
    user->read("umask", p.user.umask);
    if (const json* gids = user->get("additionalGids")) {
      o.reader().each(*gids, user->at("additionalGids"), [&](const json& item, const std::string& path) {
        p.user.additional_gids.push_back(o.reader().integer<uint32_t>(item, path));
      });
    }
  }
  o.read("args", p.args);
  o.read("env", p.env);
  o.read("cwd", p.cwd);
  if (!p.cwd.starts_with("/")) {
    o.bad("cwd", fmt::format("\"{}\" is not an absolute path: give the working directory from /", p.cwd));
  }
  if (auto caps = o.object("capabilities")) {
    Capabilities c;
    c.bounding = capability_set(*caps, "bounding");
    c.effective = capability_set(*caps, "effective");
    c.inheritable = capability_set(*caps, "inheritable");
    c.permitted = capability_set(*caps, "permitted");
    c.ambient = capability_set(*caps, "ambient");
    p.capabilities = c;
  }
  o.each_object("rlimits", [&](const Object& limit) {
    Rlimit rl;
    rl.type =
        limit.reader().string(limit.need("type", "name the limit, such as RLIMIT_NOFILE"), limit.at("type"));
    auto known = std::find_if(std::begin(kRlimits), std::end(kRlimits),
                              [&](const auto& entry) { return entry.first == rl.type; });
    if (known == std::end(kRlimits)) {
      limit.bad("type", fmt::format("unknown rlimit \"{}\": use one of RLIMIT_CPU, RLIMIT_NOFILE, ... (see "
                                    "getrlimit(2))",
                                    rl.type));
    }
    rl.resource = known->second;
    rl.hard = limit.reader().integer<uint64_t>(limit.need("hard", "give the hard limit"), limit.at("hard"));
    rl.soft = limit.reader().integer<uint64_t>(limit.need("soft", "give the soft limit"), limit.at("soft"));
    for (const auto& earlier : p.rlimits) {
      if (earlier.resource == rl.resource) {
        limit.bad("type", fmt::format("{} is listed twice: give each rlimit once", rl.type));
      }
    }
    p.rlimits.push_back(rl);
  });
  o.read("noNewPrivileges", p.no_new_privileges);
  o.read("oomScoreAdj", p.oom_score_adj);
  if (p.oom_score_adj && (*p.oom_score_adj < -1000 || *p.oom_score_adj > 1000)) {
    o.bad("oomScoreAdj", fmt::format("{} is out of range: use -1000 to 1000", *p.oom_score_adj));
  }
  o.read("apparmorProfile", p.apparmor_profile);
  o.read("selinuxLabel", p.selinux_label);
  return p;
}

Hook read_hook(const Object& o) {
  Hook h;
  h.path = o.reader().string(o.need("path", "give the hook program's absolute path"), o.at("path"));
  if (!h.path.starts_with("/")) {
    o.bad("path", fmt::format("\"{}\" is not an absolute path: give the hook program from /", h.path));
  }
  o.read("args", h.args);
  o.read("env", h.env);
  o.read("timeout", h.timeout);
  if (h.timeout && *h.timeout <= 0) {
    o.bad("timeout", fmt::format("{} is not a timeout: give a number of seconds greater than 0", *h.timeout));
  }
  return h;
}

std::vector<Hook> read_hooks(const Object& hooks, std::string_view key) {
  std::vector<Hook> out;
  hooks.each_object(key, [&](const Object& hook) { out.push_back(read_hook(hook)); });
  return out;
}

std::optional<int64_t> any_when_minus_one(const Object& o, std::string_view key) {
  std::optional<int64_t> value;
  o.read(key, value);
  if (value && *value == -1) value.reset();
  return value;
}

std::vector<BlockIoDevice> read_throttle(const Object& o, std::string_view key) {
  std::vector<BlockIoDevice> out;
  o.each_object(key, [&](const Object& d) {
    BlockIoDevice dev;
    d.read("major", dev.major);
    d.read("minor", dev.minor);
    d.read("rate", dev.rate);
    out.push_back(dev);
  });
  return out;
}

Resources read_resources(const Object& o) {
  Resources res;
  o.each_object("devices", [&](const Object& d) {
    DeviceCgroupRule rule;
    rule.allow = d.reader().boolean(d.need("allow", "say whether the rule allows (true) or denies (false)"),
                                    d.at("allow"));
    std::string type = "a";
    d.read("type", type);
    if (type != "a" && type != "c" && type != "b") {
      d.bad("type", fmt::format("unknown device type \"{}\": use a (all), c (char) or b (block)", type));
    }
    rule.type = type[0];
    rule.major = any_when_minus_one(d, "major");
    rule.minor = any_when_minus_one(d, "minor");
    d.read("access", rule.access);
    if (rule.access.find_first_not_of("rwm") != std::string::npos) {
      d.bad("access", fmt::format("\"{}\" is not a device access: use letters of rwm", rule.access));
    }
    res.devices.push_back(rule);
  });
  if (auto m = o.object("memory")) {
    MemoryResources mem;
    m->read("limit", mem.limit);
    m->read("reservation", mem.reservation);
    m->read("swap", mem.swap);
    m->read("kernel", mem.kernel);
    m->read("kernelTCP", mem.kernel_tcp);
    m->read("swappiness", mem.swappiness);
    if (mem.swappiness && *mem.swappiness > 100) {
      m->bad("swappiness", fmt::format("{} is out of range: use 0 to 100", *mem.swappiness));
    }
    m->read("disableOOMKiller", mem.disable_oom_killer);
    m->read("useHierarchy", mem.use_hierarchy);
    m->read("checkBeforeUpdate", mem.check_before_update);
    res.memory = mem;
  }
  if (auto c = o.object("cpu")) {
    CpuResources cpu;
    c->read("shares", cpu.shares);
    c->read("quota", cpu.quota);
    c->read("burst", cpu.burst);
    c->read("period", cpu.period);
    c->read("realtimeRuntime", cpu.realtime_runtime);
    c->read("realtimePeriod", cpu.realtime_period);
    c->read("cpus", cpu.cpus);
    c->read("mems", cpu.mems);
    c->read("idle", cpu.idle);
    res.cpu = cpu;
  }
  if (auto pids = o.object("pids")) {
    res.pids_limit = pids->reader().integer<int64_t>(
        pids->need("limit", "give the most tasks, or -1 for no limit"), pids->at("limit"));
  }
  if (auto b = o.object("blockIO")) {
    BlockIoResources io;
    b->read("weight", io.weight);
    b->read("leafWeight", io.leaf_weight);
    b->each_object("weightDevice", [&](const Object& d) {
      BlockIoDevice dev;
      d.read("major", dev.major);
      d.read("minor", dev.minor);
      d.read("weight", dev.weight);
      d.read("leafWeight", dev.leaf_weight);
      io.weight_device.push_back(dev);
    });
    io.throttle_read_bps = read_throttle(*b, "throttleReadBpsDevice");
    io.throttle_write_bps = read_throttle(*b, "throttleWriteBpsDevice");
    io.throttle_read_iops = read_throttle(*b, "throttleReadIOPSDevice");
    io.throttle_write_iops = read_throttle(*b, "throttleWriteIOPSDevice");
    res.block_io = io;
  }
  o.each_object("hugepageLimits", [&](const Object& h) {
    HugepageLimit limit;
    limit.page_size =
        h.reader().string(h.need("pageSize", "give the page size, such as 2MB"), h.at("pageSize"));
    h.read("limit", limit.limit);
    res.hugepage_limits.push_back(limit);
  });
  if (auto n = o.object("network")) {
    NetworkResources net;
    n->read("classID", net.class_id);
    n->each_object("priorities", [&](const Object& p) {
      NetworkPriority prio;
      p.read("name", prio.name);
      p.read("priority", prio.priority);
      net.priorities.push_back(prio);
    });
    res.network = net;
  }
  o.read("unified", res.unified);
  return res;
}

template <typename List>
void check_listed(const Object& o, const std::string& path, const std::string& value, const List& list,
                  std::string_view kind) {
  if (!listed(list, value)) {
    o.reader().bad(path, fmt::format("unknown {} \"{}\": use one of {}", kind, value,
                                     fmt::join(std::begin(list), std::end(list), ", ")));
  }
}

Seccomp read_seccomp(const Object& o) {
  Seccomp s;
  s.default_action = o.reader().string(
      o.need("defaultAction", "name the action for system calls no rule lists, such as SCMP_ACT_ERRNO"),
      o.at("defaultAction"));
  check_listed(o, o.at("defaultAction"), s.default_action, kSeccompActions, "seccomp action");
  o.read("defaultErrnoRet", s.default_errno_ret);
  o.read("architectures", s.architectures);
  for (size_t i = 0; i < s.architectures.size(); ++i) {
    check_listed(o, join_index(o.at("architectures"), i), s.architectures[i], kSeccompArchs,
                 "seccomp architecture");
  }
  o.read("flags", s.flags);
  for (size_t i = 0; i < s.flags.size(); ++i) {
    check_listed(o, join_index(o.at("flags"), i), s.flags[i], kSeccompFlags, "seccomp flag");
  }
  o.read("listenerPath", s.listener_path);
  o.read("listenerMetadata", s.listener_metadata);
  o.each_object("syscalls", [&](const Object& sc) {
    SeccompSyscall call;
    call.names =
        sc.reader().strings(sc.need("names", "list the system calls the rule is for"), sc.at("names"));
    if (call.names.empty()) sc.bad("names", "is empty: list the system calls the rule is for");
    call.action = sc.reader().string(sc.need("action", "name the rule's action, such as SCMP_ACT_ALLOW"),
                                     sc.at("action"));
    check_listed(sc, sc.at("action"), call.action, kSeccompActions, "seccomp action");
    sc.read("errnoRet", call.errno_ret);
    sc.each_object("args", [&](const Object& a) {
      SeccompArg arg;
      arg.index =
          a.reader().integer<unsigned>(a.need("index", "give the argument's number, 0 to 5"), a.at("index"));
      if (arg.index > 5) a.bad("index", fmt::format("{} is out of range: use 0 to 5", arg.index));
      a.read("value", arg.value);
      a.read("valueTwo", arg.value_two);
      arg.op = a.reader().string(a.need("op", "name the comparison, such as SCMP_CMP_EQ"), a.at("op"));
      check_listed(a, a.at("op"), arg.op, kSeccompOperators, "seccomp operator");
      call.args.push_back(arg);
    });
    s.syscalls.push_back(call);
  });
  return s;
}

std::vector<IdMapping> read_id_mappings(const Object& o, std::string_view key) {
  std::vector<IdMapping> out;
  o.each_object(key, [&](const Object& m) {
    IdMapping map;
    const Reader& r = m.reader();
    map.container_id = r.integer<uint32_t>(m.need("containerID", "give the first id inside the container"),
                                           m.at("containerID"));
    map.host_id = r.integer<uint32_t>(m.need("hostID", "give the first id on the host"), m.at("hostID"));
    map.size = r.integer<uint32_t>(m.need("size", "give the number of ids mapped"), m.at("size"));
    out.push_back(map);
  });
  return out;
}

Linux read_linux(const Object& o) {
  Linux l;
  o.each_object("namespaces", [&](const Object& n) {
    Namespace ns;
    std::string name =
        n.reader().string(n.need("type", "name the namespace, such as pid or network"), n.at("type"));
    auto type = parse_namespace_type(name);
    if (!type) {
      n.bad("type",
            fmt::format("unknown namespace \"{}\": use pid, network, mount, ipc, uts, user, cgroup or time",
                        name));
    }
    if (l.find_namespace(*type))
      n.bad("type", fmt::format("{} is listed twice: give each namespace once", name));
    ns.type = *type;
    n.read("path", ns.path);
    l.namespaces.push_back(ns);
  });
  l.uid_mappings = read_id_mappings(o, "uidMappings");
  l.gid_mappings = read_id_mappings(o, "gidMappings");
  o.each_object("devices", [&](const Object& d) {
    Device dev;
    std::string type = d.reader().string(d.need("type", "give the device type: c, b, u or p"), d.at("type"));
    if (type != "c" && type != "b" && type != "u" && type != "p") {
      d.bad("type", fmt::format("unknown device type \"{}\": use c, b, u or p", type));
    }
    dev.type = type[0];
    dev.path = d.reader().string(d.need("path", "give the device's path in the container"), d.at("path"));
    if (dev.type != 'p') {
      dev.major =
          d.reader().integer<int64_t>(d.need("major", "give the device's major number"), d.at("major"));
      dev.minor =
          d.reader().integer<int64_t>(d.need("minor", "give the device's minor number"), d.at("minor"));
    } else {
      d.read("major", dev.major);
      d.read("minor", dev.minor);
    }
    d.read("fileMode", dev.file_mode);
    d.read("uid", dev.uid);
    d.read("gid", dev.gid);
    l.devices.push_back(dev);
  });
  o.read("cgroupsPath", l.cgroups_path);
  if (auto res = o.object("resources")) l.resources = read_resources(*res);
  o.read("sysctl", l.sysctl);
  if (auto sec = o.object("seccomp")) l.seccomp = read_seccomp(*sec);
  o.read("rootfsPropagation", l.rootfs_propagation);
  if (!l.rootfs_propagation.empty()) {
    check_listed(o, o.at("rootfsPropagation"), l.rootfs_propagation, kPropagations, "propagation");
  }
  o.read("maskedPaths", l.masked_paths);
  o.read("readonlyPaths", l.readonly_paths);
  o.read("mountLabel", l.mount_label);
  if (auto p = o.object("personality")) {
    Personality pers;
    pers.domain = p->reader().string(p->need("domain", "give LINUX or LINUX32"), p->at("domain"));
    if (pers.domain != "LINUX" && pers.domain != "LINUX32") {
      p->bad("domain", fmt::format("unknown personality \"{}\": use LINUX or LINUX32", pers.domain));
    }
    p->read("flags", pers.flags);
    l.personality = pers;
  }
  return l;
}

// Writing: nlohmann's ordered_json keeps the spec's field order.

void put_if(ordered_json& j, const char* key, const std::string& value) {
  if (!value.empty()) j[key] = value;
}
void put_if(ordered_json& j, const char* key, const std::vector<std::string>& value) {
  if (!value.empty()) j[key] = value;
}
void put_if(ordered_json& j, const char* key, const std::map<std::string, std::string>& value) {
  if (!value.empty()) j[key] = value;
}
template <typename T>
void put_if(ordered_json& j, const char* key, const std::optional<T>& value) {
  if (value) j[key] = *value;
}

ordered_json capability_json(uint64_t set) {
  return capability_names(set);
}

ordered_json process_json(const Process& p) {
  ordered_json j = ordered_json::object();
  if (p.terminal) j["terminal"] = true;
  if (p.console_size)
    j["consoleSize"] = {{"height", p.console_size->height}, {"width", p.console_size->width}};
  ordered_json user = {{"uid", p.user.uid}, {"gid", p.user.gid}};
  put_if(user, "umask", p.user.umask);
  if (!p.user.additional_gids.empty()) user["additionalGids"] = p.user.additional_gids;
  j["user"] = user;
  put_if(j, "args", p.args);
  put_if(j, "env", p.env);
  j["cwd"] = p.cwd;
  if (p.capabilities) {
    ordered_json caps = ordered_json::object();
    const Capabilities& c = *p.capabilities;
    if (c.bounding) caps["bounding"] = capability_json(c.bounding);
    if (c.effective) caps["effective"] = capability_json(c.effective);
    if (c.inheritable) caps["inheritable"] = capability_json(c.inheritable);
    if (c.permitted) caps["permitted"] = capability_json(c.permitted);
    if (c.ambient) caps["ambient"] = capability_json(c.ambient);
    j["capabilities"] = caps;
  }
  if (!p.rlimits.empty()) {
    ordered_json limits = ordered_json::array();
    for (const auto& rl : p.rlimits)
      limits.push_back({{"type", rl.type}, {"hard", rl.hard}, {"soft", rl.soft}});
    j["rlimits"] = limits;
  }
  if (p.no_new_privileges) j["noNewPrivileges"] = true;
  put_if(j, "apparmorProfile", p.apparmor_profile);
  put_if(j, "oomScoreAdj", p.oom_score_adj);
  put_if(j, "selinuxLabel", p.selinux_label);
  return j;
}

ordered_json hooks_json(const std::vector<Hook>& hooks) {
  ordered_json list = ordered_json::array();
  for (const auto& h : hooks) {
    ordered_json j = {{"path", h.path}};
    put_if(j, "args", h.args);
    put_if(j, "env", h.env);
    put_if(j, "timeout", h.timeout);
    list.push_back(j);
  }
  return list;
}

ordered_json throttle_json(const std::vector<BlockIoDevice>& devices) {
  ordered_json list = ordered_json::array();
  for (const auto& d : devices) list.push_back({{"major", d.major}, {"minor", d.minor}, {"rate", d.rate}});
  return list;
}

ordered_json resources_json(const Resources& r) {
  ordered_json j = ordered_json::object();
  if (!r.devices.empty()) {
    ordered_json list = ordered_json::array();
    for (const auto& d : r.devices) {
      ordered_json rule = {{"allow", d.allow}};
      if (d.type != 'a') rule["type"] = std::string(1, d.type);
      put_if(rule, "major", d.major);
      put_if(rule, "minor", d.minor);
      put_if(rule, "access", d.access);
      list.push_back(rule);
    }
    j["devices"] = list;
  }
  if (r.memory) {
    const MemoryResources& m = *r.memory;
    ordered_json mem = ordered_json::object();
    put_if(mem, "limit", m.limit);
    put_if(mem, "reservation", m.reservation);
    put_if(mem, "swap", m.swap);
    put_if(mem, "kernel", m.kernel);
    put_if(mem, "kernelTCP", m.kernel_tcp);
    put_if(mem, "swappiness", m.swappiness);
    put_if(mem, "disableOOMKiller", m.disable_oom_killer);
    put_if(mem, "useHierarchy", m.use_hierarchy);
    put_if(mem, "checkBeforeUpdate", m.check_before_update);
    j["memory"] = mem;
  }
  if (r.cpu) {
    const CpuResources& c = *r.cpu;
    ordered_json cpu = ordered_json::object();
    put_if(cpu, "shares", c.shares);
    put_if(cpu, "quota", c.quota);
    put_if(cpu, "burst", c.burst);
    put_if(cpu, "period", c.period);
    put_if(cpu, "realtimeRuntime", c.realtime_runtime);
    put_if(cpu, "realtimePeriod", c.realtime_period);
    put_if(cpu, "cpus", c.cpus);
    put_if(cpu, "mems", c.mems);
    put_if(cpu, "idle", c.idle);
    j["cpu"] = cpu;
  }
  if (r.pids_limit) j["pids"] = {{"limit", *r.pids_limit}};
  if (r.block_io) {
    const BlockIoResources& b = *r.block_io;
    ordered_json io = ordered_json::object();
    put_if(io, "weight", b.weight);
    put_if(io, "leafWeight", b.leaf_weight);
    if (!b.weight_device.empty()) {
      ordered_json list = ordered_json::array();
      for (const auto& d : b.weight_device) {
        ordered_json dev = {{"major", d.major}, {"minor", d.minor}};
        put_if(dev, "weight", d.weight);
        put_if(dev, "leafWeight", d.leaf_weight);
        list.push_back(dev);
      }
      io["weightDevice"] = list;
    }
    if (!b.throttle_read_bps.empty()) io["throttleReadBpsDevice"] = throttle_json(b.throttle_read_bps);
    if (!b.throttle_write_bps.empty()) io["throttleWriteBpsDevice"] = throttle_json(b.throttle_write_bps);
    if (!b.throttle_read_iops.empty()) io["throttleReadIOPSDevice"] = throttle_json(b.throttle_read_iops);
    if (!b.throttle_write_iops.empty()) io["throttleWriteIOPSDevice"] = throttle_json(b.throttle_write_iops);
    j["blockIO"] = io;
  }
  if (!r.hugepage_limits.empty()) {
    ordered_json list = ordered_json::array();
    for (const auto& h : r.hugepage_limits) list.push_back({{"pageSize", h.page_size}, {"limit", h.limit}});
    j["hugepageLimits"] = list;
  }
  if (r.network) {
    ordered_json net = ordered_json::object();
    put_if(net, "classID", r.network->class_id);
    if (!r.network->priorities.empty()) {
      ordered_json list = ordered_json::array();
      for (const auto& p : r.network->priorities)
        list.push_back({{"name", p.name}, {"priority", p.priority}});
      net["priorities"] = list;
    }
    j["network"] = net;
  }
  put_if(j, "unified", r.unified);
  return j;
}

ordered_json id_mappings_json(const std::vector<IdMapping>& maps) {
  ordered_json list = ordered_json::array();
  for (const auto& m : maps) {
    list.push_back({{"containerID", m.container_id}, {"hostID", m.host_id}, {"size", m.size}});
  }
  return list;
}

ordered_json seccomp_json(const Seccomp& s) {
  ordered_json j = {{"defaultAction", s.default_action}};
  put_if(j, "defaultErrnoRet", s.default_errno_ret);
  put_if(j, "architectures", s.architectures);
  put_if(j, "flags", s.flags);
  put_if(j, "listenerPath", s.listener_path);
  put_if(j, "listenerMetadata", s.listener_metadata);
  if (!s.syscalls.empty()) {
    ordered_json list = ordered_json::array();
    for (const auto& call : s.syscalls) {
      ordered_json c = {{"names", call.names}, {"action", call.action}};
      put_if(c, "errnoRet", call.errno_ret);
      if (!call.args.empty()) {
        ordered_json args = ordered_json::array();
        for (const auto& a : call.args) {
          ordered_json arg = {{"index", a.index}, {"value", a.value}};
          if (a.value_two) arg["valueTwo"] = a.value_two;
          arg["op"] = a.op;
          args.push_back(arg);
        }
        c["args"] = args;
      }
      list.push_back(c);
    }
    j["syscalls"] = list;
  }
  return j;
}

ordered_json linux_json(const Linux& l) {
  ordered_json j = ordered_json::object();
  if (!l.uid_mappings.empty()) j["uidMappings"] = id_mappings_json(l.uid_mappings);
  if (!l.gid_mappings.empty()) j["gidMappings"] = id_mappings_json(l.gid_mappings);
  put_if(j, "sysctl", l.sysctl);
  if (l.resources) j["resources"] = resources_json(*l.resources);
  put_if(j, "cgroupsPath", l.cgroups_path);
  if (!l.namespaces.empty()) {
    ordered_json list = ordered_json::array();
    for (const auto& ns : l.namespaces) {
      ordered_json n = {{"type", std::string(namespace_type_name(ns.type))}};
      put_if(n, "path", ns.path);
      list.push_back(n);
    }
    j["namespaces"] = list;
  }
  if (!l.devices.empty()) {
    ordered_json list = ordered_json::array();
    for (const auto& d : l.devices) {
      ordered_json dev = {{"path", d.path}, {"type", std::string(1, d.type)}};
      if (d.type != 'p' || d.major || d.minor) {
        dev["major"] = d.major;
        dev["minor"] = d.minor;
      }
      put_if(dev, "fileMode", d.file_mode);
      put_if(dev, "uid", d.uid);
      put_if(dev, "gid", d.gid);
      list.push_back(dev);
    }
    j["devices"] = list;
  }
  if (l.seccomp) j["seccomp"] = seccomp_json(*l.seccomp);
  put_if(j, "rootfsPropagation", l.rootfs_propagation);
  put_if(j, "maskedPaths", l.masked_paths);
  put_if(j, "readonlyPaths", l.readonly_paths);
  put_if(j, "mountLabel", l.mount_label);
  if (l.personality) {
    ordered_json p = {{"domain", l.personality->domain}};
    put_if(p, "flags", l.personality->flags);
    j["personality"] = p;
  }
  return j;
}

}  // namespace

const Namespace* Linux::find_namespace(NamespaceType type) const {
  for (const auto& ns : namespaces) {
    if (ns.type == type) return &ns;
  }
  return nullptr;
}

std::string_view namespace_type_name(NamespaceType type) {
  for (const auto& [t, name] : kNamespaceNames) {
    if (t == type) return name;
  }
  return "unknown";
}

std::optional<NamespaceType> parse_namespace_type(std::string_view name) {
  for (const auto& [t, n] : kNamespaceNames) {
    if (n == name) return t;
  }
  return std::nullopt;
}

Spec parse_spec(std::string_view text, std::string_view what) {
  Reader r(what);
  json doc = r.parse(text);
  Object o(r, doc, "");
  Spec spec;
  spec.oci_version = r.string(
      o.need("ociVersion", fmt::format("give the runtime-spec version, such as \"{}\"", kSpecVersion)),
      "ociVersion");
  if (!spec.oci_version.starts_with("1.")) {
    o.bad("ociVersion",
          fmt::format("version \"{}\" is not supported: gocrate runs runtime-spec 1.x configurations",
                      spec.oci_version));
  }
  if (auto p = o.object("process")) spec.process = read_process(*p);
  auto root = o.object("root");
  if (!root)
    o.bad("root", "is missing: give the container's root file system, such as {\"path\": \"rootfs\"}");
  root->read("path", spec.root.path);
  if (spec.root.path.empty())
    root->bad("path", "is missing: give the root file system's directory, such as rootfs");
  root->read("readonly", spec.root.readonly);
  o.read("hostname", spec.hostname);
  o.read("domainname", spec.domainname);
  o.each_object("mounts", [&](const Object& m) {
    Mount mount;
    mount.destination =
        r.string(m.need("destination", "give the path in the container to mount on"), m.at("destination"));
    if (mount.destination.empty())
      m.bad("destination", "is empty: give the path in the container to mount on");
    m.read("type", mount.type);
    m.read("source", mount.source);
    m.read("options", mount.options);
    spec.mounts.push_back(mount);
  });
  if (auto hooks = o.object("hooks")) {
    spec.hooks.prestart = read_hooks(*hooks, "prestart");
    spec.hooks.create_runtime = read_hooks(*hooks, "createRuntime");
    spec.hooks.create_container = read_hooks(*hooks, "createContainer");
    spec.hooks.start_container = read_hooks(*hooks, "startContainer");
    spec.hooks.poststart = read_hooks(*hooks, "poststart");
    spec.hooks.poststop = read_hooks(*hooks, "poststop");
  }
  o.read("annotations", spec.annotations);
  if (auto l = o.object("linux")) spec.linux = read_linux(*l);
  return spec;
}

Process parse_process(std::string_view text, std::string_view what) {
  Reader r(what);
  json doc = r.parse(text);
  return read_process(Object(r, doc, ""));
}

Resources parse_resources(std::string_view text, std::string_view what) {
  Reader r(what);
  json doc = r.parse(text);
  return read_resources(Object(r, doc, ""));
}

std::string to_json_text(const Spec& spec) {
  ordered_json j = {{"ociVersion", spec.oci_version}};
  if (spec.process) j["process"] = process_json(*spec.process);
  ordered_json root = {{"path", spec.root.path}};
  if (spec.root.readonly) root["readonly"] = true;
  j["root"] = root;
  put_if(j, "hostname", spec.hostname);
  put_if(j, "domainname", spec.domainname);
  if (!spec.mounts.empty()) {
    ordered_json list = ordered_json::array();
    for (const auto& m : spec.mounts) {
      ordered_json mount = {{"destination", m.destination}};
      put_if(mount, "type", m.type);
      put_if(mount, "source", m.source);
      put_if(mount, "options", m.options);
      list.push_back(mount);
    }
    j["mounts"] = list;
  }
  const Hooks& h = spec.hooks;
  ordered_json hooks = ordered_json::object();
  if (!h.prestart.empty()) hooks["prestart"] = hooks_json(h.prestart);
  if (!h.create_runtime.empty()) hooks["createRuntime"] = hooks_json(h.create_runtime);
  if (!h.create_container.empty()) hooks["createContainer"] = hooks_json(h.create_container);
  if (!h.start_container.empty()) hooks["startContainer"] = hooks_json(h.start_container);
  if (!h.poststart.empty()) hooks["poststart"] = hooks_json(h.poststart);
  if (!h.poststop.empty()) hooks["poststop"] = hooks_json(h.poststop);
  if (!hooks.empty()) j["hooks"] = hooks;
  put_if(j, "annotations", spec.annotations);
  if (spec.linux) j["linux"] = linux_json(*spec.linux);
  return j.dump(1, '\t');
}

Spec default_spec() {
  Spec spec;
  spec.oci_version = std::string(kSpecVersion);
  Process p;
  p.terminal = true;
  p.args = {"sh"};
  p.env = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"};
  p.cwd = "/";
  uint64_t caps = parse_capability("CAP_AUDIT_WRITE") | parse_capability("CAP_KILL") |
                  parse_capability("CAP_NET_BIND_SERVICE");
  p.capabilities = Capabilities{.bounding = caps, .effective = caps, .permitted = caps, .ambient = caps};
  p.rlimits = {Rlimit{.type = "RLIMIT_NOFILE", .resource = RLIMIT_NOFILE, .hard = 1024, .soft = 1024}};
  p.no_new_privileges = true;
  spec.process = p;
  spec.root = Root{.path = "rootfs", .readonly = true};
  spec.hostname = "gocrate";
  spec.mounts = {
      {"/proc", "proc", "proc", {}},
      {"/dev", "tmpfs", "tmpfs", {"nosuid", "strictatime", "mode=755", "size=65536k"}},
      {"/dev/pts",
       "devpts",
       "devpts",
       {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
      {"/dev/shm", "tmpfs", "shm", {"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
      {"/dev/mqueue", "mqueue", "mqueue", {"nosuid", "noexec", "nodev"}},
      {"/sys", "sysfs", "sysfs", {"nosuid", "noexec", "nodev", "ro"}},
      {"/sys/fs/cgroup", "cgroup", "cgroup", {"nosuid", "noexec", "nodev", "relatime", "ro"}},
  };
  Linux l;
  Resources res;
  res.devices = {DeviceCgroupRule{.allow = false, .type = 'a', .access = "rwm"}};
  l.resources = res;
  for (auto type : {NamespaceType::pid, NamespaceType::network, NamespaceType::ipc, NamespaceType::uts,
                    NamespaceType::mount}) {
    l.namespaces.push_back(Namespace{.type = type});
  }
  l.masked_paths = {"/proc/acpi",          "/proc/asound",     "/proc/kcore",       "/proc/keys",
                    "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug",
                    "/sys/firmware",       "/proc/scsi"};
  l.readonly_paths = {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"};
  spec.linux = l;
  return spec;
}

std::string features_json_text() {
  ordered_json j;
  j["ociVersionMin"] = "1.0.0";
  j["ociVersionMax"] = std::string(kSpecVersion);
  j["hooks"] = {"prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"};
  j["mountOptions"] = std::vector<std::string>(std::begin(kMountOptions), std::end(kMountOptions));
  ordered_json lx;
  std::vector<std::string> namespaces;
  for (const auto& [type, name] : kNamespaceNames) {
    if (type == NamespaceType::time) continue;  // refused by the containment (clone_flags)
    namespaces.emplace_back(name);
  }
  std::sort(namespaces.begin(), namespaces.end());
  lx["namespaces"] = namespaces;
  lx["capabilities"] = capability_names(all_capabilities());
  lx["cgroup"] = {{"v1", true}, {"v2", true}, {"systemd", false}, {"systemdUser", false}};
  std::vector<std::string> actions;
  for (auto action : kSeccompActions) {
    if (action != "SCMP_ACT_NOTIFY") actions.emplace_back(action);
  }
  std::vector<std::string> archs;
  for (auto arch : kSeccompArchs) {
    std::string lower;
    for (char c : arch.substr(std::string_view("SCMP_ARCH_").size())) {
      lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    if (seccomp_arch_resolve_name(lower.c_str()) != 0) archs.emplace_back(arch);
  }
  lx["seccomp"] = {
      {"enabled", true},
      {"actions", actions},
      {"operators", std::vector<std::string>(std::begin(kSeccompOperators), std::end(kSeccompOperators))},
      {"archs", archs}};
  lx["apparmor"] = {{"enabled", false}};
  lx["selinux"] = {{"enabled", false}};
  j["linux"] = lx;
  const scmp_version* version = seccomp_version();
  j["annotations"] = {
      {"io.github.gocrate.version", GOCRATE_VERSION},
      {"io.github.seccomp.libseccomp.version",
       fmt::format("{}.{}.{}", version->major, version->minor, version->micro)},
  };
  return j.dump(4);
}

}  // namespace gocrate::oci
