#!/usr/bin/env python3
"""Detached containers end to end: run -d and its supervisor, logs, stop, kill,
wait, restart policies, health checks, exec (-it), ps/inspect/stats from fresh
CLI calls, a killed supervisor, 100 containers at once, bad input, and nothing
left behind."""

import errno
import fcntl
import json
import os
import pty
import re
import select
import signal
import struct
import subprocess
import termios
import time
from datetime import datetime

import urllib.request

from harness import (GOCRATE, HELLO_DIR, Skip, build_program, check, container_cgroups, detach, expect_one_error,
                     free_port, inspect, main, ps_by_name, run, wait_for)

SVC_SOURCE = r'''
// svc is the program of the supervision tests: a server whose health can be
// broken, and programs that crash, spam, tick, ignore signals or report what
// they see.
package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"
)

const brokenFile = "/tmp/broken"

func broken() bool {
	_, err := os.Stat(brokenFile)
	return err == nil
}

func serve(port string) {
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintf(w, "Hello, World!") })
	http.HandleFunc("/health", func(w http.ResponseWriter, r *http.Request) {
		if broken() {
			w.WriteHeader(500)
			fmt.Fprintln(w, "broken")
			return
		}
		fmt.Fprintln(w, "ok")
	})
	fmt.Println("serving on", port)
	if err := http.ListenAndServe(":"+port, nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func status() {
	out := map[string]interface{}{}
	data, _ := os.ReadFile("/proc/self/status")
	for _, line := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok {
			out[k] = strings.TrimSpace(v)
		}
	}
	out["cwd"], _ = os.Getwd()
	out["env"] = os.Environ()
	out["ppid"] = os.Getppid()
	// What every process in the container runs, as far as it may know.
	exes := map[string]string{}
	entries, _ := filepath.Glob("/proc/[0-9]*/exe")
	for _, e := range entries {
		target, err := os.Readlink(e)
		if err != nil {
			target = "error: " + err.Error()
		}
		exes[e] = target
	}
	out["exes"] = exes
	b, _ := json.Marshal(out)
	fmt.Println(string(b))
}

type winsize struct{ Row, Col, X, Y uint16 }

func tty() {
	var ws winsize
	_, _, e := syscall.Syscall(syscall.SYS_IOCTL, 0, syscall.TIOCGWINSZ, uintptr(unsafe.Pointer(&ws)))
	name, _ := os.Readlink("/proc/self/fd/0")
	fmt.Printf("tty=%v name=%s rows=%d cols=%d\n", e == 0, name, ws.Row, ws.Col)
}

func main() {
	mode, arg := "sleep", ""
	if len(os.Args) > 1 {
		mode = os.Args[1]
	}
	if len(os.Args) > 2 {
		arg = os.Args[2]
	}
	n, _ := strconv.Atoi(arg)
	switch mode {
	case "serve":
		serve(arg)
	case "check":
		if broken() {
			fmt.Println("broken")
			os.Exit(1)
		}
		fmt.Println("fine")
	case "break":
		os.WriteFile(brokenFile, []byte("x"), 0644)
	case "fix":
		os.Remove(brokenFile)
	case "crash":
		fmt.Println("starting, then exiting with", n)
		os.Exit(n)
	case "spam":
		line := strings.Repeat("x", 99)
		for i := 0; i < n; i++ {
			fmt.Printf("%06d %s\n", i, line)
		}
		// stderr has a pipe of its own: "spam done" goes out once the
		// supervisor has read all of stdout, so that it is the log's last
		// entry and no later stdout rotates it away.
		for {
			var unread int32
			syscall.Syscall(syscall.SYS_IOCTL, 1, syscall.TIOCINQ, uintptr(unsafe.Pointer(&unread)))
			if unread == 0 {
				break
			}
			time.Sleep(time.Millisecond)
		}
		fmt.Fprintln(os.Stderr, "spam done")
		time.Sleep(time.Hour)
	case "tick":
		for i := 0; ; i++ {
			fmt.Println("tick", i)
			time.Sleep(100 * time.Millisecond)
		}
	case "sleep":
		ch := make(chan os.Signal, 4)
		signal.Notify(ch, syscall.SIGTERM, syscall.SIGUSR1, syscall.SIGQUIT)
		fmt.Println("ready")
		for s := range ch {
			fmt.Println("got", s)
			if s == syscall.SIGTERM {
				os.Exit(0)
			}
		}
	case "stubborn":
		signal.Ignore(syscall.SIGTERM)
		fmt.Println("ready")
		time.Sleep(time.Hour)
	case "status":
		status()
	case "tty":
		tty()
	case "winch":
		ch := make(chan os.Signal, 4)
		signal.Notify(ch, syscall.SIGWINCH)
		tty()
		for range ch {
			tty()
		}
	case "alloc":
		var chunks [][]byte
		for i := 0; i < n; i++ {
			b := make([]byte, 1<<20)
			for j := 0; j < len(b); j += 4096 {
				b[j] = 1
			}
			chunks = append(chunks, b)
		}
		fmt.Println("allocated", len(chunks))
		time.Sleep(time.Hour)
	case "exit":
		os.Exit(n)
	default:
		fmt.Fprintln(os.Stderr, "unknown mode", mode)
		os.Exit(2)
	}
}
'''

DOCKER_DEFAULT_CAPS = "00000000a80425fb"
NO_CAPS = "0000000000000000"


# ---- helpers -------------------------------------------------------------------


def status_of(store, name):
    return ps_by_name(store, "-a").get(name, {}).get("Status")


def wait_status(store, name, wanted, timeout=20):
    wait_for(lambda: status_of(store, name) == wanted, timeout, f"{name} to be {wanted} (is {status_of(store, name)})")


def wait_health(store, name, wanted, timeout=20):
    wait_for(lambda: ps_by_name(store, "-a").get(name, {}).get("Health") == wanted, timeout,
             f"{name} to be {wanted}: {ps_by_name(store, '-a').get(name)}")


def wait_log(store, name, text, timeout=20):
    wait_for(lambda: text in store("logs", name).stdout, timeout, f"{text!r} in the log of {name}")


def process_gone(pid):
    """Gone, or a zombie its new parent has not reaped yet (it runs nothing)."""
    try:
        return open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def store_leftovers(store):
    base = os.path.join(store.path, "containers")
    entries = [d for d in os.listdir(base) if d != "by-name"] if os.path.isdir(base) else []
    names = os.listdir(os.path.join(base, "by-name")) if os.path.isdir(os.path.join(base, "by-name")) else []
    mounts = [line for line in open("/proc/self/mountinfo") if store.path in line]
    return entries + [f"by-name/{n}" for n in names] + mounts


def log_times(lines):
    return [datetime.strptime(line.split()[0][:26], "%Y-%m-%dT%H:%M:%S.%f") for line in lines]


def drive_pty(argv, rows, cols, actions=(), timeout=20):
    """Runs argv on a new pty of rows x cols; `actions` are (after text, function of the master fd) pairs.
    Returns (output, exit code)."""
    pid, fd = pty.fork()
    if pid == 0:
        fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        os.execv(argv[0], argv)
    out = b""
    pending = list(actions)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.1)
        if ready:
            try:
                data = os.read(fd, 4096)
            except OSError as e:
                if e.errno != errno.EIO:
                    raise
                break
            if not data:
                break
            out += data
        while pending and pending[0][0].encode() in out:
            pending.pop(0)[1](fd)
    else:
        os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    return out.decode(errors="replace"), os.waitstatus_to_exitcode(status)


# ---- tests -----------------------------------------------------------------------

def test_run_d_returns_an_id_at_once_and_hello_answers_inside(store, work):
    store("build", ".", "-t", "hello", cwd=HELLO_DIR)
    port = free_port()
    start = time.monotonic()
    cid = detach(store, "--name", "web", "-p", f"127.0.0.1:{port}:8080", "--health-http", "8080/",
                 "--health-interval", "100ms", "hello")
    took = time.monotonic() - start
    check(took < 2, f"run -d took {took:.2f}s")
    # Published by the supervisor: hello answers from the host.
    def answer():
        try:
            return urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2).read()
        except OSError:
            return None
    wait_for(lambda: answer() == b"Hello, World!", 10, "hello to answer on the published port")
    check(ps_by_name(store)["web"]["Ports"] == f"127.0.0.1:{port}->8080/tcp", ps_by_name(store)["web"])
    check(ps_by_name(store)["web"]["ID"] == cid and ps_by_name(store)["web"]["Status"] == "running", ps_by_name(store))
    # An HTTP GET made inside the container's network namespace gets hello's answer.
    wait_health(store, "web", "healthy")
    log = inspect(store, "web")["State"]["Health"]["Log"]
    check(log[-1]["ExitCode"] == 0 and "200" in log[-1]["Output"], log)
    check(store("exec", "web", "/app/hello", "once").stdout == "Hello, World!\n", "exec hello once")
    # The supervisor is a process of its own, detached from the command that made it.
    state = inspect(store, cid)["State"]
    sup = state["SupervisorPid"]
    check(sup > 0 and open(f"/proc/{sup}/comm").read().strip() == "gocrate-sup", state)
    check(os.getsid(sup) == sup, "the supervisor is not in a session of its own")
    check(int(open(f"/proc/{state['Pid']}/stat").read().rsplit(")", 1)[1].split()[1]) == sup,
          "the container is not the supervisor's child")
    # A second container cannot take the port; nothing of it is kept.
    expect_one_error(store("run", "-d", "--name", "web2", "-p", f"127.0.0.1:{port}:8080", "hello", check_rc=False),
                     str(port), "in use", code=125)
    check("web2" not in ps_by_name(store, "-a"), "a container whose port was taken is kept")
    store("rm", "-f", "web")
    check(store_leftovers(store) == [], store_leftovers(store))
    check(container_cgroups(cid) == [], container_cgroups(cid))
    check(answer() is None, "the port is still published after rm")


def test_published_ports_survive_restarts(store, work):
    build_program(store, work, "svc", SVC_SOURCE)
    detach(store, "--name", "flaky", "-p", "127.0.0.1::8080", "--restart", "always", "svc", "serve", "8080")
    wait_log(store, "flaky", "serving")
    host_port = int(ps_by_name(store)["flaky"]["Ports"].split(":")[1].split("-")[0])
    url = f"http://127.0.0.1:{host_port}/"
    check(urllib.request.urlopen(url, timeout=5).read() == b"Hello, World!", "first run")
    store("kill", "-s", "HUP", "flaky")  # a Go program exits on SIGHUP; always restarts it
    wait_for(lambda: inspect(store, "flaky")["RestartCount"] == 1 and status_of(store, "flaky") == "running", 20,
             "the restart")
    wait_for(lambda: store("logs", "flaky").stdout.count("serving") == 2, 10, "the second run to serve")
    check(ps_by_name(store)["flaky"]["Ports"] == f"127.0.0.1:{host_port}->8080/tcp", "the picked port changed")
    check(urllib.request.urlopen(url, timeout=5).read() == b"Hello, World!", "after the restart")
    store("rm", "-f", "flaky")


def test_logs_follow_with_timestamps_and_the_log_is_capped(store, work):
    build_program(store, work, "svc", SVC_SOURCE)
    detach(store, "--name", "ticker", "svc", "tick")
    follow = subprocess.Popen([GOCRATE, "--root", store.path, "logs", "-f", "-t", "ticker"], stdout=subprocess.PIPE,
                              text=True)
    try:
        lines = [follow.stdout.readline() for _ in range(5)]
        check([line.split()[1:] for line in lines] == [["tick", str(i)] for i in range(5)], lines)
        times = log_times(lines)
        gaps = [(b - a).total_seconds() for a, b in zip(times, times[1:])]
        check(all(0.05 < g < 1 for g in gaps), f"tick gaps {gaps}")
        store("stop", "ticker")
        check(follow.wait(15) == 0, "logs -f did not end when the container stopped")
    finally:
        follow.kill()
        follow.wait()
    out = store("logs", "ticker").stdout
    check(out.startswith("tick 0\ntick 1\n"), out[:100])

    cid = detach(store, "--name", "spam", "--log-opt", "max-size=64k", "--log-opt", "max-file=2", "svc", "spam",
                 "5000")
    wait_for(lambda: "spam done" in store("logs", "spam").stderr, 20, "spam to finish")
    directory = os.path.join(store.path, "containers", cid)
    logs = sorted(f for f in os.listdir(directory) if f.startswith("container.log"))
    check(logs == ["container.log", "container.log.1"], logs)
    sizes = [os.path.getsize(os.path.join(directory, f)) for f in logs]
    check(all(s <= 64 * 1024 for s in sizes), f"log files over 64k: {sizes}")
    # 5000 lines of 106 bytes (530 KB) were written; between 64k and 128k of entries (~145 bytes each) are
    # kept, the newest.
    # The two streams come through two pipes: their order against each other is as the supervisor read them.
    tail = store("logs", "--tail", "3", "spam")
    out = [int(line.split()[0]) for line in tail.stdout.splitlines()]
    check(len(out) + len(tail.stderr.splitlines()) == 3 and out[-1] == 4999, (tail.stdout, tail.stderr))
    check(out == list(range(5000 - len(out), 5000)), out)
    kept = store("logs", "spam").stdout.splitlines()
    # What `logs` shows is every stdout entry of both files, oldest first: the newest lines, without a gap. (The
    # supervisor writes what one read of the pipe brought at once, so where a file was cut depends on timing.)
    per_file = [[json.loads(line) for line in open(os.path.join(directory, f), "rb")] for f in reversed(logs)]
    check(all(any(e["stream"] == "stdout" for e in entries) for entries in per_file), "a log file without output")
    stdout_text = "".join(e["log"] for entries in per_file for e in entries if e["stream"] == "stdout")
    check(kept == stdout_text.splitlines(), (len(kept), len(stdout_text.splitlines())))
    # The oldest entry kept may be the end of a line whose start was rotated away.
    first = 5000 - len(kept)
    expected = [f"{i:06d} {'x' * 99}" for i in range(first, 5000)]
    check(expected[0].endswith(kept[0]) and kept[1:] == expected[1:], f"not the newest lines in order: {kept[:2]}")
    check(store("logs", "spam").stderr == "spam done\n", "stderr kept apart")
    store("rm", "-f", "spam", "ticker")


def test_stop_within_t_kill_signals_and_wait_codes(store, work):
    build_program(store, work, "svc", SVC_SOURCE)
    detach(store, "--name", "polite", "svc", "sleep")
    wait_log(store, "polite", "ready")
    check(store("kill", "-s", "USR1", "polite").stdout == "polite\n", "kill prints the name")
    wait_log(store, "polite", "got user defined signal 1")
    start = time.monotonic()
    store("stop", "polite")
    check(time.monotonic() - start < 3, "stop of a program that exits on SIGTERM")
    check(status_of(store, "polite") == "exited (0)", status_of(store, "polite"))
    check("got terminated" in store("logs", "polite").stdout, "SIGTERM reached the program")

    detach(store, "--name", "stubborn", "svc", "stubborn")
    wait_log(store, "stubborn", "ready")
    start = time.monotonic()
    store("stop", "-t", "1", "stubborn")
    took = time.monotonic() - start
    check(0.9 < took < 4, f"stop -t 1 of a program that ignores SIGTERM took {took:.2f}s")
    check(status_of(store, "stubborn") == "exited (137)", status_of(store, "stubborn"))

    detach(store, "--name", "signal", "--stop-signal", "SIGQUIT", "--stop-timeout", "1", "svc", "sleep")
    wait_log(store, "signal", "ready")
    store("stop", "signal")
    check("got quit" in store("logs", "signal").stdout, store("logs", "signal").stdout)
    check(status_of(store, "signal") == "exited (137)", status_of(store, "signal"))

    for name, code in [("three", 3), ("zero", 0), ("seven", 7)]:
        detach(store, "--name", name, "svc", "exit", str(code))
    check(store("wait", "three", "zero", "seven").stdout == "3\n0\n7\n", "wait prints exit codes")
    detach(store, "--name", "later", "svc", "sleep")
    waiter = subprocess.Popen([GOCRATE, "--root", store.path, "wait", "later"], stdout=subprocess.PIPE, text=True)
    time.sleep(0.3)
    check(waiter.poll() is None, "wait returned while the container runs")
    store("kill", "later")
    check(waiter.communicate(timeout=15)[0] == "137\n", "wait after kill")
    check(inspect(store, "later")["State"]["ExitCode"] == 137, inspect(store, "later")["State"])


def test_commands_reach_foreground_containers(store, work):
    build_program(store, work, "svc", SVC_SOURCE)
    fg = subprocess.Popen([GOCRATE, "--root", store.path, "run", "--name", "fg", "svc", "sleep"],
                          stdout=subprocess.PIPE, text=True)
    try:
        check(fg.stdout.readline() == "ready\n", "foreground svc")
        check(status_of(store, "fg") == "running", ps_by_name(store, "-a"))
        v = json.loads(store("exec", "fg", "/app/svc", "status").stdout)
        check(v["NoNewPrivs"] == "1" and v["Seccomp"] == "2" and v["CapEff"] == NO_CAPS, v)
        store("kill", "-s", "USR1", "fg")
        check(fg.stdout.readline() == "got user defined signal 1\n", "kill reached the foreground container")
        expect_one_error(store("logs", "fg", check_rc=False), "fg", "foreground")
        expect_one_error(store("rm", "fg", check_rc=False), "fg", "rm -f")
        waiter = subprocess.Popen([GOCRATE, "--root", store.path, "wait", "fg"], stdout=subprocess.PIPE, text=True)
        store("stop", "fg")
        check(fg.wait(10) == 0, f"the foreground gocrate exited {fg.returncode}")
        check(waiter.communicate(timeout=10)[0] == "0\n", "wait on a foreground container")
        check(status_of(store, "fg") == "exited (0)", status_of(store, "fg"))
    finally:
        fg.kill()
        fg.wait()
    stubborn = subprocess.Popen([GOCRATE, "--root", store.path, "run", "--rm", "--name", "fg2", "svc", "stubborn"],
                                stdout=subprocess.PIPE, text=True)
    try:
        check(stubborn.stdout.readline() == "ready\n", "foreground stubborn")
        start = time.monotonic()
        store("stop", "-t", "1", "fg2")
        check(0.9 < time.monotonic() - start < 4 and stubborn.wait(10) == 137, "stop -t 1 of a foreground container")
    finally:
        stubborn.kill()
        stubborn.wait()
    store("rm", "fg")
    check(store_leftovers(store) == [], store_leftovers(store))


def test_wait_and_ps_around_the_end_of_a_foreground_container(store, work):
    # A state read just before the owner saved "exited" and let go must not pass for a container whose owner died.
    build_program(store, work, "svc", SVC_SOURCE)
    for round in range(3):
        name = f"ending{round}"
        fg = subprocess.Popen([GOCRATE, "--root", store.path, "run", "--name", name, "svc", "sleep"],
                              stdout=subprocess.PIPE, text=True)
        check(fg.stdout.readline() == "ready\n", "foreground svc")
        stopper = subprocess.Popen([GOCRATE, "--root", store.path, "stop", name])
        waiters, statuses = [], []
        while stopper.poll() is None or len(waiters) < 5:
            waiters.append(subprocess.Popen([GOCRATE, "--root", store.path, "wait", name], stdout=subprocess.PIPE,
                                            text=True))
            statuses.append(status_of(store, name))
        check(stopper.wait(15) == 0 and fg.wait(15) == 0, "stop")
        codes = [w.communicate(timeout=15)[0] for w in waiters]
        check(set(codes) == {"0\n"}, f"wait printed {codes}")
        check(set(statuses) <= {"running", "exited (0)"}, f"ps said {statuses}")


def test_on_failure_restarts_exactly_n_times_with_backoff(store, work):
    build_program(store, work, "svc", SVC_SOURCE)
    detach(store, "--name", "crashy", "--restart", "on-failure:3", "svc", "crash", "3")
    check(store("wait", "crashy").stdout in ("3\n",), "first exit code")
    wait_for(lambda: status_of(store, "crashy") == "exited (3)" and inspect(store, "crashy")["RestartCount"] == 3,
             30, f"three restarts: {inspect(store, 'crashy')['RestartCount']}")
    lines = store("logs", "-t", "crashy").stdout.splitlines()
    check(len(lines) == 4 and all("exiting with 3" in line for line in lines), lines)
    times = log_times(lines)
    gaps = [(b - a).total_seconds() for a, b in zip(times, times[1:])]
    # Docker's backoff: 100 ms, doubling.
    for gap, delay in zip(gaps, [0.1, 0.2, 0.4]):
        check(delay * 0.95 <= gap < delay + 0.5, f"restart gaps {gaps}, expected about 0.1, 0.2, 0.4 s")
    state = inspect(store, "crashy")
    check(state["HostConfig"]["RestartPolicy"] == {"Name": "on-failure", "MaximumRetryCount": 3}, state["HostConfig"])
    check(ps_by_name(store, "-a")["crashy"]["RestartCount"] == 3, ps_by_name(store, "-a")["crashy"])
    check(" 3 " in [line for line in store("ps", "-a").stdout.splitlines() if "crashy" in line][0], "RESTARTS column")

    detach(store, "--name", "fine", "--restart", "on-failure", "svc", "exit", "0")
    wait_status(store, "fine", "exited (0)")
    time.sleep(0.5)
    check(inspect(store, "fine")["RestartCount"] == 0, "on-failure restarted a clean exit")


def test_the_state_file_never_says_exited_before_a_restart(store, work):
    # `stop` and `ps` read this file: "exited" between an exit and the restart that follows made `stop` fail
    # with "not running" now and then.
    build_program(store, work, "svc", SVC_SOURCE)
    container_id = detach(store, "--name", "flapping", "--restart", "on-failure:3", "svc", "crash", "1")
    path = os.path.join(store.path, "containers", container_id, "state.json")
    seen = []
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            with open(path) as f:
                state = json.load(f)
        except (OSError, ValueError):
            continue
        if not seen or seen[-1] != state["status"]:
            seen.append(state["status"])
        if state["status"] == "exited" and state.get("restart_count", 0) == 3:
            break
    check(seen[-1] == "exited" and "exited" not in seen[:-1], f"statuses in order: {seen}")
    check(seen.count("restarting") == 3, f"statuses in order: {seen}")


def test_always_and_unless_stopped(store, work):
    build_program(store, work, "svc", SVC_SOURCE)
    detach(store, "--name", "always", "--restart", "always", "svc", "crash", "0")
    wait_for(lambda: inspect(store, "always")["RestartCount"] >= 2, 20, "always to restart a clean exit")
    store("stop", "always")
    # Stopped between runs, or while running (SIGTERM ends a Go program with 143).
    check(status_of(store, "always") in ("exited (0)", "exited (143)"), status_of(store, "always"))
    count = inspect(store, "always")["RestartCount"]
    time.sleep(0.6)
    check(inspect(store, "always")["RestartCount"] == count and status_of(store, "always").startswith("exited"),
          "a stopped always container restarted")

    # kill with a signal the program survives does not stop the policy; SIGKILL does.
    detach(store, "--name", "killed", "--restart", "always", "svc", "sleep")
    wait_log(store, "killed", "ready")
    store("kill", "-s", "USR1", "killed")
    store("kill", "killed")
    wait_status(store, "killed", "exited (137)")
    time.sleep(0.5)
    check(inspect(store, "killed")["RestartCount"] == 0, "restarted after kill")

    # What a boot-time `start --boot` brings back: always ones whatever stopped them,
    # unless-stopped ones only when no stop or kill did.
    for name, policy in [("a-stopped", "always"), ("u-stopped", "unless-stopped"), ("a-lost", "always"),
                         ("u-lost", "unless-stopped"), ("no-lost", "no")]:
        detach(store, "--name", name, "--restart", policy, "svc", "sleep")
    for name in ["a-stopped", "u-stopped"]:
        store("stop", name)
    for name in ["a-lost", "u-lost", "no-lost"]:
        wait_log(store, name, "ready")
        os.kill(inspect(store, name)["State"]["SupervisorPid"], signal.SIGKILL)
        wait_status(store, name, "dead (supervisor gone)")
    started = store("start", "--boot").stdout.split()
    check(sorted(started) == ["a-lost", "a-stopped", "always", "killed", "u-lost"], started)
    running = {name for name, c in ps_by_name(store).items() if c["Status"] == "running" and name != "always"}
    check(running == {"a-lost", "a-stopped", "killed", "u-lost"}, running)
    check(status_of(store, "always") in ("running", "restarting (0)"), "always crashes and restarts")
    store("start", "u-stopped")
    expect_one_error(store("start", "u-stopped", check_rc=False), "u-stopped", "already running")
    store("rm", "-f", *ps_by_name(store, "-a").keys())
    check(store_leftovers(store) == [], store_leftovers(store))


def test_health_cmd_and_http_flip_with_the_app(store, work):
    build_program(store, work, "svc", SVC_SOURCE)
    timing = ["--health-interval", "150ms", "--health-retries", "2", "--health-timeout", "2s"]
    detach(store, "--name", "by-cmd", "--health-cmd", "/app/svc check", *timing, "svc", "serve", "8080")
    detach(store, "--name", "by-http", "--health-http", "8080/health", *timing, "svc", "serve", "8080")
    for name in ["by-cmd", "by-http"]:
        wait_health(store, name, "healthy")
        store("exec", name, "/app/svc", "break")
    for name in ["by-cmd", "by-http"]:
        wait_health(store, name, "unhealthy")
        health = inspect(store, name)["State"]["Health"]
        check(health["Status"] == "unhealthy" and health["FailingStreak"] >= 2, health)
        check(len(health["Log"]) <= 5 and health["Log"][-1]["ExitCode"] != 0, health)
    check("broken" in inspect(store, "by-cmd")["State"]["Health"]["Log"][-1]["Output"], "command output kept")
    check("500" in inspect(store, "by-http")["State"]["Health"]["Log"][-1]["Output"], "HTTP status kept")
    for name in ["by-cmd", "by-http"]:
        store("exec", name, "/app/svc", "fix")
        wait_health(store, name, "healthy")
    config = inspect(store, "by-http")["Config"]["Healthcheck"]
    check(config["Test"] == ["HTTP", "8080/health"] and config["Interval"] == 150_000_000 and config["Retries"] == 2,
          config)
    # During the start period failures do not count; a check that is never healthy ends unhealthy after it.
    detach(store, "--name", "slow", "--health-cmd", "/app/svc check", "--health-interval", "100ms",
           "--health-retries", "1", "--health-start-period", "1s", "svc", "sleep")
    store("exec", "slow", "/app/svc", "break")
    time.sleep(0.6)
    check(ps_by_name(store)["slow"]["Health"] == "starting", ps_by_name(store)["slow"])
    wait_health(store, "slow", "unhealthy")
    # A check that takes longer than --health-timeout fails.
    detach(store, "--name", "timeout", "--health-cmd", "/app/svc sleep", "--health-interval", "100ms",
           "--health-timeout", "200ms", "--health-retries", "1", "svc", "sleep")
    wait_health(store, "timeout", "unhealthy")
    check("longer than 200 ms" in inspect(store, "timeout")["State"]["Health"]["Log"][-1]["Output"],
          inspect(store, "timeout")["State"]["Health"])
    store("rm", "-f", "by-cmd", "by-http", "slow", "timeout")


def test_exec_runs_as_the_container_under_its_restrictions(store, work):
    build_program(store, work, "svc", SVC_SOURCE)
    detach(store, "--name", "box", "-e", "FROM_RUN=1", "svc", "sleep")
    wait_log(store, "box", "ready")
    v = json.loads(store("exec", "box", "/app/svc", "status").stdout)
    check(v["Uid"].split() == ["65532"] * 4 and v["Gid"].split() == ["65532"] * 4, v)
    check(v["CapEff"] == v["CapPrm"] == v["CapInh"] == v["CapAmb"] == NO_CAPS, v)
    check(v["CapBnd"] == DOCKER_DEFAULT_CAPS, v["CapBnd"])
    check(v["NoNewPrivs"] == "1" and v["Seccomp"] == "2", v)
    check(v["ppid"] == 0, f"the exec'd process sees its parent: {v['ppid']}")
    check("FROM_RUN=1" in v["env"] and "HOME=/home/nonroot" in v["env"], v["env"])
    # Nothing in the container runs, or can open, gocrate's executable.
    gocrate = os.path.realpath(GOCRATE)
    check(all(gocrate not in exe and "gocrate" not in exe for exe in v["exes"].values()), v["exes"])
    root = json.loads(store("exec", "-u", "0", "-w", "/tmp", "-e", "EXTRA=2", "box", "/app/svc", "status").stdout)
    check(root["Uid"].split()[0] == "0" and root["CapEff"] == DOCKER_DEFAULT_CAPS, root)
    check(root["NoNewPrivs"] == "1" and root["Seccomp"] == "2", root)
    check(root["cwd"] == "/tmp" and "EXTRA=2" in root["env"], root)
    # While an exec runs, the other processes of the container cannot reach it.
    held = subprocess.Popen([GOCRATE, "--root", store.path, "exec", "box", "/app/svc", "stubborn"],
                            stdout=subprocess.PIPE, text=True)
    try:
        check(held.stdout.readline() == "ready\n", "exec stubborn")
        v = json.loads(store("exec", "-u", "0", "box", "/app/svc", "status").stdout)
        check(all("gocrate" not in exe for exe in v["exes"].values()), v["exes"])
    finally:
        held.kill()
        held.wait()
    check(store("exec", "box", "/app/svc", "exit", "7", check_rc=False).returncode == 7, "exit code")
    expect_one_error(store("exec", "box", "/nope", check_rc=False), "/nope", code=127)
    expect_one_error(store("exec", "box", "/etc/passwd", check_rc=False), "/etc/passwd", "not executable", code=126)
    expect_one_error(store("exec", "-u", "nobody-here", "box", "/app/svc", check_rc=False), "nobody-here")
    expect_one_error(store("exec", "-w", "/missing", "box", "/app/svc", check_rc=False), "/missing")
    out = store("exec", "-i", "box", "/app/svc", "check", input="ignored").stdout
    check(out == "fine\n", out)
    store("stop", "box")
    expect_one_error(store("exec", "box", "/app/svc", check_rc=False), "box", "not running")


def test_exec_it_and_run_it_get_a_terminal(store, work):
    build_program(store, work, "svc", SVC_SOURCE)
    detach(store, "--name", "term", "svc", "sleep")
    base = [os.path.realpath(GOCRATE), "--root", store.path]
    out, code = drive_pty(base + ["exec", "-it", "term", "/app/svc", "tty"], 33, 111)
    check(code == 0 and re.search(r"tty=true name=/dev/pts/\d+ rows=33 cols=111", out), (code, out))

    def resize(fd):
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 160, 0, 0))

    def interrupt(fd):
        os.write(fd, b"\x03")

    out, code = drive_pty(base + ["exec", "-it", "term", "/app/svc", "winch"], 24, 80,
                          [("rows=24 cols=80", resize), ("rows=50 cols=160", interrupt)])
    check("rows=50 cols=160" in out, f"the new window size did not reach the container: {out!r}")
    check(code == 130, f"^C through the terminal: exit {code}")

    out, code = drive_pty(base + ["run", "--rm", "-it", "svc", "tty"], 40, 120)
    check(code == 0 and re.search(r"tty=true name=/dev/pts/\d+ rows=40 cols=120", out), (code, out))
    out = store("run", "--rm", "-t", "svc", "tty").stdout
    check(re.search(r"tty=true name=/dev/pts/\d+", out), out)
    store("rm", "-f", "term")


def test_a_killed_supervisor_is_reported_and_rm_cleans_up(store, work):
    build_program(store, work, "svc", SVC_SOURCE)
    cid = detach(store, "--name", "orphan", "--health-cmd", "/app/svc check", "--health-interval", "100ms", "svc",
                 "sleep")
    wait_log(store, "orphan", "ready")
    state = inspect(store, "orphan")["State"]
    os.kill(state["SupervisorPid"], signal.SIGKILL)
    # The container dies with its supervisor: it never runs unsupervised.
    wait_for(lambda: process_gone(state["Pid"]), 10, "the container to die with its supervisor")
    # The supervisor's last thread may let go of the lock a moment after the container died.
    wait_status(store, "orphan", "dead (supervisor gone)", timeout=5)
    view = inspect(store, "orphan")["State"]
    check(view["Status"] == "dead" and not view["Running"] and "supervisor" in view["Error"], view)
    check(store("wait", "orphan").stdout == "137\n", "wait on a dead container")
    expect_one_error(store("stop", "orphan", check_rc=False), "orphan", "not running")
    expect_one_error(store("exec", "orphan", "/app/svc", check_rc=False), "orphan", "not running")
    # A foreground run cleans stale cgroups and records what happened, without touching running containers.
    detach(store, "--name", "bystander", "svc", "sleep")
    store("run", "--rm", "svc", "exit", "0")
    check(container_cgroups(cid) == [], container_cgroups(cid))
    check(status_of(store, "orphan") == "dead (supervisor gone)" and status_of(store, "bystander") == "running",
          ps_by_name(store, "-a"))
    store("rm", "orphan")
    store("rm", "-f", "bystander")
    check(store_leftovers(store) == [], store_leftovers(store))

    # SIGTERM to a supervisor (a shutdown) stops its container the way stop does, and the state says so.
    detach(store, "--name", "shutdown", "--restart", "unless-stopped", "svc", "sleep")
    wait_log(store, "shutdown", "ready")
    os.kill(inspect(store, "shutdown")["State"]["SupervisorPid"], signal.SIGTERM)
    wait_status(store, "shutdown", "exited (0)")
    check("got terminated" in store("logs", "shutdown").stdout, "the container was not stopped gracefully")
    check(store("start", "--boot").stdout == "shutdown\n", "a shutdown is not a stop by the user")
    store("rm", "-f", "shutdown")

    # rm -f of a container whose supervisor just died, before anything noticed.
    cid = detach(store, "--name", "orphan2", "svc", "sleep")
    wait_log(store, "orphan2", "ready")
    os.kill(inspect(store, "orphan2")["State"]["SupervisorPid"], signal.SIGKILL)
    store("rm", "-f", "orphan2")
    check(store_leftovers(store) == [] and container_cgroups(cid) == [], store_leftovers(store))


def test_100_detached_at_once_all_run_and_clean_up(store, work):
    build_program(store, work, "svc", SVC_SOURCE)
    procs = [subprocess.Popen([GOCRATE, "--root", store.path, "run", "-d", "--name", f"c{i}", "svc", "sleep"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(100)]
    ids = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        check(p.returncode == 0, f"run -d failed: {err}")
        ids.append(out.strip())
    check(len(set(ids)) == 100, "ids are not unique")
    listed = ps_by_name(store)
    check(len(listed) == 100 and all(c["Status"] == "running" for c in listed.values()), listed)
    pids = [c["Pid"] for c in listed.values()] + [inspect(store, i)["State"]["SupervisorPid"] for i in ids[:10]]
    wait_for(lambda: all("ready" in store("logs", f"c{i}").stdout for i in range(0, 100, 9)), 30, "programs start")
    removed = store("rm", "-f", *ids, timeout=300).stdout.split()
    check(sorted(removed) == sorted(ids), "rm -f printed what it removed")
    wait_for(lambda: all(process_gone(pid) for pid in pids), 30, "every container and supervisor to end")
    check(store_leftovers(store) == [], f"left: {store_leftovers(store)[:5]}")
    check(all(container_cgroups(i) == [] for i in ids), "cgroups left")


def test_100_foreground_at_once_all_run_and_clean_up(store, work):
    build_program(store, work, "svc", SVC_SOURCE)
    procs = [subprocess.Popen([GOCRATE, "--root", store.path, "run", "--rm", "svc", "crash", str(i % 5)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(100)]
    for i, p in enumerate(procs):
        out, err = p.communicate(timeout=120)
        check(p.returncode == i % 5 and out == f"starting, then exiting with {i % 5}\n", (p.returncode, out, err))
    check(store_leftovers(store) == [], store_leftovers(store))
    # The first runs probed overlayfs all at once: what they recorded is what one probe alone finds.
    probe = os.path.join(store.path, "layers", "overlay-check")
    recorded = open(probe).read()
    os.unlink(probe)
    store("run", "--rm", "svc", "exit", "0")
    check(open(probe).read() == recorded, f"parallel probes recorded {recorded!r}, one probe {open(probe).read()!r}")


def test_ps_inspect_and_stats_from_fresh_calls(store, work):
    build_program(store, work, "svc", SVC_SOURCE)
    cid = detach(store, "--name", "watched", "-m", "64m", "--pids-limit", "50", "--restart", "on-failure:2",
                 "--log-opt", "max-size=1m", "svc", "serve", "8080")
    wait_log(store, "watched", "serving")
    detach(store, "--name", "gone", "svc", "exit", "4")
    wait_status(store, "gone", "exited (4)")
    check(set(ps_by_name(store)) == {"watched"}, "ps shows running ones only")
    check(set(ps_by_name(store, "-a")) == {"watched", "gone"}, "ps -a shows all")
    check(store("ps", "-q").stdout == cid[:12] + "\n", "ps -q")
    table = store("ps", "-a").stdout.splitlines()
    check(table[0].split()[:3] == ["CONTAINER", "ID", "IMAGE"] and len(table) == 3, table)
    c = ps_by_name(store)["watched"]
    check(c["Image"] == "svc" and c["Command"] == "/app/svc serve 8080" and c["OOMKilled"] is False, c)
    v = inspect(store, cid[:8])
    check(v["Id"] == cid and v["Name"] == "/watched" and v["State"]["Running"] is True, v["State"])
    check(v["State"]["Pid"] > 0 and v["State"]["StartedAt"] and v["RestartCount"] == 0, v["State"])
    check(v["HostConfig"]["Memory"] == 64 << 20 and v["HostConfig"]["PidsLimit"] == 50, v["HostConfig"])
    check(v["HostConfig"]["LogConfig"]["Config"]["max-size"] == str(1 << 20), v["HostConfig"]["LogConfig"])
    check(v["Config"]["User"] == "65532:65532" and v["Path"] == "/app/svc" and v["Args"] == ["serve", "8080"], v)
    g = inspect(store, "gone")["State"]
    check(g["Status"] == "exited" and g["ExitCode"] == 4 and g["FinishedAt"] and not g["Running"], g)
    stats = store("stats", "--no-stream").stdout.splitlines()
    check(len(stats) == 2 and "watched" in stats[1] and "/ 64.00MiB" in stats[1], stats)
    row = stats[1].split()
    check(row[2].endswith("%") and int(row[-1]) >= 1, row)
    expect_one_error(store("stats", "--no-stream", "gone", check_rc=False), "gone", "not running")
    # An image is still inspected as one.
    check(json.loads(store("inspect", "svc").stdout)[0]["name"].startswith("svc"), "inspect of an image")
    check("digest" in json.loads(store("inspect", "--type", "image", "svc").stdout)[0], "inspect --type image")
    # OOMKilled shows in ps and inspect.
    detach(store, "--name", "oom", "-m", "16m", "svc", "alloc", "100")
    wait_for(lambda: status_of(store, "oom", ) not in ("running", None), 30, "the OOM kill")
    check(ps_by_name(store, "-a")["oom"]["OOMKilled"] is True and inspect(store, "oom")["State"]["OOMKilled"] is True,
          ps_by_name(store, "-a")["oom"])
    store("rm", "-f", "watched", "gone", "oom")


def test_rm_and_auto_remove(store, work):
    build_program(store, work, "svc", SVC_SOURCE)
    detach(store, "--name", "running", "svc", "sleep")
    expect_one_error(store("rm", "running", check_rc=False), "running", "rm -f")
    check(status_of(store, "running") == "running", "a refused rm stopped it")
    detach(store, "--rm", "--name", "temporary", "svc", "sleep")
    wait_log(store, "temporary", "ready")
    store("stop", "temporary")
    wait_for(lambda: "temporary" not in ps_by_name(store, "-a"), 10, "an --rm container to go")
    detach(store, "--rm", "--name", "temporary2", "svc", "exit", "5")
    wait_for(lambda: "temporary2" not in ps_by_name(store, "-a"), 10, "an --rm container to go when it exits")
    # A stopped container keeps its files until rm; start runs it again with the same upper layer.
    detach(store, "--name", "keeper", "svc", "sleep")
    store("exec", "keeper", "/app/svc", "break")
    store("stop", "keeper")
    store("start", "keeper")
    check(store("exec", "keeper", "/app/svc", "check", check_rc=False).stdout == "broken\n", "upper layer kept")
    store("rm", "-f", "running", "keeper")
    check(store_leftovers(store) == [], store_leftovers(store))


def test_bad_input_gets_one_clear_line_and_leaves_nothing(store, work):
    build_program(store, work, "svc", SVC_SOURCE)
    for command in [["stop"], ["kill"], ["rm"], ["rm", "-f"], ["logs"], ["wait"], ["inspect", "--type", "container"],
                    ["exec"], ["start"], ["stats", "--no-stream"]]:
        args = command + ["ghost"] + (["/app/svc"] if command == ["exec"] else [])
        expect_one_error(store(*args, check_rc=False), "ghost", "gocrate ps -a")
    detach(store, "--name", "taken", "svc", "sleep")
    taken = ps_by_name(store)["taken"]["ID"][:12]
    expect_one_error(store("run", "-d", "--name", "taken", "svc", check_rc=False), "\"taken\"", "in use", taken,
                     code=125)
    for flags, texts in [
        (["--restart", "sometimes"], ["--restart", "sometimes", "on-failure"]),
        (["--restart", "on-failure:x"], ["--restart", "on-failure:x"]),
        (["--restart", "always:3"], ["--restart", "always:3"]),
        (["--health-interval", "1s"], ["--health-interval", "--health-cmd"]),
        (["--health-cmd", "/app/svc check", "--health-interval", "soon"], ["--health-interval", "soon"]),
        (["--health-cmd", "/app/svc check", "--health-retries", "0"], ["--health-retries"]),
        (["--health-cmd", "/app/svc check", "--health-timeout", "0s"], ["--health-timeout"]),
        (["--health-cmd", "x", "--health-http", "80/"], ["--health-cmd", "--health-http"]),
        (["--health-http", "http/x"], ["--health-http", "http/x", "PORT/PATH"]),
        (["--health-http", "70000/"], ["--health-http", "70000"]),
        (["--health-cmd", "'unclosed"], ["--health-cmd", "quote"]),
        (["--log-opt", "max-size=tiny"], ["max-size", "tiny"]),
        (["--log-opt", "max-file=0"], ["max-file"]),
        (["--log-opt", "compress=true"], ["compress"]),
        (["--stop-signal", "SIGNOPE"], ["--stop-signal", "SIGNOPE"]),
        (["--rm", "--restart", "always"], ["--rm", "--restart"]),
    ]:
        expect_one_error(store("run", "-d", *flags, "svc", "sleep", check_rc=False), *texts, code=125)
    expect_one_error(store("run", "--restart", "always", "svc", check_rc=False), "--restart", "-d", code=125)
    expect_one_error(store("run", "--health-cmd", "x", "svc", check_rc=False), "health", "-d", code=125)
    expect_one_error(store("kill", "-s", "SIGNOPE", "taken", check_rc=False), "SIGNOPE")
    expect_one_error(store("logs", "--tail", "-1", "taken", check_rc=False), "--tail")
    expect_one_error(store("stop", "-t", "-2", "taken", check_rc=False), "-t")
    # A program that cannot start: the same error and exit code as in the foreground, nothing kept.
    expect_one_error(store("run", "-d", "--name", "broken", "--entrypoint", "/nope", "svc", check_rc=False),
                     "/nope", code=127)
    expect_one_error(store("run", "-d", "-u", "nobody-here", "svc", check_rc=False), "nobody-here", code=125)
    check("broken" not in ps_by_name(store, "-a"), "a container that never started is kept")
    store("stop", "taken")
    for command in [["stop"], ["kill"], ["exec"]]:
        args = command + ["taken"] + (["/app/svc"] if command == ["exec"] else [])
        expect_one_error(store(*args, check_rc=False), "taken", "not running")
    # A prefix that matches more than one container.
    ids = [ps_by_name(store, "-a")["taken"]["ID"]]
    for i in range(20):
        ids.append(detach(store, "svc", "exit", "0"))
    common = next((a[:1] for a in ids for b in ids if a != b and a[0] == b[0]), None)
    if common:
        expect_one_error(store("inspect", "--type", "container", common, check_rc=False), common, "more of the id")
    store("rm", "-f", *ids)
    check(store_leftovers(store) == [], store_leftovers(store))


if __name__ == "__main__":
    if os.geteuid() != 0:
        print("SKIP: the supervision tests need root (namespaces, cgroups)")
        raise SystemExit(77)
    main(globals())
