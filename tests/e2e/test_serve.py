#!/usr/bin/env python3
"""gocrate serve end to end: /metrics checked by promtool and scraped by a real
Prometheus server whose PromQL answers give a container's memory and CPU; the
JSON API; the token a non-loopback address requires; an address in use; and the
web view in headless Chromium (driven through the DevTools protocol): a running
container's charts and log tail, and a container started after the page loaded
appearing without a reload."""

import base64
import json
import os
import re
import shutil
import socket
import struct
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
import zlib

from harness import (GOCRATE, Failure, Skip, check, expect_one_error, free_port, main, png_pixels, require,
                     shared_image, wait_for)

# `work` holds 8 MiB, spins 50 ms in every 200 and logs a line each time; `sleep` only sleeps.
PROGRAM = r'''
package main

import (
	"fmt"
	"os"
	"time"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "sleep" {
		for {
			time.Sleep(time.Hour)
		}
	}
	held := make([]byte, 8<<20)
	for i := range held {
		held[i] = byte(i)
	}
	for n := 0; ; n++ {
		spins := 0
		for end := time.Now().Add(50 * time.Millisecond); time.Now().Before(end); {
			spins++
		}
		fmt.Printf("serve-test line %d (%d)\n", n, int(held[spins%len(held)]))
		time.Sleep(150 * time.Millisecond)
	}
}
'''


def image(store, work):
    shared_image(store, work, "servetest", PROGRAM)


class Serve:
    """A `gocrate serve` in the background; `url` once it said where it listens."""

    def __init__(self, store, *args):
        self.process = subprocess.Popen([GOCRATE, "--root", store.path, "serve", *args], stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, text=True)
        line = self.process.stdout.readline()
        match = re.search(r"listening on (http://\S+)", line)
        if not match:
            self.process.kill()
            raise Failure(f"serve printed {line!r}, stderr: {self.process.stderr.read()}")
        self.url = match.group(1)

    def get(self, path, token=None, timeout=30):
        request = urllib.request.Request(self.url + path)
        if token is not None:
            request.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return response.status, response.headers, response.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.headers, e.read().decode()

    def json(self, path):
        status, _, body = self.get(path)
        check(status == 200, f"GET {path}: {status} {body}")
        return json.loads(body)

    def stop(self):
        """Ends serve; returns what it wrote on stderr."""
        self.process.terminate()
        self.process.wait(30)
        err = self.process.stderr.read()
        self.process.stdout.close()
        self.process.stderr.close()
        return err

    def port(self):
        return int(self.url.rsplit(":", 1)[1])

    def raw(self, request, timeout=10):
        """Sends `request` as it is; returns the reply's first bytes (b"" when it was closed without one)."""
        with socket.create_connection(("127.0.0.1", self.port()), timeout=timeout) as s:
            s.sendall(request)
            try:
                return s.recv(4096)
            except ConnectionResetError:
                return b""


def metric_lines(text, name, container):
    return [line for line in text.splitlines() if line.startswith(name + "{") and f'name="{container}"' in line]


def test_metrics_pass_promtool_and_prometheus_scrapes_them(store, work):
    require("promtool", "prometheus")
    require("prometheus", "prometheus")
    image(store, work)
    store("run", "-d", "--name", "serve-web", "-m", "64m", "servetest")
    serve = Serve(store, "--listen", "127.0.0.1:0")
    prometheus = None
    try:
        def metrics_with_usage():
            status, headers, text = serve.get("/metrics")
            check(status == 200, f"/metrics answered {status}: {text}")
            check(headers["Content-Type"].startswith("text/plain; version=0.0.4"), headers["Content-Type"])
            rss = metric_lines(text, "container_memory_rss", "serve-web")
            return text if rss and float(rss[0].split()[-1]) >= 8 << 20 else None
        wait_for(lambda: metrics_with_usage() is not None, 30, "serve-web's 8 MiB in container_memory_rss")
        text = metrics_with_usage()
        container_id = store("inspect", "--format", "{{.Id}}", "serve-web").stdout.strip()
        for name in ("container_cpu_usage_seconds_total", "container_memory_working_set_bytes",
                     "container_memory_rss", "container_spec_memory_limit_bytes", "container_processes",
                     "container_start_time_seconds", "container_last_seen", "container_oom_events_total",
                     "gocrate_container_restarts_total", "gocrate_container_state"):
            lines = metric_lines(text, name, "serve-web")
            check(lines, f"no {name} for serve-web in:\n{text}")
            check(f'id="/gocrate/{container_id}"' in lines[0] and 'image="servetest"' in lines[0], lines[0])
        limit = metric_lines(text, "container_spec_memory_limit_bytes", "serve-web")[0]
        check(limit.endswith(" 67108864"), f"the 64m limit is not reported: {limit}")
        check(re.search(r'gocrate_image_size_bytes\{digest="sha256:[0-9a-f]{64}",image="servetest:latest"\} [1-9]',
                        text), f"no image size in:\n{text}")
        network = metric_lines(text, "container_network_receive_bytes_total", "serve-web")
        print(f"network series of serve-web: {network or 'none (the container shares a network namespace)'}")
        metrics_file = os.path.join(work, "metrics.txt")
        with open(metrics_file, "w") as f:
            f.write(text)
        with open(metrics_file) as f:
            lint = subprocess.run(["promtool", "check", "metrics"], stdin=f, capture_output=True, text=True)
        check(lint.returncode == 0, f"promtool check metrics: {lint.stdout}{lint.stderr}")

        containers = serve.json("/api/containers")
        web = [c for c in containers if c["name"] == "serve-web"]
        check(len(web) == 1 and web[0]["state"] == "running" and web[0]["memory"]["limit"] == 64 << 20, web)
        images = serve.json("/api/images")
        check([i["name"] for i in images] == ["servetest:latest"] and images[0]["size"] > 0, images)
        check(isinstance(serve.json("/api/events"), list), "/api/events is not a list")
        wait_for(lambda: len(serve.json("/api/containers/serve-web/logs?tail=2")) == 2, 30, "two log lines")
        logs = serve.json("/api/containers/serve-web/logs?tail=2")
        check([line["text"][:16] for line in logs] == ["serve-test line "] * 2, logs)
        status, _, body = serve.get("/api/containers/no-such-container")
        check(status == 404 and "no-such-container" in body, f"{status} {body}")

        # A real Prometheus: its own config, data directory and port.
        port = free_port()
        target = serve.url.removeprefix("http://")
        config = os.path.join(work, "prometheus.yml")
        with open(config, "w") as f:
            f.write(f"global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n"
                    f"  - job_name: gocrate\n    static_configs:\n      - targets: ['{target}']\n")
        log = open(os.path.join(work, "prometheus.log"), "w")
        prometheus = subprocess.Popen(["prometheus", f"--config.file={config}",
                                       f"--storage.tsdb.path={work}/prometheus-data",
                                       f"--web.listen-address=127.0.0.1:{port}"], stdout=log, stderr=subprocess.STDOUT)

        def query(promql):
            url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": promql})
            try:
                with urllib.request.urlopen(url, timeout=10) as response:
                    answer = json.load(response)
            except (urllib.error.URLError, ConnectionError):
                return []
            check(answer["status"] == "success", answer)
            return answer["data"]["result"]

        memory = f'container_memory_working_set_bytes{{name="serve-web"}}'
        cpu = f'rate(container_cpu_usage_seconds_total{{name="serve-web",cpu="total"}}[10s])'
        wait_for(lambda: query(memory) and query(cpu), 90, "Prometheus to have scraped serve-web's memory and CPU")
        memory_bytes = float(query(memory)[0]["value"][1])
        cpu_rate = float(query(cpu)[0]["value"][1])
        check(memory_bytes >= 8 << 20, f"PromQL {memory} gave {memory_bytes}, less than the 8 MiB the program holds")
        check(cpu_rate > 0, f"PromQL {cpu} gave {cpu_rate}: the program spins a quarter of the time")
        print(f"PromQL: working set {memory_bytes / (1 << 20):.1f} MiB, CPU {cpu_rate:.2f} of a CPU")
    finally:
        if prometheus:
            prometheus.terminate()
            prometheus.wait(30)
            log.close()
        serve.stop()
        store("rm", "-f", "serve-web")


def test_a_token_guards_anything_but_loopback(store, work):
    port = free_port()
    result = store("serve", "--listen", f"0.0.0.0:{port}", check_rc=False)
    expect_one_error(result, f"0.0.0.0:{port}", "--token-file")
    token_file = os.path.join(work, "token")
    with open(token_file, "w") as f:
        f.write("s3cret-token\n")
    os.chmod(token_file, 0o644)
    serve = Serve(store, "--listen", f"0.0.0.0:{port}", "--token-file", token_file)
    stderr = ""
    try:
        serve.url = f"http://127.0.0.1:{port}"
        for token in (None, "wrong-token", "s3cret-toke", "s3cret-token-"):
            for path in ("/metrics", "/api/containers", "/api/images", "/api/events", "/api/stream"):
                status, headers, _ = serve.get(path, token)
                check(status == 401 and headers["WWW-Authenticate"] == "Bearer",
                      f"GET {path} with token {token!r}: {status}")
        status, _, text = serve.get("/metrics", "s3cret-token")
        check(status == 200, f"/metrics with the token: {status} {text}")
        status, _, _ = serve.get("/api/containers", "s3cret-token")
        check(status == 200, f"/api/containers with the token: {status}")
        # The page itself holds no data; it asks for the token before it reads any.
        status, _, page = serve.get("/")
        check(status == 200 and "token-form" in page, f"/ answered {status}")
        # With a token, any Host is answered: the token is what guards it.
        reply = serve.raw(b"GET /metrics HTTP/1.1\r\nHost: rebound.example\r\n"
                          b"Authorization: Bearer s3cret-token\r\nConnection: close\r\n\r\n")
        check(reply.startswith(b"HTTP/1.1 200"), reply[:200])
    finally:
        stderr = serve.stop()
    check(f"--token-file {token_file} is readable by other users" in stderr, f"no warning on a 0644 token file: {stderr}")
    # A token is allowed on loopback too, and then required there as well.
    os.chmod(token_file, 0o600)
    serve = Serve(store, "--listen", "127.0.0.1:0", "--token-file", token_file)
    try:
        check(serve.get("/metrics")[0] == 401, "loopback with --token-file still wants the token")
    finally:
        stderr = serve.stop()
    check("readable" not in stderr, f"a warning on a 0600 token file: {stderr}")


def test_without_a_token_only_loopback_names_are_answered(store, work):
    """DNS rebinding: a page of another site whose name now points at 127.0.0.1 sends its own name as Host."""
    serve = Serve(store, "--listen", "127.0.0.1:0")
    try:
        port = serve.port()
        for host in ("rebound.example", f"rebound.example:{port}", "127.0.0.1", f"127.0.0.1:{port + 1}",
                     f"localhost.rebound.example:{port}"):
            for path in ("/metrics", "/api/containers", "/"):
                reply = serve.raw(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
                check(reply.startswith(b"HTTP/1.1 421"), f"Host {host} {path}: {reply[:100]!r}")
                body = reply.split(b"\r\n\r\n", 1)[1]
                check(body.count(b"\n") == 1 and b"127.0.0.1" in body, body)
        reply = serve.raw(b"GET /metrics HTTP/1.1\r\n\r\n")
        check(reply.startswith(b"HTTP/1.1 421") or reply.startswith(b"HTTP/1.1 400"), f"no Host: {reply[:100]!r}")
        for host in (f"127.0.0.1:{port}", f"localhost:{port}", f"LOCALHOST:{port}"):
            reply = serve.raw(f"GET /metrics HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
            check(reply.startswith(b"HTTP/1.1 200"), f"Host {host}: {reply[:100]!r}")
    finally:
        serve.stop()


def sse_events(sock, until, timeout):
    """Reads server-sent events from `sock` until one named `until` (returns the names) or `timeout` passes."""
    sock.settimeout(timeout)
    data = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            break
        if not chunk:
            break
        data += chunk
        names = re.findall(rb"^event: (\S+)$", data, re.M)
        if until.encode() in names:
            return [n.decode() for n in names], data
    return [n.decode() for n in re.findall(rb"^event: (\S+)$", data, re.M)], data


def test_a_stream_of_logs_reads_only_containers_of_the_store(store, work):
    """?logs=../../evil/link once led out of containers/by-name/ to a container.log of anyone's choosing:
    a FIFO there hung the thread, /dev/zero filled the memory."""
    image(store, work)
    store("create", "--name", "serve-victim", "servetest", "sleep")
    try:
        victim = store("inspect", "--format", "{{.Id}}", "serve-victim").stdout.strip()
        state = json.load(open(os.path.join(store.path, "containers", victim, "state.json")))
        state["supervised"] = True
        state["name"] = "evil"
        evil = os.path.join(store.path, "evil")
        os.makedirs(os.path.join(evil, "c"))
        with open(os.path.join(evil, "c", "state.json"), "w") as f:
            json.dump(state, f)
        os.mkfifo(os.path.join(evil, "c", "container.log"))
        os.symlink("../evil/c", os.path.join(evil, "link"))
        serve = Serve(store, "--listen", "127.0.0.1:0")
        try:
            for ref in ("../../evil/link", "..%2F..%2Fevil%2Flink", "by-name/serve-victim"):
                with socket.create_connection(("127.0.0.1", serve.port()), timeout=10) as s:
                    s.sendall(f"GET /api/stream?logs={ref} HTTP/1.1\r\nHost: 127.0.0.1:{serve.port()}\r\n\r\n"
                              .encode())
                    names, data = sse_events(s, "events", 10)
                check(names[:2] == ["error", "events"] and b"no container" in data,
                      f"?logs={ref}: {names} {data[:300]!r}")
            status, _, body = serve.get("/api/containers/serve-victim/logs")
            check(status == 200, f"the store's own container: {status} {body}")
        finally:
            serve.stop()
    finally:
        store("rm", "-f", "serve-victim", check_rc=False)


def append_journal_records(store, count, pad):
    """Appends `count` container events to the store's journal in its own format (store/events.cc)."""
    directory = os.path.join(store.path, "events")
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, "journal"), "ab") as f:
        for i in range(count):
            body = json.dumps({"Type": "container", "Action": "start", "ID": f"flood{i}",
                               "Attributes": {"pad": "x" * pad}}, separators=(",", ":"))
            payload = f"{time.time_ns()} {body}".encode()
            f.write(b"\x1e%08x %s\n" % (zlib.crc32(payload), payload))


def closed_by_server(sock, timeout=0.2):
    """Whether the server closed `sock`: what it sent is read, then the end (or a reset) must come
    within `timeout` seconds."""
    end = time.monotonic() + timeout
    try:
        while time.monotonic() < end:
            sock.settimeout(max(0.01, end - time.monotonic()))
            if not sock.recv(65536):
                return True
    except socket.timeout:
        return False
    except ConnectionResetError:
        return True
    return False


def test_slow_and_idle_clients_cannot_take_the_server_down(store, work):
    """Slowloris: many sockets that send half a header, a stream that is never read, more streams than
    allowed: the server answers others at once (503 while full), and drops the slow ones at their deadline."""
    serve = Serve(store, "--listen", "127.0.0.1:0")
    port = serve.port()
    get = f"GET /api/stream HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()
    held = []
    try:
        # A stream whose reader never reads, sent more events than the sockets hold: its writes wait,
        # and end at their deadline.
        stalled = socket.socket()
        stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stalled.connect(("127.0.0.1", port))
        stalled.sendall(get)
        stalled_at = time.monotonic()
        # 16 MB, past what the sockets buffer (tcp_wmem's 4 MiB at most), in batches smaller than the
        # 500 events serve keeps, so that the stream is sent each one.
        for _ in range(10):
            append_journal_records(store, 400, 4000)
            time.sleep(0.3)

        for _ in range(130):
            s = socket.create_connection(("127.0.0.1", port))
            s.sendall(f"GET /api/containers HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n".encode())
            held.append(s)
        started = time.monotonic()
        reply = serve.raw(f"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode(), timeout=5)
        check(reply.startswith(b"HTTP/1.1 503") and b"Retry-After" in reply,
              f"a request while the server is full: {reply[:200]!r}")
        check(time.monotonic() - started < 5, "the 503 took long")
        # Their header deadline (10 s) passes: the half-sent requests are closed, others answered again.
        wait_for(lambda: all(closed_by_server(s) for s in held), 30, "the half-sent requests closed")
        status, _, _ = serve.get("/metrics", timeout=5)
        check(status == 200, f"/metrics after the slow clients: {status}")

        # The write deadline is 10 s: well past it, what the stalled stream holds ends with the close.
        time.sleep(max(0.0, 25 - (time.monotonic() - stalled_at)))
        check(closed_by_server(stalled, 10), "the stream nobody read is still sent to")
        stalled.close()

        # At most 16 streams at once; HEAD of one is answered, not streamed.
        for _ in range(16):
            s = socket.create_connection(("127.0.0.1", port), timeout=10)
            s.sendall(get)
            check(s.recv(15).startswith(b"HTTP/1.1 200"), "a stream was refused below the limit")
            held.append(s)
        reply = serve.raw(get)
        check(reply.startswith(b"HTTP/1.1 503"), f"the 17th stream: {reply[:200]!r}")
        request = urllib.request.Request(serve.url + "/api/stream", method="HEAD")
        with urllib.request.urlopen(request, timeout=5) as response:
            check(response.status == 200 and response.headers["Content-Type"] == "text/event-stream",
                  response.status)
    finally:
        for s in held:
            s.close()
        serve.stop()


# ---- the web view ---------------------------------------------------------------

class DevTools:
    """A minimal client of Chromium's DevTools protocol over a WebSocket (RFC 6455), with the standard library."""

    def __init__(self, url):
        parts = urllib.parse.urlparse(url)
        self.sock = socket.create_connection((parts.hostname, parts.port), timeout=60)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET {parts.path} HTTP/1.1\r\nHost: {parts.hostname}:{parts.port}\r\n"
                           f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                           "Sec-WebSocket-Version: 13\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(4096)
            check(chunk, "DevTools closed the WebSocket handshake")
            head += chunk
        check(head.startswith(b"HTTP/1.1 101"), f"DevTools refused the WebSocket: {head[:200]!r}")
        self.buffer = head.split(b"\r\n\r\n", 1)[1]
        self.next_id = 0

    def _read(self, n):
        while len(self.buffer) < n:
            chunk = self.sock.recv(1 << 20)
            check(chunk, "DevTools closed the WebSocket")
            self.buffer += chunk
        data, self.buffer = self.buffer[:n], self.buffer[n:]
        return data

    def _message(self):
        payload = b""
        while True:
            first, second = self._read(2)
            length = second & 0x7F
            if length == 126:
                length = struct.unpack(">H", self._read(2))[0]
            elif length == 127:
                length = struct.unpack(">Q", self._read(8))[0]
            payload += self._read(length)
            if first & 0x80:
                return json.loads(payload)

    def call(self, method, **params):
        self.next_id += 1
        data = json.dumps({"id": self.next_id, "method": method, "params": params}).encode()
        mask = os.urandom(4)
        header = bytes([0x81])
        if len(data) < 126:
            header += bytes([0x80 | len(data)])
        elif len(data) < 1 << 16:
            header += bytes([0x80 | 126]) + struct.pack(">H", len(data))
        else:
            header += bytes([0x80 | 127]) + struct.pack(">Q", len(data))
        self.sock.sendall(header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))
        while True:
            message = self._message()
            if message.get("id") == self.next_id:
                check("error" not in message, f"DevTools {method}: {message.get('error')}")
                return message["result"]

    def evaluate(self, expression):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        check("exceptionDetails" not in result, f"{expression}: {result.get('exceptionDetails')}")
        return result["result"].get("value")

    def close(self):
        self.sock.close()


def chromium_page(work, url):
    """Headless Chromium showing `url`; returns (process, DevTools of the page)."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        raise Skip("chromium is not installed (Debian package chromium)")
    port = free_port()
    process = subprocess.Popen(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", f"--user-data-dir={work}/chromium",
         f"--remote-debugging-port={port}", "--window-size=1280,1000",
         "about:blank"], stdout=subprocess.DEVNULL, stderr=open(os.path.join(work, "chromium.log"), "w"))

    def pages():
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=5) as response:
                return [t for t in json.load(response) if t["type"] == "page"]
        except (urllib.error.URLError, ConnectionError):
            return []
    try:
        wait_for(pages, 60, "Chromium's DevTools endpoint")
        page = DevTools(pages()[0]["webSocketDebuggerUrl"])
        page.call("Page.enable")
        page.call("Page.navigate", url=url)
        return process, page
    except BaseException:
        process.kill()
        process.wait()
        raise


def color_pixels(rows, color, tolerance=40):
    return sum(1 for row in rows for pixel in row if all(abs(a - b) <= tolerance for a, b in zip(pixel, color)))


def test_the_web_view_shows_charts_and_logs_and_new_containers_live(store, work):
    image(store, work)
    store("run", "-d", "--name", "serve-web", "servetest")
    serve = Serve(store, "--listen", "127.0.0.1:0")
    process = page = None
    try:
        process, page = chromium_page(work, serve.url + "/")
        row = 'document.querySelector(\'#containers tr[data-name="{}"]\')'
        wait_for(lambda: page.evaluate(row.format("serve-web") + " !== null"), 30, "serve-web in the page")
        wait_for(lambda: "serve-test line" in (page.evaluate("document.querySelector('#log').textContent") or ""), 30,
                 "serve-web's log lines in the page")
        # Enough samples for the charts to draw lines across a sixth of their width.
        wait_for(lambda: int(page.evaluate("document.body.dataset.updates || 0")) >= 20, 60, "20 updates")
        check(page.evaluate("document.querySelector('#detail-name').textContent") == "serve-web",
              "serve-web is not the container shown in detail")
        dom = page.evaluate("document.documentElement.outerHTML")
        check("serve-web" in dom and "serve-test line" in dom, "the DOM lacks the container or its log line")
        check("servetest:latest" in dom, "the DOM lacks the image")
        shot = os.path.join(work, "serve.png")
        with open(shot, "wb") as f:
            f.write(base64.b64decode(page.call("Page.captureScreenshot", format="png")["data"]))
        rows = png_pixels(shot)
        cpu, memory = color_pixels(rows, (0xE4, 0x57, 0x2E)), color_pixels(rows, (0x2E, 0x86, 0xDE))
        check(cpu > 60 and memory > 60,
              f"the screenshot has {cpu} pixels of the CPU chart's colour and {memory} of the memory chart's")
        keep = os.environ.get("GOCRATE_SCREENSHOT_DIR")
        if keep:
            shutil.copy(shot, os.path.join(keep, "serve.png"))

        # A container started now appears without a reload.
        page.evaluate("window.loadedOnce = true")
        started = time.monotonic()
        store("run", "-d", "--name", "serve-late", "servetest", "sleep")
        after_run = time.monotonic()
        wait_for(lambda: page.evaluate(row.format("serve-late") + " !== null"), 15, "serve-late in the page")
        seen = time.monotonic()
        check(page.evaluate("window.loadedOnce === true"), "the page was reloaded")
        print(f"serve-late appeared {seen - after_run:.2f} s after run -d returned "
              f"({seen - started:.2f} s after it was called)")
    finally:
        if page:
            page.close()
        if process:
            process.kill()
            process.wait()
        serve.stop()
        store("rm", "-f", "serve-web", "serve-late", check_rc=False)


if __name__ == "__main__":
    main(globals())
