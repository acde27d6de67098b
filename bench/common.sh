# Shared by the benchmark scripts: peers started on loopback, results kept.
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$BENCH_DIR/.." && pwd)
GOCRATE=$(realpath "${GOCRATE:-${1:-$REPO_DIR/build/gocrate}}")
RESULTS_DIR=${RESULTS_DIR:-$REPO_DIR/build/bench-results}
mkdir -p "$RESULTS_DIR"

have() { command -v "$1" >/dev/null 2>&1; }
note() { printf '\n\033[1m%s\033[0m\n' "$*"; }

# Starts a private dockerd (extra dockerd flags as arguments); sets DOCKER_HOST. Stopped by stop_dockerd.
start_dockerd() {
  DOCKERD_DIR=$(mktemp -d /tmp/gocrate-bench-dockerd-XXXXXX)
  dockerd --iptables=false --ip6tables=false --bridge=none --storage-driver=vfs \
    -H "unix://$DOCKERD_DIR/docker.sock" --data-root "$DOCKERD_DIR/data" --exec-root "$DOCKERD_DIR/exec" \
    --pidfile "$DOCKERD_DIR/docker.pid" "$@" >"$DOCKERD_DIR/log" 2>&1 &
  DOCKERD_PID=$!
  export DOCKER_HOST="unix://$DOCKERD_DIR/docker.sock"
  for _ in $(seq 1 120); do
    docker version >/dev/null 2>&1 && return 0
    sleep 0.25
  done
  echo "dockerd did not start; see $DOCKERD_DIR/log" >&2
  return 1
}

stop_dockerd() {
  [[ -n "${DOCKERD_PID:-}" ]] || return 0
  kill "$DOCKERD_PID" 2>/dev/null || true
  wait "$DOCKERD_PID" 2>/dev/null || true
  umount -R "$DOCKERD_DIR/exec" "$DOCKERD_DIR/data" 2>/dev/null || true
  rm -rf "$DOCKERD_DIR"
  unset DOCKERD_PID DOCKER_HOST
}

# Mean seconds of hyperfine's JSON export, for command index $2.
# One hyperfine comparison: name, then hyperfine's arguments; its JSON goes to
# $results/NAME.json. Uses $runs, and $bench_warmup (default 1) warm-up runs.
bench() {
  local name=$1
  shift
  hyperfine -N --runs "$runs" --warmup "${bench_warmup:-1}" --export-json "$results/$name.json" "$@" |
    grep -E "^(Benchmark|  Time)"
}
mean_of() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['results'][int(sys.argv[2])]['mean'])" "$1" "$2"; }

# Starts a docker-registry on a free loopback port; sets REGISTRY (host:port).
start_registry() {
  REGISTRY_DIR=$(mktemp -d /tmp/gocrate-bench-registry-XXXXXX)
  local port
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  REGISTRY=127.0.0.1:$port
  cat >"$REGISTRY_DIR/config.yml" <<YAML
version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: $REGISTRY_DIR/data
http:
  addr: $REGISTRY
  secret: bench
YAML
  docker-registry serve "$REGISTRY_DIR/config.yml" >"$REGISTRY_DIR/log" 2>&1 &
  REGISTRY_PID=$!
  for _ in $(seq 100); do curl -sf "http://$REGISTRY/v2/" >/dev/null && return 0; sleep 0.1; done
  echo "docker-registry did not start; see $REGISTRY_DIR/log" >&2
  return 1
}

stop_registry() {
  [[ -n "${REGISTRY_PID:-}" ]] || return 0
  kill "$REGISTRY_PID" 2>/dev/null || true
  wait "$REGISTRY_PID" 2>/dev/null || true
  rm -rf "$REGISTRY_DIR"
  unset REGISTRY_PID REGISTRY
}
