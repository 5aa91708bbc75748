#!/usr/bin/env python3
"""Write one archive per class of hostile entry into OUTDIR (see images.bats for
what each must do). Usage: hostile.py OUTDIR"""
import gzip
import io
import os
import sys
import tarfile


def member(name, kind=tarfile.REGTYPE, data=b"", **kw):
    ti = tarfile.TarInfo(name)
    ti.type = kind
    ti.size = len(data) if kind == tarfile.REGTYPE else 0
    ti.mode = kw.pop("mode", 0o755 if kind == tarfile.DIRTYPE else 0o644)
    ti.mtime = 1700000000
    for k, v in kw.items():
        setattr(ti, k, v)
    return ti, (io.BytesIO(data) if kind == tarfile.REGTYPE else None)


def tar_bytes(members, fmt=tarfile.PAX_FORMAT):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as t:
        for ti, f in members:
            t.addfile(ti, f)
    return buf.getvalue()


def write(outdir, name, data):
    with open(os.path.join(outdir, name), "wb") as f:
        f.write(data)


def main(outdir):
    os.makedirs(outdir, exist_ok=True)
    D, S, L = tarfile.DIRTYPE, tarfile.SYMTYPE, tarfile.LNKTYPE
    cases = {
        "dotdot": [member("ok"), member("../../outside/pwned", data=b"x")],
        "dotdot-mid": [member("a/../../outside/pwned", data=b"x")],
        "absolute": [member("/abs/file", data=b"abs")],
        "symlink-escape": [member("esc", S, linkname="../../outside"), member("esc/pwned", data=b"x")],
        "symlink-abs-escape": [member("esc", S, linkname="/tmp"), member("esc/pwned", data=b"x")],
        "hardlink-out": [member("h", L, linkname="../../outside/secret")],
        "hardlink-abs": [member("h", L, linkname="/etc/passwd")],
        "hardlink-through-symlink": [member("l", S, linkname="../../outside"), member("h", L, linkname="l/secret")],
        "hardlink-ok": [member("f", data=b"same"), member("g", L, linkname="f")],
        "devices": [member("null", tarfile.CHRTYPE, devmajor=1, devminor=3),
                    member("sda", tarfile.BLKTYPE, devmajor=8, devminor=0),
                    member("fifo", tarfile.FIFOTYPE, mode=0o600), member("after", data=b"still here")],
        "setuid": [member("suid", data=b"#!/bin/sh\n", mode=0o4755), member("sgid", data=b"x", mode=0o2755),
                   member("sdir", D, mode=0o3775), member("sticky", D, mode=0o1777)],
        "xattrs": [member("f", data=b"x", pax_headers={
            "SCHILY.xattr.security.capability": "\x01\x00\x00\x02\x00\x20\x00\x00",
            "SCHILY.xattr.trusted.evil": "1",
            "SCHILY.xattr.user.overlay.opaque": "y",
            "SCHILY.xattr.user.keep": "kept"})],
        "long-component": [member("d/" + "n" * 300, data=b"x")],
        "long-path": [member("/".join(["d" * 200] * 25) + "/f", data=b"x")],
        "dup-dir-to-symlink": [member("a", D), member("a", S, linkname="/etc"), member("a/passwd", data=b"x")],
        "dup-file-to-dir": [member("f", data=b"x"), member("f", D)],
        "dup-same-type": [member("f", data=b"first"), member("f", data=b"second")],
        "whiteouts": [member("etc", D), member("etc/.wh.gone"), member("var", D), member("var/.wh..wh..opq"),
                      member("var/new", data=b"n")],
        "whiteout-bad": [member(".wh..."), member("x")],
        "readonly-dir": [member("ro", D, mode=0o555), member("ro/inner", data=b"i", mode=0o444)],
        "many-entries": [member("e%d" % i) for i in range(300)],
        "many-devices": [member("d%d" % i, tarfile.CHRTYPE, devmajor=1, devminor=3) for i in range(300)],
    }
    for name, members in cases.items():
        write(outdir, name + ".tar", tar_bytes(members))
    # A bomb: 256 MiB of zeros, tiny once compressed.
    write(outdir, "bomb.tar.gz", bomb())
    # Two compressors stacked.
    inner = gzip.compress(tar_bytes([member("f", data=b"x")]), mtime=0)
    write(outdir, "stacked.tar.gz.gz", gzip.compress(inner, mtime=0))
    write(outdir, "not-a-tar.gz", gzip.compress(b"just text, not an archive\n" * 40, mtime=0))


def bomb():
    size = 256 << 20
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0, compresslevel=9) as gz:
        ti = tarfile.TarInfo("zeros")
        ti.size = size
        gz.write(ti.tobuf(format=tarfile.PAX_FORMAT))
        chunk = bytes(1 << 20)
        for _ in range(size >> 20):
            gz.write(chunk)
        gz.write(bytes(1024))
    return buf.getvalue()


if __name__ == "__main__":
    main(sys.argv[1])
