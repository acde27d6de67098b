#include "deploy/yaml_references.h"

#include <gtest/gtest.h>

#include "util/error.h"

namespace gocrate {
namespace {

const char* kStream = R"(# the web tier
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web   # ko://not.a/value (a comment)
spec:
  template:
    spec:
      containers:
      - name: web
        image: ko://example.com/app/cmd/web
        args: ["gocrate://example.com/app/cmd/web", 'ko://example.com/app/cmd/tool']
---
apiVersion: v1
kind: Pod
metadata:
  name: ünïcode
spec:
  containers:
  - image: "gocrate://example.com/app/cmd/tool"
    env:
    - name: NOT_A_REFERENCE
      value: ko://
)";

TEST(YamlReferences, FindsValuesNotCommentsOrKeys) {
  auto paths = find_image_references({"app.yaml", kStream});
  EXPECT_EQ(paths, (std::set<std::string>{"example.com/app/cmd/web", "example.com/app/cmd/tool"}));
}

TEST(YamlReferences, ReplacesInPlaceKeepingEverythingElse) {
  std::map<std::string, std::string> resolved{
      {"example.com/app/cmd/web", "registry.local/web@sha256:aaaa"},
      {"example.com/app/cmd/tool", "registry.local/tool@sha256:bbbb"},
  };
  std::string out = replace_image_references({"app.yaml", kStream}, resolved);
  std::string expected = kStream;
  auto swap = [&](const std::string& from, const std::string& to) {
    for (size_t at = expected.find(from); at != std::string::npos; at = expected.find(from, at + to.size())) {
      expected.replace(at, from.size(), to);
    }
  };
  swap("ko://example.com/app/cmd/web", "registry.local/web@sha256:aaaa");
  swap("gocrate://example.com/app/cmd/web", "registry.local/web@sha256:aaaa");
  swap("ko://example.com/app/cmd/tool", "registry.local/tool@sha256:bbbb");
  swap("gocrate://example.com/app/cmd/tool", "registry.local/tool@sha256:bbbb");
  // Exactly the four values changed; the comment's ko:// text is not a value.
  EXPECT_EQ(out, expected);
  EXPECT_NE(out.find("name: web   # ko://not.a/value (a comment)"), std::string::npos);
  EXPECT_NE(out.find("image: registry.local/web@sha256:aaaa"), std::string::npos);
  EXPECT_NE(out.find(R"(args: ["registry.local/web@sha256:aaaa", 'registry.local/tool@sha256:bbbb'])"),
            std::string::npos);
  EXPECT_NE(out.find(R"(- image: "registry.local/tool@sha256:bbbb")"), std::string::npos);
  EXPECT_NE(out.find("value: ko://\n"), std::string::npos);
  EXPECT_EQ(out.find("gocrate://example"), std::string::npos);
}

TEST(YamlReferences, ParseErrorsNameFileAndLine) {
  try {
    find_image_references({"broken.yaml", "a: 1\nb: [1, 2\nc: 3\n"});
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("broken.yaml:"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace gocrate
