#!/usr/bin/env bash
# Supervision: the memory of what keeps a detached container (gocrate's
# supervisor, podman's conmon, docker's containerd-shim) for N detached hello
# servers — USS (private pages) and PSS (private plus a share of the shared
# ones) from /proc/<pid>/smaps_rollup — and the latency of `run -d` against
# `podman run -d` and `docker run -d`. Prints the figures and the ratios.
#
# Usage: bench/bench_supervise.sh [GOCRATE] [CONTAINERS] [RUNS]
set -euo pipefail

SOURCE_DIR=$(cd "$(dirname "$0")/.." && pwd)
source "$SOURCE_DIR/bench/common.sh"
GOCRATE=$(realpath "${1:-${GOCRATE:-$SOURCE_DIR/build/gocrate}}")
COUNT=${2:-${COUNT:-50}}
RUNS=${3:-${RUNS:-30}}
WORK=$(mktemp -d /tmp/gocrate-bench-supervise-XXXXXX)
STORE=$WORK/store
G=("$GOCRATE" --root "$STORE")
P=(podman --root "$WORK/podman/root" --runroot "$WORK/podman/run" --storage-driver vfs --cgroup-manager cgroupfs
  --runtime runc)
# As tests/e2e/harness.py: limits this machine can set without CAP_SYS_RESOURCE.
PODMAN_RUN=(run --ulimit nofile=20000:20000 --ulimit nproc=32768:32768)

cleanup() {
  "${G[@]}" rm -f $("${G[@]}" ps -aq 2>/dev/null) >/dev/null 2>&1 || true
  if have podman; then "${P[@]}" rm -af -t 0 >/dev/null 2>&1 || true; fi
  if [[ -n "${DOCKERD_PID:-}" ]]; then
    docker rm -f $(docker ps -aq) >/dev/null 2>&1 || true
    stop_dockerd
  fi
  umount -R "$WORK/podman/root" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

command -v hyperfine >/dev/null || { echo "hyperfine is not installed (Debian package hyperfine)" >&2; exit 1; }
[[ $(id -u) == 0 ]] || { echo "needs root (containers)" >&2; exit 1; }

# USS and PSS in KiB of each pid given, one line per pid.
memory_of() {
  python3 - "$@" <<'PY'
import sys
for pid in sys.argv[1:]:
    fields = {}
    for line in open(f"/proc/{pid}/smaps_rollup"):
        parts = line.split()
        if len(parts) >= 2 and parts[0].endswith(":") and parts[1].isdigit():
            fields[parts[0][:-1]] = int(parts[1])
    print(fields["Private_Clean"] + fields["Private_Dirty"], fields["Pss"], fields["Rss"], fields["Private_Dirty"])
PY
}

# Mean, median and max of a column of `memory_of` output.
summarize() {
  python3 - "$1" "$2" <<'PY'
import statistics, sys
name, path = sys.argv[1], sys.argv[2]
rows = [list(map(int, line.split())) for line in open(path) if line.strip()]
def stats(i):
    values = [r[i] for r in rows]
    return statistics.mean(values), statistics.median(values), max(values)
uss, pss, rss, dirty = (stats(i) for i in range(4))
print(f"{name:24} n={len(rows):3}  USS mean {uss[0]:7.0f} KiB (median {uss[1]:.0f}, max {uss[2]})  "
      f"PSS mean {pss[0]:7.0f} KiB  RSS mean {rss[0]:6.0f} KiB  private dirty mean {dirty[0]:5.0f} KiB")
PY
}

(cd "$SOURCE_DIR/examples/hello" && "${G[@]}" build . -t hello >/dev/null)
"${G[@]}" save hello -o "$WORK/hello.tar" >/dev/null
"${G[@]}" run --rm hello once >/dev/null  # unpacks the layers once
# Pages of a freshly linked binary are dirty in the page cache until written back;
# smaps counts them as dirty: write them back first.
sync

note "gocrate: $COUNT detached hello servers"
start=$(date +%s.%N)
for i in $(seq "$COUNT"); do "${G[@]}" run -d --name "mem$i" hello >/dev/null; done
end=$(date +%s.%N)
sleep 1
sup_pids=$("${G[@]}" inspect $(seq -f "mem%g" "$COUNT") | python3 -c \
  'import json,sys; print(" ".join(str(c["State"]["SupervisorPid"]) for c in json.load(sys.stdin)))')
memory_of $sup_pids >"$WORK/gocrate.mem"
summarize "gocrate supervisor" "$WORK/gocrate.mem"
echo "threads per supervisor: $(awk '/Threads/{print $2}' /proc/${sup_pids%% *}/status)" \
  "(the main loop, and the outbound-network watcher of a private-network container)"
# What a re-exec'd supervisor would start from: a fresh gocrate process that waits (logs -f).
"${G[@]}" logs -f mem1 >/dev/null &
FRESH=$!
sleep 0.5
memory_of $FRESH >"$WORK/fresh.mem"
summarize "fresh gocrate (logs -f)" "$WORK/fresh.mem"
kill $FRESH; wait $FRESH 2>/dev/null || true
printf '%d run -d in a row: %.1f ms each\n' "$COUNT" "$(echo "($end - $start) * 1000 / $COUNT" | bc -l)"
"${G[@]}" rm -f $(seq -f "mem%g" "$COUNT") >/dev/null

peers=(gocrate)
if have podman && "${P[@]}" load -i "$WORK/hello.tar" >/dev/null 2>&1; then
  note "podman: $COUNT detached hello servers"
  for i in $(seq "$COUNT"); do "${P[@]}" "${PODMAN_RUN[@]}" -d --network none --name "mem$i" hello >/dev/null; done
  sleep 1
  conmon_pids=$("${P[@]}" inspect --format '{{.State.ConmonPid}}' $(seq -f "mem%g" "$COUNT") | tr '\n' ' ')
  memory_of $conmon_pids >"$WORK/conmon.mem"
  summarize "podman conmon" "$WORK/conmon.mem"
  "${P[@]}" rm -af -t 0 >/dev/null
  peers+=(podman)
else
  echo "skipping podman: not installed or podman load failed" >&2
fi

if have dockerd && start_dockerd && docker load -i "$WORK/hello.tar" >/dev/null 2>&1; then
  note "docker: $COUNT detached hello servers"
  for i in $(seq "$COUNT"); do docker run -d --network none --name "mem$i" hello >/dev/null; done
  sleep 1
  shim_pids=$(for id in $(docker ps -q --no-trunc); do pgrep -f "containerd-shim.*-id $id" || true; done | sort -u)
  memory_of $shim_pids >"$WORK/shim.mem"
  summarize "docker containerd-shim" "$WORK/shim.mem"
  echo "($(echo $shim_pids | wc -w) shims for $COUNT containers)"
  docker rm -f $(docker ps -aq) >/dev/null
  peers+=(docker)
else
  echo "skipping docker: dockerd did not start or docker load failed" >&2
fi

python3 - "$WORK" "${peers[@]}" <<'PY'
import statistics, sys
work, peers = sys.argv[1], sys.argv[2:]
files = {"gocrate": "gocrate.mem", "podman": "conmon.mem", "docker": "shim.mem"}
def mean(peer, i):
    return statistics.mean(int(l.split()[i]) for l in open(f"{work}/{files[peer]}") if l.strip())
base_uss, base_pss = mean("gocrate", 0), mean("gocrate", 1)
print(f"\n{'per container':24} {'USS KiB':>8} {'PSS KiB':>8}  ratio to gocrate (USS, PSS)")
for peer in peers:
    u, p = mean(peer, 0), mean(peer, 1)
    print(f"{peer:24} {u:8.0f} {p:8.0f}  {u / base_uss:5.1f}x {p / base_pss:5.1f}x")
print(f"target: gocrate's supervisor at most 512 KiB: USS {'met' if base_uss <= 512 else 'NOT met'}, "
      f"PSS {'met' if base_pss <= 512 else 'NOT met'}")
PY

note "run -d latency (hyperfine, $RUNS runs each; containers removed between runs, untimed)"
names=(gocrate)
commands=("${G[*]} run -d hello")
prepares=("sh -c '${G[*]} rm -f \$(${G[*]} ps -aq) >/dev/null 2>&1 || true'")
if [[ " ${peers[*]} " == *" podman "* ]]; then
  names+=(podman)
  commands+=("${P[*]} ${PODMAN_RUN[*]} -d --network none hello")
  prepares+=("sh -c '${P[*]} rm -af -t 0 >/dev/null 2>&1 || true'")
fi
if [[ " ${peers[*]} " == *" docker "* ]]; then
  names+=(docker)
  commands+=("docker run -d --network none hello")
  prepares+=("sh -c 'docker rm -f \$(docker ps -aq) >/dev/null 2>&1 || true'")
fi
for i in "${!names[@]}"; do
  hyperfine -N --warmup 3 --runs "$RUNS" --prepare "${prepares[$i]}" -n "${names[$i]}" "${commands[$i]}" \
    --export-json "$WORK/latency-$i.json" >&2
done
python3 - "$WORK" "${#names[@]}" "${names[@]}" <<'PY'
import json, sys
work, count, names = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
results = [json.load(open(f"{work}/latency-{i}.json"))["results"][0] for i in range(count)]
base = results[0]["mean"]
print(f"\n{'run -d':10} {'mean ms':>9} {'median':>8} {'min':>7}  ratio to gocrate")
for name, r in zip(names, results):
    print(f"{name:10} {r['mean'] * 1e3:9.2f} {r['median'] * 1e3:8.2f} {r['min'] * 1e3:7.2f}  {r['mean'] / base:6.1f}x")
PY
