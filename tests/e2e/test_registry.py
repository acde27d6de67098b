#!/usr/bin/env python3
"""gocrate push, pull, login and logout against a real docker-registry
(distribution 2.8): plain HTTP, Basic and token auth, TLS with a CA of the
test's own; interop with skopeo, podman and docker both ways; a registry
killed mid-push; a tampered blob; a pull killed mid-way."""

import hashlib
import json
import os
import signal
import socket
import stat
import subprocess
import threading
import time

from harness import (HELLO_DIR, Skip, check, docker_daemon, main, podman, registry, require, run, wait_for)


def build_hello(store, *flags, env=None):
    result = store("build", ".", "--json", "-q", *flags, cwd=HELLO_DIR, env=env)
    return json.loads(result.stdout)["images"][0]


def skopeo_raw(reference, *flags):
    return json.loads(run(["skopeo", "inspect", "--raw", "--tls-verify=false", *flags, f"docker://{reference}"]).stdout)


def isolated_env(work):
    """Docker's and gocrate's configuration in the test's directory."""
    return {"DOCKER_CONFIG": os.path.join(work, "docker-config"), "XDG_CONFIG_HOME": os.path.join(work, "config")}


def test_push_pull_round_trip_with_sboms(store, work):
    require("skopeo", "skopeo")
    with registry() as reg:
        ref = f"{reg.host}/hello:v1"
        image = build_hello(store, "--platform", "linux/amd64,linux/arm64", "-t", ref)
        pushed = json.loads(store("push", ref, "--json").stdout)
        check(pushed["digest"] == image["digest"] and pushed["blobs"]["uploaded"] > 0, pushed)
        check(len(pushed["referrers"]) == 4, pushed)  # per platform an SBOM and a provenance statement

        raw = skopeo_raw(ref)
        check(raw["mediaType"] == "application/vnd.oci.image.index.v1+json", raw)
        check(sorted(m["platform"]["architecture"] for m in raw["manifests"]) == ["amd64", "arm64"], raw)
        # The registry has no referrers API: each platform's artifacts are listed under the sha256-<digest> tag.
        for platform in image["platforms"]:
            listed = skopeo_raw(f"{reg.host}/hello:sha256-{platform['digest'].split(':')[1]}")
            check(sorted(m["artifactType"] for m in listed["manifests"]) ==
                  ["application/spdx+json", "application/vnd.in-toto+json"], listed)
            for entry in listed["manifests"]:
                artifact = skopeo_raw(f"{reg.host}/hello@{entry['digest']}")
                check(artifact["subject"]["digest"] == platform["digest"], artifact)

        again = json.loads(store("push", ref, "--json").stdout)
        check(again["blobs"]["uploaded"] == 0 and again["digest"] == image["digest"], again)

        # Another repository of the same registry: blobs are mounted, not uploaded.
        mounted = json.loads(store("push", ref, f"{reg.host}/copy/hello:v2", "--json").stdout)
        check(mounted["blobs"]["mounted"] > 0 and mounted["blobs"]["uploaded"] == 0, mounted)

        fresh = store.__class__(os.path.join(work, "fresh"))
        pulled = json.loads(fresh("pull", ref, "--json", "--platform", "linux/arm64").stdout)
        arm = [p for p in image["platforms"] if p["platform"].startswith("linux/arm64")][0]
        check(pulled["digest"] == arm["digest"] and pulled["name"] == ref, pulled)
        check(len(pulled["referrers"]) == 2, pulled)  # the arm64 SBOM and provenance came along
        everything = json.loads(fresh("pull", ref, "--json", "--platform", "all").stdout)
        check(everything["digest"] == image["digest"], everything)
        # The arm64 image and artifacts were there already. New: amd64's config and executable layer, its
        # SBOM document and provenance statement; present: the shared base layer and, for each of its two
        # artifacts, their empty config.
        check(everything["blobs"] == {"pulled": 4, "existing": 3}, everything)
        info = json.loads(fresh("inspect", ref).stdout)[0]
        check(len(info["manifests"]) == 2, info)
        check(sorted(r["digest"] for r in info["referrers"]) == sorted(r["digest"] for r in pushed["referrers"]), info)
        # By digest too.
        by_digest = json.loads(fresh("pull", f"{reg.host}/hello@{image['digest']}", "--platform", "all",
                                     "--json").stdout)
        check(by_digest["digest"] == image["digest"], by_digest)


def test_build_push_names_and_registry_base(store, work):
    with registry() as reg:
        env = {"GOCRATE_DOCKER_REPO": f"{reg.host}/team"}
        image = build_hello(store, "--push", env=env)
        check(image["names"] == [f"{reg.host}/team/hello:latest"], image)
        fresh = store.__class__(os.path.join(work, "fresh"))
        fresh("pull", f"{reg.host}/team/hello")
        store.expect_error("build", ".", "-t", "plain:v1", "--push", cwd=HELLO_DIR, contains=["plain:v1", "registry"])

        build_hello(store, "-t", f"{reg.host}/base:1", "--env", "FROM_BASE=1", "--push",
                    "--platform", "linux/amd64,linux/arm64")
        other = store.__class__(os.path.join(work, "other"))
        derived = build_hello(other, "--base", f"{reg.host}/base:1", "-t", "derived", "--platform", "all")
        check(len(derived["platforms"]) == 2, derived)
        info = json.loads(other("inspect", "derived").stdout)[0]
        check("FROM_BASE=1" in info["manifests"][0]["config"]["config"]["Env"], info)
        check(info["manifests"][0]["manifest"]["annotations"]["org.opencontainers.image.base.name"] ==
              f"{reg.host}/base:1", info)


def test_run_pulls_a_missing_image(store, work):
    with registry() as reg:
        ref = f"{reg.host}/team/hello:v1"
        store("build", ".", "-t", ref, "--push", "-q", "--platform", "linux/amd64,linux/arm64", cwd=HELLO_DIR)
        fresh = store.__class__(os.path.join(work, "fresh"))
        fresh.expect_error("run", "--rm", "--pull", "never", ref, "once", contains=["not found", "pull"])
        out = fresh("run", "--rm", ref, "once").stdout
        check(out == "Hello, World!\n", out)
        # Only this machine's variant came down, named as it was run.
        images = json.loads(fresh("images", "--json").stdout)
        check([i["name"] for i in images] == [ref], images)
        check(fresh("run", "--rm", "--pull", "always", ref, "once").stdout == "Hello, World!\n", "pull always")
        fresh.expect_error("run", "--rm", "--pull", "sometimes", ref, contains="invalid --pull")


def test_basic_auth_login_logout_and_helper(store, work):
    env = isolated_env(work)
    with registry(users={"alice": "s3cret"}) as reg:
        ref = f"{reg.host}/private/hello:v1"
        build_hello(store, "-t", ref)
        store.expect_error("push", ref, env=env, contains=["requires authentication", f"gocrate login {reg.host}"])
        result = store("login", reg.host, "-u", "alice", "--password-stdin", check_rc=False, input="wrong\n", env=env)
        check(result.returncode != 0 and "wrong username or password" in result.stderr, result.stderr)
        store("login", reg.host, "-u", "alice", "--password-stdin", input="s3cret\n", env=env)
        config_path = os.path.join(env["DOCKER_CONFIG"], "config.json")
        check(stat.S_IMODE(os.stat(config_path).st_mode) == 0o600, oct(os.stat(config_path).st_mode))
        auths = json.load(open(config_path))["auths"]
        check(reg.host in auths and "auth" in auths[reg.host], auths)
        store("push", ref, env=env)
        fresh = store.__class__(os.path.join(work, "fresh"))
        fresh("pull", ref, env=env)
        check("Removed" in store("logout", reg.host, env=env).stdout, "logout")
        fresh.expect_error("pull", ref, env=env, contains=["requires authentication"])

        # A credsStore helper receives the credentials instead of config.json.
        helper_dir = os.path.join(work, "bin")
        os.makedirs(helper_dir)
        secrets = os.path.join(work, "helper-secrets.json")
        helper = os.path.join(helper_dir, "docker-credential-e2e")
        open(helper, "w").write(f"""#!/usr/bin/env python3
import json, os, sys
path = {secrets!r}
data = json.load(open(path)) if os.path.exists(path) else {{}}
action = sys.argv[1]
if action == "store":
    entry = json.load(sys.stdin)
    data[entry["ServerURL"]] = entry
    json.dump(data, open(path, "w"))
elif action == "get":
    url = sys.stdin.read().strip()
    if url not in data:
        print("credentials not found in native keychain")
        sys.exit(1)
    print(json.dumps(data[url]))
elif action == "erase":
    data.pop(sys.stdin.read().strip(), None)
    json.dump(data, open(path, "w"))
""")
        os.chmod(helper, 0o755)
        json.dump({"credsStore": "e2e"}, open(config_path, "w"))
        helper_env = dict(env, PATH=f"{helper_dir}:{os.environ['PATH']}")
        out = store("login", reg.host, "-u", "alice", "--password-stdin", input="s3cret", env=helper_env).stdout
        check("docker-credential-e2e" in out, out)
        check(json.load(open(secrets))[reg.host]["Secret"] == "s3cret", "helper did not store")
        check("auths" not in json.load(open(config_path)), "password written to config.json")
        fresh("pull", ref, env=helper_env)
        store("logout", reg.host, env=helper_env)
        check(json.load(open(secrets)) == {}, "helper did not erase")


def test_token_auth_scopes_and_token_reuse(store, work):
    env = isolated_env(work)
    users = {"alice": ("alicepw", {"*": "pull,push"}), "bob": ("bobpw", {"*": "pull"})}
    with registry(token_users=users) as reg:
        ref = f"{reg.host}/team/hello:v1"
        build_hello(store, "-t", ref, "--platform", "linux/amd64,linux/arm64")
        store.expect_error("push", ref, env=env, contains=["gocrate login"])
        store("login", reg.host, "-u", "alice", "--password-stdin", input="alicepw", env=env)
        issuer = reg.token_issuer
        issuer.requests.clear()
        store("push", ref, env=env)
        # One token serves every request and blob of the push.
        check(len(issuer.requests) == 1, issuer.requests)
        check(issuer.requests[0][1] == ["repository:team/hello:pull,push"], issuer.requests)

        store("login", reg.host, "-u", "bob", "--password-stdin", input="bobpw", env=env)
        store.expect_error("push", ref, f"{reg.host}/team/other:v1", env=env, contains=["denied", "bob"])
        fresh = store.__class__(os.path.join(work, "fresh"))
        fresh("pull", ref, env=env)
        result = store("login", reg.host, "-u", "bob", "--password-stdin", check_rc=False, input="nope", env=env)
        check(result.returncode != 0 and "wrong username or password" in result.stderr, result.stderr)


def test_tls_with_a_private_ca(store, work):
    env = isolated_env(work)
    with registry(tls=True) as reg:
        ref = f"{reg.host}/hello:tls"
        build_hello(store, "-t", ref)
        line = store.expect_error("push", ref, env=env, contains=["not trusted", "localhost", "ca.crt",
                                                                  "--insecure-registry"])
        check("gocrate test CA" in line, line)
        store("push", ref, "--insecure-registry", reg.host, env=env)
        ca_dir = os.path.join(env["XDG_CONFIG_HOME"], "gocrate", "certs.d", reg.host)
        os.makedirs(ca_dir)
        os.symlink(reg.ca_cert, os.path.join(ca_dir, "ca.crt"))
        fresh = store.__class__(os.path.join(work, "fresh"))
        fresh("pull", ref, env=env)
        check(len(json.loads(fresh("images", "--json").stdout)) == 1, "pulled over TLS")


def test_clear_errors(store, work):
    with registry() as reg:
        store.expect_error("pull", f"{reg.host}/Hello:v1", contains="invalid reference")
        store.expect_error("pull", f"{reg.host}/hello:nope", contains=["not found", "nope"])
        store.expect_error("pull", "hello", contains="names no registry")
        build_hello(store, "-t", "local:v1")
        store.expect_error("push", "local:v1", contains="names no registry")
        port = reg.port
    start = time.monotonic()
    store.expect_error("pull", f"127.0.0.1:{port}/hello:v1", contains=["cannot reach registry", "is it running"])
    check(time.monotonic() - start < 10, "a registry that is down takes too long to report")



def test_interop_with_skopeo_podman_and_docker(store, work):
    require("skopeo", "skopeo")
    with registry() as reg:
        ref = f"{reg.host}/hello:v1"
        layout = os.path.join(work, "layout")
        image = build_hello(store, "-t", ref, "--platform", "linux/amd64,linux/arm64", "--oci-layout", layout)
        store("push", ref)
        # skopeo reads what gocrate pushed, every platform.
        run(["skopeo", "copy", "--all", "--src-tls-verify=false", f"docker://{ref}", f"oci:{work}/copied:v1"])
        copied = json.load(open(os.path.join(work, "copied", "index.json")))
        check(copied["manifests"][0]["digest"] == image["digest"], copied)

        # gocrate reads what skopeo pushed as Docker schema 2: single manifests and a manifest list.
        run(["skopeo", "copy", "--all", "--format", "v2s2", "--dest-tls-verify=false", f"oci:{layout}:v1",
             f"docker://{reg.host}/from-skopeo:list"])
        run(["skopeo", "copy", "--format", "v2s2", "--dest-tls-verify=false", f"oci:{layout}:v1-linux-amd64",
             f"docker://{reg.host}/from-skopeo:single"])
        fresh = store.__class__(os.path.join(work, "fresh"))
        listed = json.loads(fresh("pull", f"{reg.host}/from-skopeo:list", "--platform", "all", "--json").stdout)
        check(listed["mediaType"] == "application/vnd.docker.distribution.manifest.list.v2+json", listed)
        single = json.loads(fresh("pull", f"{reg.host}/from-skopeo:single", "--json").stdout)
        check(single["mediaType"] == "application/vnd.docker.distribution.manifest.v2+json", single)
        info = json.loads(fresh("inspect", f"{reg.host}/from-skopeo:list").stdout)[0]
        check([m["manifest"]["mediaType"] for m in info["manifests"]] ==
              ["application/vnd.docker.distribution.manifest.v2+json"] * 2, info)
        # And pushes it on, as it is.
        moved = json.loads(fresh("push", f"{reg.host}/from-skopeo:list", f"{reg.host}/moved:list", "--json").stdout)
        check(moved["digest"] == listed["digest"], moved)

        skipped = []
        try:
            with podman() as pm:
                pm("pull", "--tls-verify=false", ref)
                out = pm("run", "--rm", "--network", "none", ref, "once").stdout
                check(out == "Hello, World!\n", out)
        except Skip as e:
            skipped.append(f"podman: {e}")
        try:
            with docker_daemon() as docker:
                # Docker treats 127.0.0.0/8 registries as insecure: plain HTTP works.
                docker("pull", ref)
                out = docker("run", "--rm", "--network", "none", ref, "once").stdout
                check(out == "Hello, World!\n", out)
                docker("tag", ref, f"{reg.host}/from-docker:v1")
                docker("push", f"{reg.host}/from-docker:v1")
                pulled = json.loads(fresh("pull", f"{reg.host}/from-docker:v1", "--json").stdout)
                check(pulled["mediaType"] == "application/vnd.docker.distribution.manifest.v2+json", pulled)
                config = json.loads(fresh("inspect", f"{reg.host}/from-docker:v1").stdout)[0]
                check(config["manifests"][0]["config"]["config"]["Entrypoint"] == ["/app/hello"], config)
        except Skip as e:
            skipped.append(f"docker: {e}")
        if skipped:
            raise Skip("; ".join(skipped))


def build_big_image(store, work, ref, megabytes=160):
    """hello plus an uncompressed layer of random data."""
    big = os.path.join(work, "random.bin")
    with open(big, "wb") as out:
        for _ in range(megabytes):
            out.write(os.urandom(1 << 20))
    return build_hello(store, "-t", ref, "--file", f"{big}:/data/random.bin", "--compression", "none", "--sbom",
                       "none")


def upload_files(reg):
    uploads = []
    for dirpath, _, files in os.walk(os.path.join(reg.root, "docker/registry/v2/repositories")):
        if "_uploads" in dirpath and "data" in files:
            uploads.append(os.path.join(dirpath, "data"))
    return uploads


def test_registry_killed_mid_push_then_push_completes(store, work):
    with registry() as reg:
        ref = f"{reg.host}/big:v1"
        build_big_image(store, work, ref)
        push = subprocess.Popen([os.environ.get("GOCRATE", "gocrate"), "--root", store.path, "push", ref, "--json"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

        def uploading():
            return any(os.path.getsize(p) > (8 << 20) for p in upload_files(reg) if os.path.exists(p))
        wait_for(uploading, 60, "the big layer's upload to start")
        reg.kill()
        time.sleep(1.5)
        reg.start()
        out, err = push.communicate(timeout=300)
        check(push.returncode == 0, f"push did not complete after the restart: {err}")
        check(json.loads(out)["reference"] == ref, out)
        fresh = store.__class__(os.path.join(work, "fresh"))
        fresh("pull", ref)  # verifies every blob

        # Down for longer than the retries last: one clear line, then the next push completes.
        ref2 = f"{reg.host}/big:v2"
        store("tag", ref, ref2)
        store("build", ".", "-q", "-t", ref2, "--env", "CHANGED=1", "--file",
              f"{os.path.join(work, 'random.bin')}:/data/other.bin", "--compression", "none", cwd=HELLO_DIR)
        push = subprocess.Popen([os.environ.get("GOCRATE", "gocrate"), "--root", store.path, "push", ref2],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        wait_for(uploading, 60, "the second upload to start")
        reg.kill()
        out, err = push.communicate(timeout=300)
        lines = [line for line in err.splitlines() if line.startswith("gocrate")]
        check(push.returncode != 0 and len(lines) == 1 and "registry" in lines[0], err)
        reg.start()
        store("push", ref2)
        fresh("pull", ref2)


class CuttingProxy:
    """A TCP proxy on loopback in front of the registry that forwards HTTP/1.1
    requests as they are and, once, drops the connection instead of
    forwarding the first request that continues an upload past its first
    chunk (a Content-Range that does not start at 0): the registry then holds
    exactly the first chunk, as after a network failure between chunks.
    With cut_download (a digest), it instead drops the first download of that
    blob after 1 MB of its response has gone through."""

    def __init__(self, target_port, cut_download=None):
        self.target_port = target_port
        self.requests = []  # (method, path, content-range, range)
        self.cut = False
        self.cut_download = cut_download
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self):
        self.listener.close()

    def _accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _pump(self, source, sink, limit):
        try:
            while data := source.recv(1 << 16):
                sink.sendall(data)
                limit["sent"] += len(data)
                if limit["bytes"] is not None and limit["sent"] >= limit["bytes"]:
                    sink.shutdown(socket.SHUT_RDWR)
                    source.shutdown(socket.SHUT_RDWR)
                    return
        except OSError:
            pass

    def _serve(self, client):
        server = socket.create_connection(("127.0.0.1", self.target_port))
        limit = {"bytes": None, "sent": 0}
        threading.Thread(target=self._pump, args=(server, client, limit), daemon=True).start()
        buffer = b""
        try:
            while True:
                while b"\r\n\r\n" not in buffer:
                    data = client.recv(1 << 16)
                    if not data:
                        return
                    buffer += data
                head, _, buffer = buffer.partition(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, path = lines[0].split(" ")[:2]
                headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
                content_range = headers.get("content-range", "")
                self.requests.append((method, path, content_range, headers.get("range", "")))
                if self.cut_download and not self.cut and method == "GET" and path.endswith(self.cut_download):
                    self.cut = True
                    limit["bytes"] = limit["sent"] + (1 << 20)
                elif not self.cut_download and not self.cut and content_range and not content_range.startswith("0-"):
                    self.cut = True
                    return
                server.sendall(head + b"\r\n\r\n")
                left = int(headers.get("content-length", "0"))
                while left > 0:
                    if not buffer:
                        buffer = client.recv(min(left, 1 << 20))
                        if not buffer:
                            return
                    piece, buffer = buffer[:left], buffer[left:]
                    server.sendall(piece)
                    left -= len(piece)
        except OSError:
            pass
        finally:
            for s in (client, server):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()


def test_dropped_connection_resumes_from_the_registrys_range(store, work):
    with registry() as reg:
        proxy = CuttingProxy(reg.port)
        try:
            via_proxy = f"127.0.0.1:{proxy.port}/big:v1"
            build_big_image(store, work, via_proxy)
            pushed = json.loads(store("push", via_proxy, "--json").stdout)
        finally:
            proxy.close()
        check(proxy.cut, f"no upload went past its first chunk: {proxy.requests}")
        starts = [r for r in proxy.requests if r[0] == "POST"]
        check(len(starts) == pushed["blobs"]["uploaded"], f"an upload started over instead of resuming: {starts}")
        check(any(r[0] == "GET" and "/blobs/uploads/" in r[1] for r in proxy.requests), "the Range was not asked")
        continued = [r for r in proxy.requests if r[2] and not r[2].startswith("0-")]
        check(len(continued) >= 2 and continued[0][2] == continued[1][2], f"not resumed where it broke: {continued}")
        fresh = store.__class__(os.path.join(work, "fresh"))
        fresh("pull", f"{reg.host}/big:v1")  # verifies every blob


def test_dropped_download_resumes_with_a_range_request(store, work):
    with registry() as reg:
        ref = f"{reg.host}/big:v1"
        build_big_image(store, work, ref, megabytes=40)
        store("push", ref)
        layers = json.loads(store("inspect", ref).stdout)[0]["manifests"][0]["manifest"]["layers"]
        proxy = CuttingProxy(reg.port, cut_download=max(layers, key=lambda l: l["size"])["digest"])
        try:
            fresh = store.__class__(os.path.join(work, "fresh"))
            pulled = json.loads(fresh("pull", f"127.0.0.1:{proxy.port}/big:v1", "--json").stdout)
        finally:
            proxy.close()
        check(proxy.cut, "no download was cut")
        ranged = [r for r in proxy.requests if r[3].startswith("bytes=")]
        check(len(ranged) == 1 and ranged[0][3] != "bytes=0-", f"the download did not resume: {proxy.requests}")
        info = json.loads(fresh("inspect", pulled["name"]).stdout)[0]
        check(info["digest"] == pulled["digest"], info)


def test_tampered_blob_is_refused_and_nothing_stored(store, work):
    with registry() as reg:
        ref = f"{reg.host}/hello:v1"
        build_hello(store, "-t", ref)
        store("push", ref)
        manifest = json.loads(store("inspect", ref).stdout)[0]["manifests"][0]["manifest"]
        layer = max(manifest["layers"], key=lambda l: l["size"])["digest"]
        path = reg.blob_path(layer)
        data = bytearray(open(path, "rb").read())
        data[len(data) // 2] ^= 0xff
        open(path, "wb").write(bytes(data))
        fresh = store.__class__(os.path.join(work, "fresh"))
        fresh.expect_error("pull", ref, contains=[layer, "does not match its digest"])
        blobs = os.path.join(fresh.path, "blobs", "sha256")
        check(not os.path.exists(os.path.join(blobs, layer.split(":")[1])), "the tampered blob was stored")
        check(json.loads(fresh("images", "--json").stdout) == [], "a name was recorded")


def test_killed_pull_leaves_the_store_consistent(store, work):
    with registry() as reg:
        ref = f"{reg.host}/big:v1"
        build_big_image(store, work, ref, megabytes=200)
        store("push", ref)
        fresh = store.__class__(os.path.join(work, "fresh"))
        fresh("images")
        ingest = os.path.join(fresh.path, ".gocrate", "ingest")
        pull = subprocess.Popen([os.environ.get("GOCRATE", "gocrate"), "--root", fresh.path, "pull", ref],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        def downloading():
            return os.path.isdir(ingest) and any(os.path.getsize(os.path.join(ingest, f)) > (16 << 20)
                                                 for f in os.listdir(ingest))
        wait_for(downloading, 60, "the pull to be under way")
        pull.send_signal(signal.SIGKILL)
        pull.wait()
        check(json.loads(fresh("images", "--json").stdout) == [], "a killed pull recorded a name")
        blobs = os.path.join(fresh.path, "blobs", "sha256")
        for name in os.listdir(blobs):
            digest = hashlib.sha256(open(os.path.join(blobs, name), "rb").read()).hexdigest()
            check(digest == name, f"blob {name} in the store is not what its name says")
        fresh("pull", ref)
        check(len(json.loads(fresh("images", "--json").stdout)) == 1, "second pull")
        fresh("prune")
        check(not os.listdir(ingest), "prune left partial downloads")

if __name__ == "__main__":
    main(globals())
