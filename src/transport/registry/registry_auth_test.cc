#include "transport/registry/registry_auth.h"

#include <gtest/gtest.h>

namespace gocrate {
namespace {

TEST(WwwAuthenticate, ParsesBearerWithQuotedParameters) {
  auto challenges = parse_www_authenticate(
      R"(Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:samalba/my-app:pull,push")");
  ASSERT_EQ(challenges.size(), 1u);
  EXPECT_EQ(challenges[0].scheme, "bearer");
  EXPECT_EQ(challenges[0].param("realm"), "https://auth.docker.io/token");
  EXPECT_EQ(challenges[0].param("service"), "registry.docker.io");
  EXPECT_EQ(challenges[0].param("scope"), "repository:samalba/my-app:pull,push");
}

TEST(WwwAuthenticate, ParsesSeveralChallengesEscapesAndTokens) {
  auto challenges = parse_www_authenticate(
      R"(Basic realm="Registry \"Realm\"", Bearer realm=https://a/token, error="insufficient_scope",  charset=UTF-8)");
  ASSERT_EQ(challenges.size(), 2u);
  EXPECT_EQ(challenges[0].scheme, "basic");
  EXPECT_EQ(challenges[0].param("realm"), "Registry \"Realm\"");
  EXPECT_EQ(challenges[1].scheme, "bearer");
  EXPECT_EQ(challenges[1].param("realm"), "https://a/token");
  EXPECT_EQ(challenges[1].param("error"), "insufficient_scope");
  EXPECT_EQ(challenges[1].param("charset"), "UTF-8");
}

TEST(WwwAuthenticate, ParameterNamesAreCaseInsensitive) {
  auto challenges = parse_www_authenticate(R"(BEARER Realm="r", SERVICE="s")");
  ASSERT_EQ(challenges.size(), 1u);
  EXPECT_EQ(challenges[0].scheme, "bearer");
  EXPECT_EQ(challenges[0].param("realm"), "r");
  EXPECT_EQ(challenges[0].param("service"), "s");
}

TEST(WwwAuthenticate, ToleratesGarbage) {
  EXPECT_TRUE(parse_www_authenticate("").empty());
  auto challenges = parse_www_authenticate(R"(Basic realm="unterminated)");
  ASSERT_EQ(challenges.size(), 1u);
  EXPECT_EQ(challenges[0].param("realm"), "unterminated");
  EXPECT_NO_THROW(parse_www_authenticate("=,=,\"\",;;"));
}

TEST(Scopes, RepositoryScope) {
  EXPECT_EQ(repository_scope("team/app", "pull,push"), "repository:team/app:pull,push");
}

}  // namespace
}  // namespace gocrate
