#!/usr/bin/env python3
"""A token server for docker-registry's token auth, for the tests.

Grants what is asked (pull, push) to anyone, or with --user U:P only to a
request with that basic auth. Signs RS256 JWTs with --key (PEM); the
registry trusts --cert and finds the key by its libtrust key ID. Only binds
127.0.0.1; the port goes to --port-file; requests go to --log.
"""
import argparse
import base64
import hashlib
import http.server
import json
import os
import socketserver
import time
import urllib.parse

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def libtrust_kid(pub):
    der = pub.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    s = base64.b32encode(hashlib.sha256(der).digest()[:30]).decode()
    return ":".join(s[i:i + 4] for i in range(0, len(s), 4))


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, fmt, *args):
        pass

    def do_GET(self):
        srv = self.server
        auth = self.headers.get("Authorization", "-")
        with open(srv.log, "a") as f:
            f.write("GET %s %s\n" % (self.path, auth))
        if srv.user and auth != "Basic " + base64.b64encode(srv.user.encode()).decode():
            return self.reply(401, {"details": "bad credentials"})
        q = urllib.parse.parse_qs(urllib.parse.urlparse(self.path).query)
        access = []
        for scope in q.get("scope", []):
            kind, name, actions = scope.split(":")
            access.append({"type": kind, "name": name, "actions": actions.split(",")})
        now = int(time.time())
        claims = {"iss": "berth-test", "sub": "tester", "aud": q.get("service", [""])[0], "exp": now + 300,
                  "nbf": now - 10, "iat": now, "jti": os.urandom(8).hex(), "access": access}
        header = {"typ": "JWT", "alg": "RS256", "kid": srv.kid}
        signing = (b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(claims).encode())).encode()
        sig = srv.key.sign(signing, padding.PKCS1v15(), hashes.SHA256())
        self.reply(200, {"token": signing.decode() + "." + b64url(sig), "expires_in": 300})

    def reply(self, status, doc):
        body = json.dumps(doc).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--key", required=True)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--user")
    a = ap.parse_args()
    with open(a.key, "rb") as f:
        key = serialization.load_pem_private_key(f.read(), None)
    srv = Server(("127.0.0.1", 0), Handler)
    srv.key, srv.kid, srv.log, srv.user = key, libtrust_kid(key.public_key()), a.log, a.user
    with open(a.port_file + ".tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    os.rename(a.port_file + ".tmp", a.port_file)
    srv.serve_forever()


if __name__ == "__main__":
    main()
