#include "transport/registry/pull.h"

#include <mutex>

#include "image/media_types.h"
#include "image/reference.h"
#include "transport/diff_id_verifier.h"
#include "transport/registry/transfer_display.h"
#include "util/error.h"

namespace gocrate {

namespace {

std::string_view without_scheme(std::string_view location) {
  if (location.starts_with("docker://")) location.remove_prefix(9);
  return location;
}

}  // namespace

bool names_registry(std::string_view location) {
  if (location.starts_with("docker://")) return true;
  auto ref = Reference::try_parse(location);
  return ref && !ref->domain.empty();
}

RemoteImage open_remote_image(std::string_view reference, const RegistryOptions& options) {
  Reference ref = Reference::parse(without_scheme(reference)).with_default_tag();
  auto client = std::make_shared<RegistryClient>(ref.registry(), options);
  auto source = std::make_shared<RegistrySource>(client, ref.repository());
  std::string name = ref.str();
  Descriptor root = source->resolve(ref.digest ? ref.digest->str() : ref.tag, name);
  return {source, root, name};
}

PullResult pull_image(Store& store, std::string_view reference, const PullOptions& options) {
  RemoteImage remote = open_remote_image(reference, options.registry);
  TransferDisplay display(options.show_progress && Progress::stderr_is_terminal());
  remote.source->set_display(&display);

  // The layers are checked against their configs' diff_ids on their way in;
  // the verifier keeps the manifests and configs it reads.
  DiffIdVerifier verified(*remote.source, store);
  Descriptor target = remote.root;
  if (!options.all_platforms && media_type::is_index(remote.root.media_type)) {
    target = load_platform_image(verified, remote.root, options.platform, remote.name).descriptor;
  } else if (options.platform && media_type::is_manifest(remote.root.media_type)) {
    load_platform_image(verified, remote.root, options.platform, remote.name);
  }
  // A digest reference names the content it was resolved to.
  Reference name = Reference::parse(remote.name);
  if (name.digest) name.digest = target.digest;

  PullResult result;
  std::mutex result_mutex;
  CopyProgress progress;
  progress.jobs = options.jobs;
  progress.on_blob = [&](const Descriptor& blob, bool skipped) {
    std::lock_guard lock(result_mutex);
    if (skipped) {
      result.blobs_present++;
      display.finished(blob, "exists");
    } else {
      result.blobs_fetched++;
      result.bytes_fetched += blob.size;
      display.finished(blob, "pulled");
    }
  };
  FileLock lease = store.lease();
  verified.expect(target, remote.name);
  copy_image(verified, target, store, progress);
  if (options.referrers) {
    std::vector<Digest> subjects{target.digest};
    if (media_type::is_index(target.media_type)) {
      for (const auto& m : Index::parse(remote.source->read_blob(target), remote.name).manifests) {
        subjects.push_back(m.digest);
      }
    }
    for (const auto& subject : subjects) {
      for (auto& referrer : remote.source->referrers(subject)) {
        copy_image(*remote.source, referrer, store, progress);
        store.add_referrer(referrer);
        result.referrers.push_back(referrer);
      }
    }
  }
  display.finish();
  Descriptor recorded = target;
  recorded.platform.reset();
  store.set_name(name.str(), recorded);
  result.image = NamedImage{name.str(), recorded};
  return result;
}

}  // namespace gocrate
