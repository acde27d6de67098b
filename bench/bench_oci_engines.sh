#!/usr/bin/env bash
# The same container under the same engines with gocrate-runtime and with runc as their OCI runtime:
# `podman run --rm --network none hello once` (podman 4.3, conmon, vfs) and `docker run --rm --network none
# hello once` (a private dockerd 20.10 with gocrate-runtime added), hyperfine -N, in one run per engine.
# Prints the means and the ratio runc / gocrate-runtime.
#
# Usage: bench/bench_oci_engines.sh [GOCRATE] [RUNS]
source "$(dirname "$0")/common.sh"
RUNS=${2:-${RUNS:-30}}
RUNTIME=$(dirname "$GOCRATE")/gocrate-runtime
[[ -x $RUNTIME ]] || { echo "*** SKIPPING: no $RUNTIME (build the gocrate-runtime target) ***"; exit 0; }
have hyperfine || { echo "hyperfine is not installed (Debian package hyperfine)" >&2; exit 1; }
RUNC=$(command -v runc)

WORK=$(mktemp -d /tmp/gocrate-bench-oci-engines-XXXXXX)
cleanup() {
  stop_dockerd
  podman --root "$WORK/podman" --runroot "$WORK/podman-run" --storage-driver vfs rm -af >/dev/null 2>&1 || true
  umount -R "$WORK/podman" "$WORK/podman-run" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

(cd "$REPO_DIR/examples/hello" && "$GOCRATE" --root "$WORK/store" build . -t bench-engines-hello -q >/dev/null)
"$GOCRATE" --root "$WORK/store" save bench-engines-hello -o "$WORK/hello.tar"

ratio() { python3 -c "import sys; print(f'{float(sys.argv[1]) / float(sys.argv[2]):.2f}x')" "$1" "$2"; }
report() {  # $1: engine, $2: hyperfine JSON with runc first, gocrate-runtime second
  local runc_mean gocrate_mean
  runc_mean=$(mean_of "$2" 0)
  gocrate_mean=$(mean_of "$2" 1)
  printf '%-8s runc %7.1f ms   gocrate-runtime %7.1f ms   runc / gocrate-runtime %s\n' "$1" \
    "$(python3 -c "print(${runc_mean} * 1000)")" "$(python3 -c "print(${gocrate_mean} * 1000)")" \
    "$(ratio "$runc_mean" "$gocrate_mean")" | tee -a "$RESULTS_DIR/oci_engines.txt"
}

note "podman run --rm, runc against gocrate-runtime ($RUNS runs)"
PODMAN="podman --root $WORK/podman --runroot $WORK/podman-run --storage-driver vfs --cgroup-manager cgroupfs"
$PODMAN load -q -i "$WORK/hello.tar" >/dev/null
RUN_ARGS="run --rm --network none --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 localhost/bench-engines-hello once"
hyperfine -N -w 3 -r "$RUNS" --export-json "$WORK/podman.json" \
  -n "podman + runc" "$PODMAN --runtime $RUNC $RUN_ARGS" \
  -n "podman + gocrate-runtime" "$PODMAN --runtime $RUNTIME $RUN_ARGS"
report podman "$WORK/podman.json"

note "docker run --rm, runc against gocrate-runtime ($RUNS runs)"
if have dockerd; then
  start_dockerd --add-runtime "gocrate=$RUNTIME"
  docker load -q -i "$WORK/hello.tar" >/dev/null
  hyperfine -N -w 3 -r "$RUNS" --export-json "$WORK/docker.json" \
    -n "docker + runc" "docker run --rm --network none bench-engines-hello once" \
    -n "docker + gocrate-runtime" "docker run --rm --network none --runtime gocrate bench-engines-hello once"
  report docker "$WORK/docker.json"
else
  echo "*** SKIPPING docker: dockerd is not installed ***"
fi
