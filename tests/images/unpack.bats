#!/usr/bin/env bats
# Safe unpack: one archive per hostile class (hostile.py), whiteouts, stacking, pack.

load helpers

setup_file() {
  H=$(mktemp -d "${BATS_TMPDIR:-/tmp}/berth-hostile.XXXXXX")
  export H
  "$PYTHON" "$HOSTILE" "$H"
}

teardown_file() { rm -rf "$H"; }

setup() {
  common_setup
  mkdir -p "$T/outside" "$T/root/sub"
  echo secret >"$T/outside/secret"
  L=$T/root/sub/layer
}

teardown() { common_teardown; }

unpack() { run "$IMAGES_TOOL" unpack "$H/$1" "$L"; }

# Nothing may appear outside the layer: the only things beside it are what setup made.
outside_untouched() {
  [ "$(ls -A "$T/outside")" = secret ]
  [ "$(cat "$T/outside/secret")" = secret ]
  [ "$(ls -A "$T/root/sub")" = layer ]
  [ ! -e /tmp/pwned ]
}

@test "'..' anywhere in a name is refused" {
  unpack dotdot.tar
  [ "$status" -eq 1 ]
  [[ "$output" == *'entry `../../outside/pwned`: a `..` component would leave the layer'* ]]
  unpack dotdot-mid.tar 2>/dev/null || true
  outside_untouched
}

@test "an absolute name is made relative to the layer" {
  unpack absolute.tar
  [ "$status" -eq 0 ]
  [ "$(cat "$L/abs/file")" = abs ]
  outside_untouched
}

@test "writing through a symlink is refused, relative or absolute" {
  unpack symlink-escape.tar
  [ "$status" -eq 1 ]
  [[ "$output" == *'entry `esc/pwned`: goes through the symlink `esc`'* ]]
  rm -rf "$L"
  unpack symlink-abs-escape.tar
  [ "$status" -eq 1 ]
  [ ! -e /tmp/pwned ]
  outside_untouched
}

@test "the O_NOFOLLOW walk (openat2 failing with ENOSYS) refuses symlinks too" {
  run "$NO_OPENAT2" "$IMAGES_TOOL" unpack "$H/symlink-escape.tar" "$L"
  [ "$status" -eq 1 ]
  [[ "$output" == *'goes through the symlink `esc`'* ]]
  rm -rf "$L"
  run "$NO_OPENAT2" "$IMAGES_TOOL" unpack "$H/whiteouts.tar" "$L"
  [ "$status" -eq 0 ]
  [ -c "$L/etc/gone" ]
  rm -rf "$L"
  run "$NO_OPENAT2" "$IMAGES_TOOL" unpack "$H/hardlink-through-symlink.tar" "$L"
  [ "$status" -eq 1 ]
  [[ "$output" == *'entry `h`: hardlink target `l/secret`: goes through the symlink `l`'* ]]
  rm -rf "$L"
  run "$NO_OPENAT2" "$IMAGES_TOOL" unpack "$H/symlink-abs-escape.tar" "$L"
  [ "$status" -eq 1 ]
  outside_untouched
}

@test "hardlinks out of the layer or through a symlink are refused" {
  unpack hardlink-out.tar
  [ "$status" -eq 1 ]
  [[ "$output" == *'a `..` component would leave the layer'* ]]
  rm -rf "$L"
  unpack hardlink-through-symlink.tar
  [ "$status" -eq 1 ]
  [[ "$output" == *'entry `h`: hardlink target `l/secret`: goes through the symlink `l`'* ]]
  rm -rf "$L"
  unpack hardlink-abs.tar
  [ "$status" -eq 1 ]
  [[ "$output" == *'hardlink target `etc/passwd`'* ]]
  [ "$(stat -c %h "$T/outside/secret")" -eq 1 ]
  outside_untouched
}

@test "a hardlink inside the layer is kept" {
  unpack hardlink-ok.tar
  [ "$status" -eq 0 ]
  [ "$(stat -c %i "$L/f")" = "$(stat -c %i "$L/g")" ]
}

@test "device nodes are skipped, FIFOs kept, later entries still written" {
  unpack devices.tar
  [ "$status" -eq 0 ]
  [ ! -e "$L/null" ]
  [ ! -e "$L/sda" ]
  [ -p "$L/fifo" ]
  [ "$(cat "$L/after")" = "still here" ]
}

@test "setuid and setgid bits are dropped, sticky kept" {
  unpack setuid.tar
  [ "$status" -eq 0 ]
  [ "$(stat -c %a "$L/suid")" = 755 ]
  [ "$(stat -c %a "$L/sgid")" = 755 ]
  [ "$(stat -c %a "$L/sdir")" = 1775 ]
  [ "$(stat -c %a "$L/sticky")" = 1777 ]
}

@test "security.*, trusted.* and user.overlay.* xattrs are dropped, user.* kept" {
  unpack xattrs.tar
  [ "$status" -eq 0 ]
  run "$PYTHON" -c 'import os,sys; print(sorted(os.listxattr(sys.argv[1])))' "$L/f"
  [ "$output" = "['user.keep']" ]
}

@test "overlong names and paths are refused as a limit" {
  unpack long-component.tar
  [ "$status" -eq 4 ]
  [[ "$output" == *"longer than 255"* ]]
  rm -rf "$L"
  unpack long-path.tar
  [ "$status" -eq 4 ]
  [[ "$output" == *"longer than 4095"* ]]
}

@test "a duplicate entry may replace one of its type but never change the type" {
  unpack dup-dir-to-symlink.tar
  [ "$status" -eq 1 ]
  [[ "$output" == *'entry `a`: a duplicate would change a folder into a symlink'* ]]
  rm -rf "$L"
  unpack dup-file-to-dir.tar
  [ "$status" -eq 1 ]
  [[ "$output" == *'a duplicate would change a file into a folder'* ]]
  rm -rf "$L"
  unpack dup-same-type.tar
  [ "$status" -eq 0 ]
  [ "$(cat "$L/f")" = second ]
}

@test "a decompression bomb stops at the unpacked-size limit" {
  BERTH_IMAGE_MAX_UNPACKED=16MiB run "$IMAGES_TOOL" unpack "$H/bomb.tar.gz" "$L"
  [ "$status" -eq 4 ]
  [[ "$output" == *"passes the limit of 16777216 bytes (BERTH_IMAGE_MAX_UNPACKED)"* ]]
  [ "$(du -sm "$L" | cut -f1)" -lt 2 ]
}

@test "the default limits let the bomb's 256 MiB through" {
  unpack bomb.tar.gz
  [ "$status" -eq 0 ]
  [ "$(stat -c %s "$L/zeros")" -eq $((256 << 20)) ]
}

@test "the entry-count limit" {
  BERTH_IMAGE_MAX_ENTRIES=100 run "$IMAGES_TOOL" unpack "$H/many-entries.tar" "$L"
  [ "$status" -eq 4 ]
  [[ "$output" == *"more than 100 entries (BERTH_IMAGE_MAX_ENTRIES)"* ]]
  rm -rf "$L"
  # skipped entries count too
  BERTH_IMAGE_MAX_ENTRIES=100 run "$IMAGES_TOOL" unpack "$H/many-devices.tar" "$L"
  [ "$status" -eq 4 ]
  rm -rf "$L"
  unpack many-entries.tar
  [ "$status" -eq 0 ]
  [ "$(ls "$L" | wc -l)" -eq 300 ]
}

@test "stacked compressors are refused; a non-archive is an error" {
  unpack stacked.tar.gz.gz
  [ "$status" -eq 1 ]
  [[ "$output" == *"compressed 2 times (gzip over gzip); only one compressor is allowed"* ]]
  rm -rf "$L"
  unpack not-a-tar.gz
  [ "$status" -eq 1 ]
  [[ "$output" == *"Unrecognized archive format"* ]]
}

@test "a bad limit override is a usage error naming the variable" {
  BERTH_IMAGE_MAX_UNPACKED=lots run "$IMAGES_TOOL" unpack "$H/absolute.tar" "$L"
  [ "$status" -eq 1 ]
  [[ "$output" == *'BERTH_IMAGE_MAX_UNPACKED: expected a number, got "lots"'* ]]
}

@test "read-only folders still get their children; modes applied after" {
  unpack readonly-dir.tar
  [ "$status" -eq 0 ]
  [ "$(stat -c %a "$L/ro")" = 555 ]
  [ "$(cat "$L/ro/inner")" = i ]
}

@test "every format and compressor: ustar, pax, gnu x gzip, xz, zstd, bzip2" {
  src=$T/src
  mkdir -p "$src/d"
  echo one >"$src/d/one"
  ln -s one "$src/d/link"
  for fmt in ustar pax gnu; do
    for z in gzip xz zstd bzip2; do
      tar --format=$fmt -C "$src" -I $z -cf "$T/a.$fmt.$z" .
      rm -rf "$L"
      run "$IMAGES_TOOL" unpack "$T/a.$fmt.$z" "$L"
      [ "$status" -eq 0 ]
      [ "$(cat "$L/d/one")" = one ]
      [ "$(readlink "$L/d/link")" = one ]
    done
  done
}

@test "whiteouts become overlay whiteouts and opaque folders" {
  unpack whiteouts.tar
  [ "$status" -eq 0 ]
  [ "$(stat -c '%F %t:%T' "$L/etc/gone")" = "character special file 0:0" ]
  [ ! -e "$L/etc/.wh.gone" ]
  run "$PYTHON" -c 'import os,sys; print(os.getxattr(sys.argv[1], "user.overlay.opaque"))' "$L/var"
  [ "$output" = "b'y'" ]
  [ -f "$L/var/new" ]
  [ ! -e "$L/var/.wh..wh..opq" ]
}

# The lower layer for the whiteout tests.
make_base() {
  mkdir -p "$T/base/etc" "$T/base/var/old" "$T/base/keep"
  echo g >"$T/base/etc/gone"
  echo k >"$T/base/etc/kept"
  echo o >"$T/base/var/old/file"
  echo k >"$T/base/keep/file"
  tar -C "$T/base" -cf "$T/base.tar" .
  "$IMAGES_TOOL" unpack "$T/base.tar" "$T/l0"
}

@test "a rootless overlay (userxattr) honours the layers' whiteouts" {
  unshare -Urm true 2>/dev/null || need "unprivileged user namespaces"
  make_base
  unpack whiteouts.tar
  mkdir -p "$T/up" "$T/wk" "$T/mnt"
  run unshare -Urm sh -c "mount -t overlay overlay -o lowerdir=$L:$T/l0,upperdir=$T/up,workdir=$T/wk,userxattr $T/mnt && cd $T/mnt && find . | sort"
  if [ "$status" -ne 0 ] && [[ "$output" == *"unknown filesystem type"* ]]; then
    need "overlayfs"
  fi
  [ "$status" -eq 0 ]
  [ "${lines[*]}" = ". ./etc ./etc/kept ./keep ./keep/file ./var ./var/new" ]
}

@test "images_stack_copy merges layers and applies whiteouts inside dest only" {
  make_base
  unpack whiteouts.tar
  run "$IMAGES_TOOL" stack "$T/merged" "$T/l0" "$L"
  [ "$status" -eq 0 ]
  run sh -c "cd $T/merged && find . | sort"
  [ "${lines[*]}" = ". ./etc ./etc/kept ./keep ./keep/file ./var ./var/new" ]
  # the layers themselves are untouched
  [ -f "$T/l0/etc/gone" ]
  [ -f "$T/l0/var/old/file" ]
  outside_untouched
}

@test "a whiteout of a symlinked folder removes the link, never its target" {
  mkdir -p "$T/b2"
  ln -s "$T/outside" "$T/b2/victim"
  tar -C "$T/b2" -cf "$T/b2.tar" .
  "$IMAGES_TOOL" unpack "$T/b2.tar" "$T/l0"
  "$PYTHON" - "$T/wh.tar" <<'PY'
import io, sys, tarfile
with tarfile.open(sys.argv[1], "w") as t:
    t.addfile(tarfile.TarInfo(".wh.victim"), io.BytesIO(b""))
PY
  "$IMAGES_TOOL" unpack "$T/wh.tar" "$L"
  run "$IMAGES_TOOL" stack "$T/merged" "$T/l0" "$L"
  [ "$status" -eq 0 ]
  [ ! -e "$T/merged/victim" ]
  outside_untouched
}

@test "image pack is reproducible and round-trips through unpack" {
  src=$T/src
  mkdir -p "$src/b" "$src/a"
  echo one >"$src/a/one"
  ln "$src/a/one" "$src/b/hard"
  ln -s ../a/one "$src/b/soft"
  chmod 750 "$src/b"
  run "$IMAGES_TOOL" pack "$src" "$T/one.tar.zst"
  [ "$status" -eq 0 ]
  d1=$output
  [ "$d1" = "$(sha256 "$T/one.tar.zst")" ]
  touch -d '2001-01-01' "$src/a/one"
  run "$IMAGES_TOOL" pack "$src" "$T/two.tar.zst"
  [ "$output" = "$d1" ]
  SOURCE_DATE_EPOCH=86400 run "$IMAGES_TOOL" pack "$src" "$T/three.tar.zst"
  [ "$output" != "$d1" ]
  run tar --zstd -tvf "$T/one.tar.zst"
  [[ "${lines[0]}" == *" 0/0 "*"1970-01-01"*" a/" ]]
  "$IMAGES_TOOL" unpack "$T/three.tar.zst" "$L"
  [ "$(cat "$L/b/hard")" = one ]
  [ "$(stat -c %i "$L/a/one")" = "$(stat -c %i "$L/b/hard")" ]
  [ "$(readlink "$L/b/soft")" = ../a/one ]
  [ "$(stat -c %a "$L/b")" = 750 ]
  [ "$(stat -c %Y "$L/a/one")" = 86400 ]
}

@test "pack writes whiteouts back as OCI entries" {
  unpack whiteouts.tar
  "$IMAGES_TOOL" pack "$L" "$T/w.tar.zst"
  run tar --zstd -tf "$T/w.tar.zst"
  [[ "$output" == *"etc/.wh.gone"* ]]
  [[ "$output" == *"var/.wh..wh..opq"* ]]
}

@test "unprivileged: whiteouts, opaque folders and a rootless overlay as a plain user" {
  [ "$(id -u)" -eq 0 ] || need "root, to become an unprivileged user"
  command -v setpriv >/dev/null || need "setpriv"
  as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
  chmod 755 "$T"
  mkdir -m 777 "$T/u"
  cp "$H/whiteouts.tar" "$T/u/"
  make_base
  chmod -R a+rX "$T/l0" "$T/u"
  run as_nobody "$IMAGES_TOOL" unpack "$T/u/whiteouts.tar" "$T/u/l1"
  [ "$status" -eq 0 ]
  [ "$(stat -c '%U %F %t:%T' "$T/u/l1/etc/gone")" = "nobody character special file 0:0" ]
  as_nobody unshare -Urm true 2>/dev/null || need "unprivileged user namespaces"
  mkdir -m 777 "$T/u/up" "$T/u/wk" "$T/u/mnt"
  run as_nobody unshare -Urm sh -c "mount -t overlay overlay -o lowerdir=$T/u/l1:$T/l0,upperdir=$T/u/up,workdir=$T/u/wk,userxattr $T/u/mnt && cd $T/u/mnt && find . | sort"
  [ "$status" -eq 0 ]
  [ "${lines[*]}" = ". ./etc ./etc/kept ./keep ./keep/file ./var ./var/new" ]
}

@test "file modes are kept exactly, whatever the umask" {
  mkdir -p "$T/src"
  for m in 666 664 640 400 000 755 1755; do
    echo x >"$T/src/f$m"
    chmod "$m" "$T/src/f$m"
  done
  tar -C "$T/src" -cf "$T/m.tar" .
  (umask 077 && "$IMAGES_TOOL" unpack "$T/m.tar" "$L")
  for m in 666 664 640 400 0 755 1755; do
    f=$m
    [ "$m" = 0 ] && f=000
    [ "$(stat -c %a "$L/f$f")" = "$m" ] || { echo "f$f: $(stat -c %a "$L/f$f")"; return 1; }
  done
}

# corrupt_at FILE OFFSET: flip one bit of the byte at OFFSET (negative: from the end).
corrupt_at() {
  "$PYTHON" -c 'import sys; p=sys.argv[1]; b=bytearray(open(p,"rb").read()); b[int(sys.argv[2])]^=1; open(p,"wb").write(b)' "$1" "$2"
}

@test "a compressed archive is read to its end: a bad gzip CRC, zstd or xz checksum is refused" {
  src=$T/src
  mkdir -p "$src"
  head -c 100000 /dev/urandom >"$src/data"
  # 2 MiB records: the tar's end marker comes long before the compressor's trailer
  tar -b 4096 -C "$src" -cf "$T/a.tar" .
  gzip -c "$T/a.tar" >"$T/a.tar.gz"
  zstd -q --check -c "$T/a.tar" >"$T/a.tar.zst"
  xz -c "$T/a.tar" >"$T/a.tar.xz"
  for z in gz zst xz; do
    run "$IMAGES_TOOL" unpack "$T/a.tar.$z" "$L"
    [ "$status" -eq 0 ]
    rm -rf "$L"
  done
  corrupt_at "$T/a.tar.gz" -8   # the CRC-32
  corrupt_at "$T/a.tar.zst" -2  # the content checksum
  corrupt_at "$T/a.tar.xz" -13  # the stream's check
  run "$IMAGES_TOOL" unpack "$T/a.tar.gz" "$L"
  [ "$status" -eq 1 ]
  [[ "$output" == *"gzip trailer: CRC-32 "*" does not match the data"*"the archive is corrupt"* ]]
  rm -rf "$L"
  run "$IMAGES_TOOL" unpack "$T/a.tar.zst" "$L"
  [ "$status" -eq 1 ]
  [[ "$output" == *"read to the end of the archive: Zstd decompression failed: Restored data doesn't match checksum"* ]]
  rm -rf "$L"
  run "$IMAGES_TOOL" unpack "$T/a.tar.xz" "$L"
  [ "$status" -eq 1 ]
  [[ "$output" == *"read to the end of the archive: "* ]]
}

@test "a gzip trailer with a wrong size, or a stream of several gzip members, is refused" {
  src=$T/src
  mkdir -p "$src"
  echo one >"$src/one"
  tar -C "$src" -czf "$T/a.tar.gz" .
  cp "$T/a.tar.gz" "$T/size.tar.gz"
  corrupt_at "$T/size.tar.gz" -3
  run "$IMAGES_TOOL" unpack "$T/size.tar.gz" "$L"
  [ "$status" -eq 1 ]
  [[ "$output" == *"gzip trailer: size "*" does not match the "*" bytes decompressed"* ]]
  rm -rf "$L"
  cat "$T/a.tar.gz" "$T/a.tar.gz" >"$T/two.tar.gz"
  run "$IMAGES_TOOL" unpack "$T/two.tar.gz" "$L"
  [ "$status" -eq 1 ]
  [[ "$output" == *"several gzip members, which are not accepted"* ]]
}
