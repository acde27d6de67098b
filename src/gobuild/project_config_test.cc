#include "gobuild/project_config.h"

#include <gtest/gtest.h>

#include <cstdlib>

#include "util/error.h"

namespace gocrate {
namespace {

TEST(ProjectConfig, ParsesOurKeysAndKos) {
  ProjectConfig ours = parse_project_config(R"(
repository: registry.local/team
base: oci-layout:/bases/static
platforms: [linux/amd64, linux/arm64]
env: [MODE=prod]
ldflags: -X main.version={{.Version}}
builds:
- importPath: example.com/app/cmd/web
  env: [PORT=8080]
  flags: [-tags=netgo]
  ldflags: ["-X main.a=1", "-X main.b=2"]
)",
                                            "/p/.gocrate.yaml");
  EXPECT_EQ(ours.repository, "registry.local/team");
  EXPECT_EQ(ours.platforms, (std::vector<std::string>{"linux/amd64", "linux/arm64"}));
  ASSERT_EQ(ours.builds.size(), 1u);
  EXPECT_EQ(*ours.builds[0].ldflags, "-X main.a=1 -X main.b=2");
  EXPECT_NE(ours.build_for("example.com/app/cmd/web", "/elsewhere"), nullptr);

  ProjectConfig ko = parse_project_config(
      "defaultBaseImage: base\ndefaultPlatforms: linux/arm64\nbuilds:\n"
      "- main: ./cmd/web\n  env: [A=b]\n",
      "/p/.ko.yaml");
  EXPECT_EQ(ko.base, "base");
  EXPECT_EQ(ko.platforms, std::vector<std::string>{"linux/arm64"});
  EXPECT_NE(ko.build_for("whatever", "/p/cmd/web"), nullptr);
}

TEST(ProjectConfig, EnvironmentOverridesEveryKey) {
  ProjectConfig config = parse_project_config("repository: a\nbase: b\nplatforms: [linux/amd64]\n", "x");
  setenv("GOCRATE_DOCKER_REPO", "override.local/repo", 1);
  setenv("GOCRATE_PLATFORMS", "linux/arm64,linux/s390x", 1);
  setenv("GOCRATE_BASE", "scratch", 1);
  apply_environment_overrides(config);
  unsetenv("GOCRATE_DOCKER_REPO");
  unsetenv("GOCRATE_PLATFORMS");
  unsetenv("GOCRATE_BASE");
  EXPECT_EQ(config.repository, "override.local/repo");
  EXPECT_EQ(config.base, "scratch");
  EXPECT_EQ(config.platforms, (std::vector<std::string>{"linux/arm64", "linux/s390x"}));
}

TEST(ProjectConfig, BadConfigsAreNamed) {
  try {
    parse_project_config("platforms: [linux/amd64\nbase: x\n", "/p/.gocrate.yaml");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("/p/.gocrate.yaml:"), std::string::npos) << e.what();
  }
  EXPECT_THROW(parse_project_config("env: [NOEQUALS]\n", "c"), Error);
  EXPECT_THROW(parse_project_config("builds: {a: 1}\n", "c"), Error);
}

TEST(ProjectConfig, LdflagsTemplates) {
  setenv("SOURCE_DATE_EPOCH", "86400", 1);
  setenv("GOCRATE_TEST_VALUE", "v", 1);
  EXPECT_EQ(expand_ldflags_template("-X a={{.Date}} -X b={{ .Env.GOCRATE_TEST_VALUE }}", "/"),
            "-X a=1970-01-02T00:00:00Z -X b=v");
  unsetenv("SOURCE_DATE_EPOCH");
  EXPECT_EQ(expand_ldflags_template("-s", "/"), "-s");
  EXPECT_THROW(expand_ldflags_template("{{.Nope}}", "/"), Error);
  EXPECT_THROW(expand_ldflags_template("{{.Version", "/"), Error);
}

}  // namespace
}  // namespace gocrate
