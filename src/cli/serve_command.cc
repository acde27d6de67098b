// `gocrate serve`: metrics, JSON and a web view of the store's containers and
// images, in the foreground (serve/server.h).
#include <fmt/format.h>

#include <cstdio>

#include "cli/commands.h"
#include "serve/server.h"

namespace gocrate::cli {

int serve_command(Globals& globals, int argc, char** argv) {
  CLI::App app{"Serve Prometheus metrics, a JSON API and a live web view of containers and images", "serve"};
  ServeOptions options;
  add_global_options(app, globals);
  app.add_option(
      "--listen", options.listen,
      "Address to listen on: HOST:PORT, [IPV6]:PORT, :PORT for every address (default 127.0.0.1:9323)");
  app.add_option(
      "--token-file", options.token_file,
      "File whose first line is the token every request must send as \"Authorization: Bearer TOKEN\"; "
      "required for an address other than loopback");
  parse_command_line(app, argc, argv);
  options.store_root = open_store(globals).dir();
  Server server(options);
  fmt::print("gocrate serve: listening on {} (metrics at {}/metrics)\n", server.url(), server.url());
  std::fflush(stdout);
  server.run();
}

}  // namespace gocrate::cli
