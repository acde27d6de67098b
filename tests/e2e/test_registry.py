#!/usr/bin/env python3
"""gocrate push, pull, login and logout against a real docker-registry
(distribution 2.8): plain HTTP, Basic and token auth, TLS with a CA of the
test's own; interop with skopeo, podman and docker both ways; a registry
killed mid-push; a tampered blob; a pull killed mid-way."""

import hashlib
import json
import os
import signal
import stat
import subprocess
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
        check(len(pushed["referrers"]) == 2, pushed)

        raw = skopeo_raw(ref)
        check(raw["mediaType"] == "application/vnd.oci.image.index.v1+json", raw)
        check(sorted(m["platform"]["architecture"] for m in raw["manifests"]) == ["amd64", "arm64"], raw)
        # The registry has no referrers API: each platform's SBOM is listed under the sha256-<digest> tag.
        for platform in image["platforms"]:
            listed = skopeo_raw(f"{reg.host}/hello:sha256-{platform['digest'].split(':')[1]}")
            check([m["artifactType"] for m in listed["manifests"]] == ["application/spdx+json"], listed)
            sbom = skopeo_raw(f"{reg.host}/hello@{listed['manifests'][0]['digest']}")
            check(sbom["subject"]["digest"] == platform["digest"], sbom)

        again = json.loads(store("push", ref, "--json").stdout)
        check(again["blobs"]["uploaded"] == 0 and again["digest"] == image["digest"], again)

        # Another repository of the same registry: blobs are mounted, not uploaded.
        mounted = json.loads(store("push", ref, f"{reg.host}/copy/hello:v2", "--json").stdout)
        check(mounted["blobs"]["mounted"] > 0 and mounted["blobs"]["uploaded"] == 0, mounted)

        fresh = store.__class__(os.path.join(work, "fresh"))
        pulled = json.loads(fresh("pull", ref, "--json", "--platform", "linux/arm64").stdout)
        arm = [p for p in image["platforms"] if p["platform"].startswith("linux/arm64")][0]
        check(pulled["digest"] == arm["digest"] and pulled["name"] == ref, pulled)
        everything = json.loads(fresh("pull", ref, "--json", "--platform", "all").stdout)
        check(everything["digest"] == image["digest"], everything)
        # The arm64 manifest was there already; of amd64's blobs the shared base layer was too.
        check(everything["blobs"] == {"pulled": 2, "existing": 1}, everything)
        info = json.loads(fresh("inspect", ref).stdout)[0]
        check(len(info["manifests"]) == 2, info)
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


if __name__ == "__main__":
    main(globals())
