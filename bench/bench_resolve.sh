#!/usr/bin/env bash
# resolve of a file with 3 distinct import paths for 2 platforms, against the
# slowest single `go build` of one of them plus a push of its image, in one
# hyperfine run. Before every run a constant changes in each program, so every
# run compiles for real (the Go build cache still holds the standard library).
source "$(dirname "$0")/common.sh"
work=$(mktemp -d /tmp/gocrate-bench-resolve-XXXXXX)
trap 'stop_registry; rm -rf "$work"' EXIT
start_registry

project=$work/app
mkdir -p "$project"
printf 'module example.com/app\n\ngo 1.19\n' >"$project/go.mod"
for name in web api worker; do
  mkdir -p "$project/cmd/$name"
  cat >"$project/cmd/$name/main.go" <<GO
package main

import (
	"fmt"
	"net/http"
)

const revision = 0

func main() {
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "$name", revision) })
	_ = http.ListenAndServe(":8080", nil)
}
GO
done
cat >"$project/app.yaml" <<'YAML'
apiVersion: apps/v1
kind: Deployment
metadata: {name: app}
spec:
  selector: {matchLabels: {app: app}}
  template:
    metadata: {labels: {app: app}}
    spec:
      containers:
      - {name: web, image: ko://example.com/app/cmd/web}
      - {name: api, image: ko://example.com/app/cmd/api}
      - {name: worker, image: ko://example.com/app/cmd/worker}
YAML
cat >"$work/touch.sh" <<SH
#!/bin/sh
# A new constant in every program: go must compile and link them again.
for f in $project/cmd/*/main.go; do sed -i "s/^const revision = .*/const revision = \$(date +%s%N)/" "\$f"; done
SH
chmod +x "$work/touch.sh"

export GOCRATE_DOCKER_REPO=$REGISTRY/team GOCRATE_PLATFORMS=linux/amd64,linux/arm64
cd "$project"
"$GOCRATE" --root "$work/store" resolve -f app.yaml >/dev/null  # warms the Go cache for both platforms
for arch in amd64 arm64; do (GOARCH=$arch CGO_ENABLED=0 go build -trimpath -o /dev/null ./cmd/web); done

single="GOARCH=arm64 CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o $work/web ./cmd/web && \
$GOCRATE --root $work/store pack $work/web -t $REGISTRY/team/single -q --push --sbom none >/dev/null"
hyperfine --warmup 1 --runs 10 --prepare "$work/touch.sh" --export-json "$RESULTS_DIR/resolve.json" \
  --command-name "gocrate resolve (3 import paths x 2 platforms)" \
  "$GOCRATE --root $work/store resolve -f app.yaml -q" \
  --command-name "one go build (arm64) + push" "$single"

python3 - "$RESULTS_DIR/resolve.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"]
print(f"\nresolve {r[0]['mean'] * 1000:.0f} ms; slowest single go build + push {r[1]['mean'] * 1000:.0f} ms;"
      f" ratio {r[0]['mean'] / r[1]['mean']:.2f} (target <= 1.2)")
PY
