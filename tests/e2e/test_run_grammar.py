#!/usr/bin/env python3
"""Docker's command-line grammar for run, create and exec: options end at the
image (or container), everything after it reaches the program verbatim,
unknown options are refused with exit 125 before anything is made, and
--flag=value, -eVALUE and bundled short flags parse as Docker parses them."""

import json
import os
import pty
import select
import subprocess
import time

from harness import GOCRATE, build_program, check, expect_one_error, main, run

ARGS_SOURCE = r'''
// args prints what it was started with, as JSON.
package main

import (
	"encoding/json"
	"os"
	"strings"
	"time"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "sleep" {
		time.Sleep(time.Hour)
	}
	host, _ := os.Hostname()
	env := map[string]string{}
	for _, e := range os.Environ() {
		kv := strings.SplitN(e, "=", 2)
		env[kv[0]] = kv[1]
	}
	st, _ := os.Stdout.Stat()
	json.NewEncoder(os.Stdout).Encode(map[string]interface{}{
		"args": os.Args[1:], "env": env, "hostname": host,
		"tty": st != nil && st.Mode()&os.ModeCharDevice != 0,
	})
}
'''

# (gocrate run arguments, what the program must see: args, and env or hostname checks)
GRAMMAR_CASES = [
    (["--rm", "args", "--help"], {"args": ["--help"]}),
    (["--rm", "args", "-h"], {"args": ["-h"]}),
    (["--rm", "args", "-e", ".a"], {"args": ["-e", ".a"], "no_env": ".a"}),
    (["--rm", "args", "-type=Color"], {"args": ["-type=Color"], "tty": False}),
    (["--rm", "args", "-t"], {"args": ["-t"], "tty": False}),
    (["--rm", "args", "--", "--help"], {"args": ["--", "--help"]}),
    (["--rm", "--", "args", "x"], {"args": ["x"]}),
    (["--rm", "args", "--rn", "--read-onyl"], {"args": ["--rn", "--read-onyl"]}),
    (["--rm", "-h", "myhost", "args"], {"args": [], "hostname": "myhost"}),
    (["--rm", "--hostname=other", "args"], {"args": [], "hostname": "other"}),
    (["--rm", "-e", "A=1", "--env=B=2", "-eC=3", "-e=D=4", "args"],
     {"args": [], "env": {"A": "1", "B": "2", "C": "3", "D": "4"}}),
    (["--rm=true", "--read-only=false", "--name=grammar-eq", "args", "a b", ""], {"args": ["a b", ""]}),
    (["--rm", "-i", "args", "-i"], {"args": ["-i"]}),
    (["--rm", "--net=none", "args"], {"args": []}),
    (["--rm", "--network", "bridge", "args"], {"args": []}),
]

# Options gocrate must refuse before the image, exit 125, nothing made.
REFUSED_CASES = [
    (["--rn", "args"], ["unknown flag: --rn", "--rm"]),
    (["--read-onyl", "args"], ["unknown flag: --read-onyl", "--read-only"]),
    (["--log-drivr", "none", "args"], ["unknown flag: --log-drivr"]),
    (["-Z", "args"], ["unknown shorthand flag: 'Z' in -Z"]),
    (["-dZ", "args"], ["unknown shorthand flag: 'Z' in -dZ"]),
    (["--name"], ["flag needs an argument: --name"]),
    (["--rm"], ["requires at least 1 argument"]),
    ([], ["requires at least 1 argument"]),
    (["--rm", "false", "args"], ["false"]),  # booleans take no separate value: "false" is the image
    (["--gpus", "all", "args"], ["--gpus is not supported"]),
    (["--link", "db:db", "args"], ["--link is not supported", "user-defined networks"]),
    (["--sig-proxy=false", "args"], ["--sig-proxy is not supported"]),
    (["--rm=maybe", "args"], ["invalid argument \"maybe\" for --rm"]),
    (["--pids-limit", "ten", "args"], ["invalid argument \"ten\" for --pids-limit"]),
    (["--no-healthcheck", "--health-cmd", "true", "-d", "args"], ["--no-healthcheck conflicts"]),
]


def program_view(result):
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_arguments_after_the_image_reach_the_program(store, work):
    build_program(store, work, "args", ARGS_SOURCE)
    for argv, want in GRAMMAR_CASES:
        seen = program_view(store("run", *argv))
        what = f"run {' '.join(argv)}"
        check(seen["args"] == want["args"], f"{what}: the program got {seen['args']}, not {want['args']}")
        if "tty" in want:
            check(seen["tty"] == want["tty"], f"{what}: tty {seen['tty']}")
        if "hostname" in want:
            check(seen["hostname"] == want["hostname"], f"{what}: hostname {seen['hostname']}")
        for key, value in want.get("env", {}).items():
            check(seen["env"].get(key) == value, f"{what}: {key}={seen['env'].get(key)!r}, not {value!r}")
        if "no_env" in want:
            check(want["no_env"] not in seen["env"], f"{what}: {want['no_env']} became an environment variable")
    check(store("ps", "-a", "-q").stdout.strip() == "", "a --rm run left a container behind")


def test_unknown_and_refused_options_exit_125_and_make_nothing(store, work):
    build_program(store, work, "args", ARGS_SOURCE)
    for argv, texts in REFUSED_CASES:
        result = store("run", *argv, check_rc=False)
        expect_one_error(result, *texts, code=125, what=f"run {' '.join(argv)}")
    for argv in (["--rn", "args"], ["--bogus"], ["-Z", "x"]):
        expect_one_error(store("create", *argv, check_rc=False), "unknown", code=125, what=f"create {argv}")
    check(store("ps", "-a", "-q").stdout.strip() == "", "a refused run left a container behind")


def test_help_is_gocrates_only_before_the_image(store, work):
    result = store("run", "--help")
    text = result.stdout
    check("Usage:  gocrate run [OPTIONS] IMAGE" in text and "--read-only" in text, f"run --help: {text[:200]}")
    check("-h, --hostname" in text, "run --help does not show -h as --hostname, as Docker's")
    text = store("exec", "--help").stdout
    check("Usage:  gocrate exec [OPTIONS] CONTAINER COMMAND" in text, f"exec --help: {text[:200]}")


def test_bundled_short_flags_under_a_terminal(store, work):
    build_program(store, work, "args", ARGS_SOURCE)
    # -it bundled: a terminal, standard input connected.
    pid, fd = pty.fork()
    if pid == 0:
        os.execv(GOCRATE, [GOCRATE, "--root", store.path, "run", "--rm", "-it", "args", "-x"])
    output = b""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 1)
        if not ready:
            continue
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        output += chunk
    _, status = os.waitpid(pid, 0)
    check(os.waitstatus_to_exitcode(status) == 0, f"run -it exited {status}: {output!r}")
    seen = json.loads(output.decode().strip().splitlines()[-1])
    check(seen["args"] == ["-x"] and seen["tty"], f"run -it args -x: {seen}")
    check(seen["env"].get("TERM") == "xterm", f"run -it: TERM is {seen['env'].get('TERM')!r}, not xterm")


def test_detached_bundles_and_create(store, work):
    build_program(store, work, "args", ARGS_SOURCE)
    # -dit: detached with a terminal and standard input kept open (a shell kept alive, Docker's idiom).
    cid = store("run", "-dit", "--name", "dit", "args", "sleep").stdout.strip()
    try:
        state = json.loads(store("inspect", "dit").stdout)
        state = state[0] if isinstance(state, list) else state
        check(state["State"]["Status"] == "running", f"run -dit: {state['State']}")
        exec_view = program_view(store("exec", "dit", "/app/args", "--help", "-u", "x"))
        check(exec_view["args"] == ["--help", "-u", "x"], f"exec passed {exec_view['args']}")
        expect_one_error(store("exec", "--rn", "dit", "true", check_rc=False), "unknown flag: --rn", code=125,
                         what="exec --rn")
        expect_one_error(store("exec", "dit", check_rc=False), "requires at least 2 arguments", code=125,
                         what="exec without a command")
    finally:
        store("rm", "-f", cid)

    # -dt: the terminal's output is the container's log.
    store("run", "-dt", "--name", "dt", "args", "x")
    run([GOCRATE, "--root", store.path, "wait", "dt"])
    seen = json.loads(store("logs", "dt").stdout.strip().splitlines()[-1])
    check(seen["args"] == ["x"] and seen["tty"] and seen["env"].get("TERM") == "xterm", f"run -dt: {seen}")
    store("rm", "dt")

    # create IMAGE ARGS: made, not started, until start.
    cid = store("create", "--name", "made", "args", "--flag", "-e").stdout.strip()
    ps = store("ps", "-a").stdout
    check("made" in ps and "created" in ps.lower(), f"create: ps -a shows {ps}")
    check("made" not in store("ps").stdout, "a created container is listed as running")
    store("start", "made")
    run([GOCRATE, "--root", store.path, "wait", "made"])
    logs = store("logs", "made").stdout
    check(json.loads(logs.strip().splitlines()[-1])["args"] == ["--flag", "-e"], f"create/start logs: {logs}")
    store("rm", cid)

    # ko's create -f FILE is still resolve + kubectl create.
    result = store("create", "-f", os.path.join(work, "missing.yaml"), check_rc=False)
    check(result.returncode != 0 and "unknown flag" not in result.stderr,
          f"create -f was parsed as Docker's create: {result.stderr!r}")


if __name__ == "__main__":
    main(globals())
