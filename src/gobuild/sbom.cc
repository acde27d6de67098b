#include "gobuild/sbom.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "util/sha256.h"
#include "util/strings.h"

namespace gocrate {

namespace {

using nlohmann::json;

std::string spdx_id(std::string_view name) {
  std::string id = "SPDXRef-Package-";
  for (char c : name) id += (isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-') ? c : '-';
  return id;
}

std::string purl(const std::string& path, const std::string& version) {
  std::string out = "pkg:golang/" + path;
  if (!version.empty() && version != "(devel)") out += "@" + version;
  return out;
}

json package(const std::string& name, const std::string& version, const std::string& purpose) {
  json p = {
      {"name", name},
      {"SPDXID", spdx_id(name)},
      {"downloadLocation", "NOASSERTION"},
      {"filesAnalyzed", false},
      {"licenseConcluded", "NOASSERTION"},
      {"licenseDeclared", "NOASSERTION"},
      {"copyrightText", "NOASSERTION"},
      {"primaryPackagePurpose", purpose},
      {"externalRefs", json::array({{{"referenceCategory", "PACKAGE-MANAGER"},
                                     {"referenceType", "purl"},
                                     {"referenceLocator", purl(name, version)}}})},
  };
  if (!version.empty()) p["versionInfo"] = version;
  return p;
}

}  // namespace

std::string spdx_sbom(const GoBuildInfo& info, const std::string& identity, int64_t created_epoch) {
  std::string main_name = info.main.path.empty() ? info.path : info.main.path;
  json packages = json::array();
  json relationships = json::array();
  json main = package(main_name, info.main.version, "APPLICATION");
  std::vector<std::string> settings;
  for (const auto& [key, value] : info.settings) settings.push_back(key + "=" + value);
  main["comment"] = fmt::format("main package {}; build settings: {}", info.path, join(settings, " "));
  packages.push_back(main);
  relationships.push_back({{"spdxElementId", "SPDXRef-DOCUMENT"},
                           {"relationshipType", "DESCRIBES"},
                           {"relatedSpdxElement", spdx_id(main_name)}});

  auto depend_on = [&](const json& p) {
    packages.push_back(p);
    relationships.push_back({{"spdxElementId", spdx_id(main_name)},
                             {"relationshipType", "DEPENDS_ON"},
                             {"relatedSpdxElement", p["SPDXID"]}});
  };
  for (const auto& dep : info.deps) depend_on(package(dep.path, dep.version, "LIBRARY"));
  json stdlib = package("stdlib", info.go_version, "LIBRARY");
  stdlib["externalRefs"][0]["referenceLocator"] = "pkg:golang/stdlib@" + info.go_version;
  depend_on(stdlib);

  json document = {
      {"spdxVersion", "SPDX-2.3"},
      {"dataLicense", "CC0-1.0"},
      {"SPDXID", "SPDXRef-DOCUMENT"},
      {"name", main_name},
      {"documentNamespace",
       fmt::format("https://spdx.org/spdxdocs/gocrate/{}/{}", main_name, sha256_hex(identity))},
      {"creationInfo",
       {{"created", rfc3339_utc(created_epoch)},
        {"creators", json::array({"Tool: gocrate-" GOCRATE_VERSION})}}},
      {"documentDescribes", json::array({spdx_id(main_name)})},
      {"packages", packages},
      {"relationships", relationships},
  };
  return document.dump(2) + "\n";
}

}  // namespace gocrate
