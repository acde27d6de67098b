#include "transport/registry/registry_client.h"

#include <dirent.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <thread>

#include "image/manifest.h"
#include "transport/registry/base64.h"
#include "transport/registry/registry_urls.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/strings.h"

namespace gocrate {

namespace {

constexpr int kPingRetries = 2;
constexpr int kMaxRetryAfterSeconds = 60;

std::string read_ca_files(std::string_view registry) {
  std::string pem;
  for (const auto& dir : registry_ca_dirs(registry)) {
    DIR* d = ::opendir(dir.c_str());
    if (!d) continue;
    std::vector<std::string> names;
    while (dirent* e = ::readdir(d)) {
      std::string name = e->d_name;
      if (name.size() > 4 && name.ends_with(".crt")) names.push_back(name);
    }
    ::closedir(d);
    std::sort(names.begin(), names.end());
    for (const auto& name : names) pem += read_file(dir + "/" + name) + "\n";
  }
  return pem;
}

// "CODE: message" of a distribution error body, or "".
std::string registry_error(const HttpResponse& response) {
  auto body = nlohmann::json::parse(response.body, nullptr, false);
  if (!body.is_object() || !body.contains("errors") || !body["errors"].is_array()) return "";
  std::vector<std::string> parts;
  for (const auto& error : body["errors"]) {
    if (!error.is_object()) continue;
    std::string code = error.value("code", "");
    std::string message =
        error.contains("message") && error["message"].is_string() ? error["message"].get<std::string>() : "";
    parts.push_back(message.empty() ? code : code + ": " + message);
  }
  return join(parts, "; ");
}

int retry_after_seconds(const HttpResponse& response, int attempt) {
  int64_t seconds;
  if (parse_int(trim(response.header("retry-after")), 0, kMaxRetryAfterSeconds, seconds)) {
    return static_cast<int>(seconds);
  }
  return std::min(1 << attempt, kMaxRetryAfterSeconds);
}

bool is_retryable_status(int status) {
  return status == 500 || status == 502 || status == 503 || status == 504;
}

void remove_header(std::vector<std::string>& headers, std::string_view name) {
  std::erase_if(headers, [&](const std::string& h) {
    return h.size() > name.size() && h[name.size()] == ':' &&
           std::equal(name.begin(), name.end(), h.begin(),
                      [](char a, char b) { return std::tolower(a) == std::tolower(b); });
  });
}

}  // namespace

RegistryOptions RegistryOptions::from_environment() {
  RegistryOptions options;
  if (const char* list = std::getenv("GOCRATE_INSECURE_REGISTRY"); list && *list) {
    for (const auto& item : split(list, ',')) {
      std::string host(trim(item));
      if (!host.empty()) options.insecure_registries.push_back(host);
    }
  }
  return options;
}

bool RegistryOptions::is_insecure(std::string_view registry) const {
  return std::find(insecure_registries.begin(), insecure_registries.end(), registry) !=
         insecure_registries.end();
}

std::string gocrate_config_dir() {
  if (const char* dir = std::getenv("XDG_CONFIG_HOME"); dir && *dir) return std::string(dir) + "/gocrate";
  const char* home = std::getenv("HOME");
  return std::string(home && *home ? home : "/root") + "/.config/gocrate";
}

std::vector<std::string> registry_ca_dirs(std::string_view registry) {
  return {fmt::format("/etc/docker/certs.d/{}", registry),
          fmt::format("{}/certs.d/{}", gocrate_config_dir(), registry)};
}

RegistryClient::RegistryClient(std::string registry, RegistryOptions options)
    : registry_(std::move(registry)), options_(std::move(options)) {
  tls_.verify = !options_.is_insecure(registry_);
  tls_.extra_ca_pem = read_ca_files(registry_);
  auth_ = std::make_unique<Authenticator>(registry_, http_, tls_);
}

RegistryClient::~RegistryClient() = default;

void RegistryClient::set_scopes(std::vector<std::string> scopes) {
  std::lock_guard lock(scopes_mutex_);
  scopes_ = std::move(scopes);
}

std::vector<std::string> RegistryClient::scopes() {
  std::lock_guard lock(scopes_mutex_);
  return scopes_;
}

std::string RegistryClient::base_url() {
  std::call_once(pinged_, [this] { ping(); });
  return base_url_;
}

void RegistryClient::wait_before_retry(int attempt) {
  static constexpr int kDelaysMs[] = {200, 500, 1000, 2000, 4000};
  int delay = kDelaysMs[std::min<size_t>(attempt, std::size(kDelaysMs) - 1)];
  std::this_thread::sleep_for(std::chrono::milliseconds(delay));
}

// Whether an HTTP answer came from a TLS server (Go's says so in a 400).
bool is_tls_server_answer(const HttpResponse& response) {
  return response.status == 400 && response.body.find("HTTPS") != std::string::npos;
}

void RegistryClient::ping() {
  bool loopback = is_loopback_registry(registry_);
  bool plain_allowed = loopback || options_.is_insecure(registry_);
  std::string host = registry_api_host(registry_);
  // Loopback registries are asked in plain HTTP first: no credentials go
  // with GET /v2/, and TLS set-up would cost more than the whole request.
  std::vector<std::string> schemes{"https"};
  if (loopback) schemes.insert(schemes.begin(), "http");
  if (plain_allowed && !loopback) schemes.push_back("http");
  for (size_t i = 0; i < schemes.size(); ++i) {
    const std::string& scheme = schemes[i];
    bool last = i + 1 == schemes.size();
    HttpRequest request;
    request.url = scheme + "://" + host + "/v2/";
    request.tls = tls_;
    HttpResult result;
    for (int attempt = 0;; ++attempt) {
      result = http_.send(request);
      if (!result.failure || !result.failure->retryable() || attempt >= kPingRetries) break;
      if (result.failure->kind == TransportFailure::Kind::reset && !last) break;
      wait_before_retry(attempt);
    }
    if (result.failure) {
      auto kind = result.failure->kind;
      bool other_scheme_may_work = kind == TransportFailure::Kind::tls_handshake ||
                                   kind == TransportFailure::Kind::reset ||
                                   kind == TransportFailure::Kind::other;
      if (!last && other_scheme_may_work) continue;
      if (kind == TransportFailure::Kind::tls_untrusted) {
        std::string certificate = http_.peer_certificate(request.url);
        fail(
            "the TLS certificate of registry {}{} is not trusted ({}): put the CA certificate that signed it "
            "in "
            "/etc/docker/certs.d/{}/ca.crt or {}/certs.d/{}/ca.crt, or pass --insecure-registry {}",
            registry_, certificate.empty() ? "" : " (" + certificate + ")", result.failure->message,
            registry_, gocrate_config_dir(), registry_, registry_);
      }
      fail_transport(*result.failure, "reach it");
    }
    const HttpResponse& response = result.response;
    if (!last && scheme == "http" && is_tls_server_answer(response)) continue;
    if (response.status == 200 || response.status == 401) {
      base_url_ = scheme + "://" + host;
      auth_->learn(response);
      return;
    }
    if (response.status == 404) {
      fail("{} does not serve the registry API at {} (HTTP 404): is it a registry?", registry_, request.url);
    }
    fail_response(response, "answer GET /v2/");
  }
  fail("registry {} answers neither HTTPS nor HTTP", registry_);
}

void RegistryClient::prepare(HttpRequest& request) {
  if (request.url.starts_with('/'))
    request.url = base_url() + request.url;
  else
    base_url();
  request.tls = tls_;
  remove_header(request.headers, "Authorization");
  std::string authorization = auth_->header_for(scopes());
  if (!authorization.empty()) request.headers.push_back("Authorization: " + authorization);
}

HttpResult RegistryClient::try_send(HttpRequest request) {
  prepare(request);
  HttpResult result = http_.send(request);
  if (!result.failure && result.response.status == 401) {
    bool fresh_token_may_help = auth_->rejected(scopes(), result.response);
    if (fresh_token_may_help && !request.body_reader) {
      prepare(request);
      result = http_.send(request);
      if (!result.failure && result.response.status == 401) auth_->rejected(scopes(), result.response);
    }
  }
  return result;
}

HttpResponse RegistryClient::send(HttpRequest request, std::string_view what) {
  for (int attempt = 0;; ++attempt) {
    HttpResult result = try_send(request);
    bool may_retry = !request.body_reader && attempt < kRetries;
    if (result.failure) {
      if (may_retry && result.failure->retryable()) {
        wait_before_retry(attempt);
        continue;
      }
      fail_transport(*result.failure, what);
    }
    if (may_retry && result.response.status == 429) {
      std::this_thread::sleep_for(std::chrono::seconds(retry_after_seconds(result.response, attempt)));
      continue;
    }
    if (may_retry && is_retryable_status(result.response.status)) {
      wait_before_retry(attempt);
      continue;
    }
    return std::move(result.response);
  }
}

std::unique_ptr<HttpStream> RegistryClient::open(HttpRequest request, std::string_view what) {
  for (int attempt = 0;; ++attempt) {
    HttpRequest prepared = request;
    prepare(prepared);
    auto stream = http_.open(prepared);
    bool may_retry = attempt < kRetries;
    // A failure after the headers is the reader's to resume from where it got.
    if (stream->failure() && stream->response().status == 0) {
      if (may_retry && stream->failure()->retryable()) {
        wait_before_retry(attempt);
        continue;
      }
      fail_transport(*stream->failure(), what);
    }
    int status = stream->response().status;
    if (status == 401 && auth_->rejected(scopes(), stream->response()) && may_retry) continue;
    if (may_retry && (is_retryable_status(status) || status == 429)) {
      if (status == 429) {
        std::this_thread::sleep_for(std::chrono::seconds(retry_after_seconds(stream->response(), attempt)));
      } else {
        wait_before_retry(attempt);
      }
      continue;
    }
    return stream;
  }
}

void RegistryClient::fail_transport(const TransportFailure& failure, std::string_view what) {
  switch (failure.kind) {
    case TransportFailure::Kind::connect:
      fail("cannot reach registry {} ({}): is it running, and is the address right?", registry_,
           failure.message);
    case TransportFailure::Kind::reset:
    case TransportFailure::Kind::timeout:
      fail("the connection to registry {} broke while trying to {} ({}): try again when it is back",
           registry_, what, failure.message);
    case TransportFailure::Kind::tls_handshake:
    case TransportFailure::Kind::tls_untrusted:
      fail(
          "TLS with registry {} failed while trying to {} ({}): check its certificate, or pass "
          "--insecure-registry {}",
          registry_, what, failure.message, registry_);
    default:
      fail("cannot {} at registry {}: {} (curl error {})", what, registry_, failure.message,
           failure.curl_code);
  }
}

void RegistryClient::fail_response(const HttpResponse& response, std::string_view what) {
  std::string detail = registry_error(response);
  std::string said = detail.empty() ? "" : " (" + detail + ")";
  std::string user = auth_->username();
  switch (response.status) {
    case 401:
      if (!auth_->has_credentials()) {
        fail("registry {} requires authentication to {}{}: log in with `gocrate login {}`", registry_, what,
             said, registry_);
      }
      if (auth_->last_rejection() == "insufficient_scope") {
        fail(
            "registry {} denied {} permission to {}{}: ask for access to the repository, or log in as "
            "another "
            "user with `gocrate login {}`",
            registry_, user.empty() ? "the stored token" : user, what, said, registry_);
      }
      fail("registry {} refused the credentials of {} to {}{}: log in again with `gocrate login {}`",
           registry_, user.empty() ? "the stored token" : user, what, said, registry_);
    case 403:
      fail(
          "registry {} denied {} permission to {}{}: ask for access to the repository, or log in as another "
          "user "
          "with `gocrate login {}`",
          registry_, user.empty() ? "anonymous access" : user, what, said, registry_);
    default:
      fail("registry {} answered HTTP {} to {}{}", registry_, response.status, what, said);
  }
}

bool RegistryClient::verify_credentials(const Credentials& credentials) {
  base_url();
  if (!auth_->needs_credentials()) return false;
  if (auth_->uses_tokens()) {
    auth_->verify(credentials);
    return true;
  }
  HttpRequest request;
  request.url = base_url() + "/v2/";
  request.tls = tls_;
  request.headers.push_back("Authorization: Basic " +
                            base64_encode(credentials.username + ":" + credentials.password));
  HttpResult result = http_.send(request);
  if (result.failure) fail_transport(*result.failure, "log in");
  if (result.response.status == 401) {
    fail("registry {} refused the credentials of {}: wrong username or password", registry_,
         credentials.username);
  }
  if (result.response.status != 200) fail_response(result.response, "log in");
  return true;
}

}  // namespace gocrate
