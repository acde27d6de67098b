#include "transport/registry/registry_auth.h"

#include <cctype>

#include "image/manifest.h"
#include "transport/registry/base64.h"
#include "transport/registry/registry_urls.h"
#include "util/error.h"
#include "util/strings.h"

namespace gocrate {

namespace {

bool is_token_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

class ChallengeParser {
 public:
  explicit ChallengeParser(std::string_view text) : text_(text) {}

  std::vector<AuthChallenge> parse() {
    std::vector<AuthChallenge> out;
    while (skip_separators(), pos_ < text_.size()) {
      std::string word = token();
      if (word.empty()) {
        ++pos_;  // not a token character: skip it rather than loop
        continue;
      }
      skip_spaces();
      if (peek() == '=' && !out.empty()) {
        ++pos_;
        skip_spaces();
        out.back().params[lower(word)] = value();
        continue;
      }
      AuthChallenge challenge;
      challenge.scheme = lower(word);
      out.push_back(std::move(challenge));
    }
    return out;
  }

 private:
  char peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }
  void skip_spaces() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t')) ++pos_;
  }
  void skip_separators() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == ',')) ++pos_;
  }
  std::string token() {
    size_t start = pos_;
    while (pos_ < text_.size() && is_token_char(text_[pos_])) ++pos_;
    return std::string(text_.substr(start, pos_ - start));
  }
  std::string value() {
    if (peek() != '"') {
      // Unquoted: RFC 7235 wants a token, but servers write URLs bare too.
      size_t start = pos_;
      while (pos_ < text_.size() && text_[pos_] != ',' && text_[pos_] != ' ' && text_[pos_] != '\t') ++pos_;
      return std::string(text_.substr(start, pos_ - start));
    }
    ++pos_;
    std::string out;
    while (pos_ < text_.size() && text_[pos_] != '"') {
      if (text_[pos_] == '\\' && pos_ + 1 < text_.size()) ++pos_;
      out += text_[pos_++];
    }
    if (pos_ < text_.size()) ++pos_;
    return out;
  }
  static std::string lower(std::string text) {
    for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return text;
  }

  std::string_view text_;
  size_t pos_ = 0;
};

std::string scopes_key(const std::vector<std::string>& scopes) {
  return join(scopes, " ");
}

}  // namespace

std::string AuthChallenge::param(const std::string& name) const {
  auto it = params.find(name);
  return it == params.end() ? "" : it->second;
}

std::vector<AuthChallenge> parse_www_authenticate(std::string_view header) {
  return ChallengeParser(header).parse();
}

std::string repository_scope(std::string_view repository, std::string_view actions) {
  return fmt::format("repository:{}:{}", repository, actions);
}

Authenticator::Authenticator(std::string registry, HttpClient& http, TlsSettings realm_tls)
    : registry_(std::move(registry)), http_(http), realm_tls_(std::move(realm_tls)) {}

void Authenticator::learn(const HttpResponse& ping) {
  std::lock_guard lock(mutex_);
  scheme_ = Scheme::none;
  if (ping.status != 401) return;
  for (const auto& header : ping.headers_named("www-authenticate")) {
    for (const auto& challenge : parse_www_authenticate(header)) {
      if (challenge.scheme == "bearer" && !challenge.param("realm").empty()) {
        scheme_ = Scheme::bearer;
        realm_ = challenge.param("realm");
        service_ = challenge.param("service");
        return;
      }
      if (challenge.scheme == "basic") scheme_ = Scheme::basic;
    }
  }
  if (scheme_ == Scheme::none) {
    fail("registry {} asks for authentication gocrate does not know (WWW-Authenticate: {})", registry_,
         ping.header("www-authenticate"));
  }
}

const Credentials& Authenticator::credentials_locked() {
  if (!credentials_) credentials_ = find_credentials(registry_);
  return *credentials_;
}

bool Authenticator::has_credentials() {
  std::lock_guard lock(mutex_);
  return !credentials_locked().empty();
}

std::string Authenticator::username() {
  std::lock_guard lock(mutex_);
  return credentials_locked().username;
}

std::string Authenticator::header_for(const std::vector<std::string>& scopes) {
  std::lock_guard lock(mutex_);
  if (scheme_ == Scheme::none) return "";
  const Credentials& credentials = credentials_locked();
  if (scheme_ == Scheme::basic) {
    if (credentials.empty()) return "";
    return "Basic " + base64_encode(credentials.username + ":" + credentials.password);
  }
  std::string key = scopes_key(scopes);
  auto it = tokens_.find(key);
  if (it == tokens_.end() || it->second.expires <= std::chrono::steady_clock::now()) {
    it = tokens_.insert_or_assign(key, fetch_token(scopes, credentials)).first;
  }
  return "Bearer " + it->second.value;
}

bool Authenticator::rejected(const std::vector<std::string>& scopes, const HttpResponse& response) {
  std::lock_guard lock(mutex_);
  last_rejection_.clear();
  for (const auto& header : response.headers_named("www-authenticate")) {
    for (const auto& challenge : parse_www_authenticate(header)) {
      if (challenge.scheme == "bearer") last_rejection_ = challenge.param("error");
    }
  }
  if (scheme_ != Scheme::bearer) return false;
  if (last_rejection_ == "insufficient_scope") return false;
  return tokens_.erase(scopes_key(scopes)) > 0;
}

Authenticator::Token Authenticator::fetch_token(const std::vector<std::string>& scopes,
                                                const Credentials& credentials) {
  if (!realm_.starts_with("https://") && !realm_.starts_with("http://")) {
    fail("registry {} names a token service gocrate cannot use: {}", registry_, realm_);
  }
  if (realm_.starts_with("http://") && !credentials.empty() && !is_loopback_url(realm_) &&
      realm_tls_.verify) {
    fail("registry {} wants credentials sent in the clear to {}: refused", registry_, realm_);
  }
  HttpRequest request;
  request.tls = realm_tls_;
  std::string query;
  auto add = [&](std::string_view key, std::string_view value) {
    query += (query.empty() ? "" : "&") + std::string(key) + "=" + url_escape(value);
  };
  if (!service_.empty()) add("service", service_);
  for (const auto& scope : scopes) add("scope", scope);
  if (!credentials.identity_token.empty()) {
    add("grant_type", "refresh_token");
    add("refresh_token", credentials.identity_token);
    add("client_id", "gocrate");
    request.method = "POST";
    request.url = realm_;
    request.body = query;
    request.headers.push_back("Content-Type: application/x-www-form-urlencoded");
  } else {
    if (!credentials.username.empty()) add("account", credentials.username);
    request.url = realm_ + (realm_.find('?') == std::string::npos ? "?" : "&") + query;
    if (!credentials.empty()) {
      request.headers.push_back("Authorization: Basic " +
                                base64_encode(credentials.username + ":" + credentials.password));
    }
  }
  HttpResult result = http_.send(request);
  if (result.failure) {
    fail("cannot reach the token service {} of registry {} ({}): is it running?", realm_, registry_,
         result.failure->message);
  }
  const HttpResponse& response = result.response;
  if (response.status == 401 || response.status == 403) {
    if (credentials.empty()) {
      fail("registry {} requires credentials: log in with `gocrate login {}`", registry_, registry_);
    }
    fail(
        "registry {} refused the credentials of {}: wrong username or password; log in again with "
        "`gocrate login {}`",
        registry_, credentials.username.empty() ? "the stored token" : credentials.username, registry_);
  }
  if (response.status != 200) {
    fail("the token service {} of registry {} answered HTTP {}", realm_, registry_, response.status);
  }
  auto body = nlohmann::json::parse(response.body, nullptr, false);
  std::string value;
  if (body.is_object()) {
    for (const char* key : {"token", "access_token"}) {
      if (body.contains(key) && body[key].is_string() && value.empty()) value = body[key].get<std::string>();
    }
  }
  if (value.empty()) fail("the token service {} of registry {} answered without a token", realm_, registry_);
  int64_t lifetime = 60;
  if (body.contains("expires_in") && body["expires_in"].is_number_integer()) {
    lifetime = std::max<int64_t>(body["expires_in"].get<int64_t>(), 10);
  }
  // Renew a little early so a token does not expire between check and use.
  auto expires = std::chrono::steady_clock::now() + std::chrono::seconds(lifetime - 5);
  return Token{value, expires};
}

void Authenticator::verify(const Credentials& credentials) {
  std::lock_guard lock(mutex_);
  credentials_ = credentials;
  tokens_.clear();
  if (scheme_ == Scheme::bearer) fetch_token({}, credentials);
}

}  // namespace gocrate
