#include "trust/registry_policy.h"

#include "image/reference.h"
#include "trust/attachments.h"
#include "util/error.h"

namespace gocrate {

std::vector<SignatureCandidate> registry_signatures(const RemoteImage& image, const Descriptor& subject) {
  Reference ref = Reference::parse(image.name);
  if (RegistriesD::load().use_sigstore_attachments(ref) == false) return {};
  auto attachment = fetch_registry_attachment(*image.source, subject, AttachmentKind::signature);
  std::vector<SignatureCandidate> out;
  if (!attachment) return out;
  std::string tag = attachment_tag(subject.digest, AttachmentKind::signature);
  for (size_t i = 0; i < attachment->entries.size(); ++i) {
    const auto& entry = attachment->entries[i];
    if (entry.media_type != media_type::simple_signing) continue;
    out.push_back({entry.content, entry.signature,
                   fmt::format("signature {} of {}/{}:{}", i + 1, image.source->client().registry(),
                               image.source->repository(), tag)});
  }
  return out;
}

void enforce_registry_policy(const RemoteImage& image, const std::optional<PolicyInEffect>& policy,
                             std::string_view action) {
  if (!policy) return;
  Reference ref = Reference::parse(image.name);
  PolicyDecision decision = policy->policy.evaluate("docker", ref, image.root.digest,
                                                    [&] { return registry_signatures(image, image.root); });
  if (!decision.accepted) {
    fail("{} {} refused by policy {} (scope {}): {}", action, image.name, policy->path, decision.scope,
         decision.reason);
  }
}

}  // namespace gocrate
