#include "image/manifest.h"

#include <gtest/gtest.h>

#include "image/config.h"
#include "image/media_types.h"
#include "util/error.h"

namespace gocrate {
namespace {

Descriptor descriptor(std::string_view content, std::string type) {
  return Descriptor{std::move(type), Digest::of(content), static_cast<int64_t>(content.size())};
}

TEST(Manifest, RoundTrips) {
  Manifest m;
  m.media_type = media_type::oci_manifest;
  m.config = descriptor("config", std::string(media_type::oci_config));
  m.layers.push_back(descriptor("layer", std::string(media_type::oci_layer_gzip)));
  m.annotations["org.opencontainers.image.revision"] = "abc";
  m.subject = descriptor("subject", std::string(media_type::oci_manifest));
  std::string text = m.to_json_text();
  Manifest back = Manifest::parse(text, "test");
  EXPECT_EQ(back.to_json_text(), text);
  EXPECT_EQ(back.layers.size(), 1u);
  EXPECT_EQ(back.layers[0].digest, Digest::of("layer"));
  EXPECT_TRUE(back.subject.has_value());
  // Serialisation is canonical: keys sorted, no whitespace.
  EXPECT_EQ(text.find(' '), std::string::npos);
  EXPECT_LT(text.find("\"annotations\""), text.find("\"config\""));
}

TEST(Manifest, RejectsMalformed) {
  EXPECT_THROW(Manifest::parse("{", "t"), Error);
  EXPECT_THROW(Manifest::parse(R"({"schemaVersion":1})", "t"), Error);
  EXPECT_THROW(Manifest::parse(R"({"schemaVersion":2,"layers":[]})", "t"), Error);
  EXPECT_THROW(
      Manifest::parse(R"({"schemaVersion":2,"config":{"mediaType":"x","digest":"sha256:12","size":1}})", "t"),
      Error);
  EXPECT_THROW(Manifest::parse(R"({"schemaVersion":2,"manifests":[]})", "t"), Error);
  try {
    Manifest::parse(R"({"schemaVersion":2,"config":{"mediaType":"x","size":-1}})", "manifest X");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("manifest X"), std::string::npos);
  }
}

TEST(Index, RoundTripsWithPlatforms) {
  Index index;
  index.media_type = media_type::oci_index;
  Descriptor a = descriptor("a", std::string(media_type::oci_manifest));
  a.platform = Platform::parse("linux/arm/v7");
  index.manifests.push_back(a);
  std::string text = index.to_json_text();
  EXPECT_NE(text.find(R"("platform":{"architecture":"arm","os":"linux","variant":"v7"})"), std::string::npos);
  Index back = Index::parse(text, "t");
  ASSERT_EQ(back.manifests.size(), 1u);
  EXPECT_EQ(back.manifests[0].platform->str(), "linux/arm/v7");
  EXPECT_EQ(back.to_json_text(), text);
}

TEST(Index, ReadsDockerManifestList) {
  std::string list =
      R"({"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.list.v2+json",
    "manifests":[{"mediaType":"application/vnd.docker.distribution.manifest.v2+json","size":7,
    "digest":"sha256:)" +
      std::string(64, 'b') + R"(","platform":{"architecture":"arm64","os":"linux","variant":"v8"}}]})";
  Index index = Index::parse(list, "t");
  EXPECT_EQ(index.media_type, media_type::docker_manifest_list);
  EXPECT_EQ(sniff_media_type(list), media_type::docker_manifest_list);
}

TEST(ImageConfig, RoundTripsAndKeepsUnknownFields) {
  std::string text = R"({"architecture":"amd64","os":"linux","created":"2020-01-01T00:00:00Z",
    "docker_version":"20.10","config":{"Env":["PATH=/bin"],"Entrypoint":["/app"],"ExposedPorts":{"80/tcp":{}},
    "Healthcheck":{"Test":["CMD","true"]},"User":"1:1"},"rootfs":{"type":"layers","diff_ids":["sha256:)" +
                     std::string(64, 'c') + R"("]},"history":[{"created_by":"x","empty_layer":true}]})";
  ImageConfig config = ImageConfig::parse(text, "t");
  EXPECT_EQ(config.config.env_value("PATH"), "/bin");
  EXPECT_EQ(config.config.exposed_ports.count("80/tcp"), 1u);
  EXPECT_TRUE(config.config.extra.contains("Healthcheck"));
  EXPECT_EQ(config.extra["docker_version"], "20.10");
  config.config.set_env("PATH", "/usr/bin");
  config.config.set_env("NEW", "1");
  ImageConfig back = ImageConfig::parse(config.to_json_text(), "t");
  EXPECT_EQ(back.config.env, (std::vector<std::string>{"PATH=/usr/bin", "NEW=1"}));
  EXPECT_TRUE(back.config.extra.contains("Healthcheck"));
  EXPECT_TRUE(back.history[0].empty_layer);
  EXPECT_EQ(back.to_json_text(), config.to_json_text());
}

TEST(ImageConfig, RequiresRootfsAndPlatform) {
  EXPECT_THROW(ImageConfig::parse(R"({"os":"linux","rootfs":{"type":"layers"}})", "t"), Error);
  EXPECT_THROW(ImageConfig::parse(R"({"os":"linux","architecture":"amd64"})", "t"), Error);
  EXPECT_THROW(ImageConfig::parse(
                   R"({"os":"linux","architecture":"amd64","rootfs":{"type":"layers","diff_ids":[1]}})", "t"),
               Error);
}

}  // namespace
}  // namespace gocrate
