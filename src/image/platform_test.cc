#include "image/platform.h"

#include <gtest/gtest.h>

#include "util/error.h"

namespace gocrate {
namespace {

TEST(Platform, ParsesAndNormalises) {
  EXPECT_EQ(Platform::parse("linux/amd64").str(), "linux/amd64");
  EXPECT_EQ(Platform::parse("linux/arm64").str(), "linux/arm64/v8");
  EXPECT_EQ(Platform::parse("linux/arm").str(), "linux/arm/v7");
  EXPECT_EQ(Platform::parse("linux/arm/v6").str(), "linux/arm/v6");
  EXPECT_EQ(Platform::parse("linux/x86_64").str(), "linux/amd64");
  EXPECT_EQ(Platform::parse("aarch64").str(), "linux/arm64/v8");
  EXPECT_EQ(Platform::parse("linux/armhf").str(), "linux/arm/v7");
  EXPECT_EQ(Platform::parse("linux/amd64/v1").str(), "linux/amd64");
  EXPECT_EQ(Platform::parse("linux/arm/7").str(), "linux/arm/v7");
}

TEST(Platform, RejectsMalformed) {
  EXPECT_THROW(Platform::parse(""), Error);
  EXPECT_THROW(Platform::parse("linux/"), Error);
  EXPECT_THROW(Platform::parse("linux/arm/v7/x"), Error);
  EXPECT_THROW(Platform::parse("linux/arm/"), Error);
}

TEST(Platform, EqualityIgnoresSpelling) {
  EXPECT_EQ(Platform::parse("linux/arm64"), (Platform{"linux", "arm64", "", "", {}}));
  EXPECT_EQ(Platform::parse("linux/arm64/v8"), (Platform{"linux", "aarch64", "", "", {}}));
  EXPECT_FALSE(Platform::parse("linux/arm/v6") == Platform::parse("linux/arm/v7"));
}

TEST(Platform, VariantCompatibility) {
  EXPECT_TRUE(Platform::parse("linux/arm/v6").runs_on(Platform::parse("linux/arm/v7")));
  EXPECT_FALSE(Platform::parse("linux/arm/v7").runs_on(Platform::parse("linux/arm/v6")));
  EXPECT_TRUE(Platform::parse("linux/amd64").runs_on(Platform::parse("linux/amd64/v3")));
  EXPECT_FALSE(Platform::parse("linux/amd64/v3").runs_on(Platform::parse("linux/amd64")));
  EXPECT_FALSE(Platform::parse("linux/arm64").runs_on(Platform::parse("linux/amd64")));
}

TEST(Platform, BestMatchPrefersExactThenHighestCompatible) {
  std::vector<Platform> available{Platform::parse("linux/arm/v5"), Platform::parse("linux/arm/v6"),
                                  Platform::parse("linux/amd64")};
  EXPECT_EQ(best_platform_match(available, Platform::parse("linux/arm/v7")), 1u);
  EXPECT_EQ(best_platform_match(available, Platform::parse("linux/amd64")), 2u);
  EXPECT_EQ(best_platform_match(available, Platform::parse("linux/arm64")), std::nullopt);
}

TEST(Platform, GoEnvironment) {
  auto arm = Platform::parse("linux/arm/v6").go_environment();
  EXPECT_EQ(arm["GOOS"], "linux");
  EXPECT_EQ(arm["GOARCH"], "arm");
  EXPECT_EQ(arm["GOARM"], "6");
  auto amd = Platform::parse("linux/amd64/v3").go_environment();
  EXPECT_EQ(amd["GOAMD64"], "v3");
  EXPECT_FALSE(Platform::parse("linux/arm64").go_environment().contains("GOARM"));
}

TEST(Platform, GoPlatforms) {
  EXPECT_TRUE(is_go_platform(Platform::parse("linux/riscv64")));
  EXPECT_FALSE(is_go_platform(Platform::parse("windows/amd64")));
  EXPECT_FALSE(is_go_platform(Platform::parse("linux/sparc")));
  EXPECT_NE(supported_platforms_text().find("linux/arm/v7"), std::string::npos);
}

}  // namespace
}  // namespace gocrate
