#!/usr/bin/env python3
"""The store under pressure: builds killed at random moments, builds in
parallel, prune racing builds. Afterwards every blob is whole, every name
leads to a complete image, and the next build succeeds."""

import json
import os
import random
import subprocess
import threading
import time

from harness import GOCRATE, HELLO_DIR, Skip, check, check_blobs_match_names, main, wait_for


def start_build(store, tag, epoch):
    env = dict(os.environ, SOURCE_DATE_EPOCH=str(epoch))
    return subprocess.Popen([GOCRATE, "--root", store.path, "build", ".", "-t", tag, "-q"], cwd=HELLO_DIR, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def check_store_is_trustworthy(store):
    check_blobs_match_names(store.path)
    for image in json.loads(store("images", "--json").stdout):
        store("inspect", image["name"])  # reads and verifies every manifest and config, checks layers exist
    for kind in ["ingest", "tmp"]:
        path = os.path.join(store.path, ".gocrate", kind)
        leftovers = os.listdir(path) if os.path.isdir(path) else []
        check(leftovers == [], f"{kind} leftovers after a clean build: {leftovers}")


def test_kill_9_at_random_moments(store, work):
    # Time one build, so that kills land all through it: compiling, packing, writing, naming.
    start = time.monotonic()
    store("build", ".", "-t", "warm", cwd=HELLO_DIR)
    duration = max(0.3, time.monotonic() - start)
    rng = random.Random(1234)
    killed = 0
    for i in range(50):
        # A new epoch every time makes every layer new, so each build really writes.
        build = start_build(store, f"victim:{i % 5}", 1_600_000_000 + i)
        time.sleep(rng.uniform(0, duration * 1.3))
        if build.poll() is None:
            build.kill()
            killed += 1
        build.wait()
        check_blobs_match_names(store.path)
    print(f"killed {killed} of 50 builds mid-way")
    check(killed >= 25, f"only {killed} builds were still running when killed: the test is not testing")
    # The next build cleans up after the killed ones and succeeds.
    store("build", ".", "-t", "after", cwd=HELLO_DIR)
    check_store_is_trustworthy(store)
    report = store("prune").stdout
    check("Deleted" in report, report)
    check_store_is_trustworthy(store)


def test_parallel_builds_into_one_store(store, work):
    builds = [start_build(store, f"parallel:{i}", 1_700_000_000 + i % 2) for i in range(4)]
    for build in builds:
        _, err = build.communicate(timeout=600)
        check(build.returncode == 0, f"a parallel build failed: {err}")
    names = sorted(image["name"] for image in json.loads(store("images", "--json").stdout))
    check(names == [f"parallel:{i}" for i in range(4)], names)
    check_store_is_trustworthy(store)


def test_prune_racing_builds_keeps_every_named_image(store, work):
    stop = threading.Event()

    def prune_loop():
        while not stop.is_set():
            store("prune", check_rc=False)

    pruner = threading.Thread(target=prune_loop)
    pruner.start()
    try:
        for i in range(6):
            build = start_build(store, f"raced:{i}", 1_750_000_000 + i)
            _, err = build.communicate(timeout=600)
            check(build.returncode == 0, f"build failed while prune ran: {err}")
    finally:
        stop.set()
        pruner.join()
    for i in range(6):
        store("inspect", f"raced:{i}")
    check_store_is_trustworthy(store)


def test_prune_keeps_images_of_containers_and_drops_unused_layers(store, work):
    if os.geteuid() != 0:
        raise Skip("running containers needs root")
    store("build", ".", "-t", "served", cwd=HELLO_DIR)
    server = subprocess.Popen([GOCRATE, "--root", store.path, "run", "--rm", "--name", "served", "served"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    layers = os.path.join(store.path, "layers", "sha256")
    try:
        wait_for(lambda: os.path.islink(os.path.join(store.path, "containers", "by-name", "served")), 20,
                 "the container to start")
        unpacked = sorted(os.listdir(layers))
        check(len(unpacked) == 2, unpacked)
        store("rmi", "served")
        report = store("prune").stdout
        check(sorted(os.listdir(layers)) == unpacked, f"prune removed layers a container runs on: {report}")
        check_blobs_match_names(store.path)
    finally:
        server.terminate()
        server.wait(30)
    report = store("prune").stdout
    check("removed 2 unpacked layers" in report, report)
    check(os.listdir(layers) == [], os.listdir(layers))
    check(os.listdir(os.path.join(store.path, "blobs", "sha256")) == [], "blobs of an unused image remain")


if __name__ == "__main__":
    main(globals())
