// gocrate volume create|ls|inspect|rm|prune: Docker's named volumes.

#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "runtime/containment/mount_options.h"
#include "store/volumes.h"
#include "util/error.h"
#include "util/go_template.h"
#include "util/strings.h"

namespace gocrate::cli {

namespace {

using nlohmann::json;

std::map<std::string, std::string> parse_labels(const std::vector<std::string>& labels) {
  std::map<std::string, std::string> out;
  for (const auto& label : labels) {
    size_t eq = label.find('=');
    if (label.empty() || eq == 0) fail("invalid --label \"{}\": use KEY=VALUE", label);
    out[label.substr(0, eq)] = eq == std::string::npos ? "" : label.substr(eq + 1);
  }
  return out;
}

// `volume ls -f`: dangling=true|false, name=TEXT, label=KEY[=VALUE],
// driver=local; a volume must pass every filter.
struct VolumeFilter {
  std::string key;
  std::string value;
};

std::vector<VolumeFilter> parse_filters(const std::vector<std::string>& filters) {
  std::vector<VolumeFilter> out;
  for (const auto& f : filters) {
    size_t eq = f.find('=');
    std::string key = f.substr(0, eq);
    std::string value = eq == std::string::npos ? "" : f.substr(eq + 1);
    if (key != "dangling" && key != "name" && key != "label" && key != "driver")
      fail("invalid filter \"{}\": use dangling=true|false, name=, label= or driver=", f);
    if (key == "dangling" && value != "true" && value != "false" && value != "1" && value != "0")
      fail("invalid filter \"{}\": dangling takes true or false", f);
    out.push_back({key, value});
  }
  return out;
}

bool passes(const VolumeInfo& v, const std::vector<VolumeFilter>& filters,
            const std::function<bool(const std::string&)>& in_use) {
  for (const auto& f : filters) {
    if (f.key == "dangling" && in_use(v.name) == (f.value == "true" || f.value == "1")) return false;
    if (f.key == "name" && v.name.find(f.value) == std::string::npos) return false;
    if (f.key == "driver" && f.value != "local") return false;
    if (f.key == "label") {
      size_t eq = f.value.find('=');
      auto it = v.labels.find(f.value.substr(0, eq));
      if (it == v.labels.end()) return false;
      if (eq != std::string::npos && it->second != f.value.substr(eq + 1)) return false;
    }
  }
  return true;
}

int create(Globals& globals, int argc, char** argv) {
  CLI::App app{"Create a volume", "volume create"};
  add_global_options(app, globals);
  std::string name, driver = "local";
  std::vector<std::string> labels, options;
  app.add_option("-d,--driver", driver, "Volume driver (local)");
  app.add_option("--label", labels, "Set metadata on the volume (KEY=VALUE)")->allow_extra_args(false);
  app.add_option("-o,--opt", options, "Driver options (not supported)")->allow_extra_args(false);
  app.add_option("NAME", name, "Volume name (default: a random one)");
  parse_command_line(app, argc, argv);
  if (driver != "local") fail("volume driver \"{}\" is not supported: use local", driver);
  if (!options.empty()) {
    fail(
        "volume create -o {}: driver options are not supported; the local driver keeps a directory in the "
        "store",
        options[0]);
  }
  auto volume_labels = parse_labels(labels);
  if (name.empty()) {
    name = new_volume_name();
    volume_labels[std::string(kAnonymousVolumeLabel)] = "";
  }
  check_volume_name(name, "volume create");
  VolumeInfo v = VolumeStore(open_store(globals).dir()).create(name, volume_labels);
  fmt::print("{}\n", v.name);
  return 0;
}

int list(Globals& globals, int argc, char** argv) {
  CLI::App app{"List volumes", "volume ls"};
  add_global_options(app, globals);
  bool quiet = false;
  std::vector<std::string> filters;
  std::string format;
  app.add_flag("-q,--quiet", quiet, "Only display volume names");
  app.add_option("-f,--filter", filters, "Filter: dangling=true|false, name=, label=KEY[=VALUE], driver=")
      ->allow_extra_args(false);
  app.add_option("--format", format,
                 "Go template for each volume (.Name, .Driver, .Mountpoint, .Labels, ...)");
  parse_command_line(app, argc, argv);
  std::string root = open_store(globals).dir();
  auto parsed = parse_filters(filters);
  auto in_use = [&](const std::string& name) { return !containers_using_volume(root, name).empty(); };
  std::optional<DockerFormat> docker_format;
  std::optional<GoTemplate> tmpl;
  if (!format.empty()) {
    docker_format = parse_docker_format(format);
    tmpl = GoTemplate::parse(docker_format->text);
  }
  std::string out;
  if (!quiet && !tmpl) out = "DRIVER\tVOLUME NAME\n";
  if (!quiet && docker_format && docker_format->table) {
    GoTemplateOptions header;
    header.header = true;
    json names = {{"Name", "VOLUME NAME"}, {"Driver", "DRIVER"}, {"Mountpoint", "MOUNTPOINT"},
                  {"Labels", "LABELS"},    {"Scope", "SCOPE"},   {"CreatedAt", "CREATED"}};
    out += tmpl->execute(names, header) + "\n";
  }
  for (const auto& v : VolumeStore(root).list()) {
    if (!passes(v, parsed, in_use)) continue;
    if (quiet) {
      out += v.name + "\n";
    } else if (tmpl) {
      out += tmpl->execute(json::parse(v.to_json_text())) + "\n";
    } else {
      out += "local\t" + v.name + "\n";
    }
  }
  bool aligned = !quiet && (!tmpl || docker_format->table);
  fmt::print("{}", aligned ? align_docker_columns(out) : out);
  return 0;
}

int inspect(Globals& globals, int argc, char** argv) {
  CLI::App app{"Show volumes as JSON", "volume inspect"};
  add_global_options(app, globals);
  std::vector<std::string> names;
  std::string format;
  app.add_option("-f,--format", format, "Go template for each volume");
  app.add_option("VOLUME", names, "Volume names")->required();
  parse_command_line(app, argc, argv);
  VolumeStore volumes(open_store(globals).dir());
  json out = json::array();
  std::vector<std::string> missing;
  for (const auto& name : names) {
    if (auto v = volumes.find(name)) {
      out.push_back(json::parse(v->to_json_text()));
    } else {
      missing.push_back(name);
    }
  }
  if (!format.empty()) {
    GoTemplate tmpl = GoTemplate::parse(parse_docker_format(format, true).text);
    for (const auto& v : out) fmt::print("{}\n", tmpl.execute(v));
  } else {
    fmt::print("{}\n", out.dump(4));
  }
  if (!missing.empty()) fail("no such volume: {}", join(missing, ", "));
  return 0;
}

int remove(Globals& globals, int argc, char** argv) {
  CLI::App app{"Remove volumes no container uses", "volume rm"};
  add_global_options(app, globals);
  std::vector<std::string> names;
  bool force = false;
  app.add_flag("-f,--force", force, "Do not fail for a volume that does not exist");
  app.add_option("VOLUME", names, "Volume names")->required();
  parse_command_line(app, argc, argv);
  std::string root = open_store(globals).dir();
  VolumeStore volumes(root);
  auto users = [&](const std::string& name) { return containers_using_volume(root, name); };
  std::vector<std::string> errors;
  for (const auto& name : names) {
    if (force && !volumes.find(name)) continue;
    try {
      volumes.remove(name, users);
      fmt::print("{}\n", name);
    } catch (const Error& e) {
      errors.push_back(e.what());
    }
  }
  if (!errors.empty()) fail("{}", join(errors, "; "));
  return 0;
}

int prune(Globals& globals, int argc, char** argv) {
  CLI::App app{"Remove every volume no container uses", "volume prune"};
  add_global_options(app, globals);
  bool force = false;
  std::vector<std::string> filters;
  app.add_flag("-f,--force", force, "Do not ask for confirmation");
  app.add_option("--filter", filters, "Only volumes with this label: label=KEY[=VALUE]")
      ->allow_extra_args(false);
  parse_command_line(app, argc, argv);
  for (const auto& f : filters) {
    if (!f.starts_with("label=")) fail("invalid filter \"{}\": volume prune takes label=KEY[=VALUE]", f);
  }
  if (!force) {
    fmt::print(stderr,
               "WARNING! This will remove all local volumes not used by at least one container.\n"
               "Are you sure you want to continue? [y/N] ");
    std::string answer;
    std::getline(std::cin, answer);
    if (answer != "y" && answer != "Y" && answer != "yes") return 0;
  }
  std::string root = open_store(globals).dir();
  auto parsed = parse_filters(filters);
  auto users = [&](const std::string& name) { return containers_using_volume(root, name); };
  auto keep = [&](const VolumeInfo& v) {
    return !passes(v, parsed, [](const std::string&) { return false; });
  };
  auto removed = VolumeStore(root).prune(users, keep);
  fmt::print("Deleted Volumes:\n");
  for (const auto& name : removed) fmt::print("{}\n", name);
  fmt::print("\nTotal reclaimed space: 0B\n");
  return 0;
}

}  // namespace

int volume_command(Globals& globals, int argc, char** argv) {
  constexpr std::string_view kUsage =
      "Usage: gocrate volume COMMAND\n\nManage named volumes\n\nCommands:\n"
      "  create      Create a volume\n"
      "  inspect     Show volumes as JSON\n"
      "  ls          List volumes\n"
      "  prune       Remove every volume no container uses\n"
      "  rm          Remove volumes\n";
  auto with_globals = [&globals](int (*command)(Globals&, int, char**)) {
    return [&globals, command](int argc, char** argv) { return command(globals, argc, argv); };
  };
  return run_subcommand("volume", kUsage, argc, argv,
                        {{{"create"}, with_globals(create)},
                         {{"ls", "list"}, with_globals(list)},
                         {{"inspect"}, with_globals(inspect)},
                         {{"rm", "remove"}, with_globals(remove)},
                         {{"prune"}, with_globals(prune)}});
}

}  // namespace gocrate::cli
