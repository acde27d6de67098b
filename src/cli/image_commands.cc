#include <fmt/format.h>

#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "cli/commands.h"
#include "image/image_filter.h"
#include "image/media_types.h"
#include "image/reference.h"
#include "runtime/container_filter.h"
#include "runtime/state.h"
#include "store/events.h"
#include "transport/archive.h"
#include "transport/diff_id_verifier.h"
#include "trust/attachments.h"
#include "unpack/layer_cache.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/go_template.h"
#include "util/strings.h"

namespace gocrate::cli {

using nlohmann::json;

namespace {

struct ImageSummary {
  std::vector<std::string> platforms;
  uint64_t size = 0;  // compressed: every distinct blob once
  std::string created;
  std::map<std::string, std::string> labels;
};

ImageSummary summarize(Store& store, const NamedImage& image) {
  ImageSummary s;
  std::set<Digest> counted{image.descriptor.digest};
  s.size = image.descriptor.size;
  for (const auto& p : load_all_platform_images(store, image.descriptor, image.name)) {
    s.platforms.push_back(p.descriptor.platform ? p.descriptor.platform->str() : p.config.platform().str());
    s.created = p.config.created;
    s.labels = p.config.config.labels;
    for (const Descriptor* d : {&p.descriptor, &p.manifest.config}) {
      if (counted.insert(d->digest).second) s.size += d->size;
    }
    for (const auto& layer : p.manifest.layers) {
      if (counted.insert(layer.digest).second) s.size += layer.size;
    }
  }
  return s;
}

std::pair<std::string, std::string> split_name_tag(const std::string& name) {
  Reference ref = Reference::parse(name);
  return {ref.name(), ref.tag.empty() ? "<none>" : ref.tag};
}

// Docker's images --format fields (cli/command/formatter/image.go).
json image_context(const NamedImage& image, const ImageSummary& s, bool trunc, time_t now) {
  auto [repository, tag] = split_name_tag(image.name);
  time_t created = parse_rfc3339_seconds(s.created);
  std::string size = docker_human_size(s.size);
  return {{"ID", trunc ? image.descriptor.digest.short_hex() : image.descriptor.digest.str()},
          {"Repository", familiar_name(repository)},
          {"Tag", tag},
          {"Digest", image.descriptor.digest.str()},
          {"CreatedSince", human_duration(std::max<int64_t>(0, now - created)) + " ago"},
          {"CreatedAt", go_time_text(created)},
          {"Size", size},
          {"VirtualSize", size},
          {"SharedSize", "N/A"},
          {"UniqueSize", "N/A"},
          {"Containers", "N/A"}};
}

json image_header() {
  return {{"ID", "IMAGE ID"},
          {"Repository", "REPOSITORY"},
          {"Tag", "TAG"},
          {"Digest", "DIGEST"},
          {"CreatedSince", "CREATED"},
          {"CreatedAt", "CREATED AT"},
          {"Size", "SIZE"},
          {"VirtualSize", "VIRTUAL SIZE"},
          {"SharedSize", "SHARED SIZE"},
          {"UniqueSize", "UNIQUE SIZE"},
          {"Containers", "CONTAINERS"}};
}

// Docker's image inspect fields, for -f templates: of this machine's
// platform, or the first one the image has.
void add_docker_image_fields(json& entry, const NamedImage& image,
                             const std::vector<PlatformImage>& platforms, Store& store) {
  if (platforms.empty()) return;
  const PlatformImage* chosen = &platforms[0];
  for (const auto& p : platforms) {
    if (p.config.platform().str() == Platform::host().str()) chosen = &p;
  }
  json config = json::parse(store.read_blob(chosen->manifest.config));
  auto [repository, tag] = split_name_tag(image.name);
  uint64_t size = 0;
  for (const auto& layer : chosen->manifest.layers) size += layer.size;
  json layers = json::array();
  for (const auto& d : chosen->config.diff_ids) layers.push_back(d.str());
  entry["Id"] = chosen->manifest.config.digest.str();
  entry["RepoTags"] = json::array({familiar_name(image.name)});
  entry["RepoDigests"] = json::array({familiar_name(repository) + "@" + image.descriptor.digest.str()});
  entry["Created"] = chosen->config.created;
  entry["Architecture"] = chosen->config.architecture;
  entry["Os"] = chosen->config.os;
  if (!chosen->config.variant.empty()) entry["Variant"] = chosen->config.variant;
  entry["Author"] = chosen->config.author;
  entry["Config"] = config.value("config", json::object());
  if (!entry["Config"].contains("Labels")) entry["Config"]["Labels"] = json::object();
  entry["RootFS"] = {{"Type", "layers"}, {"Layers", layers}};
  entry["Size"] = size;
}

// prune as the CLI means it: images of existing containers stay, and the
// unpacked layers of deleted blobs go with them.
PruneReport prune_store(Store& store, bool wait) {
  std::vector<Descriptor> in_use;
  for (const auto& container : ContainerDirectory(store.dir()).list()) {
    auto digest = Digest::try_parse(container.image_digest);
    if (!digest || !store.has_blob(*digest)) continue;
    auto text = read_file_if_exists(store.blob_path(*digest));
    if (text)
      in_use.push_back(Descriptor{sniff_media_type(*text), *digest, static_cast<int64_t>(text->size())});
  }
  int layers_removed = 0;
  PruneReport report = store.prune(wait, in_use, [&](const std::set<Digest>& live) {
    layers_removed = LayerCache(store.dir() + "/layers").remove_unused(live);
  });
  report.layers_removed = layers_removed;
  return report;
}

}  // namespace

int images_command(Globals& globals, int argc, char** argv) {
  CLI::App app{"List the images in the store", "images"};
  bool as_json = false, quiet = false, no_trunc = false;
  std::string format;
  std::vector<std::string> filters;
  add_global_options(app, globals);
  app.add_flag("--json", as_json, "Print as JSON");
  app.add_flag("-q,--quiet", quiet, "Print digests only");
  app.add_option("-f,--filter", filters,
                 "Filter: reference=PATTERN (glob on name:tag), label=KEY[=VALUE], dangling=true|false, "
                 "before=IMAGE, since=IMAGE")
      ->allow_extra_args(false);
  app.add_option("--format", format, "A Go template ({{.Repository}}:{{.Tag}}), or table TEMPLATE");
  app.add_flag("--no-trunc", no_trunc, "Do not truncate ids");
  parse_command_line(app, argc, argv);

  Store store = open_store(globals);
  ImageFilter filter = ImageFilter::parse(filters, [&store](const std::string& ref) -> std::optional<time_t> {
    auto image = store.find(ref);
    if (!image) return std::nullopt;
    return parse_rfc3339_seconds(summarize(store, *image).created);
  });
  std::optional<DockerFormat> docker_format;
  std::optional<GoTemplate> row_template;
  if (!quiet && !format.empty() && format != "table") {
    docker_format = parse_docker_format(format);
    row_template = GoTemplate::parse(docker_format->text);
  }
  time_t now = ::time(nullptr);
  std::string formatted;
  json list = json::array();
  std::vector<std::vector<std::string>> rows{{"REPOSITORY", "TAG", "DIGEST", "PLATFORMS", "SIZE"}};
  for (const auto& image : store.images()) {
    if (quiet && filters.empty()) {
      fmt::print("{}\n", image.descriptor.digest.str());
      continue;
    }
    ImageSummary s = summarize(store, image);
    if (!filter.matches({image.name, s.labels, parse_rfc3339_seconds(s.created), false})) continue;
    if (quiet) {
      fmt::print("{}\n", image.descriptor.digest.str());
      continue;
    }
    if (row_template) {
      GoTemplateOptions options;
      options.struct_type = "*formatter.ImageContext";
      formatted += row_template->execute(image_context(image, s, !no_trunc, now), options) + "\n";
      continue;
    }
    auto [repository, tag] = split_name_tag(image.name);
    list.push_back({{"name", image.name},
                    {"repository", repository},
                    {"tag", tag},
                    {"digest", image.descriptor.digest.str()},
                    {"mediaType", image.descriptor.media_type},
                    {"platforms", s.platforms},
                    {"size", s.size},
                    {"created", s.created}});
    rows.push_back(
        {repository, tag, image.descriptor.digest.short_hex(), join(s.platforms, ","), human_size(s.size)});
  }
  if (quiet) return 0;
  if (row_template) {
    if (docker_format->table) {
      GoTemplateOptions header;
      header.header = true;
      fmt::print("{}",
                 align_docker_columns(row_template->execute(image_header(), header) + "\n" + formatted));
    } else {
      fmt::print("{}", formatted);
    }
    return 0;
  }
  if (as_json) {
    fmt::print("{}\n", list.dump(2));
    return 0;
  }
  std::vector<size_t> widths(rows[0].size(), 0);
  for (const auto& row : rows) {
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += i + 1 == row.size() ? row[i] : fmt::format("{:<{}}   ", row[i], widths[i]);
    }
    fmt::print("{}\n", line);
  }
  return 0;
}

int inspect_command(Globals& globals, int argc, char** argv) {
  CLI::App app{"Show an image's index, manifests, configs and attached artifacts as JSON", "inspect"};
  std::vector<std::string> refs;
  std::string format;
  add_global_options(app, globals);
  app.add_option("images", refs, "Image names or digests")->required();
  app.add_option(
      "-f,--format", format,
      "Print each image through a Go template ({{.Id}}, {{.Config.Labels}}: Docker's fields, of this "
      "machine's platform)");
  parse_command_line(app, argc, argv);

  Store store = open_store(globals);
  json out = json::array();
  for (const auto& ref : refs) {
    NamedImage image = store.resolve(ref);
    json entry = {{"name", image.name},
                  {"digest", image.descriptor.digest.str()},
                  {"mediaType", image.descriptor.media_type},
                  {"size", image.descriptor.size}};
    if (media_type::is_index(image.descriptor.media_type)) {
      entry["index"] = json::parse(store.read_blob(image.descriptor));
    }
    json manifests = json::array();
    std::vector<PlatformImage> platforms = load_all_platform_images(store, image.descriptor, image.name);
    for (const auto& p : platforms) {
      for (const auto& layer : p.manifest.layers) {
        if (!store.has_blob(layer.digest)) {
          fail("image {} is incomplete: layer {} is missing from the store; build or pull it again",
               image.name, layer.digest.str());
        }
      }
      manifests.push_back({{"platform", p.descriptor.platform ? p.descriptor.platform->str() : ""},
                           {"digest", p.descriptor.digest.str()},
                           {"manifest", json::parse(store.read_blob(p.descriptor))},
                           {"config", json::parse(store.read_blob(p.manifest.config))}});
    }
    entry["manifests"] = manifests;
    json referrers = json::array();
    for (const auto& r : store.referrers(image.descriptor)) {
      referrers.push_back({{"digest", r.digest.str()},
                           {"artifactType", r.artifact_type},
                           {"manifest", json::parse(store.read_blob(r))}});
    }
    entry["referrers"] = referrers;
    if (!format.empty()) add_docker_image_fields(entry, image, platforms, store);
    out.push_back(entry);
  }
  if (!format.empty()) {
    fmt::print("{}", docker_inspect_format(format, out));
    return 0;
  }
  fmt::print("{}\n", out.dump(2));
  return 0;
}

int tag_command(Globals& globals, int argc, char** argv) {
  CLI::App app{"Give an image another name", "tag"};
  std::string source, target;
  add_global_options(app, globals);
  app.add_option("source", source, "Existing image")->required();
  app.add_option("target", target, "New name, NAME[:TAG]")->required();
  parse_command_line(app, argc, argv);
  Store store = open_store(globals);
  NamedImage image = store.resolve(source);
  std::string name = Store::canonical_name(target);
  if (Reference::parse(name).digest) fail("invalid name \"{}\": a name cannot contain a digest", target);
  store.set_name(name, image.descriptor);
  record_image_event(store.dir(), "tag", image.descriptor.digest.str(), name);
  return 0;
}

int rmi_command(Globals& globals, int argc, char** argv) {
  CLI::App app{"Remove image names; blobs no other image uses are deleted", "rmi"};
  std::vector<std::string> refs;
  add_global_options(app, globals);
  app.add_option("images", refs, "Image names or digests")->required();
  parse_command_line(app, argc, argv);
  Store store = open_store(globals);
  for (const auto& ref : refs) {
    NamedImage image = store.resolve(ref);
    std::vector<std::string> names;
    if (Reference::try_parse(ref) && !Digest::try_parse(ref)) {
      names.push_back(image.name);
    } else {
      for (const auto& other : store.images()) {
        if (other.descriptor.digest == image.descriptor.digest) names.push_back(other.name);
      }
    }
    for (const auto& name : names) {
      store.remove_name(name);
      record_image_event(store.dir(), "untag", image.descriptor.digest.str(), name);
      fmt::print("Untagged: {}\n", name);
    }
    bool still_named = false;
    for (const auto& other : store.images())
      still_named = still_named || other.descriptor.digest == image.descriptor.digest;
    if (!still_named) record_image_event(store.dir(), "delete", image.descriptor.digest.str(), "");
  }
  PruneReport report = prune_store(store, false);
  if (report.blobs_removed)
    fmt::print("Deleted {} blobs ({})\n", report.blobs_removed, human_size(report.bytes_freed));
  return 0;
}

int prune_command(Globals& globals, int argc, char** argv) {
  CLI::App app{
      "Delete blobs that no image uses, build cache entries whose blobs are gone, and leftovers of "
      "interrupted writes",
      "prune"};
  add_global_options(app, globals);
  parse_command_line(app, argc, argv);
  Store store = open_store(globals);
  PruneReport report = prune_store(store, true);
  fmt::print("Deleted {} blobs, freed {}; removed {} unpacked layers and {} cache entries\n",
             report.blobs_removed, human_size(report.bytes_freed), report.layers_removed,
             report.cache_entries_removed);
  return 0;
}

int save_command(Globals& globals, int argc, char** argv) {
  CLI::App app{"Write images to one tar that docker load, podman load and gocrate load accept", "save"};
  std::vector<std::string> refs;
  std::string output, platform;
  add_global_options(app, globals);
  app.add_option("images", refs, "Images to save")->required();
  app.add_option("-o,--output", output, "The tar file to write")->required();
  app.add_option("--platform", platform,
                 "The variant Docker's part of the tar holds (default: this machine's)");
  parse_command_line(app, argc, argv);
  Store store = open_store(globals);
  std::optional<Platform> docker_platform;
  if (!platform.empty()) docker_platform = Platform::parse(platform);
  ArchiveWriter archive(absolute_path(output), docker_platform);
  for (const auto& ref : refs) {
    NamedImage image = store.resolve(ref);
    copy_image(store, image.descriptor, archive);
    for (const auto& referrer : store.referrers(image.descriptor)) {
      copy_image(store, referrer, archive);
      archive.add_referrer(referrer);
    }
    archive.add_name(image.name, image.descriptor);
  }
  archive.commit();
  for (const auto& ref : refs) {
    NamedImage image = store.resolve(ref);
    record_image_event(store.dir(), "save", image.descriptor.digest.str(), image.name);
  }
  return 0;
}

int load_command(Globals& globals, int argc, char** argv) {
  CLI::App app{
      "Read images from a tar made by docker save, podman save or gocrate save (gzip or zstd "
      "compressed too)",
      "load"};
  std::string input;
  std::string max_size_text = "32g";
  bool quiet = false;
  add_global_options(app, globals);
  app.add_option("-i,--input", input, "The tar file to read")->required();
  app.add_option("--max-size", max_size_text,
                 "Refuse the archive if it, or the sum of its layers, decompresses to more than SIZE "
                 "(512m, 32g)")
      ->type_name("SIZE")
      ->capture_default_str();
  app.add_flag("-q,--quiet", quiet, "Print nothing");
  parse_command_line(app, argc, argv);
  uint64_t max_size = 0;
  if (!parse_byte_size(max_size_text, max_size) || max_size == 0) {
    fail("invalid --max-size \"{}\": use a size such as 512m or 32g", max_size_text);
  }
  Store store = open_store(globals);
  std::string path = absolute_path(input);
  std::string hint = fmt::format("if you trust it, raise the cap with --max-size (now {})", max_size_text);
  DecompressionLimit archive_limit(max_size, "archive " + path, hint);
  DecompressionLimit layers_limit(max_size, "the layers of archive " + path, hint);
  ArchiveReader archive(path, &archive_limit);
  FileLock lease = store.lease();
  // Every layer is checked against its config's diff_id before any name is
  // recorded: layers the store has at once, the others as they are copied.
  DiffIdVerifier verified(archive, store, &layers_limit);
  for (const auto& image : archive.images()) {
    std::string name = image.names.empty() ? image.root.digest.str() : image.names.front();
    verified.expect(image.root, fmt::format("{} in archive {}", name, path));
  }
  for (const auto& image : archive.images()) {
    copy_image(verified, image.root, store);
    for (const auto& name : image.names) store.add_name(name, image.root);
    if (image.names.empty()) store.add_referrer(image.root);
  }
  std::vector<std::pair<Descriptor, AttachmentKind>> attachments;
  for (const auto& artifact : archive.artifacts()) {
    if (auto kind = attachment_kind(artifact)) {
      attachments.emplace_back(artifact, *kind);
      continue;
    }
    copy_image(archive, artifact, store);
    store.add_referrer(artifact);
  }
  store.commit();
  // A signature or attestation joins those the store has for its subject.
  for (const auto& [artifact, kind] : attachments) {
    Manifest m = Manifest::parse(archive.read_blob(artifact),
                                 fmt::format("{} in archive {}", artifact.digest.str(), path));
    if (m.subject) merge_store_attachment(store, read_attachment(archive, artifact, *m.subject, kind));
  }
  for (const auto& image : archive.images()) {
    for (const auto& name : image.names)
      record_image_event(store.dir(), "load", image.root.digest.str(), name);
    if (image.names.empty()) record_image_event(store.dir(), "load", image.root.digest.str(), "");
  }
  if (!quiet) {
    for (const auto& image : archive.images()) {
      if (image.names.empty()) fmt::print("Loaded image: {}\n", image.root.digest.str());
      for (const auto& name : image.names) fmt::print("Loaded image: {}\n", name);
    }
  }
  return 0;
}

}  // namespace gocrate::cli
