#include "runtime/oci/from_container_spec.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/capability.h>
#include <sys/mount.h>

#include "runtime/containment/seccomp_profile.h"
#include "runtime/oci/oci_seccomp.h"
#include "util/error_for_tests.h"
#include "util/fs.h"

namespace gocrate::oci {
namespace {

constexpr CapabilitySet bit(int n) {
  return CapabilitySet{1} << n;
}

// A root holding only the image's user database.
class ImageRoot {
 public:
  ImageRoot() {
    make_directories(dir_.path() + "/etc");
    write_file_atomic(
        dir_.path() + "/etc/passwd",
        "root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n");
    write_file_atomic(dir_.path() + "/etc/group", "root:x:0:\ntty:x:5:nonroot\nnonroot:x:65532:\n");
    fd_ = open_or_fail(dir_.path(), O_PATH | O_DIRECTORY);
  }
  SpecSource source() const { return {.root_fd = fd_.get()}; }

 private:
  TempDir dir_;
  UniqueFd fd_;
};

ContainerSpec basic_spec() {
  ContainerSpec spec;
  spec.id = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
  spec.name = "0123456789ab";
  spec.hostname = spec.name;
  spec.image = "probe";
  spec.platform = Platform::host();
  spec.args = {"/app/probe", "inspect"};
  spec.env = {"PATH=/usr/bin", "HOSTNAME=0123456789ab"};
  return spec;
}

const Mount* find_mount(const Spec& spec, std::string_view destination) {
  for (const auto& m : spec.mounts) {
    if (m.destination == destination) return &m;
  }
  return nullptr;
}

TEST(OciSpecOf, ANamedUserGetsItsIdsGroupsAndHomeAndOnlyABoundingSet) {
  ImageRoot root;
  ContainerSpec spec = basic_spec();
  spec.user = "nonroot";
  Spec s = oci_spec_of(spec, root.source());
  const Process& p = *s.process;
  EXPECT_EQ(p.user.uid, 65532u);
  EXPECT_EQ(p.user.gid, 65532u);
  EXPECT_EQ(p.user.additional_gids, (std::vector<uint32_t>{65532, 5}));
  EXPECT_EQ(p.env.back(), "HOME=/home/nonroot");
  EXPECT_EQ(p.capabilities->bounding, docker_default_capabilities());
  EXPECT_EQ(p.capabilities->effective | p.capabilities->permitted | p.capabilities->inheritable |
                p.capabilities->ambient,
            0u);
  EXPECT_TRUE(p.no_new_privileges);
  EXPECT_EQ(p.args, spec.args);
}

TEST(OciSpecOf, RootKeepsItsCapabilitiesEffectiveAndPermitted) {
  ImageRoot root;
  ContainerSpec spec = basic_spec();
  spec.capabilities = docker_default_capabilities() | bit(CAP_NET_ADMIN);
  Spec s = oci_spec_of(spec, root.source());
  const Capabilities& c = *s.process->capabilities;
  EXPECT_EQ(c.bounding, spec.capabilities);
  EXPECT_EQ(c.effective, spec.capabilities);
  EXPECT_EQ(c.permitted, spec.capabilities);
  EXPECT_EQ(c.inheritable | c.ambient, 0u);
}

TEST(OciSpecOf, MountsFollowRunsOrderWithItsOptions) {
  ImageRoot root;
  ContainerSpec spec = basic_spec();
  spec.read_only = true;
  spec.shm_bytes = 32 << 20;
  VolumeMount tmpfs;
  tmpfs.type = MountType::tmpfs;
  tmpfs.target = "/scratch";
  tmpfs.tmpfs_flags = MS_NOSUID | MS_NOEXEC;
  tmpfs.tmpfs_data = "size=1048576";
  VolumeMount bind;
  bind.source = "/srv/data";
  bind.target = "/data";
  bind.read_only = true;
  spec.volumes = {tmpfs, bind};
  Spec s = oci_spec_of(spec, root.source());
  std::vector<std::string> order;
  for (const auto& m : s.mounts) order.push_back(m.destination);
  EXPECT_EQ(order, (std::vector<std::string>{"/etc/hosts", "/etc/hostname", "/etc/resolv.conf", "/scratch",
                                             "/data", "/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue",
                                             "/sys", "/sys/fs/cgroup"}));
  EXPECT_EQ(find_mount(s, "/scratch")->options,
            (std::vector<std::string>{"rw", "nosuid", "nodev", "noexec", "size=1048576"}));
  EXPECT_EQ(find_mount(s, "/data")->options, (std::vector<std::string>{"rbind", "ro", "nodev"}));
  EXPECT_EQ(find_mount(s, "/etc/hosts")->source, "etc/hosts");
  EXPECT_EQ(find_mount(s, "/dev/shm")->options.back(), "size=33554432");
  EXPECT_EQ(find_mount(s, "/sys")->options.back(), "ro");
  EXPECT_TRUE(s.root.readonly);
  EXPECT_EQ(s.linux->masked_paths.front(), "/proc/asound");
  EXPECT_EQ(s.linux->readonly_paths.back(), "/proc/sysrq-trigger");
}

TEST(OciSpecOf, HostNamespacesAreLeftOut) {
  ImageRoot root;
  ContainerSpec spec = basic_spec();
  spec.network = NetworkMode::host;
  spec.ipc = IpcMode::host;
  spec.host_pid = true;
  Spec s = oci_spec_of(spec, root.source());
  std::vector<std::string_view> names;
  for (const auto& n : s.linux->namespaces) names.push_back(namespace_type_name(n.type));
  EXPECT_EQ(names, (std::vector<std::string_view>{"uts", "mount", "cgroup"}));
  EXPECT_EQ(find_mount(s, "/dev/shm")->source, "/dev/shm");
}

TEST(OciSpecOf, LimitsBecomeResourcesAfterADenyAll) {
  ImageRoot root;
  ContainerSpec spec = basic_spec();
  spec.limits.memory_bytes = 64 << 20;
  spec.limits.cpus = 0.5;
  spec.limits.pids = 100;
  spec.ulimits = {parse_ulimit("nofile=512:1024")};
  Spec s = oci_spec_of(spec, root.source());
  const Resources& r = *s.linux->resources;
  EXPECT_EQ(r.memory->limit, int64_t{64} << 20);
  EXPECT_EQ(r.memory->swap, int64_t{64} << 20);
  EXPECT_EQ(r.cpu->quota, 50000);
  EXPECT_EQ(r.cpu->period, 100000u);
  EXPECT_EQ(r.pids_limit, 100);
  ASSERT_GT(r.devices.size(), 1u);
  EXPECT_FALSE(r.devices[0].allow);
  EXPECT_EQ(r.devices.size(), docker_default_device_rules().size() + 1);
  ASSERT_EQ(s.process->rlimits.size(), 1u);
  EXPECT_EQ(s.process->rlimits[0].type, "RLIMIT_NOFILE");
  EXPECT_EQ(s.process->rlimits[0].soft, 512u);
  EXPECT_EQ(s.linux->cgroups_path, "/gocrate/" + spec.id);
}

TEST(OciSpecOf, WhatHasNoConfigJsonFormIsRefused) {
  ImageRoot root;
  ContainerSpec spec = basic_spec();
  spec.init = true;
  EXPECT_NE(error_of([&] { oci_spec_of(spec, root.source()); }).find("--init"), std::string::npos);
}

TEST(OciSeccompOf, TheDefaultProfileReadsBackAsTheSameFilter) {
  SeccompProfile profile = docker_default_profile(
      docker_default_capabilities(), Platform::host().architecture, Platform::host().architecture);
  Seccomp s = oci_seccomp_of(profile);
  EXPECT_EQ(s.default_action, "SCMP_ACT_ERRNO");
  EXPECT_EQ(s.default_errno_ret, 1u);
  SeccompProfile back = seccomp_profile_of(s);
  std::erase_if(profile.rules, [&](const SyscallRule& r) { return r.action == profile.default_action; });
  EXPECT_EQ(back.canonical_text(), profile.canonical_text());
}

TEST(OciSeccompOf, AMaskedComparisonKeepsTheMaskInValue) {
  SeccompProfile profile;
  profile.arches = {"x86_64"};
  SyscallRule rule{"clone", SeccompAction::allow(), {{0, SyscallRule::Arg::Op::masked_equal, 0, 0x7E020000}}};
  profile.rules = {rule};
  Seccomp s = oci_seccomp_of(profile);
  EXPECT_EQ(s.architectures, (std::vector<std::string>{"SCMP_ARCH_X86_64"}));
  ASSERT_EQ(s.syscalls.size(), 1u);
  EXPECT_EQ(s.syscalls[0].args[0].op, "SCMP_CMP_MASKED_EQ");
  EXPECT_EQ(s.syscalls[0].args[0].value, 0x7E020000u);
  EXPECT_EQ(s.syscalls[0].args[0].value_two, 0u);
}

}  // namespace
}  // namespace gocrate::oci
