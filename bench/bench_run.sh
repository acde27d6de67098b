#!/usr/bin/env bash
# Container start-up: `gocrate run --rm hello once` (image in the store) against
# plain exec, the unshare floor, runc on an unpacked bundle, podman and docker,
# in one hyperfine run. Prints mean times and the ratios to gocrate.
#
# Usage: bench/bench_run.sh [GOCRATE] [RUNS]   (or GOCRATE=... in the environment, as bench/run.sh sets it)
set -euo pipefail

SOURCE_DIR=$(cd "$(dirname "$0")/.." && pwd)
GOCRATE=$(realpath "${1:-${GOCRATE:-$SOURCE_DIR/build/gocrate}}")
RUNS=${2:-${RUNS:-200}}
WORK=$(mktemp -d /tmp/gocrate-bench-XXXXXX)
DOCKERD_PID=
cleanup() {
  if [[ -n $DOCKERD_PID ]]; then
    kill "$DOCKERD_PID" 2>/dev/null || true
    wait "$DOCKERD_PID" 2>/dev/null || true
  fi
  umount -R "$WORK/docker/exec" "$WORK/docker/data" "$WORK/podman/root" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

command -v hyperfine >/dev/null || { echo "hyperfine is not installed (Debian package hyperfine)" >&2; exit 1; }
STORE=$WORK/store
G=("$GOCRATE" --root "$STORE")
(cd "$SOURCE_DIR/examples/hello" && "${G[@]}" build . -t hello --oci-layout "$WORK/layout" >/dev/null)
"${G[@]}" run --rm hello once >/dev/null  # unpacks the layers once
HELLO=$(ls "$STORE"/layers/sha256/*/app/hello)

names=(gocrate exec unshare)
commands=("${G[*]} run --rm hello once" "$HELLO once" "unshare -mpfiun --mount-proc $HELLO once")

if command -v runc >/dev/null && command -v umoci >/dev/null; then
  umoci unpack --image "$WORK/layout:latest" "$WORK/bundle" >/dev/null
  python3 - "$WORK/bundle/config.json" <<'PY'
import json, sys
path = sys.argv[1]
config = json.load(open(path))
config["process"]["terminal"] = False
config["process"]["args"] = ["/app/hello", "once"]
json.dump(config, open(path, "w"))
PY
  names+=(runc)
  commands+=("runc run --bundle $WORK/bundle gocrate-bench-$$")
else
  echo "skipping runc: runc or umoci is not installed" >&2
fi

"${G[@]}" save hello -o "$WORK/hello.tar" >/dev/null
if command -v podman >/dev/null; then
  P="podman --root $WORK/podman/root --runroot $WORK/podman/run --storage-driver vfs --cgroup-manager cgroupfs --runtime runc"
  if $P load -i "$WORK/hello.tar" >/dev/null 2>&1; then
    names+=(podman)
    # As tests/e2e/harness.py: limits this machine can set without CAP_SYS_RESOURCE.
    commands+=("$P run --rm --network none --ulimit nofile=20000:20000 --ulimit nproc=32768:32768 hello once")
  else
    echo "skipping podman: podman load failed" >&2
  fi
else
  echo "skipping podman: not installed" >&2
fi

if command -v dockerd >/dev/null; then
  mkdir -p "$WORK/docker"
  dockerd --iptables=false --ip6tables=false --bridge=none --storage-driver=vfs \
    -H "unix://$WORK/docker/docker.sock" --data-root "$WORK/docker/data" --exec-root "$WORK/docker/exec" \
    --pidfile "$WORK/docker/docker.pid" >"$WORK/docker/dockerd.log" 2>&1 &
  DOCKERD_PID=$!
  export DOCKER_HOST="unix://$WORK/docker/docker.sock"
  for _ in $(seq 600); do docker version >/dev/null 2>&1 && break; sleep 0.1; done
  if docker version >/dev/null 2>&1 && docker load -i "$WORK/hello.tar" >/dev/null 2>&1; then
    names+=(docker)
    commands+=("docker run --rm --network none hello once")
  else
    echo "skipping docker: dockerd did not start or docker load failed ($(tail -c 300 "$WORK/docker/dockerd.log"))" >&2
  fi
else
  echo "skipping docker: dockerd is not installed" >&2
fi

args=()
for i in "${!names[@]}"; do args+=(-n "${names[$i]}" "${commands[$i]}"); done
hyperfine -N --warmup 10 --runs "$RUNS" --export-json "$WORK/result.json" "${args[@]}" >&2

python3 - "$WORK/result.json" <<'PY'
import json, sys
results = {r["command"]: r for r in json.load(open(sys.argv[1]))["results"]}
base = results["gocrate"]["mean"]
print(f"{'':10} {'mean ms':>9} {'median':>8} {'min':>7}  ratio to gocrate")
for name, r in results.items():
    print(f"{name:10} {r['mean'] * 1e3:9.2f} {r['median'] * 1e3:8.2f} {r['min'] * 1e3:7.2f}  {r['mean'] / base:6.2f}x")
PY
