#include "image/config_options.h"

#include <gtest/gtest.h>

#include <cstdlib>

#include "util/error.h"

namespace gocrate {
namespace {

TEST(ConfigOptions, Env) {
  EXPECT_EQ(parse_env_assignment("A=b=c", "--env"), "A=b=c");
  EXPECT_EQ(parse_env_assignment("A=", "--env"), "A=");
  EXPECT_THROW(parse_env_assignment("A", "--env"), Error);
  EXPECT_THROW(parse_env_assignment("=x", "--env"), Error);
  EXPECT_THROW(parse_env_assignment("A B=x", "--env"), Error);
}

TEST(ConfigOptions, Port) {
  EXPECT_EQ(parse_exposed_port("8080", "--port"), "8080/tcp");
  EXPECT_EQ(parse_exposed_port("53/udp", "--port"), "53/udp");
  for (const char* bad : {"0", "65536", "80/xyz", "http", "", "80/"}) {
    EXPECT_THROW(parse_exposed_port(bad, "--port"), Error) << bad;
  }
}

TEST(ConfigOptions, User) {
  EXPECT_EQ(parse_user_spec("65532:65532", "--user"), "65532:65532");
  EXPECT_EQ(parse_user_spec("nonroot", "--user"), "nonroot");
  for (const char* bad : {"", ":", "1:2:3", "a b", "99999999999"}) {
    EXPECT_THROW(parse_user_spec(bad, "--user"), Error) << bad;
  }
}

TEST(ConfigOptions, FileMapping) {
  auto [src, dst] = parse_file_mapping("/etc/hostname:/etc/x", "--file");
  EXPECT_EQ(src, "/etc/hostname");
  EXPECT_EQ(dst, "/etc/x");
  EXPECT_THROW(parse_file_mapping("/etc/hostname:relative", "--file"), Error);
  EXPECT_THROW(parse_file_mapping("/does/not/exist:/x", "--file"), Error);
  EXPECT_THROW(parse_file_mapping("nocolon", "--file"), Error);
}

TEST(ConfigOptions, SourceDateEpoch) {
  unsetenv("SOURCE_DATE_EPOCH");
  EXPECT_EQ(source_date_epoch(), 0);
  setenv("SOURCE_DATE_EPOCH", "1700000000", 1);
  EXPECT_EQ(source_date_epoch(), 1700000000);
  setenv("SOURCE_DATE_EPOCH", "yesterday", 1);
  EXPECT_THROW(source_date_epoch(), Error);
  unsetenv("SOURCE_DATE_EPOCH");
}

}  // namespace
}  // namespace gocrate
