#include "store/volumes.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <nlohmann/json.hpp>

#include "util/error_for_tests.h"
#include "util/fs.h"

namespace gocrate {
namespace {

bool mentions(const std::string& error, std::string_view text) {
  return error.find(text) != std::string::npos;
}

const auto kNobody = [](const std::string&) { return std::vector<std::string>{}; };

TEST(Volumes, CreateListInspectRemove) {
  TempDir store;
  VolumeStore volumes(store.path());
  EXPECT_TRUE(volumes.list().empty());
  VolumeInfo data = volumes.create("data", {{"team", "web"}});
  EXPECT_EQ(data.mountpoint, store.path() + "/volumes/data/_data");
  EXPECT_TRUE(is_directory(data.mountpoint));
  EXPECT_EQ(data.labels.at("team"), "web");
  // Creating it again keeps it, and its labels.
  write_file_atomic(data.mountpoint + "/kept", "x");
  EXPECT_EQ(volumes.create("data").labels.at("team"), "web");
  EXPECT_TRUE(path_exists(data.mountpoint + "/kept"));
  volumes.create("other.v-1_2");
  ASSERT_EQ(volumes.list().size(), 2u);
  EXPECT_EQ(volumes.list()[0].name, "data");

  auto j = nlohmann::json::parse(data.to_json_text());
  EXPECT_EQ(j["Name"], "data");
  EXPECT_EQ(j["Driver"], "local");
  EXPECT_EQ(j["Scope"], "local");
  EXPECT_EQ(j["Mountpoint"], data.mountpoint);
  EXPECT_EQ(j["Labels"]["team"], "web");
  EXPECT_TRUE(j["CreatedAt"].get<std::string>().ends_with("Z"));

  volumes.remove("data", kNobody);
  EXPECT_FALSE(volumes.find("data"));
  EXPECT_FALSE(path_exists(store.path() + "/volumes/data"));
  EXPECT_TRUE(mentions(error_of([&] { volumes.remove("data", kNobody); }), "no such volume: data"));
}

TEST(Volumes, RefusesBadNamesAndVolumesInUse) {
  TempDir store;
  VolumeStore volumes(store.path());
  for (std::string bad : {"../x", ".tmp", "", "a/b", "-x", "x y", ".."}) {
    EXPECT_TRUE(mentions(error_of([&] { volumes.create(bad); }), "invalid characters")) << bad;
    EXPECT_FALSE(volumes.find(bad)) << bad;
  }
  EXPECT_TRUE(mentions(error_of([&] { volumes.remove("../volumes", kNobody); }), "no such volume"));
  volumes.create("busy");
  auto users = [](const std::string& name) {
    return name == "busy" ? std::vector<std::string>{"c0ffee"} : std::vector<std::string>{};
  };
  EXPECT_TRUE(mentions(error_of([&] { volumes.remove("busy", users); }), "volume is in use - [c0ffee]"));
  volumes.create("idle");
  auto removed = volumes.prune(users);
  EXPECT_EQ(removed, std::vector<std::string>{"idle"});
  EXPECT_TRUE(volumes.find("busy"));
}

TEST(Volumes, UseHoldsAgainstRemoval) {
  TempDir store;
  VolumeStore volumes(store.path());
  VolumeUse use = volumes.use("fresh");  // created on first use
  EXPECT_EQ(use.volume.mountpoint, store.path() + "/volumes/fresh/_data");
  // The holder's shared lock keeps an exclusive one out.
  UniqueFd dir = open_or_fail(store.path() + "/volumes/fresh", O_RDONLY | O_DIRECTORY);
  EXPECT_FALSE(try_lock_file(dir.get(), LockMode::exclusive, "the volume"));
  use.lock.reset();
  EXPECT_TRUE(try_lock_file(dir.get(), LockMode::exclusive, "the volume"));
}

TEST(Volumes, RandomNamesAreValid) {
  std::string name = new_volume_name();
  EXPECT_EQ(name.size(), 64u);
  EXPECT_TRUE(valid_volume_name(name));
  EXPECT_NE(name, new_volume_name());
}

}  // namespace
}  // namespace gocrate
