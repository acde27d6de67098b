#!/usr/bin/env python3
"""A container's files, end to end: cp both ways (Docker's rules for directories, files, SRC/. and
missing destinations, tar streams, owners with and without -a, symlinks resolved inside the root),
diff, export, commit and system df/prune. Where dockerd runs, the same image runs in Docker too and
the results must be the same: the diff lines, what cp gives for each case, and `docker import`
must accept the export. Attacks: a symlink to /etc/shadow and ../../../ must give the container's
file, a copy into a symlinked directory must leave a host canary alone, tar entries that leave the
destination are refused with one line."""

import io
import json
import os
import stat
import subprocess
import tarfile
import time

from harness import (GOCRATE, Failure, Skip, check, docker_daemon, expect_one_error, image_with_layer, main, run,
                     shared_image, wait_for)

PROBE_SOURCE = r'''
// fprobe applies file operations given as arguments, in order, then exits
// (or sleeps, for "sleep"): write:PATH=TEXT, append:PATH=TEXT, rm:PATH,
// rmall:PATH, mkdir:PATH, chmod:PATH=OCTAL, chown:PATH=UID:GID,
// symlink:TARGET=LINK, cat:PATH.
package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

func main() {
	for _, arg := range os.Args[1:] {
		op, rest, _ := strings.Cut(arg, ":")
		path, value, _ := strings.Cut(rest, "=")
		var err error
		switch op {
		case "write":
			err = os.WriteFile(path, []byte(value), 0644)
		case "append":
			var f *os.File
			if f, err = os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0); err == nil {
				_, err = f.WriteString(value)
				f.Close()
			}
		case "rm":
			err = os.Remove(path)
		case "rmall":
			err = os.RemoveAll(path)
		case "mkdir":
			err = os.MkdirAll(path, 0755)
		case "chmod":
			var mode uint64
			if mode, err = strconv.ParseUint(value, 8, 32); err == nil {
				err = os.Chmod(path, os.FileMode(mode))
			}
		case "chown":
			u, g, _ := strings.Cut(value, ":")
			uid, _ := strconv.Atoi(u)
			gid, _ := strconv.Atoi(g)
			err = os.Lchown(path, uid, gid)
		case "symlink":
			err = os.Symlink(path, value)
		case "cat":
			var data []byte
			if data, err = os.ReadFile(path); err == nil {
				fmt.Print(string(data))
			}
		case "sleep":
			fmt.Println("ready")
			time.Sleep(time.Hour)
		default:
			err = fmt.Errorf("unknown operation %q", op)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
}
'''

# What every diff comparison does in the container: a change, an addition,
# deletions (a file, an empty directory, a directory with content that is
# then made again: overlay makes it opaque), a mode change and a symlink.
CHANGES = ["append:/etc/passwd=extra:x:1:1::/:/bin/false\n", "write:/etc/added=new\n", "rm:/etc/group",
           "mkdir:/newdir/sub", "write:/newdir/sub/file=f", "rm:/home/nonroot", "rmall:/etc/ssl",
           "mkdir:/etc/ssl", "write:/etc/ssl/replaced=r", "chmod:/etc/nsswitch.conf=600",
           "symlink:/etc/passwd=/passwd-link"]


def need_root():
    if os.geteuid() != 0:
        raise Skip("LOUD: gocrate's container commands need root")


def probe_image(store, work):
    shared_image(store, work, "fprobe", PROBE_SOURCE)


def canary_dir(work):
    """A host directory with one file that no copy may touch."""
    canary = os.path.join(work, "canary")
    os.makedirs(canary, exist_ok=True)
    with open(os.path.join(canary, "keep"), "w") as f:
        f.write("canary\n")
    return canary


def check_canary(canary):
    check(os.listdir(canary) == ["keep"], f"something was written on the host in {canary}: {os.listdir(canary)}")
    with open(os.path.join(canary, "keep")) as f:
        check(f.read() == "canary\n", "the host canary file changed")


def tar_entry(name, kind=tarfile.REGTYPE, data=b"", mode=0o644, uid=0, gid=0, target=""):
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = mode
    info.uid, info.gid = uid, gid
    info.mtime = 1700000000
    info.linkname = target
    if kind == tarfile.REGTYPE:
        info.size = len(data)
        return info, io.BytesIO(data)
    return info, None


def files_image(store, work, canary):
    """fprobe plus a layer with the attack links, a shadow file and a tree owned by 1000."""
    probe_image(store, work)
    entries = [tar_entry("etc/shadow", data=b"container shadow\n", mode=0o640),
               tar_entry("shadow-link", tarfile.SYMTYPE, target="/etc/shadow"),
               tar_entry("up-link", tarfile.SYMTYPE, target="../../../../../../../etc/shadow"),
               tar_entry("dir-link", tarfile.SYMTYPE, target=canary),
               tar_entry("data", tarfile.DIRTYPE, mode=0o750, uid=1000, gid=1000),
               tar_entry("data/a", data=b"a\n", mode=0o640, uid=1000, gid=1000),
               tar_entry("data/sub", tarfile.DIRTYPE, mode=0o755, uid=1000, gid=1001),
               tar_entry("data/sub/b", data=b"b\n", mode=0o600, uid=1000, gid=1001),
               tar_entry("data/rel-link", tarfile.SYMTYPE, target="a", uid=1000, gid=1000)]
    # The canary's path exists in the container as well, so that a copy
    # through dir-link succeeds there.
    parts = canary.strip("/").split("/")
    for i in range(1, len(parts) + 1):
        entries.append(tar_entry("/".join(parts[:i]), tarfile.DIRTYPE, mode=0o755))
    image_with_layer(store, work, "fprobe", "files", entries)


def tree_of(path):
    """Every entry under `path` (or `path` itself): relative name -> (type, mode, uid, gid, content)."""
    out = {}

    def entry(p, rel):
        st = os.lstat(p)
        if stat.S_ISLNK(st.st_mode):
            content = "-> " + os.readlink(p)
        elif stat.S_ISREG(st.st_mode):
            with open(p, "rb") as f:
                content = f.read().decode(errors="replace")
        else:
            content = ""
        out[rel] = (stat.S_IFMT(st.st_mode), oct(stat.S_IMODE(st.st_mode)), st.st_uid, st.st_gid, content)
        if stat.S_ISDIR(st.st_mode):
            for name in sorted(os.listdir(p)):
                entry(os.path.join(p, name), f"{rel}/{name}")
    entry(path, ".")
    return out


def tar_listing(data):
    """A tar stream's entries: name -> (type, mode, uid, gid, content), names without ./ ."""
    out = {}
    with tarfile.open(fileobj=io.BytesIO(data)) as t:
        for m in t.getmembers():
            content = t.extractfile(m).read().decode(errors="replace") if m.isfile() else m.linkname
            out[m.name.removeprefix("./").rstrip("/") or "."] = (m.type, oct(m.mode & 0o7777), m.uid, m.gid, content)
    return out


def gocrate_bytes(store, *args):
    result = subprocess.run([GOCRATE, "--root", store.path, *args], capture_output=True)
    if result.returncode != 0:
        raise Failure(f"gocrate {' '.join(args)} exited {result.returncode}: {result.stderr.decode()}")
    return result.stdout


# Copies out of a container, each into a fresh host path: (source, destination
# relative to the host directory, flags, whether the destination is an
# existing directory).
CP_OUT_CASES = [
    ("/shadow-link", "link-as-is", [], False),
    ("/shadow-link", "link-followed", ["-L"], False),
    ("/up-link", "up-followed", ["-L"], False),
    ("/../../../etc/shadow", "dotdot", [], False),
    ("/data", "data-new", [], False),
    ("/data", "data-into", [], True),
    ("/data/.", "data-contents", [], True),
    ("/data", "data-archive", ["-a"], False),
    ("/etc/shadow", "file-into", [], True),
    ("/data/rel-link", "rel-link", [], False),
]


def copy_out_cases(cp, work, tag):
    """Runs CP_OUT_CASES with `cp(flags, src, dst)`; the trees they gave."""
    results = {}
    for i, (src, dst, flags, existing) in enumerate(CP_OUT_CASES):
        base = os.path.join(work, f"{tag}-{i}")
        os.makedirs(base)
        target = os.path.join(base, dst)
        if existing:
            os.makedirs(target)
        cp(flags, src, target)
        results[(src, dst, tuple(flags))] = tree_of(target)
    return results


def check_cp_out(results):
    """What the attack cases must give whoever did the copy."""
    def content(case):
        return results[case]["."][4]
    check(content(("/shadow-link", "link-followed", ("-L",))) == "container shadow\n",
          f"cp -L of a link to /etc/shadow gave {results[('/shadow-link', 'link-followed', ('-L',))]}")
    check(content(("/up-link", "up-followed", ("-L",))) == "container shadow\n", "cp -L of ../../ left the root")
    check(content(("/../../../etc/shadow", "dotdot", ())) == "container shadow\n", "cp of /../../../ left the root")
    check(content(("/shadow-link", "link-as-is", ())) == "-> /etc/shadow", "cp without -L must copy the link itself")


def test_cp_out_of_a_stopped_container(store, work):
    need_root()
    canary = canary_dir(work)
    files_image(store, work, canary)
    store("run", "--name", "cpout", "--user", "0", "files", "write:/etc/written=w")
    results = copy_out_cases(lambda flags, src, dst: store("cp", *flags, f"cpout:{src}", dst), work, "g")
    check_cp_out(results)
    data_new = results[("/data", "data-new", ())]
    check(data_new["./sub/b"][4] == "b\n" and data_new["."][1] == "0o750", f"cp of /data gave {data_new}")
    check(data_new["./a"][2:4] == (0, 0), f"without -a the copy belongs to the caller: {data_new['./a']}")
    archived = results[("/data", "data-archive", ("-a",))]
    check(all(v[2:4] == (0, 0) for v in archived.values()), f"out of a container -a changes nothing: {archived}")
    check("./data/a" in results[("/data", "data-into", ())], "an existing directory receives the source by name")
    check("./a" in results[("/data/.", "data-contents", ())], "SRC/. copies the contents")
    check(results[("/etc/shadow", "file-into", ())]["./shadow"][4] == "container shadow\n", "file into directory")
    # The upper layer is seen too, and a tar stream on stdout.
    listing = tar_listing(gocrate_bytes(store, "cp", "cpout:/etc/written", "-"))
    check(listing == {"written": (tarfile.REGTYPE, "0o644", 0, 0, "w")}, f"cp to - gave {listing}")
    store.expect_error("cp", "cpout:/nothing", os.path.join(work, "x"), contains="/nothing")
    store.expect_error("cp", "cpout:/data", os.path.join(work, "g-7", "data-archive", "a"), contains="it is a file")
    store.expect_error("cp", "cpout:/etc/shadow/", os.path.join(work, "y"), contains="not a directory")
    store.expect_error("cp", os.path.join(work, "a"), os.path.join(work, "b"), contains="CONTAINER:PATH")
    check_canary(canary)


def test_cp_into_containers_stays_inside(store, work):
    need_root()
    canary = canary_dir(work)
    files_image(store, work, canary)
    store("run", "--name", "cpin", "--user", "0", "files")
    payload = os.path.join(work, "payload")
    with open(payload, "w") as f:
        f.write("payload\n")
    os.chown(payload, 1234, 1235)
    os.chmod(payload, 0o600)
    store("cp", payload, "cpin:/dir-link/")
    store("cp", payload, "cpin:/dir-link/../../../../../../../../../tmp/up")
    store("cp", "-a", payload, "cpin:/tmp/kept")
    check_canary(canary)
    check(not os.path.exists("/tmp/up"), "cp wrote /tmp/up on the host")
    inside = tar_listing(gocrate_bytes(store, "cp", f"cpin:{canary}/payload", "-"))
    check(inside == {"payload": (tarfile.REGTYPE, "0o600", 1234, 1235, "payload\n")},
          f"without -a a copy into the container keeps the host file's owner: {inside}")
    kept = tar_listing(gocrate_bytes(store, "cp", "cpin:/tmp/kept", "-"))
    check(kept["kept"][2:4] == (0, 0), f"cp -a gives the container's user (--user 0): {kept}")
    check("up" in tar_listing(gocrate_bytes(store, "cp", "cpin:/tmp/up", "-")), "../ stays at the container's root")
    # A tar stream on stdin, and entries that would leave the destination.
    stream = io.BytesIO()
    with tarfile.open(fileobj=stream, mode="w") as t:
        info, data = tar_entry("streamed/file", data=b"s", uid=77, gid=77)
        t.addfile(info, data)
    result = subprocess.run([GOCRATE, "--root", store.path, "cp", "-", "cpin:/tmp"], input=stream.getvalue(),
                            capture_output=True)
    check(result.returncode == 0, f"cp - failed: {result.stderr.decode()}")
    check(tar_listing(gocrate_bytes(store, "cp", "cpin:/tmp/streamed/file", "-"))["file"][2:4] == (77, 77),
          "a streamed file keeps the stream's owner without -a")
    for bad in ["../../escaped", "/absolute"]:
        stream = io.BytesIO()
        with tarfile.open(fileobj=stream, mode="w") as t:
            info, data = tar_entry(bad, data=b"x")
            t.addfile(info, data)
        result = subprocess.run([GOCRATE, "--root", store.path, "cp", "-", f"cpin:{canary}"],
                                input=stream.getvalue(), capture_output=True)
        result = subprocess.CompletedProcess(result.args, result.returncode, result.stdout.decode(),
                                             result.stderr.decode())
        expect_one_error(result, "is refused", what=f"cp - with {bad}")
    check_canary(canary)


def test_cp_with_a_running_container(store, work):
    need_root()
    canary = canary_dir(work)
    files_image(store, work, canary)
    volume = "fixfiles-live-vol"
    store("run", "-d", "--name", "live", "--user", "0", "-v", f"{volume}:/vol", "files", "write:/etc/live=running",
          "write:/vol/in-volume=v", "sleep")
    try:
        wait_for(lambda: store("cp", "live:/etc/live", "-", check_rc=False).returncode == 0, 30, "the probe's write")
        # The whole root: the container's own /proc, /sys and /dev are empty
        # directories in the copy, its volume is copied.
        whole = tar_listing(gocrate_bytes(store, "cp", "live:/", "-"))
        check(whole.get("vol/in-volume", (None,) * 5)[4] == "v", f"cp of / lacks the volume's file: {sorted(whole)[:30]}")
        for mount in ("proc", "sys", "dev"):
            inside = [name for name in whole if name.startswith(mount + "/")]
            check(not inside, f"cp of / went into the container's /{mount}: {inside[:10]}")
        check(whole["etc/live"][4] == "running", "cp of / has the container's files")
        results = copy_out_cases(lambda flags, src, dst: store("cp", *flags, f"live:{src}", dst), work, "r")
        check_cp_out(results)
        payload = os.path.join(work, "payload")
        with open(payload, "w") as f:
            f.write("payload\n")
        store("cp", payload, "live:/dir-link/")
        check_canary(canary)
        listing = tar_listing(gocrate_bytes(store, "cp", f"live:{canary}/payload", "-"))
        check(listing["payload"][4] == "payload\n", f"copy into a running container: {listing}")
        # What the container's own process sees.
        store("exec", "live", "/app/fprobe", f"cat:{canary}/payload")
        # commit pauses the running container while it reads, and thaws it.
        store("commit", "live", "live-image:1")
        out = store("run", "--rm", "--user", "0", "live-image:1", f"cat:{canary}/payload").stdout
        check(out == "payload\n", f"the commit of a running container lacks its change: {out!r}")
        status = store("inspect", "-f", "{{.State.Status}}", "live").stdout.strip()
        check(status == "running", f"the container must run on after commit: {status}")
        store("exec", "live", "/app/fprobe", "write:/tmp/after=1")
    finally:
        store("rm", "-f", "live", check_rc=False)
        store("volume", "rm", volume, check_rc=False)


def test_diff_export_commit(store, work):
    need_root()
    probe_image(store, work)
    store("run", "--name", "changed", "--user", "0", "fprobe", *CHANGES)
    lines = store("diff", "changed").stdout.splitlines()
    expected = ["C /etc", "A /etc/added", "D /etc/group", "C /etc/nsswitch.conf", "C /etc/passwd", "C /etc/ssl",
                "A /etc/ssl/replaced", "D /etc/ssl/certs", "C /home", "D /home/nonroot", "A /newdir",
                "A /newdir/sub", "A /newdir/sub/file", "A /passwd-link"]
    check(sorted(lines) == sorted(expected), f"diff gave {lines}, expected {expected}")
    check(lines.index("C /etc") < lines.index("A /etc/added"), f"a directory comes before what it holds: {lines}")

    export = os.path.join(work, "export.tar")
    store("export", "changed", "-o", export)
    with tarfile.open(export) as t:
        names = set(t.getnames())
        check("etc/added" in names and "etc/group" not in names and "etc/ssl/certs" not in names,
              f"export is not the container's file system: {sorted(names)[:40]}")
        check(t.extractfile("etc/added").read() == b"new\n", "export has the container's content")

    store("commit", "-m", "a change", "-a", "tester", "-c", 'CMD ["cat:/etc/added"]', "changed", "committed:v1")
    out = store("run", "--rm", "committed:v1").stdout
    check(out == "new\n", f"the committed image runs with its new CMD and holds the change: {out!r}")
    gone = store("run", "--rm", "--user", "0", "committed:v1", "cat:/etc/group", check_rc=False)
    check(gone.returncode != 0, "a file the container deleted is gone from the committed image")
    inspect = json.loads(store("inspect", "committed:v1").stdout)
    text = json.dumps(inspect)
    check("a change" in text and "tester" in text, "commit records the message and author in the history")
    # The same files give the same layer.
    store("commit", "changed", "committed:v2")
    digests = []
    for tag in ("v1", "v2"):
        text = json.dumps(json.loads(store("inspect", f"committed:{tag}").stdout))
        digests.append(sorted(set(w.strip('",') for w in text.split() if w.strip('",').startswith("sha256:"))))
    shared = set(digests[0]) & set(digests[1])
    check(len(shared) >= 3, f"two commits of the same files share their layers: {digests}")
    # A container made but never started commits as Docker's does: its
    # image with an empty layer on top; it has no changes to list.
    store("create", "--name", "fresh", "fprobe")
    check(store("diff", "fresh").stdout == "", "a container never started has no changes")
    store("commit", "fresh", "fresh-image:1")
    out = store("run", "--rm", "--user", "0", "fresh-image:1", "cat:/etc/passwd").stdout
    check(out.startswith("root:"), f"the commit of a container never started runs: {out!r}")
    store("rm", "fresh")
    events = store("events", "--since", "0", "--until", str(int(time.time()) + 1), "--filter", "event=commit",
                   "--format", "json")
    check('"Action":"commit"' in events.stdout and "a change" in events.stdout,
          f"commit is recorded as an event: {events.stdout!r}")


def test_system_df_and_prune(store, work):
    need_root()
    probe_image(store, work)
    image_with_layer(store, work, "fprobe", "unused", [tar_entry("unused-marker", data=b"u")])
    image_with_layer(store, work, "fprobe", "stopped-image", [tar_entry("marker", data=b"m")])
    store("run", "--name", "stopped", "--user", "0", "stopped-image", "write:/tmp/big=" + "x" * 5000)
    store("run", "-d", "--name", "up", "--user", "0", "fprobe", "sleep")
    try:
        rows = [json.loads(line) for line in store("system", "df", "--format", "json").stdout.splitlines()]
        by_type = {r["Type"]: r for r in rows}
        check(set(by_type) >= {"Images", "Containers", "Local Volumes", "Build Cache"}, f"df rows: {rows}")
        check(by_type["Containers"]["TotalCount"] == "2" and by_type["Containers"]["Active"] == "1",
              f"df counts containers: {by_type['Containers']}")
        table = store("system", "df").stdout
        check(table.splitlines()[0].split() == ["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"], table)
        store("system", "df", "-v")
        result = store("system", "prune", "-a", check_rc=False, input="")
        expect_one_error(result, "-f", what="system prune without a terminal")
        store.expect_error("system", "prune", "-f", "--filter", "until=someday", contains="until=someday")
        out = store("system", "prune", "-a", "-f").stdout
        check("Total reclaimed space:" in out, out)
        names = store("ps", "-a").stdout
        check("stopped" not in names and "up" in names, f"prune removes stopped containers only: {names}")
        images = store("images").stdout
        check("fprobe" in images, f"the running container's image stays: {images}")
        check("unused" not in images and "stopped-image" not in images, f"unused images go with -a: {images}")
        status = store("inspect", "-f", "{{.State.Status}}", "up").stdout.strip()
        check(status == "running", f"the running container must survive prune: {status}")
        store("exec", "up", "/app/fprobe", "cat:/etc/passwd")
        # --volumes removes anonymous volumes (made without a name) that no
        # container uses, never a named one, as Docker 23 and later.
        store("volume", "create", "fixfiles-named")
        anonymous = store("volume", "create").stdout.strip()
        out = store("system", "prune", "-f", "--volumes").stdout
        volumes = store("volume", "ls", "-q").stdout.split()
        check("fixfiles-named" in volumes, f"system prune --volumes removed a named volume: {out}")
        check(anonymous not in volumes and anonymous in out, f"the unused anonymous volume stays: {volumes}")
    finally:
        store("rm", "-f", "up", check_rc=False)
        store("volume", "rm", "fixfiles-named", check_rc=False)


# ---- against Docker on the same image ---------------------------------------------------------------

def docker_image(store, work, docker, name):
    archive = os.path.join(work, f"{name}-docker.tar")
    store("save", name, "-o", archive)
    docker("load", "-i", archive)


def test_same_as_docker(store, work):
    need_root()
    canary = canary_dir(work)
    files_image(store, work, canary)
    with docker_daemon() as docker:
        docker_image(store, work, docker, "fprobe")
        docker_image(store, work, docker, "files")

        # diff: the same changes, the same lines.
        store("run", "--name", "changed", "--user", "0", "fprobe", *CHANGES)
        docker("run", "--name", "changed", "--user", "0", "fprobe", *CHANGES)
        ours = store("diff", "changed").stdout.splitlines()
        theirs = docker("diff", "changed").stdout.splitlines()
        check(sorted(ours) == sorted(theirs), f"diff differs from Docker's:\n ours {ours}\n docker {theirs}")

        # cp out: every case gives the same tree.
        store("run", "--name", "cpout", "--user", "0", "files")
        docker("create", "--name", "cpout", "--user", "0", "files")
        ours = copy_out_cases(lambda flags, src, dst: store("cp", *flags, f"cpout:{src}", dst), work, "g")
        theirs = copy_out_cases(lambda flags, src, dst: docker("cp", *flags, f"cpout:{src}", dst), work, "d")
        check_cp_out(theirs)
        for case in ours:
            # Owners compared too. Docker 20.10 gives a copy out of a
            # container to the caller (root here), with or without -a: its
            # CLI extracts without chown.
            mine, docker_tree = ours[case], theirs[case]
            check(all(v[2:4] == (0, 0) for v in docker_tree.values()), f"Docker's cp {case} owners: {docker_tree}")
            check(mine == docker_tree, f"cp {case} differs from Docker's:\n ours {mine}\n docker {docker_tree}")

        # cp in: the same modes, contents, places and owners, read back as
        # tar streams. Docker 20.10's daemon keeps the owners of the tar its
        # CLI sends (the host file's, 1234:1235) without -a, and gives
        # everything to the container's user with -a (root, for --user 0),
        # whatever its docs say.
        payload = os.path.join(work, "payload")
        with open(payload, "w") as f:
            f.write("payload\n")
        os.chown(payload, 1234, 1235)
        os.chmod(payload, 0o640)
        for flags, dest, back, owner in [([], "/tmp/in", "/tmp/in", (1234, 1235)),
                                         (["-a"], "/tmp/kept", "/tmp/kept", (0, 0)),
                                         ([], "/dir-link/", f"{canary}/payload", (1234, 1235))]:
            store("cp", *flags, payload, f"cpout:{dest}")
            docker("cp", *flags, payload, f"cpout:{dest}")
            ours = tar_listing(gocrate_bytes(store, "cp", f"cpout:{back}", "-"))
            theirs_bytes = subprocess.run(["docker", "cp", f"cpout:{back}", "-"], env={**os.environ, **docker.env},
                                          capture_output=True, check=True).stdout
            theirs = tar_listing(theirs_bytes)
            check(all(v[2:4] == owner for v in theirs.values()), f"Docker's cp {flags} into {dest}: {theirs}")
            check(ours == theirs, f"cp {flags} into {dest} differs from Docker's:\n ours {ours}\n docker {theirs}")
        check_canary(canary)

        # export: docker import takes it, and the image holds the change.
        export = os.path.join(work, "export.tar")
        store("export", "changed", "-o", export)
        docker("import", export, "imported:latest")
        out = docker("run", "--rm", "imported:latest", "/app/fprobe", "cat:/etc/added").stdout
        check(out == "new\n", f"the imported export lacks the container's change: {out!r}")
        docker("rm", "-f", "changed", "cpout", check_rc=False)


if __name__ == "__main__":
    main(globals())
