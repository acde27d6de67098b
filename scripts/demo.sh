#!/usr/bin/env bash
# The main job, end to end: containerize examples/hello for two platforms,
# show what was made, run it in gocrate's own runtime, and serve it on a
# published port in the background.
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


port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
step "gocrate run -d -p $port:8080 --name hello-demo hello   (in the background, no daemon)"
"$gocrate" rm -f hello-demo >/dev/null 2>&1 || true
"$gocrate" run -d -p "$port:8080" --name hello-demo hello
answer=
for _ in $(seq 100); do answer=$(curl -sf --max-time 2 "http://127.0.0.1:$port/") && break || sleep 0.05; done
if [[ -z $answer ]]; then
  echo "demo: hello did not answer on port $port; its log follows" >&2
  "$gocrate" logs hello-demo >&2 || true
  "$gocrate" rm -f hello-demo
  exit 1
fi
echo "curl http://127.0.0.1:$port/ -> $answer"
"$gocrate" ps
"$gocrate" rm -f hello-demo
