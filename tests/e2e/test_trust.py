#!/usr/bin/env python3
"""Signatures and attestations in cosign's formats, checked against
verifiers that are not gocrate: openssl checks the simple-signing payloads
under the .sig tags and the DSSE envelopes under the .att tags, sigstore-js
(tests/sigstore) the envelopes; skopeo and Podman must accept what gocrate
signs under a containers-policy.json that requires it and refuse unsigned and
tampered images (another image's signature, a rewritten payload); gocrate
accepts what skopeo and openssl sign. Signatures travel with save/load and
push/pull, provenance names the git commit and modules, policies hold for
pull, run, create and build --base, and bad keys, passphrases and policies
fail with one clear line. A refused pull leaves nothing in the store.

Debian 12 builds skopeo and Podman with sigstore switched off ("Debian-local
change: sigstore disabled"): their parts then skip, saying so, after the
openssl checks ran; GOCRATE_SKOPEO names an upstream skopeo (1.10 or later)
to run skopeo's part."""

import base64
import hashlib
import json
import os
import shutil
import subprocess
import urllib.request

from harness import (SOURCE_DIR, Skip, Store, build_program, check, main, podman, registry,
                     require, run)

PASSWORD = "gocrate e2e passphrase"
ENV = {"GOCRATE_PASSWORD": PASSWORD}
SIGSTORE_JS = os.path.join(SOURCE_DIR, "tests", "sigstore")
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MANIFEST_TYPES = ", ".join([OCI_MANIFEST, "application/vnd.oci.image.index.v1+json",
                            "application/vnd.docker.distribution.manifest.v2+json",
                            "application/vnd.docker.distribution.manifest.list.v2+json"])
DSSE = "application/vnd.dsse.envelope.v1+json"
SIMPLE_SIGNING = "application/vnd.dev.cosign.simplesigning.v1+json"
COSIGN_SIGNATURE = "dev.cosignproject.cosign/signature"
# skopeo under test: Debian's cannot sign or verify sigstore signatures (see sigstore_disabled).
SKOPEO = os.environ.get("GOCRATE_SKOPEO", "skopeo")
SLSA_V1 = "https://slsa.dev/provenance/v1"


def program(word):
    return f'''package main

import (
	"fmt"
	"os"
)

func main() {{
	fmt.Println("{word}", len(os.Args))
}}
'''


def make_key(store, work, name):
    """A key pair made by `gocrate key generate`: (private key path, public key path)."""
    prefix = os.path.join(work, name)
    store("key", "generate", "--output-key-prefix", prefix, env=ENV)
    key, pub = prefix + ".key", prefix + ".pub"
    check("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----" in open(key).read(), open(key).read())
    check("-----BEGIN PUBLIC KEY-----" in open(pub).read(), open(pub).read())
    return key, pub


def registries_d(work, host):
    """A registries.d directory that tells skopeo, Podman and gocrate to use sigstore attachments on `host`."""
    path = os.path.join(work, "registries.d")
    os.makedirs(path, exist_ok=True)
    open(os.path.join(path, "gocrate-e2e.yaml"), "w").write(f"docker:\n  {host}:\n    use-sigstore-attachments: true\n")
    return path


def sigstore_signed(pub, identity=None):
    requirement = {"type": "sigstoreSigned", "keyPath": pub}
    if identity:
        requirement["signedIdentity"] = {"type": identity}
    return requirement


def write_policy(work, name, docker_scopes, default=None):
    """A containers-policy.json: `default` (reject when None) and {scope: [requirements]} for docker."""
    path = os.path.join(work, f"{name}.json")
    policy = {"default": default or [{"type": "reject"}], "transports": {"docker": docker_scopes}}
    open(path, "w").write(json.dumps(policy, indent=1))
    return path


def push_program(store, work, reg, repo, word, tag="v1"):
    """A one-file program built into the store and pushed as HOST/repo:tag; returns (reference, digest)."""
    local = f"{repo.replace('/', '-')}-{tag}"
    build_program(store, work, local, program(word))
    ref = f"{reg.host}/{repo}:{tag}"
    store("tag", local, ref)
    pushed = json.loads(store("push", ref, "--json").stdout)
    return ref, pushed["digest"]


def store_names(store):
    return store("images", "--format", "{{.Repository}}:{{.Tag}}").stdout.split()


# The registry's API, for what no client does on purpose: moving signatures between tags.

def http(method, url, data=None, headers=None):
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    with urllib.request.urlopen(request, timeout=60) as response:
        return response.status, response.headers, response.read()


def get_manifest(reg, repo, reference):
    _, headers, body = http("GET", f"http://{reg.host}/v2/{repo}/manifests/{reference}",
                            headers={"Accept": MANIFEST_TYPES})
    return body, headers["Content-Type"]


def put_manifest(reg, repo, reference, body, media_type):
    http("PUT", f"http://{reg.host}/v2/{repo}/manifests/{reference}", data=body,
         headers={"Content-Type": media_type})


def get_blob(reg, repo, digest):
    return http("GET", f"http://{reg.host}/v2/{repo}/blobs/{digest}")[2]


def put_blob(reg, repo, data):
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    _, headers, _ = http("POST", f"http://{reg.host}/v2/{repo}/blobs/uploads/")
    location = headers["Location"]
    if location.startswith("/"):
        location = f"http://{reg.host}{location}"
    separator = "&" if "?" in location else "?"
    http("PUT", f"{location}{separator}digest={digest}", data=data,
         headers={"Content-Type": "application/octet-stream"})
    return digest


def sig_tag(digest, kind="sig"):
    return f"sha256-{digest.split(':')[1]}.{kind}"


def swap_signature(reg, repo, victim, donor):
    """Puts the signature manifest of `donor` (validly signed, for the donor's digest) under `victim`'s .sig tag."""
    body, media_type = get_manifest(reg, repo, sig_tag(donor))
    put_manifest(reg, repo, sig_tag(victim), body, media_type)


def forge_payload(reg, repo, victim, donor):
    """`victim`'s .sig tag made from `donor`'s signature with its payload rewritten to name `victim`'s
    digest: the payload is right for the victim, the signature is over another payload."""
    body, media_type = get_manifest(reg, repo, sig_tag(donor))
    manifest = json.loads(body)
    for layer in manifest["layers"]:
        payload = json.loads(get_blob(reg, repo, layer["digest"]))
        payload["critical"]["image"]["docker-manifest-digest"] = victim
        data = json.dumps(payload).encode()
        layer["digest"], layer["size"] = put_blob(reg, repo, data), len(data)
    manifest.pop("subject", None)
    put_manifest(reg, repo, sig_tag(victim), json.dumps(manifest).encode(), media_type)


def attestations(reg, repo, digest):
    """The DSSE envelopes under the image's .att tag, as cosign reads them."""
    body, _ = get_manifest(reg, repo, sig_tag(digest, "att"))
    layers = json.loads(body)["layers"]
    return [(layer.get("annotations", {}), json.loads(get_blob(reg, repo, layer["digest"]))) for layer in layers
            if layer["mediaType"] == DSSE]


def openssl_verifies(work, pub, data, signature):
    """An ECDSA signature over SHA-256(data) checked by openssl, without gocrate."""
    data_path, sig_path = os.path.join(work, "signed.bin"), os.path.join(work, "signature.der")
    open(data_path, "wb").write(data)
    open(sig_path, "wb").write(signature)
    return run(["openssl", "dgst", "-sha256", "-verify", pub, "-signature", sig_path, data_path],
               check_rc=False).returncode == 0


def simple_signing_verifies(work, reg, repo, digest, pub, identity):
    """Whether one signature under the image's .sig tag is, as cosign and containers/image check it, a
    simple-signing payload for `digest` and `identity` whose signature (in the layer's annotation)
    openssl verifies with `pub`."""
    body, _ = get_manifest(reg, repo, sig_tag(digest))
    for layer in json.loads(body)["layers"]:
        if layer["mediaType"] != SIMPLE_SIGNING:
            continue
        payload = get_blob(reg, repo, layer["digest"])
        claims = json.loads(payload)["critical"]
        signature = base64.b64decode(layer["annotations"][COSIGN_SIGNATURE])
        if (claims["type"] == "cosign container image signature" and claims["image"]["docker-manifest-digest"] == digest
                and claims["identity"]["docker-reference"] == identity
                and openssl_verifies(work, pub, payload, signature)):
            return True
    return False


def sigstore_disabled(result, program):
    """Debian 12's skopeo and Podman are built with sigstore switched off ("Debian-local change: sigstore
    disabled"): the reason to skip when `result` says so, else None."""
    if "sigstore disabled" not in result.stderr:
        return None
    return (f"{program} here was built without sigstore signatures ({result.stderr.strip().splitlines()[-1]}); "
            f"set GOCRATE_SKOPEO to a skopeo built with them (upstream's, 1.10 or later)")


def skopeo_copy_in(work, policy, regd, ref):
    """skopeo copy of `ref` into an OCI layout under `policy`: the result."""
    dest = os.path.join(work, "skopeo-" + hashlib.sha256(ref.encode()).hexdigest()[:12])
    shutil.rmtree(dest, ignore_errors=True)
    return run([SKOPEO, "copy", "--policy", policy, "--registries.d", regd, "--src-tls-verify=false",
                "--remove-signatures", f"docker://{ref}", f"oci:{dest}:v1"], check_rc=False)


def podman_pull(call, home, policy, ref):
    """podman pull under `policy`; Podman has no registries.d flag, but reads
    $HOME/.config/containers/registries.d before the system's."""
    return call("pull", "--signature-policy", policy, "--tls-verify=false", f"docker://{ref}", check_rc=False,
                env={"HOME": home})


def podman_home(work, regd):
    home = os.path.join(work, "podman-home")
    shutil.copytree(regd, os.path.join(home, ".config", "containers", "registries.d"), dirs_exist_ok=True)
    return home


def test_skopeo_and_podman_verify_what_gocrate_signs(store, work):
    require("openssl", "openssl")
    key, pub = make_key(store, work, "gocrate")
    skipped = []
    with registry() as reg:
        signed, signed_digest = push_program(store, work, reg, "trusted/app", "signed")
        other, other_digest = push_program(store, work, reg, "trusted/app", "other", tag="v2")
        unsigned, _ = push_program(store, work, reg, "untrusted/app", "unsigned")
        store("sign", signed, "--key", key, env=ENV)
        store("sign", other, "--key", key, env=ENV)
        check(simple_signing_verifies(work, reg, "trusted/app", signed_digest, pub, signed),
              "no signature under the .sig tag that openssl verifies as cosign's simple signing")
        check(simple_signing_verifies(work, reg, "trusted/app", other_digest, pub, other),
              "no signature under the .sig tag that openssl verifies as cosign's simple signing")
        _, wrong_pub = make_key(store, work, "wrong")
        check(not simple_signing_verifies(work, reg, "trusted/app", signed_digest, wrong_pub, signed),
              "openssl verified gocrate's signature with another key")

        regd = registries_d(work, reg.host)
        policies = {
            "host scope, default identity": write_policy(work, "host", {reg.host: [sigstore_signed(pub)]}),
            "repository scope, matchRepoDigestOrExact": write_policy(
                work, "repo-exact", {f"{reg.host}/trusted/app": [sigstore_signed(pub, "matchRepoDigestOrExact")],
                                     reg.host: [sigstore_signed(pub)]}),
            "repository scope, matchRepository": write_policy(
                work, "repo", {f"{reg.host}/trusted/app": [sigstore_signed(pub, "matchRepository")],
                               reg.host: [sigstore_signed(pub)]}),
        }
        host_policy = policies["host scope, default identity"]
        if not shutil.which(SKOPEO):
            skipped.append(f"{SKOPEO} is not installed (Debian package skopeo)")
        elif reason := sigstore_disabled(skopeo_copy_in(work, host_policy, regd, signed), "skopeo"):
            skipped.append(reason)
        else:
            for what, policy in policies.items():
                for image in (signed, other):
                    accepted = skopeo_copy_in(work, policy, regd, image)
                    check(accepted.returncode == 0, f"skopeo refused gocrate's signature ({what}): {accepted.stderr}")
                refused = skopeo_copy_in(work, policy, regd, unsigned)
                check(refused.returncode != 0 and "signature" in refused.stderr,
                      f"skopeo accepted an unsigned image ({what}): {refused.stdout} {refused.stderr}")
            # Without the registries.d entry skopeo does not look for sigstore attachments at all: the
            # acceptance above came from them.
            empty = os.path.join(work, "empty-registries.d")
            os.makedirs(empty)
            blind = skopeo_copy_in(work, host_policy, empty, signed)
            check(blind.returncode != 0, "skopeo accepted the image without reading its signature")

        # Tampered: the .sig tag of v1 holding v2's (valid) signature, then v2's payload rewritten for v1.
        swap_signature(reg, "trusted/app", signed_digest, other_digest)
        check(not simple_signing_verifies(work, reg, "trusted/app", signed_digest, pub, signed),
              "another image's signature passed for this one")
        if not skipped:
            refused = skopeo_copy_in(work, host_policy, regd, signed)
            check(refused.returncode != 0, f"skopeo accepted another image's signature: {refused.stdout}")
        forge_payload(reg, "trusted/app", signed_digest, other_digest)
        check(not simple_signing_verifies(work, reg, "trusted/app", signed_digest, pub, signed),
              "a payload passed with a signature over another payload")
        if not skipped:
            refused = skopeo_copy_in(work, host_policy, regd, signed)
            check(refused.returncode != 0, f"skopeo accepted a payload its signature is not over: {refused.stdout}")
        # Signing again puts a good signature beside the forged one: accepted again.
        store("sign", signed, "--key", key, env=ENV)
        check(simple_signing_verifies(work, reg, "trusted/app", signed_digest, pub, signed),
              "the signature made again is not there")
        if not skipped:
            accepted = skopeo_copy_in(work, host_policy, regd, signed)
            check(accepted.returncode == 0, f"skopeo refused the image signed again: {accepted.stderr}")

        if not shutil.which("podman"):
            skipped.append("podman is not installed (Debian package podman)")
        else:
            home = podman_home(work, regd)
            with podman() as call:
                pulled = podman_pull(call, home, host_policy, other)
                if reason := sigstore_disabled(pulled, "podman"):
                    skipped.append(reason.replace("set GOCRATE_SKOPEO to a skopeo built with them (upstream's, "
                                                  "1.10 or later)", "an upstream build of Podman has them"))
                else:
                    check(pulled.returncode == 0, f"podman refused gocrate's signature: {pulled.stderr}")
                    refused = podman_pull(call, home, host_policy, unsigned)
                    check(refused.returncode != 0 and "signature" in refused.stderr,
                          f"podman accepted an unsigned image: {refused.stdout} {refused.stderr}")
                    swap_signature(reg, "trusted/app", other_digest, signed_digest)
                    refused = podman_pull(call, home, host_policy, other)
                    check(refused.returncode != 0, f"podman accepted another image's signature: {refused.stdout}")
                    images = call("images", "--format", "{{.Repository}}:{{.Tag}}").stdout.split()
                    check(images == [other], f"podman stored more than the one signed image: {images}")
    if skipped:
        raise Skip("openssl verified gocrate's signatures as cosign's simple signing, but: " + "; ".join(skipped))


def cosign_layout_signature(work, reg, repo, digest, identity, ec_key):
    """A signature as cosign and skopeo write one, made with openssl and the registry's API alone: a
    simple-signing payload, its signature in the layer's annotation, no `subject`."""
    payload = json.dumps({"critical": {"identity": {"docker-reference": identity},
                                       "image": {"docker-manifest-digest": digest},
                                       "type": "cosign container image signature"}, "optional": None}).encode()
    data = os.path.join(work, "payload.json")
    open(data, "wb").write(payload)
    signature = subprocess.run(["openssl", "dgst", "-sha256", "-sign", ec_key, data], capture_output=True,
                               check=True).stdout
    payload_digest = put_blob(reg, repo, payload)
    config = json.dumps({"architecture": "", "config": {}, "created": "0001-01-01T00:00:00Z",
                         "history": [{"created": "0001-01-01T00:00:00Z"}], "os": "",
                         "rootfs": {"type": "layers", "diff_ids": [payload_digest]}}).encode()
    manifest = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "size": len(config),
                           "digest": put_blob(reg, repo, config)},
                "layers": [{"mediaType": SIMPLE_SIGNING, "size": len(payload), "digest": payload_digest,
                            "annotations": {COSIGN_SIGNATURE: base64.b64encode(signature).decode()}}]}
    put_manifest(reg, repo, sig_tag(digest), json.dumps(manifest).encode(), OCI_MANIFEST)


def test_gocrate_verifies_what_others_sign(store, work):
    require("openssl", "openssl")
    ec_key = os.path.join(work, "ec.pem")
    run(["openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", ec_key])
    key = os.path.join(work, "imported")
    store("key", "import", ec_key, "--output-key-prefix", key, env=ENV)
    key, pub = key + ".key", key + ".pub"
    with registry() as reg:
        regd = registries_d(work, reg.host)
        env = {**ENV, "GOCRATE_REGISTRIES_D": regd}
        policy = write_policy(work, "signed", {reg.host: [sigstore_signed(pub)]})

        # Signed by openssl in cosign's layout.
        source, source_digest = push_program(store, work, reg, "source/app", "foreign-signed")
        unsigned, _ = push_program(store, work, reg, "source/unsigned", "unsigned")
        cosign_layout_signature(work, reg, "source/app", source_digest, source, ec_key)
        store("verify", source, "--key", pub, env=env)
        fresh = Store(os.path.join(work, "fresh"))
        fresh("pull", "--signature-policy", policy, source, env=env)
        out = fresh("run", "--rm", "--signature-policy", policy, source, env=env).stdout
        check(out.startswith("foreign-signed"), out)
        fresh.expect_error("pull", "--signature-policy", policy, unsigned, contains=[unsigned, reg.host], env=env)
        check(unsigned not in store_names(fresh), store_names(fresh))

        # Signed by skopeo.
        passphrase = os.path.join(work, "passphrase")
        open(passphrase, "w").write(PASSWORD)
        if not shutil.which(SKOPEO):
            raise Skip(f"{SKOPEO} is not installed (Debian package skopeo): signatures made by openssl checked, "
                       "skopeo's not")
        accept = write_policy(work, "accept-all", {}, default=[{"type": "insecureAcceptAnything"}])
        target = f"{reg.host}/other:v1"
        copied = run([SKOPEO, "copy", "--policy", accept, "--registries.d", regd, "--src-tls-verify=false",
                      "--dest-tls-verify=false", "--sign-by-sigstore-private-key", key, "--sign-passphrase-file",
                      passphrase, f"docker://{unsigned}", f"docker://{target}"], check_rc=False)
        if reason := sigstore_disabled(copied, "skopeo"):
            raise Skip(f"signatures made by openssl checked, skopeo's not: {reason}")
        check(copied.returncode == 0, f"skopeo could not sign with gocrate's key: {copied.stderr}")
        store("verify", target, "--key", pub, env=env)
        fresh("pull", "--signature-policy", policy, target, env=env)
        out = fresh("run", "--rm", "--signature-policy", policy, target, env=env).stdout
        check(out.startswith("unsigned"), out)
        generated_key, _ = make_key(store, work, "gocrate")
        target = f"{reg.host}/other:v2"
        run([SKOPEO, "copy", "--policy", accept, "--registries.d", regd, "--src-tls-verify=false",
             "--dest-tls-verify=false", "--sign-by-sigstore-private-key", generated_key, "--sign-passphrase-file",
             passphrase, f"docker://{unsigned}", f"docker://{target}"])
        store("verify", target, "--key", generated_key[:-4] + ".pub", env=env)


def test_refusals_name_their_reason(store, work):
    key, pub = make_key(store, work, "gocrate")
    _, wrong_pub = make_key(store, work, "wrong")
    with registry() as reg:
        signed, signed_digest = push_program(store, work, reg, "app", "signed")
        other, other_digest = push_program(store, work, reg, "app", "other", tag="v2")
        unsigned, unsigned_digest = push_program(store, work, reg, "app", "unsigned", tag="v3")
        regd = registries_d(work, reg.host)
        env = {**ENV, "GOCRATE_REGISTRIES_D": regd}
        store("sign", signed, "--key", key, env=env)
        store("sign", other, "--key", key, env=env)
        store("verify", signed, "--key", pub, env=env)

        store.expect_error("verify", signed, "--key", wrong_pub, contains=[signed, "not signed by this key"], env=env)
        store.expect_error("verify", unsigned, "--key", pub, contains=[unsigned, sig_tag(unsigned_digest)], env=env)

        policy = write_policy(work, "signed", {reg.host: [sigstore_signed(pub)]})
        swap_signature(reg, "app", signed_digest, other_digest)
        store.expect_error("verify", signed, "--key", pub, contains=[signed, other_digest], env=env)
        fresh = Store(os.path.join(work, "fresh"))
        fresh.expect_error("pull", "--signature-policy", policy, signed, contains=reg.host, env=env)
        check(store_names(fresh) == [], f"a refused pull left images: {store_names(fresh)}")
        check(not os.path.exists(os.path.join(fresh.path, "blobs", "sha256", signed_digest.split(":")[1])),
              "a refused pull left the image's manifest in the store")
        forge_payload(reg, "app", signed_digest, other_digest)
        fresh.expect_error("pull", "--signature-policy", policy, signed, contains=reg.host, env=env)
        check(store_names(fresh) == [], f"a refused pull left images: {store_names(fresh)}")
        fresh("pull", "--signature-policy", policy, other, env=env)
        check(store_names(fresh) == [other], store_names(fresh))


def test_bad_keys_passphrases_and_policies(store, work):
    key, pub = make_key(store, work, "gocrate")
    build_program(store, work, "built", program("built"))
    elsewhere = Store(os.path.join(work, "elsewhere"))
    build_program(elsewhere, work, "loaded", program("loaded"))
    elsewhere("save", "loaded", "-o", os.path.join(work, "loaded.tar"))
    store("load", "-q", "-i", os.path.join(work, "loaded.tar"))

    store.expect_error("sign", "built", "--key", key, contains=[key, "passphrase"],
                       env={"GOCRATE_PASSWORD": "not it"})
    store.expect_error("verify", "built", "--key", key, contains=key)

    rsa = os.path.join(work, "rsa.pem")
    run(["openssl", "genrsa", "-out", rsa, "2048"])
    store.expect_error("key", "import", rsa, "--output-key-prefix", os.path.join(work, "imported"), contains=rsa,
                       env=ENV)
    check(not os.path.exists(os.path.join(work, "imported.key")), "an RSA key was imported")
    ec = os.path.join(work, "ec.pem")
    run(["openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", ec])
    store("key", "import", ec, "--output-key-prefix", os.path.join(work, "imported"), env=ENV)
    public = store("key", "public", "--key", os.path.join(work, "imported.key"), env=ENV).stdout
    expected = run(["openssl", "ec", "-in", ec, "-pubout"]).stdout
    check(public.strip() == expected.strip(), f"{public!r} != {expected!r}")

    # A policy gocrate cannot read is an error on every image, whatever the policy would say of it.
    malformed = os.path.join(work, "malformed-policy.json")
    open(malformed, "w").write('{"default": [{"type": "sigstoreSigned"}]')
    unknown = write_policy(work, "unknown", {}, default=[{"type": "trustMeBro"}])
    missing_key = write_policy(work, "missing-key", {}, default=[sigstore_signed(os.path.join(work, "none.pub"))])
    with registry() as reg:
        ref = f"{reg.host}/loaded:v1"
        store("tag", "loaded", ref)
        store("push", "-q", ref)
        fresh = Store(os.path.join(work, "fresh"))
        for policy in (malformed, unknown, missing_key):
            fresh.expect_error("pull", "--signature-policy", policy, ref, contains=policy)
            check(store_names(fresh) == [], f"a refused pull left images: {store_names(fresh)}")
            store.expect_error("run", "--rm", "--signature-policy", policy, "loaded", contains=policy)
    for policy in (malformed, unknown, missing_key):
        store.expect_error("run", "--rm", "--signature-policy", policy, "built", contains=policy)


def test_signatures_travel_with_save_and_load(store, work):
    key, pub = make_key(store, work, "gocrate")
    build_program(store, work, "travel", program("travel"))
    store("sign", "travel", "--key", key, env=ENV)
    store("verify", "travel", "--key", pub)
    archive = os.path.join(work, "travel.tar")
    store("save", "travel", "-o", archive)
    other = Store(os.path.join(work, "other"))
    other("load", "-q", "-i", archive)
    other("verify", "travel", "--key", pub)
    policy = write_policy(work, "signed", {}, default=[sigstore_signed(pub)])
    out = other("run", "--rm", "--signature-policy", policy, "travel").stdout
    check(out.startswith("travel"), out)


def test_run_policy_on_store_images(store, work):
    key, pub = make_key(store, work, "gocrate")
    policy = write_policy(work, "signed", {}, default=[sigstore_signed(pub)])
    elsewhere = Store(os.path.join(work, "elsewhere"))
    build_program(elsewhere, work, "loaded", program("loaded"))
    archive = os.path.join(work, "loaded.tar")
    elsewhere("save", "loaded", "-o", archive)
    store("load", "-q", "-i", archive)
    line = store.expect_error("run", "--rm", "--signature-policy", policy, "loaded", contains="loaded")
    check("scope" in line or "default" in line, f"the refusal does not name the policy's scope: {line}")
    store.expect_error("create", "--signature-policy", policy, "loaded", contains="loaded")
    base_user = os.path.join(work, "src-base-user")
    os.makedirs(base_user)
    open(os.path.join(base_user, "go.mod"), "w").write("module example.com/baseuser\n\ngo 1.19\n")
    open(os.path.join(base_user, "main.go"), "w").write(program("base-user"))
    store.expect_error("build", ".", "-q", "--base", "loaded", "-t", "on-loaded", "--signature-policy", policy,
                       contains="loaded", cwd=base_user)
    check("on-loaded:latest" not in store_names(store), store_names(store))
    # An archive has no signatures: a policy that wants them refuses it as a base, by its transport's scope.
    store.expect_error("build", ".", "-q", "--base", "docker-archive:" + archive, "-t", "on-archive",
                       "--signature-policy", policy, contains="docker-archive:", cwd=base_user)
    check("on-archive:latest" not in store_names(store), store_names(store))
    archives_ok = os.path.join(work, "archives-ok.json")
    with open(archives_ok, "w") as f:
        json.dump({"default": [sigstore_signed(pub)],
                   "transports": {"docker-archive": {"": [{"type": "insecureAcceptAnything"}]}}}, f)
    store("build", ".", "-q", "--base", "docker-archive:" + archive, "-t", "on-archive", "--signature-policy",
          archives_ok, cwd=base_user)

    build_program(store, work, "local", program("local"))
    out = store("run", "--rm", "--signature-policy", policy, "local").stdout
    check(out.startswith("local"), out)

    store("sign", "loaded", "--key", key, env=ENV)
    out = store("run", "--rm", "--signature-policy", policy, "loaded").stdout
    check(out.startswith("loaded"), out)
    store("build", ".", "-q", "--base", "loaded", "-t", "on-loaded", "--signature-policy", policy, cwd=base_user)


def git_program(work):
    """A program with a commit of its own in a git repository and a dependency (a local replace):
    (source directory, commit)."""
    require("git", "git")
    src = os.path.join(work, "git-app")
    dep = os.path.join(src, "greeting")
    os.makedirs(dep)
    open(os.path.join(src, "go.mod"), "w").write(
        "module example.com/trustapp\n\ngo 1.19\n\nrequire example.com/greeting v0.1.0\n\n"
        "replace example.com/greeting => ./greeting\n")
    open(os.path.join(src, "main.go"), "w").write(
        'package main\n\nimport (\n\t"fmt"\n\n\t"example.com/greeting"\n)\n\n'
        'func main() {\n\tfmt.Println(greeting.Text)\n}\n')
    open(os.path.join(dep, "go.mod"), "w").write("module example.com/greeting\n\ngo 1.19\n")
    open(os.path.join(dep, "greeting.go"), "w").write('package greeting\n\nconst Text = "provenance"\n')
    git = ["git", "-C", src, "-c", "user.name=gocrate e2e", "-c", "user.email=e2e@gocrate.invalid"]
    run(git + ["init", "-q"])
    run(git + ["add", "."])
    run(git + ["commit", "-q", "-m", "the program"])
    return src, run(git + ["rev-parse", "HEAD"]).stdout.strip()


def pae(payload_type, payload):
    return b"DSSEv1 %d %s %d %s" % (len(payload_type), payload_type.encode(), len(payload), payload)


def openssl_verify_dsse(work, envelope, pub):
    """DSSE checked without gocrate: openssl over the pre-authentication encoding. True when one signature verifies."""
    payload = base64.b64decode(envelope["payload"])
    data = os.path.join(work, "pae.bin")
    open(data, "wb").write(pae(envelope["payloadType"], payload))
    for i, signature in enumerate(envelope["signatures"]):
        sig = os.path.join(work, f"dsse-{i}.sig")
        open(sig, "wb").write(base64.b64decode(signature["sig"]))
        if run(["openssl", "dgst", "-sha256", "-verify", pub, "-signature", sig, data],
               check_rc=False).returncode == 0:
            return True
    return False


def sigstore_js_verify(work, envelope, pub):
    path = os.path.join(work, "envelope.json")
    open(path, "w").write(json.dumps(envelope))
    return run(["node", os.path.join(SIGSTORE_JS, "verify-dsse.mjs"), path, pub], check_rc=False)


def test_build_push_sign_attests_provenance_that_travels(store, work):
    require("openssl", "openssl")
    key, pub = make_key(store, work, "gocrate")
    _, wrong_pub = make_key(store, work, "wrong")
    src, commit = git_program(work)
    with registry() as reg:
        ref = f"{reg.host}/provenance:v1"
        regd = registries_d(work, reg.host)
        env = {**ENV, "GOCRATE_REGISTRIES_D": regd}
        built = json.loads(store("build", ".", "-q", "--json", "-t", ref, "--push", "--sign", "--key", key,
                                 env=env, cwd=src).stdout)
        digest = built["images"][0]["digest"]
        store("verify", ref, "--key", pub, env=env)

        envelopes = attestations(reg, "provenance", digest)
        types = sorted(json.loads(base64.b64decode(e["payload"]))["predicateType"] for _, e in envelopes)
        check(types == sorted([SLSA_V1, "https://spdx.dev/Document"]), f"attestations under the .att tag: {types}")
        for annotations, envelope in envelopes:
            statement = json.loads(base64.b64decode(envelope["payload"]))
            check(envelope["payloadType"] == "application/vnd.in-toto+json", envelope["payloadType"])
            check([s["digest"]["sha256"] for s in statement["subject"]] == [digest.split(":")[1]], statement)
            check(openssl_verify_dsse(work, envelope, pub), f"openssl does not verify {statement['predicateType']}")
            check(not openssl_verify_dsse(work, envelope, wrong_pub), "openssl verified with another key")
            tampered = dict(envelope, payload=base64.b64encode(
                json.dumps(dict(statement, subject=[])).encode()).decode())
            check(not openssl_verify_dsse(work, tampered, pub), "openssl verified a changed statement")
            if statement["predicateType"] == SLSA_V1:
                provenance = statement["predicate"]
        text = json.dumps(provenance)
        for needed in (commit, "example.com/trustapp", "example.com/greeting", "go1."):
            check(needed in text, f"the provenance does not name {needed}: {text}")

        # Pulled into a fresh store under a policy, the attestations come along and verify without the registry.
        policy = write_policy(work, "signed", {reg.host: [sigstore_signed(pub)]})
        fresh = Store(os.path.join(work, "fresh"))
        fresh("pull", "--signature-policy", policy, ref, env=env)
        fresh("tag", ref, "provenance-pulled")
    # The registry is gone: what follows reads the fresh store's copies. Its signature names the registry's
    # repository, so it verifies under that name and not under another.
    out = fresh("run", "--rm", "--signature-policy", policy, ref).stdout
    check(out.strip() == "provenance", out)
    fresh.expect_error("run", "--rm", "--signature-policy", write_policy(work, "signed-any", {}, default=[
        sigstore_signed(pub)]), "provenance-pulled", contains="provenance-pulled")
    report = json.loads(fresh("verify-attestation", "provenance-pulled", "--key", pub, "--type", "slsaprovenance1",
                              "--json").stdout)
    check(commit in json.dumps(report), f"the verified provenance does not name commit {commit}: {report}")
    fresh("verify-attestation", "provenance-pulled", "--key", pub, "--type", "spdxjson")
    fresh.expect_error("verify-attestation", "provenance-pulled", "--key", wrong_pub, "--type", "slsaprovenance1",
                       contains="provenance-pulled")

    if not os.path.isdir(os.path.join(SIGSTORE_JS, "node_modules", "@sigstore", "verify")):
        raise Skip("the @sigstore/verify npm package is missing (scripts/install-deps.sh installs it): "
                   "openssl verified the DSSE envelopes, sigstore-js did not")
    require("node", "nodejs")
    for _, envelope in envelopes:
        verified = sigstore_js_verify(work, envelope, pub)
        check(verified.returncode == 0, f"sigstore-js refused gocrate's envelope: {verified.stdout}")
        refused = sigstore_js_verify(work, envelope, wrong_pub)
        check(refused.returncode != 0, f"sigstore-js verified with another key: {refused.stdout}")


if __name__ == "__main__":
    main(globals())
