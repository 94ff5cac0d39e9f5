#!/usr/bin/env python3
"""Reads a `docker save` archive of one image on stdin and writes it back on
stdout with the image config's architecture, one label and the repository
tag set (docker import ignores --platform and cannot set labels).

  docker save IMG | relabel_image.py ARCH TAG KEY=VALUE | docker load
"""
import hashlib
import io
import json
import sys
import tarfile


def main() -> int:
    arch, tag, label = sys.argv[1], sys.argv[2], sys.argv[3]
    key, _, value = label.partition("=")
    src = tarfile.open(fileobj=io.BytesIO(sys.stdin.buffer.read()))
    members = {m.name: m for m in src.getmembers()}
    manifest = json.load(src.extractfile("manifest.json"))
    old_config = manifest[0]["Config"]
    config = json.load(src.extractfile(old_config))
    config["architecture"] = arch
    config.setdefault("config", {})
    config["config"]["Labels"] = {**(config["config"].get("Labels") or {}), key: value}
    data = json.dumps(config).encode()
    new_config = hashlib.sha256(data).hexdigest() + ".json"
    manifest[0]["Config"] = new_config
    manifest[0]["RepoTags"] = [tag]
    out = tarfile.open(fileobj=sys.stdout.buffer, mode="w|")

    def add(name, payload):
        info = tarfile.TarInfo(name)
        info.size = len(payload)
        out.addfile(info, io.BytesIO(payload))

    for name, member in members.items():
        if name in ("manifest.json", "repositories", old_config):
            continue
        out.addfile(member, src.extractfile(member) if member.isfile() else None)
    add(new_config, data)
    add("manifest.json", json.dumps(manifest).encode())
    out.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
