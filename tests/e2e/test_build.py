#!/usr/bin/env python3
"""gocrate build end to end: multi-platform images that skopeo, umoci, runc,
qemu, docker and podman all use; reproducibility; SBOMs; bases; the cache."""

import json
import os
import shutil
import subprocess
import time

from harness import (HELLO_DIR, SOURCE_DIR, Skip, check, docker_daemon, main, podman, require, run, temp_dir,
                     wait_for)


def build_hello(store, *flags, cwd=HELLO_DIR, env=None):
    result = store("build", ".", "--json", *flags, cwd=cwd, env=env)
    return json.loads(result.stdout)["images"][0]


def unpack(layout_ref, bundle):
    run(["umoci", "unpack", "--image", layout_ref, bundle])
    return os.path.join(bundle, "rootfs")


def test_multiplatform_layout_for_skopeo_umoci_runc_qemu(store, work):
    require("skopeo", "skopeo")
    require("umoci", "umoci")
    require("runc", "runc")
    layout = os.path.join(work, "layout")
    image = build_hello(store, "--platform", "linux/amd64,linux/arm64", "-t", "hello:v1", "--oci-layout", layout)
    check([p["platform"] for p in image["platforms"]] == ["linux/amd64", "linux/arm64/v8"], image)

    raw = json.loads(run(["skopeo", "inspect", "--raw", f"oci:{layout}:v1"]).stdout)
    check(raw["mediaType"] == "application/vnd.oci.image.index.v1+json", raw)
    arches = sorted(m["platform"]["architecture"] for m in raw["manifests"])
    check(arches == ["amd64", "arm64"], arches)
    arm = json.loads(run(["skopeo", "inspect", "--override-arch", "arm64", f"oci:{layout}:v1"]).stdout)
    check(arm["Architecture"] == "arm64", arm)

    # runc starts the server; the test reaches it inside the container's network namespace.
    rootfs = unpack(f"{layout}:v1-linux-amd64", os.path.join(work, "bundle"))
    check(os.stat(os.path.join(rootfs, "tmp")).st_mode & 0o7777 == 0o1777, "/tmp is not 1777")
    config_path = os.path.join(work, "bundle", "config.json")
    config = json.load(open(config_path))
    check(config["process"]["user"]["uid"] == 65532, config["process"]["user"])
    config["process"]["terminal"] = False
    json.dump(config, open(config_path, "w"))
    name = f"gocrate-e2e-{os.getpid()}"
    with open(os.devnull, "rb") as null_in, open(os.path.join(work, "runc.log"), "wb") as log:
        subprocess.run(["runc", "run", "-d", "--pid-file", os.path.join(work, "pid"), name],
                       cwd=os.path.join(work, "bundle"), stdin=null_in, stdout=log, stderr=log, check=True,
                       timeout=60)
    try:
        pid = open(os.path.join(work, "pid")).read().strip()
        run(["nsenter", "-t", pid, "-n", "ip", "link", "set", "lo", "up"])

        def answers():
            r = run(["nsenter", "-t", pid, "-n", "curl", "-s", "http://127.0.0.1:8080/"], check_rc=False)
            return r.stdout == "Hello, World!"
        wait_for(answers, 20, "the server in runc to answer")
    finally:
        run(["runc", "delete", "-f", name], check_rc=False)

    # The arm64 variant taken from the index runs under qemu.
    require("qemu-aarch64-static", "qemu-user-static")
    arm_rootfs = unpack(f"{layout}:v1-linux-arm64-v8", os.path.join(work, "arm"))
    binary = os.path.join(arm_rootfs, "app", "hello")
    check(open(binary, "rb").read(20)[18] == 183, "not an aarch64 ELF")
    out = run(["qemu-aarch64-static", binary, "once"]).stdout
    check(out == "Hello, World!\n", out)


def test_image_content_and_config(store, work):
    require("umoci", "umoci")
    layout = os.path.join(work, "layout")
    build_hello(store, "-t", "cfg", "--port", "8080", "--env", "MODE=demo", "--label", "team=web",
                "--annotation", "com.example.note=yes", "--workdir", "/tmp", "--oci-layout", layout)
    info = json.loads(store("inspect", "cfg").stdout)[0]
    manifest = info["manifests"][0]
    config = manifest["config"]["config"]
    check(config["User"] == "65532:65532", config)
    check(config["Entrypoint"] == ["/app/hello"], config)
    check("8080/tcp" in config["ExposedPorts"], config)
    env = dict(e.split("=", 1) for e in config["Env"])
    check(env["SSL_CERT_FILE"] == "/etc/ssl/certs/ca-certificates.crt", env)
    check(env["KO_DATA_PATH"] == "/var/run/ko", env)
    check(env["MODE"] == "demo" and env["PATH"].endswith(":/app"), env)
    check(config["Labels"] == {"team": "web"} and config["WorkingDir"] == "/tmp", config)
    check(manifest["config"]["created"] == "1970-01-01T00:00:00Z", manifest["config"]["created"])
    annotations = manifest["manifest"]["annotations"]
    check(annotations["com.example.note"] == "yes", annotations)
    check(len(annotations.get("org.opencontainers.image.revision", "")) == 40, annotations)

    rootfs = unpack(f"{layout}:latest", os.path.join(work, "bundle"))
    passwd = open(os.path.join(rootfs, "etc/passwd")).read()
    check("nonroot:x:65532:65532" in passwd and passwd.startswith("root:x:0:0"), passwd)
    check("nonroot:x:65532:" in open(os.path.join(rootfs, "etc/group")).read(), "group")
    check("BEGIN CERTIFICATE" in open(os.path.join(rootfs, "etc/ssl/certs/ca-certificates.crt")).read(), "CA")
    st = os.stat(os.path.join(rootfs, "app/hello"))
    check(st.st_mode & 0o7777 == 0o755 and st.st_uid == 0, oct(st.st_mode))
    st = os.stat(os.path.join(rootfs, "home/nonroot"))
    check(st.st_uid == 65532 and st.st_mode & 0o777 == 0o700, "home/nonroot")


def test_reproducible_across_clones_directories_and_time(store, work):
    require("git", "git")
    digests = []
    for i in range(2):
        clone = os.path.join(work, f"clone-{i}", "deep" * i, "src")
        run(["git", "clone", "-q", "--no-hardlinks", SOURCE_DIR, clone])
        image = build_hello(store.__class__(os.path.join(work, f"store-{i}")),
                            "--platform", "linux/amd64,linux/arm64", cwd=os.path.join(clone, "examples", "hello"))
        digests.append(image["digest"])
        time.sleep(2)
    check(digests[0] == digests[1], f"two clones gave {digests}")

    # Outside git too, and SOURCE_DATE_EPOCH moves every timestamp.
    plain = []
    for i, epoch in enumerate(["1700000000", "1700000000", "1800000000"]):
        copy = os.path.join(work, f"copy-{i}")
        shutil.copytree(HELLO_DIR, copy)
        image = build_hello(store.__class__(os.path.join(work, f"plain-{i}")), cwd=copy,
                            env={"SOURCE_DATE_EPOCH": epoch})
        plain.append(image["digest"])
    check(plain[0] == plain[1] and plain[1] != plain[2], f"epoch builds gave {plain}")


def test_unchanged_binary_is_not_repacked(store, work):
    first = build_hello(store, "-t", "cache")
    info = json.loads(store("inspect", "cache").stdout)[0]
    layer = info["manifests"][0]["manifest"]["layers"][-1]["digest"].split(":")[1]
    blob = os.path.join(store.path, "blobs", "sha256", layer)
    before = os.stat(blob).st_mtime_ns
    time.sleep(0.05)
    second = build_hello(store, "-t", "cache")
    check(first["digest"] == second["digest"], "rebuild changed the digest")
    check(os.stat(blob).st_mtime_ns == before, "the executable layer was written again")


def test_sbom_is_an_artifact_of_each_platform(store, work):
    image = build_hello(store, "--platform", "linux/amd64,linux/arm64", "-t", "sbom")
    info = json.loads(store("inspect", "sbom").stdout)[0]
    referrers = [r for r in info["referrers"] if r["artifactType"] == "application/spdx+json"]
    check(len(referrers) == 2, info["referrers"])
    subjects = sorted(r["manifest"]["subject"]["digest"] for r in referrers)
    check(subjects == sorted(p["digest"] for p in image["platforms"]), subjects)
    artifact = referrers[0]["manifest"]
    check(artifact["artifactType"] == "application/spdx+json", artifact)
    layer = artifact["layers"][0]
    document = json.load(open(os.path.join(store.path, "blobs/sha256", layer["digest"].split(":")[1])))
    check(document["spdxVersion"] == "SPDX-2.3", document)
    names = [p["name"] for p in document["packages"]]
    check("example.com/hello" in names and "stdlib" in names, names)
    # Without an SBOM nothing refers to the image (a fresh store: the amd64
    # manifest above is the same image and keeps its SBOM).
    fresh = store.__class__(os.path.join(work, "fresh"))
    none = build_hello(fresh, "-t", "nosbom", "--sbom", "none")
    types = [r["artifactType"] for r in json.loads(fresh("inspect", "nosbom").stdout)[0]["referrers"]]
    check(none["sboms"] == [] and types == ["application/vnd.in-toto+json"], none)


def test_provenance_is_an_artifact_of_each_platform(store, work):
    require("git", "git")
    image = build_hello(store, "--platform", "linux/amd64,linux/arm64", "-t", "provenance")
    check(len(image["provenance"]) == 2, image)
    info = json.loads(store("inspect", "provenance").stdout)[0]
    statements = [r for r in info["referrers"] if r["artifactType"] == "application/vnd.in-toto+json"]
    check(len(statements) == 2, info["referrers"])
    revision = run(["git", "rev-parse", "HEAD"], cwd=SOURCE_DIR).stdout.strip()
    by_digest = {p["digest"]: p["platform"] for p in image["platforms"]}
    for referrer in statements:
        layer = referrer["manifest"]["layers"][0]
        check(layer["mediaType"] == "application/vnd.in-toto+json", layer)
        statement = json.load(open(os.path.join(store.path, "blobs/sha256", layer["digest"].split(":")[1])))
        check(statement["_type"] == "https://in-toto.io/Statement/v1", statement)
        check(statement["predicateType"] == "https://slsa.dev/provenance/v1", statement)
        subject = statement["subject"][0]
        check(subject["name"] == "hello", subject)
        manifest = "sha256:" + subject["digest"]["sha256"]
        check(manifest == referrer["manifest"]["subject"]["digest"] and manifest in by_digest, subject)
        definition = statement["predicate"]["buildDefinition"]
        check(definition["externalParameters"]["platform"] == by_digest[manifest], definition)
        check(definition["externalParameters"]["package"] == "example.com/hello", definition)
        source, stdlib = definition["resolvedDependencies"][:2]
        check(source["digest"] == {"gitCommit": revision}, source)
        check(stdlib["uri"].startswith("pkg:golang/stdlib@go"), stdlib)
        builder = statement["predicate"]["runDetails"]["builder"]
        check(builder["id"] == "https://gocrate.dev/gocrate", builder)

    bare = build_hello(store, "--provenance", "none", "--sbom", "none", "-t", "no-provenance")
    check(bare["provenance"] == [] and bare["sboms"] == [], bare)
    store.expect_error("build", ".", "--provenance", "full", "-t", "x", contains="--provenance", cwd=HELLO_DIR)


def test_save_loads_and_runs_in_docker_and_podman(store, work):
    build_hello(store, "--platform", "linux/amd64,linux/arm64", "-t", "hello-save")
    archive = os.path.join(work, "hello.tar")
    store("save", "hello-save", "-o", archive)
    skipped = []
    try:
        with docker_daemon() as docker:
            docker("load", "-i", archive)
            out = docker("run", "--rm", "--network", "none", "hello-save", "once").stdout
            check(out == "Hello, World!\n", out)
            user = docker("image", "inspect", "-f", "{{.Config.User}}", "hello-save").stdout.strip()
            check(user == "65532:65532", user)
            docker("tag", "hello-save", "from-docker:v1")
            docker("save", "from-docker:v1", "-o", os.path.join(work, "docker.tar"))
            store("load", "-i", os.path.join(work, "docker.tar"))
            loaded = json.loads(store("inspect", "from-docker:v1").stdout)[0]
            check(loaded["manifests"][0]["config"]["config"]["Entrypoint"] == ["/app/hello"], loaded)
    except Skip as e:
        skipped.append(f"docker: {e}")
    try:
        with podman() as pm:
            pm("load", "-i", archive)
            out = pm("run", "--rm", "--network", "none", "hello-save", "once").stdout
            check(out == "Hello, World!\n", out)
            pm("tag", "hello-save", "from-podman:v2")
            for fmt in ["docker-archive", "oci-archive"]:
                path = os.path.join(work, f"podman-{fmt}.tar")
                pm("save", "--format", fmt, "-o", path, "from-podman:v2")
                out = store("load", "-i", path).stdout
                check("from-podman:v2" in out, out)
    except Skip as e:
        skipped.append(f"podman: {e}")
    if skipped:
        raise Skip("; ".join(skipped))


def test_base_images_from_layout_and_archive(store, work):
    base_layout = os.path.join(work, "base-layout")
    build_hello(store, "--platform", "linux/amd64,linux/arm64", "-t", "base", "--oci-layout", base_layout,
                "--env", "FROM_BASE=1")
    base_archive = os.path.join(work, "base.tar")
    store("save", "base", "-o", base_archive)
    for base in [f"oci-layout:{base_layout}:latest", f"docker-archive:{base_archive}", "base"]:
        image = build_hello(store, "--base", base, "-t", "derived", "--platform", "linux/arm64")
        info = json.loads(store("inspect", "derived").stdout)[0]
        manifest = info["manifests"][0]
        env = manifest["config"]["config"]["Env"]
        check("FROM_BASE=1" in env, env)
        layers = manifest["manifest"]["layers"]
        # The base's two layers and the executable; no scratch essentials on a real base.
        check(len(layers) == 3, f"{base}: expected base's 2 layers + 1 new, got {len(layers)}")
        expected_name = "base:latest" if base == "base" else base
        check(manifest["manifest"]["annotations"]["org.opencontainers.image.base.name"] == expected_name, manifest)
        check(image["platforms"][0]["platform"] == "linux/arm64/v8", image)
    store.expect_error("build", ".", "--base", f"oci-layout:{base_layout}:latest",
                       "--platform", "linux/s390x", cwd=HELLO_DIR, contains=["no variant for linux/s390x",
                                                                             "linux/amd64"])


def test_kodata_files_and_several_binaries(store, work):
    require("umoci", "umoci")
    project = os.path.join(work, "proj")
    os.makedirs(os.path.join(project, "cmd", "server", "kodata", "static"))
    os.makedirs(os.path.join(project, "cmd", "helper"))
    open(os.path.join(project, "go.mod"), "w").write("module example.com/proj\n\ngo 1.19\n")
    open(os.path.join(project, "cmd", "server", "main.go"), "w").write(
        'package main\nimport ("fmt"; "os")\nfunc main() { b, _ := os.ReadFile(os.Getenv("KO_DATA_PATH") + '
        '"/static/index.html"); fmt.Print(string(b)) }\n')
    open(os.path.join(project, "cmd", "server", "kodata", "static", "index.html"), "w").write("<h1>hi</h1>")
    open(os.path.join(project, "cmd", "helper", "main.go"), "w").write('package main\nfunc main() {}\n')
    open(os.path.join(project, "extra.conf"), "w").write("x=1\n")
    layout = os.path.join(work, "layout")
    store("build", "./cmd/server", "--with", "example.com/proj/cmd/helper", "--file", "extra.conf:/etc/app/extra.conf",
          "-t", "proj", "--oci-layout", layout, cwd=project)
    rootfs = unpack(f"{layout}:latest", os.path.join(work, "bundle"))
    check(open(os.path.join(rootfs, "var/run/ko/static/index.html")).read() == "<h1>hi</h1>", "kodata")
    check(os.access(os.path.join(rootfs, "app/helper"), os.X_OK), "second binary")
    check(open(os.path.join(rootfs, "etc/app/extra.conf")).read() == "x=1\n", "--file")
    out = run([os.path.join(rootfs, "app/server")], env={"KO_DATA_PATH": os.path.join(rootfs, "var/run/ko")}).stdout
    check(out == "<h1>hi</h1>", out)


def test_zstd_layers(store, work):
    require("skopeo", "skopeo")
    layout = os.path.join(work, "layout")
    build_hello(store, "--compression", "zstd", "-t", "z", "--oci-layout", layout)
    manifest = json.loads(run(["skopeo", "inspect", "--raw", f"oci:{layout}:latest"]).stdout)
    types = {layer["mediaType"] for layer in manifest["layers"]}
    check(types == {"application/vnd.oci.image.layer.v1.tar+zstd"}, types)
    run(["skopeo", "copy", f"oci:{layout}:latest", f"dir:{work}/copied"])


def test_pack_static_and_refuse_dynamic(store, work):
    require("gcc", "build-essential")
    require("umoci", "umoci")
    source = os.path.join(work, "hi.c")
    open(source, "w").write('#include <stdio.h>\nint main(){puts("hi from C");return 0;}\n')
    static = os.path.join(work, "hi-static")
    dynamic = os.path.join(work, "hi-dynamic")
    run(["gcc", "-static", "-O2", "-o", static, source])
    run(["gcc", "-O2", "-o", dynamic, source])
    layout = os.path.join(work, "layout")
    store("pack", static, "-t", "cpack", "--oci-layout", layout)
    rootfs = unpack(f"{layout}:latest", os.path.join(work, "bundle"))
    check(run([os.path.join(rootfs, "app", "hi-static")]).stdout == "hi from C\n", "packed binary")
    store.expect_error("pack", dynamic, "-t", "dyn", contains=["dynamically linked", "/lib64/ld-linux-x86-64.so.2"])


def test_progress_on_a_terminal_quiet_when_piped(store, work):
    require("script", "bsdutils")
    typescript = os.path.join(work, "typescript")
    command = f"{os.environ['GOCRATE']} --root {store.path} build . --platform linux/amd64,linux/arm64 -t tty"
    run(["script", "-qefc", command, typescript], cwd=HELLO_DIR, env={"TERM": "xterm"})
    shown = open(typescript, errors="replace").read()
    for text in ["hello linux/amd64", "hello linux/arm64/v8", "compiling", "packing", "done sha256:"]:
        check(text in shown, f"the terminal did not show {text!r}: {shown!r}")
    piped = store("build", ".", "-t", "piped", cwd=HELLO_DIR)
    check(piped.stderr == "", f"piped build wrote to stderr: {piped.stderr!r}")
    check(piped.stdout.startswith("piped:latest@sha256:"), piped.stdout)


def test_several_targets_and_all_platforms(store, work):
    project = os.path.join(work, "multi")
    for name in ["alpha", "beta"]:
        os.makedirs(os.path.join(project, "cmd", name))
        open(os.path.join(project, "cmd", name, "main.go"), "w").write(
            f'package main\nimport "fmt"\nfunc main() {{ fmt.Println("{name}") }}\n')
    open(os.path.join(project, "go.mod"), "w").write("module example.com/multi\n\ngo 1.19\n")
    result = json.loads(store("build", "./cmd/alpha", "example.com/multi/cmd/beta", "--platform", "all", "--json",
                              cwd=project).stdout)
    names = sorted(image["names"][0] for image in result["images"])
    check(names == ["alpha:latest", "beta:latest"], names)
    platforms = [p["platform"] for p in result["images"][0]["platforms"]]
    expected = ["linux/386", "linux/amd64", "linux/arm/v6", "linux/arm/v7", "linux/arm64/v8", "linux/ppc64le",
                "linux/riscv64", "linux/s390x"]
    check(platforms == expected, platforms)
    store.expect_error("build", "./cmd/alpha", "./cmd/beta", "-t", "one", cwd=project, contains="-t names one image")


def test_existing_layout_gains_images_and_tarball_output(store, work):
    require("skopeo", "skopeo")
    layout = os.path.join(work, "layout")
    first = build_hello(store, "-t", "app:v1", "--oci-layout", layout)
    second = build_hello(store, "-t", "app:v2", "--oci-layout", layout, "--env", "V=2")
    for tag, image in [("v1", first), ("v2", second)]:
        raw = run(["skopeo", "inspect", "--raw", f"oci:{layout}:{tag}"]).stdout
        check(image["digest"] == "sha256:" + __import__("hashlib").sha256(raw.encode()).hexdigest(), tag)
    # Building v1 again moves the name rather than adding a second entry.
    build_hello(store, "-t", "app:v1", "--oci-layout", layout, "--env", "V=3")
    index = json.load(open(os.path.join(layout, "index.json")))
    names = [m.get("annotations", {}).get("org.opencontainers.image.ref.name") for m in index["manifests"]]
    check(sorted(n for n in names if n) == ["v1", "v2"], names)

    tarball = os.path.join(work, "app.tar")
    build_hello(store, "-t", "app:v4", "--tarball", tarball)
    other = store.__class__(os.path.join(work, "other"))
    check("Loaded image: app:v4" in other("load", "-i", tarball).stdout, "tarball did not load")
    run(["skopeo", "inspect", f"oci-archive:{tarball}:app:v4"])


if __name__ == "__main__":
    main(globals())
