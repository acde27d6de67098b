// gocrate cp, diff, export, commit and system df|prune: a container's files
// and what the store holds.
#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "image/image_filter.h"
#include "layer/compress.h"
#include "runtime/container_commit.h"
#include "runtime/container_file_verbs.h"
#include "runtime/container_filter.h"
#include "runtime/system_usage.h"
#include "util/error.h"
#include "util/filters.h"
#include "util/go_template.h"
#include "util/strings.h"

namespace gocrate::cli {

namespace {

using nlohmann::json;

// Docker's units.HumanSize: four significant digits.
std::string df_size(uint64_t bytes) {
  return docker_human_size(bytes, 4);
}

std::string reclaimable_text(const UsageRow& row) {
  if (row.size == 0) return df_size(row.reclaimable);
  return fmt::format("{} ({}%)", df_size(row.reclaimable), row.reclaimable * 100 / row.size);
}

std::string created_ago(const std::string& created) {
  if (created.empty()) return "";
  time_t t = parse_rfc3339_seconds(created);
  return human_duration(::time(nullptr) - t) + " ago";
}

}  // namespace

int cp_command(Globals& globals, int argc, char** argv) {
  CLI::App app{
      "Copy files between a container and the host: cp [-a] [-L] CONTAINER:SRC DEST|-, cp [-a] SRC|- "
      "CONTAINER:DEST",
      "cp"};
  std::string source, dest;
  CpOptions options;
  add_global_options(app, globals);
  app.add_flag(
      "-a,--archive", options.archive,
      "Into a container: owned by its user (without -a, owners stay as on the host); out: no effect");
  app.add_flag("-L,--follow-link", options.follow_link, "Follow a symlink named as SRC");
  app.add_option("SRC", source, "CONTAINER:PATH, a host path, or - (a tar stream on standard input)")
      ->required();
  app.add_option("DEST", dest, "CONTAINER:PATH, a host path, or - (a tar stream on standard output)")
      ->required();
  parse_command_line(app, argc, argv);
  require_root("cp");
  copy_files(open_store(globals).dir(), source, dest, options, 0, 1);
  return 0;
}

int diff_command(Globals& globals, int argc, char** argv) {
  CLI::App app{"List the files a container added (A), changed (C) and deleted (D)", "diff"};
  std::string ref;
  add_global_options(app, globals);
  app.add_option("CONTAINER", ref, "Container: id, id prefix or name")->required();
  parse_command_line(app, argc, argv);
  std::string out;
  for (const auto& change : container_diff(open_store(globals).dir(), ref))
    out += fmt::format("{} {}\n", change.kind, change.path);
  fmt::print("{}", out);
  return 0;
}

int export_command(Globals& globals, int argc, char** argv) {
  CLI::App app{"Write a container's file system as a tar (docker import reads it)", "export"};
  std::string ref, output;
  add_global_options(app, globals);
  app.add_option("CONTAINER", ref, "Container: id, id prefix or name")->required();
  app.add_option("-o,--output", output, "Write to this file instead of standard output");
  parse_command_line(app, argc, argv);
  require_root("export");
  if (output.empty() && ::isatty(1))
    fail("export writes a tar: give -o FILE or redirect standard output, which is a terminal");
  export_container(open_store(globals).dir(), ref, output, 1);
  return 0;
}

int commit_command(Globals& globals, int argc, char** argv) {
  CLI::App app{"Make an image of a container's changes: its image plus its upper layer", "commit"};
  std::string ref, name, compression = "gzip";
  CommitOptions options;
  bool pause = true;
  add_global_options(app, globals);
  app.add_option("CONTAINER", ref, "Container: id, id prefix or name")->required();
  app.add_option("REPOSITORY", name, "REPO[:TAG] to name the image");
  app.add_option("-m,--message", options.message, "Commit message (the history entry's comment)");
  app.add_option("-a,--author", options.author, "Author (\"Name <email>\")");
  app.add_option("-c,--change", options.changes,
                 "Dockerfile instruction for the config: CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, USER, VOLUME, "
                 "WORKDIR, STOPSIGNAL")
      ->allow_extra_args(false);
  app.add_flag("-p,--pause", pause,
               "Freeze a running container while its layer is read (--pause=false not to)");
  app.add_option("--compression", compression, "Layer compression: gzip, zstd or none (with :LEVEL)");
  parse_command_line(app, argc, argv);
  require_root("commit");
  options.pause = pause;
  options.name = name;
  options.compression = parse_compression(compression);
  std::string root = open_store(globals).dir();
  ContainerView c = find_container(ContainerDirectory(root), ref);
  CommitResult result = commit_container(root, c, options);
  fmt::print("{}\n", result.config.str());
  return 0;
}

namespace {

int system_df(Globals& globals, int argc, char** argv) {
  CLI::App app{"Show what the store uses: images, containers, volumes, build and layer cache, logs",
               "system df"};
  bool verbose = false;
  std::string format;
  add_global_options(app, globals);
  app.add_flag("-v,--verbose", verbose, "Show each image, container and volume");
  app.add_option("--format", format, "json, or a Go template ({{.Type}} {{.Size}})");
  parse_command_line(app, argc, argv);
  SystemUsage usage = system_usage(open_store(globals).dir());

  auto row_json = [](const UsageRow& r) {
    return json{{"Type", r.type},
                {"TotalCount", std::to_string(r.total)},
                {"Active", std::to_string(r.active)},
                {"Size", df_size(r.size)},
                {"Reclaimable", reclaimable_text(r)}};
  };
  std::string out;
  if (format == "json" || format == "{{json .}}") {
    if (verbose) {
      json all = {{"Images", json::array()}, {"Containers", json::array()}, {"Volumes", json::array()}};
      for (const auto& i : usage.images)
        all["Images"].push_back({{"Repository", i.name},
                                 {"Digest", i.digest},
                                 {"ID", i.id},
                                 {"CreatedAt", i.created},
                                 {"Size", df_size(i.size)},
                                 {"SharedSize", df_size(i.shared_size)},
                                 {"UniqueSize", df_size(i.size - i.shared_size)},
                                 {"Containers", std::to_string(i.containers)}});
      for (const auto& c : usage.containers)
        all["Containers"].push_back({{"ID", c.id.substr(0, 12)},
                                     {"Image", c.image},
                                     {"Command", c.command},
                                     {"LocalVolumes", std::to_string(c.local_volumes)},
                                     {"Size", df_size(c.size)},
                                     {"CreatedAt", c.created},
                                     {"Status", c.status},
                                     {"Names", c.name}});
      for (const auto& v : usage.volumes)
        all["Volumes"].push_back(
            {{"Name", v.name}, {"Links", std::to_string(v.links)}, {"Size", df_size(v.size)}});
      all["Rows"] = json::array();
      for (const auto& r : usage.rows) all["Rows"].push_back(row_json(r));
      fmt::print("{}\n", all.dump());
      return 0;
    }
    for (const auto& r : usage.rows) out += row_json(r).dump() + "\n";
    fmt::print("{}", out);
    return 0;
  }
  if (!format.empty()) {
    DockerFormat f = parse_docker_format(format);
    GoTemplate tmpl = GoTemplate::parse(f.text);
    std::string text;
    if (f.table) {
      GoTemplateOptions header;
      header.header = true;
      text += tmpl.execute({{"Type", "TYPE"},
                            {"TotalCount", "TOTAL"},
                            {"Active", "ACTIVE"},
                            {"Size", "SIZE"},
                            {"Reclaimable", "RECLAIMABLE"}},
                           header) +
              "\n";
    }
    for (const auto& r : usage.rows) text += tmpl.execute(row_json(r)) + "\n";
    fmt::print("{}", f.table ? align_docker_columns(text) : text);
    return 0;
  }
  if (!verbose) {
    std::string text = "TYPE\tTOTAL\tACTIVE\tSIZE\tRECLAIMABLE\n";
    for (const auto& r : usage.rows)
      text += fmt::format("{}\t{}\t{}\t{}\t{}\n", r.type, r.total, r.active, df_size(r.size),
                          reclaimable_text(r));
    fmt::print("{}", align_docker_columns(text));
    return 0;
  }
  std::string images = "REPOSITORY\tTAG\tIMAGE ID\tCREATED\tSIZE\tSHARED SIZE\tUNIQUE SIZE\tCONTAINERS\n";
  for (const auto& i : usage.images) {
    std::string repository = "<none>", tag = "<none>";
    if (!i.name.empty()) {
      auto colon = i.name.rfind(':');
      repository = familiar_name(i.name.substr(0, colon));
      tag = i.name.substr(colon + 1);
    }
    std::string id = i.id.size() > 19 ? i.id.substr(7, 12) : i.id;
    images +=
        fmt::format("{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\n", repository, tag, id, created_ago(i.created),
                    df_size(i.size), df_size(i.shared_size), df_size(i.size - i.shared_size), i.containers);
  }
  std::string containers = "CONTAINER ID\tIMAGE\tCOMMAND\tLOCAL VOLUMES\tSIZE\tCREATED\tSTATUS\tNAMES\n";
  for (const auto& c : usage.containers) {
    std::string command = c.command.size() > 20 ? c.command.substr(0, 19) + "…" : c.command;
    containers += fmt::format("{}\t{}\t\"{}\"\t{}\t{}\t{}\t{}\t{}\n", c.id.substr(0, 12), c.image, command,
                              c.local_volumes, df_size(c.size), created_ago(c.created), c.status, c.name);
  }
  std::string volumes = "VOLUME NAME\tLINKS\tSIZE\n";
  for (const auto& v : usage.volumes)
    volumes += fmt::format("{}\t{}\t{}\n", v.name, v.links, df_size(v.size));
  out += "Images space usage:\n\n" + align_docker_columns(images);
  out += "\nContainers space usage:\n\n" + align_docker_columns(containers);
  out += "\nLocal Volumes space usage:\n\n" + align_docker_columns(volumes);
  for (const auto& r : usage.rows) {
    if (r.type == "Build Cache") out += "\nBuild cache usage: " + df_size(r.size) + "\n";
    if (r.type == "Layer Cache") out += "\nLayer cache usage: " + df_size(r.size) + "\n";
    if (r.type == "Logs") out += "\nLog usage: " + df_size(r.size) + "\n";
  }
  fmt::print("{}", out);
  return 0;
}

int system_prune(Globals& globals, int argc, char** argv) {
  CLI::App app{
      "Remove stopped containers, unused images, build cache and, with --volumes, unused anonymous volumes",
      "system prune"};
  SystemPruneOptions options;
  bool force = false;
  std::vector<std::string> filters;
  add_global_options(app, globals);
  app.add_flag("-a,--all", options.all,
               "Remove every image no container uses, not only those without a name");
  app.add_flag("--volumes", options.volumes,
               "Remove anonymous volumes (made without a name) no container uses too; named ones stay");
  app.add_option("--filter", filters, "until=DURATION|TIME: only what was created before")
      ->allow_extra_args(false);
  app.add_flag("-f,--force", force, "Do not ask for confirmation");
  parse_command_line(app, argc, argv);
  require_root("system prune");
  FilterArgs parsed = FilterArgs::parse(filters, {"until"}, {"label", "label!"});
  if (parsed.has("until")) options.until = parse_until(parsed.values("until").back(), ::time(nullptr));
  if (!force) {
    if (!::isatty(0))
      fail(
          "system prune asks for confirmation and standard input is not a terminal: add -f to remove without "
          "asking");
    std::string warning = "WARNING! This will remove:\n  - all stopped containers\n";
    if (options.volumes) warning += "  - all anonymous volumes not used by at least one container\n";
    warning += options.all ? "  - all images without at least one container associated to them\n"
                           : "  - all dangling images\n";
    warning += "  - all build cache\n  - unpacked layers no image needs\n";
    if (options.until)
      warning +=
          "\n  Elements to be pruned will be filtered with:\n  - until=" + parsed.values("until").back() +
          "\n";
    fmt::print("{}\nAre you sure you want to continue? [y/N] ", warning);
    std::fflush(stdout);
    std::string answer;
    std::getline(std::cin, answer);
    answer = std::string(trim(answer));
    if (answer != "y" && answer != "Y" && answer != "yes") return 0;
  }
  SystemPruneReport report = system_prune(open_store(globals).dir(), options);
  std::string out;
  if (!report.containers.empty()) out += "Deleted Containers:\n" + join(report.containers, "\n") + "\n\n";
  if (!report.volumes.empty()) out += "Deleted Volumes:\n" + join(report.volumes, "\n") + "\n\n";
  if (!report.untagged.empty() || !report.deleted.empty()) {
    out += "Deleted Images:\n";
    for (const auto& name : report.untagged) out += "untagged: " + familiar_name(name) + "\n";
    for (const auto& digest : report.deleted) out += "deleted: " + digest + "\n";
    out += "\n";
  }
  if (report.cache_entries > 0 || report.layers > 0)
    out += fmt::format("Deleted build cache entries: {}, unpacked layers: {}\n\n", report.cache_entries,
                       report.layers);
  out += "Total reclaimed space: " + df_size(report.reclaimed) + "\n";
  fmt::print("{}", out);
  return 0;
}

}  // namespace

int system_command(Globals& globals, int argc, char** argv) {
  auto with_globals = [&globals](int (*run)(Globals&, int, char**)) {
    return [&globals, run](int c, char** v) { return run(globals, c, v); };
  };
  return run_subcommand("system",
                        "Usage: gocrate system COMMAND\n\nCommands:\n"
                        "  df          Show what the store uses\n"
                        "  prune       Remove what nothing uses\n",
                        argc, argv,
                        {{{"df"}, with_globals(system_df)}, {{"prune"}, with_globals(system_prune)}});
}

}  // namespace gocrate::cli
