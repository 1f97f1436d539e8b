"""Read a cosign attachment with oras (an independent OCI client) and check every blob's digest.

usage: oras_read.py REGISTRY REPOSITORY TAG      (plain-HTTP registry without auth)
Prints `manifest <digest>`, then `layer <digest> <mediaType> <size> ok` and `annotation k=v` lines.
"""
import hashlib
import sys

import oras.client

registry, repository, tag = sys.argv[1:4]
client = oras.client.OrasClient(hostname=registry, insecure=True)
target = f"{registry}/{repository}:{tag}"
manifest = client.get_manifest(target, allowed_media_type=["application/vnd.oci.image.manifest.v1+json"])
raw = client.do_request(f"http://{registry}/v2/{repository}/manifests/{tag}", "GET",
                        headers={"Accept": "application/vnd.oci.image.manifest.v1+json"}).content
print("manifest sha256:" + hashlib.sha256(raw).hexdigest())
for layer in manifest["layers"]:
    blob = client.get_blob(target, layer["digest"]).content
    ok = "sha256:" + hashlib.sha256(blob).hexdigest() == layer["digest"] and len(blob) == layer["size"]
    print(f"layer {layer['digest']} {layer['mediaType']} {layer['size']} {'ok' if ok else 'MISMATCH'}")
    for k, v in sorted((layer.get("annotations") or {}).items()):
        print(f"annotation {k}={v}")
config = client.get_blob(target, manifest["config"]["digest"]).content
assert "sha256:" + hashlib.sha256(config).hexdigest() == manifest["config"]["digest"]
