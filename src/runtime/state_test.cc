#include "runtime/state.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include "util/error_for_tests.h"
#include "util/fs.h"

namespace gocrate {
namespace {

TEST(ContainerState, StatusKeepsItsWordInStateJson) {
  for (auto status : {ContainerStatus::created, ContainerStatus::running, ContainerStatus::restarting,
                      ContainerStatus::exited, ContainerStatus::dead}) {
    ContainerState state;
    state.id = std::string(64, 'a');
    state.status = status;
    std::string text = state.to_json_text();
    EXPECT_NE(text.find("\"status\": \"" + std::string(status_name(status)) + "\""), std::string::npos)
        << text;
    EXPECT_EQ(ContainerState::parse(text, "state.json").status, status);
  }
}

TEST(ContainerState, UnknownStatusIsRefused) {
  EXPECT_EQ(parse_container_status("exited", "x"), ContainerStatus::exited);
  EXPECT_EQ(parse_container_status("paused", "x"), ContainerStatus::paused);
  EXPECT_NE(error_of([] { parse_container_status("frozen", "state.json"); }).find("unknown status 'frozen'"),
            std::string::npos);
}

// A reference is a by-name/ entry only when it is a container name: "../x"
// must not lead outside the store to another directory's state.json.
TEST(ContainerDirectory, FindRefusesReferencesThatLeaveTheStore) {
  TempDir work;
  std::string store = work.path() + "/store";
  ContainerDirectory directory(store);
  directory.ensure_exists();
  make_directories(store + "/containers/by-name");
  std::string id(64, 'b');
  ContainerState state;
  state.id = id;
  state.name = "real";
  directory.create(state);
  directory.save(state);
  ASSERT_TRUE(directory.find("real"));

  // An attacker's link and container outside containers/: before names were
  // checked, "../../evil/link" read store/evil/link and then evil/c/state.json.
  std::string evil = store + "/evil";
  make_directories(evil + "/c");
  ContainerState other = state;
  other.name = "evil";
  write_file_replace(evil + "/c/state.json", other.to_json_text());
  ASSERT_EQ(::symlink("../evil/c", (evil + "/link").c_str()), 0);
  EXPECT_FALSE(directory.find("../../evil/link"));
  EXPECT_FALSE(directory.find("by-name/real"));
  EXPECT_FALSE(directory.find("/etc/passwd"));
  EXPECT_FALSE(directory.find(".hidden"));

  // A name whose link does not hold an id is not followed either.
  ASSERT_EQ(::symlink("../evil/c", (store + "/containers/by-name/odd").c_str()), 0);
  EXPECT_FALSE(directory.find("odd"));
}

}  // namespace
}  // namespace gocrate
