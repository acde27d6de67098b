#!/usr/bin/env python3
"""run's mounts, named volumes, namespaces, ulimits, sysctls and groups, each
checked from inside a real container: --tmpfs (with --read-only), --mount
bind|volume|tmpfs, -v NAME:DST and `gocrate volume`, --ulimit, --sysctl,
--group-add, --pid/--ipc/--uts host; and what an image or a user could try
with them (a mount target that is a symbolic link leading out of the root or
into /proc, volume names with .., tmpfs options that are not numbers,
host-wide sysctls)."""

import io
import json
import os
import resource
import socket
import subprocess
import tarfile
import uuid

from harness import GOCRATE, build_program, check, image_with_layer, main, run

PROBE_SOURCE = r'''
// probe reports what a program sees of its mounts, limits, sysctls and ids.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
	"syscall"
	"time"
)

func errText(err error) string {
	if err == nil {
		return "ok"
	}
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err.Error()
	}
	return err.Error()
}

func show(v interface{}) {
	out, _ := json.Marshal(v)
	fmt.Println(string(out))
}

func main() {
	switch os.Args[1] {
	case "mounts":
		// mountpoint -> "per-mount options | fstype | super options | optional fields"
		m := map[string]string{}
		data, _ := os.ReadFile("/proc/self/mountinfo")
		for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
			halves := strings.SplitN(line, " - ", 2)
			left, right := strings.Fields(halves[0]), strings.Fields(halves[1])
			m[left[4]] = left[5] + "|" + right[0] + "|" + right[2] + "|" + strings.Join(left[6:], " ")
		}
		show(m)
	case "limits":
		own, _ := os.ReadFile("/proc/self/limits")
		first, _ := os.ReadFile("/proc/1/limits")
		show(map[string]string{"self": string(own), "pid1": string(first)})
	case "sysctl":
		m := map[string]string{}
		for _, key := range os.Args[2:] {
			data, err := os.ReadFile("/proc/sys/" + strings.ReplaceAll(key, ".", "/"))
			if err != nil {
				m[key] = "error: " + errText(err)
			} else {
				m[key] = strings.TrimSpace(string(data))
			}
		}
		show(m)
	case "id":
		groups, _ := os.Getgroups()
		sort.Ints(groups)
		show(map[string]interface{}{"uid": os.Getuid(), "gid": os.Getgid(), "groups": groups})
	case "namespaces":
		m := map[string]interface{}{}
		for _, ns := range []string{"pid", "ipc", "uts", "net", "mnt"} {
			m["ns_"+ns], _ = os.Readlink("/proc/self/ns/" + ns)
		}
		entries, _ := os.ReadDir("/proc")
		procs := 0
		for _, e := range entries {
			if e.Name()[0] >= '0' && e.Name()[0] <= '9' {
				procs++
			}
		}
		m["procs"] = procs
		m["pid"] = os.Getpid()
		m["hostname"], _ = os.Hostname()
		m["HOSTNAME"] = os.Getenv("HOSTNAME")
		_, err := os.Stat("/dev/shm")
		m["dev_shm"] = errText(err)
		show(m)
	case "write":
		fmt.Println(errText(os.WriteFile(os.Args[2], []byte(os.Args[3]), 0644)))
	case "read":
		data, err := os.ReadFile(os.Args[2])
		if err != nil {
			fmt.Println("error: " + errText(err))
		} else {
			fmt.Println(string(data))
		}
	case "ls":
		// name -> "mode uid:gid" (links: "-> target")
		m := map[string]string{}
		entries, err := os.ReadDir(os.Args[2])
		if err != nil {
			m["error"] = errText(err)
		}
		for _, e := range entries {
			path := os.Args[2] + "/" + e.Name()
			var st syscall.Stat_t
			syscall.Lstat(path, &st)
			if e.Type()&os.ModeSymlink != 0 {
				target, _ := os.Readlink(path)
				m[e.Name()] = "-> " + target
			} else {
				m[e.Name()] = fmt.Sprintf("%o %d:%d", st.Mode&07777, st.Uid, st.Gid)
			}
		}
		show(m)
	case "sleep":
		for {
			time.Sleep(time.Hour)
		}
	default:
		os.Exit(2)
	}
}
'''


def build_probe(store, work):
    build_program(store, work, "probe", PROBE_SOURCE)


def probe(store, *args):
    """`gocrate run --rm ARGS`, the probe's JSON output."""
    out = store("run", "--rm", *args).stdout
    return json.loads(out)


def tar_info(name, kind=tarfile.REGTYPE, data=b"", target="", mode=0o644, uid=0, gid=0):
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.mode, info.uid, info.gid, info.mtime = kind, target, mode, uid, gid, 0
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    return info, (io.BytesIO(data) if kind == tarfile.REGTYPE else None)


def options_of(mounts, path):
    check(path in mounts, f"nothing mounted on {path}: {sorted(mounts)}")
    per_mount, fstype, super_options, optional = mounts[path].split("|")
    return set(per_mount.split(",")), fstype, set(super_options.split(",")), optional


def test_tmpfs_with_read_only_root(store, work):
    build_probe(store, work)
    flags = ["--read-only", "--tmpfs", "/run", "--tmpfs", "/tmp:size=1m,mode=1770,uid=65532,gid=4242,exec"]
    mounts = probe(store, *flags, "probe", "mounts")
    root, _, _, _ = options_of(mounts, "/")
    check("ro" in root, f"--read-only root is writable: {mounts['/']}")
    run_opts, fstype, run_super, _ = options_of(mounts, "/run")
    check(fstype == "tmpfs" and {"rw", "nosuid", "nodev", "noexec"} <= run_opts, mounts["/run"])
    tmp_opts, fstype, tmp_super, _ = options_of(mounts, "/tmp")
    check(fstype == "tmpfs" and {"rw", "nosuid", "nodev"} <= tmp_opts and "noexec" not in tmp_opts, mounts["/tmp"])
    check({"size=1024k", "mode=1770", "uid=65532", "gid=4242"} <= tmp_super, mounts["/tmp"])
    check(probe_text(store, *flags, "probe", "write", "/run/pidfile", "1") == "ok", "tmpfs /run not writable")
    check(probe_text(store, *flags, "probe", "write", "/etc/x", "1") == "read-only file system",
          "the read-only root took a write")
    # A tmpfs may be larger than the memory limit (its pages are charged as they are used), as in Docker.
    mounts = probe(store, "-m", "64m", "--tmpfs", "/big:size=1g", "probe", "mounts")
    check("size=1048576k" in options_of(mounts, "/big")[2], mounts["/big"])


def probe_text(store, *args):
    return store("run", "--rm", *args).stdout.strip()


def test_mount_flag_bind_tmpfs_and_volume(store, work):
    build_probe(store, work)
    host = os.path.join(work, "host-dir")
    os.makedirs(host)
    open(os.path.join(host, "hello.txt"), "w").write("from the host")
    # A shared mount on the host, so that propagation shows: rslave makes the container's copy its slave,
    # rprivate (Docker's default) cuts it off.
    run(["mount", "--bind", host, host])
    try:
        run(["mount", "--make-shared", host])
        mounts = probe(store, "--mount", f"type=bind,src={host},dst=/srv,readonly",
                       "--mount", f"type=bind,source={host},target=/slave,bind-propagation=rslave",
                       "--mount", "type=tmpfs,destination=/scratch,tmpfs-size=2m,tmpfs-mode=1770",
                       "--mount", "type=volume,src=mvol,dst=/data", "probe", "mounts")
    finally:
        run(["umount", host])
    srv, _, _, optional = options_of(mounts, "/srv")
    check("ro" in srv and "nodev" in srv, mounts["/srv"])
    check("master:" not in optional and "shared:" not in optional, f"rprivate bind propagates: {mounts['/srv']}")
    check("master:" in options_of(mounts, "/slave")[3], f"rslave bind is not a slave: {mounts['/slave']}")
    scratch, fstype, scratch_super, _ = options_of(mounts, "/scratch")
    check(fstype == "tmpfs" and {"size=2048k", "mode=1770"} <= scratch_super and "noexec" in scratch,
          mounts["/scratch"])
    data, _, _, _ = options_of(mounts, "/data")
    check("rw" in data and "nodev" in data, mounts["/data"])
    check(probe_text(store, "--mount", f"type=bind,src={host},dst=/srv,ro", "probe", "read", "/srv/hello.txt")
          == "from the host", "bind content")
    check("mvol" in store("volume", "ls", "-q").stdout.split(), "--mount type=volume did not create the volume")
    for bad, words in [("type=bind,src=/nonexistent-x,dst=/x", ["bind source path does not exist"]),
                       ("type=tmpfs,dst=/x,colour=red", ["unexpected key 'colour'"]),
                       ("type=volume,src=v,dst=/x,tmpfs-size=1m", ["tmpfs-size", "type=tmpfs"]),
                       ("type=bind,src=/tmp,dst=/proc/x", ["/proc"]),
                       ("type=bind,src=/tmp,dst=/x,bind-propagation=rshared", ["rshared"])]:
        store.expect_error("run", "--rm", "--mount", bad, "probe", "mounts", code=125, contains=words)


def test_named_volume_persists_and_is_filled_from_the_image(store, work):
    build_probe(store, work)
    image_with_layer(store, work, "probe", "seeded", [
        tar_info("seed", tarfile.DIRTYPE, mode=0o750, uid=1000, gid=1000),
        tar_info("seed/a.txt", data=b"from the image", uid=1000, gid=1000),
        tar_info("seed/sub", tarfile.DIRTYPE, mode=0o700),
        tar_info("seed/sub/b.txt", data=b"deeper", mode=0o600),
        tar_info("seed/passwd-link", tarfile.SYMTYPE, target="/etc/passwd"),
    ])
    check(probe_text(store, "-u", "0", "-v", "data:/data", "probe", "write", "/data/f", "kept") == "ok",
          "write to volume")
    check(probe_text(store, "-v", "data:/data", "probe", "read", "/data/f") == "kept", "volume not persistent")
    info = json.loads(store("volume", "inspect", "data").stdout)
    check(len(info) == 1 and info[0]["Name"] == "data" and info[0]["Driver"] == "local"
          and info[0]["Scope"] == "local" and info[0]["Mountpoint"].endswith("/volumes/data/_data")
          and info[0]["CreatedAt"] and info[0]["Labels"] == {}, info)
    check(open(os.path.join(info[0]["Mountpoint"], "f")).read() == "kept", "data is not in the Mountpoint")
    check(store("volume", "inspect", "-f", "{{.Mountpoint}}", "data").stdout.strip() == info[0]["Mountpoint"],
          "inspect -f")

    # First mount of an empty volume: the image's content at the target, with owners, modes and links as they are.
    listing = probe(store, "-u", "0", "-v", "seeded:/seed", "seeded", "ls", "/seed")
    check(listing == {"a.txt": "644 1000:1000", "sub": "700 0:0", "passwd-link": "-> /etc/passwd"}, listing)
    path = json.loads(store("volume", "inspect", "seeded").stdout)[0]["Mountpoint"]
    st = os.stat(path)
    check((st.st_mode & 0o7777, st.st_uid, st.st_gid) == (0o750, 1000, 1000), "the volume root did not take the "
          f"image directory's owner and mode: {oct(st.st_mode)} {st.st_uid}:{st.st_gid}")
    check(open(os.path.join(path, "sub", "b.txt")).read() == "deeper", "nested file not copied")
    check(os.readlink(os.path.join(path, "passwd-link")) == "/etc/passwd", "link followed instead of copied")
    # Not copied again once it has content.
    check(probe_text(store, "-u", "0", "-v", "seeded:/seed", "seeded", "write", "/seed/a.txt", "changed") == "ok",
          "write into the filled volume")
    check(probe_text(store, "-u", "0", "-v", "seeded:/seed", "seeded", "read", "/seed/a.txt") == "changed",
          "copied again")
    # Three containers starting at once with one new volume: it is made once and filled once.
    procs = [subprocess.Popen([GOCRATE, "--root", store.path, "run", "--rm", "-u", "0", "-v", "race:/seed", "seeded",
                               "ls", "/seed"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(3)]
    for p in procs:
        out, err = p.communicate(timeout=120)
        check(p.returncode == 0 and json.loads(out) == listing, (p.returncode, out, err))
    # nocopy, and volume-nocopy
    check(probe(store, "-u", "0", "-v", "bare:/seed:nocopy", "seeded", "ls", "/seed") == {},
          "nocopy volume was filled")
    check(probe(store, "-u", "0", "--mount", "src=bare2,dst=/seed,volume-nocopy", "seeded", "ls", "/seed") == {},
          "volume-nocopy volume was filled")


def test_volume_commands(store, work):
    build_probe(store, work)
    check(store("volume", "create", "--label", "team=web", "made").stdout.strip() == "made", "create prints the name")
    check(store("volume", "create", "made").stdout.strip() == "made", "create of an existing volume")
    anonymous = store("volume", "create").stdout.strip()
    check(len(anonymous) == 64, anonymous)
    store("run", "--name", "keeper", "-u", "0", "-v", "kept:/data", "probe", "write", "/data/x", "y")
    names = store("volume", "ls", "-q").stdout.split()
    check(sorted(names) == sorted(["made", "kept", anonymous]), names)
    table = store("volume", "ls").stdout.splitlines()
    check(table[0].split() == ["DRIVER", "VOLUME", "NAME"] and any(l.split() == ["local", "made"] for l in table),
          table)
    check(store("volume", "ls", "-q", "-f", "label=team=web").stdout.split() == ["made"], "label filter")
    check(store("volume", "ls", "-q", "-f", "dangling=false").stdout.split() == ["kept"], "dangling filter")
    # A volume a container uses (even an exited one) stays.
    store.expect_error("volume", "rm", "kept", contains=["kept", "volume is in use"])
    check("kept" in store("volume", "ls", "-q").stdout.split(), "in-use volume removed")
    pruned = store("volume", "prune", "-f").stdout.splitlines()
    check(pruned[0] == "Deleted Volumes:" and sorted(pruned[1:3]) == sorted([anonymous, "made"])
          and pruned[3] == "", pruned)
    check(store("volume", "ls", "-q").stdout.split() == ["kept"], "prune removed a volume in use")
    store("rm", "keeper")
    check(store("volume", "rm", "kept").stdout.strip() == "kept", "rm prints the name")
    check(store("volume", "ls", "-q").stdout.split() == [], "volume left")
    store.expect_error("volume", "rm", "kept", contains=["no such volume: kept"])
    store("volume", "rm", "-f", "kept")
    store.expect_error("volume", "inspect", "nothing", contains=["no such volume: nothing"])


def test_exec_inherits_ulimits_and_groups_of_a_detached_container(store, work):
    build_probe(store, work)
    store("run", "-d", "--name", "lim", "--ulimit", "nofile=1024:2048", "--group-add", "4242", "-u", "65532",
          "-v", "dvol:/data", "--tmpfs", "/run:size=1m", "probe", "sleep")
    try:
        # Go raises its own soft nofile limit to the hard one: the hard limit tells.
        limits = json.loads(store("exec", "lim", "/app/probe", "limits").stdout)
        for which in ["pid1", "self"]:
            check(any(line.split()[-2] == "2048" for line in limits[which].splitlines()
                      if line.startswith("Max open files")), limits[which])
        ids = json.loads(store("exec", "lim", "/app/probe", "id").stdout)
        check(4242 in ids["groups"], ids)
        mounts = json.loads(store("exec", "lim", "/app/probe", "mounts").stdout)
        check("size=1024k" in options_of(mounts, "/run")[2] and "/data" in mounts, mounts)
        store.expect_error("volume", "rm", "dvol", contains=["dvol", "volume is in use"])
    finally:
        store("rm", "-f", "lim")
    store("volume", "rm", "dvol")


def test_ulimits(store, work):
    build_probe(store, work)
    status = open("/proc/self/status").read()
    cap_eff = int(next(l.split()[1] for l in status.splitlines() if l.startswith("CapEff")), 16)
    nproc_hard = resource.getrlimit(resource.RLIMIT_NPROC)[1]
    unlimited = nproc_hard == resource.RLIM_INFINITY or cap_eff & (1 << 24)
    nproc = "nproc=-1:-1" if unlimited else f"nproc=100:{nproc_hard}"
    limits = probe(store, "--init", "--ulimit", "nofile=1024:2048", "--ulimit", "core=0", "--ulimit", nproc,
                   "probe", "limits")
    rows = {line[:26].strip(): line[26:].split() for line in limits["pid1"].splitlines()[1:]}
    check(rows["Max open files"][:2] == ["1024", "2048"], rows["Max open files"])
    check(rows["Max core file size"][:2] == ["0", "0"], rows["Max core file size"])
    expected = ["unlimited", "unlimited"] if unlimited else ["100", str(nproc_hard)]
    check(rows["Max processes"][:2] == expected, rows["Max processes"])
    # Above what this host allows: refused before anything is made, naming the limit and the maximum.
    nofile_hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    nr_open = int(open("/proc/sys/fs/nr_open").read())
    too_many = nr_open + 1 if cap_eff & (1 << 24) else nofile_hard + 1
    store.expect_error("run", "--rm", "--ulimit", f"nofile={too_many}", "probe", "limits", code=125,
                       contains=["nofile", "use at most"])
    store.expect_error("run", "--rm", "--ulimit", "nofile=2048:1024", "probe", "limits", code=125,
                       contains=["2048 > 1024"])
    store.expect_error("run", "--rm", "--ulimit", "as=1", "probe", "limits", code=125, contains=["unknown limit as"])


def test_sysctls(store, work):
    build_probe(store, work)
    keys = ["net.ipv4.ip_unprivileged_port_start", "kernel.shmmax", "fs.mqueue.msg_max"]
    host_before = {k: open("/proc/sys/" + k.replace(".", "/")).read().strip() for k in keys}
    values = probe(store, "--sysctl", "net.ipv4.ip_unprivileged_port_start=80", "--sysctl", "kernel.shmmax=12345678",
                   "--sysctl", "fs.mqueue.msg_max=20", "probe", "sysctl", *keys)
    check(values == {keys[0]: "80", keys[1]: "12345678", keys[2]: "20"}, values)
    host_after = {k: open("/proc/sys/" + k.replace(".", "/")).read().strip() for k in keys}
    check(host_before == host_after, f"the host's sysctls changed: {host_before} -> {host_after}")
    store.expect_error("run", "--rm", "--sysctl", "kernel.core_pattern=|/tmp/pwn", "probe", "id", code=125,
                       contains=["kernel.core_pattern", "not a namespaced sysctl"])
    store.expect_error("run", "--rm", "--sysctl", "vm.swappiness=1", "probe", "id", code=125,
                       contains=["vm.swappiness"])
    store.expect_error("run", "--rm", "--network", "host", "--sysctl", "net.core.somaxconn=1", "probe", "id",
                       code=125, contains=["--network host"])
    store.expect_error("run", "--rm", "--ipc", "host", "--sysctl", "kernel.shmmax=1", "probe", "id", code=125,
                       contains=["--ipc host"])
    store.expect_error("run", "--rm", "--sysctl", "net.ipv4.no_such_thing=1", "probe", "id", code=125,
                       contains=["net.ipv4.no_such_thing"])


def test_group_add(store, work):
    build_probe(store, work)
    ids = probe(store, "-u", "65532", "--group-add", "nobody", "--group-add", "4242", "probe", "id")
    check(ids["uid"] == 65532 and ids["gid"] == 65532 and ids["groups"] == [4242, 65532, 65534], ids)
    store.expect_error("run", "--rm", "--group-add", "wheel", "probe", "id", code=125,
                       contains=["wheel", "unable to find group"])


def test_pid_ipc_uts_modes(store, work):
    build_probe(store, work)
    host = {ns: os.readlink(f"/proc/self/ns/{ns}") for ns in ["pid", "ipc", "uts"]}
    own = probe(store, "probe", "namespaces")
    check(own["pid"] == 1 and own["procs"] == 1 and own["dev_shm"] == "ok", own)
    check(all(own["ns_" + ns] != host[ns] for ns in host), own)

    # --pid host: the host's processes in /proc, the container's own ipc and uts.
    shared = probe(store, "--pid", "host", "probe", "namespaces")
    check(shared["ns_pid"] == host["pid"] and shared["pid"] > 1 and shared["procs"] > 3, shared)
    check(shared["ns_ipc"] != host["ipc"] and shared["ns_uts"] != host["uts"], shared)

    ipc = probe(store, "--ipc", "host", "probe", "namespaces")
    check(ipc["ns_ipc"] == host["ipc"] and ipc["dev_shm"] == "ok", ipc)
    mounts = probe(store, "--ipc", "host", "probe", "mounts")
    check("/dev/shm" in mounts and "nodev" in mounts["/dev/shm"].split("|")[0], mounts.get("/dev/shm"))
    none = probe(store, "--ipc", "none", "probe", "namespaces")
    check(none["ns_ipc"] != host["ipc"] and none["dev_shm"] == "no such file or directory", none)
    for mode in ["private", "shareable"]:
        private = probe(store, "--ipc", mode, "probe", "namespaces")
        check(private["ns_ipc"] != host["ipc"] and private["dev_shm"] == "ok", private)

    uts = probe(store, "--uts", "host", "probe", "namespaces")
    check(uts["ns_uts"] == host["uts"] and uts["hostname"] == socket.gethostname()
          and uts["HOSTNAME"] == socket.gethostname(), uts)
    store.expect_error("run", "--rm", "--uts", "host", "--hostname", "x", "probe", "id", code=125,
                       contains=["--uts host", "hostname"])
    store.expect_error("run", "--rm", "--pid", "container:other", "probe", "id", code=125,
                       contains=["container:other"])
    store.expect_error("run", "--rm", "--ipc", "bogus", "probe", "id", code=125, contains=["--ipc", "bogus"])


def test_hostile_targets_and_names(store, work):
    build_probe(store, work)
    outside = f"/tmp/gocrate-escape-{uuid.uuid4().hex}"
    image_with_layer(store, work, "probe", "hostile", [
        tar_info("escape", tarfile.SYMTYPE, target=outside),
        tar_info("updir", tarfile.SYMTYPE, target="../../../../../../../.." + outside + "-up"),
        tar_info("procsys", tarfile.SYMTYPE, target="/proc/sys"),
    ])
    host = os.path.join(work, "host-dir")
    os.makedirs(host)
    open(os.path.join(host, "ostype"), "w").write("HIJACKED")
    # A target that is a link leading out of the root lands inside the root, never on the host.
    mounts = probe(store, "--mount", "type=tmpfs,target=/escape", "-v", f"{host}:/updir", "hostile", "mounts")
    for path in [outside, outside + "-up"]:
        check(not os.path.exists(path), f"a mount target link made {path} on the host")
        check(path in mounts, f"nothing mounted on {path} inside the container: {sorted(mounts)}")
    check(mounts[outside].split("|")[1] == "tmpfs", mounts[outside])
    check(not any(outside in line for line in open("/proc/self/mountinfo")), "mounted on the host")
    # A link into /proc: the kernel's view mounted after the volumes covers whatever it led to.
    out = probe_text(store, "-u", "0", "-v", f"{host}:/procsys/kernel", "hostile", "read", "/proc/sys/kernel/ostype")
    check(out == "Linux", f"a volume hid /proc/sys/kernel: {out}")
    # Names that are paths.
    for flag in (["-v", "../x:/data"], ["-v", "..:/data"], ["--mount", "type=volume,src=../../etc,dst=/d"],
                 ["-v", "a/b:/data"]):
        store.expect_error("run", "--rm", *flag, "probe", "id", code=125, contains=["invalid characters"])
    store.expect_error("volume", "create", "../x", contains=["invalid characters"])
    check(not os.path.exists(os.path.join(store.path, "x")), "a volume name escaped the volumes directory")
    # tmpfs options are checked, not handed to the kernel as they come.
    for options, words in [("uid=root", ["uid must be a number"]), ("gid=-1", ["gid"]),
                           ("size=1m,huge=always", ["huge=always"]), ("mode=7777777", ["mode"]),
                           ("dev", ["nodev"])]:
        store.expect_error("run", "--rm", "--tmpfs", f"/x:{options}", "probe", "id", code=125, contains=words)
    store.expect_error("run", "--rm", "--tmpfs", "/proc/sys", "probe", "id", code=125, contains=["/proc"])
    # The store stays out of reach, a volume's own directory included, through -v.
    volumes_dir = os.path.join(store.path, "volumes")
    store("volume", "create", "v1")
    store.expect_error("run", "--rm", "-v", f"{volumes_dir}/v1/_data:/d", "probe", "id", code=125,
                       contains=["store"])


main(globals())
