#!/usr/bin/env python3
"""measure: the seed's model as a real measurement against the bare binary,
Docker and Podman; its SVG chart as a person sees it; manifest sized by it."""

import json
import os
import re
import socket

from harness import HELLO_DIR, Skip, check, docker_daemon, main, png_pixels, podman_configured, registry, screenshot

FIGURES = ["R_c", "R_s", "R_sav", "S_c", "S_s", "S_imp"]


def port_free(port):
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def test_measure_against_bare_docker_and_podman_with_a_chart(store, work):
    if os.geteuid() != 0:
        raise Skip("measure runs containers: it needs root")
    store("build", ".", "-t", "hello", "-q", cwd=HELLO_DIR)
    chart = os.path.join(work, "chart.svg")
    with docker_daemon() as docker, podman_configured() as podman_env:
        env = dict(podman_env, **docker.env)
        result = store("measure", "hello", "--runs", "3", "--against", "bare,docker,podman", "--chart", chart,
                       "--json", "--", "once", env=env, timeout=600)
    report = json.loads(result.stdout)
    engines = {e["engine"]: e for e in report["engines"]}
    check(set(engines) == {"gocrate", "bare", "docker", "podman"}, engines.keys())
    for name, engine in engines.items():
        check("skipped" not in engine, f"{name} was skipped: {engine.get('skipped')}")
        check(engine["runs"] == 3 and engine["peakMemoryBytes"] > 0, engine)
        check(0 < engine["startSeconds"]["mean"] < 30, engine)
    rows = {row["baseline"]: row for row in report["model"]}
    check(set(rows) == {"bare", "docker", "podman"}, rows)
    for row in rows.values():
        check(all(f in row for f in FIGURES), row)
        check(abs(row["R_sav"] - (row["R_s"] - row["R_c"])) < 1e-6, row)
        check(abs(row["S_imp"] - (row["S_s"] - row["S_c"])) < 1e-9, row)
    # gocrate starts faster than both engines with a daemon or a monitor.
    check(rows["docker"]["S_imp"] > 0 and rows["podman"]["S_imp"] > 0, rows)

    # The chart, as a person sees it: gocrate's green bars and the others' grey ones.
    png = os.path.join(work, "chart.png")
    screenshot(chart, png)
    pixels = [p for row in png_pixels(png) for p in row]
    green = sum(1 for (r, g, b) in pixels if abs(r - 0x1a) < 12 and abs(g - 0x7f) < 12 and abs(b - 0x37) < 12)
    grey = sum(1 for (r, g, b) in pixels if abs(r - 0x8c) < 10 and abs(g - 0x95) < 10 and abs(b - 0x9f) < 10)
    check(green > 500 and grey > 1500, f"the chart shows {green} green and {grey} grey pixels")


def test_measure_table_and_errors(store, work):
    if os.geteuid() != 0:
        raise Skip("measure runs containers: it needs root")
    store("build", ".", "-t", "hello", "-q", cwd=HELLO_DIR)
    table = store("measure", "hello", "--runs", "2", "--against", "bare", "--", "once").stdout
    for figure in FIGURES:
        check(figure in table, f"{figure} missing from:\n{table}")
    store.expect_error("measure", "hello", "--against", "vmware", "--", "once", contains="unknown engine")
    # An app that does not start: say which, with what, after how long.
    bad = os.path.join(work, "bad")
    os.makedirs(bad)
    open(os.path.join(bad, "go.mod"), "w").write("module example.com/bad\n\ngo 1.19\n")
    open(os.path.join(bad, "main.go"), "w").write('package main\nimport "os"\nfunc main() { println("boom"); os.Exit(3) }\n')
    store("build", ".", "-t", "bad", "-q", cwd=bad)
    store.expect_error("measure", "bad", "--against", "", contains=["bad under gocrate exited with code 3", "boom"])
    store.expect_error("measure", "hello", "--against", "", "--ready", "http://127.0.0.1:9/", "--timeout", "2",
                       contains=["never became ready at http://127.0.0.1:9/ within 2 s"])


def test_measure_until_ready_and_manifest_sized_by_it(store, work):
    if os.geteuid() != 0:
        raise Skip("measure runs containers: it needs root")
    if not port_free(8080):
        raise Skip("examples/hello listens on 8080, which something else on this machine uses")
    store("build", ".", "-t", "hello", "--port", "8080", "-q", cwd=HELLO_DIR)
    report = json.loads(store("measure", "hello", "--ready", "http://127.0.0.1:8080/", "--runs", "3",
                              "--against", "bare", "--json").stdout)
    gocrate = report["engines"][0]
    check(gocrate["engine"] == "gocrate" and gocrate["runs"] == 3, gocrate)
    manifest = store("manifest", "hello", "--probe-path", "/", "--replicas", "3").stdout
    from test_deploy import validate_kubernetes
    validate_kubernetes(manifest, work)
    check("containerPort: 8080" in manifest and "readinessProbe" in manifest, manifest)
    check("memory: " in manifest and "cpu: " in manifest, manifest)
    # Built, pushed and measured in one go for a gocrate:// reference.
    with registry() as reg:
        out = store("manifest", "gocrate://example.com/hello", "--port", "8080", cwd=HELLO_DIR,
                    env={"GOCRATE_DOCKER_REPO": f"{reg.host}/team"}).stdout
        check(f"image: {reg.host}/team/hello@sha256:" in out, out)
        validate_kubernetes(out, work)


SERVER = """package main

import (
	"net/http"
	"os"
)

func main() {
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) })
	if err := http.ListenAndServe("127.0.0.1:"+os.Getenv("PORT"), nil); err != nil {
		panic(err)
	}
}
"""


def test_manifest_keeps_the_images_user_and_says_what_is_missing(store, work):
    if os.geteuid() != 0:
        raise Skip("manifest measures by running containers: it needs root")
    from harness import build_program, free_port
    from test_deploy import validate_kubernetes
    port = free_port()
    # No port known: said at once, with the flag manifest has.
    build_program(store, work, "noport", SERVER, "--env", f"PORT={port}", "-q")
    result = store("manifest", "noport", check_rc=False)
    line = result.stderr.strip().splitlines()[-1]
    check(result.returncode != 0 and "--port" in line and "--ready" not in result.stderr, result.stderr)
    check("noport" in line and "exposes no TCP port" in line, line)

    # The image's own USER, by number or by a name its /etc/passwd gives; root stays root.
    cases = {"1000:1000": (1000, 1000, True), "nobody": (65534, 65534, True), "0": (0, 0, False)}
    for i, (user, (uid, gid, non_root)) in enumerate(cases.items()):
        name = f"web{i}"
        build_program(store, work, name, SERVER, "--env", f"PORT={port}", "--port", str(port), "--user", user, "-q")
        result = store("manifest", f"{name}:latest")
        manifest = result.stdout
        # A name only in the local store: no cluster can pull it, and the fix is named.
        check("GOCRATE_DOCKER_REPO" in result.stderr and "--push" in result.stderr, result.stderr)
        context = re.search(r"\n          securityContext:\n((?:            .*\n)+)", manifest).group(1)
        check((f"runAsUser: {uid}\n" in context) and (gid is None or f"runAsGroup: {gid}\n" in context),
              f"USER {user!r}:\n{manifest}")
        check(("runAsNonRoot: true" in manifest) == non_root, f"USER {user!r}:\n{manifest}")
        validate_kubernetes(manifest, work)


if __name__ == "__main__":
    main(globals())
