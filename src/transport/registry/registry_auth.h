#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "transport/registry/docker_config.h"
#include "transport/registry/http_client.h"

namespace gocrate {

// One challenge of a WWW-Authenticate header: `Bearer realm="...",service="..."`.
struct AuthChallenge {
  std::string scheme;                         // lower case: "basic", "bearer"
  std::map<std::string, std::string> params;  // names in lower case
  std::string param(const std::string& name) const;
};

// Every challenge of a header value (RFC 7235: several may share one header).
std::vector<AuthChallenge> parse_www_authenticate(std::string_view header);

// "repository:team/app:pull,push", the scope Docker's token protocol asks for.
std::string repository_scope(std::string_view repository, std::string_view actions);

// Authorizes requests to one registry: nothing, Basic with the stored
// credentials, or Bearer tokens from the registry's token service. Tokens
// are cached per set of scopes for their lifetime and shared by every
// request and thread. Credentials are looked up once, on first need.
class Authenticator {
 public:
  Authenticator(std::string registry, HttpClient& http, TlsSettings realm_tls);

  // Learns the scheme from the answer to GET /v2/.
  void learn(const HttpResponse& ping);
  // The Authorization header for a request within `scopes` ("" for none).
  std::string header_for(const std::vector<std::string>& scopes);
  // A request with that header was answered 401: drops the token so the
  // next header_for fetches a fresh one. Returns whether that may help.
  bool rejected(const std::vector<std::string>& scopes, const HttpResponse& response);
  // Checks credentials the way `docker login` does; fails when refused.
  void verify(const Credentials& credentials);

  bool uses_tokens() const { return scheme_ == Scheme::bearer; }
  bool needs_credentials() const { return scheme_ != Scheme::none; }
  bool has_credentials();
  std::string username();
  // The error string of the last 401 (Bearer error="insufficient_scope").
  std::string last_rejection() const { return last_rejection_; }

 private:
  enum class Scheme { none, basic, bearer };
  struct Token {
    std::string value;
    std::chrono::steady_clock::time_point expires;
  };
  const Credentials& credentials_locked();
  Token fetch_token(const std::vector<std::string>& scopes, const Credentials& credentials);

  std::string registry_;
  HttpClient& http_;
  TlsSettings realm_tls_;
  std::mutex mutex_;
  Scheme scheme_ = Scheme::none;
  std::string realm_, service_;
  std::optional<Credentials> credentials_;
  std::map<std::string, Token> tokens_;
  std::string last_rejection_;
};

}  // namespace gocrate
