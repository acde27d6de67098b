#!/usr/bin/env python3
"""gocrate-runtime in runc's place under the engines that drive runc: podman
(through conmon), dockerd and containerd (through containerd-shim-runc-v2)
run examples/hello, built by gocrate, once and serving, exec into it, stop
and remove it, and the runtime's own state shows it ran the container.

The runtime is <directory of the gocrate binary>/gocrate-runtime, or the
path in GOCRATE_RUNTIME (GOCRATE_RUNTIME=/usr/sbin/runc checks the test
itself against runc)."""

import glob
import json
import os
import shutil
import signal
import subprocess
import sys

from harness import (GOCRATE, HELLO_DIR, Skip, check, docker_daemon, main, oci_runtime, podman, require, run,
                     stop_daemon, temp_dir, wait_for)

IMAGE = "engines-hello"
GREETING = "Hello, World!"



def hello_archive(store, work):
    """examples/hello built by gocrate, as a docker-archive every engine loads."""
    store("build", ".", "-t", IMAGE, "-q", cwd=HELLO_DIR)
    archive = os.path.join(work, "hello.tar")
    store("save", IMAGE, "-o", archive)
    return archive


def runtime_state(runtime, container_id, root=None):
    """The runtime's `state` of a container, or None when it does not know it."""
    result = run([runtime, *(["--root", root] if root else []), "state", container_id], check_rc=False)
    return json.loads(result.stdout) if result.returncode == 0 else None


def check_ran_by_runtime(runtime, container_id, pid, root=None):
    state = runtime_state(runtime, container_id, root)
    where = f"{runtime} --root {root}" if root else f"{runtime} (its default root)"
    check(state is not None, f"{where} does not know container {container_id}: the engine did not run it with the "
                             f"runtime")
    check(state["status"] == "running" and state["pid"] == pid,
          f"{where} state of {container_id} is {state}, the engine says pid {pid}")


# Run inside the container's network namespace: the containers have no network
# but loopback, so nothing on the host can collide with hello's port 8080.
PROBE = """
import time, urllib.request
deadline = time.monotonic() + 30
while True:
    try:
        print(urllib.request.urlopen("http://127.0.0.1:8080/", timeout=5).read().decode(), end="")
        break
    except OSError:
        if time.monotonic() > deadline:
            raise
        time.sleep(0.1)
"""


def check_serves(pid):
    require("nsenter", "util-linux")
    body = run(["nsenter", "-t", str(pid), "-n", sys.executable, "-c", PROBE], timeout=60).stdout
    check(body == GREETING, f"hello in the container answered {body!r}")


def test_podman(store, work):
    runtime = oci_runtime()
    archive = hello_archive(store, work)
    # podman passes a runtime given by path no --root, so it keeps its state
    # in its default root. (`--runtime-flag root=DIR` reaches create, start,
    # exec and kill, but podman 4.3's cleanup deletes without it.)
    with podman(runtime) as pm:
        pm("load", "-q", "-i", archive)
        out = pm("run", "--rm", "--network", "none", IMAGE, "once").stdout
        check(out == GREETING + "\n", f"podman run --rm printed {out!r}")

        cid = pm("run", "-d", "--name", "engines-serve", "--network", "none", IMAGE).stdout.strip()
        info = json.loads(pm("inspect", cid).stdout)[0]
        check(info["OCIRuntime"] == runtime, f"podman ran {cid} with {info['OCIRuntime']}, not {runtime}")
        check_ran_by_runtime(runtime, cid, info["State"]["Pid"])
        check_serves(info["State"]["Pid"])
        out = pm("exec", cid, "/app/hello", "once").stdout
        check(out == GREETING + "\n", f"podman exec printed {out!r}")
        pm("stop", cid)
        status = pm("inspect", "-f", "{{.State.Status}}", cid).stdout.strip()
        check(status == "exited", f"after podman stop {cid} is {status}")
        pm("rm", cid)
        check(runtime_state(runtime, cid) is None, f"{runtime} still has {cid} after podman rm")

        cid = pm("run", "-d", "--network", "none", IMAGE, "once").stdout.strip()
        code = pm("wait", cid).stdout.strip()
        check(code == "0", f"hello once exited {code}")
        out = pm("logs", cid).stdout
        check(out == GREETING + "\n", f"podman logs printed {out!r}")
        pm("rm", cid)

        cid = pm("run", "-d", "--rm", "--network", "none", IMAGE).stdout.strip()
        check_ran_by_runtime(runtime, cid, int(pm("inspect", "-f", "{{.State.Pid}}", cid).stdout))
        pm("stop", cid)

        def removed():
            return cid not in pm("ps", "-aq", "--no-trunc").stdout and runtime_state(runtime, cid) is None
        wait_for(removed, 30, f"podman and {runtime} to forget the --rm container {cid}")


def test_docker(store, work):
    runtime = oci_runtime()
    archive = hello_archive(store, work)
    with docker_daemon(f"--add-runtime=gocrate={runtime}") as docker:
        docker("load", "-q", "-i", archive)
        out = docker("run", "--rm", "--runtime", "gocrate", "--network", "none", IMAGE, "once").stdout
        check(out == GREETING + "\n", f"docker run --rm printed {out!r}")

        cid = docker("run", "-d", "--runtime", "gocrate", "--network", "none", IMAGE).stdout.strip()
        info = json.loads(docker("inspect", cid).stdout)[0]
        check(info["HostConfig"]["Runtime"] == "gocrate", info["HostConfig"]["Runtime"])
        pid = info["State"]["Pid"]
        # dockerd gives the shim a runtime root under its exec-root: 20.10
        # uses runtime-runc/moby for every runtime, later versions
        # runtime-<name>/moby.
        roots = [root for root in sorted(glob.glob(os.path.join(docker.exec_root, "runtime-*", "moby")))
                 if runtime_state(runtime, cid, root) is not None]
        check(len(roots) == 1, f"{runtime} knows {cid} in {roots or 'none'} of the roots under {docker.exec_root}")
        root = roots[0]
        check_ran_by_runtime(runtime, cid, pid, root)
        check_serves(pid)
        out = docker("exec", cid, "/app/hello", "once").stdout
        check(out == GREETING + "\n", f"docker exec printed {out!r}")
        docker("stop", cid)
        status = docker("inspect", "-f", "{{.State.Status}}", cid).stdout.strip()
        check(status == "exited", f"after docker stop {cid} is {status}")
        docker("rm", cid)
        check(runtime_state(runtime, cid, root) is None, f"{runtime} still has {cid} in {root} after docker rm")


class Containerd:
    """A containerd of the test's own: config, root, state and sockets in
    `work`. containerd 1.6 puts its shims' sockets in /run/containerd/s
    whatever its state directory, so it runs in a mount namespace of its own
    with a fresh /run: the host's /run/containerd stays untouched."""

    NAMESPACE = "gocrate-e2e"

    def __init__(self, work):
        self.work = work
        self.socket = os.path.join(work, "containerd.sock")
        self.fifos = os.path.join(work, "fifo")
        os.makedirs(self.fifos)
        config = os.path.join(work, "config.toml")
        disabled = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.btrfs",
                    "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper",
                    "io.containerd.snapshotter.v1.aufs", "io.containerd.tracing.processor.v1.otlp",
                    "io.containerd.internal.v1.tracing"]
        open(config, "w").write(
            f'version = 2\nroot = "{work}/root"\nstate = "{work}/state"\ndisabled_plugins = {json.dumps(disabled)}\n'
            f'[grpc]\n  address = "{self.socket}"\n[ttrpc]\n  address = "{self.socket}.ttrpc"\n'
            f'[debug]\n  address = "{work}/debug.sock"\n'
            f'[plugins."io.containerd.internal.v1.opt"]\n  path = "{work}/opt"\n')
        self.log = open(os.path.join(work, "containerd.log"), "w")
        self.process = subprocess.Popen(
            ["unshare", "--mount", "--propagation", "private", "sh", "-c",
             'mount -t tmpfs -o mode=0755 gocrate-run /run && exec containerd -c "$0"', config],
            stdout=self.log, stderr=subprocess.STDOUT)

        def ready():
            if self.process.poll() is not None:
                raise Skip(f"containerd exited at start: {open(self.log.name).read()[-500:]}")
            return self.ctr("version", check_rc=False).returncode == 0
        try:
            wait_for(ready, 60, "containerd")
        except BaseException:
            self.close()
            raise

    def ctr(self, *args, **kw):
        return run(["ctr", "-a", self.socket, "-n", self.NAMESPACE, *args], **kw)

    def tasks(self):
        """{container id: (pid, status)} of the tasks containerd has."""
        lines = self.ctr("task", "ls").stdout.splitlines()[1:]
        return {fields[0]: (int(fields[1]), fields[2]) for fields in (line.split() for line in lines)}

    def close(self):
        for cid in self.ctr("task", "ls", "-q", check_rc=False).stdout.split():
            self.ctr("task", "delete", "--force", cid, check_rc=False)
        for cid in self.ctr("container", "ls", "-q", check_rc=False).stdout.split():
            self.ctr("container", "delete", cid, check_rc=False)
        stop_daemon(self.process, self.log)
        # Shims outlive containerd: end any this daemon started, by their pid.
        for cmdline in glob.glob("/proc/[0-9]*/cmdline"):
            try:
                args = open(cmdline, "rb").read().split(b"\0")
            except OSError:
                continue
            if args[0].endswith(b"containerd-shim-runc-v2") and self.socket.encode() in args:
                try:
                    os.kill(int(cmdline.split("/")[2]), signal.SIGKILL)
                except ProcessLookupError:
                    pass


def test_containerd(store, work):
    runtime = oci_runtime()
    require("containerd", "containerd")
    require("ctr", "containerd")
    require("unshare", "util-linux")
    archive = hello_archive(store, work)
    with temp_dir("gocrate-containerd-") as home:
        daemon = Containerd(home)
        try:
            ctr = daemon.ctr
            ctr("images", "import", "--snapshotter", "native", archive)
            image = ctr("images", "ls", "-q").stdout.split()
            check(len(image) == 1, f"ctr images import gave {image}")
            root = os.path.join(home, "runtime-root")
            # The shim gives the runtime --root <runc-root>/<namespace>.
            run_flags = ["--snapshotter", "native", "--fifo-dir", daemon.fifos, "--runc-binary", runtime,
                         "--runc-root", root]
            out = ctr("run", "--rm", *run_flags, image[0], "engines-once", "/app/hello", "once").stdout
            check(out == GREETING + "\n", f"ctr run --rm printed {out!r}")

            ctr("run", "-d", *run_flags, image[0], "engines-serve")
            pid, status = daemon.tasks()["engines-serve"]
            check(status == "RUNNING", f"the ctr task is {status}")
            runtime_root = os.path.join(root, Containerd.NAMESPACE)
            check_ran_by_runtime(runtime, "engines-serve", pid, runtime_root)
            check_serves(pid)
            out = ctr("task", "exec", "--fifo-dir", daemon.fifos, "--exec-id", "engines-probe", "engines-serve",
                      "/app/hello", "once").stdout
            check(out == GREETING + "\n", f"ctr task exec printed {out!r}")
            ctr("task", "kill", "engines-serve")
            wait_for(lambda: daemon.tasks()["engines-serve"][1] == "STOPPED", 30, "hello to stop on SIGTERM")
            ctr("task", "delete", "engines-serve")
            check(runtime_state(runtime, "engines-serve", runtime_root) is None,
                  f"{runtime} still has engines-serve in {runtime_root} after ctr task delete")
            ctr("container", "delete", "engines-serve")
        finally:
            daemon.close()


if __name__ == "__main__":
    main(globals())
