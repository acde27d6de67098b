#!/usr/bin/env python3
"""gocrate spec: the config.json of what `gocrate run` does. A probe reports
what a program sees from inside its container (user, capabilities, seccomp,
mounts, /dev, masked paths, cgroups, limits, names); `gocrate run --rm IMG`
and `runc run` on the bundle `gocrate spec IMG --bundle DIR` writes, given
the same flags, must print the same report.

What must differ, and is normalised before the reports are compared:
- the container id (in HOSTNAME and the hostname, and in cgroup paths): each
  start makes a new one;
- the root's mount: run stacks the image's layers with overlayfs (nodev),
  runc binds the bundle's merged copy (rootfs/) from whatever file system the
  bundle is on; only read-only or not is compared;
- the sources of /etc/hosts, /etc/hostname and /etc/resolv.conf: run writes
  them on the container's scratch tmpfs (--rm), runc binds them from the
  bundle's etc/; their content and read-only flag are compared;
- /sys/fs/cgroup: run mounts the hierarchies the container has a cgroup of
  its own in (those gocrate makes: memory, cpu, cpuacct, pids, cpuset, and
  unified on a hybrid host), runc every v1 hierarchy the host has (devices,
  freezer, blkio, name=systemd too); the directories both show and the
  limits read there are compared (gocrate makes no cpu cgroup for a container
  without a cpu limit, so without --cpus it has no cpu/ there);
- /dev/core: run always links it to /proc/kcore, runc only when the host
  has /proc/kcore; config.json cannot ask for a link in /dev.
"""

import json
import os
import re
import shutil
import subprocess
import uuid

from harness import GO_ERRNO_OF, Skip, build_program, check, main, run

PROBE_SOURCE = r'''
// probe reports what a program sees from inside a container, as JSON.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"unsafe"
)

''' + GO_ERRNO_OF + r'''
func raw(e syscall.Errno) string {
	if e == 0 {
		return "ok"
	}
	return e.Error()
}

func status() map[string]string {
	out := map[string]string{}
	data, _ := os.ReadFile("/proc/self/status")
	for _, line := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok {
			switch k {
			case "CapBnd", "CapEff", "CapPrm", "CapInh", "CapAmb", "NoNewPrivs", "Seccomp":
				out[k] = strings.TrimSpace(v)
			}
		}
	}
	return out
}

// One line per mount: target, type, per-mount options, super-block options.
func mounts() []string {
	data, _ := os.ReadFile("/proc/self/mountinfo")
	var out []string
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		left, right, _ := strings.Cut(line, " - ")
		l := strings.Fields(left)
		r := strings.Fields(right)
		if len(l) < 6 || len(r) < 3 {
			continue
		}
		out = append(out, strings.Join([]string{l[4], r[0], l[5], r[2]}, " "))
	}
	sort.Strings(out)
	return out
}

func devices() []string {
	var out []string
	filepath.Walk("/dev", func(path string, info os.FileInfo, err error) error {
		if err != nil {
			out = append(out, path+" "+errnoOf(err))
			return nil
		}
		st := info.Sys().(*syscall.Stat_t)
		entry := fmt.Sprintf("%s %s %o %d:%d", path, info.Mode().Type().String(), st.Mode&07777, st.Uid, st.Gid)
		if info.Mode()&os.ModeDevice != 0 {
			entry += fmt.Sprintf(" %d,%d", st.Rdev>>8&0xfff, st.Rdev&0xff|(st.Rdev>>12)&0xfff00)
		}
		if info.Mode()&os.ModeSymlink != 0 {
			target, _ := os.Readlink(path)
			entry += " -> " + target
		}
		out = append(out, entry)
		return nil
	})
	return out
}

func readable(path string) string {
	info, err := os.Stat(path)
	if err != nil {
		return errnoOf(err)
	}
	if info.IsDir() {
		entries, err := os.ReadDir(path)
		if err != nil {
			return errnoOf(err)
		}
		return fmt.Sprintf("%d entries", len(entries))
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return errnoOf(err)
	}
	return fmt.Sprintf("%d bytes", len(data))
}

func writable(path string) string {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err == nil {
		f.Close()
	}
	return errnoOf(err)
}

func rlimits() map[string]string {
	out := map[string]string{}
	for name, resource := range map[string]int{"nofile": syscall.RLIMIT_NOFILE, "core": syscall.RLIMIT_CORE,
		"stack": syscall.RLIMIT_STACK, "nproc": 6, "memlock": 8} {
		var l syscall.Rlimit
		syscall.Getrlimit(resource, &l)
		out[name] = fmt.Sprintf("%d:%d", l.Cur, l.Max)
	}
	return out
}

func firstLine(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return errnoOf(err)
	}
	return strings.TrimSpace(strings.SplitN(string(data), "\n", 2)[0])
}

func main() {
	report := map[string]interface{}{}
	report["pid"] = os.Getpid()
	report["uid"] = os.Getuid()
	report["euid"] = os.Geteuid()
	report["gid"] = os.Getgid()
	groups, _ := os.Getgroups()
	sort.Ints(groups)
	report["groups"] = groups
	report["status"] = status()
	env := os.Environ()
	sort.Strings(env)
	report["env"] = env
	cwd, _ := os.Getwd()
	report["cwd"] = cwd
	hostname, _ := os.Hostname()
	report["hostname"] = hostname
	report["domainname"] = firstLine("/proc/sys/kernel/domainname")
	report["rlimits"] = rlimits()
	report["mounts"] = mounts()
	report["devices"] = devices()
	masked := map[string]string{}
	for _, p := range []string{"/proc/kcore", "/proc/keys", "/proc/timer_list", "/proc/sched_debug", "/proc/acpi",
		"/proc/scsi", "/sys/firmware", "/proc/asound", "/proc/latency_stats", "/proc/timer_stats",
		"/sys/devices/virtual/powercap"} {
		masked[p] = readable(p)
	}
	report["masked"] = masked
	report["write"] = map[string]string{
		"/proc/sys/kernel/domainname": writable("/proc/sys/kernel/domainname"),
		"/proc/sysrq-trigger":         writable("/proc/sysrq-trigger"),
		"/sys/kernel/uevent_helper":   writable("/sys/kernel/uevent_helper"),
		"/etc/hostname":               writable("/etc/hostname"),
		"/marker":                     errnoOf(os.WriteFile("/marker", []byte("x"), 0644)),
	}
	etc := map[string]string{}
	for _, p := range []string{"/etc/hosts", "/etc/hostname", "/etc/resolv.conf"} {
		data, err := os.ReadFile(p)
		if err != nil {
			etc[p] = errnoOf(err)
		} else {
			etc[p] = string(data)
		}
	}
	report["etc"] = etc
	cgroups := map[string]string{}
	entries, _ := os.ReadDir("/sys/fs/cgroup")
	for _, e := range entries {
		cgroups[e.Name()] = e.Type().String()
	}
	report["cgroup_dirs"] = cgroups
	limits := map[string]string{}
	for _, p := range []string{"memory/memory.limit_in_bytes", "memory/memory.memsw.limit_in_bytes",
		"pids/pids.max", "cpu/cpu.cfs_quota_us", "cpu/cpu.cfs_period_us", "cpu/cpu.shares", "memory.max", "pids.max",
		"cpu.max"} {
		limits[p] = firstLine("/sys/fs/cgroup/" + p)
	}
	report["cgroup_limits"] = limits
	report["proc_self_cgroup"] = firstLine("/proc/self/cgroup")
	report["sysctl_ip_forward"] = firstLine("/proc/sys/net/ipv4/ip_forward")
	// What the seccomp filter and capabilities leave.
	calls := map[string]string{}
	_, _, e := syscall.RawSyscall(syscall.SYS_UNSHARE, syscall.CLONE_NEWUSER, 0, 0)
	calls["unshare_user"] = raw(e)
	_, _, e = syscall.RawSyscall(syscall.SYS_KEYCTL, 0, 0, 0)
	calls["keyctl"] = raw(e)
	src, target, fstype := []byte("none\x00"), []byte("/tmp\x00"), []byte("tmpfs\x00")
	_, _, e = syscall.RawSyscall6(syscall.SYS_MOUNT, uintptr(unsafe.Pointer(&src[0])),
		uintptr(unsafe.Pointer(&target[0])), uintptr(unsafe.Pointer(&fstype[0])), 0, 0, 0)
	calls["mount"] = raw(e)
	_, _, e = syscall.RawSyscall(syscall.SYS_SETHOSTNAME, uintptr(unsafe.Pointer(&src[0])), 4, 0)
	calls["sethostname"] = raw(e)
	_, _, e = syscall.RawSyscall(syscall.SYS_PERSONALITY, 0xffffffff, 0, 0)
	calls["personality_query"] = raw(e)
	report["calls"] = calls
	out, _ := json.MarshalIndent(report, "", "  ")
	fmt.Println(string(out))
}
'''


def runc_available():
    if not shutil.which("runc"):
        raise Skip("runc is not installed: the equivalence of gocrate spec's bundle with run needs it "
                   "(apt-get install runc)")
    if os.geteuid() != 0:
        raise Skip("gocrate run and runc run need root")


_built = {}


def probe_image(store, work):
    if store.path not in _built:
        build_program(store, work, "probe", PROBE_SOURCE)
        _built[store.path] = True
    return "probe"


def run_report(store, flags):
    result = store("run", "--rm", *flags, "probe")
    return json.loads(result.stdout)


def runc_report(store, work, flags):
    bundle = os.path.join(work, f"bundle-{uuid.uuid4().hex[:8]}")
    spec_text = store("spec", *flags, "--bundle", bundle, "probe").stdout
    config = json.load(open(os.path.join(bundle, "config.json")))
    check(json.loads(spec_text) == config, "spec printed another config.json than it wrote to the bundle")
    state = os.path.join(work, "runc-state")
    cid = f"specverb-{uuid.uuid4().hex[:12]}"
    try:
        result = run(["runc", "--root", state, "run", "--bundle", bundle, cid], check_rc=False, timeout=120)
    finally:
        run(["runc", "--root", state, "delete", "--force", cid], check_rc=False)
    check(result.returncode == 0, f"runc run exited {result.returncode}: {result.stderr}\n{result.stdout}")
    return json.loads(result.stdout), config


def normalise(report):
    r = json.loads(json.dumps(report))
    hostname = r["hostname"]
    # A new container id, and name, at each start.
    if re.fullmatch(r"[0-9a-f]{12}", hostname):
        r["hostname"] = "<id>"
        r["env"] = ["HOSTNAME=<id>" if e == f"HOSTNAME={hostname}" else e for e in r["env"]]
        for path, text in r["etc"].items():
            r["etc"][path] = text.replace(hostname, "<id>")
    mounts = []
    for line in r["mounts"]:
        target, fstype, options, super_options = line.split(" ")
        flags = options.split(",")
        if target == "/":
            line = f"/ <root> {flags[0]}"
        elif target.startswith("/etc/"):
            line = f"{target} <bind> {flags[0]}"
        elif target.startswith("/sys/fs/cgroup"):
            continue  # compared by cgroup_dirs and cgroup_limits below
        mounts.append(line)
    r["mounts"] = mounts
    r["devices"] = [d for d in r["devices"] if not d.startswith("/dev/core ")]
    return r


def compare(store, work, flags):
    ours = run_report(store, flags)
    theirs, config = runc_report(store, work, flags)
    a, b = normalise(ours), normalise(theirs)
    # gocrate shows the hierarchies it made the container's cgroup in; runc
    # every one the host has: the ones both show must agree.
    shared = set(a["cgroup_dirs"]) & set(b["cgroup_dirs"])
    check({"memory", "pids"} <= shared, f"/sys/fs/cgroup: run {a['cgroup_dirs']}, runc {b['cgroup_dirs']}")
    a["cgroup_dirs"] = {k: v for k, v in a["cgroup_dirs"].items() if k in shared}
    b["cgroup_dirs"] = {k: v for k, v in b["cgroup_dirs"].items() if k in shared}
    for r in (a, b):
        r["cgroup_limits"] = {k: v for k, v in r["cgroup_limits"].items() if "/" not in k or k.split("/")[0] in shared}
    differences = []
    for key in sorted(set(a) | set(b)):
        if a.get(key) != b.get(key):
            differences.append(f"{key}:\n  run:  {json.dumps(a.get(key))}\n  runc: {json.dumps(b.get(key))}")
    check(not differences, f"gocrate run {' '.join(flags)} and runc on its spec differ:\n" + "\n".join(differences))
    return ours, config


def test_default_run_and_runc_see_the_same(store, work):
    runc_available()
    probe_image(store, work)
    report, config = compare(store, work, [])
    check(report["pid"] == 1 and report["uid"] == 65532, report)
    process = config["process"]
    check(process["noNewPrivileges"] is True and process["user"]["uid"] == 65532, process)
    check(config["linux"]["seccomp"]["architectures"], config["linux"]["seccomp"])


def test_non_root_user_with_added_capability(store, work):
    runc_available()
    probe_image(store, work)
    report, config = compare(store, work, ["-u", "1000", "--cap-add", "NET_ADMIN", "--group-add", "5"])
    caps = config["process"]["capabilities"]
    check("CAP_NET_ADMIN" in caps["bounding"] and not caps.get("effective"), caps)
    check(report["status"]["CapEff"] == "0000000000000000", report["status"])


def test_root_read_only_with_limits_and_mounts(store, work):
    runc_available()
    probe_image(store, work)
    data = os.path.join(work, "data")
    os.makedirs(data)
    hard = int(subprocess.run(["sh", "-c", "ulimit -Hn"], capture_output=True, text=True).stdout.strip())
    nofile = f"nofile={min(512, hard)}:{min(1024, hard)}"
    flags = ["-u", "0", "--cap-add", "NET_ADMIN", "--cap-drop", "MKNOD", "--read-only", "-m", "64m",
             "--pids-limit", "100", "--cpus", "0.5", "--ulimit", nofile, "--hostname", "probe-host",
             "--domainname", "example.test", "--tmpfs", "/scratch:size=1m", "-v", f"{data}:/data:ro",
             "--shm-size", "32m", "--sysctl", "net.ipv4.ip_forward=1", "-e", "PROBE=1", "-w", "/data"]
    report, config = compare(store, work, flags)
    check(report["write"]["/marker"] == "read-only file system", report["write"])
    check(report["cgroup_limits"]["memory/memory.limit_in_bytes"] in ("67108864", "no such file or directory"),
          report["cgroup_limits"])
    check(report["sysctl_ip_forward"] == "1" and report["hostname"] == "probe-host", report)
    check(config["root"]["readonly"] is True, config["root"])


if __name__ == "__main__":
    main(globals())
