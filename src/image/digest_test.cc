#include "image/digest.h"

#include <gtest/gtest.h>

#include "util/error.h"

namespace gocrate {
namespace {

TEST(Digest, OfKnownContent) {
  EXPECT_EQ(Digest::of("").str(), "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Digest::of("{}").str(),
            "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a");
}

TEST(Digest, ParsesValidAndRejectsInvalid) {
  std::string good = "sha256:" + std::string(64, 'a');
  EXPECT_EQ(Digest::parse(good).str(), good);
  EXPECT_FALSE(Digest::try_parse("sha256:" + std::string(63, 'a')));
  EXPECT_FALSE(Digest::try_parse("sha256:" + std::string(64, 'A')));
  EXPECT_FALSE(Digest::try_parse(std::string(64, 'a')));
  EXPECT_THROW(Digest::parse("md5:abc"), Error);
  try {
    Digest::parse("sha512:" + std::string(128, 'a'));
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("only sha256"), std::string::npos);
  }
}

}  // namespace
}  // namespace gocrate
