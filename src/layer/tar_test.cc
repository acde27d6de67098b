#include "layer/tar.h"

#include <gtest/gtest.h>

#include "util/error.h"
#include "util/sha256.h"

namespace gocrate {
namespace {

std::string write_tar(const std::vector<std::pair<TarHeader, std::string>>& entries) {
  std::string out;
  TarWriter writer([&](std::string_view d) { out.append(d); });
  for (const auto& [h, content] : entries) writer.add(h, content);
  writer.finish();
  return out;
}

TarHeader file(std::string path, std::string_view content, uint32_t mode = 0644) {
  TarHeader h;
  h.path = std::move(path);
  h.size = static_cast<int64_t>(content.size());
  h.mode = mode;
  return h;
}

TEST(Tar, RoundTripsEveryKindOfEntry) {
  TarHeader dir;
  dir.path = "app";
  dir.type = TarHeader::Type::directory;
  dir.mode = 0755;
  TarHeader link;
  link.path = "app/current";
  link.type = TarHeader::Type::symlink;
  link.link_target = "hello";
  std::string long_name = "deep/" + std::string(150, 'x') + "/" + std::string(120, 'y');
  std::string long_target(200, 't');
  TarHeader long_link = link;
  long_link.path = "l";
  long_link.link_target = long_target;
  TarHeader big_ids = file("ids", "");
  big_ids.uid = 5000000;
  big_ids.gid = 65532;
  TarHeader xattr = file("cap", "x");
  xattr.xattrs["security.capability"] = std::string("\x01\x02\0\x03", 4);

  std::string tar = write_tar({{dir, ""},
                               {file("app/hello", "binary", 0755), "binary"},
                               {link, ""},
                               {file(long_name, "long"), "long"},
                               {long_link, ""},
                               {big_ids, ""},
                               {xattr, "x"}});
  EXPECT_EQ(tar.size() % 512, 0u);

  StringReader in(tar);
  TarReader reader(in, "test tar");
  TarHeader h;
  ASSERT_TRUE(reader.next(h));
  EXPECT_EQ(h.path, "app");
  EXPECT_EQ(h.type, TarHeader::Type::directory);
  ASSERT_TRUE(reader.next(h));
  EXPECT_EQ(h.path, "app/hello");
  EXPECT_EQ(h.mode, 0755u);
  EXPECT_EQ(reader.read_content(), "binary");
  ASSERT_TRUE(reader.next(h));
  EXPECT_EQ(h.type, TarHeader::Type::symlink);
  EXPECT_EQ(h.link_target, "hello");
  ASSERT_TRUE(reader.next(h));
  EXPECT_EQ(h.path, long_name);
  ASSERT_TRUE(reader.next(h));  // content of the previous entry is skipped
  EXPECT_EQ(h.link_target, long_target);
  ASSERT_TRUE(reader.next(h));
  EXPECT_EQ(h.uid, 5000000u);
  EXPECT_EQ(h.gid, 65532u);
  ASSERT_TRUE(reader.next(h));
  EXPECT_EQ(h.xattrs["security.capability"], std::string("\x01\x02\0\x03", 4));
  EXPECT_EQ(reader.read_content(), "x");
  EXPECT_FALSE(reader.next(h));
}

TEST(Tar, OutputIsDeterministic) {
  auto make = [] { return write_tar({{file("a", "1"), "1"}, {file("b/c", "22"), "22"}}); };
  EXPECT_EQ(sha256_hex(make()), sha256_hex(make()));
  // Nothing of the writing machine leaks in: owner names are empty.
  std::string tar = make();
  EXPECT_EQ(tar.substr(265, 32), std::string(32, '\0'));
}

TEST(Tar, RejectsCorruptHeaders) {
  std::string tar = write_tar({{file("a", "1"), "1"}});
  tar[0] = 'b';  // checksum no longer matches
  StringReader in(tar);
  TarReader reader(in, "broken.tar");
  TarHeader h;
  try {
    reader.next(h);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("checksum"), std::string::npos);
  }
}

TEST(Tar, RejectsTruncatedArchives) {
  std::string tar = write_tar({{file("a", std::string(2000, 'z')), std::string(2000, 'z')}});
  tar.resize(512 + 1000);
  StringReader in(tar);
  TarReader reader(in, "short.tar");
  TarHeader h;
  ASSERT_TRUE(reader.next(h));
  EXPECT_THROW(reader.read_content(), Error);
}

}  // namespace
}  // namespace gocrate
