#include "runtime/containment/users.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/error.h"
#include "util/error_for_tests.h"
#include "util/fs.h"

namespace gocrate {
namespace {

class ImageUsers : public ::testing::Test {
 protected:
  void SetUp() override {
    make_directories(root_.path() + "/etc");
    write_file_atomic(root_.path() + "/etc/passwd",
                      "root:x:0:0:root:/root:/sbin/nologin\n"
                      "# a comment\n"
                      "nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n"
                      "app:x:1000:1000::/srv/app:/bin/sh\n");
    write_file_atomic(root_.path() + "/etc/group",
                      "root:x:0:\n"
                      "nonroot:x:65532:\n"
                      "app:x:1000:\n"
                      "audio:x:29:app,nonroot\n"
                      "video:x:44:app\n");
    fd_ = open_or_fail(root_.path(), O_PATH | O_DIRECTORY);
  }
  TempDir root_;
  UniqueFd fd_;
};

TEST_F(ImageUsers, ResolvesNamesNumbersAndGroups) {
  ContainerUser root = resolve_user(fd_.get(), "");
  EXPECT_EQ(root.uid, 0u);
  EXPECT_EQ(root.home, "/root");

  ContainerUser nonroot = resolve_user(fd_.get(), "65532:65532");
  EXPECT_EQ(nonroot.uid, 65532u);
  EXPECT_EQ(nonroot.gid, 65532u);
  EXPECT_EQ(nonroot.name, "nonroot");
  EXPECT_EQ(nonroot.home, "/home/nonroot");
  EXPECT_EQ(nonroot.supplementary_groups, (std::vector<gid_t>{65532, 29}));

  ContainerUser app = resolve_user(fd_.get(), "app");
  EXPECT_EQ(app.uid, 1000u);
  EXPECT_EQ(app.gid, 1000u);
  EXPECT_EQ(app.supplementary_groups, (std::vector<gid_t>{1000, 29, 44}));

  ContainerUser with_group = resolve_user(fd_.get(), "app:video");
  EXPECT_EQ(with_group.gid, 44u);

  ContainerUser unlisted = resolve_user(fd_.get(), "4242");
  EXPECT_EQ(unlisted.uid, 4242u);
  EXPECT_EQ(unlisted.gid, 0u);
  EXPECT_EQ(unlisted.home, "/");
}

TEST_F(ImageUsers, RefusesUnknownNames) {
  EXPECT_THROW(resolve_user(fd_.get(), "ghost"), Error);
  EXPECT_THROW(resolve_user(fd_.get(), "app:nogroup"), Error);
  EXPECT_THROW(resolve_user(fd_.get(), ":1000"), Error);
}

// What a hostile image puts at /etc/passwd or /etc/group is refused at once,
// naming the image and the file: nothing blocks, nothing is read for long,
// nothing outside the root is read.
TEST_F(ImageUsers, RefusesWhatIsNotASmallRegularFile) {
  std::string passwd = root_.path() + "/etc/passwd";
  auto expect_refused = [&](const char* user, const std::string& words) {
    try {
      resolve_user(fd_.get(), user, "hostile:1");
      ADD_FAILURE() << "accepted " << words;
    } catch (const Error& e) {
      std::string message = e.what();
      EXPECT_NE(message.find("image hostile:1"), std::string::npos) << message;
      EXPECT_NE(message.find(words), std::string::npos) << message;
      EXPECT_EQ(message.find('\n'), std::string::npos) << message;
    }
  };
  ::unlink(passwd.c_str());
  ASSERT_EQ(::mkfifo(passwd.c_str(), 0644), 0);
  expect_refused("app", "/etc/passwd is a FIFO");
  ::unlink(passwd.c_str());
  ASSERT_EQ(::symlink("/dev/zero", passwd.c_str()), 0);
  expect_refused("0", "/etc/passwd is a symbolic link");
  ::unlink(passwd.c_str());
  ASSERT_EQ(::symlink("../../../../../../etc/passwd", passwd.c_str()), 0);
  expect_refused("root", "/etc/passwd is a symbolic link");
  ::unlink(passwd.c_str());
  ASSERT_EQ(::mkdir(passwd.c_str(), 0755), 0);
  expect_refused("app", "/etc/passwd is a directory");
  ::rmdir(passwd.c_str());
  write_file_atomic(passwd, std::string(kImageFileLimit + 1, '#'));
  expect_refused("app", "/etc/passwd is larger than");
  ::unlink(passwd.c_str());
  std::string group = root_.path() + "/etc/group";
  ::unlink(group.c_str());
  ASSERT_EQ(::mkfifo(group.c_str(), 0644), 0);
  expect_refused("4242", "/etc/group is a FIFO");
}

TEST_F(ImageUsers, GroupAddTakesNamesFromTheImageAndNumbers) {
  ContainerUser user = resolve_user(fd_.get(), "nonroot");
  add_groups(fd_.get(), user, {"video", "4242", "audio"});
  EXPECT_EQ(user.supplementary_groups, (std::vector<gid_t>{65532, 29, 44, 4242}));
  EXPECT_NE(error_of([&] { add_groups(fd_.get(), user, {"wheel"}); }).find("unable to find group wheel"),
            std::string::npos);
  EXPECT_NE(error_of([&] { add_groups(fd_.get(), user, {"-1"}); }).find("group -1"), std::string::npos);
}

}  // namespace
}  // namespace gocrate
