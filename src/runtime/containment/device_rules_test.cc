#include "runtime/containment/device_rules.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/capability.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <functional>
#include <map>

#include "runtime/containment/cgroups.h"
#include "util/error.h"
#include "util/error_for_tests.h"
#include "util/fs.h"

namespace gocrate {
namespace {

TEST(DeviceRules, ParsesAccess) {
  EXPECT_EQ(parse_device_access("rwm"), kDeviceAllAccess);
  EXPECT_EQ(parse_device_access("r"), kDeviceRead);
  EXPECT_EQ(parse_device_access("mw"), kDeviceMknod | kDeviceWrite);
  EXPECT_FALSE(parse_device_access(""));
  EXPECT_FALSE(parse_device_access("rwx"));
  EXPECT_FALSE(parse_device_access("rr"));
  EXPECT_FALSE(parse_device_access("/dev/x"));
  EXPECT_EQ(device_access_text(kDeviceMknod | kDeviceRead), "rm");
}

TEST(DeviceRules, DockerDefaultsInCgroupV1Syntax) {
  std::vector<std::string> texts;
  for (const auto& rule : docker_default_device_rules()) texts.push_back(rule.str());
  std::vector<std::string> expected = {
      "c *:* m",     "b *:* m",     "c 1:3 rwm",   "c 1:5 rwm",   "c 1:7 rwm",   "c 1:8 rwm",
      "c 1:9 rwm",   "c 5:0 rwm",   "c 5:2 rwm",   "c 136:* rwm", "c 137:* rwm", "c 138:* rwm",
      "c 139:* rwm", "c 140:* rwm", "c 141:* rwm", "c 142:* rwm", "c 143:* rwm"};
  EXPECT_EQ(texts, expected);
  EXPECT_EQ(allow_all_devices().str(), "a *:* rwm");
  EXPECT_TRUE(allow_all_devices().allows_everything());
}

TEST(DeviceMapping, ParsesDockersSyntaxAndReadsTheHostNode) {
  DeviceMapping d = parse_device_mapping("/dev/null");
  EXPECT_EQ(d.container_path, "/dev/null");
  EXPECT_EQ(d.type, 'c');
  EXPECT_EQ(d.major, 1u);
  EXPECT_EQ(d.minor, 3u);
  EXPECT_EQ(d.access, kDeviceAllAccess);
  EXPECT_EQ(d.rule().str(), "c 1:3 rwm");
  EXPECT_EQ(d.str(), "/dev/null:/dev/null:rwm");

  d = parse_device_mapping("/dev/zero:rw");  // a second field of r, w, m is the permissions
  EXPECT_EQ(d.container_path, "/dev/zero");
  EXPECT_EQ(d.access, kDeviceRead | kDeviceWrite);
  d = parse_device_mapping("/dev/zero:/dev/other");
  EXPECT_EQ(d.container_path, "/dev/other");
  d = parse_device_mapping("/dev/zero:/opt/zero:r");
  EXPECT_EQ(d.container_path, "/opt/zero");
  EXPECT_EQ(d.rule().str(), "c 1:5 r");
}

TEST(DeviceMapping, RefusesBadValuesNamingTheFlag) {
  auto error = [](const char* text) { return error_of([&] { parse_device_mapping(text); }); };
  EXPECT_NE(error("/etc/passwd").find("not a device node"), std::string::npos) << error("/etc/passwd");
  EXPECT_NE(error("/etc/passwd").find("--device \"/etc/passwd\""), std::string::npos);
  EXPECT_NE(error("/dev/null:/dev/null:rwx").find("permissions \"rwx\""), std::string::npos);
  EXPECT_NE(error("/dev/null:dev/null").find("container path must be absolute"), std::string::npos);
  EXPECT_NE(error("/nonexistent/node").find("cannot read /nonexistent/node"), std::string::npos);
  EXPECT_NE(error("dev/null").find("host path must be absolute"), std::string::npos);
  EXPECT_NE(error("/dev/null:/a/../b").find(".."), std::string::npos);
  EXPECT_NE(error("/dev/null:/a:r:w").find("HOST_PATH[:CONTAINER_PATH][:PERMISSIONS]"), std::string::npos);
  EXPECT_NE(error("").find("--device"), std::string::npos);
}

TEST(DevicePolicy, FollowsTheFlags) {
  CapabilitySet defaults = docker_default_capabilities();
  DevicePolicy policy =
      container_device_policy(true, false, defaults, {parse_device_mapping("/dev/zero:/z:r")});
  EXPECT_TRUE(policy.confine);
  ASSERT_EQ(policy.rules.size(), docker_default_device_rules().size() + 1);
  EXPECT_EQ(policy.rules.back().str(), "c 1:5 r");
  EXPECT_EQ(policy.required_by, std::vector<std::string>{"MKNOD"});

  CapabilitySet without_mknod = defaults & ~(CapabilitySet{1} << CAP_MKNOD);
  EXPECT_TRUE(container_device_policy(true, false, without_mknod, {}).required_by.empty());
  CapabilitySet with_admin = defaults | (CapabilitySet{1} << CAP_SYS_ADMIN);
  EXPECT_EQ(container_device_policy(true, false, with_admin, {}).required_by,
            (std::vector<std::string>{"MKNOD", "SYS_ADMIN"}));

  DevicePolicy privileged = container_device_policy(true, true, ~CapabilitySet{0}, {});
  ASSERT_EQ(privileged.rules.size(), 1u);
  EXPECT_TRUE(privileged.rules[0].allows_everything());
  EXPECT_FALSE(container_device_policy(false, false, defaults, {}).confine);
}

// Runs a device program as the kernel would, for the instructions
// device_program() emits.
int interpret(const std::vector<bpf_insn>& program, uint32_t access_type, uint32_t major, uint32_t minor) {
  uint64_t r[11] = {};
  const uint32_t context[3] = {access_type, major, minor};
  for (size_t pc = 0; pc < program.size(); ++pc) {
    const bpf_insn& i = program[pc];
    switch (i.code) {
      case BPF_LDX | BPF_MEM | BPF_W:
        EXPECT_EQ(i.src_reg, BPF_REG_1);
        r[i.dst_reg] = context[i.off / 4];
        break;
      case BPF_ALU | BPF_AND | BPF_K:
        r[i.dst_reg] = static_cast<uint32_t>(r[i.dst_reg] & static_cast<uint32_t>(i.imm));
        break;
      case BPF_ALU | BPF_RSH | BPF_K:
        r[i.dst_reg] = static_cast<uint32_t>(r[i.dst_reg]) >> i.imm;
        break;
      case BPF_ALU | BPF_MOV | BPF_X:
        r[i.dst_reg] = static_cast<uint32_t>(r[i.src_reg]);
        break;
      case BPF_ALU64 | BPF_MOV | BPF_K:
        r[i.dst_reg] = static_cast<uint64_t>(static_cast<int64_t>(i.imm));
        break;
      case BPF_JMP32 | BPF_JNE | BPF_K:
        if (static_cast<uint32_t>(r[i.dst_reg]) != static_cast<uint32_t>(i.imm)) pc += i.off;
        break;
      case BPF_JMP32 | BPF_JNE | BPF_X:
        if (static_cast<uint32_t>(r[i.dst_reg]) != static_cast<uint32_t>(r[i.src_reg])) pc += i.off;
        break;
      case BPF_JMP | BPF_EXIT:
        return static_cast<int>(r[0]);
      default:
        ADD_FAILURE() << "unexpected instruction code " << int(i.code);
        return -1;
    }
  }
  ADD_FAILURE() << "the program ran off its end";
  return -1;
}

TEST(DeviceProgram, DecidesAsTheRulesDo) {
  std::vector<DeviceRule> rules = docker_default_device_rules();
  rules.push_back({'c', 1, 11, kDeviceRead});
  rules.push_back({'b', 7, DeviceRule::kAny, kDeviceRead | kDeviceWrite});
  rules.push_back({'a', 10, 229, kDeviceWrite});
  auto program = device_program(rules);
  int checked = 0;
  for (char type : {'c', 'b'}) {
    for (uint32_t major : {1u, 4u, 5u, 7u, 10u, 136u, 140u, 143u, 144u, 4095u}) {
      for (uint32_t minor : {0u, 1u, 2u, 3u, 5u, 7u, 8u, 9u, 11u, 229u, 237u, 1048575u}) {
        for (unsigned wanted = 1; wanted <= kDeviceAllAccess; ++wanted) {
          bool expected = false;
          for (const auto& rule : rules) expected = expected || rule.allows(type, major, minor, wanted);
          uint32_t access = ((wanted & kDeviceRead) ? BPF_DEVCG_ACC_READ : 0) |
                            ((wanted & kDeviceWrite) ? BPF_DEVCG_ACC_WRITE : 0) |
                            ((wanted & kDeviceMknod) ? BPF_DEVCG_ACC_MKNOD : 0);
          uint32_t kind = type == 'c' ? BPF_DEVCG_DEV_CHAR : BPF_DEVCG_DEV_BLOCK;
          ASSERT_EQ(interpret(program, access << 16 | kind, major, minor), expected ? 1 : 0)
              << type << " " << major << ":" << minor << " " << device_access_text(wanted);
          ++checked;
        }
      }
    }
  }
  EXPECT_GT(checked, 1000);
  EXPECT_EQ(interpret(device_program({}), BPF_DEVCG_ACC_READ << 16 | BPF_DEVCG_DEV_CHAR, 1, 3), 0);
  // Nothing follows a rule that allows everything (the verifier refuses
  // unreachable instructions).
  auto all = device_program({{'c', 1, 3, kDeviceRead}, allow_all_devices(), {'b', 8, 0, kDeviceRead}});
  EXPECT_EQ(all.size(), 6u + 8u + 2u);  // prologue, the first rule, the second
  EXPECT_EQ(interpret(all, BPF_DEVCG_ACC_WRITE << 16 | BPF_DEVCG_DEV_BLOCK, 8, 1), 1);
}

// ---- Enforcement by the kernel, in a cgroup of this host ------------------

// What a child placed in a cgroup (by writing 0 to `join_file`) may do with
// devices: "<probe>=<ok|errno name>" lines. It makes nodes on a tmpfs of
// its own (not nodev) in a private mount namespace.
std::map<std::string, std::string> probe_devices_in(const std::string& join_file,
                                                    const std::string& scratch) {
  int fds[2];
  if (::pipe(fds) != 0) throw std::runtime_error("pipe");
  pid_t pid = ::fork();
  if (pid == 0) {
    ::close(fds[0]);
    std::string out;
    auto result = [&](const std::string& name, bool ok) {
      out += name + "=" + (ok ? std::string("ok") : std::string(strerrorname_np(errno))) + "\n";
    };
    int join = ::open(join_file.c_str(), O_WRONLY);
    result("join", join >= 0 && ::write(join, "0", 1) == 1);
    auto try_open = [&](const std::string& name, const std::string& path, int flags) {
      int fd = ::open(path.c_str(), flags | O_CLOEXEC | O_NOCTTY);
      result(name, fd >= 0);
      if (fd >= 0) ::close(fd);
    };
    try_open("null_rw", "/dev/null", O_RDWR);
    try_open("zero_r", "/dev/zero", O_RDONLY);
    try_open("kmsg_r", "/dev/kmsg", O_RDONLY);
    try_open("kmsg_w", "/dev/kmsg", O_WRONLY);
    try_open("loop_control_rw", "/dev/loop-control", O_RDWR);
    bool own_tmpfs = ::unshare(CLONE_NEWNS) == 0 &&
                     ::mount(nullptr, "/", nullptr, MS_PRIVATE | MS_REC, nullptr) == 0 &&
                     ::mount("tmpfs", scratch.c_str(), "tmpfs", 0, "size=64k") == 0;
    result("tmpfs", own_tmpfs);
    std::string node = scratch + "/kmsg";
    result("mknod_kmsg", ::mknod(node.c_str(), S_IFCHR | 0600, makedev(1, 11)) == 0);
    try_open("made_kmsg_r", node, O_RDONLY);
    std::string null_node = scratch + "/null";
    result("mknod_null", ::mknod(null_node.c_str(), S_IFCHR | 0666, makedev(1, 3)) == 0);
    try_open("made_null_rw", null_node, O_RDWR);
    (void)!::write(fds[1], out.data(), out.size());
    ::_exit(0);
  }
  ::close(fds[1]);
  std::string text = read_fd(fds[0]);
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  std::map<std::string, std::string> results;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    std::string line = text.substr(start, end - start);
    size_t eq = line.find('=');
    if (eq != std::string::npos) results[line.substr(0, eq)] = line.substr(eq + 1);
    start = end == std::string::npos ? text.size() : end + 1;
  }
  return results;
}

void expect_docker_defaults_enforced(const std::map<std::string, std::string>& r, bool kmsg_readable) {
  EXPECT_EQ(r.at("join"), "ok");
  EXPECT_EQ(r.at("null_rw"), "ok");
  EXPECT_EQ(r.at("zero_r"), "ok");
  EXPECT_EQ(r.at("kmsg_r"), kmsg_readable ? "ok" : "EPERM");
  EXPECT_EQ(r.at("kmsg_w"), "EPERM");
  if (path_exists("/dev/loop-control")) {
    EXPECT_EQ(r.at("loop_control_rw"), "EPERM");
  }
  ASSERT_EQ(r.at("tmpfs"), "ok");
  EXPECT_EQ(r.at("mknod_kmsg"), "ok");  // c *:* m
  EXPECT_EQ(r.at("made_kmsg_r"), kmsg_readable ? "ok" : "EPERM");
  EXPECT_EQ(r.at("mknod_null"), "ok");
  EXPECT_EQ(r.at("made_null_rw"), "ok");
}

class DeviceEnforcement : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "LOUD: device rules need root to make cgroups; not checked";
    layout_ = CgroupLayout::detect();
    make_directories(scratch_.path() + "/nodes");
  }
  // A fresh cgroup `hierarchy`/gocrate-test/devices-<pid>-<what>, or a skip
  // with the reason.
  std::string make_test_cgroup(const std::string& mount, const std::string& what) {
    std::string parent = mount + "/gocrate-test";
    if (::mkdir(parent.c_str(), 0755) != 0 && errno != EEXIST) return "";
    std::string dir = parent + "/devices-" + std::to_string(::getpid()) + "-" + what;
    if (::mkdir(dir.c_str(), 0755) != 0) return "";
    dirs_.push_back(dir);
    return dir;
  }
  void TearDown() override {
    for (const auto& dir : dirs_) {
      Cgroup cgroup({dir}, false);
      cgroup.remove();
      ::rmdir(dir_name(dir).c_str());  // gocrate-test, when nothing else is in it
    }
  }
  CgroupLayout layout_;
  TempDir scratch_;
  std::vector<std::string> dirs_;
};

TEST_F(DeviceEnforcement, BpfProgramOnCgroupV2) {
  const CgroupHierarchy* v2 = layout_.v2_hierarchy();
  if (!v2) GTEST_SKIP() << "LOUD: this host has no cgroup2 mount; the BPF device program was not checked";
  std::string dir = make_test_cgroup(v2->mount, "bpf");
  if (dir.empty())
    GTEST_SKIP() << "LOUD: cannot make a cgroup under " << v2->mount << ": " << errno_text(errno);
  UniqueFd program;
  std::string refused =
      error_of([&] { program = load_device_program(device_program(docker_default_device_rules())); });
  if (!refused.empty()) GTEST_SKIP() << "LOUD: " << refused << "; the BPF device program was not checked";
  UniqueFd cgroup_fd = open_or_fail(dir, O_RDONLY | O_DIRECTORY);
  attach_device_program(cgroup_fd.get(), program.get(), dir);
  expect_docker_defaults_enforced(probe_devices_in(dir + "/cgroup.procs", scratch_.path() + "/nodes"), false);

  // A --device rule with r only: /dev/kmsg readable, not writable.
  std::string readable = make_test_cgroup(v2->mount, "bpf-kmsg-r");
  ASSERT_FALSE(readable.empty());
  auto rules = docker_default_device_rules();
  rules.push_back({'c', 1, 11, kDeviceRead});
  UniqueFd program2 = load_device_program(device_program(rules));
  UniqueFd cgroup2_fd = open_or_fail(readable, O_RDONLY | O_DIRECTORY);
  attach_device_program(cgroup2_fd.get(), program2.get(), readable);
  expect_docker_defaults_enforced(probe_devices_in(readable + "/cgroup.procs", scratch_.path() + "/nodes"),
                                  true);
}

TEST_F(DeviceEnforcement, DevicesControllerOnCgroupV1) {
  const CgroupHierarchy* h = layout_.find("devices");
  if (!h || h->v2)
    GTEST_SKIP() << "LOUD: this host has no cgroup v1 devices controller; v1 rules were not checked";
  std::string dir = make_test_cgroup(h->mount, "v1");
  if (dir.empty())
    GTEST_SKIP() << "LOUD: cannot make a cgroup under " << h->mount << ": " << errno_text(errno);
  write_v1_device_rules(dir, docker_default_device_rules());
  std::string list = read_file(dir + "/devices.list");
  EXPECT_NE(list.find("c 1:3 rwm"), std::string::npos) << list;
  EXPECT_NE(list.find("c *:* m"), std::string::npos) << list;
  EXPECT_EQ(list.find("a *:* rwm"), std::string::npos) << list;
  expect_docker_defaults_enforced(probe_devices_in(dir + "/tasks", scratch_.path() + "/nodes"), false);

  std::string readable = make_test_cgroup(h->mount, "v1-kmsg-r");
  ASSERT_FALSE(readable.empty());
  auto rules = docker_default_device_rules();
  rules.push_back({'c', 1, 11, kDeviceRead});
  write_v1_device_rules(readable, rules);
  expect_docker_defaults_enforced(probe_devices_in(readable + "/tasks", scratch_.path() + "/nodes"), true);
}

TEST_F(DeviceEnforcement, CgroupCreateEnforcesAndRemovesTheRules) {
  std::string name = "gocrate-test/devices-create-" + std::to_string(::getpid());
  DevicePolicy policy = container_device_policy(true, false, docker_default_capabilities(), {});
  Cgroup cgroup;
  std::string refused = error_of([&] { cgroup = Cgroup::create(layout_, name, {}, policy); });
  if (!refused.empty()) {
    EXPECT_NE(refused.find("--security-opt devices=unconfined"), std::string::npos) << refused;
    GTEST_SKIP() << "LOUD: this host cannot enforce device rules: " << refused;
  }
  const CgroupHierarchy* v1 = layout_.find("devices");
  std::string expected_dir = (v1 && !v1->v2 ? v1->mount : layout_.v2_hierarchy()->mount) + "/" + name;
  EXPECT_NE(std::find(cgroup.dirs().begin(), cgroup.dirs().end(), expected_dir), cgroup.dirs().end())
      << "the devices cgroup is not among the container's directories";
  std::string join =
      path_exists(expected_dir + "/tasks") ? expected_dir + "/tasks" : expected_dir + "/cgroup.procs";
  expect_docker_defaults_enforced(probe_devices_in(join, scratch_.path() + "/nodes"), false);
  cgroup.remove();
  EXPECT_FALSE(path_exists(expected_dir));
  ::rmdir((dir_name(expected_dir)).c_str());
}

// A hybrid host without the v1 devices controller: the rules go to a v2
// cgroup made for them, which the container joins with the others.
TEST_F(DeviceEnforcement, CgroupCreateUsesTheV2HierarchyWithoutAV1DevicesController) {
  CgroupLayout without_v1_devices;
  for (const auto& h : layout_.hierarchies) {
    if (h.v2 || std::find(h.controllers.begin(), h.controllers.end(), "devices") == h.controllers.end())
      without_v1_devices.hierarchies.push_back(h);
  }
  const CgroupHierarchy* v2 = without_v1_devices.v2_hierarchy();
  if (!v2) GTEST_SKIP() << "LOUD: this host has no cgroup2 mount; the v2 fallback was not checked";
  std::string name = "gocrate-test/devices-v2-" + std::to_string(::getpid());
  DevicePolicy policy = container_device_policy(true, false, docker_default_capabilities(), {});
  Cgroup cgroup;
  std::string refused = error_of([&] { cgroup = Cgroup::create(without_v1_devices, name, {}, policy); });
  if (!refused.empty()) GTEST_SKIP() << "LOUD: the v2 fallback was refused here: " << refused;
  std::string dir = v2->mount + "/" + name;
  EXPECT_NE(std::find(cgroup.dirs().begin(), cgroup.dirs().end(), dir), cgroup.dirs().end());
  EXPECT_EQ(cgroup.open_join_files().size(), cgroup.dirs().size());
  expect_docker_defaults_enforced(probe_devices_in(dir + "/cgroup.procs", scratch_.path() + "/nodes"), false);
  cgroup.remove();
  EXPECT_FALSE(path_exists(dir));
  ::rmdir(dir_name(dir).c_str());
}

TEST_F(DeviceEnforcement, AHostThatCannotEnforceRefusesContainersWithMknod) {
  CgroupLayout without;  // the memory hierarchy only: no devices controller, no v2
  for (const auto& h : layout_.hierarchies) {
    if (!h.v2 && std::find(h.controllers.begin(), h.controllers.end(), "memory") != h.controllers.end())
      without.hierarchies.push_back(h);
  }
  if (without.hierarchies.empty())
    GTEST_SKIP() << "LOUD: no v1 memory hierarchy to build a layout without devices";
  std::string name = "gocrate-test/devices-refused-" + std::to_string(::getpid());
  DevicePolicy policy = container_device_policy(true, false, docker_default_capabilities(), {});
  std::string refused = error_of([&] { Cgroup::create(without, name, {}, policy); });
  EXPECT_NE(refused.find("cannot enforce the container's device rules"), std::string::npos) << refused;
  EXPECT_NE(refused.find("neither the devices cgroup controller nor a cgroup v2 hierarchy"),
            std::string::npos)
      << refused;
  EXPECT_NE(refused.find("--cap-drop MKNOD"), std::string::npos) << refused;
  EXPECT_NE(refused.find("--security-opt devices=unconfined"), std::string::npos) << refused;
  EXPECT_FALSE(path_exists(without.hierarchies[0].mount + "/" + name)) << "left behind";

  // Without CAP_MKNOD (or with the opt-out) it runs, unconfined.
  CapabilitySet without_mknod = docker_default_capabilities() & ~(CapabilitySet{1} << CAP_MKNOD);
  Cgroup cgroup = Cgroup::create(without, name, {}, container_device_policy(true, false, without_mknod, {}));
  EXPECT_EQ(cgroup.dirs().size(), 1u);
  cgroup.remove();
  cgroup = Cgroup::create(without, name, {},
                          container_device_policy(false, false, docker_default_capabilities(), {}));
  EXPECT_EQ(cgroup.dirs().size(), 1u);
  cgroup.remove();
}

}  // namespace
}  // namespace gocrate
