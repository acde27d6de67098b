#include "runtime/env_file.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include "util/error_for_tests.h"
#include "util/fs.h"

namespace gocrate {
namespace {

std::optional<std::string> fake_env(const std::string& key) {
  if (key == "HOSTVAR") return "from host";
  return std::nullopt;
}

TEST(EnvFile, ReadsLinesAsDockerDoes) {
  std::string text =
      "\xEF\xBB\xBF# a comment\n"
      "A=1\n"
      "\n"
      "   B=two words  \n"
      "\tC=\"quoted\"\r\n"
      "  # indented comment\n"
      "HOSTVAR\n"
      "UNSET\n"
      "EMPTY=\n"
      "EQ=a=b\n"
      "LAST=no newline";
  EXPECT_EQ(parse_env_file(text, "--env-file f", fake_env),
            (std::vector<std::string>{"A=1", "B=two words  ", "C=\"quoted\"", "HOSTVAR=from host",
                                      "EMPTY=", "EQ=a=b", "LAST=no newline"}));
  EXPECT_TRUE(parse_env_file("", "f", fake_env).empty());
}

TEST(EnvFile, BadLinesNameFileLineAndFix) {
  EXPECT_EQ(
      error_of([] { parse_env_file("A=1\n# x\nexport C=3\n", "--env-file vars.env", fake_env); }),
      "--env-file vars.env line 3: the name \"export C\" contains whitespace: write the line as KEY=VALUE or "
      "KEY (no `export`, no blanks around =)");
  EXPECT_NE(error_of([] { parse_env_file("A = 1\n", "f", fake_env); }).find("line 1"), std::string::npos);
  EXPECT_NE(error_of([] { parse_env_file("=1\n", "f", fake_env); }).find("no name"), std::string::npos);
  EXPECT_NE(error_of([] { parse_env_file("A=\xff\n", "f", fake_env); }).find("UTF-8"), std::string::npos);
}

TEST(EnvFile, RefusesWhatIsNotAFile) {
  EXPECT_NE(error_of([] { read_env_file("/dev/zero", "--env-file", fake_env); }).find("not a regular file"),
            std::string::npos);
  EXPECT_NE(
      error_of([] { read_env_file("/nonexistent/env", "--env-file", fake_env); }).find("/nonexistent/env"),
      std::string::npos);
}

TEST(Labels, MergeImageFilesAndFlags) {
  char dir[] = "/tmp/gocrate-labels-XXXXXX";
  ASSERT_NE(::mkdtemp(dir), nullptr);
  std::string file = std::string(dir) + "/labels";
  write_file_replace(file, "# labels\nfrom.file=1\nbare\nshared=file\n");
  auto labels =
      merge_labels({{"image", "x"}, {"shared", "image"}}, {file}, {"a=b", "k", "shared=flag", "eq=x=y"});
  EXPECT_EQ(labels, (std::map<std::string, std::string>{{"image", "x"},
                                                        {"from.file", "1"},
                                                        {"bare", ""},
                                                        {"shared", "flag"},
                                                        {"a", "b"},
                                                        {"k", ""},
                                                        {"eq", "x=y"}}));
  EXPECT_NE(error_of([] { merge_labels({}, {}, {"=v"}); }).find("empty name"), std::string::npos);
  ::unlink(file.c_str());
  ::rmdir(dir);
}

}  // namespace
}  // namespace gocrate
