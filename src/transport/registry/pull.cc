#include "transport/registry/pull.h"

#include <fmt/format.h>

#include <future>
#include <mutex>

#include "image/media_types.h"
#include "image/reference.h"
#include "store/events.h"
#include "transport/diff_id_verifier.h"
#include "transport/registry/transfer_display.h"
#include "trust/attachments.h"
#include "trust/policy.h"
#include "trust/registry_policy.h"
#include "util/error.h"
#include "util/process.h"

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

namespace {

// Whether a referrer is one of cosign's signature or attestation manifests.
bool is_attachment_manifest(BlobSource& source, const Descriptor& d) {
  Manifest m = Manifest::parse(source.read_blob(d), d.digest.str());
  if (m.layers.empty()) return false;
  for (const auto& layer : m.layers) {
    if (layer.media_type != media_type::simple_signing && layer.media_type != media_type::dsse_envelope)
      return false;
  }
  return true;
}

}  // namespace

PullResult pull_image(Store& store, std::string_view reference, const PullOptions& options) {
  auto began = std::chrono::steady_clock::now();
  auto policy = load_policy_in_effect(options.signature_policy);
  RemoteImage remote = open_remote_image(reference, options.registry);
  enforce_registry_policy(remote, policy, "pull");
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
  std::vector<Descriptor> pulled{target};
  if (media_type::is_index(target.media_type)) {
    for (const auto& m : Index::parse(remote.source->read_blob(target), remote.name).manifests) {
      if (media_type::is_manifest(m.media_type)) pulled.push_back(m);
    }
  }
  // Signatures and attestations are fetched while the blobs are copied.
  auto attachments = std::async(std::launch::async, [&] {
    std::vector<Attachment> found;
    if (RegistriesD::load().use_sigstore_attachments(Reference::parse(remote.name)) == false) return found;
    std::vector<Descriptor> subjects = pulled;
    if (remote.root.digest != target.digest) subjects.insert(subjects.begin(), remote.root);
    for (const auto& d : subjects) {
      Descriptor subject{d.media_type, d.digest, d.size};
      for (auto kind : {AttachmentKind::signature, AttachmentKind::attestation}) {
        // The policy was decided before the copy; what the registry cannot
        // give here is only missing from the store's copy.
        try {
          if (auto attachment = fetch_registry_attachment(*remote.source, subject, kind))
            found.push_back(std::move(*attachment));
        } catch (const Error& e) {
          fmt::print(stderr, "gocrate: warning: {} kept without its {}: {}\n", remote.name,
                     kind == AttachmentKind::signature ? "signatures" : "attestations", e.what());
        }
      }
    }
    return found;
  });
  copy_image(verified, target, store, progress);
  if (options.referrers) {
    for (const auto& subject : pulled) {
      for (auto& referrer : remote.source->referrers(subject.digest)) {
        // cosign's tags below are where signatures and attestations are read.
        if (is_attachment_manifest(*remote.source, referrer)) continue;
        copy_image(*remote.source, referrer, store, progress);
        store.add_referrer(referrer);
        result.referrers.push_back(referrer);
      }
    }
  }
  std::vector<Attachment> signed_by = attachments.get();
  display.finish();
  Descriptor recorded = target;
  recorded.platform.reset();
  store.set_name(name.str(), recorded);
  record_image_event(store.dir(), "pull", recorded.digest.str(), name.str(), seconds_since(began));
  for (const auto& attachment : signed_by) merge_store_attachment(store, attachment);
  result.image = NamedImage{name.str(), recorded};
  return result;
}

}  // namespace gocrate
