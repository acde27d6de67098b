#include "runtime/oci/spec.h"

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "runtime/containment/capabilities.h"
#include "util/error_for_tests.h"

namespace gocrate::oci {
namespace {

using json = nlohmann::json;

// A config.json with every section the engine reads filled in.
constexpr std::string_view kFullConfig = R"({
  "ociVersion": "1.1.0",
  "process": {
    "terminal": true,
    "consoleSize": {"height": 25, "width": 80},
    "user": {"uid": 1000, "gid": 1000, "umask": 18, "additionalGids": [5, 6]},
    "args": ["/bin/sh", "-c", "echo hi"],
    "env": ["PATH=/bin", "A=b"],
    "cwd": "/work",
    "capabilities": {
      "bounding": ["CAP_NET_ADMIN", "CAP_CHOWN"],
      "effective": ["CAP_CHOWN"],
      "inheritable": ["CAP_KILL"],
      "permitted": ["CAP_CHOWN", "CAP_NET_ADMIN"],
      "ambient": ["CAP_CHOWN"]
    },
    "rlimits": [
      {"type": "RLIMIT_NOFILE", "hard": 4096, "soft": 1024},
      {"type": "RLIMIT_CORE", "hard": 18446744073709551615, "soft": 0}
    ],
    "noNewPrivileges": true,
    "apparmorProfile": "unconfined",
    "oomScoreAdj": -500,
    "selinuxLabel": "system_u:system_r:container_t:s0",
    "futureField": {"anything": [1, 2]}
  },
  "root": {"path": "/var/lib/c/rootfs", "readonly": true},
  "hostname": "box",
  "domainname": "example.org",
  "mounts": [
    {"destination": "/proc", "type": "proc", "source": "proc"},
    {"destination": "/data", "source": "/srv/data", "options": ["rbind", "ro"]}
  ],
  "hooks": {
    "prestart": [{"path": "/bin/true"}],
    "createRuntime": [{"path": "/usr/bin/netns", "args": ["netns", "up"], "env": ["X=1"], "timeout": 5}],
    "createContainer": [{"path": "/bin/cc"}],
    "startContainer": [{"path": "/bin/sc"}],
    "poststart": [{"path": "/bin/ps"}],
    "poststop": [{"path": "/bin/pst", "timeout": 1}]
  },
  "annotations": {"org.example.key": "value"},
  "linux": {
    "uidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}],
    "gidMappings": [{"containerID": 0, "hostID": 200000, "size": 1000}],
    "sysctl": {"net.ipv4.ip_forward": "1"},
    "resources": {
      "devices": [
        {"allow": false, "access": "rwm"},
        {"allow": true, "type": "c", "major": 1, "minor": -1, "access": "rw"},
        {"allow": true, "type": "b", "major": 8, "minor": 0, "access": "r"}
      ],
      "memory": {"limit": -1, "reservation": 1048576, "swap": 2097152, "kernel": 1, "kernelTCP": 2,
                 "swappiness": 60, "disableOOMKiller": true, "useHierarchy": false, "checkBeforeUpdate": true},
      "cpu": {"shares": 1024, "quota": 50000, "burst": 10, "period": 100000, "realtimeRuntime": 1,
              "realtimePeriod": 2, "cpus": "0-1", "mems": "0", "idle": 1},
      "pids": {"limit": 100},
      "blockIO": {
        "weight": 500, "leafWeight": 300,
        "weightDevice": [{"major": 8, "minor": 0, "weight": 200}],
        "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1000}],
        "throttleWriteBpsDevice": [{"major": 8, "minor": 1, "rate": 2000}],
        "throttleReadIOPSDevice": [{"major": 8, "minor": 2, "rate": 30}],
        "throttleWriteIOPSDevice": [{"major": 8, "minor": 3, "rate": 40}]
      },
      "hugepageLimits": [{"pageSize": "2MB", "limit": 209715200}],
      "network": {"classID": 1048577, "priorities": [{"name": "eth0", "priority": 500}]},
      "unified": {"memory.high": "max"},
      "rdma": {"mlx5_1": {"hcaHandles": 3}}
    },
    "cgroupsPath": "/gocrate/box",
    "namespaces": [
      {"type": "pid"}, {"type": "network", "path": "/var/run/netns/box"}, {"type": "mount"},
      {"type": "ipc"}, {"type": "uts"}, {"type": "user"}, {"type": "cgroup"}, {"type": "time"}
    ],
    "devices": [
      {"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 438, "uid": 0, "gid": 0},
      {"path": "/dev/fifo", "type": "p"}
    ],
    "seccomp": {
      "defaultAction": "SCMP_ACT_ERRNO",
      "defaultErrnoRet": 1,
      "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
      "flags": ["SECCOMP_FILTER_FLAG_LOG"],
      "listenerPath": "/run/agent.sock",
      "listenerMetadata": "meta",
      "syscalls": [
        {"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"},
        {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
         "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"},
                  {"index": 1, "value": 255, "valueTwo": 8, "op": "SCMP_CMP_MASKED_EQ"}]},
        {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}
      ]
    },
    "rootfsPropagation": "rslave",
    "maskedPaths": ["/proc/kcore"],
    "readonlyPaths": ["/proc/sys"],
    "mountLabel": "system_u:object_r:container_file_t:s0",
    "personality": {"domain": "LINUX32", "flags": []},
    "intelRdt": {"closID": "x"}
  },
  "vm": {"hypervisor": {"path": "/x"}}
})";

TEST(OciSpec, ParsesEverySection) {
  Spec spec = parse_spec(kFullConfig);
  EXPECT_EQ(spec.oci_version, "1.1.0");
  ASSERT_TRUE(spec.process);
  const Process& p = *spec.process;
  EXPECT_TRUE(p.terminal);
  ASSERT_TRUE(p.console_size);
  EXPECT_EQ(p.console_size->width, 80u);
  EXPECT_EQ(p.user.uid, 1000u);
  EXPECT_EQ(p.user.umask, 18u);
  EXPECT_EQ(p.user.additional_gids, (std::vector<uint32_t>{5, 6}));
  EXPECT_EQ(p.args, (std::vector<std::string>{"/bin/sh", "-c", "echo hi"}));
  EXPECT_EQ(p.cwd, "/work");
  ASSERT_TRUE(p.capabilities);
  EXPECT_EQ(p.capabilities->bounding, parse_capability("NET_ADMIN") | parse_capability("CHOWN"));
  EXPECT_EQ(p.capabilities->inheritable, parse_capability("KILL"));
  ASSERT_EQ(p.rlimits.size(), 2u);
  EXPECT_EQ(p.rlimits[0].resource, RLIMIT_NOFILE);
  EXPECT_EQ(p.rlimits[0].hard, 4096u);
  EXPECT_EQ(p.rlimits[1].resource, RLIMIT_CORE);
  EXPECT_EQ(p.rlimits[1].hard, UINT64_MAX);
  EXPECT_TRUE(p.no_new_privileges);
  EXPECT_EQ(p.oom_score_adj, -500);

  EXPECT_EQ(spec.root.path, "/var/lib/c/rootfs");
  EXPECT_TRUE(spec.root.readonly);
  ASSERT_EQ(spec.mounts.size(), 2u);
  EXPECT_EQ(spec.mounts[1].type, "");
  EXPECT_EQ(spec.mounts[1].options, (std::vector<std::string>{"rbind", "ro"}));
  ASSERT_EQ(spec.hooks.create_runtime.size(), 1u);
  EXPECT_EQ(spec.hooks.create_runtime[0].timeout, 5);
  EXPECT_EQ(spec.hooks.poststop.size(), 1u);
  EXPECT_EQ(spec.annotations.at("org.example.key"), "value");

  ASSERT_TRUE(spec.linux);
  const Linux& l = *spec.linux;
  EXPECT_EQ(l.namespaces.size(), 8u);
  ASSERT_NE(l.find_namespace(NamespaceType::network), nullptr);
  EXPECT_EQ(l.find_namespace(NamespaceType::network)->path, "/var/run/netns/box");
  EXPECT_EQ(l.uid_mappings[0].host_id, 100000u);
  EXPECT_EQ(l.gid_mappings[0].size, 1000u);
  ASSERT_EQ(l.devices.size(), 2u);
  EXPECT_EQ(l.devices[0].minor, 229);
  EXPECT_EQ(l.devices[0].file_mode, 0666u);
  EXPECT_EQ(l.devices[1].type, 'p');
  ASSERT_TRUE(l.resources);
  const Resources& r = *l.resources;
  ASSERT_EQ(r.devices.size(), 3u);
  EXPECT_EQ(r.devices[0].type, 'a');
  EXPECT_FALSE(r.devices[0].major);
  EXPECT_EQ(r.devices[1].major, 1);
  EXPECT_FALSE(r.devices[1].minor) << "-1 means any minor";
  EXPECT_EQ(r.memory->limit, -1);
  EXPECT_EQ(r.memory->disable_oom_killer, true);
  EXPECT_EQ(r.cpu->cpus, "0-1");
  EXPECT_EQ(r.pids_limit, 100);
  EXPECT_EQ(r.block_io->throttle_write_iops[0].rate, 40u);
  EXPECT_EQ(r.hugepage_limits[0].page_size, "2MB");
  EXPECT_EQ(r.network->priorities[0].priority, 500u);
  EXPECT_EQ(r.unified.at("memory.high"), "max");
  ASSERT_TRUE(l.seccomp);
  EXPECT_EQ(l.seccomp->default_errno_ret, 1u);
  ASSERT_EQ(l.seccomp->syscalls.size(), 3u);
  EXPECT_EQ(l.seccomp->syscalls[1].args[1].value_two, 8u);
  EXPECT_EQ(l.seccomp->syscalls[1].args[1].op, "SCMP_CMP_MASKED_EQ");
  EXPECT_EQ(l.seccomp->syscalls[2].errno_ret, 13u);
  EXPECT_EQ(l.rootfs_propagation, "rslave");
  EXPECT_EQ(l.personality->domain, "LINUX32");
}

TEST(OciSpec, RoundTripsThroughText) {
  Spec spec = parse_spec(kFullConfig);
  std::string text = to_json_text(spec);
  Spec again = parse_spec(text, "written");
  EXPECT_EQ(to_json_text(again), text);

  json written = json::parse(text);
  EXPECT_FALSE(written.contains("vm")) << "unknown fields are not kept";
  EXPECT_EQ(written["process"]["capabilities"]["bounding"], json({"CAP_CHOWN", "CAP_NET_ADMIN"}))
      << "capabilities are written in number order";
  EXPECT_FALSE(written["linux"]["resources"]["devices"][1].contains("minor"));
  EXPECT_EQ(written["linux"]["resources"]["memory"]["limit"], -1);
  EXPECT_EQ(written["process"]["rlimits"][1]["hard"], UINT64_MAX);
}

TEST(OciSpec, WritesFieldsInTheSpecsOrderAndLeavesOutEmptyOnes) {
  std::string text = to_json_text(parse_spec(kFullConfig));
  const char* order[] = {"\"ociVersion\"", "\"process\"", "\"root\"",        "\"hostname\"", "\"domainname\"",
                         "\"mounts\"",     "\"hooks\"",   "\"annotations\"", "\"linux\""};
  size_t last = 0;
  for (const char* key : order) {
    size_t at = text.find(key);
    ASSERT_NE(at, std::string::npos) << key;
    EXPECT_GT(at, last) << key;
    last = at;
  }

  Spec minimal = parse_spec(R"({"ociVersion": "1.0.2", "root": {"path": "rootfs"}})");
  EXPECT_FALSE(minimal.process);
  EXPECT_FALSE(minimal.linux);
  EXPECT_EQ(json::parse(to_json_text(minimal)),
            json::parse(R"({"ociVersion": "1.0.2", "root": {"path": "rootfs"}})"));
}

TEST(OciSpec, DefaultSpecIsRuncs) {
  Spec spec = default_spec();
  EXPECT_EQ(spec.oci_version, kSpecVersion);
  ASSERT_TRUE(spec.process);
  EXPECT_TRUE(spec.process->terminal);
  EXPECT_EQ(spec.process->args, std::vector<std::string>{"sh"});
  EXPECT_EQ(spec.process->env,
            (std::vector<std::string>{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                                      "TERM=xterm"}));
  EXPECT_EQ(spec.process->cwd, "/");
  uint64_t caps =
      parse_capability("AUDIT_WRITE") | parse_capability("KILL") | parse_capability("NET_BIND_SERVICE");
  ASSERT_TRUE(spec.process->capabilities);
  EXPECT_EQ(spec.process->capabilities->bounding, caps);
  EXPECT_EQ(spec.process->capabilities->effective, caps);
  EXPECT_EQ(spec.process->capabilities->permitted, caps);
  EXPECT_EQ(spec.process->capabilities->ambient, caps);
  EXPECT_EQ(spec.process->capabilities->inheritable, 0u);
  ASSERT_EQ(spec.process->rlimits.size(), 1u);
  EXPECT_EQ(spec.process->rlimits[0].type, "RLIMIT_NOFILE");
  EXPECT_EQ(spec.process->rlimits[0].soft, 1024u);
  EXPECT_TRUE(spec.process->no_new_privileges);
  EXPECT_EQ(spec.root.path, "rootfs");
  EXPECT_TRUE(spec.root.readonly);
  std::vector<std::string> destinations;
  for (const auto& m : spec.mounts) destinations.push_back(m.destination);
  EXPECT_EQ(destinations, (std::vector<std::string>{"/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue",
                                                    "/sys", "/sys/fs/cgroup"}));
  EXPECT_EQ(spec.mounts[2].options, (std::vector<std::string>{"nosuid", "noexec", "newinstance",
                                                              "ptmxmode=0666", "mode=0620", "gid=5"}));
  ASSERT_TRUE(spec.linux);
  std::vector<std::string> namespaces;
  for (const auto& ns : spec.linux->namespaces) namespaces.emplace_back(namespace_type_name(ns.type));
  EXPECT_EQ(namespaces, (std::vector<std::string>{"pid", "network", "ipc", "uts", "mount"}));
  ASSERT_TRUE(spec.linux->resources);
  ASSERT_EQ(spec.linux->resources->devices.size(), 1u);
  EXPECT_FALSE(spec.linux->resources->devices[0].allow);
  EXPECT_EQ(spec.linux->resources->devices[0].access, "rwm");
  EXPECT_EQ(spec.linux->masked_paths.size(), 10u);
  EXPECT_EQ(spec.linux->readonly_paths.size(), 5u);

  std::string text = to_json_text(spec);
  EXPECT_EQ(to_json_text(parse_spec(text)), text);
  json written = json::parse(text);
  EXPECT_EQ(written["linux"]["resources"]["devices"][0], json::parse(R"({"allow": false, "access": "rwm"})"));
  EXPECT_EQ(written["mounts"][0],
            json::parse(R"({"destination": "/proc", "type": "proc", "source": "proc"})"));
}

TEST(OciSpec, ErrorsNameTheFileAndTheField) {
  struct Case {
    std::string text;
    std::vector<std::string_view> expected;
  };
  const std::string root = R"("ociVersion": "1.1.0", "root": {"path": "rootfs"})";
  const Case cases[] = {
      {"{", {"config.json is not valid JSON", "line 1"}},
      {"[]", {"config.json: expected an object, found an array"}},
      {R"({"root": {"path": "rootfs"}})", {"config.json: ociVersion: is missing"}},
      {R"({"ociVersion": "2.0.0", "root": {"path": "rootfs"}})", {"ociVersion", "2.0.0", "1.x"}},
      {R"({"ociVersion": "1.1.0"})", {"config.json: root: is missing"}},
      {R"({"ociVersion": "1.1.0", "root": {"readonly": true}})", {"config.json: root.path: is missing"}},
      {"{" + root + R"(, "process": {"rlimits": [{"type": "RLIMIT_CPU", "hard": 1, "soft": 1},
          {"type": "RLIMIT_AS", "hard": 1, "soft": 1}, {"type": "RLIMIT_FOO", "hard": 1, "soft": 1}]}})",
       {"config.json: process.rlimits[2].type: unknown rlimit \"RLIMIT_FOO\""}},
      {"{" + root + R"(, "process": {"rlimits": [{"type": "RLIMIT_CPU", "hard": 1, "soft": 1},
          {"type": "RLIMIT_CPU", "hard": 2, "soft": 2}]}})",
       {"process.rlimits[1].type", "RLIMIT_CPU", "twice"}},
      {"{" + root + R"(, "process": {"rlimits": [{"type": "RLIMIT_CPU", "hard": -1, "soft": 1}]}})",
       {"process.rlimits[0].hard", "-1", "out of range"}},
      {"{" + root + R"(, "process": {"terminal": "yes"}})",
       {"config.json: process.terminal: expected true or false"}},
      {"{" + root + R"(, "process": {"user": {"uid": 1.5}}})",
       {"process.user.uid: expected an integer, found 1.5"}},
      {"{" + root + R"(, "process": {"user": {"uid": 4294967296}}})", {"process.user.uid", "out of range"}},
      {"{" + root + R"(, "process": {"cwd": "work"}})", {"process.cwd", "absolute"}},
      {"{" + root + R"(, "process": {"args": ["sh", 3]}})", {"process.args[1]: expected a string, found 3"}},
      {"{" + root + R"(, "process": {"capabilities": {"effective": ["CAP_CHOWN", "CAP_FLY"]}}})",
       {"process.capabilities.effective[1]", "unknown capability \"CAP_FLY\""}},
      {"{" + root + R"(, "process": {"capabilities": {"effective": ["NET_ADMIN"]}}})",
       {"process.capabilities.effective[0]", "NET_ADMIN"}},
      {"{" + root + R"(, "process": {"oomScoreAdj": 1001}})", {"process.oomScoreAdj", "-1000 to 1000"}},
      {"{" + root + R"(, "mounts": [{"type": "tmpfs"}]})",
       {"config.json: mounts[0].destination: is missing"}},
      {"{" + root + R"(, "mounts": {}})", {"mounts: expected an array, found an object"}},
      {"{" + root + R"(, "hooks": {"poststart": [{"path": "/bin/true", "timeout": 0}]}})",
       {"hooks.poststart[0].timeout", "greater than 0"}},
      {"{" + root + R"(, "hooks": {"prestart": [{"path": "true"}]}})",
       {"hooks.prestart[0].path", "absolute"}},
      {"{" + root + R"(, "annotations": {"a": 1}})", {"annotations.a: expected a string"}},
      {"{" + root + R"(, "linux": {"namespaces": [{"type": "pid"}, {"type": "net"}]}})",
       {"linux.namespaces[1].type", "unknown namespace \"net\""}},
      {"{" + root + R"(, "linux": {"namespaces": [{"type": "pid"}, {"type": "uts"}, {"type": "pid"}]}})",
       {"linux.namespaces[2].type", "pid is listed twice"}},
      {"{" + root + R"(, "linux": {"devices": [{"path": "/dev/x", "type": "x", "major": 1, "minor": 1}]}})",
       {"linux.devices[0].type", "\"x\"", "c, b, u or p"}},
      {"{" + root + R"(, "linux": {"devices": [{"path": "/dev/x", "type": "c", "major": 1}]}})",
       {"linux.devices[0].minor: is missing"}},
      {"{" + root + R"(, "linux": {"uidMappings": [{"containerID": 0, "hostID": 1000}]}})",
       {"linux.uidMappings[0].size: is missing"}},
      {"{" + root + R"(, "linux": {"resources": {"devices": [{"allow": true, "type": "u"}]}}})",
       {"linux.resources.devices[0].type", "\"u\""}},
      {"{" + root + R"(, "linux": {"resources": {"devices": [{"allow": true, "access": "rwx"}]}}})",
       {"linux.resources.devices[0].access", "rwx"}},
      {"{" + root + R"(, "linux": {"resources": {"memory": {"limit": "1g"}}}})",
       {"linux.resources.memory.limit: expected an integer, found the string \"1g\""}},
      {"{" + root + R"(, "linux": {"rootfsPropagation": "sideways"}})",
       {"linux.rootfsPropagation", "sideways"}},
      {"{" + root + R"(, "linux": {"seccomp": {"defaultAction": "SCMP_ACT_NOPE"}}})",
       {"linux.seccomp.defaultAction", "SCMP_ACT_NOPE", "SCMP_ACT_ERRNO"}},
      {"{" + root + R"(, "linux": {"seccomp": {"defaultAction": "SCMP_ACT_ALLOW",
          "syscalls": [{"names": ["a"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "op": "LIKE"}]}]}}})",
       {"linux.seccomp.syscalls[0].args[0].op", "LIKE"}},
      {"{" + root + R"(, "linux": {"seccomp": {"defaultAction": "SCMP_ACT_ALLOW",
          "architectures": ["SCMP_ARCH_VAX"]}}})",
       {"linux.seccomp.architectures[0]", "SCMP_ARCH_VAX"}},
      {"{" + root + R"(, "linux": {"personality": {"domain": "LINUX64"}}})",
       {"linux.personality.domain", "LINUX64"}},
  };
  for (const auto& c : cases) {
    std::string message = error_of([&] { parse_spec(c.text); });
    ASSERT_FALSE(message.empty()) << c.text;
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
    for (auto part : c.expected)
      EXPECT_NE(message.find(part), std::string::npos) << message << "\nlacks: " << part;
  }
}

TEST(OciSpec, ProcessAndResourcesDocumentsNameTheirOwnFields) {
  Process p =
      parse_process(R"({"args": ["ls"], "cwd": "/", "user": {"uid": 7, "gid": 8}, "terminal": false})");
  EXPECT_EQ(p.args, std::vector<std::string>{"ls"});
  EXPECT_EQ(p.user.gid, 8u);
  EXPECT_FALSE(p.capabilities);
  EXPECT_EQ(error_of([] { parse_process(R"({"user": {"uid": "root"}})"); }),
            "process.json: user.uid: expected an integer, found the string \"root\"");

  Resources r = parse_resources(R"({"memory": {"limit": 1048576}, "pids": {"limit": -1}})", "update");
  EXPECT_EQ(r.memory->limit, 1048576);
  EXPECT_EQ(r.pids_limit, -1);
  EXPECT_EQ(error_of([] { parse_resources(R"({"cpu": {"shares": -2}})"); }),
            "resources: cpu.shares: -2 is out of range: use 0 to 18446744073709551615");
}

TEST(OciSpec, NamespaceNames) {
  for (auto type : {NamespaceType::pid, NamespaceType::network, NamespaceType::mount, NamespaceType::ipc,
                    NamespaceType::uts, NamespaceType::user, NamespaceType::cgroup, NamespaceType::time}) {
    EXPECT_EQ(parse_namespace_type(namespace_type_name(type)), type);
  }
  EXPECT_EQ(namespace_type_name(NamespaceType::network), "network");
  EXPECT_FALSE(parse_namespace_type("net"));
  Linux l;
  EXPECT_EQ(l.find_namespace(NamespaceType::user), nullptr);
}

TEST(OciSpec, FeaturesDescribeWhatTheEngineAccepts) {
  json f = json::parse(features_json_text());
  EXPECT_EQ(f["ociVersionMin"], "1.0.0");
  EXPECT_EQ(f["ociVersionMax"], std::string(kSpecVersion));
  EXPECT_EQ(f["hooks"], json({"prestart", "createRuntime", "createContainer", "startContainer", "poststart",
                              "poststop"}));
  auto options = f["mountOptions"].get<std::vector<std::string>>();
  for (const char* option : {"bind", "rbind", "ro", "nosuid", "rslave", "nosymfollow"}) {
    EXPECT_NE(std::find(options.begin(), options.end(), option), options.end()) << option;
  }
  auto namespaces = f["linux"]["namespaces"].get<std::vector<std::string>>();
  for (const char* ns : {"cgroup", "ipc", "mount", "network", "pid", "user", "uts"}) {
    EXPECT_NE(std::find(namespaces.begin(), namespaces.end(), ns), namespaces.end()) << ns;
  }
  // The containment refuses a time namespace, so features does not offer one.
  EXPECT_EQ(std::find(namespaces.begin(), namespaces.end(), "time"), namespaces.end());
  EXPECT_EQ(f["linux"]["capabilities"], json(capability_names(all_capabilities())));
  EXPECT_EQ(f["linux"]["cgroup"],
            json::parse(R"({"v1": true, "v2": true, "systemd": false, "systemdUser": false})"));
  const json& seccomp = f["linux"]["seccomp"];
  EXPECT_EQ(seccomp["enabled"], true);
  auto actions = seccomp["actions"].get<std::vector<std::string>>();
  EXPECT_NE(std::find(actions.begin(), actions.end(), "SCMP_ACT_KILL_PROCESS"), actions.end());
  EXPECT_EQ(std::find(actions.begin(), actions.end(), "SCMP_ACT_NOTIFY"), actions.end());
  EXPECT_EQ(seccomp["operators"].size(), 7u);
  auto archs = seccomp["archs"].get<std::vector<std::string>>();
  for (const char* arch : {"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_AARCH64", "SCMP_ARCH_S390X"}) {
    EXPECT_NE(std::find(archs.begin(), archs.end(), arch), archs.end()) << arch;
  }
  EXPECT_EQ(f["linux"]["apparmor"]["enabled"], false);
  EXPECT_EQ(f["linux"]["selinux"]["enabled"], false);
  EXPECT_EQ(f["annotations"]["io.github.gocrate.version"], GOCRATE_VERSION);

  // Every action, operator and architecture the features name is one a
  // config may use.
  json config = {
      {"ociVersion", "1.1.0"},
      {"root", {{"path", "rootfs"}}},
      {"linux",
       {{"seccomp",
         {{"defaultAction", "SCMP_ACT_ALLOW"}, {"architectures", archs}, {"syscalls", json::array()}}}}}};
  for (const auto& action : actions) {
    json args = json::array();
    for (const auto& op : seccomp["operators"]) args.push_back({{"index", 0}, {"value", 1}, {"op", op}});
    config["linux"]["seccomp"]["syscalls"].push_back(
        {{"names", {"read"}}, {"action", action}, {"args", args}});
  }
  EXPECT_EQ(error_of([&] { parse_spec(config.dump()); }), "");
}

}  // namespace
}  // namespace gocrate::oci
