#!/usr/bin/env python3
"""A static HTTP/1.1 server with Range support that misbehaves on request.

URL: /MODE/NAME[?n=K], NAME a file in --root. MODE is one of
  ok        serve normally (Range honoured: 206)
  norange   ignore Range, always 200 with the whole file
  truncate  first K requests: full Content-Length, half the body, close
  badlen    first K requests: Content-Length larger than the body, close
  shortlen  always: Content-Length 10 bytes short (the client gets wrong bytes)
  stall     first K requests: headers and a little body, then silence
  stallhead first K requests: headers, then silence
  drip      first K requests: headers, then 64 bytes a second
  slow      first K requests: 1 MiB a second, in steps of 256 KiB
  reset     first K requests: a little body, then a TCP reset
  e500      first K requests: 500
  e503      first K requests: 503 with Retry-After: 1
  e429      first K requests: 429 with Retry-After: 1
  e404      always 404
  redirN    redirect N times (302) to /ok/NAME
  tofile    redirect to file:///etc/passwd
  tohttp    redirect to http://127.0.0.1:PORT/ok/NAME (PORT from ?port=)
  corrupt   always: one byte of the body flipped
Every request is logged to --log as "MODE NAME RANGE". The chosen port is
written to --port-file once listening. Only binds 127.0.0.1. With --cert and
--key it speaks TLS.
"""
import argparse
import http.server
import os
import re
import socket
import struct
import threading
import time
import urllib.parse

COUNTS = {}
LOCK = threading.Lock()


def bump(key):
    with LOCK:
        COUNTS[key] = COUNTS.get(key, 0) + 1
        return COUNTS[key]


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def log_request_line(self, mode, name):
        with LOCK, open(self.server.log, "a") as f:
            f.write("%s %s %s\n" % (mode, name, self.headers.get("Range", "-")))

    def do_GET(self):
        u = urllib.parse.urlparse(self.path)
        q = urllib.parse.parse_qs(u.query)
        parts = u.path.lstrip("/").split("/", 1)
        if len(parts) != 2:
            return self.simple(404)
        mode, name = parts
        self.log_request_line(mode, name)
        path = os.path.join(self.server.root, os.path.basename(name))
        if not os.path.isfile(path):
            return self.simple(404)
        k = int(q.get("n", ["1"])[0])
        n = bump((mode, name))
        failing = n <= k
        m = re.fullmatch(r"redir(\d+)", mode)
        if m:
            hops = int(m.group(1))
            nxt = "/redir%d/%s" % (hops - 1, name) if hops > 1 else "/ok/%s" % name
            return self.redirect(nxt)
        if mode == "tofile":
            return self.redirect("file:///etc/passwd")
        if mode == "tohttp":
            return self.redirect("http://127.0.0.1:%s/ok/%s" % (q.get("port", ["1"])[0], name))
        if mode == "e404":
            return self.simple(404)
        if mode in ("e500", "e503", "e429") and failing:
            return self.simple(int(mode[1:]), retry_after=mode != "e500")
        with open(path, "rb") as f:
            data = f.read()
        if mode == "corrupt":
            data = bytearray(data)
            data[len(data) // 2] ^= 0x01
            data = bytes(data)
        start = 0
        rng = self.headers.get("Range")
        if rng and mode != "norange":
            m = re.fullmatch(r"bytes=(\d+)-", rng.strip())
            if m:
                start = int(m.group(1))
                if start >= len(data):
                    self.send_response(416)
                    self.send_header("Content-Range", "bytes */%d" % len(data))
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
        body = data[start:]
        self.send_response(206 if start else 200)
        if start:
            self.send_header("Content-Range", "bytes %d-%d/%d" % (start, len(data) - 1, len(data)))
        self.send_header("Accept-Ranges", "bytes")
        length = len(body)
        if mode == "shortlen":
            length = max(0, length - 10)
        if mode == "badlen" and failing:
            length = length + 1000
        self.send_header("Content-Length", str(length))
        self.end_headers()
        if mode in ("truncate", "badlen", "stall", "reset", "stallhead", "drip", "slow") and failing:
            return self.misbehave(mode, body)
        self.wfile.write(body[:length])

    def misbehave(self, mode, body):
        if mode == "stallhead":
            self.wfile.flush()
            time.sleep(60)
            self.close_connection = True
            return
        if mode == "slow":
            step = 256 * 1024
            for i in range(0, len(body), step):
                self.wfile.write(body[i:i + step])
                self.wfile.flush()
                time.sleep(0.25)
            return
        if mode == "drip":
            for i in range(0, min(len(body), 64 * 60), 64):
                self.wfile.write(body[i:i + 64])
                self.wfile.flush()
                time.sleep(1)
            self.close_connection = True
            return
        if mode == "badlen":
            self.wfile.write(body)
        else:
            self.wfile.write(body[: max(1, len(body) // 2)])
        self.wfile.flush()
        if mode == "stall":
            time.sleep(30)
        if mode == "reset":
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True

    def redirect(self, where):
        self.send_response(302)
        self.send_header("Location", where)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def simple(self, code, retry_after=False):
        self.send_response(code)
        if retry_after:
            self.send_header("Retry-After", "1")
        self.send_header("Content-Length", "0")
        self.end_headers()


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--cert")
    ap.add_argument("--key")
    a = ap.parse_args()
    srv = Server(("127.0.0.1", 0), Handler)
    if a.cert:
        import ssl
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(a.cert, a.key)
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    srv.root = a.root
    srv.log = a.log
    tmp = a.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(srv.server_address[1]))
    os.rename(tmp, a.port_file)
    srv.serve_forever()


if __name__ == "__main__":
    main()
