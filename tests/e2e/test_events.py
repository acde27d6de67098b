#!/usr/bin/env python3
"""gocrate events end to end: the journal that every gocrate process and
supervisor appends to at once, --since across a rotation, following new
events (inotify), filters and formats, and damaged records skipped."""

import json
import os
import re
import select
import signal
import subprocess
import time

from harness import GOCRATE, Failure, build_program, check, expect_one_error, main, wait_for

EV_SOURCE = r'''
// ev exits with the code it is given, or waits for a signal ("wait").
package main

import (
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"syscall"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "wait" {
		c := make(chan os.Signal, 1)
		signal.Notify(c, syscall.SIGTERM)
		fmt.Println("ready")
		<-c
		os.Exit(0)
	}
	code := 0
	if len(os.Args) > 1 {
		code, _ = strconv.Atoi(os.Args[1])
	}
	fmt.Println("exiting with", code)
	os.Exit(code)
}
'''


def now_ns():
    return time.time_ns()


def since_arg(ns):
    return f"{ns // 1_000_000_000}.{ns % 1_000_000_000:09d}"


def events(store, *args, env=None):
    """The recorded events as Docker's JSON objects (no following)."""
    result = store("events", "--until", "0s", "--format", "json", *args, env=env)
    check("damaged" not in result.stderr, f"events reported damage: {result.stderr}")
    return [json.loads(line) for line in result.stdout.splitlines()]


def popen(store, *args, env=None, cwd=None):
    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.Popen([GOCRATE, "--root", store.path, *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=full_env, cwd=cwd)


def finish(procs, what):
    for p in procs:
        out, err = p.communicate(timeout=300)
        check(p.returncode == 0, f"{what}: {' '.join(p.args[3:])} exited {p.returncode}: {err}")


class LineReader:
    """Lines a process prints, each waited for at most `timeout` seconds (unbuffered reads, so
    that select() sees every line not yet returned)."""

    def __init__(self, proc):
        self.fd = proc.stdout.fileno()
        self.pending = b""

    def line(self, timeout=30):
        deadline = time.monotonic() + timeout
        while b"\n" not in self.pending:
            ready, _, _ = select.select([self.fd], [], [], max(0, deadline - time.monotonic()))
            if not ready:
                raise Failure(f"no event printed within {timeout}s")
            data = os.read(self.fd, 65536)
            if not data:
                raise Failure(f"events ended early; pending {self.pending!r}")
            self.pending += data
        line, self.pending = self.pending.split(b"\n", 1)
        return json.loads(line)


def check_journal_records_whole(store):
    for name in ("journal", "journal.1"):
        path = os.path.join(store.path, "events", name)
        if not os.path.exists(path):
            continue
        data = open(path, "rb").read()
        check(data.count(b"\x1e") == data.count(b"\n") and data.endswith(b"\n"), f"{path} holds torn records")


def test_20_containers_and_4_commands_at_once_are_all_recorded_in_order(store, work):
    build_program(store, work, "ev", EV_SOURCE)
    start = now_ns()
    runs = [popen(store, "run", "-d", "--name", f"ev{i}", "-l", f"index={i}", "-l", "suite=events", "ev",
                  str(i % 4)) for i in range(20)]
    commands = [popen(store, "tag", "ev", "ev:one"), popen(store, "tag", "ev", "ev:two"),
                popen(store, "save", "ev", "-o", os.path.join(work, "ev.tar")),
                popen(store, "build", ".", "-t", "ev:rebuilt", cwd=os.path.join(work, "src-ev"))]
    finish(runs + commands, "concurrent commands")
    finish([popen(store, "wait", f"ev{i}") for i in range(20)], "wait")
    finish([popen(store, "rm", f"ev{i}") for i in range(20)], "rm")

    recorded = events(store, "--since", since_arg(start))
    check_journal_records_whole(store)
    for i in range(20):
        mine = [e for e in recorded if e["Type"] == "container" and e["Actor"]["Attributes"].get("name") == f"ev{i}"]
        actions = [e["Action"] for e in mine]
        check(actions == ["create", "start", "die", "destroy"], f"ev{i}: {actions}")
        die = mine[2]
        attrs = die["Actor"]["Attributes"]
        check(attrs["exitCode"] == str(i % 4) and attrs["image"] == "ev" and attrs["index"] == str(i)
              and attrs["suite"] == "events", die)
        check(die["status"] == "die" and die["from"] == "ev" and die["scope"] == "local"
              and die["id"] == die["Actor"]["ID"] and len(die["id"]) == 64, die)
        check(die["time"] == die["timeNano"] // 1_000_000_000, die)
        times = [e["timeNano"] for e in mine]
        check(times == sorted(times), f"ev{i}: times out of order {times}")
    tags = sorted(e["Actor"]["Attributes"]["name"] for e in recorded if e["Action"] == "tag")
    check(tags == ["ev:one", "ev:two"], tags)
    builds = [e["Actor"]["Attributes"]["name"] for e in recorded if e["Action"] == "build"]
    check(builds == ["ev:rebuilt"], builds)
    saves = [e for e in recorded if e["Action"] == "save"]
    check(len(saves) == 1 and saves[0]["Type"] == "image" and saves[0]["id"].startswith("sha256:"), saves)
    check(len(recorded) == 20 * 4 + 4, f"{len(recorded)} events: {[e['Action'] for e in recorded]}")

    # Filters: container (name or id prefix), event, label, image, type; keys ANDed, values ORed.
    one = [e for e in recorded if e["Actor"]["Attributes"].get("name") == "ev3"]
    check(events(store, "--since", since_arg(start), "--filter", "container=ev3") == one, "container=name")
    check(events(store, "--since", since_arg(start), "--filter", f"container={one[0]['id'][:12]}") == one,
          "container=id prefix")
    dies = events(store, "--since", since_arg(start), "--filter", "event=die", "--filter", "label=index=3")
    check([e["Actor"]["Attributes"]["name"] for e in dies] == ["ev3"], dies)
    both = events(store, "--since", since_arg(start), "--filter", "event=create", "--filter", "event=destroy",
                  "--filter", "container=ev5")
    check([e["Action"] for e in both] == ["create", "destroy"], both)
    check(len(events(store, "--since", since_arg(start), "--filter", "label=suite")) == 80, "label=KEY")
    check(len(events(store, "--since", since_arg(start), "--filter", "image=ev", "--filter", "type=container"))
          == 80, "image=ev")
    images = events(store, "--since", since_arg(start), "--filter", "type=image")
    check(sorted(e["Action"] for e in images) == ["build", "save", "tag", "tag"], images)

    # Docker's default line and Go templates.
    lines = store("events", "--since", since_arg(start), "--until", "0s", "--filter", "container=ev3",
                  env={"TZ": "UTC"}).stdout.splitlines()
    check(len(lines) == 4, lines)
    pattern = (r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z container die [0-9a-f]{64} "
               r"\(exitCode=3, image=ev, index=3, name=ev3, suite=events\)$")
    check(re.match(pattern, lines[2]), lines[2])
    out = store("events", "--since", since_arg(start), "--until", "0s", "--filter", "container=ev3", "--format",
                "{{.Type}} {{.Action}} {{.Actor.Attributes.name}} {{.Actor.Attributes.exitCode}}").stdout
    check(out.splitlines() == ["container create ev3 <no value>", "container start ev3 <no value>",
                               "container die ev3 3", "container destroy ev3 <no value>"], out)
    # Bad input: one line naming what is wrong.
    store.expect_error("events", "--since", "yesterday", contains="yesterday")
    store.expect_error("events", "--until", "0s", "--filter", "colour=red", contains="colour")


def test_since_across_a_journal_rotation(store, work):
    build_program(store, work, "ev", EV_SOURCE)
    cap = 4096
    env = {"GOCRATE_EVENTS_MAX_SIZE": str(cap)}
    journal = os.path.join(store.path, "events", "journal")
    store("tag", "ev", "ev:pre000", env=env)
    # Tags until a rotation, then a few more: the journal is far from full.
    first = os.stat(journal).st_ino
    n = 1
    while os.stat(journal).st_ino == first:
        store("tag", "ev", f"ev:pre{n:03d}", env=env)
        n += 1
    for _ in range(3):
        store("tag", "ev", f"ev:pre{n:03d}", env=env)
        n += 1
    size = os.path.getsize(journal)
    record = size // 4
    middle = now_ns()
    # Exactly one more rotation: the tags after `middle` are in both files.
    count = (cap - size) // record + 3
    rotated = os.stat(journal).st_ino
    for i in range(count):
        store("tag", "ev", f"ev:post{i:03d}", env=env)
    check(os.stat(journal).st_ino != rotated, "the journal did not rotate")
    previous = open(journal + ".1", "rb").read()
    check(b"ev:post000" in previous and b"ev:post" in open(journal, "rb").read(),
          "the tags after --since are not in both files")
    got = [e["Actor"]["Attributes"]["name"] for e in events(store, "--since", since_arg(middle), env=env)]
    check(got == [f"ev:post{i:03d}" for i in range(count)], got)
    check(os.path.getsize(journal) <= cap and len(previous) <= cap, "a journal outgrew its cap")

    # A record cut short by a crash: skipped, said once, the rest still read.
    with open(journal, "ab") as f:
        f.write(b"\x1e0badc0de 17 {\"Type\":\"cont")
    store("tag", "ev", "ev:after-crash", env=env)
    result = store("events", "--since", since_arg(middle), "--until", "0s", "--format", "{{.Actor.Attributes.name}}")
    check(result.stdout.splitlines() == [f"ev:post{i:03d}" for i in range(count)] + ["ev:after-crash"],
          result.stdout)
    notices = [line for line in result.stderr.splitlines() if "damaged" in line]
    check(notices == [f"gocrate: events: skipped 1 damaged record(s) in {journal}"], result.stderr)


def watching(process):
    """Whether `process` has its inotify descriptor, made after it took the time it shows events from."""
    fd_dir = f"/proc/{process.pid}/fd"
    try:
        return any(os.readlink(os.path.join(fd_dir, fd)) == "anon_inode:inotify" for fd in os.listdir(fd_dir))
    except FileNotFoundError:
        return False


def test_follow_sees_a_container_started_after_it_began(store, work):
    build_program(store, work, "ev", EV_SOURCE)
    start = now_ns()
    store("tag", "ev", "ev:marker")
    # With --since, past events come first.
    replay = popen(store, "events", "--since", since_arg(start), "--format", "json", "--filter", "image=ev")
    try:
        first = LineReader(replay).line()
        check((first["Action"], first["Actor"]["Attributes"]["name"]) == ("tag", "ev:marker"), first)
    finally:
        replay.kill()
        replay.wait()
    # Without --since or --until, as Docker: only new events, none of the past (the build, the marker).
    follower = popen(store, "events", "--format", "json", "--filter", "image=ev")
    lines = LineReader(follower)
    try:
        wait_for(lambda: watching(follower), 30, "events to watch the journal")
        store("run", "-d", "--name", "followed", "ev", "wait")
        seen = []
        while "start" not in seen:
            event = lines.line()
            check(event["Actor"]["Attributes"].get("name") == "followed", event)
            seen.append(event["Action"])
        check(seen == ["create", "start"], seen)
        store("stop", "followed")
        while seen[-1] != "stop":
            seen.append(lines.line()["Action"])
        check(seen == ["create", "start", "kill", "die", "stop"], seen)
        store("rm", "followed")
        check(lines.line()["Action"] == "destroy", "destroy")
        follower.send_signal(signal.SIGINT)
        follower.wait(timeout=30)
        check(follower.returncode == 0, f"events ended with {follower.returncode} on SIGINT: "
                                        f"{follower.stderr.read()}")
    finally:
        if follower.poll() is None:
            follower.kill()
            follower.wait()

    # --until in the future follows, then ends by itself.
    result = store("events", "--since", "1h", "--until", "-1s", "--filter", "container=followed",
                   "--format", "{{.Action}}", timeout=30)
    check(result.stdout.split() == ["create", "start", "kill", "die", "stop", "destroy"], result.stdout)


def test_journal_is_private_and_never_waited_on(store, work):
    """Records carry labels and exec commands; a FIFO or a link put in the journal's place is an error at once."""
    build_program(store, work, "ev", EV_SOURCE)
    directory = os.path.join(store.path, "events")
    for name in ("journal", "lock"):
        mode = os.stat(os.path.join(directory, name)).st_mode & 0o777
        check(mode == 0o600, f"{name} has mode {mode:o}")
    journal = os.path.join(directory, "journal")
    os.rename(journal, journal + ".kept")
    os.mkfifo(journal)
    for args in (("--since", "0", "--until", "0s"), ("--until", "0s"), ()):
        result = store("events", *args, check_rc=False, timeout=20)
        expect_one_error(result, journal, "not a regular file")
    os.unlink(journal)
    os.symlink("/dev/zero", journal)
    expect_one_error(store("events", "--since", "0", "--until", "0s", check_rc=False, timeout=20), journal,
                     "not a regular file")
    os.unlink(journal)
    os.rename(journal + ".kept", journal)


def test_times_out_of_range_or_not_real(store, work):
    build_program(store, work, "ev", EV_SOURCE)
    for bad in ("2024-02-31", "2023-02-29T10:00:00Z", "12a"):
        store.expect_error("events", "--since", bad, "--until", "0s", contains=bad)
    # Past the year 2262 is after every event: nothing, not everything.
    check(len(events(store, "--since", "0")) > 0, "no events to select from")
    for late in ("10000000000", "9999-12-31", "-2500000h"):
        result = store("events", "--since", late, "--until", "0s")
        check(result.stdout == "", f"--since {late}: {result.stdout[:300]}")
    check(len(events(store, "--since", "1700000000.1234567891")) > 0, "more than 9 digits of fraction")


def test_exec_and_kill_events(store, work):
    build_program(store, work, "ev", EV_SOURCE)
    start = now_ns()
    store("run", "-d", "--name", "ex", "ev", "wait")
    store("exec", "ex", "/app/ev", "5", check_rc=False)
    store("kill", "-s", "USR1", "ex", check_rc=False)
    store("rm", "-f", "ex")
    got = [(e["Action"], e["Actor"]["Attributes"]) for e in events(store, "--since", since_arg(start))]
    actions = [a for a, _ in got]
    check(actions[:5] == ["create", "start", "exec_create: /app/ev 5", "exec_start: /app/ev 5", "exec_die"],
          actions)
    exec_ids = {attrs["execID"] for a, attrs in got if a.startswith("exec_")}
    check(len(exec_ids) == 1, got)
    check(got[4][1]["exitCode"] == "5", got[4])
    check(("kill", "10") in [(a, attrs.get("signal")) for a, attrs in got], got)
    check(actions[-2:] == ["die", "destroy"], actions)
    check(len(events(store, "--since", since_arg(start), "--filter", "event=exec_start")) == 1, "event=exec_start")


if __name__ == "__main__":
    if os.geteuid() != 0:
        print("SKIP: the events tests run containers, which needs root (namespaces, cgroups)")
        raise SystemExit(77)
    main(globals())
