#include "transport/registry/registry_urls.h"

#include <gtest/gtest.h>

#include "image/reference.h"

namespace gocrate {
namespace {

TEST(RegistryUrls, ReferenceToEndpoints) {
  Reference hub = Reference::parse("alpine:3.19");
  EXPECT_EQ(registry_api_host(hub.registry()), "registry-1.docker.io");
  EXPECT_EQ(manifest_path(hub.repository(), hub.tag), "/v2/library/alpine/manifests/3.19");

  Reference local = Reference::parse("localhost:5000/team/app@sha256:" + std::string(64, 'a'));
  EXPECT_EQ(registry_api_host(local.registry()), "localhost:5000");
  EXPECT_EQ(manifest_path(local.repository(), local.digest->str()),
            "/v2/team/app/manifests/sha256:" + std::string(64, 'a'));
  EXPECT_EQ(blob_path("team/app", *local.digest), "/v2/team/app/blobs/sha256:" + std::string(64, 'a'));
  EXPECT_EQ(upload_start_path("team/app"), "/v2/team/app/blobs/uploads/");
  EXPECT_EQ(referrers_path("a", *local.digest), "/v2/a/referrers/sha256:" + std::string(64, 'a'));
  EXPECT_EQ(referrers_tag(*local.digest), "sha256-" + std::string(64, 'a'));
}

TEST(RegistryUrls, Loopback) {
  for (const char* host :
       {"localhost", "localhost:5000", "127.0.0.1", "127.1.2.3:443", "[::1]:5000", "::1"}) {
    EXPECT_TRUE(is_loopback_registry(host)) << host;
  }
  for (const char* host :
       {"docker.io", "128.0.0.1", "127.0.0.1.example.com", "localhost.evil.io", "10.0.0.1:5000"}) {
    EXPECT_FALSE(is_loopback_registry(host)) << host;
  }
  EXPECT_TRUE(is_loopback_url("http://127.0.0.1:9000/token?x=1"));
  EXPECT_FALSE(is_loopback_url("https://auth.docker.io/token"));
}

TEST(RegistryUrls, LocationsAndQueries) {
  std::string request = "http://127.0.0.1:5000/v2/app/blobs/uploads/";
  EXPECT_EQ(resolve_location(request, "/v2/app/blobs/uploads/u1?_state=x"),
            "http://127.0.0.1:5000/v2/app/blobs/uploads/u1?_state=x");
  EXPECT_EQ(resolve_location(request, "https://s3.example/up?sig=1"), "https://s3.example/up?sig=1");
  EXPECT_EQ(resolve_location(request, "u2"), "http://127.0.0.1:5000/v2/app/blobs/uploads/u2");
  EXPECT_EQ(with_query("http://h/u?_state=a", "digest", "sha256:ab"),
            "http://h/u?_state=a&digest=sha256%3Aab");
  EXPECT_EQ(with_query("http://h/u", "from", "team/app"), "http://h/u?from=team%2Fapp");
  EXPECT_EQ(url_escape("repository:a/b:pull,push"), "repository%3Aa%2Fb%3Apull%2Cpush");
}

TEST(RegistryUrls, UploadRange) {
  EXPECT_EQ(upload_offset_from_range("0-1023"), 1024);
  EXPECT_EQ(upload_offset_from_range("bytes=0-99"), 100);
  EXPECT_EQ(upload_offset_from_range("0-0"), 0);
  EXPECT_FALSE(upload_offset_from_range(""));
  EXPECT_FALSE(upload_offset_from_range("5-10"));
  EXPECT_FALSE(upload_offset_from_range("0-x"));
  EXPECT_FALSE(upload_offset_from_range("0"));
}

}  // namespace
}  // namespace gocrate
