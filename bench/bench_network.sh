#!/usr/bin/env bash
# Networking: launch -> first HTTP 200 of examples/hello (gocrate run -p, and the
# bare binary as the floor), and -p forwarding throughput against the host
# network with wrk, and bulk throughput (2 GiB per connection) the same way.
# Prints means and ratios.
#
# Usage: bench/bench_network.sh [GOCRATE]   (or GOCRATE=... in the environment)
set -euo pipefail
source "$(dirname "$0")/common.sh"
WORK=$(mktemp -d /tmp/gocrate-bench-net-XXXXXX)
trap 'pkill -f "$WORK" 2>/dev/null || true; rm -rf "$WORK"' EXIT
G=("$GOCRATE" --root "$WORK/store")
(cd "$REPO_DIR/examples/hello" && "${G[@]}" build . -t hello >/dev/null)
"${G[@]}" run --rm hello once >/dev/null
HELLO=$(ls "$WORK"/store/layers/sha256/*/app/hello)

note "launch -> first HTTP 200 (30 runs each)"
python3 - "$HELLO" "${G[@]}" <<'PY'
import socket, subprocess, sys, time, statistics, signal
hello, gocrate = sys.argv[1], sys.argv[2:]
def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p
def first_200(cmd, port):
    start = time.monotonic()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(b"GET / HTTP/1.0\r\n\r\n")
                if s.recv(100).startswith(b"HTTP/1.0 200"):
                    break
        except OSError:
            pass
        time.sleep(0.0002)
    elapsed = time.monotonic() - start
    p.send_signal(signal.SIGTERM); p.wait()
    return elapsed * 1000
cases = {
    "bare binary": lambda port: [hello],
    "gocrate run -p": lambda port: [*gocrate, "run", "--rm", "-p", f"{port}:8080", "hello"],
}
# The bare binary can only listen on 8080.
results = {}
for name, make in cases.items():
    times = []
    for _ in range(30):
        port = 8080 if name == "bare binary" else free_port()
        times.append(first_200(make(port), port))
    results[name] = statistics.mean(times)
    print(f"{name:16} mean {results[name]:6.2f} ms  median {statistics.median(times):6.2f} ms")
print(f"gocrate adds {results['gocrate run -p'] - results['bare binary']:.2f} ms over the bare binary")
PY

note "-p throughput: wrk -t2 -c32 -d5s"
have wrk || { echo "wrk is not installed (Debian package wrk)" >&2; exit 1; }
rps() { wrk -t2 -c32 -d5s "$1" | awk '/Requests\/sec/ {print $2}'; }
"${G[@]}" run --rm --network host hello >/dev/null 2>&1 &
sleep 0.5
HOST_RPS=$(rps http://127.0.0.1:8080/)
kill %1; wait %1 2>/dev/null || true
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"${G[@]}" run --rm -p "$PORT:8080" hello >/dev/null 2>&1 &
sleep 0.5
FWD_RPS=$(rps "http://127.0.0.1:$PORT/")
kill %1; wait %1 2>/dev/null || true
python3 -c "import sys; h,f=float(sys.argv[1]),float(sys.argv[2]); print(f'host network {h:.0f} req/s; through -p {f:.0f} req/s = {100*f/h:.0f}% of the host')" "$HOST_RPS" "$FWD_RPS"

note "-p bulk throughput: 2 GiB read by one client, 3 runs each"
(cd "$REPO_DIR/bench/bulkserver" && "${G[@]}" build . -t bulkserver >/dev/null)
"${G[@]}" run --rm --network host bulkserver >/dev/null 2>&1 &
"${G[@]}" run --rm -p "$PORT:9000" bulkserver >/dev/null 2>&1 &
sleep 0.5
python3 - "$PORT" <<'PY'
import socket, sys, time, statistics
def rate(port):
    with socket.create_connection(("127.0.0.1", port)) as s:
        start, total = time.monotonic(), 0
        while chunk := s.recv(1 << 20):
            total += len(chunk)
    return total / (time.monotonic() - start) / 1e9
host = statistics.mean(rate(9000) for _ in range(3))
forwarded = statistics.mean(rate(int(sys.argv[1])) for _ in range(3))
print(f"host network {host:.2f} GB/s; through -p {forwarded:.2f} GB/s = {100 * forwarded / host:.0f}% of the host")
PY
kill %1 %2; wait 2>/dev/null || true
