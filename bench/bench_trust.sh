#!/usr/bin/env bash
# Signing and verification, on examples/hello in a local docker-registry and in the store:
#   sign:   `gocrate sign REF --key K` (a signature pushed under cosign's sha256-….sig tag) against
#           `skopeo copy --sign-by-sigstore-private-key K` of the same image to another tag of the
#           same repository (its blobs are there already: a manifest, a signature); the .sig tags
#           are removed before every run so that each run signs an unsigned image (gocrate
#           signs from an empty store, which would otherwise keep a copy of each signature).
#   verify: `gocrate verify IMAGE --key K.pub` of a store image, absolute time.
#   run:    `gocrate run --rm hello once` with and without --signature-policy requiring a
#           signature by K; the image was loaded (not built here), so the policy is checked
#           against its signature on every run.
# Prints means and the ratios.
# Debian 12's skopeo is built with sigstore switched off; GOCRATE_SKOPEO names another skopeo (1.10 or
# later), and without one that can sign the sign comparison is skipped, saying so.
# Usage: bench/bench_trust.sh [path/to/gocrate]
source "$(dirname "$0")/common.sh"
gocrate=$GOCRATE
runs=${RUNS:-30}
skopeo=${GOCRATE_SKOPEO:-skopeo}
for tool in hyperfine "$skopeo" docker-registry python3; do
  have "$tool" || { echo "bench: $tool is missing (scripts/install-deps.sh installs it)" >&2; exit 1; }
done

work=$(mktemp -d /tmp/gocrate-bench-trust.XXXXXX)
cleanup() {
  stop_registry
  rm -rf "$work"
}
trap cleanup EXIT

start_registry
reg=$REGISTRY
export GOCRATE_PASSWORD=bench-passphrase
printf %s "$GOCRATE_PASSWORD" >"$work/passphrase"
mkdir -p "$work/registries.d"
printf 'docker:\n  %s:\n    use-sigstore-attachments: true\n' "$reg" >"$work/registries.d/bench.yaml"
export GOCRATE_REGISTRIES_D=$work/registries.d
printf '{"default": [{"type": "insecureAcceptAnything"}]}\n' >"$work/accept.json"

echo "== images and a key"
builder=$work/builder
store=$work/store
"$gocrate" key generate --output-key-prefix "$work/bench" >/dev/null
(cd "$REPO_DIR/examples/hello" && "$gocrate" --root "$builder" build . -q --sbom none -t hello >/dev/null)
"$gocrate" --root "$builder" save hello -o "$work/hello.tar"
"$gocrate" --root "$store" load -q -i "$work/hello.tar"
"$gocrate" --root "$store" tag hello "$reg/hello:v1"
"$gocrate" --root "$store" push -q "$reg/hello:v1" >/dev/null
"$gocrate" --root "$store" sign hello --key "$work/bench.key" >/dev/null
cat >"$work/signed.json" <<JSON
{"default": [{"type": "sigstoreSigned", "keyPath": "$work/bench.pub"}]}
JSON
"$gocrate" --root "$store" run --rm --signature-policy "$work/signed.json" hello once >/dev/null

results=$work/results
mkdir -p "$results"
bench_warmup=2

echo "== sign an image in the registry"
unsign="bash -c 'rm -rf $REGISTRY_DIR/data/docker/registry/v2/repositories/hello/_manifests/tags/sha256-*.sig'"
skopeo_sign="$skopeo copy -q --policy $work/accept.json --registries.d $work/registries.d --src-tls-verify=false --dest-tls-verify=false --sign-by-sigstore-private-key $work/bench.key --sign-passphrase-file $work/passphrase docker://$reg/hello:v1 docker://$reg/hello:skopeo"
peer=(--prepare "$unsign" -n "skopeo copy --sign-by-sigstore-private-key" "$skopeo_sign")
if ! probe=$($skopeo_sign 2>&1); then
  printf '\n*** SKIPPING skopeo sign: %s cannot sign here (%s); GOCRATE_SKOPEO=... names one that can ***\n\n' \
    "$skopeo" "$(tail -1 <<<"$probe")" >&2
  peer=()
fi
bench sign \
  --prepare "$unsign" -n "gocrate sign" "$gocrate --root $work/signer sign $reg/hello:v1 --key $work/bench.key" \
  "${peer[@]}"

echo "== verify a store image"
bench verify -n "gocrate verify" "$gocrate --root $store verify hello --key $work/bench.pub"

echo "== run with and without a policy requiring a signature"
bench run \
  -n "gocrate run" "$gocrate --root $store run --rm hello once" \
  -n "gocrate run --signature-policy" "$gocrate --root $store run --rm --signature-policy $work/signed.json hello once"

echo
echo "== summary (mean wall time)"
python3 - "$results" <<'PY'
import json, os, sys
load = lambda name: json.load(open(os.path.join(sys.argv[1], f"{name}.json")))["results"]
sign = load("sign")
print(f"sign:   gocrate {sign[0]['mean'] * 1e3:.1f} ms; " + (
    f"skopeo {sign[1]['mean'] * 1e3:.1f} ms ({sign[1]['mean'] / sign[0]['mean']:.2f}x gocrate's time)"
    if len(sign) > 1 else "skopeo skipped (it cannot sign here)"))
verify = load("verify")[0]
print(f"verify: gocrate {verify['mean'] * 1e3:.2f} ms (median {verify['median'] * 1e3:.2f}, "
      f"min {verify['min'] * 1e3:.2f})")
plain, policed = load("run")
print(f"run:    {plain['mean'] * 1e3:.2f} ms without a policy, {policed['mean'] * 1e3:.2f} ms with one requiring "
      f"a signature: {(policed['mean'] - plain['mean']) * 1e3:+.2f} ms ({policed['mean'] / plain['mean']:.2f}x)")
PY
