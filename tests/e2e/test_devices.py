#!/usr/bin/env python3
"""Host devices stay out of reach: a root container can make device nodes
(CAP_MKNOD, as in Docker) but open only Docker's default devices, in /dev, on
its root and in volumes, whether started by run or entered by exec; --device
gives exactly one device; bad --device values get one clear error."""

import errno
import json
import os
import stat
import uuid

from harness import Skip, build_program, check, main

DEVPROBE_SOURCE = r'''
// devprobe makes and opens device nodes and reports the errno of each step
// (0: it worked).
package main

import (
	"encoding/json"
	"os"
	"strconv"
	"syscall"
	"time"
	"unsafe"
)

type device struct {
	name         string
	major, minor uint32
}

// The host devices a container must not reach, with the host's numbers.
var hostile = []device{{"kmsg", 1, 11}, {"kvm", 10, 232}, {"loop-control", 10, 237}, {"tty1", 4, 1},
	{"console", 5, 1}, {"fuse", 10, 229}}

func code(err error) int {
	if err == nil {
		return 0
	}
	if e, ok := err.(syscall.Errno); ok {
		return int(e)
	}
	return -1
}

func mkdev(major, minor uint32) int {
	return int(uint64(minor&0xff) | uint64(major&0xfff)<<8 | uint64(minor&^0xff)<<12 | uint64(major&^0xfff)<<32)
}

func tryOpen(path string, flags int) int {
	fd, err := syscall.Open(path, flags|syscall.O_CLOEXEC|syscall.O_NOCTTY|syscall.O_NONBLOCK, 0)
	if err == nil {
		syscall.Close(fd)
	}
	return code(err)
}

// Writes the marker into a kernel log that opens: the host's, if the rules fail.
func writeMarker(path, marker string) int {
	fd, err := syscall.Open(path, syscall.O_WRONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return code(err)
	}
	defer syscall.Close(fd)
	_, err = syscall.Write(fd, []byte("<4>"+marker+"\n"))
	if err != nil {
		return code(err)
	}
	return 0
}

func ioctl(fd int, request uintptr, arg unsafe.Pointer) error {
	_, _, e := syscall.Syscall(syscall.SYS_IOCTL, uintptr(fd), request, uintptr(arg))
	if e != 0 {
		return e
	}
	return nil
}

// A pty from the container's devpts, and its slave opened (ptmx 5:2, slaves 136:*).
func pty() int {
	master, err := syscall.Open("/dev/ptmx", syscall.O_RDWR|syscall.O_NOCTTY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return code(err)
	}
	defer syscall.Close(master)
	var n uint32
	if err := ioctl(master, syscall.TIOCGPTN, unsafe.Pointer(&n)); err != nil {
		return code(err)
	}
	var unlock int32
	if err := ioctl(master, syscall.TIOCSPTLCK, unsafe.Pointer(&unlock)); err != nil {
		return code(err)
	}
	return tryOpen("/dev/pts/"+strconv.Itoa(int(n)), syscall.O_RDWR)
}

func main() {
	out := map[string]map[string]int{}
	switch os.Args[1] {
	case "nodes": // nodes MARKER DIR...: mknod each hostile device in each DIR and open it
		for _, dir := range os.Args[3:] {
			for _, d := range hostile {
				path := dir + "/" + d.name
				if dir == "/" {
					path = "/" + d.name
				}
				syscall.Unlink(path)
				r := map[string]int{}
				r["mknod"] = code(syscall.Mknod(path, syscall.S_IFCHR|0666, mkdev(d.major, d.minor)))
				r["rdwr"] = tryOpen(path, syscall.O_RDWR)
				r["rdonly"] = tryOpen(path, syscall.O_RDONLY)
				if d.name == "kmsg" {
					r["marker"] = writeMarker(path, os.Args[2])
				}
				out[path] = r
			}
		}
	case "open": // open PATH...: the container's own nodes
		for _, path := range os.Args[2:] {
			out[path] = map[string]int{"rdwr": tryOpen(path, syscall.O_RDWR), "rdonly": tryOpen(path, syscall.O_RDONLY)}
		}
	case "standard": // what every container needs
		buf := make([]byte, 16)
		use := func(path string, flags int, write bool) int {
			fd, err := syscall.Open(path, flags|syscall.O_CLOEXEC, 0)
			if err != nil {
				return code(err)
			}
			defer syscall.Close(fd)
			if write {
				_, err = syscall.Write(fd, buf)
			} else {
				_, err = syscall.Read(fd, buf)
			}
			return code(err)
		}
		out["standard"] = map[string]int{
			"null_write":   use("/dev/null", syscall.O_RDWR, true),
			"zero_read":    use("/dev/zero", syscall.O_RDONLY, false),
			"urandom_read": use("/dev/urandom", syscall.O_RDONLY, false),
			"random_read":  use("/dev/random", syscall.O_RDONLY, false),
			"full_write":   use("/dev/full", syscall.O_WRONLY, true), // ENOSPC: it opened
			"pty":          pty(),
		}
	case "sleep":
		for {
			time.Sleep(time.Hour)
		}
	}
	json.NewEncoder(os.Stdout).Encode(out)
}
'''

HOSTILE = ["kmsg", "kvm", "loop-control", "tty1", "console", "fuse"]


def name_of(code):
    return "ok" if code == 0 else errno.errorcode.get(code, str(code))


def probe(store, *args, env=None):
    result = store(*args, env=env)
    return {path: {k: name_of(v) for k, v in r.items()} for path, r in json.loads(result.stdout).items()}


def read_host_kmsg():
    """Every record in the host's kernel log buffer."""
    fd = os.open("/dev/kmsg", os.O_RDONLY | os.O_NONBLOCK)
    records = []
    try:
        while True:
            try:
                records.append(os.read(fd, 8192).decode(errors="replace"))
            except BlockingIOError:
                return "".join(records)
            except BrokenPipeError:
                continue  # overwritten while read: go on with the next
    finally:
        os.close(fd)


class KmsgCanary:
    """A marker for the probe to write into any kernel log it can open, and
    a check on the host's that it never arrived (after checking that a
    marker written there by the host itself does show)."""

    def __init__(self):
        if not os.access("/dev/kmsg", os.R_OK | os.W_OK):
            raise Skip("the host's /dev/kmsg is not readable and writable here: the kernel log canary cannot work")
        self.marker = f"gocrate-devices-probe-{uuid.uuid4().hex}"
        control = f"gocrate-devices-canary-{uuid.uuid4().hex}"
        fd = os.open("/dev/kmsg", os.O_WRONLY)
        try:
            os.write(fd, f"<7>{control}\n".encode())
        finally:
            os.close(fd)
        check(control in read_host_kmsg(), "the host's own marker is missing from its kernel log: canary broken")

    def check_untouched(self):
        check(self.marker not in read_host_kmsg(), "a container wrote into the host's kernel log")


def check_all_refused(result, where, dirs, exact_in_dev="EPERM"):
    for d in dirs:
        for name in HOSTILE:
            path = f"/{name}" if d == "/" else f"{d}/{name}"
            r = result[path]
            check(r["mknod"] == "ok", f"{where}: mknod {path} (CAP_MKNOD, c *:* m) failed: {r}")
            for mode in ("rdwr", "rdonly"):
                if d == "/dev":
                    check(r[mode] == exact_in_dev, f"{where}: open {path} {mode}: {r[mode]}, not {exact_in_dev}")
                else:  # nodev gives EACCES before the device rules' EPERM
                    check(r[mode] in ("EACCES", "EPERM"), f"{where}: open {path} {mode} was not refused: {r}")
            if name == "kmsg":
                check(r["marker"] != "ok", f"{where}: {path} took a write: {r}")


def check_standard_devices(result, where):
    s = result["standard"]
    expected = {"null_write": "ok", "zero_read": "ok", "urandom_read": "ok", "random_read": "ok",
                "full_write": "ENOSPC", "pty": "ok"}
    check(s == expected, f"{where}: standard devices: {s}, expected {expected}")


def test_root_container_cannot_open_host_devices(store, work):
    build_program(store, work, "devprobe", DEVPROBE_SOURCE)
    canary = KmsgCanary()
    volume = os.path.join(work, "vol")
    os.makedirs(volume)
    dirs = ["/dev", "/", "/vol"]
    out = probe(store, "run", "--rm", "-u", "0", "-v", f"{volume}:/vol", "devprobe", "nodes", canary.marker, *dirs)
    check_all_refused(out, "run -u 0", dirs)
    check(sorted(os.listdir(volume)) == sorted(HOSTILE), f"the probe's nodes in the volume: {os.listdir(volume)}")
    check_standard_devices(probe(store, "run", "--rm", "-u", "0", "devprobe", "standard"), "run -u 0")
    check_standard_devices(probe(store, "run", "--rm", "devprobe", "standard"), "run as the image's user")
    # A read-only volume is nodev too.
    ro = os.path.join(work, "ro")
    os.makedirs(ro)
    os.mknod(os.path.join(ro, "kmsg"), 0o600 | stat.S_IFCHR, os.makedev(1, 11))
    out = probe(store, "run", "--rm", "-u", "0", "-v", f"{ro}:/ro:ro", "devprobe", "open", "/ro/kmsg")
    check(out["/ro/kmsg"] == {"rdwr": "EACCES", "rdonly": "EACCES"}, f"a node in a read-only volume: {out}")
    # The copy fallback's root is nodev as the overlay is.
    env = {"GOCRATE_ROOTFS": "copy"}
    out = probe(store, "run", "--rm", "-u", "0", "devprobe", "nodes", canary.marker, "/", env=env)
    check_all_refused(out, "run -u 0 on a copied root", ["/"])
    canary.check_untouched()


def test_exec_as_root_cannot_open_host_devices(store, work):
    build_program(store, work, "devprobe", DEVPROBE_SOURCE)
    canary = KmsgCanary()
    volume = os.path.join(work, "vol")
    os.makedirs(volume)
    store("run", "-d", "--name", "box", "-v", f"{volume}:/vol", "devprobe", "sleep")
    try:
        dirs = ["/dev", "/", "/vol"]
        out = probe(store, "exec", "-u", "0", "box", "/app/devprobe", "nodes", canary.marker, *dirs)
        check_all_refused(out, "exec -u 0", dirs)
        check_standard_devices(probe(store, "exec", "-u", "0", "box", "/app/devprobe", "standard"), "exec -u 0")
    finally:
        store("rm", "-f", "box", check_rc=False)
    canary.check_untouched()


def test_device_flag_gives_exactly_that_device(store, work):
    if not os.path.exists("/dev/fuse"):
        raise Skip("the host has no /dev/fuse to hand to a container")
    build_program(store, work, "devprobe", DEVPROBE_SOURCE)
    canary = KmsgCanary()
    out = probe(store, "run", "--rm", "-u", "0", "--device", "/dev/fuse", "devprobe", "open", "/dev/fuse")
    check(out["/dev/fuse"] == {"rdwr": "ok", "rdonly": "ok"}, f"--device /dev/fuse: {out}")
    out = probe(store, "run", "--rm", "-u", "0", "--device", "/dev/fuse", "devprobe", "nodes", canary.marker, "/dev")
    for name in HOSTILE:
        r = out[f"/dev/{name}"]
        if name == "fuse":
            check(r["rdwr"] == "ok" and r["rdonly"] == "ok", f"--device /dev/fuse, remade: {r}")
        else:
            check(r["rdwr"] == "EPERM" and r["rdonly"] == "EPERM", f"--device /dev/fuse opened {name}: {r}")
    # Another path (on the nodev root), read-only permissions.
    out = probe(store, "run", "--rm", "-u", "0", "--device", "/dev/fuse:/opt/fuse:r", "devprobe", "open",
                "/opt/fuse")
    check(out["/opt/fuse"] == {"rdwr": "EPERM", "rdonly": "ok"}, f"--device /dev/fuse:/opt/fuse:r: {out}")
    # Carried through a detached container's configuration to exec.
    store("run", "-d", "--name", "withfuse", "--device", "/dev/fuse:/dev/fuse:rw", "devprobe", "sleep")
    try:
        out = probe(store, "exec", "-u", "0", "withfuse", "/app/devprobe", "open", "/dev/fuse", "/dev/null")
        check(out["/dev/fuse"] == {"rdwr": "ok", "rdonly": "ok"}, f"exec with --device /dev/fuse: {out}")
        # And through a start from the saved configuration.
        store("stop", "-t", "1", "withfuse")
        store("start", "withfuse")
        out = probe(store, "exec", "-u", "0", "withfuse", "/app/devprobe", "open", "/dev/fuse")
        check(out["/dev/fuse"]["rdwr"] == "ok", f"--device /dev/fuse after start: {out}")
        host_config = json.loads(store("inspect", "withfuse").stdout)[0]["HostConfig"]
        check(host_config.get("Devices") == [{"PathOnHost": "/dev/fuse", "PathInContainer": "/dev/fuse",
                                              "CgroupPermissions": "rw"}], host_config.get("Devices"))
    finally:
        store("rm", "-f", "withfuse", check_rc=False)
    canary.check_untouched()


def test_bad_device_values_get_one_clear_error(store, work):
    build_program(store, work, "devprobe", DEVPROBE_SOURCE)
    store.expect_error("run", "--rm", "--device", "/etc/passwd", "devprobe", "standard", code=125,
                       contains=["--device", "/etc/passwd", "not a device node"])
    store.expect_error("run", "--rm", "--device", "/dev/null:/dev/n:rwx", "devprobe", "standard", code=125,
                       contains=["--device", "/dev/null:/dev/n:rwx", "permissions"])
    store.expect_error("run", "--rm", "--device", "/dev/nonexistent", "devprobe", "standard", code=125,
                       contains=["--device", "/dev/nonexistent"])
    store.expect_error("run", "--rm", "--device", "/dev/null:dev/n", "devprobe", "standard", code=125,
                       contains=["--device", "absolute"])


def test_privileged_gets_the_hosts_devices(store, work):
    build_program(store, work, "devprobe", DEVPROBE_SOURCE)
    result = store("run", "--rm", "--privileged", "-u", "0", "devprobe", "open", "/dev/kmsg", "/dev/loop-control",
                   check_rc=False)
    if result.returncode != 0 and "--privileged" in result.stderr:
        raise Skip(f"this build has no --privileged: {result.stderr.strip()}")
    check(result.returncode == 0, result.stderr)
    out = json.loads(result.stdout)
    check(out["/dev/kmsg"]["rdonly"] == 0, f"--privileged: /dev/kmsg: {out}")
    if os.path.exists("/dev/loop-control"):
        check(out["/dev/loop-control"]["rdwr"] == 0, f"--privileged: /dev/loop-control: {out}")


if __name__ == "__main__":
    main(globals())
