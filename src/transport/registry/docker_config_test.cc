#include "transport/registry/docker_config.h"

#include <gtest/gtest.h>

#include "transport/registry/base64.h"
#include "util/error.h"

namespace gocrate {
namespace {

TEST(DockerConfig, ReadsInlineAuthUnderAnyKeyForm) {
  DockerConfig config = DockerConfig::parse(R"({
    "auths": {
      "https://index.docker.io/v1/": {"auth": "dXNlcjpwYTpzcw=="},
      "http://localhost:5000/v2/": {"auth": "YWxpY2U6c2VjcmV0"},
      "ghcr.io": {"auth": "", "identitytoken": "refresh-me"}
    }})",
                                            "config.json");
  auto hub = config.inline_credentials("docker.io");
  ASSERT_TRUE(hub);
  EXPECT_EQ(hub->username, "user");
  EXPECT_EQ(hub->password, "pa:ss");
  auto local = config.inline_credentials("localhost:5000");
  ASSERT_TRUE(local);
  EXPECT_EQ(local->username, "alice");
  EXPECT_EQ(local->password, "secret");
  auto ghcr = config.inline_credentials("ghcr.io");
  ASSERT_TRUE(ghcr);
  EXPECT_EQ(ghcr->identity_token, "refresh-me");
  EXPECT_FALSE(config.inline_credentials("localhost:5001"));
}

TEST(DockerConfig, PicksHelpers) {
  DockerConfig config =
      DockerConfig::parse(R"({"credsStore": "desktop", "credHelpers": {"gcr.io": "gcloud"}})", "config.json");
  EXPECT_EQ(config.helper_for("gcr.io"), "gcloud");
  EXPECT_EQ(config.helper_for("localhost:5000"), "desktop");
  EXPECT_EQ(DockerConfig::parse("{}", "c").helper_for("x.io"), "");
}

TEST(DockerConfig, WritesAndRemovesKeepingOtherKeys) {
  DockerConfig config =
      DockerConfig::parse(R"({"psFormat": "table", "auths": {"https://q.io/v1/": {}}})", "c");
  config.set_inline_credentials("q.io", {"bob", "pw", ""});
  auto stored = config.inline_credentials("q.io");
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->username, "bob");
  EXPECT_TRUE(config.remove_inline_credentials("q.io"));
  EXPECT_FALSE(config.inline_credentials("q.io"));
  EXPECT_FALSE(config.remove_inline_credentials("q.io"));
}

TEST(DockerConfig, RefusesMalformedFiles) {
  EXPECT_THROW(DockerConfig::parse("[1]", "c"), Error);
  EXPECT_THROW(DockerConfig::parse(R"({"auths": []})", "c"), Error);
  DockerConfig bad = DockerConfig::parse(R"({"auths": {"x.io": {"auth": "bm9jb2xvbg=="}}})", "c");
  EXPECT_THROW(bad.inline_credentials("x.io"), Error);
}

TEST(DockerConfig, CredentialKeys) {
  EXPECT_EQ(credential_key("docker.io"), "https://index.docker.io/v1/");
  EXPECT_EQ(credential_key("index.docker.io"), "https://index.docker.io/v1/");
  EXPECT_EQ(credential_key("localhost:5000"), "localhost:5000");
}

TEST(Base64, RoundTripsAndRejects) {
  for (std::string text : {"", "a", "ab", "abc", "abcd", "user:pa:ss"}) {
    EXPECT_EQ(base64_decode(base64_encode(text)), text);
  }
  EXPECT_EQ(base64_encode("alice:secret"), "YWxpY2U6c2VjcmV0");
  EXPECT_EQ(base64_decode("YWxpY2U6c2VjcmV0"), "alice:secret");
  EXPECT_FALSE(base64_decode("a$bc"));
  EXPECT_FALSE(base64_decode("abcde"));
}

}  // namespace
}  // namespace gocrate
