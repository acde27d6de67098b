#!/usr/bin/env bash
# Binary -> compressed image in the store: gocrate pack against buildah bud
# (FROM scratch + COPY, which does not even compress) and docker build of the
# same binary, in one hyperfine run; then the bytes the image adds over the
# compressed binary.
source "$(dirname "$0")/common.sh"
work=$(mktemp -d /tmp/gocrate-bench-pack-XXXXXX)
trap 'stop_dockerd; rm -rf "$work"' EXIT

note "building examples/hello (CGO_ENABLED=0, -trimpath, -ldflags='-s -w')"
(cd "$REPO_DIR/examples/hello" && CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$work/ctx/hello" .)
printf 'FROM scratch\nCOPY hello /app/hello\nENTRYPOINT ["/app/hello"]\n' >"$work/ctx/Containerfile"
cp "$work/ctx/Containerfile" "$work/ctx/Dockerfile"
ls -l "$work/ctx/hello"

# A changed binary each run: 16 random bytes appended to a copy of it.
cat >"$work/change.sh" <<SH
#!/bin/sh
head -c 16 /dev/urandom >>$work/changing/hello
SH
chmod +x "$work/change.sh"
mkdir -p "$work/changing"
cp "$work/ctx/hello" "$work/changing/hello"
commands=(
  --command-name "gocrate pack (changed binary, existing store)" --prepare "$work/change.sh"
  "$GOCRATE --root $work/existing pack $work/changing/hello -t hello -q"
  --command-name "gocrate pack (new store)" --prepare "rm -rf $work/store"
  "$GOCRATE --root $work/store pack $work/ctx/hello -t hello -q"
  --command-name "gocrate pack (unchanged binary)" --prepare "true"
  "$GOCRATE --root $work/warm pack $work/ctx/hello -t hello -q"
)
"$GOCRATE" --root "$work/warm" pack "$work/ctx/hello" -t hello -q >/dev/null
"$GOCRATE" --root "$work/existing" pack "$work/ctx/hello" -t hello -q >/dev/null
if have buildah; then
  commands+=(--command-name "buildah bud" --prepare "true"
    "buildah --root $work/buildah --runroot $work/buildah-run --storage-driver vfs bud -q -t hello $work/ctx")
fi
if have dockerd && start_dockerd; then
  commands+=(--command-name "docker build" --prepare "true" "docker build -q --no-cache -t hello $work/ctx")
fi
hyperfine -N --warmup 3 --runs 20 --export-json "$RESULTS_DIR/pack.json" "${commands[@]}"

python3 - "$RESULTS_DIR/pack.json" <<'PY'
import json, sys
results = json.load(open(sys.argv[1]))["results"]
base = results[0]["mean"]
print("\nratios against gocrate pack (changed binary, existing store):")
for r in results:
    print(f"  {r['command']:<34} {r['mean'] * 1000:8.1f} ms  {r['mean'] / base:6.1f}x")
PY

note "bytes the image adds over the compressed binary"
"$GOCRATE" --root "$work/sizes" pack "$work/ctx/hello" -t hello -q >/dev/null
"$GOCRATE" --root "$work/sizes" inspect hello | python3 -c '
import json, sys, gzip, os
image = json.load(sys.stdin)[0]
m = image["manifests"][0]
layers = m["manifest"]["layers"]
total = sum(l["size"] for l in layers) + m["manifest"]["config"]["size"] + image["size"]
binary_layer = layers[-1]["size"]
gzip1 = len(gzip.compress(open(sys.argv[1], "rb").read(), 1))
print(f"  binary {os.path.getsize(sys.argv[1])} B; its layer {binary_layer} B (gzip -1 of the binary: {gzip1} B)")
print(f"  whole image {total} B; added over the binary layer: {total - binary_layer} B"
      f" ({(total - binary_layer) / 1024:.1f} KiB: CA bundle, passwd, group, /tmp, config, manifest)")
' "$work/ctx/hello"
