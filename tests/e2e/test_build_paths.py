#!/usr/bin/env python3
"""build by import path, resolved as `go build` resolves it from the user's
module: a dependency's main package through the module's replace directives
(Debian's golang-*-dev sources, no network), the Go distribution's own
commands (cmd/gofmt, with or without a module), a workspace's module,
a vendored package, and ko:// references in resolve."""

import json
import os
import re
import shutil

from harness import Skip, check, main, registry, require

GOCODE = "/usr/share/gocode/src"
GOJQ = f"{GOCODE}/github.com/itchyny/gojq"
GO_TOML = f"{GOCODE}/github.com/pelletier/go-toml"
# No module may come from the network: a build that tries fails.
OFFLINE = {"GOPROXY": "off", "GOFLAGS": "", "GOWORK": ""}


def require_gocode(path, package):
    if not os.path.isfile(os.path.join(path, "go.mod")):
        raise Skip(f"{path} is missing (Debian package {package}; scripts/install-deps.sh test installs it)")


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    open(path, "w").write(text)


def user_module(work):
    """A module that requires gojq and go-toml, replaced by Debian's sources
    (go-toml by a copy the user patched), as a user without network sets it up."""
    require_gocode(GOJQ, "golang-github-itchyny-gojq-dev")
    require_gocode(GO_TOML, "golang-github-pelletier-go-toml-dev")
    user = os.path.join(work, "user")
    patched = os.path.join(work, "go-toml-patched")
    shutil.copytree(GO_TOML, patched, symlinks=True)
    write(os.path.join(patched, "cmd", "tomljson", "marker.go"),
          'package main\n\nimport (\n\t"fmt"\n\t"os"\n)\n\n'
          'func init() {\n\tif len(os.Args) > 1 && os.Args[1] == "marker" {\n'
          '\t\tfmt.Println("patched by the user\'s replace")\n\t\tos.Exit(0)\n\t}\n}\n')
    # gopkg.in/yaml.v3's go.mod requires check.v1 for its tests: a stub stands in.
    write(os.path.join(user, "stub", "check", "go.mod"), "module gopkg.in/check.v1\n")
    replaces = {
        "github.com/itchyny/gojq": GOJQ,
        "github.com/itchyny/timefmt-go": f"{GOCODE}/github.com/itchyny/timefmt-go",
        "github.com/mattn/go-isatty": f"{GOCODE}/github.com/mattn/go-isatty",
        "github.com/mattn/go-runewidth": f"{GOCODE}/github.com/mattn/go-runewidth",
        "github.com/rivo/uniseg": f"{GOCODE}/github.com/rivo/uniseg",
        "github.com/google/go-cmp": f"{GOCODE}/github.com/google/go-cmp",
        "gopkg.in/yaml.v3": f"{GOCODE}/gopkg.in/yaml.v3",
        "golang.org/x/sys": f"{GOCODE}/golang.org/x/sys",
        "gopkg.in/check.v1": "./stub/check",
        "github.com/pelletier/go-toml": patched,
    }
    write(os.path.join(user, "go.mod"),
          "module example.com/user\n\ngo 1.19\n\n"
          "require (\n\tgithub.com/itchyny/gojq v0.12.11\n\tgithub.com/pelletier/go-toml v1.9.4\n)\n\n"
          "replace (\n" + "".join(f"\t{m} => {d}\n" for m, d in replaces.items()) + ")\n")
    write(os.path.join(user, "cmd", "own", "main.go"), 'package main\n\nfunc main() { println("own") }\n')
    return user


def image_config(store, name):
    return json.loads(store("inspect", name).stdout)[0]["manifests"][0]["config"]["config"]


def sbom_of(store, name):
    info = json.loads(store("inspect", name).stdout)[0]
    layer = info["referrers"][0]["manifest"]["layers"][0]["digest"].split(":")[1]
    return json.load(open(os.path.join(store.path, "blobs", "sha256", layer)))


def test_a_dependencys_main_package_through_the_users_replace_directives(store, work):
    user = user_module(work)
    # Two dependencies' commands and one of the module's own, from a subdirectory of the module.
    out = store("build", "github.com/itchyny/gojq/cmd/gojq", "github.com/pelletier/go-toml/cmd/tomljson",
                "./own", "-q", cwd=os.path.join(user, "cmd"), env=OFFLINE).stdout
    names = sorted(line.split("@")[0] for line in out.split())
    check(names == ["gojq:latest", "own:latest", "tomljson:latest"], out)

    result = store("run", "--rm", "-i", "gojq", ".a", input='{"a": [1, "x"]}')
    check(json.loads(result.stdout) == [1, "x"], result.stdout)
    result = store("run", "--rm", "-i", "tomljson", input='title = "gocrate"\n')
    check(json.loads(result.stdout) == {"title": "gocrate"}, result.stdout)
    # The copy the user's go.mod points at is what was built, not Debian's.
    result = store("run", "--rm", "tomljson", "marker")
    check(result.stdout == "patched by the user's replace\n", result.stdout)

    config = image_config(store, "gojq")
    check(config["Entrypoint"] == ["/app/gojq"], config)
    document = sbom_of(store, "gojq")
    packages = {p["name"]: p.get("versionInfo") for p in document["packages"]}
    check(packages.get("github.com/itchyny/gojq") == "v0.12.11", packages)
    check(packages.get("github.com/mattn/go-isatty") == "v0.0.16", packages)
    check(not any(name.startswith("/") for name in packages), f"a directory as a package name: {packages}")
    check("main package github.com/itchyny/gojq/cmd/gojq" in document["packages"][0]["comment"], document)

    # One at a time, resolved the same way (no batching).
    store("build", "github.com/itchyny/gojq/cmd/gojq", "-t", "gojq:alone", "-q", cwd=user, env=OFFLINE)
    check(store("run", "--rm", "-i", "gojq:alone", ".", input="7").stdout == "7\n", "gojq:alone")


def test_import_path_errors_name_the_fix(store, work):
    user = user_module(work)
    store.expect_error("build", "github.com/nobody/nothing/cmd/x", cwd=user, env=OFFLINE,
                       contains=["github.com/nobody/nothing/cmd/x", "go get github.com/nobody/nothing"])
    store.expect_error("build", "github.com/itchyny/gojq", cwd=user, env=OFFLINE,
                       contains=["github.com/itchyny/gojq is package gojq, not a main package"])
    outside = os.path.join(work, "outside")
    os.makedirs(outside)
    store.expect_error("build", "github.com/itchyny/gojq/cmd/gojq", cwd=outside, env=OFFLINE,
                       contains=["github.com/itchyny/gojq/cmd/gojq", "no Go module", "go get"])
    # A target is never a flag of go's: -toolexec here would run a program.
    evil = os.path.join(work, "evil")
    write(evil, "#!/bin/sh\ntouch " + os.path.join(work, "ran") + "\nexec \"$@\"\n")
    os.chmod(evil, 0o755)
    for target in [f"-toolexec={evil}", f"ko://-toolexec={evil}", "gocrate://-n"]:
        store.expect_error("build", "--", target, cwd=user, env=OFFLINE, contains="cannot start with -")
    check(not os.path.exists(os.path.join(work, "ran")), "a target was handed to go as a flag")


def test_go_distribution_commands_with_and_without_a_module(store, work):
    nowhere = os.path.join(work, "nowhere")
    os.makedirs(nowhere)
    store("build", "cmd/gofmt", "-q", cwd=nowhere, env=OFFLINE)
    result = store("run", "--rm", "-i", "gofmt", input="package main\nfunc  main( ){println( 1)}\n")
    check(result.stdout == "package main\n\nfunc main() { println(1) }\n", repr(result.stdout))
    check(image_config(store, "gofmt")["Entrypoint"] == ["/app/gofmt"], "entrypoint")
    # From a module, and with a module's own command, in one build.
    module = os.path.join(work, "mod")
    write(os.path.join(module, "go.mod"), "module example.com/mod\n\ngo 1.19\n")
    write(os.path.join(module, "cmd", "gofmt", "main.go"), 'package main\n\nfunc main() { println("not gofmt") }\n')
    write(os.path.join(module, "hi", "main.go"), 'package main\n\nimport "fmt"\n\nfunc main() { fmt.Println("hi") }\n')
    out = store("build", "cmd/gofmt", "./hi", "-q", cwd=module, env=OFFLINE).stdout
    check(len(out.split()) == 2, out)
    # cmd/gofmt is the Go distribution's, as for `go build cmd/gofmt`; ./cmd/gofmt is the module's.
    result = store("run", "--rm", "-i", "gofmt", input="package  x\n")
    check(result.stdout == "package x\n", repr(result.stdout))
    store("build", "./cmd/gofmt", "-t", "local-gofmt", "-q", cwd=module, env=OFFLINE)
    check("not gofmt" in store("run", "--rm", "local-gofmt").stderr, "./cmd/gofmt")
    check(store("run", "--rm", "hi").stdout == "hi\n", "hi")


def test_a_workspace_module_and_a_vendored_package(store, work):
    ws = os.path.join(work, "ws")
    write(os.path.join(ws, "go.work"), "go 1.19\n\nuse (\n\t./app\n\t./tool\n)\n")
    write(os.path.join(ws, "app", "go.mod"), "module example.com/app\n\ngo 1.19\n")
    write(os.path.join(ws, "app", "main.go"), 'package main\n\nfunc main() { println("app") }\n')
    write(os.path.join(ws, "tool", "go.mod"), "module example.com/tool\n\ngo 1.19\n")
    write(os.path.join(ws, "tool", "cmd", "tool", "main.go"),
          'package main\n\nimport "fmt"\n\nfunc main() { fmt.Println("tool from the workspace") }\n')
    env = dict(OFFLINE)
    del env["GOWORK"]  # found from the directory, as go finds it
    store("build", "example.com/tool/cmd/tool", "-q", cwd=os.path.join(ws, "app"), env=env)
    check(store("run", "--rm", "tool").stdout == "tool from the workspace\n", "tool")
    # Without the workspace the same path does not resolve.
    store.expect_error("build", "example.com/tool/cmd/tool", cwd=os.path.join(ws, "app"),
                       env=dict(env, GOWORK="off"), contains="example.com/tool/cmd/tool")

    vend = os.path.join(work, "vend")
    write(os.path.join(vend, "go.mod"), "module example.com/vend\n\ngo 1.19\n\nrequire example.com/dep v1.0.0\n")
    write(os.path.join(vend, "vendor", "modules.txt"), "# example.com/dep v1.0.0\n## explicit\nexample.com/dep/cmd/depcmd\n")
    write(os.path.join(vend, "vendor", "example.com", "dep", "cmd", "depcmd", "main.go"),
          'package main\n\nimport "fmt"\n\nfunc main() { fmt.Println("vendored") }\n')
    store("build", "example.com/dep/cmd/depcmd", "-q", cwd=vend, env=OFFLINE)
    check(store("run", "--rm", "depcmd").stdout == "vendored\n", "depcmd")


def test_ko_references_resolve_from_the_users_module(store, work):
    require("skopeo", "skopeo")
    user = user_module(work)
    deploy = os.path.join(user, "deploy.yaml")
    write(deploy, "apiVersion: v1\nkind: Pod\nmetadata:\n  name: jq\nspec:\n  containers:\n"
                  "  - name: jq\n    image: ko://github.com/itchyny/gojq/cmd/gojq\n"
                  "  - name: fmt\n    image: ko://cmd/gofmt\n")
    with registry() as reg:
        env = dict(OFFLINE, GOCRATE_DOCKER_REPO=f"{reg.host}/team")
        out = store("resolve", "-f", deploy, cwd=user, env=env).stdout
        for name in ["gojq", "gofmt"]:
            check(re.search(rf"image: {re.escape(reg.host)}/team/{name}@sha256:[0-9a-f]{{64}}\n", out), out)
        check("ko://" not in out, out)
        write(deploy, "image: ko://-toolexec=/bin/false\n")
        store.expect_error("resolve", "-f", deploy, cwd=user, env=env, contains="cannot start with -")


if __name__ == "__main__":
    main(globals())
