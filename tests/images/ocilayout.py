#!/usr/bin/env python3
"""Build OCI image layouts for the tests, from files on this machine.

  ocilayout.py busybox DIR TAG    a busybox root in two layers: the first has
                                  /bin/busybox, its applets and /etc/gone; the
                                  second removes /etc/gone with a whiteout and
                                  makes /etc opaque-free changes (adds /etc/motd).
                                  Config: Cmd [sh, -c, 'echo "$GREETING from $PWD"'],
                                  Env GREETING=hello-from-config, WorkingDir /srv.
  ocilayout.py service DIR TAG    the busybox layers with a server's config:
                                  Entrypoint [sh, -c], Cmd writing
                                  "$SVC_VAR in $PWD" to /out/said, then sleeping;
                                  Env SVC_VAR=from-image, WorkingDir /srv.
  ocilayout.py multi DIR TAG      an index of linux/amd64 (the busybox image)
                                  and linux/arm64/v8 (a one-file image)
Layers are gzip tars with numeric owners 0:0 and mtime 0.
"""
import gzip
import hashlib
import io
import json
import os
import sys
import tarfile

APPLETS = ["sh", "echo", "cat", "ls", "id", "pwd", "env", "test", "true", "false", "sleep"]


def sha(b):
    return hashlib.sha256(b).hexdigest()


class Layout:
    def __init__(self, root):
        self.root = root
        os.makedirs(os.path.join(root, "blobs", "sha256"), exist_ok=True)
        with open(os.path.join(root, "oci-layout"), "w") as f:
            json.dump({"imageLayoutVersion": "1.0.0"}, f)

    def blob(self, data, media_type, **extra):
        with open(os.path.join(self.root, "blobs", "sha256", sha(data)), "wb") as f:
            f.write(data)
        d = {"mediaType": media_type, "digest": "sha256:" + sha(data), "size": len(data)}
        d.update(extra)
        return d

    def write_index(self, manifests):
        with open(os.path.join(self.root, "index.json"), "w") as f:
            json.dump({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                       "manifests": manifests}, f)


def tar(entries):
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as t:
        for name, kind, data in entries:
            info = tarfile.TarInfo(name)
            info.mtime = 0
            info.uid = info.gid = 0
            if kind == "dir":
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                t.addfile(info)
            elif kind == "link":
                info.type, info.linkname, info.mode = tarfile.SYMTYPE, data, 0o777
                t.addfile(info)
            else:
                info.size, info.mode = len(data), (0o755 if kind == "exe" else 0o644)
                t.addfile(info, io.BytesIO(data))
    return raw.getvalue()


def image(lay, arch, layers, config_extra):
    raws = [tar(l) for l in layers]
    gzs = [gzip.compress(r, mtime=0) for r in raws]
    config = {"architecture": arch, "os": "linux",
              "rootfs": {"type": "layers", "diff_ids": ["sha256:" + sha(r) for r in raws]}}
    config.update(config_extra)
    if arch == "arm64":
        config["variant"] = "v8"
    cfg = lay.blob(json.dumps(config, sort_keys=True).encode(), "application/vnd.oci.image.config.v1+json")
    ls = [lay.blob(g, "application/vnd.oci.image.layer.v1.tar+gzip") for g in gzs]
    m = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "config": cfg, "layers": ls}, sort_keys=True).encode()
    plat = {"os": "linux", "architecture": arch}
    if arch == "arm64":
        plat["variant"] = "v8"
    return lay.blob(m, "application/vnd.oci.image.manifest.v1+json", platform=plat)


def busybox_layers():
    with open("/bin/busybox", "rb") as f:
        bb = f.read()
    one = [("bin", "dir", None), ("bin/busybox", "exe", bb)]
    one += [("bin/" + a, "link", "busybox") for a in APPLETS]
    one += [("etc", "dir", None), ("etc/gone", "file", b"removed by the second layer\n"),
            ("srv", "dir", None), ("tmp", "dir", None)]
    two = [("etc", "dir", None), ("etc/.wh.gone", "file", b""), ("etc/motd", "file", b"from layer two\n")]
    return [one, two]


BUSYBOX_CONFIG = {"config": {"Env": ["PATH=/bin", "GREETING=hello-from-config"],
                             "Cmd": ["sh", "-c", 'echo "$GREETING from $PWD"'], "WorkingDir": "/srv"}}
SERVICE_CONFIG = {"config": {"Env": ["PATH=/bin", "SVC_VAR=from-image"], "Entrypoint": ["sh", "-c"],
                              "Cmd": ['echo "$SVC_VAR in $PWD" >/out/said; exec sleep 1000'],
                              "WorkingDir": "/srv"}}


def main():
    what, root, tag = sys.argv[1:4]
    lay = Layout(root)
    amd = image(lay, "amd64", busybox_layers(), SERVICE_CONFIG if what == "service" else BUSYBOX_CONFIG)
    if what in ("busybox", "service"):
        amd["annotations"] = {"org.opencontainers.image.ref.name": tag}
        del amd["platform"]
        lay.write_index([amd])
    elif what == "multi":
        arm = image(lay, "arm64", [[("etc", "dir", None), ("etc/arch", "file", b"arm64\n")]], {})
        idx = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                          "manifests": [amd, arm]}, sort_keys=True).encode()
        d = lay.blob(idx, "application/vnd.oci.image.index.v1+json",
                     annotations={"org.opencontainers.image.ref.name": tag})
        lay.write_index([d])
    else:
        sys.exit("usage: ocilayout.py busybox|service|multi DIR TAG")


if __name__ == "__main__":
    main()
