#!/usr/bin/env python3
"""gocrate run networking end to end: ports published with -p (TCP and UDP)
answer on the host; a port in use and malformed -p are one clear error; a
private-network container reaches a server on the host through slirp4netns
(10.0.2.2 is the host's loopback) and resolves through 10.0.2.3; --network
none has no way out; and no forwarder, slirp4netns, network namespace or
state is left behind, even after a killed gocrate.

Traffic stays on this machine: the servers listen on 127.0.0.1, and the
containers only reach 10.0.2.2, which slirp4netns maps to the host's
loopback."""

import contextlib
import http.server
import os
import signal
import socket
import subprocess
import threading
import time
import urllib.request

from harness import (GOCRATE, HELLO_DIR, Failure, Skip, build_program, check, free_port, main, require, run,
                     wait_for)

NET_SOURCE = r'''
// net does what the networking tests need from inside a container.
package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

func get(url string) {
	resp, err := http.Get(url)
	if err != nil {
		fmt.Println("error:", err)
		return
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Printf("%d %s\n", resp.StatusCode, body)
}

func main() {
	switch os.Args[1] {
	case "get":
		get(os.Args[2])
	case "get-and-wait":
		get(os.Args[2])
		ch := make(chan os.Signal, 1)
		signal.Notify(ch, syscall.SIGTERM)
		<-ch
	case "cat":
		data, err := os.ReadFile(os.Args[2])
		if err != nil {
			fmt.Println("error:", err)
		}
		fmt.Print(string(data))
	case "interfaces":
		list, _ := net.Interfaces()
		var names []string
		for _, i := range list {
			names = append(names, i.Name)
		}
		fmt.Println(strings.Join(names, " "))
	case "udp-echo":
		conn, err := net.ListenPacket("udp", ":"+os.Args[2])
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		buffer := make([]byte, 65536)
		for {
			n, from, err := conn.ReadFrom(buffer)
			if err != nil {
				return
			}
			conn.WriteTo(append([]byte("echo "), buffer[:n]...), from)
		}
	}
}
'''


def build_hello(store):
    store("build", ".", "-t", "hello", cwd=HELLO_DIR)


def http_get(port, timeout=2):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=timeout) as response:
        return response.status, response.read().decode()


def answers(port):
    try:
        return http_get(port, timeout=0.5) == (200, "Hello, World!")
    except OSError:
        return False


def port_is_free(port, kind=socket.SOCK_STREAM):
    with socket.socket(socket.AF_INET6, kind) as s:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        # As every server does: connections in TIME_WAIT do not hold the port.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("::", port))
            return True
        except OSError:
            return False


def slirp_processes():
    return set(run(["pgrep", "-x", "slirp4netns"], check_rc=False).stdout.split())


def network_namespaces():
    return run(["lsns", "-n", "-t", "net"], check_rc=False).stdout.count("\n")


def container_dirs(store):
    base = os.path.join(store.path, "containers")
    return [d for d in os.listdir(base) if d != "by-name"] if os.path.isdir(base) else []


def state_of(store, name):
    import json
    link = os.path.join(store.path, "containers", "by-name", name)
    return json.load(open(os.path.join(store.path, "containers", os.readlink(link), "state.json")))


@contextlib.contextmanager
def gocrate_run(store, *args):
    """A foreground `gocrate run` in the background; SIGTERM and wait at the end."""
    p = subprocess.Popen([GOCRATE, "--root", store.path, "run", *args], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    try:
        yield p
    finally:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
        try:
            p.wait(30)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


@contextlib.contextmanager
def host_server(body="from the host"):
    """An HTTP server on 127.0.0.1 that answers `body` and counts requests."""
    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            data = body.encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def nothing_left(store, slirp_before, netns_before, ports=()):
    wait_for(lambda: slirp_processes() <= slirp_before, 10, "slirp4netns to exit")
    wait_for(lambda: network_namespaces() <= netns_before, 10, "the container's network namespace to go")
    for port in ports:
        check(port_is_free(port), f"host port {port} is still bound")
    check(container_dirs(store) == [], f"state left: {container_dirs(store)}")


def test_published_port_answers_on_the_host(store, work):
    build_hello(store)
    port = free_port()
    netns_before = network_namespaces()
    with gocrate_run(store, "--rm", "--name", "web", "-p", f"{port}:8080", "hello") as p:
        wait_for(lambda: answers(port) or p.poll() is not None, 20, f"hello on host port {port}")
        if p.poll() is not None:
            raise Failure(f"gocrate exited {p.returncode}: {p.stderr.read()}")
        check(http_get(port) == (200, "Hello, World!"), "hello through the forwarder")
        # Many requests on one keep-alive connection, then many connections.
        for _ in range(20):
            check(http_get(port)[1] == "Hello, World!", "repeated request")
        ports = state_of(store, "web")["ports"]
        check(ports == [{"host_ip": "", "host_port": port, "container_port": 8080, "protocol": "tcp"}], ports)
        # The same host port again: one clear error, and nothing of the second container is left.
        store.expect_error("run", "--rm", "-p", f"{port}:8080", "hello", code=125, contains=f"port {port} is in use")
        check(container_dirs(store) == [state_of(store, "web")["id"]], container_dirs(store))
        check(answers(port), "the first container stopped answering")
    # Go's runtime, as pid 1, cannot die of the SIGTERM it re-raises and exits 2, as under Docker.
    check(p.returncode == 2, f"exit {p.returncode}")
    nothing_left(store, slirp_processes(), netns_before, [port])


def test_published_udp_port_and_a_kernel_chosen_host_port(store, work):
    build_program(store, work, "net", NET_SOURCE)
    port = free_port()
    with gocrate_run(store, "--rm", "--name", "udp", "-p", f"127.0.0.1:{port}:5353/udp", "-p", "127.0.0.1::5354",
                     "net", "udp-echo", "5353") as p:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(0.2)
            answer = None
            deadline = time.monotonic() + 20
            while answer is None and time.monotonic() < deadline and p.poll() is None:
                s.sendto(b"ping", ("127.0.0.1", port))
                try:
                    answer = s.recv(100)
                except socket.timeout:
                    pass
            check(answer == b"echo ping", f"UDP answer {answer!r}; gocrate: {p.poll()}")
        ports = state_of(store, "udp")["ports"]
        check(ports[0]["protocol"] == "udp" and ports[0]["host_port"] == port, ports)
        check(ports[1]["host_port"] not in (0, port) and ports[1]["container_port"] == 5354, ports)


def test_private_network_reaches_the_host_and_resolves_through_slirp(store, work):
    require("slirp4netns", "slirp4netns")
    build_program(store, work, "net", NET_SOURCE)
    slirp_before, netns_before = slirp_processes(), network_namespaces()
    with host_server("from the host") as port:
        out = store("run", "--rm", "net", "get", f"http://10.0.2.2:{port}/").stdout
        check(out == "200 from the host\n", out)
        # The image's layers are left alone: /etc/resolv.conf is a generated file bound over it.
        for flags in [[], ["--read-only"]]:
            out = store("run", "--rm", *flags, "net", "cat", "/etc/resolv.conf").stdout
            check(out == "nameserver 10.0.2.3\n", f"{flags}: {out!r}")
        out = store("run", "--rm", "net", "interfaces").stdout.split()
        check(out == ["lo", "tap0"], out)
        # Two containers at the same time, each with its own slirp4netns.
        with gocrate_run(store, "--rm", "net", "get-and-wait", f"http://10.0.2.2:{port}/") as p:
            check(p.stdout.readline() == "200 from the host\n", "the waiting container did not reach the host")
            check(len(slirp_processes() - slirp_before) == 1, "the waiting container has no slirp4netns")
            out = store("run", "--rm", "net", "get", f"http://10.0.2.2:{port}/").stdout
            check(out == "200 from the host\n", out)
    nothing_left(store, slirp_before, netns_before)
    # A kept container (state on disk) reaches out too.
    with host_server("again") as port:
        out = store("run", "--name", "kept", "net", "get", f"http://10.0.2.2:{port}/").stdout
        check(out == "200 again\n", out)
    check(state_of(store, "kept")["status"] == "exited", state_of(store, "kept"))
    wait_for(lambda: slirp_processes() <= slirp_before, 10, "slirp4netns to exit")


def test_none_has_no_way_out_and_host_shares_the_hosts(store, work):
    build_program(store, work, "net", NET_SOURCE)
    slirp_before = slirp_processes()
    with host_server("host") as port:
        out = store("run", "--rm", "--network", "none", "net", "get", f"http://10.0.2.2:{port}/").stdout
        check("network is unreachable" in out, out)
        check(store("run", "--rm", "--network", "none", "net", "interfaces").stdout.split() == ["lo"], "none")
        out = store("run", "--rm", "--network", "none", "net", "cat", "/etc/resolv.conf").stdout
        check(out == "", f"--network none has a resolver: {out!r}")
        out = store("run", "--rm", "--network", "host", "net", "get", f"http://127.0.0.1:{port}/").stdout
        check(out == "200 host\n", out)
    check(slirp_processes() <= slirp_before, "slirp4netns started without a private network")


def test_bad_input_is_one_clear_error_and_leaves_nothing(store, work):
    build_hello(store)
    netns_before = network_namespaces()
    syntax = "[HOST_IP:]HOST_PORT:CONTAINER_PORT[/tcp|udp]"
    for bad in ["8080:", "x:80", "80:70000", "8080:80/sctp", "1.2.3:80:80", "8000-8002:80"]:
        store.expect_error("run", "--rm", "-p", bad, "hello", code=125, contains=[f'-p "{bad}"', syntax])
    store.expect_error("run", "--rm", "-p", "8080:80", "-p", "8080:81", "hello", code=125, contains="already published")
    store.expect_error("run", "--rm", "--network", "host", "-p", "8080:80", "hello",
                       code=125, contains=["-p 8080:80", "--network host"])
    store.expect_error("run", "--rm", "--network", "none", "-p", "8080:80", "hello",
                       code=125, contains=["-p 8080:80", "--network none"])
    # Without CAP_NET_BIND_SERVICE, as a user without privileges would be.
    require("setpriv", "util-linux")
    port = free_port()
    result = run(["setpriv", "--bounding-set=-net_bind_service", "--inh-caps=-net_bind_service", GOCRATE, "--root",
                  store.path, "run", "--rm", "-p", "81:8080", "-p", f"{port}:8080", "hello"], check_rc=False)
    lines = [line for line in result.stderr.splitlines() if line.startswith("gocrate")]
    check(result.returncode == 125 and len(lines) == 1 and "cannot publish port 81: ports below" in lines[0],
          f"{result.returncode}: {result.stderr}")
    # slirp4netns missing: the Debian package is named.
    store.expect_error("run", "--rm", "hello", "once", code=125, contains=["slirp4netns", "Debian package slirp4netns"],
                       env={"PATH": "/nonexistent"})
    check(store("run", "--rm", "--network", "none", "hello", "once", env={"PATH": "/nonexistent"}).stdout ==
          "Hello, World!\n", "--network none needs no slirp4netns")
    nothing_left(store, slirp_processes(), netns_before, [port])


def test_a_killed_gocrate_leaves_no_forwarder_slirp_or_namespace(store, work):
    require("slirp4netns", "slirp4netns")
    build_program(store, work, "net", NET_SOURCE)
    slirp_before, netns_before = slirp_processes(), network_namespaces()
    port = free_port()
    with host_server("host") as server_port:
        p = subprocess.Popen([GOCRATE, "--root", store.path, "run", "--rm", "-p", f"{port}:8080", "net",
                              "get-and-wait", f"http://10.0.2.2:{server_port}/"], stdout=subprocess.PIPE, text=True)
        try:
            check(p.stdout.readline() == "200 host\n", "the container did not reach the host")
            check(len(slirp_processes() - slirp_before) == 1, "no slirp4netns runs for the container")
            check(not port_is_free(port), "the published port is not bound")
        finally:
            p.kill()
            p.wait()
    wait_for(lambda: slirp_processes() <= slirp_before, 10, "slirp4netns to exit with its gocrate")
    check(port_is_free(port), f"host port {port} is still bound")
    # The killed run's state is cleaned up by the next run.
    store("run", "--rm", "--network", "none", "net", "interfaces")
    nothing_left(store, slirp_before, netns_before, [port])


if __name__ == "__main__":
    main(globals())
