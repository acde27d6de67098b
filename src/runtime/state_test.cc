#include "runtime/state.h"

#include <gtest/gtest.h>

#include "util/error_for_tests.h"

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

}  // namespace
}  // namespace gocrate
