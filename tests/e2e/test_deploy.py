#!/usr/bin/env python3
"""Kubernetes: resolve builds gocrate:// and ko:// references once, pushes
them to a real registry and rewrites the YAML in place; apply, create and
delete hand the result to kubectl; manifest writes resources that validate
against the Kubernetes API schemas."""

import json
import os
import re
import shutil
import subprocess

from harness import (GOCRATE, HELLO_DIR, SOURCE_DIR, Skip, check, main, registry, require, run)

VALIDATOR = os.path.join(SOURCE_DIR, "tests", "kubernetes", "validate.mjs")


def validate_kubernetes(text, work):
    require("node", "nodejs")
    if not os.path.isdir(os.path.join(SOURCE_DIR, "tests", "kubernetes", "node_modules", "kubernetes-models")):
        raise Skip("the kubernetes-models npm packages are missing: scripts/install-deps.sh installs them")
    path = os.path.join(work, "to-validate.yaml")
    open(path, "w").write(text)
    result = run(["node", VALIDATOR, path], check_rc=False)
    check(result.returncode == 0, f"Kubernetes schema validation failed:\n{result.stdout}{result.stderr}")
    return result.stdout


def make_project(work, commands):
    project = os.path.join(work, "app")
    open_path = lambda p: os.path.join(project, p)
    os.makedirs(project)
    open(open_path("go.mod"), "w").write("module example.com/app\n\ngo 1.19\n")
    for name in commands:
        os.makedirs(open_path(f"cmd/{name}"))
        open(open_path(f"cmd/{name}/main.go"), "w").write(
            f'package main\nimport "fmt"\nfunc main() {{ fmt.Println("{name}") }}\n')
    os.makedirs(open_path("lib"))
    open(open_path("lib/lib.go"), "w").write("package lib\n")
    return project


STREAM = """# The app: three programs, two of them twice.
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web   # built from ko://example.com/app/cmd/web
spec:
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: ko://example.com/app/cmd/web
      - name: sidecar
        image: "gocrate://example.com/app/cmd/sidecar"
---
apiVersion: batch/v1
kind: Job
metadata:
  name: migrate
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: migrate
        image: gocrate://example.com/app/cmd/migrate
        args: ['--then', 'ko://example.com/app/cmd/web']
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  note: "no image here"
"""


def test_resolve_builds_once_pushes_and_rewrites_in_place(store, work):
    require("skopeo", "skopeo")
    project = make_project(work, ["web", "sidecar", "migrate"])
    os.makedirs(os.path.join(project, "deploy"))
    open(os.path.join(project, "deploy", "app.yaml"), "w").write(STREAM)
    with registry() as reg:
        env = {"GOCRATE_DOCKER_REPO": f"{reg.host}/team", "GOCRATE_PLATFORMS": "linux/amd64,linux/arm64"}
        out = store("resolve", "-f", "deploy/app.yaml", cwd=project, env=env).stdout
        digests = {}
        for name in ["web", "sidecar", "migrate"]:
            found = set(re.findall(rf"{re.escape(reg.host)}/team/{name}@sha256:[0-9a-f]{{64}}", out))
            check(len(found) == 1, f"{name}: {found}\n{out}")
            digests[name] = found.pop()
            raw = json.loads(run(["skopeo", "inspect", "--raw", f"docker://{digests[name]}", "--tls-verify=false"]).stdout)
            arches = sorted(m["platform"]["architecture"] for m in raw["manifests"])
            check(arches == ["amd64", "arm64"], arches)
        expected = (STREAM.replace("ko://example.com/app/cmd/web", digests["web"])
                    .replace("gocrate://example.com/app/cmd/sidecar", digests["sidecar"])
                    .replace("gocrate://example.com/app/cmd/migrate", digests["migrate"]))
        # The comment keeps its text: only values are references.
        expected = expected.replace(f"# built from {digests['web']}", "# built from ko://example.com/app/cmd/web")
        check(out == expected, f"resolve changed more than the references:\n{out}")
        # Every document is still there, in order; the kinds validate.
        validate_kubernetes(out, work)

        # Standard input, a directory with -R, and a second file all come out, separated by ---.
        nested = os.path.join(project, "deploy", "more")
        os.makedirs(nested)
        open(os.path.join(nested, "svc.yaml"), "w").write("apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n"
                                                         "spec:\n  ports: [{port: 80}]\n")
        out = store("resolve", "-R", "-f", "deploy", "-f", "-", cwd=project, env=env,
                    input="apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n"
                          "  - name: c\n    image: ko://example.com/app/cmd/web\n").stdout
        kinds = re.findall(r"^kind: (\w+)", out, re.M)
        check(kinds == ["Deployment", "Job", "ConfigMap", "Service", "Pod"], kinds)
        check("ko://" not in out.split("name: p")[1], out)


def test_resolve_errors(store, work):
    project = make_project(work, ["web"])
    bad_yaml = os.path.join(project, "bad.yaml")
    open(bad_yaml, "w").write("kind: Pod\nspec:\n  containers: [\n    image: x\n")
    good = os.path.join(project, "good.yaml")
    open(good, "w").write("image: ko://example.com/app/cmd/web\n")
    store.expect_error("resolve", "-f", "good.yaml", cwd=project, env={"GOCRATE_DOCKER_REPO": ""},
                       contains=["no repository", "GOCRATE_DOCKER_REPO"])
    env = {"GOCRATE_DOCKER_REPO": "127.0.0.1:9/team"}
    store.expect_error("resolve", "-f", "bad.yaml", cwd=project, env=env, contains=["bad.yaml:", "does not parse"])
    lib = os.path.join(project, "lib.yaml")
    open(lib, "w").write("image: gocrate://example.com/app/lib\n")
    store.expect_error("resolve", "-f", "lib.yaml", cwd=project, env=env, contains="not a main package")
    store.expect_error("resolve", "-f", "missing.yaml", cwd=project, env=env, contains="missing.yaml does not exist")


def test_apply_create_delete_hand_over_to_kubectl(store, work):
    require("kubectl", "kubernetes-client")
    project = make_project(work, ["web"])
    manifest = os.path.join(project, "pod.yaml")
    open(manifest, "w").write("apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\nspec:\n  containers:\n"
                              "  - name: web\n    image: ko://example.com/app/cmd/web\n")
    # No cluster runs here: kubectl's own error must come through, with its exit code.
    kubeconfig = os.path.join(work, "kubeconfig")
    open(kubeconfig, "w").write("apiVersion: v1\nkind: Config\nclusters:\n- name: none\n  cluster:\n"
                                "    server: https://127.0.0.1:1\nusers:\n- name: u\n  user:\n    token: t\n"
                                "contexts:\n- name: none\n  context:\n    cluster: none\n    user: u\n"
                                "current-context: none\n")
    with registry() as reg:
        env = {"GOCRATE_DOCKER_REPO": f"{reg.host}/team", "KUBECONFIG": kubeconfig}
        for verb in ["apply", "create"]:
            result = store(verb, "-f", "pod.yaml", "--", "--request-timeout=5s", cwd=project, env=env, check_rc=False)
            direct = run(["kubectl", verb, "-f", manifest, "--request-timeout=5s"], check_rc=False, env=env)
            check(result.returncode == direct.returncode != 0, f"{verb}: {result.returncode} vs {direct.returncode}")
            check("127.0.0.1:1" in result.stderr and f"kubectl {verb} failed" in result.stderr, result.stderr)
        # apply resolved first: the image is in the registry.
        tags = run(["curl", "-sf", f"http://{reg.host}/v2/team/web/tags/list"]).stdout
        check('"latest"' in tags, tags)
        result = store("delete", "-f", "pod.yaml", cwd=project, env=env, check_rc=False)
        check(result.returncode != 0 and "kubectl delete failed" in result.stderr, result.stderr)
    # Without kubectl at all, the error says how to get it.
    bin_dir = os.path.join(work, "bin")
    os.makedirs(bin_dir)
    env = {"PATH": bin_dir}
    result = subprocess.run([GOCRATE, "--root", store.path, "delete", "-f", manifest], capture_output=True, text=True,
                            env=env)
    check(result.returncode != 0 and "kubernetes-client" in result.stderr, result.stderr)


def test_project_config_sets_defaults_and_env_overrides_them(store, work):
    if os.geteuid() != 0:
        raise Skip("running the built image needs root")
    project = os.path.join(work, "cfg")
    os.makedirs(os.path.join(project, "cmd", "app"))
    open(os.path.join(project, "go.mod"), "w").write("module example.com/cfg\n\ngo 1.19\n")
    open(os.path.join(project, "cmd", "app", "main.go"), "w").write(
        'package main\nimport ("fmt"; "os")\nvar version, built = "none", "never"\n'
        'func main() { fmt.Println(version, built, os.Getenv("MODE")) }\n')
    open(os.path.join(project, ".gocrate.yaml"), "w").write(
        "platforms: [linux/amd64, linux/arm64]\n"
        "env: [MODE=from-config]\n"
        "builds:\n"
        "- importPath: example.com/cfg/cmd/app\n"
        "  ldflags: -X main.version={{.Env.APP_VERSION}} -X main.built={{.Date}}\n")
    env = {"APP_VERSION": "1.2.3", "SOURCE_DATE_EPOCH": "86400"}
    image = json.loads(store("build", "./cmd/app", "--json", cwd=project, env=env).stdout)["images"][0]
    check([p["platform"] for p in image["platforms"]] == ["linux/amd64", "linux/arm64/v8"], image)
    out = store("run", "--rm", "app").stdout
    check(out == "1.2.3 1970-01-02T00:00:00Z from-config\n", out)
    # GOCRATE_* beats the file, and flags beat both.
    env["GOCRATE_PLATFORMS"] = "linux/arm64"
    env["GOCRATE_ENV"] = "MODE=from-env"
    image = json.loads(store("build", "./cmd/app", "--json", cwd=project, env=env).stdout)["images"][0]
    check([p["platform"] for p in image["platforms"]] == ["linux/arm64/v8"], image)
    image = json.loads(store("build", "./cmd/app", "--json", "--platform", "linux/amd64", cwd=project,
                             env=env).stdout)["images"][0]
    check([p["platform"] for p in image["platforms"]] == ["linux/amd64"], image)
    check(store("run", "--rm", "app").stdout.endswith("from-env\n"), "GOCRATE_ENV did not win")
    open(os.path.join(project, ".gocrate.yaml"), "w").write("platforms: [linux/amd64\n")
    store.expect_error("build", "./cmd/app", cwd=project, contains=".gocrate.yaml:")


if __name__ == "__main__":
    main(globals())
