#!/usr/bin/env python3
"""Distribution images run as in Docker: a Debian root made by debootstrap
(from the machine's own apt mirror, cached), imported by podman and by docker
with the device nodes its layer carries, moved into gocrate with save/load and
run; the container's /etc/hosts, /etc/hostname, /etc/resolv.conf, TERM,
/dev/shm and /sys/fs/cgroup as Docker makes them; hostile layers and flag
values."""

import atexit
import fcntl
import os
import pty
import re
import select
import shutil
import signal
import stat
import subprocess
import tarfile
import tempfile
import time

import harness
from harness import GOCRATE, Skip, check, docker_daemon, main, podman, require, run

SUITE = "bookworm"
CACHE = os.environ.get("GOCRATE_TEST_CACHE", "/var/cache/gocrate-tests")
SHARED = tempfile.mkdtemp(prefix="gocrate-distro-")  # the saved archives, made once for every test
atexit.register(shutil.rmtree, SHARED, True)
SHELL = "/bin/sh"
PROBE = "id; getent hosts localhost; apt --version; cat /sys/fs/cgroup/{memory}"


def need_root():
    if os.geteuid() != 0:
        raise Skip("gocrate run needs root")


def cgroup_files():
    """The container's memory and pids limit files, as the host's cgroup version names them."""
    if os.path.isdir("/sys/fs/cgroup/memory"):
        return {"memory": "memory/memory.limit_in_bytes", "pids": "pids/pids.max"}
    return {"memory": "memory.max", "pids": "pids.max"}


def apt_mirror():
    """The Debian archive this machine's apt uses."""
    texts = []
    for path in ["/etc/apt/sources.list"] + [os.path.join("/etc/apt/sources.list.d", n)
                                               for n in sorted(os.listdir("/etc/apt/sources.list.d"))]:
        if path.endswith((".list", ".sources")) and os.path.isfile(path):
            texts.append(open(path).read())
    for text in texts:
        for match in re.finditer(r"(?m)^\s*(?:URIs:|deb(?:\s+\[[^]]*\])?)\s+(https?://\S+)", text):
            uri = match.group(1).rstrip("/")
            if uri.endswith("/debian"):
                return uri
    return "http://deb.debian.org/debian"


def debian_root_tar():
    """A minbase Debian root as a tar, with the device nodes debootstrap makes in its /dev: built once and kept
    under CACHE, keyed by suite, so later runs reuse it."""
    path = os.path.join(CACHE, f"debian-{SUITE}-minbase.tar")
    if os.path.exists(path):
        return path
    require("debootstrap", "debootstrap")
    os.makedirs(CACHE, exist_ok=True)
    with open(path + ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if os.path.exists(path):
            return path
        work = tempfile.mkdtemp(prefix="gocrate-debootstrap-", dir=CACHE)
        try:
            root, mirror = os.path.join(work, "root"), apt_mirror()
            signal.alarm(0)  # debootstrap takes minutes; the test's own limit starts again afterwards
            try:
                result = run(["debootstrap", "--variant=minbase", SUITE, root, mirror], check_rc=False, timeout=1500)
            finally:
                signal.alarm(harness.TEST_TIMEOUT)
            if result.returncode != 0:
                log = (result.stdout + result.stderr).strip().splitlines()[-5:]
                raise Skip(f"debootstrap cannot build Debian {SUITE} from {mirror}: " + " | ".join(log))
            run(["tar", "--numeric-owner", "-C", root, "-cf", path + ".tmp", "."])
            os.rename(path + ".tmp", path)
        finally:
            subprocess.run(["umount", "-R", os.path.join(work, "root", "proc")], capture_output=True)
            shutil.rmtree(work, ignore_errors=True)
    return path


def archive_of(engine):
    """The Debian root imported by `engine` (podman or docker) and saved as that engine saves images."""
    archive = os.path.join(SHARED, f"{engine}.tar")
    if os.path.exists(archive):
        return archive
    root_tar = debian_root_tar()
    members = {m.name: m for m in tarfile.open(root_tar)}
    check(members.get("./dev/full") is not None and members["./dev/full"].ischr(),
          "the debootstrap root has no ./dev/full node to test with")
    import_as(engine, root_tar, f"distro-{engine}:latest", archive)
    return archive


def import_as(engine, root_tar, name, archive):
    if engine == "podman":
        with podman() as p:
            p("import", root_tar, name, timeout=900)
            p("save", "--format", "docker-archive", "-o", archive + ".tmp", f"localhost/{name}", timeout=900)
    else:
        with docker_daemon() as docker:
            docker("import", root_tar, name, timeout=900)
            docker("save", "-o", archive + ".tmp", name, timeout=900)
    os.rename(archive + ".tmp", archive)


def load(store, engine):
    """The image in `store`, by its name there."""
    store("load", "-i", archive_of(engine), timeout=900)
    listed = store("images").stdout
    for line in listed.splitlines():
        if f"distro-{engine}" in line:
            words = line.split()
            return f"{words[0]}:{words[1]}"
    raise harness.Failure(f"gocrate load of the {engine} archive named no distro-{engine} image:\n{listed}")


def device_nodes(top):
    """Every character or block device under `top` that is not an overlay whiteout (0:0 character node)."""
    found = []
    for dirpath, dirnames, filenames in os.walk(top):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            try:
                st = os.lstat(path)
            except FileNotFoundError:
                continue
            if stat.S_ISBLK(st.st_mode) or (stat.S_ISCHR(st.st_mode) and st.st_rdev != 0):
                found.append(f"{path} ({os.major(st.st_rdev)}:{os.minor(st.st_rdev)})")
    return found


def sh(store, *args, check_rc=True, timeout=120):
    """gocrate run ... IMAGE /bin/sh -c SCRIPT: args end with the image and the script."""
    *flags, image, script = args
    return store("run", *flags, image, SHELL, "-c", script, check_rc=check_rc, timeout=timeout)


def test_debootstrap_root_from_podman_and_docker_runs(store, work):
    need_root()
    files = cgroup_files()
    for engine in ["podman", "docker"]:
        image = load(store, engine)
        out = sh(store, "--rm", "-m", "64m", image, PROBE.format(memory=files["memory"])).stdout.splitlines()
        check(out[0].startswith("uid=0(root) gid=0(root)"), f"{engine}: {out}")
        check(re.match(r"^(::1|127\.0\.0\.1)\s+localhost\b", out[1]) is not None, f"{engine}: getent: {out}")
        check(out[2].startswith("apt 2."), f"{engine}: apt --version: {out}")
        check(out[3] == str(64 << 20), f"{engine}: the memory limit inside is {out[3]!r}")
        out = sh(store, "--rm", "-u", "1000", image, "id -u; id -g; touch /x 2>&1 || echo no-write").stdout.split("\n")
        check(out[:2] == ["1000", "0"] and "no-write" in out[-2], f"{engine}: -u 1000: {out}")
        # The standard nodes are the runtime's, working; the layer's never reached the store.
        out = sh(store, "--rm", image, "echo x > /dev/null && echo null-ok; (echo x > /dev/full) 2>/dev/null || "
                                        "echo full-refuses; stat -c '%t:%T %a' /dev/null /dev/full /dev/zero").stdout
        check("null-ok" in out and "full-refuses" in out, f"{engine}: {out}")
        check("1:3 666\n1:7 666\n1:5 666" in out, f"{engine}: /dev nodes: {out}")
    nodes = device_nodes(store.path)
    check(nodes == [], f"device nodes from the layers exist on the host: {nodes}")
    layers = os.path.join(store.path, "layers", "sha256")
    roots = [os.path.join(layers, h) for h in os.listdir(layers) if os.path.isdir(os.path.join(layers, h, "dev"))]
    check(roots, "no unpacked layer holds the root's /dev")
    for root in roots:
        left = sorted(os.listdir(os.path.join(root, "dev")))
        check("full" not in left and "null" not in left, f"{root}/dev holds {left}")


def test_hosts_hostname_and_resolv_conf(store, work):
    need_root()
    image = load(store, "docker")
    script = ("cat /etc/hosts; echo ---; cat /etc/hostname; hostname; cat /proc/sys/kernel/domainname; "
              "getent hosts db myhost gw; echo ---; cat /etc/resolv.conf; echo ---; echo $HOSTNAME")
    out = sh(store, "--rm", "-h", "myhost", "--domainname", "example.org", "--add-host", "db:10.0.0.2",
             "--add-host", "gw:host-gateway", "--add-host", "v6=[2001:db8::1]", image, script).stdout
    hosts, names, resolv, env = out.split("---\n")
    for line in ["127.0.0.1\tlocalhost", "::1\tlocalhost ip6-localhost ip6-loopback", "10.0.0.2\tdb",
                 "10.0.2.2\tgw", "2001:db8::1\tv6", "10.0.2.100\tmyhost.example.org myhost"]:
        check(line in hosts.splitlines(), f"/etc/hosts lacks {line!r}:\n{hosts}")
    check(names.splitlines()[:3] == ["myhost", "myhost", "example.org"], names)
    check(re.search(r"(?m)^10\.0\.0\.2\s+db$", names) and re.search(r"(?m)^10\.0\.2\.2\s+gw$", names)
          and re.search(r"(?m)^10\.0\.2\.100\s+myhost\.example\.org myhost$", names), f"getent:\n{names}")
    check(resolv.startswith("nameserver 10.0.2.3\n") or "\nnameserver 10.0.2.3\n" in resolv, resolv)
    check(env.strip() == "myhost", f"HOSTNAME={env!r}")

    out = sh(store, "--rm", "--dns", "192.0.2.53", "--dns", "2001:db8::53", "--dns-search", "corp.example",
             "--dns-search", "lab.example", "--dns-option", "ndots:2", "--dns-option", "edns0", image,
             "cat /etc/resolv.conf").stdout
    check(out == "search corp.example lab.example\nnameserver 192.0.2.53\nnameserver 2001:db8::53\n"
                 "options ndots:2 edns0\n", f"--dns and friends: {out!r}")
    out = sh(store, "--rm", "--network", "none", "--dns", "192.0.2.53", image, "cat /etc/resolv.conf").stdout
    check("nameserver 192.0.2.53\n" in out and "10.0.2.3" not in out, f"--network none --dns: {out!r}")
    out = sh(store, "--rm", "--network", "host", image, "cat /etc/resolv.conf").stdout
    check(out == open("/etc/resolv.conf").read(), f"--network host: {out!r}")
    # The container's root may edit its own files, as in Docker; with --read-only they are read-only.
    out = sh(store, "--rm", image, "echo '10.9.9.9 extra' >> /etc/hosts && getent hosts extra").stdout
    check("10.9.9.9" in out, out)
    out = sh(store, "--rm", "--read-only", "--add-host", "db:10.0.0.2", image,
             "getent hosts db; cat /etc/hostname; (echo x >> /etc/hosts) 2>&1; echo rc=$?").stdout
    check("10.0.0.2" in out and "Read-only file system" in out and "rc=0" not in out, f"--read-only: {out}")

    # A kept container (its files on disk), and a detached one that keeps its flags across stop and start.
    out = sh(store, "--name", "kept", "--add-host", "db:10.0.0.3", image, "getent hosts db").stdout
    check("10.0.0.3" in out, out)
    store("rm", "kept")
    store("run", "-d", "--name", "web", "-h", "webhost", "--add-host", "db:10.0.0.4", "--dns", "192.0.2.1",
          "--shm-size", "32m", image, "sleep", "600")
    try:
        for _ in range(2):
            out = store("exec", "web", SHELL, "-c", "getent hosts db webhost; cat /etc/resolv.conf; hostname; "
                                                    "grep ' /dev/shm ' /proc/self/mountinfo").stdout
            check("10.0.0.4" in out and "nameserver 192.0.2.1" in out and "\nwebhost\n" in out
                  and "size=32768k" in out, f"detached: {out}")
            store("stop", "-t", "1", "web")
            store("start", "web")
    finally:
        store("rm", "-f", "web", check_rc=False)


def test_shm_size(store, work):
    need_root()
    image = load(store, "docker")
    for flags, size in [([], "size=65536k"), (["--shm-size", "128m"], "size=131072k"),
                        (["--shm-size", "1g"], "size=1048576k"), (["--shm-size", "67108864"], "size=65536k"),
                        (["--shm-size=2MiB"], "size=2048k")]:
        out = sh(store, "--rm", *flags, image, "grep ' /dev/shm ' /proc/self/mountinfo").stdout
        check(size in out, f"{flags}: {out}")
    for bad in ["0", "abc", "-1", "10x", "1.5.5g", "0k"]:
        store.expect_error("run", "--rm", f"--shm-size={bad}", image, "true", code=125, contains="--shm-size")
    store.expect_error("run", "--rm", "--ipc", "host", "--shm-size", "1g", image, "true", code=125,
                       contains=["--shm-size", "--ipc host"])


def test_sys_fs_cgroup_is_the_containers_own_and_read_only(store, work):
    need_root()
    image = load(store, "docker")
    files = cgroup_files()
    out = sh(store, "--rm", "-m", "96m", "--pids-limit", "50", image,
             f"cat /sys/fs/cgroup/{files['memory']} /sys/fs/cgroup/{files['pids']}; cat /proc/self/cgroup; "
             "grep ' /sys/fs/cgroup' /proc/self/mountinfo").stdout.splitlines()
    check(out[:2] == [str(96 << 20), "50"], f"limits inside: {out}")
    own = [line for line in out if re.match(r"^\d+:([^:]*,)?(memory|pids)(,[^:]*)?:", line) or line == "0::/"]
    check(own and all(line.endswith(":/") for line in own), f"/proc/self/cgroup shows the host's paths: {out}")
    mounts = [line for line in out if " /sys/fs/cgroup" in line]
    check(mounts and all(" ro," in line or " ro " in line for line in mounts), f"not read-only: {mounts}")
    # Nothing of the host's tree: no other container, no gocrate directory.
    listing = sh(store, "--rm", "-m", "64m", image, "ls /sys/fs/cgroup/ /sys/fs/cgroup/*/ 2>&1").stdout
    check("gocrate" not in listing, f"the host's cgroup tree shows:\n{listing}")
    out = sh(store, "--rm", "-m", "64m", image,
             f"(echo 1073741824 > /sys/fs/cgroup/{files['memory']}) 2>&1; (mkdir /sys/fs/cgroup/x) 2>&1; "
             f"cat /sys/fs/cgroup/{files['memory']}", check_rc=False).stdout
    check(out.count("Read-only file system") == 2 and out.splitlines()[-1] == str(64 << 20), f"writes: {out}")
    # Docker's rule: --privileged may write them (lower: swap is capped at the limit on v1).
    out = sh(store, "--rm", "--privileged", "-m", "64m", image,
             f"echo 50331648 > /sys/fs/cgroup/{files['memory']} && cat /sys/fs/cgroup/{files['memory']}").stdout
    check(out.strip() == "50331648", f"--privileged: {out}")
    # The host's hierarchies stay writable.
    for line in open("/proc/self/mountinfo"):
        fields = line.split()
        if fields[4].startswith("/sys/fs/cgroup/") and " - cgroup" in line:
            check(fields[5].startswith("rw"), f"a container made the host's {fields[4]} read-only: {line}")


def pty_run(store, *args, send=b"", timeout=60):
    """gocrate run under a pseudo-terminal: what the terminal showed."""
    master, slave = os.openpty()
    proc = subprocess.Popen([GOCRATE, "--root", store.path, "run", *args], stdin=slave, stdout=slave, stderr=slave,
                            start_new_session=True)
    os.close(slave)
    out = b""
    deadline = time.monotonic() + timeout
    try:
        if send:
            os.write(master, send)
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 1)
            if ready:
                try:
                    data = os.read(master, 4096)
                except OSError:  # EIO: every slave is closed
                    break
                if not data:
                    break
                out += data
            elif proc.poll() is not None:
                break
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        os.close(master)
    return proc.returncode, out.decode(errors="replace")


def test_tty_sets_term(store, work):
    need_root()
    image = load(store, "docker")
    code, out = pty_run(store, "--rm", "-it", image, "/bin/bash",
                        send=b"echo \"T=${TERM}=$(tty)=T\"; exit 3\n")
    check(code == 3 and "T=xterm=/dev/pts/0=T" in out, f"-it: exit {code}: {out!r}")
    code, out = pty_run(store, "--rm", "-t", image, SHELL, "-c", "echo T=$TERM=T")
    check(code == 0 and "T=xterm=T" in out, f"-t: exit {code}: {out!r}")
    code, out = pty_run(store, "--rm", "-t", "-e", "TERM=vt220", image, SHELL, "-c", "echo T=$TERM=T")
    check(code == 0 and "T=vt220=T" in out, f"-t -e TERM=vt220: exit {code}: {out!r}")
    out = sh(store, "--rm", image, "echo T=${TERM:-unset}=T").stdout
    check(out.strip() == "T=unset=T", f"without -t: {out!r}")


def test_hostile_layer_and_flag_values(store, work):
    """A layer whose /etc files are symlinks out of the root, into /proc and nowhere, and that carries device
    nodes in odd places; flag values that would add lines to the generated files."""
    need_root()
    victim = os.path.join(work, "victim")
    open(victim, "w").write("host file\n")
    root_tar = os.path.join(work, "hostile.tar")
    replaced = {"./etc/hosts", "./etc/hostname", "./etc/resolv.conf"}
    with tarfile.open(debian_root_tar()) as source, tarfile.open(root_tar, "w", format=tarfile.GNU_FORMAT) as tar:
        for member in source:
            if member.name not in replaced:
                tar.addfile(member, source.extractfile(member) if member.isreg() else None)

        def add(name, kind, target="", major=0, minor=0):
            info = tarfile.TarInfo(name)
            info.type, info.linkname, info.devmajor, info.devminor, info.mode = kind, target, major, minor, 0o6666
            tar.addfile(info)
        add("./etc/hosts", tarfile.SYMTYPE, "/../../../../../../../../.." + victim)
        add("./etc/hostname", tarfile.SYMTYPE, "/proc/sys/kernel/hostname")
        add("./etc/resolv.conf", tarfile.SYMTYPE, "../run/systemd/resolve/stub-resolv.conf")
        add("./opt/evil-kmem", tarfile.CHRTYPE, major=1, minor=2)
        add("./opt/evil-sda", tarfile.BLKTYPE, major=8, minor=0)
        add("./dev/evil-mem", tarfile.CHRTYPE, major=1, minor=1)
    archive = os.path.join(work, "hostile-archive.tar")
    import_as("docker", root_tar, "hostile:latest", archive)
    store("load", "-i", archive, timeout=900)
    image = "hostile:latest"
    script = ("cat /etc/hosts; echo ---; cat /etc/hostname; cat /proc/sys/kernel/hostname; echo ---; "
              "cat /etc/resolv.conf; echo ---; ls /opt /dev")
    out = sh(store, "--rm", "-h", "myhost", "--add-host", "db:10.0.0.2", image, script).stdout
    hosts, names, resolv, listing = out.split("---\n")
    check("10.0.0.2\tdb" in hosts and "host file" not in hosts, f"/etc/hosts: {hosts}")
    check(names == "myhost\nmyhost\n", f"/etc/hostname: {names!r}")
    check("nameserver 10.0.2.3" in resolv, f"/etc/resolv.conf: {resolv!r}")
    check("evil" not in listing, f"device nodes from the layer are in the container:\n{listing}")
    # Read-only: the links are left alone (no file to bind over), and the container still starts.
    out = sh(store, "--rm", "--read-only", "-h", "myhost", image,
             "cat /etc/hosts 2>&1; cat /proc/sys/kernel/hostname; test -e /opt/evil-kmem || echo no-node").stdout
    check("host file" not in out and "myhost" in out and "no-node" in out, f"--read-only: {out}")
    check(open(victim).read() == "host file\n", "the host file behind the image's /etc/hosts link changed")
    nodes = device_nodes(store.path)
    check(nodes == [], f"device nodes from the layers exist on the host: {nodes}")

    for flag, value, named in [
            ("--add-host", "db:10.0.0.1\n6.6.6.6 bank", "--add-host"),
            ("--add-host", "bank 6.6.6.6:10.0.0.1", "--add-host"), ("--add-host", "db:10.0.0.1 bank", "--add-host"),
            ("--add-host", "#x:10.0.0.1", "--add-host"), ("--dns", "1.1.1.1\nnameserver 6.6.6.6", "--dns"),
            ("--dns", "resolver.example", "--dns"), ("--dns-search", "a.example\nnameserver 6.6.6.6", "--dns-search"),
            ("--dns-search", "a b", "--dns-search"), ("--dns-option", "ndots:1\nnameserver 6.6.6.6", "--dns-option"),
            ("--hostname", "a\n6.6.6.6 bank", "--hostname"), ("--hostname", "x" * 65, "--hostname"),
            ("--domainname", "a b", "--domainname"), ("-h", "under_score", "--hostname")]:
        store.expect_error("run", "--rm", flag, value, image, "true", code=125, contains=named)
    store.expect_error("run", "--rm", "--network", "none", "--add-host", "gw:host-gateway", image, "true",
                       code=125, contains=["host-gateway", "--network none"])


if __name__ == "__main__":
    main(globals())
