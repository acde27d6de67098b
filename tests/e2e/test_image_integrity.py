#!/usr/bin/env python3
"""Images whose layers are not what their configs' rootfs.diff_ids say are
refused on every way into the store: load (docker-archive, OCI archive,
gzip-compressed), pull from a real docker-registry, and build --base from an
OCI layout, an archive or a registry; nothing is named and no new blob stays
referenced. load also caps what an archive decompresses to (--max-size).

The hostile images are made from a real one (gocrate build of examples/hello,
then gocrate save): a layer's content is swapped and every digest above it
(manifest, index, archive manifest) is recomputed, so that only the config's
diff_ids are wrong."""

import gzip
import hashlib
import io
import json
import os
import tarfile
import urllib.parse
import urllib.request

from harness import HELLO_DIR, Store, check, main, registry

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
REF_NAME = "org.opencontainers.image.ref.name"


def sha256(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def blob_member(digest):
    return "blobs/sha256/" + digest.split(":")[1]


def make_tar(files):
    """An uncompressed tar of {path: bytes}, the same bytes every time."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for path, content in files.items():
            info = tarfile.TarInfo(path)
            info.size, info.mode, info.mtime = len(content), 0o755, 0
            tar.addfile(info, io.BytesIO(content))
    return out.getvalue()


def read_members(path):
    with tarfile.open(path) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}


def write_tar(path, members, compress=False):
    data = make_tar(members)
    with open(path, "wb") as out:
        out.write(gzip.compress(data, mtime=0) if compress else data)


class Crafted:
    """An image made from the one a `gocrate save` archive holds: its config
    (diff_ids included) kept unless `honest`, its last layer swapped for other
    content (`swap`), a layer added (`extra_layer`, with its true diff_id)."""

    def __init__(self, saved, swap=True, honest=False, extra_layer=None):
        members = read_members(saved)
        index = json.loads(members["index.json"])
        manifest = json.loads(members[blob_member(index["manifests"][0]["digest"])])
        self.config = members[blob_member(manifest["config"]["digest"])]
        config = json.loads(self.config)
        self.blobs = {layer["digest"]: members[blob_member(layer["digest"])] for layer in manifest["layers"]}
        diff_ids = list(config["rootfs"]["diff_ids"])
        layers = list(manifest["layers"])
        if swap:
            tar = make_tar({"app/hello": b"#!/bin/sh\necho 'not the program the config describes'\n"})
            blob = gzip.compress(tar, mtime=0)
            self.layer, self.expected, self.actual = sha256(blob), diff_ids[-1], sha256(tar)
            check(self.expected != self.actual, "the swapped layer is the same as the real one")
            layers[-1] = {"mediaType": OCI_LAYER_GZIP, "digest": self.layer, "size": len(blob)}
            self.blobs[self.layer] = blob
            if honest:
                diff_ids[-1] = self.actual
        if extra_layer is not None:
            blob = gzip.compress(extra_layer, mtime=0)
            self.extra = sha256(blob)
            layers.append({"mediaType": OCI_LAYER_GZIP, "digest": self.extra, "size": len(blob)})
            self.blobs[self.extra] = blob
            diff_ids.append(sha256(extra_layer))
        if diff_ids != config["rootfs"]["diff_ids"]:
            config["rootfs"]["diff_ids"] = diff_ids
            self.config = json.dumps(config).encode()
        manifest["config"] = {**manifest["config"], "digest": sha256(self.config), "size": len(self.config)}
        manifest["layers"] = layers
        manifest.pop("annotations", None)
        self.manifest = json.dumps(manifest).encode()
        self.manifest_digest = sha256(self.manifest)
        self.layers = [layer["digest"] for layer in layers]

    def oci_members(self, tag):
        members = {"oci-layout": b'{"imageLayoutVersion":"1.0.0"}'}
        members[blob_member(sha256(self.config))] = self.config
        members[blob_member(self.manifest_digest)] = self.manifest
        for digest, blob in self.blobs.items():
            members[blob_member(digest)] = blob
        entry = {"mediaType": OCI_MANIFEST, "digest": self.manifest_digest, "size": len(self.manifest),
                 "annotations": {REF_NAME: tag}}
        members["index.json"] = json.dumps({"schemaVersion": 2, "manifests": [entry]}).encode()
        return members

    def write_oci_archive(self, path, name):
        write_tar(path, self.oci_members(name))

    def write_oci_layout(self, directory, tag):
        for member, content in self.oci_members(tag).items():
            os.makedirs(os.path.dirname(os.path.join(directory, member)), exist_ok=True)
            open(os.path.join(directory, member), "wb").write(content)

    def write_docker_archive(self, path, name, compress=False):
        """docker save's format: manifest.json with Config and Layers; no index.json."""
        members = {blob_member(sha256(self.config)): self.config}
        for digest in self.layers:
            members[f"{digest.split(':')[1]}/layer.tar"] = self.blobs[digest]
        members["manifest.json"] = json.dumps([{"Config": blob_member(sha256(self.config)), "RepoTags": [name],
                                                "Layers": [f"{d.split(':')[1]}/layer.tar" for d in self.layers]}]
                                              ).encode()
        write_tar(path, members, compress)

    def push(self, host, repository, tag):
        """Pushes blobs and manifest with plain registry API requests."""
        for blob in [self.config, *self.blobs.values()]:
            start = urllib.request.Request(f"http://{host}/v2/{repository}/blobs/uploads/", data=b"", method="POST")
            with urllib.request.urlopen(start) as response:
                location = urllib.parse.urljoin(f"http://{host}/", response.headers["Location"])
            separator = "&" if "?" in location else "?"
            put = urllib.request.Request(f"{location}{separator}digest={sha256(blob)}", data=blob, method="PUT",
                                         headers={"Content-Type": "application/octet-stream"})
            urllib.request.urlopen(put).close()
        put = urllib.request.Request(f"http://{host}/v2/{repository}/manifests/{tag}", data=self.manifest,
                                     method="PUT", headers={"Content-Type": OCI_MANIFEST})
        urllib.request.urlopen(put).close()


def save_hello(store, work):
    store("build", ".", "-t", "hello-src", "-q", cwd=HELLO_DIR)
    saved = os.path.join(work, "hello.tar")
    store("save", "hello-src", "-o", saved)
    return saved


def blobs_of(store):
    path = os.path.join(store.path, "blobs", "sha256")
    return set(os.listdir(path)) if os.path.isdir(path) else set()


def index_of(store):
    """What the store's index.json names (nothing before the store is made)."""
    path = os.path.join(store.path, "index.json")
    return json.load(open(path))["manifests"] if os.path.exists(path) else []


def names_of(store):
    return [image["name"] for image in json.loads(store("images", "--json").stdout)]


def expect_refused(store, args, crafted, image, cwd=None):
    """The command fails with one line naming the layer, both diff_ids and the
    image; the store gains no name and keeps no new blob."""
    blobs, index = blobs_of(store), index_of(store)
    line = store.expect_error(*args, cwd=cwd, contains=[crafted.layer, crafted.expected, crafted.actual, image])
    check("diff_id" in line, line)
    check(index_of(store) == index, f"{' '.join(args)} changed the store's index.json")
    new = blobs_of(store) - blobs
    for digest in [crafted.layer, crafted.manifest_digest]:
        check(digest.split(":")[1] not in new, f"{digest} entered the store: {line}")
    store("prune")
    check(blobs_of(store) - blobs == set(), f"blobs of the refused image stayed: {blobs_of(store) - blobs}")
    return line


def test_load_refuses_a_docker_archive_with_a_swapped_layer(store, work):
    saved = save_hello(store, work)
    crafted = Crafted(saved)
    archive = os.path.join(work, "evil-docker.tar")
    crafted.write_docker_archive(archive, "evil:v1")
    # Into the store that built hello (its other layers are there) and a new one.
    expect_refused(store, ["load", "-i", archive], crafted, "evil:v1")
    check(names_of(store) == ["hello-src:latest"], names_of(store))
    fresh = Store(os.path.join(work, "fresh"))
    expect_refused(fresh, ["load", "-i", archive], crafted, "evil:v1")
    check(names_of(fresh) == [], names_of(fresh))
    # docker save | gzip
    compressed = os.path.join(work, "evil-docker.tar.gz")
    crafted.write_docker_archive(compressed, "evil:v1", compress=True)
    expect_refused(fresh, ["load", "-i", compressed], crafted, "evil:v1")

    # The same crafting with the diff_id told truly loads: only diff_ids were wrong.
    honest = Crafted(saved, honest=True)
    honest.write_docker_archive(os.path.join(work, "honest.tar"), "honest:v1")
    out = fresh("load", "-i", os.path.join(work, "honest.tar")).stdout
    check("Loaded image: honest:v1" in out, out)


def test_load_refuses_an_oci_archive_with_a_swapped_layer(store, work):
    saved = save_hello(store, work)
    crafted = Crafted(saved)
    archive = os.path.join(work, "evil-oci.tar")
    crafted.write_oci_archive(archive, "evil:v1")
    expect_refused(store, ["load", "-i", archive], crafted, "evil:v1")
    check(names_of(store) == ["hello-src:latest"], names_of(store))
    fresh = Store(os.path.join(work, "fresh"))
    expect_refused(fresh, ["load", "-i", archive], crafted, "evil:v1")
    check(names_of(fresh) == [], names_of(fresh))

    honest = Crafted(saved, honest=True)
    honest.write_oci_archive(os.path.join(work, "honest.tar"), "honest:v1")
    fresh("load", "-i", os.path.join(work, "honest.tar"))
    check(names_of(fresh) == ["honest:v1"], names_of(fresh))


def test_a_layer_the_store_has_is_checked_against_the_new_config(store, work):
    saved = save_hello(store, work)
    # The config claims hello's first layer has the diff_id of its second one;
    # the store has that blob already, so nothing of it would stream.
    members = read_members(saved)
    index = json.loads(members["index.json"])
    manifest = json.loads(members[blob_member(index["manifests"][0]["digest"])])
    config = json.loads(members[blob_member(manifest["config"]["digest"])])
    diff_ids = config["rootfs"]["diff_ids"]
    check(len(diff_ids) >= 2, config)
    config["rootfs"]["diff_ids"] = [diff_ids[1], *diff_ids[1:]]
    config_bytes = json.dumps(config).encode()
    manifest["config"] = {**manifest["config"], "digest": sha256(config_bytes), "size": len(config_bytes)}
    manifest_bytes = json.dumps(manifest).encode()
    out = {"oci-layout": members["oci-layout"], blob_member(sha256(config_bytes)): config_bytes,
           blob_member(sha256(manifest_bytes)): manifest_bytes}
    for layer in manifest["layers"]:
        out[blob_member(layer["digest"])] = members[blob_member(layer["digest"])]
    entry = {"mediaType": OCI_MANIFEST, "digest": sha256(manifest_bytes), "size": len(manifest_bytes),
             "annotations": {REF_NAME: "liar:v1"}}
    out["index.json"] = json.dumps({"schemaVersion": 2, "manifests": [entry]}).encode()
    archive = os.path.join(work, "liar.tar")
    write_tar(archive, out)
    first = manifest["layers"][0]["digest"]
    store.expect_error("load", "-i", archive, contains=[first, diff_ids[1], diff_ids[0], "liar:v1"])
    check(names_of(store) == ["hello-src:latest"], names_of(store))
    check(sha256(manifest_bytes).split(":")[1] not in blobs_of(store), "the liar's manifest was stored")


def test_load_caps_what_a_compressed_archive_decompresses_to(store, work):
    saved = save_hello(store, work)
    members = read_members(saved)
    members["padding"] = bytes(48 << 20)
    bomb = os.path.join(work, "bomb.tar.gz")
    write_tar(bomb, members, compress=True)
    check(os.path.getsize(bomb) < (8 << 20), f"the bomb is {os.path.getsize(bomb)} bytes")
    fresh = Store(os.path.join(work, "fresh"))
    fresh.expect_error("load", "-i", bomb, "--max-size", "16m", contains=[bomb, "16 MiB", "--max-size"])
    check(names_of(fresh) == [], names_of(fresh))
    check(blobs_of(fresh) == set(), f"a refused archive left blobs: {blobs_of(fresh)}")
    # Under the default cap (32g) it is an ordinary archive.
    fresh("load", "-i", bomb)
    check(names_of(fresh) == ["hello-src:latest"], names_of(fresh))
    fresh.expect_error("load", "-i", bomb, "--max-size", "lots", contains=["invalid --max-size", "lots"])
    fresh.expect_error("load", "-i", bomb, "--max-size", "0", contains=["invalid --max-size", "0"])


def test_load_caps_what_the_layers_decompress_to(store, work):
    saved = save_hello(store, work)
    # An honest layer (its diff_id is true) of 48 MiB of zeros, 50 kB gzipped.
    crafted = Crafted(saved, swap=False, extra_layer=make_tar({"zeros": bytes(48 << 20)}))
    archive = os.path.join(work, "layer-bomb.tar")
    crafted.write_oci_archive(archive, "bomb:v1")
    check(os.path.getsize(archive) < (16 << 20), f"the archive is {os.path.getsize(archive)} bytes")
    fresh = Store(os.path.join(work, "fresh"))
    fresh.expect_error("load", "-i", archive, "--max-size", "16m",
                       contains=["layers of archive", archive, "16 MiB", "--max-size"])
    check(names_of(fresh) == [], names_of(fresh))
    check(crafted.extra.split(":")[1] not in blobs_of(fresh), "the refused layer was stored")
    fresh("load", "-i", archive, "--max-size", "1g")
    check(names_of(fresh) == ["bomb:v1"], names_of(fresh))


def test_pull_refuses_an_image_with_a_swapped_layer(store, work):
    saved = save_hello(store, work)
    crafted = Crafted(saved)
    honest = Crafted(saved, honest=True)
    with registry() as reg:
        crafted.push(reg.host, "evil", "v1")
        honest.push(reg.host, "honest", "v1")
        fresh = Store(os.path.join(work, "fresh"))
        expect_refused(fresh, ["pull", f"{reg.host}/evil:v1"], crafted, f"{reg.host}/evil:v1")
        check(names_of(fresh) == [], names_of(fresh))
        # Into a store that has the image's other layers.
        expect_refused(store, ["pull", f"{reg.host}/evil:v1"], crafted, f"{reg.host}/evil:v1")
        check(names_of(store) == ["hello-src:latest"], names_of(store))
        fresh("pull", f"{reg.host}/honest:v1")
        check(names_of(fresh) == [f"{reg.host}/honest:v1"], names_of(fresh))
        # A registry base goes the same way.
        expect_refused(store, ["build", ".", "-q", "--base", f"{reg.host}/evil:v1", "-t", "derived"], crafted,
                       f"{reg.host}/evil:v1", cwd=HELLO_DIR)
        check(names_of(store) == ["hello-src:latest"], names_of(store))


def test_build_refuses_a_base_with_a_swapped_layer(store, work):
    saved = save_hello(store, work)
    crafted = Crafted(saved)
    layout = os.path.join(work, "evil-layout")
    crafted.write_oci_layout(layout, "v1")
    docker_archive = os.path.join(work, "evil-docker.tar")
    crafted.write_docker_archive(docker_archive, "evil:v1")
    oci_archive = os.path.join(work, "evil-oci.tar")
    crafted.write_oci_archive(oci_archive, "evil:v1")
    fresh = Store(os.path.join(work, "fresh"))
    for base in [f"oci-layout:{layout}:v1", f"docker-archive:{docker_archive}", f"oci-archive:{oci_archive}"]:
        for target in [store, fresh]:
            expect_refused(target, ["build", ".", "-q", "--base", base, "-t", "derived"], crafted, base,
                           cwd=HELLO_DIR)
            check("derived:latest" not in names_of(target), names_of(target))
    honest = os.path.join(work, "honest-layout")
    Crafted(saved, honest=True).write_oci_layout(honest, "v1")
    fresh("build", ".", "-q", "--base", f"oci-layout:{honest}:v1", "-t", "derived", cwd=HELLO_DIR)
    check(names_of(fresh) == ["derived:latest"], names_of(fresh))


if __name__ == "__main__":
    main(globals())
