#!/usr/bin/env bash
# `gocrate measure` with 10 runs per engine (gocrate, bare, docker, podman) on
# examples/hello: the whole command's wall time, against the 30 s target.
source "$(dirname "$0")/common.sh"
work=$(mktemp -d /tmp/gocrate-bench-measure-XXXXXX)
trap 'stop_dockerd; podman rmi -af >/dev/null 2>&1 || true; umount -R "$work/podman" 2>/dev/null || true; rm -rf "$work"' EXIT

have dockerd && start_dockerd || echo "docker: not measured (dockerd does not start)"
# Podman configured for this machine through its own files.
mkdir -p "$work/podman"
printf '[containers]\ndefault_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]\n[engine]\ncgroup_manager = "cgroupfs"\nruntime = "runc"\nevents_logger = "file"\n' >"$work/containers.conf"
printf '[storage]\ndriver = "vfs"\ngraphroot = "%s/podman/root"\nrunroot = "%s/podman/run"\n' "$work" "$work" >"$work/storage.conf"
export CONTAINERS_CONF=$work/containers.conf CONTAINERS_STORAGE_CONF=$work/storage.conf

(cd "$REPO_DIR/examples/hello" && "$GOCRATE" --root "$work/store" build . -t hello -q >/dev/null)
start=$(date +%s.%N)
"$GOCRATE" --root "$work/store" measure hello --runs 10 --chart "$RESULTS_DIR/measure.svg" -- once | tee "$RESULTS_DIR/measure.txt"
end=$(date +%s.%N)
python3 -c "print(f'\nmeasure with 10 runs per engine took {$end - $start:.1f} s (target < 30 s)')"
