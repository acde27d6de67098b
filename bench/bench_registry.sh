#!/usr/bin/env bash
# Registry transfers, gocrate against skopeo and podman, on a local
# docker-registry: push of examples/hello and of a 50 MB image of 5 layers
# (cold: the registry is emptied before each run), re-push of an unchanged
# image, pull into an empty store. One hyperfine run per case; prints ratios.
# Usage: bench/bench_registry.sh [path/to/gocrate]
source "$(dirname "$0")/common.sh"
here=$BENCH_DIR
source_dir=$REPO_DIR
gocrate=$GOCRATE
runs=${RUNS:-10}
for tool in hyperfine skopeo podman docker-registry python3; do
  command -v "$tool" >/dev/null || { echo "bench: $tool is missing (scripts/install-deps.sh installs it)" >&2; exit 1; }
done

work=$(mktemp -d /tmp/gocrate-bench-registry.XXXXXX)
cleanup() {
  stop_registry
  podman --root "$work/podman" --runroot "$work/podman-run" --storage-driver vfs rmi -af >/dev/null 2>&1 || true
  umount -R "$work/podman" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

start_registry
reg=$REGISTRY

store=$work/store
podman_flags=(--root "$work/podman" --runroot "$work/podman-run" --storage-driver vfs --cgroup-manager cgroupfs)
empty_registry="rm -rf $REGISTRY_DIR/data/docker"

echo "== images"
(cd "$source_dir/examples/hello" &&
  "$gocrate" --root "$store" build . -q --sbom none --provenance none -t "$reg/hello:v1" --oci-layout "$work/hello-layout" >/dev/null)
python3 "$here/make_layout.py" "$work/big-layout" big 5 10
(cd "$work/big-layout" && tar -cf "$work/big.tar" .)
"$gocrate" --root "$store" load -q -i "$work/big.tar"
big_digest=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["manifests"][0]["digest"])' \
  "$work/big-layout/index.json")
"$gocrate" --root "$store" tag "$big_digest" "$reg/big:v1"

results=$work/results
mkdir -p "$results"

echo "== push examples/hello (cold)"
bench push-hello \
  --prepare "$empty_registry" -n gocrate "$gocrate --root $store push -q $reg/hello:v1" \
  --prepare "$empty_registry" -n skopeo "skopeo copy -q --dest-tls-verify=false oci:$work/hello-layout:v1 docker://$reg/hello:v1"

echo "== push 50 MB in 5 layers (cold)"
bench push-big \
  --prepare "$empty_registry" -n gocrate "$gocrate --root $store push -q $reg/big:v1" \
  --prepare "$empty_registry" -n skopeo "skopeo copy -q --dest-tls-verify=false oci:$work/big-layout:big docker://$reg/big:v1"

echo "== re-push of an unchanged image"
"$gocrate" --root "$store" push -q "$reg/hello:v1" >/dev/null
"$gocrate" --root "$store" push -q "$reg/big:v1" >/dev/null
bench repush \
  -n gocrate "$gocrate --root $store push -q $reg/hello:v1" \
  -n skopeo "skopeo copy -q --dest-tls-verify=false oci:$work/hello-layout:v1 docker://$reg/hello:v1"

echo "== pull 50 MB in 5 layers into an empty store"
bench pull-big \
  --prepare "rm -rf $work/pull-store" -n gocrate "$gocrate --root $work/pull-store pull -q $reg/big:v1" \
  --prepare "rm -rf $work/pull-oci" -n "skopeo oci" "skopeo copy -q --src-tls-verify=false docker://$reg/big:v1 oci:$work/pull-oci:big" \
  --prepare "bash -c 'podman ${podman_flags[*]} rmi -af >/dev/null 2>&1 || true'" -n podman "podman ${podman_flags[*]} pull -q --tls-verify=false $reg/big:v1"

echo "== pull examples/hello into an empty store"
bench pull-hello \
  --prepare "rm -rf $work/pull-store" -n gocrate "$gocrate --root $work/pull-store pull -q $reg/hello:v1" \
  --prepare "rm -rf $work/pull-oci" -n "skopeo oci" "skopeo copy -q --src-tls-verify=false docker://$reg/hello:v1 oci:$work/pull-oci:hello" \
  --prepare "bash -c 'podman ${podman_flags[*]} rmi -af >/dev/null 2>&1 || true'" -n podman "podman ${podman_flags[*]} pull -q --tls-verify=false $reg/hello:v1"

echo
echo "== summary (mean wall time; ratio = peer / gocrate, above 1 means gocrate is faster)"
python3 - "$results" <<'PY'
import json, os, sys
for name in ["push-hello", "push-big", "repush", "pull-hello", "pull-big"]:
    runs = json.load(open(os.path.join(sys.argv[1], f"{name}.json")))["results"]
    ours = runs[0]["mean"]
    peers = ", ".join(f"{r['command']} {r['mean'] * 1000:.1f} ms ({r['mean'] / ours:.2f}x)" for r in runs[1:])
    print(f"{name:<11} gocrate {ours * 1000:.1f} ms; {peers}")
PY
