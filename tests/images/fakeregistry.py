#!/usr/bin/env python3
"""A small OCI registry for the tests that plays hostile registries.

It builds its images in memory at start. The first part of a repository name
picks the behaviour; every repository has tag "1":
  good/app       an index (linux/amd64, linux/arm64/v8) of two-layer images
  single/app     a plain image manifest (Docker schema 2 media types)
  big/app        a manifest of 5 MiB
  mdigest/app    the manifest with a Docker-Content-Digest of other bytes;
                 by digest, other bytes than asked for
  cdigest/app    the config blob's bytes differ from its digest
  ldigest/app    a layer's bytes differ from its digest (same size)
  lsize/app      a layer longer than its declared size (1 MiB more)
  loop/app       the manifest redirects to itself
  tokenhang/app  a Bearer challenge whose token server never answers
  tokenbad/app   a Bearer challenge whose token server refuses (401)
  selfindex/app  an index whose entry, when fetched, is the index again
  mtlie/app      a layer that is a JSON document declared as tar+gzip
  cfglayer/app   a layer descriptor that is the config blob
  noplat/app     an index with only linux/s390x
  schema1/app    a Docker schema 1 manifest
  artifact/app   an OCI artifact (config type application/vnd.oci.empty.v1+json)
  token/app      needs a Bearer token from /token (service "fake", user "u" "p" or anonymous)
  basic/app      needs HTTP basic auth u:p on every request
Only binds 127.0.0.1; the port goes to --port-file. Requests are logged to
--log as "METHOD PATH AUTH".
"""
import argparse
import base64
import gzip
import hashlib
import http.server
import io
import json
import socketserver
import tarfile
import threading
import time

OCI_M = "application/vnd.oci.image.manifest.v1+json"
OCI_I = "application/vnd.oci.image.index.v1+json"
OCI_C = "application/vnd.oci.image.config.v1+json"
OCI_LGZ = "application/vnd.oci.image.layer.v1.tar+gzip"
DOCKER_M = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_C = "application/vnd.docker.container.image.v1+json"
DOCKER_L = "application/vnd.docker.image.rootfs.diff.tar.gzip"

BLOBS = {}      # hex -> bytes, shared by all repositories (as a registry's store)
MANIFESTS = {}  # (repo, tag or "sha256:hex") -> (bytes, content type)
LOCK = threading.Lock()


def sha(b):
    return hashlib.sha256(b).hexdigest()


def put_blob(b):
    BLOBS[sha(b)] = b
    return sha(b)


def desc(mt, b, **extra):
    d = {"mediaType": mt, "digest": "sha256:" + put_blob(b), "size": len(b)}
    d.update(extra)
    return d


def tar_layer(files):
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as t:
        for name, data in files:
            info = tarfile.TarInfo(name)
            info.mtime = 0
            if data is None:
                info.type = tarfile.DIRTYPE
                info.mode = 0o755
                t.addfile(info)
            else:
                info.size = len(data)
                info.mode = 0o644
                t.addfile(info, io.BytesIO(data))
    return raw.getvalue(), gzip.compress(raw.getvalue(), mtime=0)


def image(arch, docker=False, tag=b""):
    """Two layers: /etc/greeting and /srv/hello, then /srv/hello replaced."""
    raw1, l1 = tar_layer([("etc", None), ("etc/greeting", b"hello from " + arch.encode() + tag + b"\n"),
                          ("srv", None), ("srv/hello", b"layer one\n")])
    raw2, l2 = tar_layer([("srv", None), ("srv/hello", b"layer two" + tag + b"\n")])
    config = json.dumps({
        "architecture": arch, "os": "linux",
        "config": {"Env": ["PATH=/usr/bin:/bin", "GREETING=from-config"], "Cmd": ["/bin/sh", "-c", "echo hi"],
                   "WorkingDir": "/srv", "User": ""},
        "rootfs": {"type": "layers", "diff_ids": ["sha256:" + sha(raw1), "sha256:" + sha(raw2)]},
    }, sort_keys=True).encode()
    lt = DOCKER_L if docker else OCI_LGZ
    m = {"schemaVersion": 2, "mediaType": DOCKER_M if docker else OCI_M,
         "config": desc(DOCKER_C if docker else OCI_C, config),
         "layers": [desc(lt, l1), desc(lt, l2)]}
    return m, (l1, l2, config)


def enc(doc):
    return json.dumps(doc, indent=1, sort_keys=True).encode()


def add_manifest(repo, doc, mt, tag="1"):
    b = enc(doc) if not isinstance(doc, bytes) else doc
    MANIFESTS[(repo, tag)] = (b, mt)
    MANIFESTS[(repo, "sha256:" + sha(b))] = (b, mt)
    return b


def index_of(repo, arches):
    entries = []
    for arch, variant in arches:
        m, _ = image(arch)
        b = add_manifest(repo, m, OCI_M, tag="m-" + arch)
        plat = {"os": "linux", "architecture": arch}
        if variant:
            plat["variant"] = variant
        entries.append({"mediaType": OCI_M, "digest": "sha256:" + sha(b), "size": len(b), "platform": plat})
    return {"schemaVersion": 2, "mediaType": OCI_I, "manifests": entries}


SPECIAL_BLOBS = {}  # (repo, hex) -> bytes served instead of the real blob


def build():
    add_manifest("good/app", index_of("good/app", [("amd64", None), ("arm64", "v8")]), OCI_I)
    m, _ = image("amd64", docker=True, tag=b" single")
    add_manifest("single/app", m, DOCKER_M)
    for repo in ("big/app", "mdigest/app", "loop/app", "tokenhang/app", "tokenbad/app", "token/app", "basic/app"):
        m, _ = image("amd64", tag=(" " + repo).encode())
        add_manifest(repo, m, OCI_M)
    big, _ = image("amd64")
    big["annotations"] = {"padding": "x" * (5 << 20)}
    add_manifest("big/app", big, OCI_M)
    # config and layer digests that lie
    m, (l1, l2, config) = image("amd64", tag=b" cdigest")
    add_manifest("cdigest/app", m, OCI_M)
    SPECIAL_BLOBS[("cdigest/app", sha(config))] = config.replace(b"from-config", b"from-attack")
    m, (l1, l2, config) = image("amd64", tag=b" ldigest")
    add_manifest("ldigest/app", m, OCI_M)
    SPECIAL_BLOBS[("ldigest/app", sha(l2))] = bytes(len(l2))
    m, (l1, l2, config) = image("amd64", tag=b" lsize")
    add_manifest("lsize/app", m, OCI_M)
    SPECIAL_BLOBS[("lsize/app", sha(l2))] = l2 + b"\0" * (1 << 20)
    # an index whose entry is served as the index itself
    idx = {"schemaVersion": 2, "mediaType": OCI_I, "manifests": [
        {"mediaType": OCI_I, "digest": "sha256:" + "5" * 64, "size": 1,
         "platform": {"os": "linux", "architecture": "amd64"}}]}
    b = enc(idx)
    idx["manifests"][0]["size"] = len(b)
    b = enc(idx)
    MANIFESTS[("selfindex/app", "1")] = (b, OCI_I)
    MANIFESTS[("selfindex/app", "sha256:" + "5" * 64)] = (b, OCI_I)
    # media type lies
    m, _ = image("amd64", tag=b" mtlie")
    m["layers"][1] = desc(OCI_LGZ, b'{"not": "a layer"}')
    add_manifest("mtlie/app", m, OCI_M)
    m, _ = image("amd64", tag=b" cfglayer")
    m["layers"][1] = dict(m["config"], mediaType=OCI_LGZ)
    add_manifest("cfglayer/app", m, OCI_M)
    add_manifest("noplat/app", index_of("noplat/app", [("s390x", None)]), OCI_I)
    add_manifest("schema1/app", {"schemaVersion": 1, "name": "schema1/app", "tag": "1", "fsLayers": []},
                 "application/vnd.docker.distribution.manifest.v1+prettyjws")
    m, _ = image("amd64")
    m["config"] = desc("application/vnd.oci.empty.v1+json", b"{}")
    add_manifest("artifact/app", m, OCI_M)


TOKEN = "fake-token-1"
BASIC = "Basic " + base64.b64encode(b"u:p").decode()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def log(self):
        with LOCK, open(self.server.log, "a") as f:
            f.write("%s %s %s\n" % (self.command, self.path, self.headers.get("Authorization", "-")))

    def reply(self, status, body=b"", ctype="application/json", headers=()):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        self.log()
        path = self.path.split("?")[0]
        if path.startswith("/token"):
            return self.token(path)
        if path == "/v2/" or path == "/v2":
            return self.reply(200, b"{}")
        parts = path[len("/v2/"):].split("/") if path.startswith("/v2/") else []
        if len(parts) < 4 or parts[-2] not in ("manifests", "blobs"):
            return self.reply(404, b'{"errors":[{"code":"NAME_UNKNOWN"}]}')
        repo, kind, name = "/".join(parts[:-2]), parts[-2], parts[-1]
        mode = parts[0]
        if not self.authorized(mode, repo):
            return
        if mode == "loop" and kind == "manifests":
            return self.reply(302, headers=[("Location", self.path)])
        if kind == "blobs":
            return self.blob(repo, name)
        return self.manifest(mode, repo, name)

    def authorized(self, mode, repo):
        auth = self.headers.get("Authorization", "")
        port = self.server.server_address[1]
        realm = {"token": "/token", "tokenhang": "/token-hang", "tokenbad": "/token-bad"}.get(mode)
        if realm:
            if auth == "Bearer " + TOKEN:
                return True
            challenge = 'Bearer realm="http://127.0.0.1:%d%s",service="fake",scope="repository:%s:pull"' % (
                port, realm, repo)
            self.reply(401, b'{"errors":[{"code":"UNAUTHORIZED"}]}', headers=[("WWW-Authenticate", challenge)])
            return False
        if mode == "basic" and auth != BASIC:
            self.reply(401, b'{"errors":[{"code":"UNAUTHORIZED"}]}',
                       headers=[("WWW-Authenticate", 'Basic realm="fake"')])
            return False
        return True

    def token(self, path):
        if path == "/token-hang":
            time.sleep(3600)
            return
        if path == "/token-bad":
            return self.reply(401, b'{"details":"no"}')
        self.reply(200, json.dumps({"token": TOKEN, "expires_in": 300}).encode())

    def manifest(self, mode, repo, name):
        entry = MANIFESTS.get((repo, name))
        if mode == "mdigest" and name.startswith("sha256:"):
            entry = MANIFESTS.get((repo, "1"))
        if not entry:
            return self.reply(404, b'{"errors":[{"code":"MANIFEST_UNKNOWN"}]}')
        body, ctype = entry
        digest = "sha256:" + sha(body)
        if mode == "mdigest":
            if name.startswith("sha256:"):
                body = body.replace(b"hello", b"HELLO") + b" "
            else:
                digest = "sha256:" + "0" * 64
        self.reply(200, body, ctype, headers=[("Docker-Content-Digest", digest)])

    def blob(self, repo, name):
        hexd = name[len("sha256:"):] if name.startswith("sha256:") else ""
        body = SPECIAL_BLOBS.get((repo, hexd), BLOBS.get(hexd))
        if body is None:
            return self.reply(404, b'{"errors":[{"code":"BLOB_UNKNOWN"}]}')
        rng = self.headers.get("Range")
        if rng and rng.startswith("bytes=") and rng.endswith("-"):
            start = int(rng[6:-1])
            if start < len(body):
                part = body[start:]
                return self.reply(206, part, "application/octet-stream", headers=[
                    ("Content-Range", "bytes %d-%d/%d" % (start, len(body) - 1, len(body)))])
        self.reply(200, body, "application/octet-stream")


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # clients that hang up on a hostile answer are expected


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--log", required=True)
    a = ap.parse_args()
    build()
    srv = Server(("127.0.0.1", 0), Handler)
    srv.log = a.log
    with open(a.port_file + ".tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    import os
    os.rename(a.port_file + ".tmp", a.port_file)
    srv.serve_forever()


if __name__ == "__main__":
    main()
