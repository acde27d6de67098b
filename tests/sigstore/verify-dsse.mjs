// Verifies a DSSE envelope (as cosign stores attestations) against a plain
// PEM public key with sigstore-js, offline: no transparency log, no
// certificate authority, just the key.
//   node verify-dsse.mjs ENVELOPE.json KEY.pub
// Prints the payload type and exits 0 when the signature verifies; prints
// the reason and exits 1 when it does not.
import { readFileSync } from "node:fs";
import { bundleFromJSON } from "@sigstore/bundle";
import { Verifier, toSignedEntity, toTrustMaterial } from "@sigstore/verify";

const [envelopePath, keyPath] = process.argv.slice(2);
if (!envelopePath || !keyPath) {
  console.error("usage: node verify-dsse.mjs ENVELOPE.json KEY.pub");
  process.exit(2);
}
const envelope = JSON.parse(readFileSync(envelopePath, "utf8"));
const pem = readFileSync(keyPath, "utf8");
const der = Buffer.from(pem.replace(/-----[^-]+-----/g, "").replace(/\s+/g, ""), "base64");

try {
  const bundle = bundleFromJSON({
    mediaType: "application/vnd.dev.sigstore.bundle.v0.3+json",
    verificationMaterial: { publicKey: { hint: "key" }, tlogEntries: [],
                            timestampVerificationData: { rfc3161Timestamps: [] } },
    dsseEnvelope: envelope,
  });
  const trust = toTrustMaterial(
    { certificateAuthorities: [], timestampAuthorities: [], tlogs: [], ctlogs: [] },
    { key: { rawBytes: der, keyDetails: "PKIX_ECDSA_P256_SHA_256" } });
  new Verifier(trust, { tlogThreshold: 0, ctlogThreshold: 0, tsaThreshold: 0 }).verify(toSignedEntity(bundle));
  console.log(`verified: ${envelope.payloadType}`);
} catch (e) {
  console.log(`not verified: ${e.message}`);
  process.exit(1);
}
