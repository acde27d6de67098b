#include "gobuild/provenance.h"

#include <gtest/gtest.h>

#include "image/media_types.h"
#include "store/store.h"
#include "util/fs.h"

namespace gocrate {
namespace {

using nlohmann::json;

ProvenanceInputs example_inputs() {
  ProvenanceInputs inputs;
  inputs.builder_version = "1.2.3";
  inputs.package = "example.com/app/cmd/web";
  inputs.platform = "linux/arm64";
  inputs.flags = {"-trimpath", "-ldflags=-s -w", "-tags=netgo"};
  inputs.env = {"CGO_ENABLED=0", "GOARCH=arm64", "GOOS=linux"};
  inputs.source_date_epoch = 1700000000;
  inputs.git =
      GitInfo{"0123456789abcdef0123456789abcdef01234567", "https://github.com/example/app", "/src/app"};
  GoBuildInfo info;
  info.go_version = "go1.22.1";
  info.path = "example.com/app/cmd/web";
  info.main = {"example.com/app", "(devel)", ""};
  info.deps = {{"github.com/z/last", "v0.1.0", "h1:Khu2En+0gcYPZ2kuIihfswbzxv/mIHXgzPZ018Oty48="},
               {"github.com/a/first", "v1.2.3", ""}};
  info.settings = {{"GOARCH", "arm64"}, {"vcs.revision", "0123456789abcdef0123456789abcdef01234567"}};
  inputs.build_info = info;
  return inputs;
}

TEST(SlsaProvenance, BuildDefinitionAndBuilder) {
  json p = slsa_provenance(example_inputs());
  const json& definition = p["buildDefinition"];
  EXPECT_EQ(definition["buildType"], "https://gocrate.dev/build/v1");
  EXPECT_EQ(definition["externalParameters"]["package"], "example.com/app/cmd/web");
  EXPECT_EQ(definition["externalParameters"]["platform"], "linux/arm64");
  EXPECT_EQ(definition["externalParameters"]["flags"], json({"-trimpath", "-ldflags=-s -w", "-tags=netgo"}));
  EXPECT_EQ(definition["externalParameters"]["source"], "git+https://github.com/example/app");
  EXPECT_EQ(definition["internalParameters"]["goVersion"], "go1.22.1");
  EXPECT_EQ(definition["internalParameters"]["SOURCE_DATE_EPOCH"], 1700000000);
  EXPECT_EQ(definition["internalParameters"]["env"], json({"CGO_ENABLED=0", "GOARCH=arm64", "GOOS=linux"}));
  EXPECT_EQ(definition["internalParameters"]["goBuildSettings"]["GOARCH"], "arm64");
  const json& builder = p["runDetails"]["builder"];
  EXPECT_EQ(builder["id"], "https://gocrate.dev/gocrate");
  EXPECT_EQ(builder["version"]["gocrate"], "1.2.3");
  // Nothing of the clock: reproducible builds get identical provenance.
  EXPECT_FALSE(p["runDetails"].contains("metadata"));
}

TEST(SlsaProvenance, GitSourceThenStdlibThenModulesInOrder) {
  json deps = slsa_provenance(example_inputs())["buildDefinition"]["resolvedDependencies"];
  ASSERT_EQ(deps.size(), 4u);
  EXPECT_EQ(deps[0]["uri"], "git+https://github.com/example/app");
  EXPECT_EQ(deps[0]["digest"]["gitCommit"], "0123456789abcdef0123456789abcdef01234567");
  EXPECT_EQ(deps[1]["uri"], "pkg:golang/stdlib@go1.22.1");
  EXPECT_EQ(deps[2]["uri"], "pkg:golang/github.com/z/last@v0.1.0");
  EXPECT_EQ(deps[2]["name"], "github.com/z/last");
  // in-toto's dirHash: the h1 hash in hex (its spec's own example).
  EXPECT_EQ(deps[2]["digest"]["dirHash"], "2a1bb6127fb481c60f67692e22285fb306f3c6ffe62075e0ccf674d7c3adcb8f");
  EXPECT_EQ(deps[2]["annotations"]["goSum"], "h1:Khu2En+0gcYPZ2kuIihfswbzxv/mIHXgzPZ018Oty48=");
  EXPECT_EQ(deps[3]["uri"], "pkg:golang/github.com/a/first@v1.2.3");
  EXPECT_FALSE(deps[3].contains("digest"));
}

TEST(SlsaProvenance, LocalCheckoutIsNamedByItsDirectory) {
  ProvenanceInputs inputs = example_inputs();
  inputs.git->source.clear();
  json deps = slsa_provenance(inputs)["buildDefinition"]["resolvedDependencies"];
  EXPECT_EQ(deps[0]["uri"], "git+file:///src/app");
}

TEST(SlsaProvenance, MainModuleOfADependencyIsADependency) {
  ProvenanceInputs inputs = example_inputs();
  inputs.git.reset();
  inputs.build_info->main = {"golang.org/x/tools", "v0.20.0",
                             "h1:Khu2En+0gcYPZ2kuIihfswbzxv/mIHXgzPZ018Oty48="};
  json p = slsa_provenance(inputs);
  json deps = p["buildDefinition"]["resolvedDependencies"];
  EXPECT_FALSE(p["buildDefinition"]["externalParameters"].contains("source"));
  ASSERT_EQ(deps.size(), 4u);
  EXPECT_EQ(deps[0]["uri"], "pkg:golang/stdlib@go1.22.1");
  EXPECT_EQ(deps[1]["uri"], "pkg:golang/golang.org/x/tools@v0.20.0");
}

TEST(SlsaProvenance, DependsOnlyOnItsInputs) {
  EXPECT_EQ(slsa_provenance(example_inputs()).dump(), slsa_provenance(example_inputs()).dump());
  Digest subject = Digest::of("manifest");
  EXPECT_EQ(provenance_statement("web", subject, slsa_provenance(example_inputs())),
            provenance_statement("web", subject, slsa_provenance(example_inputs())));
}

TEST(ProvenanceStatement, InTotoStatementV1AboutTheManifest) {
  Digest subject = Digest::of("manifest");
  json statement = json::parse(provenance_statement("web", subject, slsa_provenance(example_inputs())));
  EXPECT_EQ(statement["_type"], "https://in-toto.io/Statement/v1");
  EXPECT_EQ(statement["predicateType"], "https://slsa.dev/provenance/v1");
  ASSERT_EQ(statement["subject"].size(), 1u);
  EXPECT_EQ(statement["subject"][0]["name"], "web");
  EXPECT_EQ(statement["subject"][0]["digest"]["sha256"], subject.hex);
  EXPECT_EQ(statement["predicate"]["buildDefinition"]["buildType"], "https://gocrate.dev/build/v1");
}

// An artifact manifest about `subject` with one layer, as builds write them.
Descriptor add_artifact(Store& store, const Descriptor& subject, const std::string& content,
                        std::string_view type) {
  Manifest artifact;
  artifact.media_type = media_type::oci_manifest;
  artifact.artifact_type = type;
  artifact.config = store.write_blob("{}", std::string(media_type::oci_empty));
  artifact.layers.push_back(store.write_blob(content, std::string(type)));
  artifact.subject = Descriptor{subject.media_type, subject.digest, subject.size};
  Descriptor d = store.write_blob(artifact.to_json_text(), std::string(media_type::oci_manifest));
  d.artifact_type = type;
  store.add_referrer(d);
  return d;
}

TEST(FindProvenanceStatement, FindsTheStatementAmongTheReferrers) {
  TempDir dir;
  Store store(dir.path() + "/store");
  Manifest image;
  image.media_type = media_type::oci_manifest;
  image.config =
      store.write_blob("{\"architecture\":\"arm64\",\"os\":\"linux\"}", std::string(media_type::oci_config));
  Descriptor manifest = store.write_blob(image.to_json_text(), std::string(media_type::oci_manifest));
  store.add_name("web:latest", manifest);
  EXPECT_FALSE(find_provenance_statement(store, manifest));

  std::string statement = provenance_statement("web", manifest.digest, slsa_provenance(example_inputs()));
  add_artifact(store, manifest, R"({"spdxVersion":"SPDX-2.3"})", media_type::spdx_json);
  add_artifact(store, manifest, statement, media_type::in_toto);
  store.commit();
  auto found = find_provenance_statement(store, manifest);
  ASSERT_TRUE(found);
  EXPECT_EQ(*found, statement);
  // Listing names shows the image, never its artifacts.
  ASSERT_EQ(store.images().size(), 1u);
  EXPECT_EQ(store.images()[0].descriptor.digest, manifest.digest);
}

}  // namespace
}  // namespace gocrate
