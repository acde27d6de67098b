"""Shared pieces of the end-to-end tests: running gocrate, checking errors,
and starting the real peers (dockerd, podman, docker-registry) on loopback.

Each test file is a script whose test_* functions run in order; a function
that raises Skip is reported as skipped with its reason. The script exits 0
when all ran or were skipped, 1 on any failure, and 77 (CTest's skip code)
when every test was skipped."""

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import traceback

GOCRATE = os.environ.get("GOCRATE", "gocrate")
SOURCE_DIR = os.environ.get("GOCRATE_SOURCE_DIR", os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
HELLO_DIR = os.path.join(SOURCE_DIR, "examples", "hello")


class Skip(Exception):
    pass


class Failure(AssertionError):
    pass


def check(condition, message):
    if not condition:
        raise Failure(message)


def run(args, check_rc=True, env=None, cwd=None, timeout=600, input=None):
    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    result = subprocess.run(args, capture_output=True, text=True, env=full_env, cwd=cwd, timeout=timeout,
                            input=input)
    if check_rc and result.returncode != 0:
        raise Failure(f"{' '.join(map(str, args))} exited {result.returncode}\nstdout: {result.stdout}\n"
                      f"stderr: {result.stderr}")
    return result


class Store:
    """A fresh gocrate state directory and a way to run commands against it."""

    def __init__(self, path):
        self.path = path

    def __call__(self, *args, check_rc=True, env=None, cwd=None, timeout=600, input=None):
        return run([GOCRATE, "--root", self.path, *args], check_rc=check_rc, env=env, cwd=cwd, timeout=timeout,
                   input=input)

    def expect_error(self, *args, contains, env=None, cwd=None):
        """Runs a command that must fail with one clear line naming `contains`."""
        result = self(*args, check_rc=False, env=env, cwd=cwd)
        check(result.returncode != 0, f"gocrate {' '.join(args)} should fail but exited 0")
        lines = [line for line in result.stderr.strip().splitlines() if line.startswith("gocrate")]
        check(len(lines) == 1, f"expected one gocrate error line, got: {result.stderr!r}")
        for text in [contains] if isinstance(contains, str) else contains:
            check(text in lines[0], f"error {lines[0]!r} does not mention {text!r}")
        return lines[0]


@contextlib.contextmanager
def temp_dir(prefix="gocrate-e2e-"):
    path = tempfile.mkdtemp(prefix=prefix)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def check_blobs_match_names(store_path):
    """Every blob in a store is complete: its content hashes to its name."""
    import hashlib
    blobs = os.path.join(store_path, "blobs", "sha256")
    for name in os.listdir(blobs) if os.path.isdir(blobs) else []:
        digest = hashlib.sha256(open(os.path.join(blobs, name), "rb").read()).hexdigest()
        check(digest == name, f"blob {name} in {store_path} is partial or corrupt")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise Failure(f"timed out after {timeout}s waiting for {what}")


def require(program, package):
    if not shutil.which(program):
        raise Skip(f"{program} is not installed (Debian package {package}; scripts/install-deps.sh installs it)")


@contextlib.contextmanager
def docker_daemon():
    """A private dockerd (vfs storage, no bridge, no iptables) on a socket of its own."""
    require("dockerd", "docker.io")
    with temp_dir("gocrate-dockerd-") as work:
        sock = os.path.join(work, "docker.sock")
        log = open(os.path.join(work, "dockerd.log"), "w")
        daemon = subprocess.Popen(
            ["dockerd", "--iptables=false", "--ip6tables=false", "--bridge=none", "--storage-driver=vfs",
             "-H", f"unix://{sock}", "--data-root", f"{work}/data", "--exec-root", f"{work}/exec",
             "--pidfile", f"{work}/docker.pid"], stdout=log, stderr=subprocess.STDOUT)
        env = {"DOCKER_HOST": f"unix://{sock}"}
        try:
            def ready():
                if daemon.poll() is not None:
                    raise Skip(f"dockerd exited at start: {open(log.name).read()[-500:]}")
                return run(["docker", "version"], check_rc=False, env=env).returncode == 0
            wait_for(ready, 60, "dockerd")
            yield lambda *args, **kw: run(["docker", *args], env=env, **kw)
        finally:
            daemon.terminate()
            try:
                daemon.wait(30)
            except subprocess.TimeoutExpired:
                daemon.kill()
                daemon.wait()
            log.close()
            subprocess.run(["umount", "-R", f"{work}/exec"], capture_output=True)
            subprocess.run(["umount", "-R", f"{work}/data"], capture_output=True)


@contextlib.contextmanager
def podman():
    """podman with private storage, configured as this machine allows."""
    require("podman", "podman")
    with temp_dir("gocrate-podman-") as work:
        base = ["podman", "--root", f"{work}/root", "--runroot", f"{work}/run", "--storage-driver", "vfs",
                "--cgroup-manager", "cgroupfs", "--runtime", "runc"]

        def call(*args, **kw):
            args = list(args)
            if args and args[0] == "run":
                args[1:1] = ["--ulimit", "nofile=20000:20000", "--ulimit", "nproc=32768:32768"]
            return run(base + args, **kw)
        try:
            yield call
        finally:
            subprocess.run(base + ["rm", "-af"], capture_output=True)
            subprocess.run(["umount", "-R", f"{work}/root"], capture_output=True)


def main(namespace):
    tests = [(name, fn) for name, fn in namespace.items() if name.startswith("test_") and callable(fn)]
    only = os.environ.get("GOCRATE_TEST_FILTER")
    passed = failed = skipped = 0
    for name, fn in tests:
        if only and only not in name:
            continue
        start = time.monotonic()
        with temp_dir() as work:
            store = Store(os.path.join(work, "store"))
            try:
                fn(store, work)
                passed += 1
                print(f"PASS {name} ({time.monotonic() - start:.1f}s)", flush=True)
            except Skip as e:
                skipped += 1
                print(f"SKIP {name}: {e}", flush=True)
            except Exception:
                failed += 1
                print(f"FAIL {name}\n{traceback.format_exc()}", flush=True)
    print(f"{passed} passed, {failed} failed, {skipped} skipped")
    if failed:
        sys.exit(1)
    if skipped and not passed:
        sys.exit(77)
    sys.exit(0)
