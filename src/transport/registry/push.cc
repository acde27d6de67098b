#include "transport/registry/push.h"

#include <set>

#include "image/media_types.h"
#include "image/reference.h"
#include "store/events.h"
#include "transport/registry/registry_sink.h"
#include "transport/registry/transfer_display.h"
#include "trust/attachments.h"
#include "util/error.h"
#include "util/process.h"

namespace gocrate {

namespace {

Reference destination_reference(std::string_view destination, const NamedImage& image) {
  Reference ref = Reference::parse(destination);
  if (ref.domain.empty()) {
    fail(
        "cannot push to {}: it names no registry; write HOST[:PORT]/REPOSITORY[:TAG] (docker.io/USER/NAME "
        "for "
        "Docker Hub), or set GOCRATE_DOCKER_REPO for builds",
        destination);
  }
  if (ref.digest && *ref.digest != image.descriptor.digest) {
    fail("cannot push {} as {}: the image's digest is {}", image.name, destination,
         image.descriptor.digest.str());
  }
  return ref.with_default_tag();
}

// Repositories of the same registry that hold the image under another name:
// blobs can be mounted from them instead of uploaded.
std::vector<std::string> mount_candidates(Store& store, const NamedImage& image,
                                          const Reference& destination) {
  std::vector<std::string> same_image, others;
  for (const auto& named : store.images()) {
    auto ref = Reference::try_parse(named.name);
    if (!ref || ref->domain.empty() || ref->registry() != destination.registry()) continue;
    if (ref->repository() == destination.repository()) continue;
    auto& list = named.descriptor.digest == image.descriptor.digest ? same_image : others;
    list.push_back(ref->repository());
  }
  same_image.insert(same_image.end(), others.begin(), others.end());
  return same_image;
}

}  // namespace

PushResult push_image(Store& store, const NamedImage& image, std::string_view destination,
                      const PushOptions& options) {
  auto began = std::chrono::steady_clock::now();
  Reference ref = destination_reference(destination, image);
  auto client = std::make_shared<RegistryClient>(ref.registry(), options.registry);
  TransferDisplay display(options.show_progress && Progress::stderr_is_terminal());
  RegistrySinkOptions sink_options;
  sink_options.mount_from = mount_candidates(store, image, ref);
  sink_options.chunk_size = options.chunk_size;
  sink_options.display = &display;
  RegistrySink sink(client, ref.repository(), sink_options);

  CopyProgress progress;
  progress.jobs = options.jobs;
  Descriptor root = image.descriptor;
  root.annotations.clear();
  root.platform.reset();
  if (!ref.tag.empty()) sink.put_root_as(ref.tag, root.digest);
  copy_image(store, root, sink, progress);
  PushResult result;
  std::vector<Descriptor> attachments;
  for (const auto& referrer : store.referrers(root)) {
    Descriptor artifact = referrer;
    artifact.annotations.clear();
    copy_image(store, artifact, sink, progress);
    sink.add_referrer(artifact);
    result.referrers.push_back(artifact);
    if (attachment_kind(referrer)) attachments.push_back(referrer);
  }
  if (!ref.tag.empty()) sink.add_name(ref.tag, root);
  sink.commit();
  // cosign and containers/image find signatures and attestations under
  // cosign's tags, merged with what the tags already hold.
  for (const auto& d : attachments) {
    Manifest m =
        Manifest::parse(store.read_blob(d), fmt::format("attachment {} in {}", d.digest.str(), store.dir()));
    if (!m.subject) continue;
    Attachment attachment = read_attachment(store, d, *m.subject, *attachment_kind(d));
    push_registry_attachment(ref.registry() + "/" + ref.repository(), attachment, options.registry);
  }
  display.finish();
  record_image_event(store.dir(), "push", root.digest.str(), ref.str(), seconds_since(began));

  result.reference = ref.str();
  result.root = root;
  result.uploaded = sink.counts().uploaded;
  result.mounted = sink.counts().mounted;
  result.skipped = sink.counts().skipped;
  result.bytes_uploaded = sink.counts().bytes_uploaded;
  return result;
}

}  // namespace gocrate
