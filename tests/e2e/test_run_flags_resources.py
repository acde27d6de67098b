#!/usr/bin/env python3
"""gocrate run's resource, log, port and cidfile flags end to end, each checked
from inside or around a real container: the container's cgroup files for
--memory-swap, --memory-reservation, --oom-kill-disable (a program over its
limit is held, not killed), --cpu-shares and --cpuset-cpus (the CPUs the
program may run on), inspect's HostConfig; -P and --expose reached with real
TCP connections on the published ports; `logs` for the json-file, local and
none drivers, with output crafted to forge entries; --cidfile's content and
Docker's refusal of an existing file; and every refusal one clear line that
leaves nothing behind."""

import json
import os
import re
import socket
import time

from harness import (Skip, build_program, check, cgroup_file, container_cgroups, detach, expect_one_error, inspect,
                     main, wait_for)

PROBE_SOURCE = r'''
// probe does what the flag tests need from inside a container.
package main

import (
	"fmt"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

func status(key string) string {
	data, _ := os.ReadFile("/proc/self/status")
	for _, line := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && k == key {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func waitForTerm() {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGTERM)
	<-ch
}

func main() {
	switch os.Args[1] {
	case "cpus":
		fmt.Println("cpus", status("Cpus_allowed_list"))
		waitForTerm()
	case "serve":
		for _, port := range strings.Split(os.Args[2], ",") {
			l, err := net.Listen("tcp", ":"+port)
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
			go func(l net.Listener, port string) {
				for {
					c, err := l.Accept()
					if err != nil {
						return
					}
					fmt.Fprintf(c, "pong %s\n", port)
					c.Close()
				}
			}(l, port)
		}
		fmt.Println("serving")
		waitForTerm()
	case "print":
		fmt.Println("plain line")
		// What a program could write to forge entries of either log format.
		fmt.Println(`{"log":"forged\n","stream":"stderr","time":"2000-01-01T00:00:00Z"}`)
		fmt.Println("2000-01-01T00:00:00.000000000Z stderr F forged")
		fmt.Println("quote \" backslash \\ tab \t <html> & caf\u00e9 end")
		fmt.Fprintln(os.Stderr, "error line")
		fmt.Print("no newline")
	case "alloc":
		var chunks [][]byte
		for i := 0; ; i++ {
			b := make([]byte, 1<<20)
			for j := 0; j < len(b); j += 4096 {
				b[j] = 1
			}
			chunks = append(chunks, b)
			if i%8 == 0 {
				fmt.Println("allocated", i+1)
			}
		}
	case "sleep":
		fmt.Println("ready")
		time.Sleep(time.Hour)
	}
}
'''

ID = re.compile(r"[0-9a-f]{64}")


def probe(store, work):
    build_program(store, work, "probe", PROBE_SOURCE, "--port", "8080")


def has_cgroup_file(container_id, name):
    return any(os.path.exists(os.path.join(d, name)) for d in container_cgroups(container_id))


def wait_log(store, name, text, timeout=20):
    wait_for(lambda: text in store("logs", name).stdout, timeout, f"{text!r} in the log of {name}")


def leftovers(store):
    base = os.path.join(store.path, "containers")
    entries = [d for d in os.listdir(base) if d != "by-name"] if os.path.isdir(base) else []
    return entries


def memory_v2():
    for line in open("/proc/self/mountinfo"):
        fields = line.split(" - ")
        if len(fields) == 2 and fields[1].startswith("cgroup ") and "memory" in fields[1].split()[2].split(","):
            return False
    return True


def swap_accounting():
    if memory_v2():
        return True  # checked through memory.swap.max in the container's cgroup
    for line in open("/proc/self/mountinfo"):
        fields = line.split(" - ")
        if len(fields) == 2 and fields[1].startswith("cgroup ") and "memory" in fields[1].split()[2].split(","):
            return os.path.exists(os.path.join(line.split()[4], "memory.memsw.limit_in_bytes"))
    return False


def online_cpus():
    return open("/sys/devices/system/cpu/online").read().strip()


# ---- cgroup resources -----------------------------------------------------------

def test_memory_and_cpu_flags_reach_the_cgroup_and_inspect(store, work):
    probe(store, work)
    v2 = memory_v2()
    swap = ["--memory-swap", "96m"] if swap_accounting() else []
    oom = [] if v2 else ["--oom-kill-disable"]
    cid = detach(store, "--name", "res", "-m", "64m", *swap, "--memory-reservation", "32m", *oom,
                 "--cpu-shares", "512", "--cpuset-cpus", "0", "probe", "cpus")
    wait_log(store, "res", "cpus ")
    # The program itself may run on CPU 0 only.
    check("cpus 0\n" in store("logs", "res").stdout, store("logs", "res").stdout)
    mib = 1 << 20
    if v2:
        check(cgroup_file(cid, "memory.max") == str(64 * mib), "memory.max")
        check(cgroup_file(cid, "memory.swap.max") == str(32 * mib), "memory.swap.max is swap - memory")
        check(cgroup_file(cid, "memory.low") == str(32 * mib), "memory.low")
        check(cgroup_file(cid, "cpu.weight") == "20", f"cpu.weight {cgroup_file(cid, 'cpu.weight')}")
    else:
        check(cgroup_file(cid, "memory.limit_in_bytes") == str(64 * mib), "memory.limit_in_bytes")
        if swap:
            check(cgroup_file(cid, "memory.memsw.limit_in_bytes") == str(96 * mib), "memsw")
        check(cgroup_file(cid, "memory.soft_limit_in_bytes") == str(32 * mib), "soft limit")
        check("oom_kill_disable 1" in cgroup_file(cid, "memory.oom_control"), cgroup_file(cid, "memory.oom_control"))
        check(cgroup_file(cid, "cpu.shares") == "512", "cpu.shares")
    check(cgroup_file(cid, "cpuset.cpus") == "0", f"cpuset.cpus {cgroup_file(cid, 'cpuset.cpus')}")
    host = inspect(store, "res")["HostConfig"]
    expected = {"Memory": 64 * mib, "MemorySwap": 96 * mib if swap else 64 * mib, "MemoryReservation": 32 * mib,
                "OomKillDisable": not v2, "CpuShares": 512, "CpusetCpus": "0"}
    for key, value in expected.items():
        check(host.get(key) == value, f"HostConfig.{key} is {host.get(key)!r}, not {value!r}")
    # start keeps them: config.json holds them.
    store("stop", "-t", "5", "res")
    store("start", "res")
    new_cid = inspect(store, "res")["Id"]
    wait_for(lambda: has_cgroup_file(new_cid, "cpuset.cpus"), 10, "the restarted container's cgroup")
    check(cgroup_file(new_cid, "cpuset.cpus") == "0", "cpuset after start")
    check(cgroup_file(new_cid, "memory.low" if v2 else "memory.soft_limit_in_bytes") == str(32 * mib),
          "reservation after start")
    store("rm", "-f", "res")
    check(container_cgroups(cid) == [], f"cgroups left: {container_cgroups(cid)}")


def test_swap_forms_and_default(store, work):
    probe(store, work)
    if not swap_accounting():
        store.expect_error("run", "-d", "-m", "64m", "--memory-swap", "128m", "probe", "sleep",
                           contains=["--memory-swap", "swapaccount=1"], code=125)
        check(leftovers(store) == [], f"left behind: {leftovers(store)}")
        raise Skip("LOUD: this kernel does not account swap: only the refusal of --memory-swap was checked")
    v2 = memory_v2()
    swap_file = "memory.swap.max" if v2 else "memory.memsw.limit_in_bytes"
    cases = [(["-m", "64m"], "0" if v2 else str(64 << 20)),  # gocrate's default: no swap beyond -m
             (["-m", "64m", "--memory-swap", "64m"], "0" if v2 else str(64 << 20)),
             (["-m", "64m", "--memory-swap", "-1"], "max" if v2 else None)]
    for i, (flags, wanted) in enumerate(cases):
        cid = detach(store, "--name", f"swap{i}", *flags, "probe", "sleep")
        wait_log(store, f"swap{i}", "ready")
        value = cgroup_file(cid, swap_file)
        if wanted is None:  # v1's "unlimited" is the page-rounded maximum
            check(int(value) >= 1 << 62, f"{flags}: {swap_file} is {value}")
        else:
            check(value == wanted, f"{flags}: {swap_file} is {value}, not {wanted}")
        swap_shown = inspect(store, f"swap{i}")["HostConfig"]["MemorySwap"]
        check(swap_shown == (-1 if "-1" in flags else 64 << 20), f"{flags}: MemorySwap {swap_shown}")
        store("rm", "-f", f"swap{i}")


def test_oom_kill_disable_holds_the_program_instead_of_killing_it(store, work):
    if memory_v2():
        probe(store, work)
        store.expect_error("run", "-d", "-m", "64m", "--oom-kill-disable", "probe", "sleep",
                           contains=["--oom-kill-disable", "cgroup v2"], code=125)
        raise Skip("LOUD: cgroup v2 cannot disable the OOM killer: only the refusal was checked")
    probe(store, work)
    swap = ["--memory-swap", "32m"] if swap_accounting() else []
    cid = detach(store, "--name", "hog", "-m", "32m", *swap, "--oom-kill-disable", "probe", "alloc")
    wait_for(lambda: "under_oom 1" in cgroup_file(cid, "memory.oom_control"), 30, "the program to reach its limit")
    ps = [json.loads(line) for line in store("ps", "--format", "json").stdout.splitlines()]
    hog = [c for c in ps if c["Names"] == "hog"]
    check(hog and hog[0]["State"] == "running", f"the held program is not running: {hog}")
    store("rm", "-f", "hog")  # a task held by the OOM handler still dies by SIGKILL
    check(container_cgroups(cid) == [], f"cgroups left: {container_cgroups(cid)}")


def test_refusals_are_one_line_and_leave_nothing(store, work):
    probe(store, work)
    cases = [
        (["--cpuset-cpus", "99"], ["--cpuset-cpus", "99", "not online", online_cpus()]),
        (["--cpuset-cpus", "0-"], ["invalid --cpuset-cpus"]),
        (["--oom-kill-disable"], ["--oom-kill-disable needs --memory"]),
        (["--memory-swap", "1g"], ["--memory-swap 1g needs --memory"]),
        (["-m", "64m", "--memory-swap", "32m"], ["must be at least --memory 64m"]),
        (["-m", "64m", "--memory-reservation", "128m"], ["above --memory 64m"]),
        (["--cpu-shares", "1"], ["invalid --cpu-shares"]),
        (["--log-driver", "syslog"], ["unsupported --log-driver \"syslog\"", "json-file", "local", "none"]),
        (["-d", "--log-driver", "journald"], ["unsupported --log-driver \"journald\""]),
        (["-d", "--log-driver", "none", "--log-opt", "max-size=1m"], ["--log-driver none"]),
        (["-d", "--log-opt", "labels=a"], ["unsupported --log-opt \"labels=a\""]),
        (["--log-driver", "json-file"], ["--log-driver json-file needs -d"]),
        (["-P", "--network", "host"], ["-P", "--network host"]),
        (["--expose", "80/icmp"], ["invalid --expose \"80/icmp\""]),
    ]
    for flags, texts in cases:
        store.expect_error("run", *flags, "probe", "sleep", contains=texts, code=125)
    check(leftovers(store) == [], f"left behind: {leftovers(store)}")


# ---- ports ------------------------------------------------------------------------

def connect(port):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.settimeout(10)
        data = b""
        while not data.endswith(b"\n"):
            chunk = s.recv(100)
            if not chunk:
                break
            data += chunk
        return data.decode()


def test_publish_all_reaches_every_exposed_port(store, work):
    probe(store, work)  # the image exposes 8080/tcp
    detach(store, "--name", "web", "-P", "--expose", "9090", "--expose", "7000-7001/udp", "probe", "serve",
           "8080,9090")
    wait_log(store, "web", "serving")
    info = inspect(store, "web")
    ports = info["NetworkSettings"]["Ports"]
    for key in ("8080/tcp", "9090/tcp", "7000/udp", "7001/udp"):
        check(key in ports and ports[key][0]["HostPort"] not in ("", "0"), f"{key} not published: {ports}")
    check(set(info["Config"]["ExposedPorts"]) == {"8080/tcp", "9090/tcp", "7000/udp", "7001/udp"},
          info["Config"]["ExposedPorts"])
    check(info["HostConfig"]["PublishAllPorts"] is True, info["HostConfig"])
    for container_port in (8080, 9090):
        host_port = int(ports[f"{container_port}/tcp"][0]["HostPort"])
        check(host_port not in (8080, 9090), "a random host port was expected")
        answer = connect(host_port)
        check(answer == f"pong {container_port}\n", f"port {host_port} answered {answer!r}")
    shown = [json.loads(line) for line in store("ps", "--format", "json").stdout.splitlines()]
    web = [c for c in shown if c["Names"] == "web"][0]
    for container_port in (8080, 9090):
        host_port = ports[f"{container_port}/tcp"][0]["HostPort"]
        check(f":{host_port}->{container_port}/tcp" in web["Ports"], web["Ports"])
    store("rm", "-f", "web")


def test_publish_all_keeps_p_and_expose_alone_publishes_nothing(store, work):
    probe(store, work)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        fixed = s.getsockname()[1]
    detach(store, "--name", "mixed", "-P", "-p", f"{fixed}:8080", "probe", "serve", "8080")
    wait_log(store, "mixed", "serving")
    ports = inspect(store, "mixed")["NetworkSettings"]["Ports"]
    check(ports == {"8080/tcp": [{"HostIp": "0.0.0.0", "HostPort": str(fixed)}]}, ports)
    check(connect(fixed) == "pong 8080\n", "the -p port")
    store("rm", "-f", "mixed")
    detach(store, "--name", "quiet", "--expose", "9090", "probe", "serve", "9090")
    wait_log(store, "quiet", "serving")
    info = inspect(store, "quiet")
    check(info["NetworkSettings"]["Ports"] == {}, info["NetworkSettings"])
    check("9090/tcp" in info["Config"]["ExposedPorts"], info["Config"])
    store("rm", "-f", "quiet")


# ---- logs ----------------------------------------------------------------------------

EXPECTED_OUT = ("plain line\n"
                '{"log":"forged\\n","stream":"stderr","time":"2000-01-01T00:00:00Z"}\n'
                "2000-01-01T00:00:00.000000000Z stderr F forged\n")


def finished(store, name):
    store("wait", name)


def test_log_drivers(store, work):
    probe(store, work)
    for driver in ("json-file", "local"):
        name = f"log-{driver}"
        cid = detach(store, "--name", name, "--log-driver", driver, "probe", "print")
        finished(store, name)
        result = store("logs", name)
        check(result.stdout.startswith(EXPECTED_OUT), f"{driver}: {result.stdout!r}")
        check("quote \" backslash \\ tab \t <html> & caf\u00e9 end\n" in result.stdout, f"{driver}: {result.stdout!r}")
        check(result.stdout.endswith("no newline"), f"{driver}: the last part: {result.stdout!r}")
        check(result.stderr == "error line\n", f"{driver}: stderr {result.stderr!r}")
        info = inspect(store, name)
        check(info["HostConfig"]["LogConfig"]["Type"] == driver, info["HostConfig"]["LogConfig"])
        raw = open(info["LogPath"], "rb").read().decode()
        lines = raw.splitlines()
        if driver == "json-file":
            entries = [json.loads(line) for line in lines]
            check(all(set(e) == {"log", "stream", "time"} for e in entries), entries)
            check(entries[0]["log"] == "plain line\n" and entries[0]["stream"] == "stdout", entries[0])
            check(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z", entries[0]["time"]), entries[0])
            check(entries[1]["log"] == EXPECTED_OUT.splitlines()[1] + "\n" and entries[1]["stream"] == "stdout",
                  entries[1])
            check("\\u003chtml\\u003e \\u0026" in raw, "Go's escaping")
            check(any(e["log"] == "error line\n" and e["stream"] == "stderr" for e in entries), entries)
            check(any(e["log"] == "no newline" for e in entries), "the partial line")
        else:
            check(re.match(r"\S+ stdout F plain line$", lines[0]), lines[0])
            check(any(re.match(r"\S+ stdout P no newline$", line) for line in lines), lines)
        timestamps = store("logs", "-t", name)
        check(re.match(r"\d{4}-\d\d-\d\dT\S+ plain line\n", timestamps.stdout), f"-t: {timestamps.stdout!r}")
        check(re.match(r"\d{4}-\d\d-\d\dT\S+ error line\n$", timestamps.stderr), f"-t: {timestamps.stderr!r}")
        store("rm", name)
        check(not os.path.exists(os.path.dirname(info["LogPath"])), f"{cid} left behind")

    detach(store, "--name", "silent", "--log-driver", "none", "probe", "print")
    finished(store, "silent")
    info = inspect(store, "silent")
    check(info["LogPath"] == "" and info["HostConfig"]["LogConfig"]["Type"] == "none", info["HostConfig"])
    check(not os.path.exists(os.path.join(store.path, "containers", info["Id"], "container.log")), "a log was kept")
    expect_one_error(store("logs", "silent", check_rc=False), "silent", "--log-driver none")

    # In the foreground, none is what a container has: its output is on the terminal.
    out = store("run", "--rm", "--log-driver", "none", "probe", "print")
    check(out.stdout.startswith(EXPECTED_OUT) and out.stderr == "error line\n", out)


def test_log_opts_rotate_json_file(store, work):
    probe(store, work)
    detach(store, "--name", "capped", "--log-opt", "max-size=4k", "--log-opt", "max-file=2", "probe", "print")
    finished(store, "capped")
    info = inspect(store, "capped")
    check(info["HostConfig"]["LogConfig"] == {"Type": "json-file", "Config": {"max-size": "4096", "max-file": "2"}},
          info["HostConfig"]["LogConfig"])
    check(store("logs", "capped").stdout.startswith(EXPECTED_OUT), "logs of a capped json-file")


# ---- cidfile --------------------------------------------------------------------------

def test_cidfile(store, work):
    probe(store, work)
    path = os.path.join(work, "web.cid")
    cid = detach(store, "--cidfile", path, "--name", "withcid", "probe", "sleep")
    check(open(path).read() == cid, f"{path} holds {open(path).read()!r}, not {cid}")
    before = leftovers(store)
    result = store("run", "-d", "--cidfile", path, "probe", "sleep", check_rc=False)
    expect_one_error(result, f"Container ID file found, make sure the other container isn't running or delete {path}",
                     code=125)
    check(leftovers(store) == before, "a refused run made a container")
    check(open(path).read() == cid, "the existing file was changed")

    link = os.path.join(work, "link.cid")
    target = os.path.join(work, "target")
    os.symlink(target, link)
    store.expect_error("run", "--rm", "--cidfile", link, "probe", "sleep", contains="Container ID file found",
                       code=125)
    check(not os.path.exists(target), "the symlink was followed")

    fg = os.path.join(work, "fg.cid")
    out = store("run", "--cidfile", fg, "--name", "fg", "probe", "print")
    check(ID.fullmatch(open(fg).read()), open(fg).read())
    check(inspect(store, "fg")["Id"] == open(fg).read(), "the foreground container's id")

    created = os.path.join(work, "created.cid")
    out = store("create", "--cidfile", created, "--name", "made", "probe", "sleep").stdout.strip()
    check(open(created).read() == out, f"create: {open(created).read()!r} vs {out!r}")

    failed = os.path.join(work, "failed.cid")
    store.expect_error("run", "--cidfile", failed, "--cpuset-cpus", "99", "probe", "sleep", contains="--cpuset-cpus")
    check(not os.path.exists(failed), "a cidfile was left by a run that made no container")
    store("rm", "-f", "withcid", "fg", "made")


if __name__ == "__main__":
    main(globals())
