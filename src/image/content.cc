#include "image/content.h"

#include <algorithm>
#include <atomic>
#include <exception>
#include <mutex>
#include <set>
#include <thread>

#include "image/media_types.h"
#include "util/error.h"
#include "util/strings.h"

namespace gocrate {

void ImageSink::put_blob(const Descriptor& descriptor, std::string_view content) {
  StringReader reader(content);
  put_blob(descriptor, reader);
}

void drain(ByteReader& reader) {
  char buffer[65536];
  while (reader.read(buffer, sizeof buffer) > 0) {
  }
}

namespace {

bool is_attestation(const Descriptor& d) {
  // BuildKit stores provenance as index entries with platform unknown/unknown.
  return d.platform && (d.platform->os == "unknown" || d.platform->architecture == "unknown");
}

PlatformImage load_manifest(BlobSource& source, const Descriptor& descriptor, std::string_view image_name) {
  PlatformImage image;
  image.descriptor = descriptor;
  std::string manifest_text = source.read_blob(descriptor);
  image.manifest =
      Manifest::parse(manifest_text, fmt::format("manifest {} of {}", descriptor.digest.str(), image_name));
  std::string config_text = source.read_blob(image.manifest.config);
  image.config = ImageConfig::parse(config_text, fmt::format("config of {}", image_name));
  if (image.config.diff_ids.size() != image.manifest.layers.size()) {
    fail("image {} is inconsistent: its manifest lists {} layers but its config {}", image_name,
         image.manifest.layers.size(), image.config.diff_ids.size());
  }
  if (!image.descriptor.platform) image.descriptor.platform = image.config.platform();
  return image;
}

Index load_index(BlobSource& source, const Descriptor& root, std::string_view image_name) {
  return Index::parse(source.read_blob(root), fmt::format("index {} of {}", root.digest.str(), image_name));
}

}  // namespace

PlatformImage load_platform_image(BlobSource& source, const Descriptor& root,
                                  const std::optional<Platform>& wanted, std::string_view image_name) {
  if (media_type::is_manifest(root.media_type)) {
    PlatformImage image = load_manifest(source, root, image_name);
    Platform have = image.config.platform();
    if (wanted && !have.runs_on(*wanted)) {
      fail("image {} is for {} only, not {}: build it for {} (--platform {})", image_name, have.str(),
           wanted->str(), wanted->str(), wanted->str());
    }
    return image;
  }
  if (!media_type::is_index(root.media_type)) {
    fail("{} is not an image (media type {})", image_name, root.media_type);
  }
  Index index = load_index(source, root, image_name);
  std::vector<Platform> platforms;
  std::vector<const Descriptor*> entries;
  for (const auto& entry : index.manifests) {
    if (!media_type::is_manifest(entry.media_type) || is_attestation(entry) || !entry.platform) continue;
    platforms.push_back(*entry.platform);
    entries.push_back(&entry);
  }
  Platform target = wanted ? *wanted : Platform::host();
  auto match = best_platform_match(platforms, target);
  if (!match) {
    std::vector<std::string> names;
    for (const auto& p : platforms) names.push_back(p.str());
    fail("image {} has no variant for {}: it has {}", image_name, target.str(),
         names.empty() ? "no platform entries" : join(names, ", "));
  }
  return load_manifest(source, *entries[*match], image_name);
}

std::vector<PlatformImage> load_all_platform_images(BlobSource& source, const Descriptor& root,
                                                    std::string_view image_name) {
  if (media_type::is_manifest(root.media_type)) return {load_manifest(source, root, image_name)};
  if (!media_type::is_index(root.media_type))
    fail("{} is not an image (media type {})", image_name, root.media_type);
  std::vector<PlatformImage> images;
  for (const auto& entry : load_index(source, root, image_name).manifests) {
    if (!media_type::is_manifest(entry.media_type) || is_attestation(entry)) continue;
    images.push_back(load_manifest(source, entry, image_name));
  }
  return images;
}

namespace {

void copy_blob(BlobSource& source, const Descriptor& d, ImageSink& sink, const CopyProgress& progress) {
  if (sink.has_blob(d)) {
    if (progress.on_blob) progress.on_blob(d, true);
    return;
  }
  sink.put_blob_from(d, [&] { return source.open_blob(d); });
  if (progress.on_blob) progress.on_blob(d, false);
}

// What a copy writes: the leaves (configs, layers) once each, then the
// manifests and indexes the sink lacks, children before parents.
struct CopyPlan {
  std::vector<Descriptor> leaves;
  std::vector<std::pair<Descriptor, std::string>> parents;
  std::set<Digest> seen;
};

void plan_copy(BlobSource& source, const Descriptor& d, ImageSink& sink, CopyPlan& plan) {
  if (!plan.seen.insert(d.digest).second) return;
  if (media_type::is_index(d.media_type)) {
    if (sink.has_blob(d)) return;
    std::string text = source.read_blob(d);
    Index index = Index::parse(text, fmt::format("index {}", d.digest.str()));
    for (const auto& child : index.manifests) plan_copy(source, child, sink, plan);
    plan.parents.emplace_back(d, std::move(text));
  } else if (media_type::is_manifest(d.media_type)) {
    if (sink.has_blob(d)) return;
    std::string text = source.read_blob(d);
    Manifest manifest = Manifest::parse(text, fmt::format("manifest {}", d.digest.str()));
    plan_copy(source, manifest.config, sink, plan);
    for (const auto& layer : manifest.layers) plan_copy(source, layer, sink, plan);
    plan.parents.emplace_back(d, std::move(text));
  } else {
    plan.leaves.push_back(d);
  }
}

// Runs work(0..count-1) on up to `jobs` threads; the first error stops the
// rest from starting and is rethrown.
void for_each_parallel(size_t count, int jobs, const std::function<void(size_t)>& work) {
  if (jobs <= 1 || count <= 1) {
    for (size_t i = 0; i < count; ++i) work(i);
    return;
  }
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  std::exception_ptr error;
  std::mutex error_mutex;
  std::vector<std::thread> threads;
  for (size_t t = 0; t < std::min<size_t>(jobs, count); ++t) {
    threads.emplace_back([&] {
      while (!failed) {
        size_t i = next++;
        if (i >= count) return;
        try {
          work(i);
        } catch (...) {
          std::lock_guard lock(error_mutex);
          if (!error) error = std::current_exception();
          failed = true;
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  if (error) std::rethrow_exception(error);
}

}  // namespace

void ImageSink::put_blob_from(const Descriptor& descriptor, const BlobOpener& open) {
  auto reader = open();
  put_blob(descriptor, *reader);
}

void copy_image(BlobSource& source, const Descriptor& root, ImageSink& sink, const CopyProgress& progress) {
  CopyPlan plan;
  plan_copy(source, root, sink, plan);
  // Largest first: with fewer jobs than blobs, the longest copy starts at once.
  std::stable_sort(plan.leaves.begin(), plan.leaves.end(),
                   [](const Descriptor& a, const Descriptor& b) { return a.size > b.size; });
  for_each_parallel(plan.leaves.size(), progress.jobs,
                    [&](size_t i) { copy_blob(source, plan.leaves[i], sink, progress); });
  for (const auto& [descriptor, text] : plan.parents) sink.put_blob(descriptor, text);
}

}  // namespace gocrate
