#!/usr/bin/env python3
"""gocrate-runtime's own behaviour, and attacks against it from what an image
controls. Each attack is tried and the test fails if it works.

The bundles come from `gocrate spec --bundle` on a one-file Go probe (a
static binary whose first argument says what to report), with its
arguments, the user (root) and the cgroup path set per test. The runtime
under test is GOCRATE_RUNTIME if set, else gocrate-runtime beside gocrate;
every test uses a --root of its own and deletes what it made even on failure.
"""

import atexit
import contextlib
import fcntl
import json
import os
import re
import shlex
import shutil
import stat
import subprocess
import tempfile
import termios
import uuid

from harness import (GO_ERRNO_OF, GOCRATE, Failure, Skip, build_program, check, expect_one_error, main, oci_runtime,
                     require, wait_for)

PROBE_SOURCE = r'''
package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"
)

''' + GO_ERRNO_OF + r'''
func main() {
	switch os.Args[1] {
	case "exit":
		n, _ := strconv.Atoi(os.Args[2])
		os.Exit(n)
	case "sleep":
		time.Sleep(time.Hour)
	case "fds":
		entries, _ := os.ReadDir("/proc/self/fd")
		var out []string
		for _, e := range entries {
			target, _ := os.Readlink("/proc/self/fd/" + e.Name())
			out = append(out, e.Name()+"="+target)
		}
		fmt.Println(strings.Join(out, "\n"))
	case "tty":
		stat, _ := os.ReadFile("/proc/self/stat")
		s := string(stat)
		fields := strings.Fields(s[strings.LastIndex(s, ")")+2:])
		f, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
		if err == nil {
			f.Close()
		}
		c := byte('x')
		_, _, sti := syscall.Syscall(syscall.SYS_IOCTL, 0, syscall.TIOCSTI, uintptr(unsafe.Pointer(&c)))
		fmt.Printf("tty_nr=%s devtty=%s tiocsti=%s\n", fields[4], errnoOf(err), errnoOf(syscall.Errno(sti)))
	case "mknod":
		// mknod PATH MAJOR MINOR: makes a block device node, then opens it.
		major, _ := strconv.Atoi(os.Args[3])
		minor, _ := strconv.Atoi(os.Args[4])
		dev := (minor & 0xff) | (major&0xfff)<<8 | (minor&^0xff)<<12
		err := syscall.Mknod(os.Args[2], syscall.S_IFBLK|0600, dev)
		fmt.Printf("mknod=%s", errnoOf(err))
		f, err := os.OpenFile(os.Args[2], os.O_RDONLY, 0)
		if err == nil {
			f.Close()
		}
		fmt.Printf(" open=%s\n", errnoOf(err))
	case "open":
		for _, p := range os.Args[2:] {
			f, err := os.OpenFile(p, os.O_RDONLY, 0)
			if err == nil {
				f.Close()
			}
			fmt.Printf("%s=%s\n", p, errnoOf(err))
		}
	case "ls":
		entries, err := os.ReadDir(os.Args[2])
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		fmt.Printf("%s %s\n", errnoOf(err), strings.Join(names, " "))
	case "devs":
		entries, _ := os.ReadDir("/dev")
		for _, e := range entries {
			fmt.Println(e.Name())
		}
	case "read":
		// At most 4096 bytes: an unmasked /proc/kcore is as large as the address space.
		n := 0
		f, err := os.Open(os.Args[2])
		if err == nil {
			buf := make([]byte, 4096)
			n, err = f.Read(buf)
			if err != nil && err.Error() == "EOF" {
				err = nil
			}
			f.Close()
		}
		fmt.Printf("%s %d\n", errnoOf(err), n)
	case "write":
		err := os.WriteFile(os.Args[2], []byte(os.Args[3]), 0644)
		fmt.Println(errnoOf(err))
	case "fork":
		// fork N: starts N sleeping children; prints how many started and the first error.
		n, _ := strconv.Atoi(os.Args[2])
		started, first := 0, "ok"
		for i := 0; i < n; i++ {
			_, err := syscall.ForkExec("/proc/self/exe", []string{"probe", "sleep"}, &syscall.ProcAttr{})
			if err != nil {
				first = errnoOf(err)
				break
			}
			started++
		}
		fmt.Printf("started=%d err=%s\n", started, first)
	}
}
'''

CGROUP_PARENT = "gocrate-e2e-oci-runtime"
_template = {}



class Runtime:
    """gocrate-runtime with a --root of its own under `work`. Output goes to files, not pipes:
    a created container keeps the runtime's stdout and would hold a pipe open."""

    def __init__(self, work):
        self.path = oci_runtime()
        self.root = os.path.join(work, "runtime-root")
        self.work = work
        self.calls = 0

    def __call__(self, *args, check_rc=True, timeout=60, wrap=None, **popen):
        self.calls += 1
        out_path = os.path.join(self.work, f"call-{self.calls}.out")
        err_path = os.path.join(self.work, f"call-{self.calls}.err")
        command = [self.path, "--root", self.root, *args]
        if wrap:
            command = wrap(command)
        popen.setdefault("stdin", subprocess.DEVNULL)
        if "--bundle" in args and os.path.isdir(args[args.index("--bundle") + 1]):
            # Where engines run it (containerd's shim, podman's conmon); test_relative_mount_source_*
            # checks the bundle's relative paths do not depend on it.
            popen.setdefault("cwd", args[args.index("--bundle") + 1])
        with open(out_path, "w") as out, open(err_path, "w") as err:
            popen.setdefault("stdout", out)
            popen.setdefault("stderr", err)
            try:
                code = subprocess.run(command, timeout=timeout, **popen).returncode
            except subprocess.TimeoutExpired:
                raise Failure(f"gocrate-runtime {' '.join(args)} did not finish within {timeout}s")
        result = subprocess.CompletedProcess(command, code, open(out_path).read(), open(err_path).read())
        if check_rc and code != 0:
            raise Failure(f"gocrate-runtime {' '.join(args)} exited {code}\nstdout: {result.stdout}\n"
                          f"stderr: {result.stderr}")
        return result

    def state(self, cid):
        return json.loads(self("state", cid).stdout)

    def wait_stopped(self, cid, timeout=30):
        wait_for(lambda: self.state(cid)["status"] == "stopped", timeout, f"container {cid} to stop")

    def output_of(self, cid, bundle_dir, timeout=30):
        """Creates and starts `cid`, waits for it to stop, and returns what its process printed."""
        out_path = os.path.join(self.work, f"{cid}.stdout")
        with open(out_path, "w") as out:
            self("create", "--bundle", bundle_dir, cid, stdout=out)
        self("start", cid)
        self.wait_stopped(cid, timeout)
        self("delete", cid)
        return open(out_path).read()


def host_mount_points():
    return {line.split()[4] for line in open("/proc/self/mountinfo")}


def cgroup_dirs(cid):
    """The cgroup directories of `cid` in every hierarchy of this host."""
    found = []
    for line in open("/proc/self/mountinfo"):
        left, _, right = line.partition(" - ")
        if right.startswith("cgroup"):
            path = os.path.join(left.split()[4], CGROUP_PARENT, cid)
            if os.path.isdir(path):
                found.append(path)
    return found


@contextlib.contextmanager
def runtime(work):
    """A Runtime whose containers, mounts under `work` and cgroups are gone afterwards, even on failure."""
    rt = Runtime(work)
    mounts_before = host_mount_points()
    try:
        yield rt
    finally:
        if os.path.isdir(rt.root):
            for cid in os.listdir(rt.root):
                subprocess.run([rt.path, "--root", rt.root, "delete", "--force", cid], capture_output=True,
                               timeout=60)
        for point in sorted(host_mount_points() - mounts_before, key=len, reverse=True):
            if point.startswith(work):
                subprocess.run(["umount", "-l", point], capture_output=True)
        for line in open("/proc/self/mountinfo"):
            left, _, right = line.partition(" - ")
            parent = os.path.join(left.split()[4], CGROUP_PARENT)
            if right.startswith("cgroup") and os.path.isdir(parent):
                for child in os.listdir(parent):
                    if os.path.isdir(os.path.join(parent, child)):
                        with contextlib.suppress(OSError):
                            os.rmdir(os.path.join(parent, child))
                with contextlib.suppress(OSError):
                    os.rmdir(parent)


def new_id():
    return f"ocirt-{uuid.uuid4().hex[:10]}"


def bundle(store, work, cid, args, edit=None):
    """A bundle of the probe running `args` as root without a terminal, in cgroup CGROUP_PARENT/cid;
    `edit(config, rootfs)` changes it further."""
    if "dir" not in _template:
        build_program(store, work, "ociprobe", PROBE_SOURCE)
        keep = tempfile.mkdtemp(prefix="gocrate-oci-runtime-bundle-")
        atexit.register(shutil.rmtree, keep, True)
        store("spec", "--bundle", os.path.join(keep, "bundle"), "ociprobe")
        _template["dir"] = os.path.join(keep, "bundle")
    path = os.path.join(work, f"bundle-{cid}")
    shutil.copytree(_template["dir"], path, symlinks=True)
    config_path = os.path.join(path, "config.json")
    config = json.load(open(config_path))
    config["process"]["args"] = [config["process"]["args"][0], *args]
    config["process"]["user"] = {"uid": 0, "gid": 0}
    config["process"]["terminal"] = False
    config["hostname"] = cid
    config["linux"]["cgroupsPath"] = f"/{CGROUP_PARENT}/{cid}"
    if edit:
        edit(config, os.path.join(path, "rootfs"))
    json.dump(config, open(config_path, "w"), indent=1)
    return path



def create_sleeping(rt, store, work, cid):
    """A created container whose process sleeps once started; its output goes to a file."""
    b = bundle(store, work, cid, ["sleep"])
    with open(os.path.join(work, "sleep.out"), "w") as out:
        rt("create", "--bundle", b, cid, stdout=out, stderr=subprocess.STDOUT)
    return b

# --- lifecycle and runc-compatible output ---

def test_lifecycle_state_list_ps(store, work):
    with runtime(work) as rt:
        cid = new_id()
        b = create_sleeping(rt, store, work, cid)
        state = rt.state(cid)
        check(state["id"] == cid and state["status"] == "created", f"after create: {state}")
        check(isinstance(state.get("pid"), int) and state["pid"] > 0, f"a created container has no pid: {state}")
        check(state.get("bundle") == b, f"state names bundle {state.get('bundle')!r}, not {b!r}")
        check(state.get("ociVersion"), f"state has no ociVersion: {state}")
        rt("start", cid)
        state = rt.state(cid)
        check(state["status"] == "running", f"after start: {state}")
        pid = state["pid"]

        table = rt("list").stdout.splitlines()
        check(table and table[0].split()[:4] == ["ID", "PID", "STATUS", "BUNDLE"], f"list header: {table[:1]}")
        rows = [line.split() for line in table[1:] if line.split()[:1] == [cid]]
        check(len(rows) == 1 and rows[0][1] == str(pid) and rows[0][2] == "running" and rows[0][3] == b,
              f"list has no row `{cid} {pid} running {b}`: {table}")
        listed = json.loads(rt("list", "--format", "json").stdout)
        entries = [e for e in listed if e.get("id") == cid]
        check(len(entries) == 1, f"list --format json lacks {cid}: {listed}")
        check(entries[0].get("pid") == pid and entries[0].get("status") == "running"
              and entries[0].get("bundle") == b and "created" in entries[0],
              f"list --format json entry: {entries[0]}")
        pids = json.loads(rt("ps", "--format", "json", cid).stdout)
        check(isinstance(pids, list) and pid in pids, f"ps --format json {pids} lacks the init pid {pid}")

        rt("kill", cid, "KILL")
        rt.wait_stopped(cid)
        rt("delete", cid)
        expect_one_error(rt("state", cid, check_rc=False), cid, what="state of a deleted container")
        check(not os.path.exists(os.path.join(rt.root, cid)), f"delete left {rt.root}/{cid}")
        check(not cgroup_dirs(cid), f"delete left cgroups {cgroup_dirs(cid)}")
        check(json.loads(rt("list", "--format", "json").stdout or "null") in (None, []),
              "list still shows containers after delete")


def test_run_passes_the_exit_code(store, work):
    with runtime(work) as rt:
        cid = new_id()
        result = rt("run", "--bundle", bundle(store, work, cid, ["exit", "3"]), cid, check_rc=False)
        check(result.returncode == 3, f"run of a process exiting 3 exited {result.returncode}: {result.stderr}")
        check(rt("state", cid, check_rc=False).returncode != 0, "run left its container behind")



def test_run_and_exec_relay_a_terminal_without_console_socket(store, work):
    """As runc: in the foreground, a process that asks for a terminal gets a pty of the container's own, relayed
    to the caller's terminal (here `script`'s)."""
    require("script", "bsdutils")
    in_pty = lambda command: ["script", "-qec", shlex.join(command), "/dev/null"]  # noqa: E731

    def has_own_terminal(output, what):
        # `script` may echo the end of its own (empty) input first, as "^@".
        fields = dict(re.findall(r"(tty_nr|devtty)=(\S+)", output))
        check(fields.get("tty_nr", "0") != "0" and fields.get("devtty") == "ok",
              f"{what}: the process has no terminal of its own: {output!r}")

    with runtime(work) as rt:
        cid = new_id()
        b = bundle(store, work, cid, ["tty"], edit=lambda config, rootfs: config["process"].update(terminal=True))
        result = rt("run", "--bundle", b, cid, wrap=in_pty)
        has_own_terminal(result.stdout, "run")
        cid = new_id()
        create_sleeping(rt, store, work, cid)
        rt("start", cid)
        result = rt("exec", "-t", cid, "/app/ociprobe", "tty", wrap=in_pty)
        has_own_terminal(result.stdout, "exec -t")
        rt("delete", "--force", cid)

def test_delete_force_and_ids(store, work):
    with runtime(work) as rt:
        cid = new_id()
        b = create_sleeping(rt, store, work, cid)
        rt("start", cid)
        expect_one_error(rt("delete", cid, check_rc=False), cid, what="delete of a running container")
        check(rt.state(cid)["status"] == "running", "a refused delete stopped the container")

        expect_one_error(rt("create", "--bundle", b, cid, check_rc=False), cid, what="create of an existing id")
        check(rt.state(cid)["status"] == "running", "a refused create changed the existing container")

        rt("delete", "--force", cid)
        check(rt("state", cid, check_rc=False).returncode != 0, "delete --force left the container")
        rt("delete", "--force", "ocirt-never-created")

        for bad in ["a/b", "..", "../escaped", "x/../../escaped"]:
            result = rt("create", "--bundle", b, bad, check_rc=False)
            expect_one_error(result, what=f"create of id {bad!r}")
            check(not os.path.exists(os.path.join(work, "escaped")), f"id {bad!r} made a directory outside the root")
        leftovers = os.listdir(rt.root) if os.path.isdir(rt.root) else []
        check(not leftovers, f"refused ids left {leftovers} in the root")


def test_relative_mount_source_is_of_the_bundle(store, work):
    """runc resolves a relative mounts[].source against the bundle, wherever it is started."""
    with runtime(work) as rt:
        cid = new_id()
        b = bundle(store, work, cid, ["read", "/etc/hostname"])
        result = rt("run", "--bundle", b, cid, cwd="/", check_rc=False)
        check(result.returncode == 0, f"run --bundle {b} from / exited {result.returncode}: {result.stderr.strip()}")
        size = os.path.getsize(os.path.join(b, "etc", "hostname"))
        check(result.stdout.split() == ["ok", str(size)],
              f"/etc/hostname in the container is not the bundle's etc/hostname ({size} bytes) but "
              f"{result.stdout.strip()!r} (the host's /etc/hostname has {os.path.getsize('/etc/hostname')}): "
              "the relative source etc/hostname was taken from the runtime's working directory")


# --- attacks from the image ---

def test_mount_destination_symlink_stays_in_rootfs(store, work):
    host_dir = tempfile.mkdtemp(prefix="gocrate-e2e-oci-host-")
    try:
        open(os.path.join(host_dir, "marker"), "w").write("host")
        with runtime(work) as rt:
            for kind, target in [("absolute", host_dir), ("relative", "../../../../../../../.." + host_dir)]:
                cid = new_id()

                def edit(config, rootfs):
                    shutil.rmtree(os.path.join(rootfs, "mnt"), ignore_errors=True)
                    os.symlink(target, os.path.join(rootfs, "mnt"))
                    # The same path inside the rootfs, where the mounts belong.
                    os.makedirs(rootfs + host_dir)
                    source = os.path.join(work, f"bind-{cid}")
                    os.makedirs(source)
                    open(os.path.join(source, "from-bundle"), "w").write("bundle")
                    config["mounts"] += [{"destination": "/mnt/x", "type": "tmpfs", "source": "tmpfs",
                                          "options": ["nosuid", "nodev"]},
                                         {"destination": "/mnt/y", "type": "bind", "source": source,
                                          "options": ["rbind", "ro"]}]
                b = bundle(store, work, cid, ["ls", "/mnt/y"], edit)
                before = host_mount_points()
                out_path = os.path.join(work, f"{cid}.stdout")
                with open(out_path, "w") as out:
                    created = rt("create", "--bundle", b, cid, stdout=out, check_rc=False)
                new_mounts = host_mount_points() - before
                check(not [m for m in new_mounts if m.startswith(host_dir)],
                      f"{kind} symlink: mounts landed on the host: {new_mounts}")
                check(os.listdir(host_dir) == ["marker"],
                      f"{kind} symlink: the runtime wrote into the host directory: {os.listdir(host_dir)}")
                check(created.returncode == 0,
                      f"create with a {kind} symlink at /mnt exited {created.returncode}: {created.stderr}")
                rootfs_dir = os.path.join(b, "rootfs") + host_dir
                check(sorted(os.listdir(rootfs_dir)) == ["x", "y"],
                      f"{kind} symlink: the mount points are not in the rootfs's {host_dir}: {os.listdir(rootfs_dir)}")
                rt("start", cid)
                rt.wait_stopped(cid)
                rt("delete", cid)
                check(open(out_path).read().split() == ["ok", "from-bundle"],
                      f"{kind} symlink: the bind mount is not at /mnt/y in the container: {open(out_path).read()!r}")
                check(os.listdir(host_dir) == ["marker"],
                      f"{kind} symlink: the host directory changed: {os.listdir(host_dir)}")
    finally:
        shutil.rmtree(host_dir, ignore_errors=True)


def host_block_device():
    """(major, minor) of this host's first disk in /proc/partitions."""
    for line in open("/proc/partitions").read().splitlines()[2:]:
        fields = line.split()
        if len(fields) == 4:
            return fields[0], fields[1]
    raise Skip("this host has no block device in /proc/partitions to try to open")


def test_dev_has_only_standard_nodes_and_host_disk_is_refused(store, work):
    standard = {"null", "zero", "full", "random", "urandom", "tty", "console", "ptmx", "pts", "shm", "mqueue",
                "fd", "stdin", "stdout", "stderr", "core"}
    with runtime(work) as rt:
        cid = new_id()

        def extra(config, rootfs):
            config["linux"]["devices"].append({"path": "/dev/e2e-extra", "type": "c", "major": 1, "minor": 3,
                                               "fileMode": 0o666, "uid": 0, "gid": 0})
        seen = set(rt.output_of(cid, bundle(store, work, cid, ["devs"], extra)).split())
        check("e2e-extra" in seen, f"the device of linux.devices is not in /dev: {sorted(seen)}")
        check(seen - {"e2e-extra"} <= standard, f"/dev has more than the standard nodes: {sorted(seen - standard)}")

        major, minor = host_block_device()
        cid = new_id()
        out = rt.output_of(cid, bundle(store, work, cid, ["mknod", "/e2e-disk", major, minor])).strip()
        check(out.startswith("mknod="), f"mknod probe printed {out!r}")
        made, _, opened = out.partition(" open=")
        check(made in ("mknod=ok", "mknod=operation not permitted"), f"mknod of {major}:{minor}: {out}")
        if made == "mknod=ok":
            check(opened == "operation not permitted",
                  f"the container could open the host disk {major}:{minor} it made with mknod: {out}")

        # A layer can carry the node itself: the device rules must refuse it just the same.
        cid = new_id()

        def shipped(config, rootfs):
            os.mknod(os.path.join(rootfs, "e2e-disk"), 0o600 | stat.S_IFBLK, os.makedev(int(major), int(minor)))
        out = rt.output_of(cid, bundle(store, work, cid, ["open", "/e2e-disk"], shipped)).strip()
        check(out == "/e2e-disk=operation not permitted",
              f"the container opened the host disk {major}:{minor} its rootfs carries: {out!r}")


def test_inherited_descriptors_stay_out(store, work):
    secret = os.path.join(work, "host-secret")
    open(secret, "w").write("host only")

    def with_fds(command):
        return ["sh", "-c", 'exec "$@" 3<"$SECRET" 5<"$SECRET"', "sh", *command]
    with runtime(work) as rt:
        for preserve in (False, True):
            cid = new_id()
            b = bundle(store, work, cid, ["fds"])
            args = ["run", "--bundle", b, *(["--preserve-fds", "1"] if preserve else []), cid]
            result = rt(*args, wrap=with_fds, env={**os.environ, "SECRET": secret})
            fds = dict(line.split("=", 1) for line in result.stdout.split())
            holding = sorted(fd for fd, target in fds.items() if target == secret)
            if preserve:
                check(holding == ["3"], f"with --preserve-fds 1 the container holds the host file at {holding}: {fds}")
            else:
                check(not holding, f"without --preserve-fds the container holds the host file at {holding}: {fds}")


def test_no_host_controlling_terminal(store, work):
    master, slave = os.openpty()

    def take_terminal():
        os.setsid()
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)
    try:
        with runtime(work) as rt:
            cid = new_id()
            b = bundle(store, work, cid, ["tty"])
            out = rt("run", "--bundle", b, cid, stdin=slave, preexec_fn=take_terminal).stdout.strip()
            fields = dict(re.findall(r"(\w+)=(.*?)(?= \w+=|$)", out))
            check(fields.get("tty_nr") == "0", f"the container has the host's terminal as its controlling one: {out}")
            check(fields.get("devtty") == "no such device or address", f"/dev/tty opened in the container: {out}")
            check(fields.get("tiocsti") != "ok", f"TIOCSTI pushed input into the host's terminal: {out}")
    finally:
        os.close(master)
        os.close(slave)


def test_masked_and_read_only_paths_hold(store, work):
    hostname = open("/proc/sys/kernel/hostname").read()
    with runtime(work) as rt:
        def probe(*args):
            cid = new_id()
            return rt.output_of(cid, bundle(store, work, cid, list(args))).strip()
        kcore = probe("read", "/proc/kcore")
        check(kcore == "ok 0" or kcore in ("permission denied 0", "no such file or directory 0"),
              f"/proc/kcore is not masked: {kcore!r}")
        for path in [p for p in ["/proc/sys/kernel/hostname", "/proc/sys/kernel/domainname", "/proc/sysrq-trigger"]
                     if os.path.exists(p)]:
            result = probe("write", path, "e2e-written")
            check(result in ("read-only file system", "permission denied", "operation not permitted"),
                  f"writing {path} in the container: {result!r}")
        check(open("/proc/sys/kernel/hostname").read() == hostname, "the host's hostname changed")


def test_missing_hook_fails_create_and_leaves_nothing(store, work):
    with runtime(work) as rt:
        for stage in ("prestart", "createRuntime"):
            cid = new_id()

            def hook(config, rootfs):
                config["hooks"] = {stage: [{"path": "/nonexistent/e2e-hook", "args": ["e2e-hook"]}]}
            b = bundle(store, work, cid, ["sleep"], hook)
            with open(os.path.join(work, f"{cid}.out"), "w") as out:
                result = rt("create", "--bundle", b, cid, stdout=out, stderr=out, check_rc=False)
            lines = [line for line in open(os.path.join(work, f"{cid}.out")).read().splitlines()
                     if line.startswith("gocrate")]
            check(result.returncode != 0, f"create with a {stage} hook that does not exist succeeded")
            check(len(lines) == 1 and "/nonexistent/e2e-hook" in lines[0],
                  f"create with a missing {stage} hook did not say so on one line: {lines}")
            check(not os.path.exists(os.path.join(rt.root, cid)), f"the failed create left {rt.root}/{cid}")
            check(not cgroup_dirs(cid), f"the failed create left cgroups {cgroup_dirs(cid)}")
            check(rt("state", cid, check_rc=False).returncode != 0, "the failed create left a container")


def test_fifo_and_dev_zero_in_etc_do_not_hang(store, work):
    with runtime(work) as rt:
        cid = new_id()

        def traps(config, rootfs):
            for name in ("passwd", "group"):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(os.path.join(rootfs, "etc", name))
            os.mkfifo(os.path.join(rootfs, "etc", "passwd"))
            os.symlink("/dev/zero", os.path.join(rootfs, "etc", "group"))
            config["process"]["env"] = [e for e in config["process"]["env"] if not e.startswith("HOME=")]
            config["process"]["user"]["additionalGids"] = [0]
        b = bundle(store, work, cid, ["exit", "0"], traps)
        result = rt("run", "--bundle", b, cid, timeout=30, check_rc=False)
        check(result.returncode == 0, f"run with a FIFO as /etc/passwd exited {result.returncode}: {result.stderr}")


def test_pids_limit_stops_a_fork_loop(store, work):
    with runtime(work) as rt:
        cid = new_id()

        def limit(config, rootfs):
            config["linux"]["resources"]["pids"] = {"limit": 10}
            config["process"]["env"].append("GOMAXPROCS=1")
        b = bundle(store, work, cid, ["fork", "100"], limit)
        result = rt("run", "--bundle", b, cid, timeout=60, check_rc=False)
        out = result.stdout.strip()
        check(out.startswith("started="), f"the fork loop printed {out!r} (exit {result.returncode}): "
                                          f"{result.stderr[-400:]}")
        started, _, err = out.partition(" err=")
        check(int(started.split("=")[1]) < 10 and err != "ok",
              f"100 forks under pids.limit 10: {out}")


# --- error messages ---

def test_errors_name_the_json_path_and_the_bundle(store, work):
    with runtime(work) as rt:
        for path, edit in [("process.args", lambda c, r: c["process"].__setitem__("args", "/bin/true")),
                           ("linux.resources.pids.limit",
                            lambda c, r: c["linux"]["resources"].__setitem__("pids", {"limit": "ten"})),
                           ("process.user.uid", lambda c, r: c["process"]["user"].__setitem__("uid", "root"))]:
            cid = new_id()
            b = bundle(store, work, cid, ["exit", "0"], edit)
            expect_one_error(rt("create", "--bundle", b, cid, check_rc=False), path, what=f"create with a wrong {path}")
            check(rt("state", cid, check_rc=False).returncode != 0, f"a refused config ({path}) left a container")
        missing = os.path.join(work, "no-such-bundle")
        expect_one_error(rt("create", "--bundle", missing, new_id(), check_rc=False), missing,
                   what="create with a missing bundle")
        expect_one_error(rt("run", "--bundle", missing, new_id(), check_rc=False), missing,
                   what="run with a missing bundle")


if __name__ == "__main__":
    main(globals())
