#!/usr/bin/env python3
"""The verbs that manage a container that exists, end to end: top, port,
rename, pause/unpause, update, and --health-on-failure acted on by the
supervisor; against Docker 20.10 on the same image where dockerd runs here."""

import json
import os
import re
import subprocess
import time

from harness import (Skip, check, cgroup_file, container_cgroups, detach, docker_daemon, expect_one_error, free_port,
                     inspect, main, ps_by_name, shared_image, wait_for)

MGR_SOURCE = r'''
// mgr is the program of the management tests: a counter that shows whether
// it runs, a health check to break, a process with a child, a server.
package main

import (
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"time"
)

func main() {
	switch os.Args[1] {
	case "count":
		// count FILE: FILE holds a number that grows every 20 ms; FILE.exit makes it exit 3.
		file := os.Args[2]
		for n := 1; ; n++ {
			os.WriteFile(file+".tmp", []byte(strconv.Itoa(n)), 0644)
			os.Rename(file+".tmp", file)
			if _, err := os.Stat(file + ".exit"); err == nil {
				os.Exit(3)
			}
			time.Sleep(20 * time.Millisecond)
		}
	case "check":
		if _, err := os.Stat(os.Args[2]); err == nil {
			os.Exit(1)
		}
	case "spawn":
		child := exec.Command("/app/mgr", "wait")
		child.Start()
		child.Wait()
	case "alloc":
		// alloc MiB: touches that much memory, then exits 0.
		mib, _ := strconv.Atoi(os.Args[2])
		var kept [][]byte
		for i := 0; i < mib; i++ {
			chunk := make([]byte, 1<<20)
			for j := range chunk {
				chunk[j] = 1
			}
			kept = append(kept, chunk)
		}
		os.Exit(len(kept) - mib)
	case "oomchild":
		// A child that outgrows the container's memory; this process stays.
		exec.Command("/app/mgr", "alloc", os.Args[2]).Run()
		os.WriteFile("/tmp/child-ended", nil, 0644)
		for {
			time.Sleep(time.Hour)
		}
	case "wait":
		for {
			time.Sleep(time.Hour)
		}
	case "serve":
		http.ListenAndServe(":"+os.Args[2], nil)
	}
}
'''


def image(store, work):
    shared_image(store, work, "mgr", MGR_SOURCE)


def counter(path):
    try:
        return int(open(path).read() or 0)
    except (FileNotFoundError, ValueError):
        return 0


def advancing(path):
    first = counter(path)
    wait_for(lambda: counter(path) > first + 2, 10, f"the counter in {path} to advance")


def events(store, *filters):
    """The journal's events as JSON."""
    result = store("events", "--since", "0", "--until", "0s", "--format", "json", *filters, timeout=30)
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


def docker_with_image(store, work):
    """A private dockerd with the mgr image loaded, or Skip saying why."""
    archive = os.path.join(work, "mgr.tar")
    store("save", "mgr", "-o", archive)
    return archive


def test_top_shows_the_containers_processes(store, work):
    image(store, work)
    cid = detach(store, "--name", "verbsa-top", "mgr", "spawn")
    wait_for(lambda: len(store("top", "verbsa-top").stdout.splitlines()) == 3, 10, "the child of spawn")
    lines = store("top", "verbsa-top").stdout.splitlines()
    check(lines[0].split() == ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"], f"top header: {lines[0]}")
    rows = sorted((line.split() for line in lines[1:]), key=lambda r: r[7:])
    pid1 = inspect(store, cid)["State"]["Pid"]
    check(int(rows[0][1]) == pid1, f"top has no row of pid 1 ({pid1}): {lines}")
    check(int(rows[1][2]) == pid1, f"the child's PPID is not {pid1}: {lines}")
    check(rows[0][7:] == ["/app/mgr", "spawn"] and rows[1][7:] == ["/app/mgr", "wait"], f"top's CMD: {lines}")
    # As the host's ps -ef prints them (the CPU columns aside, which move).
    host = {f[1]: f for f in (line.split() for line in subprocess.run(
        ["ps", "-ef"], capture_output=True, text=True, check=True).stdout.splitlines())}
    for r in rows:
        theirs = host.get(r[1])
        check(theirs and theirs[:3] + theirs[5:6] + theirs[7:] == r[:3] + r[5:6] + r[7:],
              f"top's row {r} is not ps -ef's {theirs}")
    # With ps options: the host's ps, its rows kept for the container's processes.
    custom = store("top", "verbsa-top", "-o", "pid,comm").stdout.splitlines()
    check(custom[0].split() == ["PID", "COMMAND"] and len(custom) == 3, f"top -o pid,comm: {custom}")
    check({r.split()[1] for r in custom[1:]} == {"mgr"}, f"top -o pid,comm: {custom}")
    aux = store("top", "verbsa-top", "aux").stdout.splitlines()
    check(aux[0].split()[:2] == ["USER", "PID"] and len(aux) == 3, f"top aux: {aux}")
    store.expect_error("top", "verbsa-top", "-o", "comm", contains="PID column")
    store("stop", "-t", "0", "verbsa-top")
    store.expect_error("top", "verbsa-top", contains=["verbsa-top", "not running"])

    try:
        with docker_daemon() as docker:
            docker("load", "-i", docker_with_image(store, work))
            docker("run", "-d", "--network", "none", "--name", "verbsa-top", "mgr", "spawn")
            wait_for(lambda: len(docker("top", "verbsa-top").stdout.splitlines()) == 3, 20, "docker's spawn")
            theirs = docker("top", "verbsa-top").stdout.splitlines()
            check(theirs[0].split() == lines[0].split(), f"top header differs from Docker's: {theirs[0]!r}")
            their_rows = sorted((line.split() for line in theirs[1:]), key=lambda r: r[7:])
            check([r[7:] for r in their_rows] == [r[7:] for r in rows], f"top's CMD differs from Docker's: {theirs}")
            check([r[0] for r in their_rows] == [r[0] for r in rows], f"UID differs from Docker's: {theirs}")
            mine_custom = sorted(line.split()[1:] for line in custom)
            theirs_custom = sorted(line.split()[1:] for line in
                                   docker("top", "verbsa-top", "-o", "pid,comm").stdout.splitlines())
            check(mine_custom == theirs_custom, f"top -o pid,comm: {theirs_custom} (Docker) vs {mine_custom}")
            docker("rm", "-f", "verbsa-top")
    except Skip as e:
        print(f"SKIP-PART: no comparison with Docker's top: {e}", flush=True)


def test_port_prints_dockers_forms(store, work):
    image(store, work)
    tcp, udp = free_port(), free_port()
    detach(store, "--name", "verbsa-port", "-p", f"127.0.0.1:{tcp}:8080", "-p", f"{udp}:5353/udp",
           "-p", "9090", "mgr", "serve", "8080")
    lines = store("port", "verbsa-port").stdout.splitlines()
    check(lines[0] == f"5353/udp -> 0.0.0.0:{udp}" and lines[1] == f"8080/tcp -> 127.0.0.1:{tcp}",
          f"port lines: {lines}")
    check(re.fullmatch(r"9090/tcp -> 0\.0\.0\.0:\d+", lines[2]) and len(lines) == 3, f"port lines: {lines}")
    check(store("port", "verbsa-port", "8080").stdout == f"127.0.0.1:{tcp}\n", "port CONTAINER 8080")
    check(store("port", "verbsa-port", "8080/tcp").stdout == f"127.0.0.1:{tcp}\n", "port CONTAINER 8080/tcp")
    check(store("port", "verbsa-port", "5353/udp").stdout == f"0.0.0.0:{udp}\n", "port CONTAINER 5353/udp")
    mine = store.expect_error("port", "verbsa-port", "5353", contains="no public port '5353' published")
    store.expect_error("port", "verbsa-port", "5353/tcp", contains="no public port '5353/tcp' published")
    store.expect_error("port", "verbsa-port", "http", contains="PRIVATE_PORT[/PROTO]")
    store.expect_error("port", "verbsa-missing", contains="verbsa-missing")
    store("stop", "-t", "0", "verbsa-port")
    check(store("port", "verbsa-port").stdout == "", "a stopped container has no published ports")

    try:
        with docker_daemon() as docker:
            docker("load", "-i", docker_with_image(store, work))
            docker("run", "-d", "--network", "none", "--name", "verbsa-port", "mgr", "wait")
            theirs = docker("port", "verbsa-port", "5353", check_rc=False)
            check(theirs.returncode != 0 and "No public port '5353' published for verbsa-port" in theirs.stderr,
                  f"Docker's port error: {theirs.stderr}")
            check(mine.endswith("no public port '5353' published for verbsa-port"), f"port error: {mine}")
            docker("rm", "-f", "verbsa-port")
    except Skip as e:
        print(f"SKIP-PART: no comparison with Docker's port: {e}", flush=True)


RENAMES = ["web-2", "web.2_b", "_web", "-web", "web 2", "web/2", "wéb", "x" * 63]


def test_rename_running_and_stopped_with_dockers_rules(store, work):
    image(store, work)
    cid = detach(store, "--name", "verbsa-a", "mgr", "wait")
    detach(store, "--name", "verbsa-taken", "mgr", "wait")
    store("rename", "verbsa-a", "verbsa-b")
    names = ps_by_name(store)
    check("verbsa-b" in names and "verbsa-a" not in names, f"ps after rename: {list(names)}")
    check(inspect(store, "verbsa-b")["Name"] == "/verbsa-b", "inspect's Name after rename")
    check(inspect(store, cid[:12])["Id"] == cid, "the id still finds it")
    store.expect_error("inspect", "--type", "container", "verbsa-a", contains="verbsa-a")
    store.expect_error("rename", "verbsa-b", "verbsa-b", contains="named verbsa-b already")
    store.expect_error("rename", "verbsa-b", "verbsa-taken", contains=["verbsa-taken", "in use"])
    store.expect_error("rename", "verbsa-b", "bad name", contains="invalid container name")
    store.expect_error("rename", "verbsa-nobody", "verbsa-c", contains="verbsa-nobody")
    # The old name is free again; the new one survives a stop and a start.
    detach(store, "--name", "verbsa-a", "mgr", "wait")
    store("stop", "-t", "0", "verbsa-b")
    store("rename", "verbsa-b", "verbsa-c")
    store("start", "verbsa-c")
    check(ps_by_name(store)["verbsa-c"]["ID"] == cid, f"the renamed container after start: {ps_by_name(store)}")
    store("rename", "verbsa-c", "/verbsa-d")  # Docker's leading slash
    check(inspect(store, cid)["Name"] == "/verbsa-d", "rename with a leading /")
    outcomes = {}
    for name in RENAMES:
        result = store("rename", "verbsa-d", name, check_rc=False)
        outcomes[name] = result.returncode == 0
        if result.returncode == 0:
            store("rename", name, "verbsa-d")
        else:
            check(result.stderr.count("\n") == 1, f"rename to {name!r}: not one line: {result.stderr!r}")
    found = events(store, "--filter", "event=rename")
    if found is not None:
        renames = [(e["Actor"]["Attributes"]["oldName"], e["Actor"]["Attributes"]["name"]) for e in found
                   if e["Actor"]["ID"] == cid]
        check(renames[:3] == [("/verbsa-a", "verbsa-b"), ("/verbsa-b", "verbsa-c"), ("/verbsa-c", "verbsa-d")],
              f"rename events: {renames}")

    try:
        with docker_daemon() as docker:
            docker("load", "-i", docker_with_image(store, work))
            docker("run", "-d", "--network", "none", "--name", "verbsa-d", "mgr", "wait")
            docker("run", "-d", "--network", "none", "--name", "verbsa-taken", "mgr", "wait")
            for name in RENAMES:
                ok = docker("rename", "verbsa-d", name, check_rc=False).returncode == 0
                check(ok == outcomes[name], f"rename to {name!r}: Docker {'accepts' if ok else 'refuses'} it")
                if ok:
                    docker("rename", name, "verbsa-d")
            check(docker("rename", "verbsa-d", "verbsa-d", check_rc=False).returncode != 0, "Docker: same name")
            check(docker("rename", "verbsa-d", "verbsa-taken", check_rc=False).returncode != 0, "Docker: taken")
            docker("rm", "-f", "verbsa-d", "verbsa-taken")
    except Skip as e:
        print(f"SKIP-PART: no comparison with Docker's rename: {e}", flush=True)


def test_pause_freezes_and_unpause_resumes(store, work):
    image(store, work)
    out = os.path.join(work, "out")
    os.makedirs(out)
    os.chmod(out, 0o777)  # the image runs as a user of its own
    count = os.path.join(out, "count")
    cid = detach(store, "--name", "verbsa-pause", "-v", f"{out}:/out", "--health-cmd", "/app/mgr check /out/broken",
                 "--health-interval", "100ms", "--health-timeout", "300ms", "--health-retries", "1",
                 "mgr", "count", "/out/count")
    advancing(count)
    wait_for(lambda: inspect(store, cid)["State"]["Health"]["Status"] == "healthy", 10, "healthy")
    check(store("pause", "verbsa-pause").stdout == "verbsa-pause\n", "pause prints the container")
    frozen = counter(count)
    time.sleep(1.0)  # longer than several health intervals and timeouts
    check(counter(count) == frozen, f"the counter advanced while paused: {frozen} -> {counter(count)}")
    state = inspect(store, cid)["State"]
    check(state["Status"] == "paused" and state["Paused"] and state["Running"], f"inspect while paused: {state}")
    row = ps_by_name(store, "--filter", "status=paused")
    check(list(row) == ["verbsa-pause"] and row["verbsa-pause"]["State"] == "paused", f"ps status=paused: {row}")
    status = store("ps", "--format", "{{.Status}}", "--filter", "name=verbsa-pause").stdout
    check(status.strip().endswith("(Paused)"), f"ps Status while paused: {status!r}")
    check(ps_by_name(store, "--filter", "status=running") == {}, "a paused container is not status=running")
    store.expect_error("pause", "verbsa-pause", contains="already paused")
    store.expect_error("exec", "verbsa-pause", "/app/mgr", "check", "/x", contains="paused")
    store("unpause", "verbsa-pause")
    advancing(count)
    health = inspect(store, cid)["State"]["Health"]
    check(health["Status"] == "healthy", f"checks ran while paused: {health}")
    store.expect_error("unpause", "verbsa-pause", contains="not paused")
    found = events(store, "--filter", f"container={cid}")
    if found is not None:
        actions = [e["Action"] for e in found if e["Action"] in ("pause", "unpause")]
        check(actions == ["pause", "unpause"], f"pause events: {actions}")

    # Stop and kill reach a paused container, as Docker's do.
    store("pause", "verbsa-pause")
    started = time.monotonic()
    store("stop", "-t", "5", "verbsa-pause")
    check(time.monotonic() - started < 4, "stop of a paused container waited for SIGKILL")
    check(inspect(store, cid)["State"]["Status"] == "exited", "stopped while paused")
    store("start", "verbsa-pause")
    store("pause", "verbsa-pause")
    store("kill", "verbsa-pause")
    wait_for(lambda: inspect(store, cid)["State"]["Status"] == "exited", 10, "the killed paused container")
    store.expect_error("pause", "verbsa-pause", contains="not running")
    store("rm", "verbsa-pause")
    check(container_cgroups(cid) == [], f"cgroups left: {container_cgroups(cid)}")


def test_update_writes_limits_and_keeps_them(store, work):
    image(store, work)
    out = os.path.join(work, "out")
    os.makedirs(out)
    os.chmod(out, 0o777)  # the image runs as a user of its own
    count = os.path.join(out, "count")
    cid = detach(store, "--name", "verbsa-upd", "-m", "64m", "-v", f"{out}:/out", "mgr", "count", "/out/count")
    advancing(count)
    mib = 1024 * 1024
    check(store("update", "-m", "128m", "--cpus", "0.5", "--pids-limit", "20", "verbsa-upd").stdout
          == "verbsa-upd\n", "update prints the container")
    v2 = any(os.path.exists(os.path.join(d, "memory.max")) for d in container_cgroups(cid))
    check(int(cgroup_file(cid, "memory.max" if v2 else "memory.limit_in_bytes")) == 128 * mib, "memory limit")
    check(cgroup_file(cid, "pids.max") == "20", "pids.max")
    check(cgroup_file(cid, "cpu.max") == "50000 100000" if v2 else cgroup_file(cid, "cpu.cfs_quota_us") == "50000",
          "the CPU quota")
    advancing(count)  # moved into a cpu cgroup, still running
    host = inspect(store, cid)["HostConfig"]
    check((host["Memory"], host["NanoCpus"], host["PidsLimit"]) == (128 * mib, 500000000, 20), f"inspect: {host}")
    store("update", "--restart", "on-failure", "verbsa-upd")
    check(inspect(store, cid)["HostConfig"]["RestartPolicy"]["Name"] == "on-failure", "the restart policy")
    # The supervisor restarts by the new policy, with the new limits.
    open(count + ".exit", "w").close()
    wait_for(lambda: inspect(store, cid)["RestartCount"] >= 1, 15, "a restart by the updated policy")
    os.remove(count + ".exit")
    wait_for(lambda: inspect(store, cid)["State"]["Status"] == "running", 15, "running again")
    check(int(cgroup_file(cid, "memory.max" if v2 else "memory.limit_in_bytes")) == 128 * mib,
          "the memory limit after a restart")
    # A stopped container's update applies at its next start.
    store("stop", "-t", "0", "verbsa-upd")
    store("update", "-m", "96m", "verbsa-upd")
    store("start", "verbsa-upd")
    check(int(cgroup_file(cid, "memory.max" if v2 else "memory.limit_in_bytes")) == 96 * mib,
          "the memory limit given while stopped")
    store.expect_error("update", "-m", "1m", "verbsa-upd", contains="at least 6m")
    store.expect_error("update", "-m", "12q", "verbsa-upd", contains="invalid --memory")
    store.expect_error("update", "--cpus", "4096", "verbsa-upd", contains=["--cpus", "CPUs"])
    store.expect_error("update", "-m", "9999g", "verbsa-upd", contains="this host has")
    store.expect_error("update", "verbsa-upd", contains="nothing to update")
    detach(store, "--rm", "--name", "verbsa-rm", "mgr", "wait")
    store.expect_error("update", "--restart", "always", "verbsa-rm", contains="--rm")
    found = events(store, "--filter", "event=update")
    if found is not None:
        check(sum(e["Actor"]["ID"] == cid for e in found) == 3, f"update events: {found}")
    store("rm", "-f", "verbsa-upd", "verbsa-rm")
    check(container_cgroups(cid) == [], f"cgroups left: {container_cgroups(cid)}")


def test_health_on_failure_restart_kill_and_stop(store, work):
    image(store, work)
    out = os.path.join(work, "out")
    os.makedirs(out)
    os.chmod(out, 0o777)  # the image runs as a user of its own
    broken = os.path.join(out, "broken")
    check_flags = ["-v", f"{out}:/out", "--health-cmd", "/app/mgr check /out/broken", "--health-interval", "100ms",
                   "--health-retries", "2"]
    cid = detach(store, "--name", "verbsa-heal", *check_flags, "--health-on-failure", "restart", "mgr", "wait")
    check(inspect(store, cid)["Config"]["HealthcheckOnFailureAction"] == "restart", "inspect's action")
    wait_for(lambda: inspect(store, cid)["State"]["Health"]["Status"] == "healthy", 10, "healthy")
    pid = inspect(store, cid)["State"]["Pid"]
    open(broken, "w").close()
    wait_for(lambda: inspect(store, cid)["RestartCount"] >= 1, 20, "a restart of the unhealthy container")
    os.remove(broken)
    wait_for(lambda: inspect(store, cid)["State"]["Health"]["Status"] == "healthy", 10, "healthy again")
    state = inspect(store, cid)["State"]
    check(state["Running"] and state["Pid"] != pid, f"not restarted: {state}")
    check(ps_by_name(store)["verbsa-heal"]["RestartCount"] >= 1, "ps shows the restart")
    actions = [(e["Action"], e["Actor"]["Attributes"].get("healthOnFailure"))
               for e in events(store, "--filter", f"container={cid}")]
    check(("health_status: unhealthy", None) in actions and ("restart", "restart") in actions,
          f"events of the restart: {actions}")
    check(actions.index(("health_status: unhealthy", None)) < actions.index(("restart", "restart")),
          f"unhealthy comes before the restart: {actions}")

    open(broken, "w").close()
    killed = detach(store, "--name", "verbsa-kill", *check_flags, "--health-on-failure", "kill", "mgr", "wait")
    wait_for(lambda: inspect(store, killed)["State"]["Status"] == "exited", 20, "the unhealthy container killed")
    check(inspect(store, killed)["State"]["ExitCode"] == 137, "killed by SIGKILL")
    stopped = detach(store, "--name", "verbsa-stop", "--restart", "always", *check_flags,
                     "--health-on-failure", "stop", "mgr", "wait")
    wait_for(lambda: inspect(store, stopped)["State"]["Status"] == "exited", 30, "the unhealthy container stopped")
    time.sleep(0.5)
    check(inspect(store, stopped)["RestartCount"] == 0, "--restart always restarted a container stopped for health")
    actions = [(e["Action"], e["Actor"]["Attributes"].get("healthOnFailure"))
               for e in events(store, "--filter", f"container={stopped}")]
    check(actions.index(("health_status: unhealthy", None)) < actions.index(("die", None))
          < actions.index(("stop", "stop")), f"events of the stop: {actions}")
    os.remove(broken)

    expect_one_error(store("run", "-d", "--health-cmd", "x", "--health-on-failure", "reboot", "mgr", "wait",
                           check_rc=False), "--health-on-failure", "reboot")
    expect_one_error(store("run", "-d", "--health-on-failure", "restart", "mgr", "wait", check_rc=False),
                     "--health-on-failure", "health check")
    expect_one_error(store("run", "--health-cmd", "x", "--health-on-failure", "kill", "mgr", "wait",
                           check_rc=False), "-d")
    store("rm", "-f", "verbsa-heal", "verbsa-kill", "verbsa-stop")


def test_oom_event_while_the_container_runs(store, work):
    """The kernel kills a child for memory and the container goes on: the oom event is recorded then, as
    Docker's daemon records it, not only when the container ends."""
    image(store, work)
    cid = detach(store, "--name", "verbsa-oom", "-m", "32m", "--memory-swap", "32m", "mgr", "oomchild", "256")
    wait_for(lambda: any(e["Action"] == "oom" for e in events(store, "--filter", f"container={cid}")), 30,
             "an oom event while the container runs")
    check(inspect(store, cid)["State"]["Running"], "the container ended with its child")
    store("rm", "-f", cid)
    actions = [e["Action"] for e in events(store, "--filter", f"container={cid}")]
    check(actions.count("oom") == 1 and actions.index("oom") < actions.index("die"), actions)


if __name__ == "__main__":
    main(globals())
