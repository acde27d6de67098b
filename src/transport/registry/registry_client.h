#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "transport/registry/http_client.h"
#include "transport/registry/registry_auth.h"

namespace gocrate {

struct RegistryOptions {
  // Registries reached without verifying TLS, or over plain HTTP when they
  // do not speak TLS (--insecure-registry; loopback registries may always
  // use plain HTTP).
  std::vector<std::string> insecure_registries;
  // Options with the registries of $GOCRATE_INSECURE_REGISTRY (comma-separated) added.
  static RegistryOptions from_environment();
  bool is_insecure(std::string_view registry) const;
};

// gocrate's own configuration directory: $XDG_CONFIG_HOME/gocrate, else ~/.config/gocrate.
std::string gocrate_config_dir();
// Directories whose *.crt files hold CAs trusted for a registry, besides the
// system's: Docker's /etc/docker/certs.d/HOST[:PORT] and gocrate's
// certs.d/HOST[:PORT] in its configuration directory.
std::vector<std::string> registry_ca_dirs(std::string_view registry);

// Talks to one registry: finds its scheme and authentication with GET /v2/
// on first use, authorizes every request, retries what can be retried and
// turns failures into one-line errors. Thread-safe.
class RegistryClient {
 public:
  RegistryClient(std::string registry, RegistryOptions options);
  ~RegistryClient();

  const std::string& registry() const { return registry_; }
  // The scopes ("repository:NAME:pull,push") requests are authorized for.
  void set_scopes(std::vector<std::string> scopes);
  // "https://host[:port]" or "http://..." as GET /v2/ found.
  std::string base_url();

  // Sends a request to a path ("/v2/...") or an absolute URL. Connection
  // failures, 5xx answers and 429 (after its Retry-After) are tried again
  // with backoff, except for streamed bodies, which the caller resumes.
  // Transport failures left after that fail, naming `what`.
  HttpResponse send(HttpRequest request, std::string_view what);
  // One attempt, with authorization; transport failures are returned.
  HttpResult try_send(HttpRequest request);
  // A GET whose body is read as it arrives; retried like send() until the
  // headers arrive.
  std::unique_ptr<HttpStream> open(HttpRequest request, std::string_view what);

  [[noreturn]] void fail_response(const HttpResponse& response, std::string_view what);
  [[noreturn]] void fail_transport(const TransportFailure& failure, std::string_view what);

  // Checks credentials the way `docker login` does. Returns false when the
  // registry asks for none.
  bool verify_credentials(const Credentials& credentials);

  // Backoff before retry number `attempt` (0-based).
  static void wait_before_retry(int attempt);
  static constexpr int kRetries = 7;

 private:
  void ping();
  void prepare(HttpRequest& request);
  std::vector<std::string> scopes();

  std::string registry_;
  RegistryOptions options_;
  HttpClient http_;
  TlsSettings tls_;
  std::unique_ptr<Authenticator> auth_;
  std::once_flag pinged_;
  std::string base_url_;
  std::mutex scopes_mutex_;
  std::vector<std::string> scopes_;
};

}  // namespace gocrate
