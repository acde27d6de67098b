#include "runtime/containment/mount_options.h"

#include <gtest/gtest.h>
#include <sys/mount.h>

#include "util/error_for_tests.h"
#include "util/fs.h"

namespace gocrate {
namespace {

bool mentions(const std::string& error, std::string_view text) {
  return error.find(text) != std::string::npos;
}

TEST(VolumeFlag, HostPathsAndNamedVolumes) {
  TempDir host;
  VolumeMount bind = parse_volume(host.path() + ":/data:ro");
  EXPECT_EQ(bind.type, MountType::bind);
  EXPECT_EQ(bind.source, host.path());
  EXPECT_EQ(bind.target, "/data");
  EXPECT_TRUE(bind.read_only);
  EXPECT_EQ(bind.propagation, "rprivate");
  EXPECT_EQ(bind.mode, "ro");

  VolumeMount named = parse_volume("data:/var/lib/x/");
  EXPECT_EQ(named.type, MountType::volume);
  EXPECT_EQ(named.volume_name, "data");
  EXPECT_EQ(named.target, "/var/lib/x");
  EXPECT_TRUE(named.source.empty());
  EXPECT_EQ(named.mode, "z");
  EXPECT_TRUE(parse_volume("data:/x:nocopy,ro").no_copy);
  EXPECT_EQ(parse_volume(host.path() + ":/x:rslave,rw,z").propagation, "rslave");
}

TEST(VolumeFlag, RefusesWhatDockerRefusesOrGocrateCannotDo) {
  TempDir host;
  EXPECT_TRUE(mentions(error_of([] { parse_volume("../x:/data"); }), "invalid characters"));
  EXPECT_TRUE(mentions(error_of([] { parse_volume("./data:/data"); }), "absolute path"));
  EXPECT_TRUE(mentions(error_of([] { parse_volume("a/b:/data"); }), "invalid characters"));
  EXPECT_TRUE(mentions(error_of([] { parse_volume("/data"); }), "anonymous volumes"));
  EXPECT_TRUE(mentions(error_of([] { parse_volume("data:relative"); }), "must be absolute"));
  EXPECT_TRUE(mentions(error_of([] { parse_volume("data:/x/../proc"); }), "may not contain .."));
  EXPECT_TRUE(mentions(error_of([] { parse_volume("data:/proc/sys"); }), "/proc"));
  EXPECT_TRUE(mentions(error_of([] { parse_volume("data:/dev"); }), "--device"));
  EXPECT_TRUE(mentions(error_of([] { parse_volume("data:/"); }), "root"));
  EXPECT_TRUE(mentions(error_of([&] { parse_volume(host.path() + ":/x:rshared"); }), "never reach the host"));
  EXPECT_TRUE(mentions(error_of([&] { parse_volume(host.path() + ":/x:nocopy"); }), "named volumes only"));
  EXPECT_TRUE(mentions(error_of([] { parse_volume("data:/x:rprivate"); }), "host directories only"));
  EXPECT_TRUE(mentions(error_of([] { parse_volume("data:/x:exec"); }), "unknown option \"exec\""));
  EXPECT_TRUE(mentions(error_of([] { parse_volume("/no/such/dir:/x"); }), "does not exist"));
}

TEST(MountFlag, BindVolumeAndTmpfsWithDockersKeys) {
  TempDir host;
  VolumeMount bind =
      parse_mount("type=bind,src=" + host.path() + ",dst=/srv,readonly,bind-propagation=rslave");
  EXPECT_EQ(bind.type, MountType::bind);
  EXPECT_EQ(bind.source, host.path());
  EXPECT_EQ(bind.target, "/srv");
  EXPECT_TRUE(bind.read_only);
  EXPECT_EQ(bind.propagation, "rslave");
  EXPECT_EQ(parse_mount("type=bind,source=" + host.path() + ",destination=/a,ro=false").read_only, false);
  EXPECT_TRUE(parse_mount("type=bind,source=" + host.path() + ",target=/a,bind-nonrecursive").nonrecursive);

  VolumeMount volume = parse_mount("source=cache,target=/cache,volume-nocopy");  // type volume by default
  EXPECT_EQ(volume.type, MountType::volume);
  EXPECT_EQ(volume.volume_name, "cache");
  EXPECT_TRUE(volume.no_copy);

  VolumeMount tmpfs = parse_mount("type=tmpfs,target=/scratch,tmpfs-size=64m,tmpfs-mode=1770");
  EXPECT_EQ(tmpfs.type, MountType::tmpfs);
  EXPECT_EQ(tmpfs.tmpfs_data, "size=67108864,mode=1770");
  EXPECT_EQ(tmpfs.tmpfs_flags, static_cast<unsigned long>(MS_NOEXEC | MS_NOSUID | MS_NODEV));
  EXPECT_EQ(tmpfs_options_text(tmpfs), "rw,nosuid,nodev,noexec,size=67108864,mode=1770");
}

TEST(MountFlag, RefusesUnknownKeysAndMismatchedOptions) {
  TempDir host;
  EXPECT_TRUE(
      mentions(error_of([] { parse_mount("type=tmpfs,target=/x,colour=blue"); }), "unexpected key 'colour'"));
  EXPECT_TRUE(mentions(error_of([] { parse_mount("type=nfs,target=/x"); }), "unknown mount type \"nfs\""));
  EXPECT_TRUE(
      mentions(error_of([] { parse_mount("type=tmpfs,source=x,target=/x"); }), "source is not allowed"));
  EXPECT_TRUE(mentions(error_of([] { parse_mount("type=volume,source=v,target=/x,tmpfs-size=1m"); }),
                       "tmpfs-size applies to type=tmpfs only"));
  EXPECT_TRUE(mentions(error_of([] { parse_mount("type=tmpfs,target=/x,volume-nocopy"); }),
                       "volume-nocopy applies to type=volume only"));
  EXPECT_TRUE(mentions(error_of([] { parse_mount("type=bind,target=/x"); }), "source is required"));
  EXPECT_TRUE(
      mentions(error_of([] { parse_mount("type=bind,source=/no/such,target=/x"); }), "does not exist"));
  EXPECT_TRUE(mentions(error_of([] { parse_mount("type=volume,target=/x"); }), "anonymous volumes"));
  EXPECT_TRUE(
      mentions(error_of([] { parse_mount("type=volume,source=../etc,target=/x"); }), "invalid characters"));
  EXPECT_TRUE(mentions(error_of([] { parse_mount("type=tmpfs"); }), "target is required"));
  EXPECT_TRUE(mentions(error_of([] { parse_mount("type=tmpfs,target=/x,tmpfs-mode=999"); }), "tmpfs-mode"));
  EXPECT_TRUE(
      mentions(error_of([] { parse_mount("type=tmpfs,target=/x,readonly=maybe"); }), "true or false"));
  EXPECT_TRUE(
      mentions(error_of([&] { parse_mount("type=bind,source=" + host.path() + ",target=/sys/x"); }), "/sys"));
}

TEST(TmpfsFlag, DockersDefaultsAndOptions) {
  VolumeMount run = parse_tmpfs("/run");
  EXPECT_EQ(run.type, MountType::tmpfs);
  EXPECT_TRUE(run.from_tmpfs_flag);
  EXPECT_EQ(run.target, "/run");
  EXPECT_EQ(tmpfs_options_text(run), "rw,nosuid,nodev,noexec");

  VolumeMount tmp = parse_tmpfs("/tmp:rw,exec,size=64m,mode=1777,uid=1000,gid=1000,size=50%");
  EXPECT_EQ(tmp.tmpfs_data, "mode=1777,uid=1000,gid=1000,size=50%");
  EXPECT_EQ(tmpfs_options_text(tmp), "rw,nosuid,nodev,mode=1777,uid=1000,gid=1000,size=50%");
  EXPECT_TRUE(parse_tmpfs("/ro:ro").read_only);
}

TEST(TmpfsFlag, RefusesGarbageThatCouldReachTheKernel) {
  for (std::string bad :
       {"/x:uid=root", "/x:gid=-1", "/x:uid=", "/x:size=lots", "/x:mode=01778", "/x:mode=77777",
        "/x:nr_inodes=1z", "/x:size=1m,huge=always", "/x:mpol=bind", "/x:dev", "/x:uid=1,ro=1"}) {
    EXPECT_FALSE(error_of([&] { parse_tmpfs(bad); }).empty()) << bad;
  }
  EXPECT_TRUE(mentions(error_of([] { parse_tmpfs("/x:uid=root"); }), "uid must be a number"));
  EXPECT_TRUE(mentions(error_of([] { parse_tmpfs("/x:dev"); }), "nodev"));
  EXPECT_TRUE(
      mentions(error_of([] { parse_tmpfs("/x:huge=always"); }), "unknown tmpfs option \"huge=always\""));
  EXPECT_TRUE(mentions(error_of([] { parse_tmpfs("run"); }), "must be absolute"));
  EXPECT_TRUE(mentions(error_of([] { parse_tmpfs("/proc:size=1m"); }), "/proc"));
}

TEST(MountList, ParentsFirstAndNoDuplicates) {
  auto a = parse_tmpfs("/a/b/c");
  auto b = parse_tmpfs("/a");
  auto c = parse_mount("type=tmpfs,target=/a/b");
  auto ordered = order_mounts({a, b, c});
  ASSERT_EQ(ordered.size(), 3u);
  EXPECT_EQ(ordered[0].target, "/a");
  EXPECT_EQ(ordered[1].target, "/a/b");
  EXPECT_EQ(ordered[2].target, "/a/b/c");
  EXPECT_TRUE(mentions(error_of([&] {
                         order_mounts({b, parse_volume("v:/a/")});
                       }),
                       "duplicate mount point: /a"));
}

TEST(MountList, RecordsWhatInspectShows) {
  MountRecord volume = mount_record(parse_volume("data:/data:ro"));
  EXPECT_EQ(volume.type, "volume");
  EXPECT_EQ(volume.name, "data");
  EXPECT_EQ(volume.destination, "/data");
  EXPECT_FALSE(volume.rw);
  EXPECT_EQ(volume.mode, "ro");
  MountRecord tmpfs = mount_record(parse_tmpfs("/run:size=1m"));
  EXPECT_EQ(tmpfs.type, "tmpfs");
  EXPECT_TRUE(tmpfs.tmpfs_flag);
  EXPECT_EQ(tmpfs.tmpfs_options, "rw,nosuid,nodev,noexec,size=1m");
}

}  // namespace
}  // namespace gocrate
