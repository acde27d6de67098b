#!/usr/bin/env python3
"""Writes an OCI image layout holding one image of N layers of random bytes
(uncompressed tar layers), named NAME, for benchmarks: make_layout.py DIR NAME LAYERS MIB_PER_LAYER"""

import hashlib
import io
import json
import os
import sys
import tarfile


def write_blob(root, data):
    digest = hashlib.sha256(data).hexdigest()
    with open(os.path.join(root, "blobs", "sha256", digest), "wb") as out:
        out.write(data)
    return {"digest": f"sha256:{digest}", "size": len(data)}


def layer(index, mib):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo(f"data/random-{index}.bin")
        info.size = mib << 20
        info.mtime = 0
        tar.addfile(info, io.BytesIO(os.urandom(info.size)))
    return buffer.getvalue()


def main():
    root, name, count, mib = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    os.makedirs(os.path.join(root, "blobs", "sha256"), exist_ok=True)
    layers, diff_ids = [], []
    for i in range(count):
        data = layer(i, mib)
        layers.append(dict(write_blob(root, data), mediaType="application/vnd.oci.image.layer.v1.tar"))
        diff_ids.append(layers[-1]["digest"])
    config = {"architecture": "amd64", "os": "linux", "config": {"Entrypoint": ["/bin/true"]},
              "rootfs": {"type": "layers", "diff_ids": diff_ids}, "created": "1970-01-01T00:00:00Z"}
    config_blob = write_blob(root, json.dumps(config).encode())
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": dict(config_blob, mediaType="application/vnd.oci.image.config.v1+json"), "layers": layers}
    manifest_blob = write_blob(root, json.dumps(manifest).encode())
    index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
             "manifests": [dict(manifest_blob, mediaType="application/vnd.oci.image.manifest.v1+json",
                                annotations={"org.opencontainers.image.ref.name": name})]}
    with open(os.path.join(root, "index.json"), "w") as out:
        json.dump(index, out)
    with open(os.path.join(root, "oci-layout"), "w") as out:
        out.write('{"imageLayoutVersion":"1.0.0"}')


if __name__ == "__main__":
    main()
