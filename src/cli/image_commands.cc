#include <fmt/format.h>

#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "cli/commands.h"
#include "image/media_types.h"
#include "image/reference.h"
#include "runtime/state.h"
#include "transport/archive.h"
#include "transport/diff_id_verifier.h"
#include "unpack/layer_cache.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/strings.h"

namespace gocrate::cli {

using nlohmann::json;

namespace {

struct ImageSummary {
  std::vector<std::string> platforms;
  uint64_t size = 0;  // compressed: every distinct blob once
  std::string created;
};

ImageSummary summarize(Store& store, const NamedImage& image) {
  ImageSummary s;
  std::set<Digest> counted{image.descriptor.digest};
  s.size = image.descriptor.size;
  for (const auto& p : load_all_platform_images(store, image.descriptor, image.name)) {
    s.platforms.push_back(p.descriptor.platform ? p.descriptor.platform->str() : p.config.platform().str());
    s.created = p.config.created;
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
  bool as_json = false, quiet = false;
  add_global_options(app, globals);
  app.add_flag("--json", as_json, "Print as JSON");
  app.add_flag("-q,--quiet", quiet, "Print digests only");
  parse_command_line(app, argc, argv);

  Store store = open_store(globals);
  json list = json::array();
  std::vector<std::vector<std::string>> rows{{"REPOSITORY", "TAG", "DIGEST", "PLATFORMS", "SIZE"}};
  for (const auto& image : store.images()) {
    if (quiet) {
      fmt::print("{}\n", image.descriptor.digest.str());
      continue;
    }
    ImageSummary s = summarize(store, image);
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
  add_global_options(app, globals);
  app.add_option("images", refs, "Image names or digests")->required();
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
    for (const auto& p : load_all_platform_images(store, image.descriptor, image.name)) {
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
    out.push_back(entry);
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
      fmt::print("Untagged: {}\n", name);
    }
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
  store.commit();
  if (!quiet) {
    for (const auto& image : archive.images()) {
      if (image.names.empty()) fmt::print("Loaded image: {}\n", image.root.digest.str());
      for (const auto& name : image.names) fmt::print("Loaded image: {}\n", name);
    }
  }
  return 0;
}

}  // namespace gocrate::cli
