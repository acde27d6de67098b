#include "store/store.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <set>

#include "image/media_types.h"
#include "image/reference.h"
#include "util/error.h"

namespace gocrate {

std::string default_store_root() {
  if (const char* root = std::getenv("GOCRATE_ROOT"); root && *root) return absolute_path(root);
  if (::geteuid() == 0) return "/var/lib/gocrate";
  if (const char* data = std::getenv("XDG_DATA_HOME"); data && *data) return std::string(data) + "/gocrate";
  if (const char* home = std::getenv("HOME"); home && *home)
    return std::string(home) + "/.local/share/gocrate";
  fail("cannot choose a store directory: set HOME, XDG_DATA_HOME or GOCRATE_ROOT, or pass --root");
}

namespace {

std::string name_of(const Descriptor& d) {
  auto it = d.annotations.find(std::string(annotation::ref_name));
  return it == d.annotations.end() ? std::string() : it->second;
}

bool is_hex(std::string_view text) {
  return !text.empty() && text.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

}  // namespace

Store::Store(std::string root) : OciLayout(std::move(root), true) {
  label_ = dir_;
}

FileLock Store::lease() const {
  return FileLock(dir_ + "/.gocrate/gc.lock", FileLock::Mode::shared);
}

std::string Store::canonical_name(std::string_view ref) {
  return Reference::parse(ref).with_default_tag().str();
}

std::vector<NamedImage> Store::images() const {
  std::vector<NamedImage> out;
  for (const auto& d : read_index().manifests) {
    std::string name = name_of(d);
    if (!name.empty()) out.push_back({name, d});
  }
  return out;
}

std::optional<NamedImage> Store::find(std::string_view text) {
  auto blob_image = [&](const Digest& digest, std::string name) -> std::optional<NamedImage> {
    if (!has_blob(digest)) return std::nullopt;
    auto content = read_file_if_exists(blob_path(digest));
    if (!content) return std::nullopt;
    Descriptor d{sniff_media_type(*content), digest, static_cast<int64_t>(content->size())};
    if (!media_type::is_index(d.media_type) && !media_type::is_manifest(d.media_type)) return std::nullopt;
    return NamedImage{std::move(name), d};
  };

  if (auto digest = Digest::try_parse(text)) return blob_image(*digest, std::string(text));
  auto named = images();
  if (auto ref = Reference::try_parse(text)) {
    if (ref->digest) return blob_image(*ref->digest, ref->str());
    Reference tagged = ref->with_default_tag();
    std::vector<std::string> candidates{tagged.str()};
    if (ref->domain.empty()) {
      std::string suffix =
          tagged.path.find('/') == std::string::npos ? "library/" + tagged.str() : tagged.str();
      candidates.push_back("docker.io/" + suffix);
      candidates.push_back("localhost/" + tagged.str());
    }
    for (const auto& candidate : candidates) {
      for (const auto& image : named) {
        if (image.name == candidate) return image;
      }
    }
  }
  std::string_view hex = text.starts_with("sha256:") ? text.substr(7) : text;
  if (hex.size() >= 4 && is_hex(hex)) {
    std::optional<NamedImage> match;
    for (const auto& image : named) {
      if (!image.descriptor.digest.hex.starts_with(hex)) continue;
      if (match && match->descriptor.digest != image.descriptor.digest) {
        fail("digest prefix {} is ambiguous: give more digits", hex);
      }
      match = image;
    }
    return match;
  }
  return std::nullopt;
}

NamedImage Store::resolve(std::string_view ref) {
  auto image = find(ref);
  if (!image) {
    fail("image {} not found in {}: list images with `gocrate images`, or build or pull it", ref, dir_);
  }
  return *image;
}

std::vector<Descriptor> Store::referrers(const Descriptor& root) {
  std::set<Digest> subjects{root.digest};
  if (media_type::is_index(root.media_type)) {
    for (const auto& m : Index::parse(read_blob(root), root.digest.str()).manifests)
      subjects.insert(m.digest);
  }
  std::vector<Descriptor> out;
  for (const auto& d : read_index().manifests) {
    if (!name_of(d).empty() || !media_type::is_manifest(d.media_type) || !has_blob(d.digest)) continue;
    Manifest m = Manifest::parse(read_blob(d), d.digest.str());
    if (m.subject && subjects.contains(m.subject->digest)) out.push_back(d);
  }
  return out;
}

void Store::set_name(const std::string& name, const Descriptor& root) {
  add_name(name, root);
  commit();
}

Descriptor Store::remove_name(const std::string& name) {
  std::optional<Descriptor> removed;
  update_index([&](Index& index) {
    std::vector<Descriptor> kept;
    for (const auto& d : index.manifests) {
      if (name_of(d) == name) {
        removed = d;
      } else {
        kept.push_back(d);
      }
    }
    if (!removed) return;
    // Manifests the remaining names reach, for deciding which artifacts stay.
    std::set<Digest> reachable;
    for (const auto& d : kept) {
      if (name_of(d).empty()) continue;
      reachable.insert(d.digest);
      if (media_type::is_index(d.media_type) && has_blob(d.digest)) {
        for (const auto& child : Index::parse(read_blob(d), d.digest.str()).manifests)
          reachable.insert(child.digest);
      }
    }
    std::erase_if(kept, [&](const Descriptor& d) {
      if (!name_of(d).empty() || !has_blob(d.digest)) return false;
      Manifest m = Manifest::parse(read_blob(d), d.digest.str());
      return m.subject && !reachable.contains(m.subject->digest);
    });
    index.manifests = std::move(kept);
  });
  if (!removed) fail("image {} not found in {}: list images with `gocrate images`", name, dir_);
  return *removed;
}

namespace {

void mark(OciLayout& layout, const Descriptor& d, std::set<Digest>& live) {
  if (!live.insert(d.digest).second || !layout.has_blob(d.digest)) return;
  if (media_type::is_index(d.media_type)) {
    for (const auto& child : Index::parse(layout.read_blob(d), d.digest.str()).manifests)
      mark(layout, child, live);
  } else if (media_type::is_manifest(d.media_type)) {
    Manifest m = Manifest::parse(layout.read_blob(d), d.digest.str());
    mark(layout, m.config, live);
    for (const auto& layer : m.layers) mark(layout, layer, live);
  }
}

template <typename Visit>
void for_each_entry(const std::string& dir, Visit visit) {
  DIR* d = ::opendir(dir.c_str());
  if (!d) return;
  while (dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name != "." && name != "..") visit(name);
  }
  ::closedir(d);
}

}  // namespace

PruneReport Store::prune(bool wait, const std::vector<Descriptor>& extra_roots,
                         const std::function<void(const std::set<Digest>& live)>& also) {
  return prune_locked(
      wait, [&] { return extra_roots; }, also);
}

PruneReport Store::prune_locked(bool wait, const std::function<std::vector<Descriptor>()>& roots,
                                const std::function<void(const std::set<Digest>& live)>& also) {
  PruneReport report;
  auto exclusive = FileLock::acquire(dir_ + "/.gocrate/gc.lock", FileLock::Mode::exclusive, wait);
  if (!exclusive) return report;
  std::vector<Descriptor> extra_roots = roots ? roots() : std::vector<Descriptor>{};
  std::set<Digest> live;
  for (const auto& d : read_index().manifests) mark(*this, d, live);
  for (const auto& d : extra_roots) mark(*this, d, live);

  std::string blobs = dir_ + "/blobs/sha256";
  for_each_entry(blobs, [&](const std::string& name) {
    auto digest = Digest::try_parse("sha256:" + name);
    if (digest && live.contains(*digest)) return;
    std::string path = blobs + "/" + name;
    struct stat st;
    if (::lstat(path.c_str(), &st) == 0 && ::unlink(path.c_str()) == 0) {
      ++report.blobs_removed;
      report.bytes_freed += st.st_size;
    }
  });
  std::string cache = dir_ + "/cache";
  for_each_entry(cache, [&](const std::string& kind) {
    for_each_entry(cache + "/" + kind, [&](const std::string& key) {
      std::string path = cache + "/" + kind + "/" + key;
      auto value = read_file_if_exists(path);
      auto parsed = nlohmann::json::parse(value.value_or(""), nullptr, false);
      std::string blob = parsed.is_object() ? parsed.value("digest", "") : "";
      auto digest = Digest::try_parse(blob);
      if (!digest || !has_blob(*digest)) {
        ::unlink(path.c_str());
        ++report.cache_entries_removed;
      }
    });
  });
  remove_stale_ingests();
  std::string corrupt = dir_ + "/.gocrate/corrupt";
  if (path_exists(corrupt)) remove_tree(corrupt);
  if (also) also(live);
  return report;
}

std::optional<std::string> Store::cache_get(std::string_view kind, std::string_view key) const {
  return read_file_if_exists(fmt::format("{}/cache/{}/{}", dir_, kind, key));
}

void Store::cache_put(std::string_view kind, std::string_view key, std::string_view value) const {
  std::string dir = fmt::format("{}/cache/{}", dir_, kind);
  make_directories(dir);
  write_file_replace(fmt::format("{}/{}", dir, key), value);
}

}  // namespace gocrate
