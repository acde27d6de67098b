#include "serve/server.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>

#include "serve/web_page.h"
#include "util/error_for_tests.h"
#include "util/fs.h"

namespace gocrate {
namespace {

TEST(ListenAddress, ParsesHostAndPort) {
  auto a = parse_listen_address("127.0.0.1:9323");
  EXPECT_EQ(a.host, "127.0.0.1");
  EXPECT_EQ(a.port, 9323);
  a = parse_listen_address("[::1]:80");
  EXPECT_EQ(a.host, "::1");
  EXPECT_EQ(a.port, 80);
  a = parse_listen_address(":9000");
  EXPECT_EQ(a.host, "0.0.0.0");
  a = parse_listen_address("localhost:0");
  EXPECT_EQ(a.host, "127.0.0.1");
  for (const char* bad : {"", "9323", "127.0.0.1", "127.0.0.1:", "127.0.0.1:70000", "::1:80",
                          "example.com:80", "1.2.3:80", "127.0.0.1:-1"}) {
    std::string error = error_of([&] { parse_listen_address(bad); });
    EXPECT_NE(error.find("invalid --listen"), std::string::npos) << bad;
  }
}

TEST(ListenAddress, LoopbackIsTheWholeLoopbackNetwork) {
  EXPECT_TRUE(is_loopback("127.0.0.1"));
  EXPECT_TRUE(is_loopback("127.0.0.2"));
  EXPECT_TRUE(is_loopback("::1"));
  EXPECT_TRUE(is_loopback("localhost"));
  EXPECT_FALSE(is_loopback("0.0.0.0"));
  EXPECT_FALSE(is_loopback("::"));
  EXPECT_FALSE(is_loopback("10.0.0.1"));
  EXPECT_FALSE(is_loopback("not an address"));
}

TEST(Token, ComparesWholeTokens) {
  EXPECT_TRUE(same_token("secret", "secret"));
  EXPECT_FALSE(same_token("secreT", "secret"));
  EXPECT_FALSE(same_token("secre", "secret"));
  EXPECT_FALSE(same_token("", "secret"));
}

class TempDir {
 public:
  TempDir() {
    char path[] = "/tmp/gocrate-serve-test-XXXXXX";
    dir_ = ::mkdtemp(path);
  }
  ~TempDir() { remove_tree(dir_); }
  const std::string& path() const { return dir_; }

 private:
  std::string dir_;
};

TEST(Token, ReadsTheFirstLineOfTheFile) {
  TempDir dir;
  write_file_atomic(dir.path() + "/token", "  abc123 \nignored\n");
  EXPECT_EQ(read_token_file(dir.path() + "/token"), "abc123");
  write_file_atomic(dir.path() + "/empty", "\n");
  EXPECT_NE(error_of([&] { read_token_file(dir.path() + "/empty"); }).find("is empty"), std::string::npos);
  EXPECT_NE(error_of([&] { read_token_file(dir.path() + "/missing"); }).find("no such file"),
            std::string::npos);
}

TEST(Server, RefusesAnAddressOtherThanLoopbackWithoutAToken) {
  TempDir dir;
  ServeOptions options{dir.path(), "0.0.0.0:0", ""};
  std::string error = error_of([&] { Server server(options); });
  EXPECT_NE(error.find("refusing to serve on 0.0.0.0:0 without --token-file"), std::string::npos) << error;
}

TEST(Server, NamesTheAddressInUse) {
  TempDir dir;
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  ASSERT_EQ(::listen(fd, 1), 0);
  socklen_t size = sizeof address;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size);
  std::string listen = "127.0.0.1:" + std::to_string(ntohs(address.sin_port));
  ServeOptions options{dir.path(), listen, ""};
  std::string error = error_of([&] { Server server(options); });
  EXPECT_EQ(error, "cannot listen on " + listen +
                       ": the address is in use; stop what listens there or give another --listen");
  ::close(fd);
}

TEST(Server, BindsAFreePortAndSaysWhich) {
  TempDir dir;
  Server server(ServeOptions{dir.path(), "127.0.0.1:0", ""});
  EXPECT_TRUE(server.url().starts_with("http://127.0.0.1:"));
  EXPECT_NE(server.url(), "http://127.0.0.1:0");
}

TEST(WebPage, ServesThePageAndItsCodeOnly) {
  ASSERT_NE(web_asset("/"), nullptr);
  EXPECT_NE(web_asset("/")->content.find("<script src=\"/app.js\">"), std::string_view::npos);
  ASSERT_NE(web_asset("/app.js"), nullptr);
  EXPECT_NE(web_asset("/app.js")->content.find("/api/stream"), std::string_view::npos);
  ASSERT_NE(web_asset("/app.css"), nullptr);
  EXPECT_EQ(web_asset("/metrics"), nullptr);
  EXPECT_EQ(web_asset("/api/containers"), nullptr);
}

}  // namespace
}  // namespace gocrate
