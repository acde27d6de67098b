#include "image/platform.h"

#include <sys/utsname.h>

#include "util/error.h"
#include "util/strings.h"

namespace gocrate {

namespace {

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(tolower(static_cast<unsigned char>(c)));
  return out;
}

// Maps architecture aliases to GOARCH names; sets a variant the alias implies.
std::string canonical_architecture(std::string_view arch, std::string& variant) {
  std::string a = lower(arch);
  if (a == "x86_64" || a == "x86-64" || a == "x64") return "amd64";
  if (a == "aarch64") return "arm64";
  if (a == "i386" || a == "i486" || a == "i586" || a == "i686" || a == "x86") return "386";
  if (a == "armhf" || a == "armv7" || a == "armv7l") {
    if (variant.empty()) variant = "v7";
    return "arm";
  }
  if (a == "armel" || a == "armv6" || a == "armv6l") {
    if (variant.empty()) variant = "v6";
    return "arm";
  }
  if (a == "armv5" || a == "armv5l") {
    if (variant.empty()) variant = "v5";
    return "arm";
  }
  if (a == "ppc64el") return "ppc64le";
  return a;
}

std::string canonical_variant(const std::string& arch, std::string_view variant) {
  std::string v = lower(variant);
  if (!v.empty() && isdigit(static_cast<unsigned char>(v[0]))) v = "v" + v;
  if (arch == "arm64") return v.empty() || v == "v8" ? "v8" : v;
  if (arch == "arm") return v.empty() ? "v7" : v;
  if (arch == "amd64") return v == "v1" ? "" : v;
  return v;
}

int variant_level(const std::string& variant) {
  int64_t level = 0;
  if (variant.size() > 1 && variant[0] == 'v' &&
      parse_int(std::string_view(variant).substr(1), 0, 99, level)) {
    return static_cast<int>(level);
  }
  return variant.empty() ? 1 : -1;
}

Platform make(std::string arch, std::string variant = "") {
  return Platform{"linux", std::move(arch), std::move(variant), "", {}};
}

}  // namespace

Platform Platform::normalized() const {
  Platform out = *this;
  out.os = lower(os.empty() ? "linux" : os);
  std::string variant_hint = lower(variant);
  out.architecture = canonical_architecture(architecture, variant_hint);
  out.variant = canonical_variant(out.architecture, variant_hint);
  return out;
}

Platform Platform::parse(std::string_view text) {
  auto parts = split(trim(text), '/');
  Platform platform;
  if (parts.size() == 1) {
    platform.os = "linux";
    platform.architecture = parts[0];
  } else if (parts.size() == 2 || parts.size() == 3) {
    platform.os = parts[0];
    platform.architecture = parts[1];
    if (parts.size() == 3) platform.variant = parts[2];
  }
  if (platform.os.empty() || platform.architecture.empty() || (parts.size() == 3 && parts[2].empty())) {
    fail("invalid platform \"{}\": expected os/arch[/variant], e.g. linux/arm64 or linux/arm/v7", text);
  }
  return platform.normalized();
}

Platform Platform::host() {
  utsname name;
  uname(&name);
  Platform platform{"linux", name.machine, "", "", {}};
  return platform.normalized();
}

std::string Platform::str() const {
  std::string out = os + "/" + architecture;
  if (!variant.empty()) out += "/" + variant;
  return out;
}

bool Platform::operator==(const Platform& other) const {
  Platform a = normalized(), b = other.normalized();
  return a.os == b.os && a.architecture == b.architecture && a.variant == b.variant &&
         a.os_version == b.os_version;
}

bool Platform::runs_on(const Platform& wanted) const {
  Platform have = normalized(), want = wanted.normalized();
  if (have.os != want.os || have.architecture != want.architecture) return false;
  if (have.variant == want.variant) return true;
  if (have.architecture != "arm" && have.architecture != "amd64") return false;
  int have_level = variant_level(have.variant), want_level = variant_level(want.variant);
  return have_level > 0 && want_level > 0 && have_level <= want_level;
}

std::map<std::string, std::string> Platform::go_environment() const {
  Platform p = normalized();
  std::map<std::string, std::string> env{{"GOOS", p.os}, {"GOARCH", p.architecture}};
  if (p.architecture == "arm") env["GOARM"] = p.variant.substr(1);
  if (p.architecture == "amd64") env["GOAMD64"] = p.variant.empty() ? "v1" : p.variant;
  return env;
}

const std::vector<Platform>& go_platforms() {
  static const std::vector<Platform> platforms = {
      make("386"),       make("amd64"),     make("amd64", "v2"), make("amd64", "v3"), make("amd64", "v4"),
      make("arm", "v5"), make("arm", "v6"), make("arm", "v7"),   make("arm64", "v8"), make("loong64"),
      make("mips"),      make("mipsle"),    make("mips64"),      make("mips64le"),    make("ppc64"),
      make("ppc64le"),   make("riscv64"),   make("s390x"),
  };
  return platforms;
}

const std::vector<Platform>& default_all_platforms() {
  static const std::vector<Platform> platforms = {
      make("386"),         make("amd64"),   make("arm", "v6"), make("arm", "v7"),
      make("arm64", "v8"), make("ppc64le"), make("riscv64"),   make("s390x"),
  };
  return platforms;
}

bool is_go_platform(const Platform& platform) {
  for (const auto& p : go_platforms()) {
    if (p == platform) return true;
  }
  return false;
}

std::string supported_platforms_text() {
  std::vector<std::string> names;
  for (const auto& p : go_platforms()) names.push_back(p.str());
  return join(names, ", ");
}

std::optional<size_t> best_platform_match(const std::vector<Platform>& available, const Platform& wanted) {
  std::optional<size_t> best;
  int best_level = -1;
  for (size_t i = 0; i < available.size(); ++i) {
    if (available[i] == wanted) return i;
    if (!available[i].runs_on(wanted)) continue;
    int level = variant_level(available[i].normalized().variant);
    if (level > best_level) {
      best = i;
      best_level = level;
    }
  }
  return best;
}

}  // namespace gocrate
