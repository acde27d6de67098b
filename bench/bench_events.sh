#!/usr/bin/env bash
# `gocrate events --since 0 --until now --filter container=X` over a journal of 100k records
# (25,000 containers: create, start, die, destroy, each with a name, an image and two labels),
# split across the journal and its rotated predecessor as the store keeps them. The records are
# written by a generator in the journal's format (store/events.cc) rather than by running
# containers. Also timed: the same without a filter (every record parsed and printed) and
# with --format json. Target: the filtered query in 200 ms or less.
# Usage: bench/bench_events.sh [path/to/gocrate]
source "$(dirname "$0")/common.sh"
gocrate=$GOCRATE
runs=${RUNS:-20}
records=${RECORDS:-100000}
for tool in hyperfine python3; do
  have "$tool" || { echo "bench: $tool is missing (scripts/install-deps.sh installs it)" >&2; exit 1; }
done

work=$(mktemp -d /tmp/gocrate-bench-events.XXXXXX)
trap 'rm -rf "$work"' EXIT
store=$work/store
"$gocrate" --root "$store" images >/dev/null
mkdir -p "$store/events"

python3 - "$store/events" "$records" <<'PY'
import json, os, sys, time, zlib
events_dir, total = sys.argv[1], int(sys.argv[2])
start = time.time_ns() - total * 1_000_000
records = []
for n in range(total):
    c, step = divmod(n, 4)
    action = ("create", "start", "die", "destroy")[step]
    attributes = {"name": f"bench-{c:05d}", "image": "registry.local/team/app:v1",
                  "com.example.tier": "front" if c % 2 else "back", "com.example.owner": "team-a"}
    if action == "die":
        attributes["exitCode"] = str(c % 3)
    body = json.dumps({"Type": "container", "Action": action, "ID": f"{c:064x}", "Attributes": attributes},
                      separators=(",", ":"), sort_keys=True)
    payload = f"{start + n * 1_000_000} {body}".encode()
    records.append(b"\x1e%08x " % zlib.crc32(payload) + payload + b"\n")
half = len(records) // 2
with open(os.path.join(events_dir, "journal.1"), "wb") as f:
    f.writelines(records[:half])
with open(os.path.join(events_dir, "journal"), "wb") as f:
    f.writelines(records[half:])
PY
ls -l "$store/events"
wanted=bench-12345
check=$("$gocrate" --root "$store" events --since 0 --until now --filter "container=$wanted" | wc -l)
[[ $check == 4 ]] || { echo "bench: expected 4 events of $wanted, got $check" >&2; exit 1; }
all=$("$gocrate" --root "$store" events --since 0 --until now | wc -l)
[[ $all == "$records" ]] || { echo "bench: expected $records events, got $all" >&2; exit 1; }

hyperfine -N --runs "$runs" --warmup 2 --export-json "$work/events.json" \
  -n filtered "$gocrate --root $store events --since 0 --until now --filter container=$wanted" \
  -n all "$gocrate --root $store events --since 0 --until now" \
  -n all-json "$gocrate --root $store events --since 0 --until now --format json" \
  | grep -E "^(Benchmark|  Time)"
cp "$work/events.json" "$RESULTS_DIR/events.json"
filtered=$(mean_of "$work/events.json" 0)
python3 - "$filtered" "$records" <<'PY'
import sys
mean, records = float(sys.argv[1]), int(sys.argv[2])
verdict = "meets" if mean <= 0.2 else "misses"
print(f"\nevents --filter container=X over {records} records: {mean * 1000:.0f} ms "
      f"({verdict} the 200 ms target)")
PY
