#!/usr/bin/env bash
# gocrate serve with COUNT detached containers (idle hello servers): the time
# of GET /metrics (curl's time_total over REQUESTS requests: median, p95, max)
# and serve's memory after those requests and after a web view's stream ran
# alongside: resident (VmRSS, VmHWM its peak), split into its own
# (anonymous) pages and the pages of the gocrate binary it maps (shared in
# the page cache with every other gocrate process, the supervisors
# included), and PSS, which counts shared pages by share. Targets: /metrics
# for 100 containers at most 50 ms, serve at most 10 MiB resident. Then the
# live update: the time from `run -d` returning to the first list of
# containers on /api/stream that has the new one, the list the page's table
# is drawn from (target 1 s).
#
# Usage: bench/bench_serve.sh [GOCRATE] [COUNT] [REQUESTS]
set -euo pipefail

SOURCE_DIR=$(cd "$(dirname "$0")/.." && pwd)
source "$SOURCE_DIR/bench/common.sh"
GOCRATE=$(realpath "${1:-${GOCRATE:-$SOURCE_DIR/build/gocrate}}")
COUNT=${2:-${COUNT:-100}}
REQUESTS=${3:-${REQUESTS:-50}}
WORK=$(mktemp -d /tmp/gocrate-bench-serve-XXXXXX)
G=("$GOCRATE" --root "$WORK/store")
SERVE_PID=

cleanup() {
  [[ -n "$SERVE_PID" ]] && kill "$SERVE_PID" 2>/dev/null && wait "$SERVE_PID" 2>/dev/null || true
  "${G[@]}" rm -f $("${G[@]}" ps -aq 2>/dev/null) >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

have curl || { echo "curl is not installed (Debian package curl)" >&2; exit 1; }
[[ $(id -u) == 0 ]] || { echo "needs root (containers)" >&2; exit 1; }

(cd "$SOURCE_DIR/examples/hello" && "${G[@]}" build . -t hello >/dev/null)
note "$COUNT detached hello servers"
for i in $(seq "$COUNT"); do "${G[@]}" run -d --name "serve$i" hello >/dev/null; done
running=$("${G[@]}" ps -q | wc -l)
echo "$running running"

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"${G[@]}" serve --listen "127.0.0.1:$port" >"$WORK/serve.out" 2>"$WORK/serve.err" &
SERVE_PID=$!
for _ in $(seq 100); do grep -q listening "$WORK/serve.out" 2>/dev/null && break; sleep 0.05; done
url="http://127.0.0.1:$port"
curl -sf "$url/metrics" -o "$WORK/metrics.txt"
echo "/metrics: $(wc -c <"$WORK/metrics.txt") bytes, $(grep -vc '^#' "$WORK/metrics.txt") samples," \
  "$(grep -c '^container_cpu_usage_seconds_total{' "$WORK/metrics.txt") containers with counters"
rss() { awk -v k="$1:" '$1 == k {print $2}' "/proc/$SERVE_PID/status"; }

note "GET /metrics, $REQUESTS requests one after another"
for _ in $(seq "$REQUESTS"); do curl -sf -o /dev/null -w '%{time_total}\n' "$url/metrics"; done >"$WORK/times"
after_metrics_rss=$(rss VmRSS)
after_metrics_anon=$(rss RssAnon)
# A web view's stream alongside: it reads every container twice a second.
curl -sfN "$url/api/stream" -o /dev/null --max-time 5 || true
after_stream_rss=$(rss VmRSS)
after_stream_anon=$(rss RssAnon)
peak=$(rss VmHWM)
pss=$(awk '$1 == "Pss:" {print $2}' "/proc/$SERVE_PID/smaps_rollup")
bare=$(/usr/bin/time -f %M "$GOCRATE" --help 2>&1 >/dev/null | tail -1)

python3 - "$WORK/times" "$after_metrics_rss" "$after_stream_rss" "$peak" "$running" "$after_metrics_anon" \
  "$after_stream_anon" "$pss" "$bare" <<'PY'
import statistics, sys
times = sorted(float(t) * 1000 for t in open(sys.argv[1]) if t.strip())
after_metrics, after_stream, peak, count, anon_metrics, anon_stream, pss, bare = (int(v) for v in sys.argv[2:])
p95 = times[max(0, round(len(times) * 0.95) - 1)]
median = statistics.median(times)
print(f"/metrics for {count} containers: median {median:.1f} ms, p95 {p95:.1f} ms, max {times[-1]:.1f} ms "
      f"(target <= 50 ms: {'met' if median <= 50 else 'NOT met'})")
print(f"serve resident: {after_metrics / 1024:.1f} MiB after the requests, {after_stream / 1024:.1f} MiB after "
      f"5 s of /api/stream, peak {peak / 1024:.1f} MiB (target <= 10 MiB: {'met' if peak <= 10 * 1024 else 'NOT met'})")
print(f"  of which its own (anonymous): {anon_metrics / 1024:.1f} MiB, then {anon_stream / 1024:.1f} MiB; the rest "
      f"is the gocrate binary's pages (`gocrate --help` alone peaks at {bare / 1024:.1f} MiB resident)")
print(f"serve PSS with {count} supervisors of the same binary running: {pss / 1024:.1f} MiB")
PY

note "live update: run -d, then the first list of containers on /api/stream with it (10 containers)"
python3 - "$url" "$GOCRATE" "$WORK/store" <<'PY'
import statistics, subprocess, sys, threading, time, urllib.request
url, gocrate, store = sys.argv[1:]
seen = []
def follow():
    with urllib.request.urlopen(url + "/api/stream", timeout=60) as stream:
        kind = b""
        for line in stream:
            if line.startswith(b"event: "):
                kind = line[7:].strip()
            elif kind == b"containers" and line.startswith(b"data: "):
                seen.append((time.monotonic(), line))
threading.Thread(target=follow, daemon=True).start()
time.sleep(1)
after_run, after_call = [], []
for i in range(10):
    name = f"live{i}".encode()
    called = time.monotonic()
    subprocess.run([gocrate, "--root", store, "run", "-d", "--name", f"live{i}", "hello"], check=True,
                   stdout=subprocess.DEVNULL)
    returned = time.monotonic()
    deadline = returned + 10
    while time.monotonic() < deadline:
        hit = next((t for t, line in list(seen) if name in line and t >= called), None)
        if hit:
            after_run.append(max(0.0, hit - returned) * 1000)
            after_call.append((hit - called) * 1000)
            break
        time.sleep(0.005)
    else:
        sys.exit(f"live{i} never appeared in a list of containers on /api/stream")
median = statistics.median(after_run)
print(f"live update: median {median:.0f} ms after run -d returned, max {max(after_run):.0f} ms; "
      f"{statistics.median(after_call):.0f} ms after it was called (target <= 1000 ms: "
      f"{'met' if max(after_run) <= 1000 else 'NOT met'})")
PY
