// top, port, rename, pause, unpause and update: Docker's verbs on a
// container that exists (runtime/container_manage.h does the work).
#include <algorithm>
#include <cstdio>
#include <string_view>

#include "cli/commands.h"
#include "runtime/container_manage.h"
#include "util/error.h"

namespace gocrate::cli {

namespace {

// Each reference in turn, printed once done; an error is printed and the
// others still run, as Docker does.
int for_each_ref(const std::vector<std::string>& refs,
                 const std::function<void(const std::string&)>& action) {
  int code = 0;
  for (const auto& ref : refs) {
    try {
      action(ref);
      fmt::print("{}\n", ref);
      std::fflush(stdout);
    } catch (const Error& e) {
      fmt::print(stderr, "gocrate: {}\n", e.what());
      code = 1;
    }
  }
  return code;
}

// Docker's tabwriter for top: columns at least 20 wide, 3 spaces apart.
void print_process_table(const ProcessTable& table) {
  std::vector<size_t> widths(table.titles.size(), 0);
  auto measure = [&](const std::vector<std::string>& row) {
    for (size_t i = 0; i < row.size() && i < widths.size(); ++i)
      widths[i] = std::max(widths[i], row[i].size());
  };
  measure(table.titles);
  for (const auto& row : table.rows) measure(row);
  auto print_row = [&](const std::vector<std::string>& row) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(std::max<size_t>(20, widths[i] + 3) - row[i].size(), ' ');
    }
    fmt::print("{}\n", line);
  };
  print_row(table.titles);
  for (const auto& row : table.rows) print_row(row);
}

}  // namespace

// `top CONTAINER [ps OPTIONS]`: what follows the container goes to ps as is.
int top_command(Globals& globals, int argc, char** argv) {
  constexpr std::string_view kUsage =
      "Usage: gocrate top [--root DIR] CONTAINER [ps OPTIONS]\n\n"
      "Show the processes of a running container: ps -ef's columns, or the host's ps run with OPTIONS\n";
  std::string ref;
  std::vector<std::string> ps_args;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (!ref.empty()) {
      ps_args.emplace_back(arg);
    } else if (arg == "-h" || arg == "--help") {
      fmt::print("{}", kUsage);
      return 0;
    } else if (arg == "--root" && i + 1 < argc) {
      globals.root = argv[++i];
    } else if (arg.starts_with("--root=")) {
      globals.root = std::string(arg.substr(7));
    } else if (arg.starts_with("-")) {
      fmt::print(stderr, "gocrate top: unknown option {} before the container (see `gocrate top --help`)\n",
                 arg);
      return 2;
    } else {
      ref = arg;
    }
  }
  if (ref.empty()) {
    fmt::print(stderr, "gocrate top: give a container (see `gocrate top --help`)\n");
    return 2;
  }
  print_process_table(top_container(open_store(globals).dir(), ref, ps_args));
  return 0;
}

int port_command(Globals& globals, int argc, char** argv) {
  CLI::App app{"List a container's published ports, or where one of its ports is published", "port"};
  std::string ref, port;
  add_global_options(app, globals);
  app.add_option("CONTAINER", ref, "Container: id, id prefix or name")->required();
  app.add_option("PRIVATE_PORT", port, "PRIVATE_PORT[/PROTO]: the container's port (tcp unless /udp)");
  parse_command_line(app, argc, argv);
  std::optional<PortQuery> query;
  if (!port.empty()) query = parse_port_query(port);
  for (const auto& line : container_port_lines(open_store(globals).dir(), ref, query))
    fmt::print("{}\n", line);
  return 0;
}

int rename_command(Globals& globals, int argc, char** argv) {
  CLI::App app{"Rename a container", "rename"};
  std::string ref, name;
  add_global_options(app, globals);
  app.add_option("CONTAINER", ref, "Container: id, id prefix or name")->required();
  app.add_option("NEW_NAME", name, "Its new name")->required();
  parse_command_line(app, argc, argv);
  require_root("rename");
  rename_container(open_store(globals).dir(), ref, name);
  return 0;
}

int pause_command(Globals& globals, int argc, char** argv) {
  CLI::App app{"Pause all processes within containers (the cgroup freezer)", "pause"};
  std::vector<std::string> refs;
  add_global_options(app, globals);
  app.add_option("CONTAINER", refs, "Containers: ids, id prefixes or names")->required();
  parse_command_line(app, argc, argv);
  require_root("pause");
  std::string root = open_store(globals).dir();
  return for_each_ref(refs, [&](const std::string& ref) { pause_container(root, ref); });
}

int unpause_command(Globals& globals, int argc, char** argv) {
  CLI::App app{"Unpause all processes within containers", "unpause"};
  std::vector<std::string> refs;
  add_global_options(app, globals);
  app.add_option("CONTAINER", refs, "Containers: ids, id prefixes or names")->required();
  parse_command_line(app, argc, argv);
  require_root("unpause");
  std::string root = open_store(globals).dir();
  return for_each_ref(refs, [&](const std::string& ref) { unpause_container(root, ref); });
}

int update_command(Globals& globals, int argc, char** argv) {
  CLI::App app{"Update the resource limits or restart policy of containers, running or not", "update"};
  UpdateFlags flags;
  std::vector<std::string> refs;
  add_global_options(app, globals);
  app.add_option("-m,--memory", flags.memory, "Memory limit (64m, 1g; at least 6m)");
  app.add_option("--memory-swap", flags.memory_swap,
                 "Memory and swap together: a size of at least -m's, or -1");
  app.add_option("--cpus", flags.cpus, "Number of CPUs (0.5, 2)");
  app.add_option("--cpu-shares", flags.cpu_shares, "CPU shares (relative weight, 2 to 262144)");
  app.add_option("--pids-limit", flags.pids_limit, "Process limit (-1: none)");
  app.add_option("--restart", flags.restart, "Restart policy: no, on-failure[:N], always, unless-stopped");
  app.add_option("CONTAINER", refs, "Containers: ids, id prefixes or names")->required();
  parse_command_line(app, argc, argv);
  ContainerUpdate update = parse_container_update(flags);
  require_root("update");
  std::string root = open_store(globals).dir();
  return for_each_ref(refs, [&](const std::string& ref) { update_container(root, ref, update); });
}

}  // namespace gocrate::cli
