#include "image/reference.h"

#include <gtest/gtest.h>

#include "util/error.h"

namespace gocrate {
namespace {

TEST(Reference, ParsesDockerGrammar) {
  Reference r = Reference::parse("localhost:5000/team/app:v1.2");
  EXPECT_EQ(r.domain, "localhost:5000");
  EXPECT_EQ(r.path, "team/app");
  EXPECT_EQ(r.tag, "v1.2");
  EXPECT_EQ(r.str(), "localhost:5000/team/app:v1.2");

  Reference short_name = Reference::parse("hello");
  EXPECT_EQ(short_name.domain, "");
  EXPECT_EQ(short_name.with_default_tag().str(), "hello:latest");
  EXPECT_EQ(short_name.registry(), "docker.io");
  EXPECT_EQ(short_name.repository(), "library/hello");

  Reference with_digest = Reference::parse("ghcr.io/org/x@sha256:" + std::string(64, '0'));
  EXPECT_EQ(with_digest.domain, "ghcr.io");
  ASSERT_TRUE(with_digest.digest);
  EXPECT_EQ(with_digest.with_default_tag().tag, "");

  EXPECT_EQ(Reference::parse("team/app").domain, "");
  EXPECT_EQ(Reference::parse("localhost/app").domain, "localhost");
}

TEST(Reference, RejectsInvalid) {
  for (const char* bad : {"", "Hello", "a//b", "-a", "a:", "a:-x", "a@sha256:12", "a/b/", "host:99999/a"}) {
    EXPECT_THROW(Reference::parse(bad), Error) << bad;
  }
  EXPECT_FALSE(is_valid_tag(std::string(129, 'a')));
  EXPECT_TRUE(is_valid_tag("v1.0-rc_1"));
}

}  // namespace
}  // namespace gocrate
