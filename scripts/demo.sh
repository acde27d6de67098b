#!/usr/bin/env bash
# The main job, end to end: containerize examples/hello for two platforms,
# show what was made, and run it in gocrate's own runtime.
set -euo pipefail
gocrate=$(realpath "${1:-build/gocrate}")
repo=$(cd "$(dirname "$0")/.." && pwd)

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "gocrate build examples/hello --platform linux/amd64,linux/arm64"
cd "$repo/examples/hello"
"$gocrate" build . --platform linux/amd64,linux/arm64 -t hello
"$gocrate" images

step "gocrate run --rm hello once            (this machine's variant)"
"$gocrate" run --rm hello once

step "gocrate run --rm --platform linux/arm64 hello once   (the arm64 variant, through qemu)"
"$gocrate" run --rm --platform linux/arm64 hello once

