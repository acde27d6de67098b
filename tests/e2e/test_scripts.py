#!/usr/bin/env python3
"""What shell scripts around `docker` use, against real detached containers:
inspect -f and ps --format with Go templates (fields, json, range, index,
join, table), ps -q/-a and its filters (name, status, label, ancestor, id,
exited), images -f and --format, .Mounts of a container with a volume,
labels from -l and --label-file, and --env-file lines read as Docker reads
them (comments, KEY alone, a bad `export` line). Templates and filters that a
user gets wrong, or crafts to abuse, get one clear line."""

import json
import os
import re

from harness import build_program, check, detach, expect_one_error, free_port, main, wait_for

PROGRAM = r'''
// tool sleeps until stopped, exits with a code, or prints its environment.
package main

import (
	"fmt"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"syscall"
)

func main() {
	mode := "sleep"
	if len(os.Args) > 1 {
		mode = os.Args[1]
	}
	switch mode {
	case "exit":
		code, _ := strconv.Atoi(os.Args[2])
		os.Exit(code)
	case "env":
		env := os.Environ()
		sort.Strings(env)
		for _, e := range env {
			fmt.Printf("%q\n", e)
		}
	default:
		ch := make(chan os.Signal, 1)
		signal.Notify(ch, syscall.SIGTERM)
		fmt.Println("sleeping")
		<-ch
	}
}
'''

ID = re.compile(r"[0-9a-f]{64}")


def tool(store, work, name="tool", *flags):
    build_program(store, work, name, PROGRAM, *flags)


def lines(result):
    return result.stdout.splitlines()


def wait_exited(store, name):
    wait_for(lambda: store("inspect", "-f", "{{.State.Status}}", name).stdout.strip() == "exited", 30,
             f"{name} to exit")


def test_inspect_format_on_a_running_container(store, work):
    tool(store, work)
    data = os.path.join(work, "data")
    os.mkdir(data)
    host_port = free_port()
    web = detach(store, "--name", "web", "-l", "a=b", "-l", "com.example.tier=front", "-l", "bare",
                 "-v", f"{data}:/data:ro", "-p", f"127.0.0.1:{host_port}:8080", "tool")
    try:
        check(store("inspect", "-f", "{{.State.Status}}", "web").stdout == "running\n", "State.Status")
        check(store("inspect", "--format", "{{.State.Running}} {{.State.ExitCode}} {{.Name}} {{.Id}}", "web").stdout
              == f"true 0 /web {web}\n", "several fields")
        pid = int(store("inspect", "-f", "{{.State.Pid}}", "web").stdout)
        check(pid > 1 and os.path.exists(f"/proc/{pid}"), f"State.Pid {pid} is not a live process")
        labels = json.loads(store("inspect", "-f", "{{json .Config.Labels}}", "web").stdout)
        check(labels == {"a": "b", "com.example.tier": "front", "bare": ""}, f"labels {labels}")
        check(store("inspect", "-f", '{{index .Config.Labels "com.example.tier"}}', "web").stdout == "front\n",
              "index of a dotted label")
        check(store("inspect", "-f", "{{.Config.Labels.a}}|{{.Config.Labels.nope}}", "web").stdout
              == "b|<no value>\n", "a missing key prints <no value>")
        mounts = json.loads(store("inspect", "-f", "{{json .Mounts}}", "web").stdout)
        check(len(mounts) == 1 and mounts[0]["Type"] == "bind" and mounts[0]["Source"] == data
              and mounts[0]["Destination"] == "/data" and mounts[0]["RW"] is False, f"mounts {mounts}")
        check(store("inspect", "-f", "{{range .Mounts}}{{.Source}}:{{.Destination}} {{end}}", "web").stdout
              == f"{data}:/data \n", "range over mounts")
        check(store("inspect", "-f", "{{.Config.Image}} {{len .Config.Env}}", "web").stdout.startswith("tool "),
              "Config.Image")
        port = store("inspect", "-f", '{{(index (index .NetworkSettings.Ports "8080/tcp") 0).HostPort}}',
                     "web").stdout.strip()
        check(port == str(host_port), f"published port {port!r}, not {host_port}")
        check(store("inspect", "-f", '{{if eq .State.Status "running"}}up{{else}}down{{end}}', "web").stdout
              == "up\n", "if eq")
        check(store("inspect", "-f", "{{.HostConfig.ReadonlyRootfs}} {{.HostConfig.RestartPolicy.Name}}",
                    "web").stdout == "false no\n", "HostConfig")
        # Two containers: one line each.
        detach(store, "--name", "db", "tool")
        check(lines(store("inspect", "-f", "{{.Name}}", "web", "db")) == ["/web", "/db"], "one line per object")
        # Without -f the JSON is unchanged, and now has Mounts.
        full = json.loads(store("inspect", "web").stdout)[0]
        for key in ("Id", "State", "Config", "HostConfig", "NetworkSettings", "Mounts", "Name"):
            check(key in full, f"inspect lost {key}")
        # Bad templates: one line, Docker's words, exit 1.
        expect_one_error(store("inspect", "-f", "{{.State.Status}", "web", check_rc=False),
                         'template parsing error: template: :1: unexpected "}" in operand', code=1)
        expect_one_error(store("inspect", "-f", "{{nosuch .X}}", "web", check_rc=False),
                         'function "nosuch" not defined', code=1)
        expect_one_error(store("inspect", "-f", "{{.Name.Foo}}", "web", check_rc=False),
                         "can't evaluate field Foo in type string", code=1)
        # A template cannot reach the host: no file, exec or env functions.
        expect_one_error(store("inspect", "-f", '{{readFile "/etc/shadow"}}', "web", check_rc=False),
                         'function "readFile" not defined')
        expect_one_error(store("inspect", "-f", '{{call .Name}}', "web", check_rc=False), "error calling call")
    finally:
        store("rm", "-f", "web", "db", check_rc=False)


def test_ps_format_quiet_and_filters(store, work):
    tool(store, work)
    tool(store, work, "other")
    web = detach(store, "--name", "web", "-l", "a=b", "tool")
    web2 = detach(store, "--name", "web2", "-l", "a=c", "other")
    done = detach(store, "--name", "done", "-l", "a=b", "tool", "exit", "3")
    ok = detach(store, "--name", "ok", "tool", "exit", "0")
    wait_exited(store, "done")
    wait_exited(store, "ok")
    try:
        check(sorted(lines(store("ps", "-q", "-f", "name=web"))) == sorted([web2[:12], web[:12]]), "ps -q -f name=web")
        check(lines(store("ps", "-q", "-f", "name=^/web$")) == [web[:12]], "an anchored name")
        check(sorted(lines(store("ps", "--format", "{{.Names}}"))) == ["web", "web2"], "ps --format Names")
        check(sorted(lines(store("ps", "-a", "--format", "{{.Names}}"))) == ["done", "ok", "web", "web2"], "ps -a")
        check(sorted(lines(store("ps", "--format", "{{.Names}}", "-f", "status=exited"))) == ["done", "ok"],
              "status=exited lists stopped containers without -a")
        check(lines(store("ps", "-a", "--format", "{{.Names}}", "-f", "exited=3")) == ["done"], "exited=3")
        check(sorted(lines(store("ps", "-a", "--format", "{{.Names}}", "-f", "label=a=b"))) == ["done", "web"],
              "label=a=b")
        check(sorted(lines(store("ps", "-a", "--format", "{{.Names}}", "-f", "label=a"))) == ["done", "web", "web2"],
              "label=a")
        check(sorted(lines(store("ps", "--format", "{{.Names}}", "-f", "ancestor=other"))) == ["web2"],
              "ancestor=other")
        check(sorted(lines(store("ps", "--format", "{{.Names}}", "-f", "ancestor=tool:latest"))) == ["web"],
              "ancestor=tool:latest")
        digest = store("images", "-q", "-f", "reference=other").stdout.strip()
        check(lines(store("ps", "--format", "{{.Names}}", "-f", f"ancestor={digest}")) == ["web2"],
              "ancestor by digest")
        check(lines(store("ps", "--format", "{{.Names}}", "-f", f"id={web[:10]}")) == ["web"], "id=")
        check(lines(store("ps", "-a", "--format", "{{.Names}}", "-f", "name=web", "-f", "label=a=b")) == ["web"],
              "different keys: all must match")
        check(sorted(lines(store("ps", "-a", "--format", "{{.Names}}", "-f", "name=done", "-f", "name=ok")))
              == ["done", "ok"], "one key: any value")
        row = store("ps", "-f", "name=^/web$", "--format",
                    '{{.ID}}|{{.Image}}|{{.Command}}|{{.State}}|{{.Status}}|{{.Labels}}|{{.Label "a"}}|{{.Label "z"}}'
                    ).stdout.rstrip("\n")
        fields = row.split("|")
        check(fields[0] == web[:12] and fields[1] == "tool" and fields[3] == "running", row)
        check(fields[2].startswith('"') and fields[2].endswith('"'), f"Command is quoted: {row}")
        check(fields[4].startswith("Up "), f"Status as Docker's: {row}")
        check(fields[5] == "a=b" and fields[6] == "b" and fields[7] == "", row)
        exited = store("ps", "-a", "-f", "name=done", "--format", "{{.Status}}").stdout
        check(re.fullmatch(r"Exited \(3\) .* ago\n", exited), f"exited status {exited!r}")
        doc = json.loads(store("ps", "-f", "name=^/web$", "--format", "{{json .}}").stdout)
        check(doc["Names"] == "web" and doc["Labels"] == "a=b" and doc["ID"] == web[:12], f"json . {doc}")
        table = store("ps", "-a", "-f", "name=^/web$", "--format", r"table {{.ID}}\t{{.Names}}\t{{.Status}}").stdout
        head, line = table.splitlines()
        check(head.startswith("CONTAINER ID   NAMES") and re.match(r"CONTAINER ID   NAMES\s+STATUS$", head), head)
        check(line.startswith(f"{web[:12]}   web ") and line.index("Up") == head.index("STATUS"), table)
        check(lines(store("ps", "--no-trunc", "-q", "-f", "name=^/web$")) == [web], "--no-trunc")
        check(len(lines(store("ps", "-n", "1", "--format", "{{.Names}}"))) == 1, "-n 1: the last created")
        # ps --format json and the default table keep their shape.
        check(json.loads(lines(store("ps", "--format", "json", "-f", "name=^/web$"))[0])["Names"] == "web",
              "--format json")
        check(store("ps").stdout.startswith("CONTAINER ID"), "default table")
        # Refusals.
        expect_one_error(store("ps", "-f", "x=1", check_rc=False), "invalid filter 'x'")
        expect_one_error(store("ps", "-f", "status=up", check_rc=False), "invalid filter 'status=up'")
        expect_one_error(store("ps", "-f", "name", check_rc=False), "expected name=value")
        expect_one_error(store("ps", "-f", "name=(", check_rc=False), "not a valid regular expression")
        expect_one_error(store("ps", "--format", "{{.Nope}}", check_rc=False),
                         "can't evaluate field Nope in type *formatter.ContainerContext")
        expect_one_error(store("ps", "--format", "{{.Names", check_rc=False), "template parsing error")
    finally:
        store("rm", "-f", "web", "web2", "done", "ok", check_rc=False)


def test_images_filters_and_format(store, work):
    tool(store, work)
    tool(store, work, "other", "--label", "team=blue")
    store("tag", "tool", "tool:v2")
    names = lambda *flags: sorted(lines(store("images", "--format", "{{.Repository}}:{{.Tag}}", *flags)))
    check(names() == ["other:latest", "tool:latest", "tool:v2"], f"images --format: {names()}")
    check(names("-f", "reference=tool") == ["tool:latest", "tool:v2"], "reference=tool")
    check(names("-f", "reference=tool:v*") == ["tool:v2"], "reference=tool:v*")
    check(names("-f", "reference=*:latest") == ["other:latest", "tool:latest"], "reference=*:latest")
    check(names("-f", "label=team=blue") == ["other:latest"], "label=team=blue")
    check(names("-f", "dangling=true") == [], "dangling=true")
    check(names("-f", "dangling=false") == names(), "dangling=false")
    check(len(lines(store("images", "-q", "-f", "reference=other"))) == 1, "images -q -f")
    table = store("images", "-f", "reference=other", "--format", r"table {{.Repository}}\t{{.Tag}}\t{{.Size}}")
    head, row = table.stdout.splitlines()
    check(re.fullmatch(r"REPOSITORY   TAG\s+SIZE", head), head)
    check(row.startswith("other        latest ") and re.search(r"\d(B|kB|MB)$", row), row)
    check(store("inspect", "-f", "{{.Config.Labels.team}} {{.Os}}", "other").stdout == "blue linux\n",
          "image inspect -f")
    expect_one_error(store("images", "-f", "reference", check_rc=False), "expected name=value")
    expect_one_error(store("images", "-f", "color=red", check_rc=False), "invalid filter 'color'")
    expect_one_error(store("images", "-f", "before=nope", check_rc=False), "no such image")


def test_env_file_and_label_file_as_docker_reads_them(store, work):
    tool(store, work)
    env_file = os.path.join(work, "vars.env")
    with open(env_file, "w") as f:
        f.write("# a comment\n\nA=1\n  B=two words  \nC=\"quoted\"\nFROM_HOST\nNOT_SET\n\t# indented comment\n"
                "EMPTY=\n")
    out = store("run", "--rm", "--env-file", env_file, "tool", "env", env={"FROM_HOST": "host value"}).stdout
    env = [json.loads(line) for line in out.splitlines()]
    for wanted in ("A=1", "B=two words  ", 'C="quoted"', "FROM_HOST=host value", "EMPTY="):
        check(wanted in env, f"{wanted!r} missing from {env}")
    check(not any(e.startswith("NOT_SET") for e in env), "an unset KEY line made a variable")
    check(not any(e.startswith("#") or e.startswith("export") for e in env), f"comments leaked: {env}")

    bad = os.path.join(work, "bad.env")
    with open(bad, "w") as f:
        f.write("A=1\n# fine\nexport C=3\n")
    expect_one_error(store("run", "--rm", "--env-file", bad, "tool", "env", check_rc=False),
                     bad, "line 3", "export C", "KEY=VALUE")
    expect_one_error(store("run", "--rm", "--env-file", "/dev/zero", "tool", "env", check_rc=False),
                     "not a regular file")

    labels = os.path.join(work, "labels")
    with open(labels, "w") as f:
        f.write("# labels\nfrom.file=yes\nshared=file\n")
    detach(store, "--name", "lab", "--label-file", labels, "--label", "shared=flag", "tool")
    try:
        got = json.loads(store("inspect", "-f", "{{json .Config.Labels}}", "lab").stdout)
        check(got == {"from.file": "yes", "shared": "flag"}, f"labels {got}")
        check(lines(store("ps", "-f", "label=from.file=yes", "--format", "{{.Names}}")) == ["lab"], "ps label")
        store("stop", "lab")
        store("start", "lab")
        got = json.loads(store("inspect", "-f", "{{json .Config.Labels}}", "lab").stdout)
        check(got == {"from.file": "yes", "shared": "flag"}, f"labels after start {got}")
    finally:
        store("rm", "-f", "lab", check_rc=False)
    # Foreground containers keep their labels in the state.
    store("run", "--name", "fg", "-l", "k=v", "tool", "exit", "0")
    check(store("inspect", "-f", "{{.Config.Labels.k}}", "fg").stdout == "v\n", "foreground labels")
    expect_one_error(store("run", "--rm", "-l", "=v", "tool", "exit", "0", check_rc=False), "empty name")


if __name__ == "__main__":
    main(globals())
