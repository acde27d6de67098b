#!/usr/bin/env python3
"""--security-opt seccomp=PROFILE.json with profiles in Docker's format, in real
containers: an allow-by-default profile that denies mkdir, a deny-by-default
profile that lists a program's system calls, argument conditions (EQ,
MASKED_EQ), kill actions; the profile holds for exec and across stop/start of a
detached container; --privileged with a profile, seccomp=unconfined after one.
Malformed profiles, and a FIFO, /dev/zero or a directory given as the profile,
are refused with exit 125 and one line, without hanging and leaving nothing."""

import json
import os
import subprocess

from harness import SOURCE_DIR, Failure, check, expect_one_error, main, shared_image, wait_for

PROBE_SOURCE = r'''
// probe reports what the seccomp filter lets it do: one line per command.
package main

import (
	"fmt"
	"os"
	"strconv"
	"syscall"
	"time"
)

func report(what string, errno syscall.Errno) {
	if errno == 0 {
		fmt.Printf("%s: ok\n", what)
	} else {
		fmt.Printf("%s: errno %d (%v)\n", what, int(errno), errno)
	}
}

func number(text string) uintptr {
	value, err := strconv.ParseUint(text, 0, 64)
	if err != nil {
		fmt.Println("bad number", text)
		os.Exit(2)
	}
	return uintptr(value)
}

func main() {
	if len(os.Args) < 2 {
		fmt.Println("usage: probe hello | mkdir PATH | personality VALUE | umask VALUE | getppid | sleep")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "hello":
		fmt.Println("hello from the probe")
	case "mkdir":
		if err := os.Mkdir(os.Args[2], 0o755); err != nil {
			fmt.Printf("mkdir: %v\n", err)
		} else {
			fmt.Println("mkdir: ok")
		}
	case "personality":
		_, _, errno := syscall.RawSyscall(syscall.SYS_PERSONALITY, number(os.Args[2]), 0, 0)
		report("personality", errno)
	case "umask":
		_, _, errno := syscall.RawSyscall(syscall.SYS_UMASK, number(os.Args[2]), 0, 0)
		report("umask", errno)
	case "getppid":
		_, _, errno := syscall.RawSyscall(syscall.SYS_GETPPID, 0, 0, 0)
		report("getppid", errno)
	case "sleep":
		fmt.Println("sleeping")
		for {
			time.Sleep(time.Hour)
		}
	default:
		fmt.Println("unknown command", os.Args[1])
		os.Exit(2)
	}
}
'''

# What the probe's Go runtime calls (strace of `probe hello` and `probe mkdir`), what the Go runtime may call on
# other paths (signals, the poller), and what gocrate does between installing the filter and executing the
# program (close_range, fcntl, execve).
PROBE_SYSCALLS = [
    "arch_prctl", "brk", "clone", "close", "close_range", "epoll_create1", "epoll_ctl", "epoll_pwait", "eventfd2",
    "execve", "exit", "exit_group", "fcntl", "fstat", "futex", "getpid", "getrlimit", "gettid", "madvise", "mmap",
    "munmap", "nanosleep", "newfstatat", "openat", "pipe2", "read", "rt_sigaction", "rt_sigprocmask", "rt_sigreturn",
    "sched_getaffinity", "sched_yield", "sigaltstack", "tgkill", "write"]

def probe_image(store, work):
    """The probe as image "probe" in this test's store (built by the first test, loaded by the rest)."""
    shared_image(store, work, "probe", PROBE_SOURCE)


def write_profile(work, name, profile):
    path = os.path.join(work, name)
    with open(path, "w") as f:
        f.write(profile if isinstance(profile, str) else json.dumps(profile, indent=2))
    return path


def probe(store, *args, options=(), code=0):
    """The probe's output in a --rm container run with `options`; its exit code must be `code`."""
    result = store("run", "--rm", *options, "probe", *args, check_rc=False, timeout=60)
    check(result.returncode == code,
          f"run {' '.join(options)} probe {' '.join(args)} exited {result.returncode}, want {code}: "
          f"{result.stdout!r} {result.stderr!r}")
    return result.stdout.strip()


# A persona Docker's default profile (and gocrate's) refuses; setting it is harmless.
READ_IMPLIES_EXEC = "0x400000"

DENY_MKDIR = {
    "defaultAction": "SCMP_ACT_ALLOW",
    "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1,
                  "comment": "no new directories"}],
}


def seccomp(path):
    return ("--security-opt", f"seccomp={path}")


def test_allow_by_default_profile_denies_mkdir(store, work):
    probe_image(store, work)
    check(probe(store, "mkdir", "/tmp/d") == "mkdir: ok", "without a profile mkdir works")
    path = write_profile(work, "deny-mkdir.json", DENY_MKDIR)
    out = probe(store, "mkdir", "/tmp/d", options=seccomp(path))
    check("operation not permitted" in out.lower(), f"mkdir under the profile: {out!r}")
    # Everything else is allowed: the default's refusals no longer apply (the profile replaces it).
    check(probe(store, "personality", READ_IMPLIES_EXEC) == "personality: errno 1 (operation not permitted)",
          "gocrate's default denies this persona")
    check(probe(store, "personality", READ_IMPLIES_EXEC, options=seccomp(path)) == "personality: ok",
          "the profile allows it")
    check(probe(store, "hello", options=seccomp(path)) == "hello from the probe", "hello")
    # Docker's older KEY:VALUE form.
    out = probe(store, "mkdir", "/tmp/d", options=("--security-opt", f"seccomp:{path}"))
    check("operation not permitted" in out.lower(), f"seccomp:{path}: {out!r}")


def test_dockers_own_default_profile(store, work):
    """moby's profiles/seccomp/default.json as Docker ships it (tests/e2e/data, Apache-2.0, The Moby Authors)."""
    probe_image(store, work)
    path = os.path.join(SOURCE_DIR, "tests", "e2e", "data", "moby-seccomp-default.json")
    for options in (seccomp(path), (*seccomp(path), "--init")):
        check(probe(store, "hello", options=options) == "hello from the probe", f"hello with {options}")
    check(probe(store, "mkdir", "/tmp/d", options=seccomp(path)) == "mkdir: ok", "mkdir under Docker's default")
    out = probe(store, "personality", READ_IMPLIES_EXEC, options=seccomp(path))
    check(out == "personality: errno 1 (operation not permitted)", f"persona outside Docker's list: {out!r}")


def test_deny_by_default_profile_allows_the_programs_calls(store, work):
    probe_image(store, work)
    path = write_profile(work, "allow-list.json", {
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": 1,
        "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": None},
                    {"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": None}],
        "syscalls": [{"names": PROBE_SYSCALLS, "action": "SCMP_ACT_ALLOW"},
                     {"names": ["getppid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38,
                      "includes": {"caps": ["CAP_SYS_ADMIN"]}},
                     {"names": ["umask"], "action": "SCMP_ACT_ALLOW", "excludes": {"caps": ["CAP_CHOWN"]}}],
    })
    check(probe(store, "hello", options=seccomp(path)) == "hello from the probe", "hello runs on its calls")
    out = probe(store, "mkdir", "/tmp/d", options=seccomp(path))
    check("operation not permitted" in out.lower(), f"mkdir is not listed: {out!r}")
    check(probe(store, "getppid", options=seccomp(path)) == "getppid: errno 1 (operation not permitted)",
          "getppid's section is only for CAP_SYS_ADMIN")
    out = probe(store, "getppid", options=(*seccomp(path), "--cap-add", "SYS_ADMIN"))
    check(out == "getppid: errno 38 (function not implemented)", f"with CAP_SYS_ADMIN: {out!r}")
    check(probe(store, "umask", "0", options=seccomp(path)).startswith("umask: errno 1"),
          "umask is excluded for a container with CAP_CHOWN")
    check(probe(store, "umask", "0", options=(*seccomp(path), "--cap-drop", "CHOWN")) == "umask: ok",
          "umask is allowed without CAP_CHOWN")


def test_argument_conditions(store, work):
    probe_image(store, work)
    path = write_profile(work, "args.json", {
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [
            {"names": ["personality"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13,
             "args": [{"index": 0, "value": 8, "valueTwo": 0, "op": "SCMP_CMP_EQ"}]},
            # (mask & 0o700) == 0o700: no umask that takes the owner's own rights away.
            {"names": ["umask"], "action": "SCMP_ACT_ERRNO", "errnoRet": 22,
             "args": [{"index": 0, "value": 0o700, "valueTwo": 0o700, "op": "SCMP_CMP_MASKED_EQ"}]},
        ],
    })
    check(probe(store, "personality", "8", options=seccomp(path)) == "personality: errno 13 (permission denied)",
          "personality 8 is denied")
    check(probe(store, "personality", "0xffffffff", options=seccomp(path)) == "personality: ok",
          "personality query is allowed")
    check(probe(store, "umask", "0o777", options=seccomp(path)) == "umask: errno 22 (invalid argument)",
          "umask 0777 is denied")
    check(probe(store, "umask", "0o077", options=seccomp(path)) == "umask: ok", "umask 0077 is allowed")


def test_kill_actions_end_the_program(store, work):
    probe_image(store, work)
    path = write_profile(work, "kill.json", {
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["getppid"], "action": "SCMP_ACT_KILL_PROCESS"}]})
    probe(store, "getppid", options=seccomp(path), code=128 + 31)  # SIGSYS
    check(probe(store, "hello", options=seccomp(path)) == "hello from the probe", "hello under kill.json")


def container_status(store, name):
    return json.loads(store("inspect", name).stdout)[0]["State"]["Status"]


def test_the_profile_holds_for_exec_and_across_restarts(store, work):
    probe_image(store, work)
    path = write_profile(work, "deny-mkdir.json", DENY_MKDIR)
    store("run", "-d", "--name", "keeper", *seccomp(path), "probe", "sleep")
    try:
        wait_for(lambda: container_status(store, "keeper") == "running", 20, "keeper to run")
        os.unlink(path)  # read once, at run: the container keeps the profile itself
        out = store("exec", "keeper", "/app/probe", "mkdir", "/tmp/e").stdout
        check("operation not permitted" in out.lower(), f"exec under the profile: {out!r}")
        store("stop", "-t", "1", "keeper")
        store("start", "keeper")
        wait_for(lambda: container_status(store, "keeper") == "running", 20, "keeper to run again")
        out = store("exec", "keeper", "/app/probe", "mkdir", "/tmp/e").stdout
        check("operation not permitted" in out.lower(), f"exec after start: {out!r}")
        out = store("exec", "keeper", "/app/probe", "personality", READ_IMPLIES_EXEC).stdout
        check(out.strip() == "personality: ok", f"the default's refusals do not come back on start: {out!r}")
    finally:
        store("rm", "-f", "keeper", check_rc=False)
    # create, then start: the profile is read at create.
    path = write_profile(work, "deny-mkdir.json", DENY_MKDIR)
    store("create", "--name", "later", *seccomp(path), "probe", "sleep")
    try:
        os.unlink(path)
        store("start", "later")
        wait_for(lambda: container_status(store, "later") == "running", 20, "later to run")
        out = store("exec", "later", "/app/probe", "mkdir", "/tmp/e").stdout
        check("operation not permitted" in out.lower(), f"exec in a created container: {out!r}")
    finally:
        store("rm", "-f", "later", check_rc=False)


def test_privileged_and_unconfined(store, work):
    probe_image(store, work)
    path = write_profile(work, "deny-mkdir.json", DENY_MKDIR)
    # --privileged alone: no filter; with a profile, the profile (Docker >= 27).
    check(probe(store, "personality", READ_IMPLIES_EXEC, options=("--privileged",)) == "personality: ok",
          "privileged")
    out = probe(store, "mkdir", "/tmp/d", options=("--privileged", *seccomp(path)))
    check("operation not permitted" in out.lower(), f"--privileged with a profile: {out!r}")
    # The last seccomp= option wins.
    check(probe(store, "mkdir", "/tmp/d", options=(*seccomp(path), *seccomp("unconfined"))) == "mkdir: ok",
          "unconfined after a profile")
    out = probe(store, "personality", READ_IMPLIES_EXEC, options=(*seccomp("unconfined"), *seccomp("builtin")))
    check(out == "personality: errno 1 (operation not permitted)", f"builtin is gocrate's default: {out!r}")


def test_bad_profiles_are_refused_at_once(store, work):
    probe_image(store, work)
    big = '{"defaultAction": "SCMP_ACT_ALLOW", "comment": "' + "x" * (2 << 20) + '"}'
    cases = [
        ("truncated.json", '{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [', ["not valid JSON", "line 1"]),
        ("empty.json", "{}", ["defaultAction", "seccomp=unconfined"]),
        ("action.json", {"defaultAction": "SCMP_ACT_ALLOW",
                         "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_DENY"}]},
         ["syscalls[0].action", "SCMP_ACT_DENY"]),
        ("op.json", {"defaultAction": "SCMP_ACT_ALLOW",
                     "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO",
                                   "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_SORTA"}]}]},
         ["syscalls[0].args[0].op", "SCMP_CMP_SORTA"]),
        ("index.json", {"defaultAction": "SCMP_ACT_ALLOW",
                        "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO",
                                      "args": [{"index": 9, "value": 1, "op": "SCMP_CMP_EQ"}]}]},
         ["syscalls[0].args[0].index"]),
        ("names.json", {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": "mkdir", "action": "SCMP_ACT_LOG"}]},
         ["syscalls[0].names", "list"]),
        ("errno.json", {"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 100000}, ["defaultErrnoRet"]),
        ("notify.json", {"defaultAction": "SCMP_ACT_NOTIFY"}, ["SCMP_ACT_NOTIFY"]),
        ("big.json", big, ["larger than"]),
    ]
    fifo = os.path.join(work, "fifo.json")
    os.mkfifo(fifo)
    os.mkdir(os.path.join(work, "dir.json"))
    targets = [(write_profile(work, name, profile), texts) for name, profile, texts in cases]
    targets += [(fifo, ["a FIFO"]), ("/dev/zero", ["a character device"]),
                (os.path.join(work, "dir.json"), ["a directory"]),
                (os.path.join(work, "missing.json"), ["No such file"])]
    problems = []
    for path, texts in targets:
        for mode in (["run", "--rm"], ["run", "-d"], ["create"]):
            try:
                result = store(*mode, *seccomp(path), "probe", "hello", check_rc=False, timeout=30)
            except subprocess.TimeoutExpired:
                problems.append(f"{' '.join(mode)} with {path} hung")
                continue
            try:
                expect_one_error(result, path, *texts, code=125, what=f"{' '.join(mode)} with {path}")
            except Failure as e:
                problems.append(str(e))
    left = store("ps", "-a", "-q").stdout.split()
    if left:
        problems.append(f"containers left behind: {left}")
    check(not problems, "\n".join(problems))


if __name__ == "__main__":
    if os.geteuid() != 0:
        print("SKIP: running containers needs root")
        raise SystemExit(77)
    main(globals())
