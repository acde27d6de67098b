#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "image/digest.h"

namespace gocrate {

// The payload cosign and containers/image sign for an image (the "simple
// signing" format, cosign's variant):
//   {"critical":{"identity":{"docker-reference":REF},
//                "image":{"docker-manifest-digest":DIGEST},
//                "type":"cosign container image signature"},
//    "optional":OPTIONAL}
struct SignaturePayload {
  std::string docker_reference;  // "localhost:5000/app:v1" or "localhost:5000/app"
  Digest manifest_digest;
  nlohmann::json optional;  // null, or an object ({"creator": ..., "timestamp": ...})
};

std::string make_signature_payload(const SignaturePayload& payload);
// As strict as containers/image: exactly the fields above in "critical",
// the right "type"; errors name `what`.
SignaturePayload parse_signature_payload(std::string_view json_text, std::string_view what);

}  // namespace gocrate
