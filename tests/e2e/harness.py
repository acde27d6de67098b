"""Shared pieces of the end-to-end tests: running gocrate, checking errors,
and starting the real peers (dockerd, podman, docker-registry) on loopback.

Each test file is a script whose test_* functions run in order; a function
that raises Skip is reported as skipped with its reason. The script exits 0
when all ran or were skipped, 1 on any failure, and 77 (CTest's skip code)
when every test was skipped."""

import atexit
import base64
import contextlib
import hashlib
import http.server
import io
import json
import os
import re
import signal
import shutil
import socket
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import traceback
import urllib.parse

GOCRATE = os.environ.get("GOCRATE", "gocrate")
SOURCE_DIR = os.environ.get("GOCRATE_SOURCE_DIR", os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
HELLO_DIR = os.path.join(SOURCE_DIR, "examples", "hello")


class Skip(Exception):
    pass


class Failure(AssertionError):
    pass


# Go, for the probe programs tests build (which import os and syscall): an error as the
# probe prints it, "ok" or the errno's text ("permission denied").
GO_ERRNO_OF = r'''
func errnoOf(err error) string {
	if err == nil {
		return "ok"
	}
	if pe, ok := err.(*os.PathError); ok {
		err = pe.Err
	}
	if se, ok := err.(*os.SyscallError); ok {
		err = se.Err
	}
	if e, ok := err.(syscall.Errno); ok {
		if e == 0 {
			return "ok"
		}
		return e.Error()
	}
	return err.Error()
}
'''


def check(condition, message):
    if not condition:
        raise Failure(message)


def run(args, check_rc=True, env=None, cwd=None, timeout=600, input=None):
    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    result = subprocess.run(args, capture_output=True, text=True, env=full_env, cwd=cwd, timeout=timeout,
                            input=input)
    if check_rc and result.returncode != 0:
        raise Failure(f"{' '.join(map(str, args))} exited {result.returncode}\nstdout: {result.stdout}\n"
                      f"stderr: {result.stderr}")
    return result


class Store:
    """A fresh gocrate state directory and a way to run commands against it."""

    def __init__(self, path):
        self.path = path

    def __call__(self, *args, check_rc=True, env=None, cwd=None, timeout=600, input=None):
        return run([GOCRATE, "--root", self.path, *args], check_rc=check_rc, env=env, cwd=cwd, timeout=timeout,
                   input=input)

    def expect_error(self, *args, contains, env=None, cwd=None, code=None):
        """Runs a command that must fail (with `code`, if given) with one clear line naming `contains`."""
        result = self(*args, check_rc=False, env=env, cwd=cwd)
        texts = [contains] if isinstance(contains, str) else contains
        return expect_one_error(result, *texts, code=code, what=f"gocrate {' '.join(args)}")


def expect_one_error(result, *texts, code=None, what="the command"):
    """A failed command's one `gocrate: ...` line on stderr, checked to name every text."""
    check(result.returncode != 0, f"{what} should fail but exited 0: {result.stdout}")
    if code is not None:
        check(result.returncode == code, f"{what} exited {result.returncode}, not {code}: {result.stderr}")
    lines = [line for line in result.stderr.strip().splitlines() if line.startswith("gocrate")]
    check(len(lines) == 1, f"expected one gocrate error line, got: {result.stderr!r}")
    for text in texts:
        check(text in lines[0], f"error {lines[0]!r} does not mention {text!r}")
    return lines[0]


def build_program(store, work, name, source, *flags):
    """Builds a one-file Go program into the image `name`."""
    src = os.path.join(work, f"src-{name}")
    os.makedirs(src, exist_ok=True)
    with open(os.path.join(src, "go.mod"), "w") as f:
        f.write(f"module example.com/{name}\n\ngo 1.19\n")
    with open(os.path.join(src, "main.go"), "w") as f:
        f.write(source)
    store("build", ".", "-t", name, *flags, cwd=src)


_shared_images = {}


def shared_image(store, work, name, source):
    """The one-file Go program `source` as image `name` in this test's store: built by
    the first test of the file that asks, loaded from a saved archive by the rest."""
    if name not in _shared_images:
        build_program(store, work, name, source)
        keep = tempfile.mkdtemp(prefix=f"gocrate-{name}-image-")
        atexit.register(shutil.rmtree, keep, True)
        archive = os.path.join(keep, f"{name}.tar")
        store("save", name, "-o", archive)
        _shared_images[name] = archive
    else:
        store("load", "-q", "-i", _shared_images[name])


def image_with_layer(store, work, base, name, entries, user=None):
    """Image `base` plus one layer of `entries` ((TarInfo, data file or None) pairs),
    running as `user` if given, loaded as `name`: layers an image controls."""
    base_archive = os.path.join(work, f"{name}-base.tar")
    store("save", base, "-o", base_archive)
    layer = io.BytesIO()
    with tarfile.open(fileobj=layer, mode="w", format=tarfile.PAX_FORMAT) as t:
        for info, data in entries:
            t.addfile(info, data)
    layer_bytes = layer.getvalue()
    diff_id = "sha256:" + hashlib.sha256(layer_bytes).hexdigest()
    with tarfile.open(base_archive) as src:
        manifest = json.load(src.extractfile("manifest.json"))[0]
        config = json.load(src.extractfile(manifest["Config"]))
        layers = [(path, src.extractfile(path).read()) for path in manifest["Layers"]]
    config["rootfs"]["diff_ids"].append(diff_id)
    if user is not None:
        config.setdefault("config", {})["User"] = user
    config_bytes = json.dumps(config).encode()
    config_name = hashlib.sha256(config_bytes).hexdigest() + ".json"
    layers.append((diff_id.split(":")[1] + "/layer.tar", layer_bytes))
    archive = os.path.join(work, f"{name}.tar")
    with tarfile.open(archive, "w") as out:
        for path, data in [("manifest.json", json.dumps([{"Config": config_name, "RepoTags": [f"{name}:latest"],
                                                          "Layers": [p for p, _ in layers]}]).encode()),
                           (config_name, config_bytes)] + layers:
            info = tarfile.TarInfo(path)
            info.size = len(data)
            out.addfile(info, io.BytesIO(data))
    store("load", "-q", "-i", archive)


@contextlib.contextmanager
def temp_dir(prefix="gocrate-e2e-"):
    path = tempfile.mkdtemp(prefix=prefix)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def check_blobs_match_names(store_path):
    """Every blob in a store is complete: its content hashes to its name."""
    import hashlib
    blobs = os.path.join(store_path, "blobs", "sha256")
    for name in os.listdir(blobs) if os.path.isdir(blobs) else []:
        digest = hashlib.sha256(open(os.path.join(blobs, name), "rb").read()).hexdigest()
        check(digest == name, f"blob {name} in {store_path} is partial or corrupt")


def container_cgroups(container_id):
    """The cgroup directories a container still has, in every mounted hierarchy."""
    found = []
    for line in open("/proc/self/mountinfo"):
        fields = line.split(" - ")
        if len(fields) == 2 and fields[1].startswith("cgroup"):
            path = os.path.join(line.split()[4], "gocrate", container_id)
            if os.path.isdir(path):
                found.append(path)
    return found


def cgroup_file(container_id, name):
    """The content of cgroup file `name` of the container, in whichever hierarchy has it."""
    for directory in container_cgroups(container_id):
        path = os.path.join(directory, name)
        if os.path.exists(path):
            return open(path).read().strip()
    raise AssertionError(f"no cgroup of {container_id[:12]} has {name}: {container_cgroups(container_id)}")


def detach(store, *args):
    """run -d; returns the id it printed."""
    out = store("run", "-d", *args).stdout.strip()
    check(re.fullmatch(r"[0-9a-f]{64}", out), f"run -d printed {out!r}, not an id")
    return out


def inspect(store, ref):
    return json.loads(store("inspect", ref).stdout)[0]


def ps_by_name(store, *flags):
    """`ps --format json` as {name: row}."""
    out = store("ps", "--format", "json", *flags).stdout
    return {c["Names"]: c for c in map(json.loads, out.splitlines())}


def remove_containers(store):
    """Removes every container of `store`, so that no supervisor outlives a test that failed midway."""
    if not os.path.isdir(os.path.join(store.path, "containers")):
        return
    ids = store("ps", "-aq", "--no-trunc", check_rc=False, timeout=60).stdout.split()
    if ids:
        store("rm", "-f", *ids, check_rc=False, timeout=120)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise Failure(f"timed out after {timeout}s waiting for {what}")



def oci_runtime():
    """The OCI runtime under test: $GOCRATE_RUNTIME (e.g. /usr/sbin/runc, to check a test itself), or
    gocrate-runtime beside the gocrate binary; skips, saying why, when it is not built."""
    override = os.environ.get("GOCRATE_RUNTIME")
    if override:
        path = shutil.which(override) or override
        check(os.access(path, os.X_OK), f"GOCRATE_RUNTIME={override} is not an executable")
        return path
    gocrate = shutil.which(GOCRATE) or GOCRATE
    path = os.path.join(os.path.dirname(os.path.abspath(gocrate)), "gocrate-runtime")
    if not os.access(path, os.X_OK):
        raise Skip(f"gocrate-runtime not built: no {path} (build the gocrate-runtime target, "
                   "or set GOCRATE_RUNTIME to a runc-compatible runtime)")
    return path

def require(program, package):
    if not shutil.which(program):
        raise Skip(f"{program} is not installed (Debian package {package}; scripts/install-deps.sh installs it)")


def stop_daemon(process, log):
    """Stops a daemon a test started: SIGTERM, SIGKILL after 30 s, then closes the file it logged to."""
    process.terminate()
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    log.close()


@contextlib.contextmanager
def docker_daemon(*extra_args):
    """A private dockerd (vfs storage, no bridge, no iptables) on a socket of its own;
    `extra_args` go on its command line."""
    require("dockerd", "docker.io")
    with temp_dir("gocrate-dockerd-") as work:
        sock = os.path.join(work, "docker.sock")
        log = open(os.path.join(work, "dockerd.log"), "w")
        daemon = subprocess.Popen(
            ["dockerd", "--iptables=false", "--ip6tables=false", "--bridge=none", "--storage-driver=vfs",
             "-H", f"unix://{sock}", "--data-root", f"{work}/data", "--exec-root", f"{work}/exec",
             "--pidfile", f"{work}/docker.pid", *extra_args], stdout=log, stderr=subprocess.STDOUT)
        env = {"DOCKER_HOST": f"unix://{sock}"}
        try:
            def ready():
                if daemon.poll() is not None:
                    raise Skip(f"dockerd exited at start: {open(log.name).read()[-500:]}")
                return run(["docker", "version"], check_rc=False, env=env).returncode == 0
            wait_for(ready, 60, "dockerd")

            def docker(*args, **kw):
                return run(["docker", *args], env=env, **kw)
            docker.env = env  # DOCKER_HOST, for programs that talk to this daemon themselves
            docker.exec_root = f"{work}/exec"
            yield docker
        finally:
            stop_daemon(daemon, log)
            subprocess.run(["umount", "-R", f"{work}/exec"], capture_output=True)
            subprocess.run(["umount", "-R", f"{work}/data"], capture_output=True)


@contextlib.contextmanager
def podman(runtime="runc"):
    """podman with private storage, configured as this machine allows, running
    containers with `runtime` (a name or a path)."""
    require("podman", "podman")
    with temp_dir("gocrate-podman-") as work:
        base = ["podman", "--root", f"{work}/root", "--runroot", f"{work}/run", "--storage-driver", "vfs",
                "--cgroup-manager", "cgroupfs", "--runtime", runtime]

        def call(*args, **kw):
            args = list(args)
            if args and args[0] == "run":
                args[1:1] = ["--ulimit", "nofile=20000:20000", "--ulimit", "nproc=32768:32768"]
            return run(base + args, **kw)
        try:
            yield call
        finally:
            subprocess.run(base + ["rm", "-af"], capture_output=True)
            subprocess.run(["umount", "-R", f"{work}/root"], capture_output=True)



def make_ca(work, name="gocrate test CA"):
    """A CA key and certificate made with openssl; returns (key, cert) paths."""
    require("openssl", "openssl")
    key, cert = os.path.join(work, "ca.key"), os.path.join(work, "ca.crt")
    run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days", "2",
         "-subj", f"/CN={name}"])
    return key, cert


def make_server_cert(work, ca, hosts=("localhost", "127.0.0.1")):
    """A server certificate for `hosts` signed by `ca`; returns (key, cert) paths."""
    ca_key, ca_cert = ca
    key, csr, cert = (os.path.join(work, f"server.{ext}") for ext in ("key", "csr", "crt"))
    ext = os.path.join(work, "server.ext")
    names = ",".join(f"IP:{h}" if h[0].isdigit() else f"DNS:{h}" for h in hosts)
    open(ext, "w").write(f"subjectAltName={names}\n")
    run(["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr, "-subj", f"/CN={hosts[0]}"])
    run(["openssl", "x509", "-req", "-in", csr, "-CA", ca_cert, "-CAkey", ca_key, "-CAcreateserial", "-out", cert,
         "-days", "2", "-extfile", ext])
    return key, cert


def _b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class TokenIssuer:
    """Docker's token protocol (GET realm?service=&scope=) on loopback: checks
    Basic credentials against `users` ({name: (password, {repository: actions})},
    repository "*" for all) and signs RS256 JWTs that the registry verifies
    against the certificate given in its rootcertbundle."""

    def __init__(self, work, users, service="gocrate-test", issuer="gocrate-test-issuer"):
        require("openssl", "openssl")
        self.users, self.service, self.issuer = users, service, issuer
        self.key = os.path.join(work, "token.key")
        self.cert = os.path.join(work, "token.crt")
        run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", self.key, "-out", self.cert,
             "-days", "2", "-subj", "/CN=gocrate test token issuer"])
        self.cert_der = subprocess.run(["openssl", "x509", "-in", self.cert, "-outform", "DER"], capture_output=True,
                                       check=True).stdout
        self.requests = []
        try:
            from cryptography.hazmat.primitives import hashes, serialization
            from cryptography.hazmat.primitives.asymmetric import padding
            private = serialization.load_pem_private_key(open(self.key, "rb").read(), password=None)
            self._sign = lambda data: private.sign(data, padding.PKCS1v15(), hashes.SHA256())
        except ImportError:
            self._sign = lambda data: subprocess.run(["openssl", "dgst", "-sha256", "-sign", self.key],
                                                     input=data, capture_output=True, check=True).stdout
        issuer_self = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                issuer_self._answer(self)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.realm = f"http://127.0.0.1:{self.server.server_address[1]}/token"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    def _answer(self, handler):
        query = urllib.parse.parse_qs(urllib.parse.urlparse(handler.path).query)
        user = None
        header = handler.headers.get("Authorization", "")
        if header.startswith("Basic "):
            name, _, password = base64.b64decode(header[6:]).decode().partition(":")
            if name not in self.users or self.users[name][0] != password:
                handler.send_response(401)
                handler.end_headers()
                return
            user = name
        scopes = query.get("scope", [])
        self.requests.append((user, scopes))
        grants = self.users.get(user, (None, {}))[1] if user else {}
        access = []
        for scope in scopes:
            kind, name, actions = scope.split(":")
            allowed = set(grants.get(name, grants.get("*", "")).split(","))
            access.append({"type": kind, "name": name, "actions": [a for a in actions.split(",") if a in allowed]})
        now = int(time.time())
        header = {"typ": "JWT", "alg": "RS256", "x5c": [base64.b64encode(self.cert_der).decode()]}
        claims = {"iss": self.issuer, "sub": user or "", "aud": self.service, "exp": now + 300, "nbf": now - 10,
                  "iat": now, "jti": f"{now}-{len(self.requests)}", "access": access}
        signing_input = f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(claims).encode())}"
        token = f"{signing_input}.{_b64url(self._sign(signing_input.encode()))}"
        body = json.dumps({"token": token, "expires_in": 300}).encode()
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)


class Registry:
    """docker-registry (distribution 2.8) on 127.0.0.1, storage in `root`."""

    def __init__(self, work, htpasswd=None, tls=None, token=None):
        self.work, self.port = work, free_port()
        self.host = f"127.0.0.1:{self.port}"
        self.root = os.path.join(work, "storage")
        self.config = os.path.join(work, "config.yml")
        lines = ["version: 0.1", "log:", "  level: warn", "storage:", "  filesystem:",
                 f"    rootdirectory: {self.root}", "  delete:", "    enabled: true", "http:",
                 f"  addr: 127.0.0.1:{self.port}", "  secret: gocrate-e2e-secret"]
        if tls:
            lines += ["  tls:", f"    certificate: {tls[1]}", f"    key: {tls[0]}"]
        if htpasswd:
            lines += ["auth:", "  htpasswd:", "    realm: gocrate-test", f"    path: {htpasswd}"]
        if token:
            lines += ["auth:", "  token:", f"    realm: {token.realm}", f"    service: {token.service}",
                      f"    issuer: {token.issuer}", f"    rootcertbundle: {token.cert}"]
        open(self.config, "w").write("\n".join(lines) + "\n")
        self.scheme = "https" if tls else "http"
        self.process = None
        self.log = os.path.join(work, "registry.log")

    def start(self):
        log = open(self.log, "a")
        self.process = subprocess.Popen(["docker-registry", "serve", self.config], stdout=log,
                                        stderr=subprocess.STDOUT)

        def ready():
            if self.process.poll() is not None:
                raise Failure(f"docker-registry exited at start: {open(self.log).read()[-800:]}")
            with socket.socket() as s:
                return s.connect_ex(("127.0.0.1", self.port)) == 0
        wait_for(ready, 30, "docker-registry")

    def kill(self):
        """SIGKILL, as a crash would."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()

    def blob_path(self, digest):
        hex_ = digest.split(":")[1]
        return os.path.join(self.root, "docker/registry/v2/blobs/sha256", hex_[:2], hex_, "data")


@contextlib.contextmanager
def registry(users=None, tls=False, token_users=None):
    """A fresh docker-registry on a free loopback port. `users` ({name: password})
    turns on htpasswd Basic auth; `tls` serves HTTPS with a certificate of a
    CA made for it (registry.ca_cert); `token_users` (see TokenIssuer) turns
    on token auth with an issuer run by the test."""
    require("docker-registry", "docker-registry")
    with temp_dir("gocrate-registry-") as work:
        htpasswd = token = None
        if users:
            require("htpasswd", "apache2-utils")
            htpasswd = os.path.join(work, "htpasswd")
            with open(htpasswd, "w") as out:
                for name, password in users.items():
                    out.write(run(["htpasswd", "-Bbn", name, password]).stdout.strip() + "\n")
        cert = None
        if tls:
            ca = make_ca(work)
            cert = make_server_cert(work, ca)
        if token_users is not None:
            token = TokenIssuer(work, token_users)
        reg = Registry(work, htpasswd=htpasswd, tls=cert, token=token)
        reg.ca_cert = ca[1] if tls else None
        reg.token_issuer = token
        try:
            reg.start()
            yield reg
        finally:
            reg.stop()
            if token:
                token.close()

@contextlib.contextmanager
def podman_configured():
    """Podman set up for this machine through its own configuration files
    (vfs storage, cgroupfs, runc, the ulimits the host allows), so that a
    plain `podman` call works: yields the environment to run it with."""
    require("podman", "podman")
    with temp_dir("gocrate-podman-conf-") as work:
        conf = os.path.join(work, "containers.conf")
        storage = os.path.join(work, "storage.conf")
        open(conf, "w").write('[containers]\ndefault_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]\n'
                              '[engine]\ncgroup_manager = "cgroupfs"\nruntime = "runc"\nevents_logger = "file"\n')
        open(storage, "w").write(f'[storage]\ndriver = "vfs"\ngraphroot = "{work}/root"\nrunroot = "{work}/run"\n')
        env = {"CONTAINERS_CONF": conf, "CONTAINERS_STORAGE_CONF": storage}
        try:
            yield env
        finally:
            run(["podman", "rm", "-af"], check_rc=False, env=env)
            run(["podman", "rmi", "-af"], check_rc=False, env=env)
            subprocess.run(["umount", "-R", f"{work}/root"], capture_output=True)


def screenshot(url_or_file, png, width=1000, height=500):
    """A headless Chromium screenshot of a page or file."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        raise Skip("chromium is not installed (Debian package chromium)")
    with temp_dir("gocrate-chromium-") as profile:
        target = url_or_file if "://" in url_or_file else "file://" + os.path.abspath(url_or_file)
        run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={profile}", f"--window-size={width},{height}", f"--screenshot={png}", target],
            timeout=120)
    check(os.path.exists(png), "chromium wrote no screenshot")


def png_pixels(path):
    """The RGB(A) rows of an 8-bit, non-interlaced PNG, decoded with the standard library."""
    import struct
    import zlib
    data = open(path, "rb").read()
    check(data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG")
    pos, idat, width = 8, b"", 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, color = struct.unpack(">IIBB", body[:10])
            check(depth == 8 and color in (2, 6), f"unsupported PNG format {depth}/{color}")
            channels = 3 if color == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride = width * channels
    rows, previous, at = [], bytearray(stride), 0
    for _ in range(height):
        kind, line = raw[at], bytearray(raw[at + 1:at + 1 + stride])
        at += 1 + stride
        for i in range(stride):
            left = line[i - channels] if i >= channels else 0
            up, corner = previous[i], previous[i - channels] if i >= channels else 0
            if kind == 1:
                line[i] = (line[i] + left) & 255
            elif kind == 2:
                line[i] = (line[i] + up) & 255
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 255
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                line[i] = (line[i] + (left if pa <= pb and pa <= pc else up if pb <= pc else corner)) & 255
        rows.append([tuple(line[i:i + 3]) for i in range(0, stride, channels)])
        previous = line
    return rows


class TestTimeout(Exception):
    pass


def _raise_timeout(signum, frame):
    raise TestTimeout(f"the test ran longer than {TEST_TIMEOUT}s (GOCRATE_TEST_TIMEOUT)")


TEST_TIMEOUT = int(os.environ.get("GOCRATE_TEST_TIMEOUT", "300"))


def main(namespace):
    # One hung test fails with its stack and the others still run.
    signal.signal(signal.SIGALRM, _raise_timeout)
    tests = [(name, fn) for name, fn in namespace.items() if name.startswith("test_") and callable(fn)]
    only = os.environ.get("GOCRATE_TEST_FILTER")
    passed = failed = skipped = 0
    for name, fn in tests:
        if only and only not in name:
            continue
        start = time.monotonic()
        with temp_dir() as work:
            store = Store(os.path.join(work, "store"))
            signal.alarm(TEST_TIMEOUT)
            try:
                fn(store, work)
                passed += 1
                print(f"PASS {name} ({time.monotonic() - start:.1f}s)", flush=True)
            except Skip as e:
                skipped += 1
                print(f"SKIP {name}: {e}", flush=True)
            except Exception:
                failed += 1
                print(f"FAIL {name}\n{traceback.format_exc()}", flush=True)
            finally:
                signal.alarm(0)
                remove_containers(store)
    print(f"{passed} passed, {failed} failed, {skipped} skipped")
    if failed:
        sys.exit(1)
    if skipped and not passed:
        sys.exit(77)
    sys.exit(0)
