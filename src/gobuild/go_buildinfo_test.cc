#include "gobuild/go_buildinfo.h"

#include <gtest/gtest.h>

namespace gocrate {
namespace {

std::string varint_string(const std::string& text) {
  std::string out;
  uint64_t n = text.size();
  do {
    uint8_t byte = n & 0x7f;
    n >>= 7;
    if (n) byte |= 0x80;
    out += static_cast<char>(byte);
  } while (n);
  return out + text;
}

// A .go.buildinfo section as Go 1.18 and later write it.
std::string section(const std::string& go_version, const std::string& modinfo) {
  std::string header = "\xff Go buildinf:";
  header += '\x08';  // pointer size
  header += '\x02';  // strings inline
  header.resize(32, '\0');
  std::string sentinel(16, '\x5a');
  return header + varint_string(go_version) + varint_string(sentinel + modinfo + sentinel);
}

TEST(GoBuildInfo, MainModuleDependenciesAndSettings) {
  auto info = parse_go_buildinfo(section("go1.19.8",
                                         "path\texample.com/app/cmd/web\n"
                                         "mod\texample.com/app\t(devel)\t\n"
                                         "dep\tgithub.com/a/b\tv1.2.3\th1:abc=\n"
                                         "build\tGOARCH=arm64\n"));
  ASSERT_TRUE(info);
  EXPECT_EQ(info->go_version, "go1.19.8");
  EXPECT_EQ(info->path, "example.com/app/cmd/web");
  EXPECT_EQ(info->main.path, "example.com/app");
  ASSERT_EQ(info->deps.size(), 1u);
  EXPECT_EQ(info->deps[0].path, "github.com/a/b");
  EXPECT_EQ(info->deps[0].sum, "h1:abc=");
  EXPECT_EQ(info->settings.at("GOARCH"), "arm64");
}

TEST(GoBuildInfo, ReplacementsByModuleAndByDirectory) {
  // A dependency's main package built from a user's module whose replace
  // directives point at another module and at local directories.
  auto info = parse_go_buildinfo(section("go1.19.8",
                                         "path\tgithub.com/itchyny/gojq/cmd/gojq\n"
                                         "mod\tgithub.com/itchyny/gojq\tv0.12.11\t\n"
                                         "=>\t/usr/share/gocode/src/github.com/itchyny/gojq\t(devel)\t\n"
                                         "dep\tgithub.com/mattn/go-isatty\tv0.0.16\t\n"
                                         "=>\t/usr/share/gocode/src/github.com/mattn/go-isatty\t(devel)\t\n"
                                         "dep\tgopkg.in/yaml.v3\tv3.0.1\t\n"
                                         "=>\t../yaml\t(devel)\t\n"
                                         "dep\tgolang.org/x/sys\tv0.2.0\t\n"
                                         "=>\texample.com/fork/sys\tv0.3.0\th1:xyz=\n"));
  ASSERT_TRUE(info);
  EXPECT_EQ(info->main.path, "github.com/itchyny/gojq");
  EXPECT_EQ(info->main.version, "v0.12.11");
  ASSERT_EQ(info->deps.size(), 3u);
  EXPECT_EQ(info->deps[0].path, "github.com/mattn/go-isatty");
  EXPECT_EQ(info->deps[0].version, "v0.0.16");
  EXPECT_EQ(info->deps[1].path, "gopkg.in/yaml.v3");
  EXPECT_EQ(info->deps[2].path, "example.com/fork/sys");
  EXPECT_EQ(info->deps[2].version, "v0.3.0");
}

TEST(GoBuildInfo, NoneOrTruncated) {
  EXPECT_FALSE(parse_go_buildinfo(""));
  EXPECT_FALSE(parse_go_buildinfo("no magic here"));
  std::string whole = section("go1.19.8", "path\tx\n");
  EXPECT_FALSE(parse_go_buildinfo(whole.substr(0, 40)));
}

}  // namespace
}  // namespace gocrate
