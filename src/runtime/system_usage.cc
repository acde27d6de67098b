#include "runtime/system_usage.h"

#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <map>
#include <set>

#include "image/content.h"
#include "image/manifest.h"
#include "image/media_types.h"
#include "runtime/container_filter.h"
#include "runtime/container_lifecycle.h"
#include "store/events.h"
#include "store/store.h"
#include "store/volumes.h"
#include "unpack/layer_cache.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/strings.h"

namespace gocrate {

namespace {

namespace stdfs = std::filesystem;

// Bytes of the files below `path` (each inode once), symlinks not followed.
uint64_t tree_size(const std::string& path) {
  std::error_code ec;
  if (!stdfs::exists(stdfs::symlink_status(path, ec))) return 0;
  std::set<std::pair<dev_t, ino_t>> seen;
  uint64_t total = 0;
  auto count = [&](const std::string& p) {
    struct stat st;
    if (::lstat(p.c_str(), &st) != 0 || S_ISDIR(st.st_mode)) return;
    if (st.st_nlink > 1 && !seen.insert({st.st_dev, st.st_ino}).second) return;
    total += static_cast<uint64_t>(st.st_size);
  };
  count(path);
  for (stdfs::recursive_directory_iterator it(path, stdfs::directory_options::skip_permission_denied, ec),
       end;
       !ec && it != end; it.increment(ec)) {
    count(it->path().string());
  }
  return total;
}

uint64_t file_size(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
}

std::vector<std::string> entries_of(const std::string& dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (stdfs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
    names.push_back(it->path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

// Every blob a root reaches: itself, an index's manifests, their configs
// and layers (those the store has).
void reach(Store& store, const Digest& digest, std::set<Digest>& out) {
  if (!store.has_blob(digest) || !out.insert(digest).second) return;
  auto text = read_file_if_exists(store.blob_path(digest));
  if (!text || text->empty() || text->front() != '{') return;
  std::string type = sniff_media_type(*text);
  try {
    if (media_type::is_index(type)) {
      for (const auto& m : Index::parse(*text, digest.str()).manifests) reach(store, m.digest, out);
    } else if (media_type::is_manifest(type)) {
      Manifest manifest = Manifest::parse(*text, digest.str());
      if (store.has_blob(manifest.config.digest)) out.insert(manifest.config.digest);
      for (const auto& layer : manifest.layers)
        if (store.has_blob(layer.digest)) out.insert(layer.digest);
    }
  } catch (const Error&) {
  }
}

struct ImageRoot {
  Descriptor descriptor;
  std::string name;
  std::set<Digest> blobs;
  std::string id;
  std::string created;
};

bool is_artifact(Store& store, const Descriptor& d) {
  if (!d.artifact_type.empty()) return true;
  auto text = read_file_if_exists(store.blob_path(d.digest));
  if (!text) return false;
  auto parsed = nlohmann::json::parse(*text, nullptr, false);
  return parsed.is_object() && (parsed.contains("subject") || parsed.contains("artifactType"));
}

std::vector<ImageRoot> image_roots(Store& store) {
  std::vector<ImageRoot> roots;
  for (const auto& d : store.read_index().manifests) {
    if (is_artifact(store, d)) continue;
    ImageRoot root;
    root.descriptor = d;
    auto name = d.annotations.find(std::string(annotation::ref_name));
    if (name != d.annotations.end()) root.name = name->second;
    reach(store, d.digest, root.blobs);
    try {
      auto platforms = load_all_platform_images(store, d, root.name.empty() ? d.digest.str() : root.name);
      if (!platforms.empty()) {
        root.id = platforms.front().manifest.config.digest.str();
        root.created = platforms.front().config.created;
      }
    } catch (const Error&) {
    }
    roots.push_back(std::move(root));
  }
  return roots;
}

uint64_t blobs_size(Store& store, const std::set<Digest>& blobs) {
  uint64_t total = 0;
  for (const auto& d : blobs) total += file_size(store.blob_path(d));
  return total;
}

std::vector<std::string> volume_users(const std::vector<ContainerView>& containers,
                                      const std::string& volume) {
  std::vector<std::string> ids;
  for (const auto& c : containers) {
    for (const auto& m : c.state.mounts)
      if (m.type == "volume" && m.name == volume) ids.push_back(c.state.id);
  }
  return ids;
}

uint64_t logs_size(const std::string& dir) {
  uint64_t total = 0;
  for (const auto& name : entries_of(dir))
    if (name.starts_with("container.log")) total += file_size(dir + "/" + name);
  return total;
}

std::set<Digest> image_digests_of(const std::vector<ContainerView>& containers, bool running_only) {
  std::set<Digest> out;
  for (const auto& c : containers) {
    if (running_only && !c.running()) continue;
    if (auto d = Digest::try_parse(c.state.image_digest)) out.insert(*d);
  }
  return out;
}

// cosign's tags for an image's signatures, attestations and SBOM
// ("repo:sha256-<hex>.sig"): they go with the image they name, not as images.
bool is_signature_tag(const std::string& name) {
  auto colon = name.rfind(':');
  if (colon == std::string::npos) return false;
  std::string tag = name.substr(colon + 1);
  return tag.starts_with("sha256-") &&
         (tag.ends_with(".sig") || tag.ends_with(".att") || tag.ends_with(".sbom"));
}

bool uses_any(const ImageRoot& root, const std::set<Digest>& digests) {
  for (const auto& d : digests)
    if (root.blobs.contains(d)) return true;
  return false;
}

}  // namespace

SystemUsage system_usage(const std::string& store_root) {
  Store store(store_root);
  SystemUsage usage;
  ContainerDirectory directory(store_root);
  std::vector<ContainerView> containers = all_containers(directory);
  std::vector<ImageRoot> roots = image_roots(store);

  std::map<Digest, int> reached_by;
  for (const auto& r : roots)
    for (const auto& b : r.blobs) reached_by[b]++;
  std::set<Digest> all_blobs, active_blobs;
  UsageRow images{"Images"};
  for (const auto& r : roots) {
    ImageUsage u;
    u.name = r.name;
    u.digest = r.descriptor.digest.str();
    u.id = r.id;
    u.created = r.created;
    for (const auto& b : r.blobs) {
      uint64_t size = file_size(store.blob_path(b));
      u.size += size;
      if (reached_by[b] > 1) u.shared_size += size;
    }
    for (const auto& c : containers) {
      auto d = Digest::try_parse(c.state.image_digest);
      if (d && r.blobs.contains(*d)) u.containers++;
    }
    all_blobs.insert(r.blobs.begin(), r.blobs.end());
    if (u.containers > 0) {
      images.active++;
      active_blobs.insert(r.blobs.begin(), r.blobs.end());
    }
    usage.images.push_back(u);
  }
  images.total = static_cast<int>(roots.size());
  images.size = blobs_size(store, all_blobs);
  images.reclaimable = images.size - blobs_size(store, active_blobs);

  UsageRow container_row{"Containers"};
  UsageRow logs{"Logs"};
  for (const auto& c : containers) {
    ContainerUsage u;
    u.id = c.state.id;
    u.name = c.state.name;
    u.image = c.state.image;
    u.command = join(c.state.command, " ");
    u.created = c.state.created;
    u.status = status_text(c);
    u.running = c.running();
    u.size = c.state.auto_remove ? 0 : tree_size(c.dir + "/upper");
    u.log_size = logs_size(c.dir);
    for (const auto& m : c.state.mounts)
      if (m.type == "volume") u.local_volumes++;
    container_row.total++;
    container_row.size += u.size;
    if (u.running) {
      container_row.active++;
    } else {
      container_row.reclaimable += u.size;
    }
    if (u.log_size > 0) {
      logs.total++;
      logs.size += u.log_size;
      if (u.running) {
        logs.active++;
      } else {
        logs.reclaimable += u.log_size;
      }
    }
    usage.containers.push_back(u);
  }

  UsageRow volumes{"Local Volumes"};
  for (const auto& v : VolumeStore(store_root).list()) {
    VolumeUsage u;
    u.name = v.name;
    u.links = static_cast<int>(volume_users(containers, v.name).size());
    u.size = tree_size(v.mountpoint);
    volumes.total++;
    volumes.size += u.size;
    if (u.links > 0) {
      volumes.active++;
    } else {
      volumes.reclaimable += u.size;
    }
    usage.volumes.push_back(u);
  }

  // The build cache: cache entries, and blobs no image reaches any more
  // (cached layers of earlier builds), both gone with the next prune.
  UsageRow cache{"Build Cache"};
  std::string cache_dir = store_root + "/cache";
  for (const auto& kind : entries_of(cache_dir)) {
    for (const auto& key : entries_of(cache_dir + "/" + kind)) {
      cache.total++;
      cache.size += file_size(cache_dir + "/" + kind + "/" + key);
    }
  }
  std::set<Digest> container_blobs;
  for (const auto& d : image_digests_of(containers, false)) reach(store, d, container_blobs);
  for (const auto& hex : entries_of(store_root + "/blobs/sha256")) {
    auto d = Digest::try_parse("sha256:" + hex);
    if (d && !all_blobs.contains(*d) && !container_blobs.contains(*d))
      cache.size += file_size(store.blob_path(*d));
  }
  cache.reclaimable = cache.size;

  UsageRow layers{"Layer Cache"};
  std::set<Digest> running_blobs;
  for (const auto& d : image_digests_of(containers, true)) reach(store, d, running_blobs);
  for (const auto& hex : entries_of(store_root + "/layers/sha256")) {
    if (hex.ends_with(".lock")) continue;
    auto d = Digest::try_parse("sha256:" + hex);
    uint64_t size = tree_size(store_root + "/layers/sha256/" + hex);
    layers.total++;
    layers.size += size;
    if (d && running_blobs.contains(*d)) layers.active++;
    bool kept = d && (all_blobs.contains(*d) || container_blobs.contains(*d));
    if (!kept) layers.reclaimable += size;
  }

  usage.rows = {images, container_row, volumes, cache, layers, logs};
  return usage;
}

time_t parse_until(const std::string& value, time_t now) {
  auto bad = [&]() -> time_t {
    fail(
        "invalid filter until={}: give a duration back from now (24h, 90m, 1h30m) or a time (2024-05-01, "
        "2024-05-01T10:00:00Z, Unix seconds)",
        value);
  };
  if (value.empty()) bad();
  // A Go duration: one or more NUMBER UNIT.
  bool duration = std::isdigit(static_cast<unsigned char>(value[0])) &&
                  !std::isdigit(static_cast<unsigned char>(value.back())) &&
                  value.find_first_of("-:T") == std::string::npos;
  if (duration) {
    double total = 0;
    size_t i = 0;
    while (i < value.size()) {
      size_t start = i;
      while (i < value.size() && (std::isdigit(static_cast<unsigned char>(value[i])) || value[i] == '.')) ++i;
      if (start == i) return bad();
      double number = std::stod(value.substr(start, i - start));
      size_t unit_start = i;
      while (i < value.size() && std::isalpha(static_cast<unsigned char>(value[i]))) ++i;
      std::string unit = value.substr(unit_start, i - unit_start);
      double scale = unit == "h" ? 3600 : unit == "m" ? 60 : unit == "s" ? 1 : unit == "ms" ? 0.001 : -1;
      if (scale < 0) return bad();
      total += number * scale;
    }
    return now - static_cast<time_t>(total);
  }
  bool all_digits = std::all_of(value.begin(), value.end(), [](char c) {
    return std::isdigit(static_cast<unsigned char>(c)) || c == '.';
  });
  if (all_digits) return static_cast<time_t>(std::stod(value));
  if (value.size() == 10 && value[4] == '-' && value[7] == '-') {
    struct tm tm {};
    if (!::strptime(value.c_str(), "%Y-%m-%d", &tm)) return bad();
    return ::timegm(&tm);
  }
  std::string text = value;
  if (text.size() == 19 && text[10] == 'T') text += "Z";
  time_t t = parse_rfc3339_seconds(text);
  if (t == 0) return bad();
  return t;
}

SystemPruneReport system_prune(const std::string& store_root, const SystemPruneOptions& options) {
  SystemPruneReport report;
  ContainerDirectory directory(store_root);
  auto created_before = [&](const std::string& created) {
    return !options.until || (!created.empty() && parse_rfc3339_seconds(created) < *options.until);
  };

  for (const auto& c : all_containers(directory)) {
    if (c.active() || c.running() || !created_before(c.state.created)) continue;
    uint64_t size = (c.state.auto_remove ? 0 : tree_size(c.dir + "/upper")) + logs_size(c.dir);
    try {
      remove_container(store_root, c.state.id, false);
    } catch (const Error&) {
      continue;  // started meanwhile
    }
    report.containers.push_back(c.state.id);
    report.reclaimed += size;
  }

  if (options.volumes) {
    // Only anonymous volumes, as Docker 23 and later prune them: a volume
    // someone named is kept until it is removed by name.
    VolumeStore volumes(store_root);
    std::map<std::string, uint64_t> sizes;
    for (const auto& v : volumes.list()) sizes[v.name] = tree_size(v.mountpoint);
    auto users = [&](const std::string& name) { return volume_users(all_containers(directory), name); };
    auto named = [](const VolumeInfo& v) { return !v.labels.contains(std::string(kAnonymousVolumeLabel)); };
    report.volumes = volumes.prune(users, named);
    for (const auto& name : report.volumes) report.reclaimed += sizes[name];
  }

  Store store(store_root);
  int layers_removed = 0;
  uint64_t layer_bytes = 0;
  // What is in use is found, and images untagged, only once prune holds
  // the store: a container being made holds its lease until its state
  // names its image, so it is listed here or its image is left alone.
  auto in_use_roots = [&] {
    std::set<Digest> used = image_digests_of(all_containers(directory), false);
    std::set<Digest> before;
    for (const auto& d : store.read_index().manifests) before.insert(d.digest);
    for (const auto& root : image_roots(store)) {
      if (uses_any(root, used) || !created_before(root.created)) continue;
      if (root.name.empty()) {
        store.update_index([&](Index& index) {
          std::erase_if(index.manifests, [&](const Descriptor& d) {
            return d.digest == root.descriptor.digest &&
                   !d.annotations.contains(std::string(annotation::ref_name));
          });
        });
      } else if (options.all && !is_signature_tag(root.name)) {
        store.remove_name(root.name);
        report.untagged.push_back(root.name);
        record_event(store_root,
                     Event{EventType::image, "untag", root.descriptor.digest.str(), {{"name", root.name}}});
      }
    }
    std::set<Digest> after;
    for (const auto& d : store.read_index().manifests) after.insert(d.digest);
    for (const auto& d : before) {
      if (after.contains(d)) continue;
      report.deleted.push_back(d.str());
      record_event(store_root, Event{EventType::image, "delete", d.str(), {}});
    }
    std::vector<Descriptor> in_use;
    for (const auto& d : used) {
      auto text = read_file_if_exists(store.blob_path(d));
      if (text) in_use.push_back(Descriptor{sniff_media_type(*text), d, static_cast<int64_t>(text->size())});
    }
    return in_use;
  };
  PruneReport pruned = store.prune_locked(true, in_use_roots, [&](const std::set<Digest>& live) {
    for (const auto& hex : entries_of(store_root + "/layers/sha256")) {
      auto d = Digest::try_parse("sha256:" + hex);
      if (d && !live.contains(*d)) layer_bytes += tree_size(store_root + "/layers/sha256/" + hex);
    }
    layers_removed = LayerCache(store_root + "/layers").remove_unused(live);
  });
  report.cache_entries = pruned.cache_entries_removed;
  report.layers = layers_removed;
  report.reclaimed += pruned.bytes_freed + layer_bytes;
  return report;
}

}  // namespace gocrate
