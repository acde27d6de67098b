#pragma once

#include <string>
#include <vector>

#include "transport/registry/pull.h"
#include "trust/policy.h"

namespace gocrate {

// The signatures the registry holds for `subject` under cosign's `.sig` tag
// of the image's repository, as the policy wants them; none when registries.d
// turns use-sigstore-attachments off for the image.
std::vector<SignatureCandidate> registry_signatures(const RemoteImage& image, const Descriptor& subject);

// Applies the signature policy (load_policy_in_effect; none: nothing to
// check) to an image
// opened in a registry, before anything of it is stored or used. Fails with
// one line naming the image, the policy file, the scope and the reason.
// `action` starts the message: "pull", "base".
void enforce_registry_policy(const RemoteImage& image, const std::optional<PolicyInEffect>& policy,
                             std::string_view action);

}  // namespace gocrate
