#!/usr/bin/env bash
# OCI runtime life cycle on one bundle whose rootfs holds only a static `hello`
# (examples/hello, `hello once` prints and exits): gocrate-runtime against runc
# and crun, two ways each, in one hyperfine run.
#   run:   `R run --bundle B id` (create + start + wait + delete in one process)
#   cycle: `R create --bundle B id; R start id; <wait for exit>; R delete id`
#          as a bash script (bash's own start-up is the `bash floor` row)
# crun refuses this host's hybrid cgroup layout unless the v2 mount is hidden in a
# private mount namespace, so it runs through a wrapper (unshare -m + sh + umount)
# whose cost alone is the `crun wrapper floor` row; `crun cycle, one namespace`
# pays it once for the whole cycle instead of once per command.
# Prints mean times and the ratios to gocrate-runtime (to runc when it is missing).
#
# Usage: bench/bench_oci.sh [GOCRATE] [RUNS]   (gocrate-runtime is looked up beside GOCRATE;
#        GOCRATE_RUNTIME=... names another runc-compatible runtime to stand in its column)
set -euo pipefail

SOURCE_DIR=$(cd "$(dirname "$0")/.." && pwd)
GOCRATE=$(realpath -m "${1:-${GOCRATE:-$SOURCE_DIR/build/gocrate}}")
RUNS=${2:-${RUNS:-100}}
RUNTIME=${GOCRATE_RUNTIME:-$(dirname "$GOCRATE")/gocrate-runtime}
WORK=$(mktemp -d /tmp/gocrate-bench-oci-XXXXXX)
chmod 755 "$WORK"
ID=gocrate-bench-oci-$$
# Each runtime keeps its state under $WORK/state-NAME; LEFTOVER[NAME] deletes one container.
declare -A LEFTOVER=()
cleanup() {
  local name c
  for name in "${!LEFTOVER[@]}"; do
    for c in "$WORK/state-$name"/*; do
      [[ -e $c ]] && { eval "${LEFTOVER[$name]} delete --force $(basename "$c")" >/dev/null 2>&1 || true; }
    done
  done
  rm -rf "$WORK"
}
trap cleanup EXIT

command -v hyperfine >/dev/null || { echo "hyperfine is not installed (Debian package hyperfine)" >&2; exit 1; }
command -v go >/dev/null || { echo "go is not installed (Debian package golang-go)" >&2; exit 1; }

BUNDLE=$WORK/bundle
mkdir -p "$BUNDLE/rootfs"
(cd "$SOURCE_DIR/examples/hello" && CGO_ENABLED=0 GOFLAGS=-mod=mod GOPROXY=off \
  go build -trimpath -ldflags='-s -w' -o "$BUNDLE/rootfs/hello" .)
python3 - "$BUNDLE/config.json" <<'PY'
import json, sys
# The config `runc spec` writes, without a terminal, running `/hello once`.
config = {
    "ociVersion": "1.0.2-dev",
    "process": {
        "terminal": False, "user": {"uid": 0, "gid": 0}, "args": ["/hello", "once"],
        "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"], "cwd": "/",
        "capabilities": {k: ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
                         for k in ("bounding", "effective", "permitted", "ambient")},
        "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
        "noNewPrivileges": True,
    },
    "root": {"path": "rootfs", "readonly": True},
    "hostname": "hello",
    "mounts": [
        {"destination": "/proc", "type": "proc", "source": "proc"},
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
        {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
         "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
        {"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
        {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]},
    ],
    "linux": {
        "resources": {"devices": [{"allow": False, "access": "rwm"}]},
        "namespaces": [{"type": t} for t in ("pid", "network", "ipc", "uts", "mount")],
        "maskedPaths": ["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                        "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi"],
        "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"],
    },
}
json.dump(config, open(sys.argv[1], "w"), indent=1)
PY

# create + start + wait for the container's process to exit + delete, with runtime command "$@".
cat >"$WORK/cycle.sh" <<'SH'
#!/usr/bin/env bash
set -eu
bundle=$1 id=$2
shift 2
"$@" create --bundle "$bundle" --pid-file "$bundle/../$id.pid" "$id"
read -r pid <"$bundle/../$id.pid" || [[ -n $pid ]]  # the pid file has no newline
"$@" start "$id"
# Gone or a zombie (state Z) both mean it has exited; nothing here is its parent to wait.
while read -r stat 2>/dev/null <"/proc/$pid/stat"; do
  stat=${stat##*) }
  [[ ${stat%% *} == Z ]] && break
done
"$@" delete "$id"
SH
chmod +x "$WORK/cycle.sh"

names=(runc-run runc-cycle)
runc_cmd="runc --root $WORK/state-runc"
LEFTOVER[runc]=$runc_cmd
commands=("$runc_cmd run --bundle $BUNDLE $ID-runc-run" "$WORK/cycle.sh $BUNDLE $ID-runc-cycle $runc_cmd")
base=runc-run

if [[ -x $RUNTIME ]]; then
  g_cmd="$RUNTIME --root $WORK/state-gocrate"
  LEFTOVER[gocrate]=$g_cmd
  names+=(gocrate-run gocrate-cycle)
  commands+=("$g_cmd run --bundle $BUNDLE $ID-g-run" "$WORK/cycle.sh $BUNDLE $ID-g-cycle $g_cmd")
  base=gocrate-run
else
  printf '\n*** SKIPPING gocrate-runtime: %s is not built (GOCRATE_RUNTIME=... to name one) ***\n\n' "$RUNTIME" >&2
fi

if command -v crun >/dev/null; then
  wrap="unshare -m sh -c 'umount /sys/fs/cgroup/unified 2>/dev/null; exec \"\$@\"' wrapper"
  crun_cmd="crun --root $WORK/state-crun"
  LEFTOVER[crun]="$wrap $crun_cmd"
  names+=(crun-run crun-cycle "crun cycle, one namespace" "crun wrapper floor")
  commands+=("$wrap $crun_cmd run --bundle $BUNDLE $ID-crun-run"
             "$WORK/cycle.sh $BUNDLE $ID-crun-cycle $wrap $crun_cmd"
             "$wrap $WORK/cycle.sh $BUNDLE $ID-crun-ns $crun_cmd"
             "$wrap true")
else
  echo "skipping crun: not installed (Debian package crun)" >&2
fi
names+=("bash floor")
commands+=("bash -c :")

# hyperfine -N splits commands on spaces and honours quotes like a shell would.
args=()
for i in "${!names[@]}"; do args+=(-n "${names[$i]}" "${commands[$i]}"); done
hyperfine -N --warmup 5 --runs "$RUNS" --export-json "$WORK/result.json" "${args[@]}" >&2

python3 - "$WORK/result.json" "$base" <<'PY'
import json, sys
results = {r["command"]: r for r in json.load(open(sys.argv[1]))["results"]}
base_name = sys.argv[2]
base = results[base_name]["mean"]
print(f"{'':27} {'mean ms':>9} {'median':>8} {'min':>7}  ratio to {base_name}")
for name, r in results.items():
    print(f"{name:27} {r['mean'] * 1e3:9.2f} {r['median'] * 1e3:8.2f} {r['min'] * 1e3:7.2f}  {r['mean'] / base:6.2f}x")
mean = lambda n: results[n]["mean"] * 1e3 if n in results else None
floor, bash = mean("crun wrapper floor"), mean("bash floor")
if floor is not None:
    print(f"\ncrun alone, wrapper floor taken off: run {mean('crun-run') - floor:.2f} ms, "
          f"cycle {mean('crun cycle, one namespace') - floor - bash:.2f} ms "
          f"(one namespace, less bash); per-command wrapper costs {floor:.2f} ms, 3 of them in crun-cycle")
PY
