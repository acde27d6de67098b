#include "cli/commands.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string_view>

#include "util/error.h"
#include "util/fs.h"

namespace gocrate::cli {

namespace {

struct CommandEntry {
  std::string_view name;
  std::string_view summary;
  int (*run)(Globals&, int, char**);
};

constexpr CommandEntry kCommands[] = {
    {"build", "Build Go packages into images", build_command},
    {"pack", "Pack static executables into an image", pack_command},
    {"images", "List images in the store", images_command},
    {"inspect", "Show a container, or an image's index, manifests and configs, as JSON", inspect_any_command},
    {"tag", "Give an image another name", tag_command},
    {"rmi", "Remove image names", rmi_command},
    {"prune", "Delete blobs no image uses", prune_command},
    {"save", "Write images to a tar that docker load and podman load accept", save_command},
    {"load", "Read images from a tar made by docker save, podman save or gocrate save", load_command},
    {"push", "Push an image to a registry", push_command},
    {"pull", "Pull an image from a registry", pull_command},
    {"login", "Log in to a registry", login_command},
    {"logout", "Log out of a registry", logout_command},
    {"resolve", "Build and push gocrate:// references in Kubernetes YAML and print it resolved",
     resolve_command},
    {"apply", "resolve, then kubectl apply", apply_command},
    {"create", "Create a container from an image; with -f: resolve, then kubectl create", create_command},
    {"delete", "kubectl delete the resources in YAML files", delete_command},
    {"manifest", "Write a Deployment, Service and autoscaler for an image, sized by measure",
     manifest_command},
    {"measure", "Measure what containerizing saves: start time, memory, size against bare, Docker, Podman",
     measure_command},
    {"run", "Run a command in a new container", run_command},
    {"spec", "Print the OCI config.json of what run does; --bundle writes a bundle for runc", spec_command},
    {"cp", "Copy files between a container and the host", cp_command},
    {"diff", "List the files a container added, changed and deleted", diff_command},
    {"export", "Write a container's file system as a tar", export_command},
    {"commit", "Make an image of a container's changes", commit_command},
    {"system", "Show what the store uses (df); remove what nothing uses (prune)", system_command},
    {"ps", "List containers", ps_command},
    {"logs", "Show a detached container's output", logs_command},
    {"exec", "Run a command in a running container", exec_command},
    {"stop", "Stop containers: their stop signal, then SIGKILL", stop_command},
    {"kill", "Send a signal to containers", kill_command},
    {"start", "Start detached containers again", start_command},
    {"wait", "Wait for containers to stop; print their exit codes", wait_command},
    {"rm", "Remove containers", rm_command},
    {"stats", "Show containers' CPU, memory and processes", stats_command},
    {"top", "Show the processes of a running container", top_command},
    {"port", "List a container's published ports", port_command},
    {"rename", "Rename a container", rename_command},
    {"pause", "Pause all processes within containers", pause_command},
    {"unpause", "Unpause all processes within containers", unpause_command},
    {"update", "Update containers' resource limits and restart policy", update_command},
    {"serve", "Serve Prometheus metrics, a JSON API and a live web view of containers", serve_command},
    {"events", "Show container and image events, then follow new ones", events_command},
    {"volume", "Manage named volumes: create, ls, inspect, rm, prune", volume_command},
    {"key", "Manage signing keys: generate, import, public (cosign's format)", key_command},
    {"sign", "Sign an image with a key, as cosign sign does", sign_command},
    {"attest", "Attest a predicate about an image, as cosign attest does", attest_command},
    {"verify", "Verify an image's signatures with a public key", verify_command},
    {"verify-attestation", "Verify an image's attestations with a public key", verify_attestation_command},
};

void print_usage(FILE* out) {
  fmt::print(out,
             "gocrate {} — Go programs to minimal OCI images, without a daemon\n\n"
             "Usage: gocrate [--root DIR] COMMAND [OPTIONS]\n\nCommands:\n",
             GOCRATE_VERSION);
  for (const auto& c : kCommands) fmt::print(out, "  {:<18} {}\n", c.name, c.summary);
  fmt::print(out, "\nRun `gocrate COMMAND --help` for a command's options.\n");
}

}  // namespace

void add_global_options(CLI::App& app, Globals& globals) {
  app.add_option("--root", globals.root,
                 "State directory (default: /var/lib/gocrate for root, "
                 "$XDG_DATA_HOME/gocrate otherwise; or $GOCRATE_ROOT)");
}

void parse_command_line(CLI::App& app, int argc, char** argv) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    fmt::print("{}", app.help());
    throw ExitRequest{0};
  } catch (const CLI::ParseError& e) {
    std::string message = e.what();
    fmt::print(stderr, "gocrate {}: {} (see `gocrate {} --help`)\n", app.get_name(), message, app.get_name());
    throw ExitRequest{2};
  }
}

int run_subcommand(std::string_view group, std::string_view usage, int argc, char** argv,
                   const std::vector<Subcommand>& commands) {
  if (argc < 2) {
    fmt::print(stderr, "{}", usage);
    return 2;
  }
  std::string_view wanted = argv[1];
  if (wanted == "--help" || wanted == "-h") {
    fmt::print("{}", usage);
    return 0;
  }
  std::vector<std::string_view> listed;
  for (const auto& command : commands) {
    for (auto name : command.names) {
      if (name == wanted) return command.run(argc - 1, argv + 1);
    }
    listed.push_back(command.names.front());
  }
  fail("unknown command \"{} {}\": use {}", group, wanted, fmt::join(listed, ", "));
}

std::vector<std::string> take_arguments_after_double_dash(int& argc, char** argv) {
  std::vector<std::string> rest;
  for (int i = 1; i < argc; ++i) {
    if (std::string_view(argv[i]) != "--") continue;
    rest.assign(argv + i + 1, argv + argc);
    argc = i;
    break;
  }
  return rest;
}

void require_root(std::string_view command) {
  if (::geteuid() != 0)
    fail("gocrate {} needs root, as the containers it manages do: run it with sudo", command);
}

std::string gocrate_executable() {
  char path[4096];
  ssize_t n = ::readlink("/proc/self/exe", path, sizeof path - 1);
  if (n < 0) fail_errno("cannot find gocrate's own executable");
  return std::string(path, n);
}

Store open_store(const Globals& globals) {
  return Store(globals.root.empty() ? default_store_root() : absolute_path(globals.root));
}

int main(int argc, char** argv) {
  Globals globals;
  int verb = 1;
  // Global options may come before the command.
  while (verb < argc && std::string_view(argv[verb]).starts_with("--root")) {
    std::string_view arg = argv[verb];
    if (arg.starts_with("--root=")) {
      globals.root = std::string(arg.substr(7));
      verb += 1;
    } else if (verb + 1 < argc) {
      globals.root = argv[verb + 1];
      verb += 2;
    } else {
      fmt::print(stderr, "gocrate: --root needs a directory\n");
      return 2;
    }
  }
  if (verb >= argc) {
    print_usage(stderr);
    return 2;
  }
  std::string_view name = argv[verb];
  if (name == "--help" || name == "-h" || name == "help") {
    print_usage(stdout);
    return 0;
  }
  if (name == "--version" || name == "version") {
    fmt::print("gocrate {}\n", GOCRATE_VERSION);
    return 0;
  }
  for (const auto& command : kCommands) {
    if (command.name != name) continue;
    try {
      return command.run(globals, argc - verb, argv + verb);
    } catch (const ExitRequest& exit) {
      return exit.code;
    } catch (const Error& e) {
      fmt::print(stderr, "gocrate: {}\n", e.what());
      return e.exit_code();
    } catch (const std::exception& e) {
      fmt::print(stderr, "gocrate: internal error: {}\n", e.what());
      return 1;
    }
  }
  fmt::print(stderr, "gocrate: unknown command \"{}\": run `gocrate --help` for the list\n", name);
  return 2;
}

}  // namespace gocrate::cli
