#!/usr/bin/env bats
# berth image pack|ls|gc (and pull, once specs land) through the real binary.

bats_require_minimum_version 1.5.0
load helpers

setup() {
  common_setup
  mkdir -p "$T/www"
  make_layer "$T/www/a.tar.gz" 256
  make_layer "$T/www/b.tar.gz" 128
  A=$(sha256 "$T/www/a.tar.gz")
  B=$(sha256 "$T/www/b.tar.gz")
}

teardown() { common_teardown; }

@test "image --help and usage errors" {
  run "$BERTH" image --help
  [ "$status" -eq 0 ]
  [[ "$output" == "Usage: berth image"* ]]
  run "$BERTH" image
  [ "$status" -eq 2 ]
  run "$BERTH" image frob
  [ "$status" -eq 2 ]
  [[ "$output" == *"unknown subcommand \`frob\`"* ]]
  run "$BERTH" image pack "$T"
  [ "$status" -eq 2 ]
}

@test "image pack prints a digest that matches the file and is stable" {
  mkdir -p "$T/src/etc"
  echo hi >"$T/src/etc/motd"
  run "$BERTH" image pack "$T/src" -o "$T/x.tar.zst"
  [ "$status" -eq 0 ]
  [ "$output" = "$(sha256 "$T/x.tar.zst")" ]
  d=$output
  touch "$T/src/etc/motd"
  run "$BERTH" --json image pack -o "$T/y.tar.zst" "$T/src"
  [ "$output" = "{\"file\":\"$T/y.tar.zst\",\"sha256\":\"$d\",\"warnings\":[]}" ]
}

@test "image ls shows digests, sizes and owners; gc removes only unreferenced ones" {
  echo spec >"$T/berth.yaml"
  IMAGES_TOOL_OWNER=$T/berth.yaml "$IMAGES_TOOL" pull "$T/www/a.tar.gz" >/dev/null
  "$IMAGES_TOOL" pull "$T/www/b.tar.gz" >/dev/null
  run "$BERTH" image ls
  [ "$status" -eq 0 ]
  [[ "${lines[0]}" == DIGEST* ]]
  [[ "$output" == *"${A:0:12} "*"$T/berth.yaml"* ]]
  [[ "$output" == *"${B:0:12} "* ]]
  run "$BERTH" --json image ls
  # a local archive is read where it is: no copy of it in blobs/
  echo "$output" | jq -e --arg a "$A" --arg o "$T/berth.yaml" '.[] | select(.sha256 == $a) | .used_by == [$o] and .blob_size == 0 and .layer_size > 0'
  run "$BERTH" image gc --dry-run
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = "would remove $B" ]
  [[ "${lines[1]}" == "would free 1 layer, "* ]]
  [ -d "$BERTH_CACHE_DIR/layers/sha256/$B" ]
  run "$BERTH" image gc
  [ "${lines[0]}" = "removed $B" ]
  [ ! -e "$BERTH_CACHE_DIR/layers/sha256/$B" ]
  [ ! -e "$BERTH_CACHE_DIR/blobs/sha256/$B" ]
  [ -d "$BERTH_CACHE_DIR/layers/sha256/$A" ]
  # the owner goes away: so does what only it used
  rm "$T/berth.yaml"
  run "$BERTH" --json image gc
  [ "$(echo "$output" | jq -r '.removed[0]')" = "$A" ]
  [ -z "$(ls -A "$BERTH_CACHE_DIR/layers/sha256")" ]
  [ -z "$(ls -A "$BERTH_CACHE_DIR/refs")" ]
}

# A spec with two http layers (pinned) on faultserver, and a service with a local layer.
write_spec() {
  [ -e "$T/www/c.tar.gz" ] || make_layer "$T/www/c.tar.gz" 64
  C=$(sha256 "$T/www/c.tar.gz")
  cat >"$T/berth.yaml" <<YAML
berth: 1
name: demo
image:
  - url: http://127.0.0.1:$PORT/${1:-ok}/a.tar.gz
    sha256: ${2:-$A}
  - url: http://127.0.0.1:$PORT/ok/b.tar.gz
    sha256: $B
services:
  db:
    image: [{url: www/c.tar.gz}]
    command: [sh]
YAML
}

@test "berth pull: every layer of the spec and its services, one line each, then cached" {
  start_faultserver "$T/www"
  write_spec
  run --separate-stderr "$BERTH" pull -f "$T/berth.yaml"
  [ "$status" -eq 0 ]
  [ "${#lines[@]}" -eq 3 ]
  # services are pulled for, and acted on: no warning about them
  [[ "$stderr" != *"services"* ]]
  [[ "$output" == *"layer 1/3 ${A:0:12} 2"*"KiB in "*"s  http://127.0.0.1:$PORT/ok/a.tar.gz"* ]]
  [[ "$output" == *"layer 3/3 ${C:0:12} "*"  $T/www/c.tar.gz"* ]]
  [ "$(cat "$BERTH_CACHE_DIR/layers/sha256/$A/etc/motd")" = "hello from a.tar.gz" ]
  run --separate-stderr "$BERTH" pull -f "$T/berth.yaml"
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = "layer 1/3 ${A:0:12} cached  http://127.0.0.1:$PORT/ok/a.tar.gz" ]
  [ "$(grep -c '^ok ' "$LOG")" -eq 2 ]
  run "$BERTH" image ls
  [[ "$output" == *"${A:0:12} "*"$T/berth.yaml"* ]]
}

# libcurl and libarchive are loaded with dlopen() only when a verb needs them.
loaded_libs() { # VERB ARGS...: run berth, print the shared objects it loaded
  LD_DEBUG=libs "$BERTH" "$@" 2>&1 >/dev/null | sed -n 's/.*calling init: //p'
}

@test "libcurl and libarchive are loaded only by a pull that downloads or unpacks" {
  start_faultserver "$T/www"
  write_spec
  run loaded_libs validate -f "$T/berth.yaml"
  [ "$status" -eq 0 ]
  [[ "$output" == *libc.so.6* ]]
  [[ "$output" != *libcurl* ]]
  [[ "$output" != *libarchive* ]]
  run loaded_libs pull -f "$T/berth.yaml"
  [[ "$output" == *libcurl.so.4* ]]
  [[ "$output" == *libarchive.so.13* ]]
  [ -d "$BERTH_CACHE_DIR/layers/sha256/$A" ]
  run loaded_libs pull -f "$T/berth.yaml"
  [ "$status" -eq 0 ]
  [[ "$output" == *libc.so.6* ]]
  [[ "$output" != *libcurl* ]]
  [[ "$output" != *libarchive* ]]
}

@test "berth pull on a terminal: one live line per layer" {
  command -v script >/dev/null || need "script(1)"
  start_faultserver "$T/www"
  write_spec
  run script -qec "\"$BERTH\" pull -f \"$T/berth.yaml\"" /dev/null
  [ "$status" -eq 0 ]
  [[ "$output" == *$'\e[K'"1/3 a.tar.gz"*"done"* ]]
  [[ "$output" == *$'\e[3A'* ]]
  [[ "$output" == *"3/3 c.tar.gz"*"done"* ]]
}

@test "berth --json pull: one event per line" {
  start_faultserver "$T/www"
  write_spec e503
  run "$BERTH" --json pull -f "$T/berth.yaml"
  [ "$status" -eq 0 ]
  echo "$output" | jq -e -s 'map(select(.event == "retry")) | .[0].layer == 1 and .[0].delay_ms == 1000 and .[0].reason == "HTTP 503"'
  echo "$output" | jq -e -s 'map(select(.event == "done")) | length == 3 and all(.layer_dir | startswith(env.BERTH_CACHE_DIR))'
  echo "$output" | jq -e -s 'map(select(.event == "unpack")) | length == 3'
}

@test "berth pull: a wrong digest is exit 1 naming URL, expected and actual" {
  start_faultserver "$T/www"
  E=eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee
  write_spec ok "$E"
  run "$BERTH" pull -f "$T/berth.yaml"
  [ "$status" -eq 1 ]
  [[ "$output" == *"berth: pull: layer 1: http://127.0.0.1:$PORT/ok/a.tar.gz: sha256 mismatch: expected $E, got $A"* ]]
  run "$BERTH" --json pull -f "$T/berth.yaml"
  [ "$status" -eq 1 ]
  [[ "$output" == *'"kind":"digest"'* ]]
}

@test "berth pull: an invalid spec is exit 2; a missing one exit 1" {
  printf 'berth: 1\nname: x\nimage: [{url: http://h/a.tar.zst}]\n' >"$T/berth.yaml"
  run "$BERTH" pull -f "$T/berth.yaml"
  [ "$status" -eq 2 ]
  run "$BERTH" pull -f "$T/nope.yaml"
  [ "$status" -eq 1 ]
  run "$BERTH" pull extra
  [ "$status" -eq 2 ]
}

@test "eight parallel berth pull of the same cold spec: all succeed, each blob fetched once" {
  start_faultserver "$T/www"
  write_spec
  pids=()
  for i in $(seq 8); do
    "$BERTH" pull -f "$T/berth.yaml" >"$T/out.$i" 2>&1 &
    pids+=($!)
    PIDS+=($!)
  done
  for p in "${pids[@]}"; do
    wait "$p"
  done
  for i in $(seq 8); do
    [ "$(grep -c '^layer [123]/3 ' "$T/out.$i")" -eq 3 ]
  done
  [ "$(grep -c '^ok a.tar.gz' "$LOG")" -eq 1 ]
  [ "$(grep -c '^ok b.tar.gz' "$LOG")" -eq 1 ]
  [ "$(ls -A "$BERTH_CACHE_DIR/layers/sha256" | sort | tr '\n' ' ')" = "$(printf '%s\n' "$A" "$B" "$C" | sort | tr '\n' ' ')" ]
}

@test "berth pull: kill -9 mid-download, the rerun resumes" {
  # big enough that a whole 1 MiB chunk reaches the disk before the stall
  make_layer "$T/www/a.tar.gz" 4096
  A=$(sha256 "$T/www/a.tar.gz")
  start_faultserver "$T/www"
  write_spec stall
  "$BERTH" pull -f "$T/berth.yaml" >/dev/null 2>&1 &
  kill9_mid_download $! "$A"
  [ ! -e "$BERTH_CACHE_DIR/layers/sha256/$A" ]
  run "$BERTH" pull -f "$T/berth.yaml"
  [ "$status" -eq 0 ]
  grep -q '^stall a.tar.gz bytes=[1-9][0-9]*-$' "$LOG"
}

@test "image gc waits for running pulls (gc.lock), --dry-run does not" {
  command -v flock >/dev/null || need "flock(1)"
  "$IMAGES_TOOL" pull "$T/www/b.tar.gz" >/dev/null
  # stand in for a pull in progress: hold the lock shared for a second
  flock -s "$BERTH_CACHE_DIR/locks/gc.lock" sleep 1 &
  PIDS+=($!)
  sleep 0.2
  start=$(date +%s%N)
  run "$BERTH" image gc --dry-run
  [ "$status" -eq 0 ]
  [ $(( ($(date +%s%N) - start) / 1000000 )) -lt 700 ]
  run "$BERTH" image gc
  [ "$status" -eq 0 ]
  [ $(( ($(date +%s%N) - start) / 1000000 )) -ge 700 ]
  [ "${lines[0]}" = "removed $B" ]
}

@test "image gc also removes interrupted downloads and unpacks nobody works on" {
  "$IMAGES_TOOL" pull "$T/www/b.tar.gz" >/dev/null
  echo spec >"$T/keep.yaml"
  IMAGES_TOOL_OWNER=$T/keep.yaml "$IMAGES_TOOL" pull "$T/www/b.tar.gz" >/dev/null
  head -c 100000 /dev/urandom >"$BERTH_CACHE_DIR/blobs/sha256/.$A.partial"
  mkdir "$BERTH_CACHE_DIR/layers/sha256/.$A.tmp-123456abcdef"
  head -c 50000 /dev/urandom >"$BERTH_CACHE_DIR/layers/sha256/.$A.tmp-123456abcdef/f"
  # a pull at work on C: its partial stays
  C=cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc
  echo x >"$BERTH_CACHE_DIR/blobs/sha256/.$C.partial"
  flock "$BERTH_CACHE_DIR/locks/$C.lock" sleep 3 &
  PIDS+=($!)
  sleep 0.2
  run "$BERTH" image gc --dry-run
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = "would free 0 layers, 146.5 KiB" ]
  [ -e "$BERTH_CACHE_DIR/blobs/sha256/.$A.partial" ]
  run "$BERTH" image gc
  [ "${lines[0]}" = "freed 0 layers, 146.5 KiB" ]
  [ ! -e "$BERTH_CACHE_DIR/blobs/sha256/.$A.partial" ]
  [ ! -e "$BERTH_CACHE_DIR/layers/sha256/.$A.tmp-123456abcdef" ]
  [ -e "$BERTH_CACHE_DIR/blobs/sha256/.$C.partial" ]
  [ -d "$BERTH_CACHE_DIR/layers/sha256/$B" ]
}

@test "image pack skips device nodes with one warning that counts them" {
  [ "$(id -u)" -eq 0 ] || need "root to make device nodes"
  mkdir -p "$T/src/dev" "$T/src/etc"
  mknod "$T/src/dev/null" c 1 3
  mknod "$T/src/dev/zero" c 1 5
  mknod "$T/src/dev/loop9" b 7 9
  ln -s /proc/self/fd "$T/src/dev/fd"
  echo hi >"$T/src/etc/motd"
  run "$BERTH" image pack "$T/src" -o "$T/x.tar.zst"
  [ "$status" -eq 0 ]
  [ "${#lines[@]}" -eq 2 ]
  [ "${lines[0]}" = "berth: warning: skipped 3 device nodes: the sandbox makes its own /dev" ]
  [ "${lines[1]}" = "$(sha256 "$T/x.tar.zst")" ]
  run tar --zstd -tf "$T/x.tar.zst"
  [ "$output" = "$(printf 'dev/\ndev/fd\netc/\netc/motd')" ]
  run "$BERTH" -q image pack "$T/src" -o "$T/q.tar.zst"
  [ "$output" = "$(sha256 "$T/x.tar.zst")" ]
  run "$BERTH" --json image pack "$T/src" -o "$T/y.tar.zst"
  [ "$status" -eq 0 ]
  echo "$output" | jq -e '.warnings == ["skipped 3 device nodes: the sandbox makes its own /dev"]'
  # a socket is still refused, by name
  "$PYTHON" -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$T/src/etc/sock"
  run "$BERTH" image pack "$T/src" -o "$T/z.tar.zst"
  [ "$status" -eq 1 ]
  [[ "$output" == *"\`etc/sock\`: cannot pack a socket" ]]
  [ ! -e "$T/z.tar.zst" ]
  [ "$(ls -A "$T" | grep -c tmp-)" -eq 0 ]
}

# Every name under a folder, as bytes in hex, with its type and link target.
name_listing() {
  (cd "$1" && find . -mindepth 1 -printf '%y %p -> %l\n' | LC_ALL=C sort | od -An -tx1 | tr -d ' \n')
}

@test "image pack writes non-ASCII names as UTF-8 in any locale; other bytes as hdrcharset=BINARY" {
  src=$T/src
  mkdir -p "$src/certs" "$src/mozilla"
  good='NetLock_Arany_=Class_Gold=_Főtanúsítvány.crt'
  nfd=$(printf 'cafe\xcc\x81')
  bad=$(printf 'latin1-\xe9t\xe9')
  echo cert >"$src/mozilla/$good"
  ln -s "../mozilla/$good" "$src/certs/988a38cb.0"
  ln -s "/usr/share/ca-certificates/mozilla/$good" "$src/certs/$good.pem"
  ln "$src/mozilla/$good" "$src/certs/hard-$good"
  echo nfd >"$src/$nfd"
  echo bad >"$src/$bad"
  mkdir "$src/$bad.d"
  echo under >"$src/$bad.d/x"
  LC_ALL=C run "$BERTH" image pack "$src" -o "$T/c.tar.zst"
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = "berth: warning: 3 names are not UTF-8: written as bytes (hdrcharset=BINARY)" ]
  d=${lines[1]}
  LC_ALL=C.UTF-8 run "$BERTH" image pack "$src" -o "$T/u.tar.zst"
  [ "${lines[1]}" = "$d" ]
  # what the headers say: UTF-8 names carry no hdrcharset, the others say BINARY
  run "$PYTHON" - "$T/c.tar.zst" <<'PY'
import subprocess, sys, tarfile, io
raw = subprocess.run(["zstd", "-dc", sys.argv[1]], capture_output=True, check=True).stdout
for m in tarfile.open(fileobj=io.BytesIO(raw), encoding="utf-8", errors="surrogateescape"):
    print(ascii(m.name), ascii(m.linkname), m.pax_headers.get("hdrcharset", "-"))
PY
  [ "$status" -eq 0 ]
  [[ "$output" == *"'certs/988a38cb.0' '../mozilla/NetLock_Arany_=Class_Gold=_F\u0151tan\xfas\xedtv\xe1ny.crt' -"* ]]
  [[ "$output" == *"'cafe\u0301' '' -"* ]]
  [[ "$output" == *"'latin1-\udce9t\udce9' '' BINARY"* ]]
  [[ "$output" == *"'latin1-\udce9t\udce9.d/x' '' BINARY"* ]]
  [ "$(echo "$output" | grep -c ' BINARY$')" -eq 3 ]
  [ "$(echo "$output" | grep -c ' -$')" -eq 7 ]
  # and unpacking gives back every name byte for byte, in any locale
  LC_ALL=C "$IMAGES_TOOL" unpack "$T/c.tar.zst" "$T/out-c"
  LC_ALL=C.UTF-8 "$IMAGES_TOOL" unpack "$T/c.tar.zst" "$T/out-u"
  [ "$(name_listing "$T/out-c")" = "$(name_listing "$src")" ]
  [ "$(name_listing "$T/out-u")" = "$(name_listing "$src")" ]
  [ "$(cat "$T/out-c/certs/hard-$good")" = cert ]
  [ "$(stat -c %i "$T/out-c/certs/hard-$good")" = "$(stat -c %i "$T/out-c/mozilla/$good")" ]
}

@test "image pack makes a missing output folder, and names the one it cannot make" {
  mkdir -p "$T/src"
  echo hi >"$T/src/motd"
  run "$BERTH" image pack "$T/src" -o "$T/dist/v1/x.tar.zst"
  [ "$status" -eq 0 ]
  [ "$output" = "$(sha256 "$T/dist/v1/x.tar.zst")" ]
  (cd "$T" && "$BERTH" image pack src -o rel/x.tar.zst >/dev/null)
  [ -f "$T/rel/x.tar.zst" ]
  echo file >"$T/afile"
  run "$BERTH" image pack "$T/src" -o "$T/afile/sub/x.tar.zst"
  [ "$status" -eq 1 ]
  [ "$output" = "berth: create the output folder \`$T/afile/sub\`: Not a directory" ]
  [ "$(cat "$T/afile")" = file ]
}
