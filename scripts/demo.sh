#!/usr/bin/env bash
# The main job, end to end: containerize examples/hello for two platforms,
# show what was made, and run it.
set -euo pipefail
gocrate=$(realpath "${1:-build/gocrate}")
repo=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'runc delete -f gocrate-demo >/dev/null 2>&1 || true; rm -rf "$work"' EXIT

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "gocrate build examples/hello --platform linux/amd64,linux/arm64"
cd "$repo/examples/hello"
"$gocrate" build . --platform linux/amd64,linux/arm64 -t hello --oci-layout "$work/layout"
"$gocrate" images

step "run it: umoci unpacks the layout, runc starts the amd64 variant"
umoci unpack --image "$work/layout:latest-linux-amd64" "$work/bundle" >/dev/null
python3 - "$work/bundle/config.json" <<'PY'
import json, sys
path = sys.argv[1]
config = json.load(open(path))
config["process"]["terminal"] = False
config["process"]["args"] = ["/app/hello", "once"]
json.dump(config, open(path, "w"))
PY
(cd "$work/bundle" && runc run gocrate-demo)
