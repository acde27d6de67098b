#!/usr/bin/env python3
"""Bad input to build, pack, load and the store: one clear line, a non-zero
exit, and nothing lost."""

import json
import os
import shutil
import subprocess

from harness import HELLO_DIR, Skip, check, check_blobs_match_names, main, run


def write_module(root, files):
    for path, text in files.items():
        full = os.path.join(root, path)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        open(full, "w").write(text)
    return root


def test_not_a_main_package(store, work):
    project = write_module(os.path.join(work, "lib"), {"go.mod": "module example.com/lib\n\ngo 1.19\n",
                                                        "lib.go": "package lib\n"})
    store.expect_error("build", ".", cwd=project, contains=["package lib, not a main package"])


def test_no_go_mod(store, work):
    project = write_module(os.path.join(work, "nomod"), {"main.go": "package main\nfunc main(){}\n"})
    store.expect_error("build", ".", cwd=project, contains=["no go.mod", "go mod init"])


def test_go_missing_everywhere(store, work):
    # Run with a PATH and HOME that hold no Go; make the standard locations unreadable to gocrate by
    # running in a mount namespace where they are hidden.
    if os.geteuid() != 0 or not shutil.which("unshare"):
        raise Skip("hiding the Go install needs root and unshare")
    script = ("mount -t tmpfs none /usr/lib/go 2>/dev/null; mount -t tmpfs none /usr/lib/go-1.19 2>/dev/null; "
              f"exec env -i PATH=/nonexistent HOME={work} {os.environ['GOCRATE']} --root {store.path} build .")
    result = subprocess.run(["unshare", "-m", "sh", "-c", script], cwd=HELLO_DIR, capture_output=True, text=True)
    lines = [line for line in result.stderr.splitlines() if line.startswith("gocrate")]
    check(result.returncode != 0 and len(lines) == 1 and "golang-go" in lines[0], result.stderr)


def test_compile_errors_are_shown_as_the_compiler_printed_them(store, work):
    project = write_module(os.path.join(work, "broken"), {
        "go.mod": "module example.com/broken\n\ngo 1.19\n",
        "main.go": "package main\n\nfunc main() {\n\tundefinedThing()\n}\n"})
    result = store("build", ".", "--platform", "linux/amd64,linux/arm64", cwd=project, check_rc=False)
    check(result.returncode != 0, "a broken program built")
    check("main.go:4:2: undefined: undefinedThing" in result.stderr, result.stderr)
    check("go build of example.com/broken for linux/" in result.stderr.splitlines()[-1], result.stderr)
    check(json.loads(store("images", "--json").stdout) == [], "a failed build left an image")


def test_unknown_platforms(store, work):
    store.expect_error("build", ".", "--platform", "linux/sparc", cwd=HELLO_DIR,
                       contains=["linux/sparc is not supported", "linux/arm64/v8"])
    store.expect_error("build", ".", "--platform", "windows/amd64", cwd=HELLO_DIR, contains=["not supported"])
    store.expect_error("build", ".", "--platform", "linux/arm/v7/extra", cwd=HELLO_DIR, contains=["invalid platform"])


def test_malformed_flags(store, work):
    cases = [
        (["--env", "NOEQUALS"], "invalid --env \"NOEQUALS\""),
        (["--port", "http"], "invalid --port \"http\""),
        (["--port", "70000"], "invalid --port \"70000\""),
        (["--user", "a:b:c"], "invalid --user \"a:b:c\""),
        (["--file", "missing.txt:/x"], "missing.txt does not exist"),
        (["--file", "main.go:relative/path"], "must be an absolute path"),
        (["--label", "=x"], "invalid --label"),
        (["--compression", "brotli"], "unknown compression"),
        (["--sbom", "cyclonedx"], "invalid --sbom"),
        (["-t", "Bad_Name"], "invalid reference"),
        (["--base", "nothere:v1"], "image nothere:v1 not found"),
        (["--base", "oci-layout:/nonexistent"], "not an OCI image layout"),
    ]
    for flags, text in cases:
        store.expect_error("build", ".", *flags, cwd=HELLO_DIR, contains=text)


def test_bad_epoch(store, work):
    store.expect_error("build", ".", cwd=HELLO_DIR, env={"SOURCE_DATE_EPOCH": "soon"},
                       contains="invalid SOURCE_DATE_EPOCH")


def test_base_without_the_platform(store, work):
    store("build", ".", "-t", "amd-only", "--platform", "linux/amd64", cwd=HELLO_DIR)
    store.expect_error("build", ".", "--base", "amd-only", "--platform", "linux/arm64", cwd=HELLO_DIR,
                       contains=["for linux/amd64 only", "linux/arm64"])


def test_tar_that_is_not_an_image(store, work):
    plain = os.path.join(work, "plain.tar")
    run(["tar", "cf", plain, "-C", HELLO_DIR, "main.go"])
    store.expect_error("load", "-i", plain, contains=["is not an image archive", "manifest.json"])
    garbage = os.path.join(work, "garbage.tar")
    open(garbage, "wb").write(os.urandom(3000))
    store.expect_error("load", "-i", garbage, contains="is not an image archive")
    store.expect_error("load", "-i", os.path.join(work, "absent.tar"), contains="absent.tar")


def test_corrupt_blob_is_named_and_moved_aside(store, work):
    store("build", ".", "-t", "victim", cwd=HELLO_DIR)
    info = json.loads(store("inspect", "victim").stdout)[0]
    config_digest = info["manifests"][0]["manifest"]["config"]["digest"]
    blob = os.path.join(store.path, "blobs", "sha256", config_digest.split(":")[1])
    data = bytearray(open(blob, "rb").read())
    data[10] ^= 1
    open(blob, "wb").write(bytes(data))
    store.expect_error("inspect", "victim", contains=[config_digest, "is corrupt"])
    # The bad copy is out of the way: the next build writes a good one and all is well.
    check(not os.path.exists(blob), "the corrupt blob is still in place")
    store("build", ".", "-t", "victim", cwd=HELLO_DIR)
    store("inspect", "victim")


def test_read_only_and_full_store(store, work):
    if os.geteuid() != 0:
        raise Skip("mounting a small or read-only file system for the store needs root")
    # Read-only: nothing can be built, the message says so.
    ro = os.path.join(work, "ro")
    os.makedirs(ro)
    run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", ro])
    try:
        store.__class__(ro)("images")  # creates an empty store
        run(["mount", "-o", "remount,ro", ro])
        store.__class__(ro).expect_error("build", ".", cwd=HELLO_DIR, contains="read-only")
    finally:
        run(["umount", ro])
    # Full: the build fails naming the disk, and the store stays usable.
    full = os.path.join(work, "full")
    os.makedirs(full)
    run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", full])
    try:
        small = store.__class__(full)
        small.expect_error("build", ".", cwd=HELLO_DIR, contains="disk is full")
        ingest = os.path.join(full, ".gocrate", "ingest")
        check(not os.path.isdir(ingest) or os.listdir(ingest) == [], "a failed write left a temporary file")
        check(json.loads(small("images", "--json").stdout) == [], "a failed build left a name")
        check_blobs_match_names(full)
    finally:
        run(["umount", full])


def test_unknown_images_and_commands(store, work):
    store.expect_error("inspect", "nothing-here", contains=["nothing-here not found", "gocrate images"])
    store.expect_error("rmi", "nothing-here", contains="not found")
    store.expect_error("save", "nothing-here", "-o", os.path.join(work, "x.tar"), contains="not found")
    check(not os.path.exists(os.path.join(work, "x.tar")), "a failed save left a file")
    result = store("frobnicate", check_rc=False)
    check(result.returncode == 2 and "unknown command" in result.stderr, result.stderr)


if __name__ == "__main__":
    main(globals())
