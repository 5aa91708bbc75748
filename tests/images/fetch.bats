#!/usr/bin/env bats
# Downloads against real servers on 127.0.0.1: nginx (Range) and faultserver.py.

load helpers

setup() {
  common_setup
  mkdir -p "$T/www"
  make_layer "$T/www/a.tar.gz" 2048
  make_layer "$T/www/b.tar.gz" 1024
  A=$(sha256 "$T/www/a.tar.gz")
  B=$(sha256 "$T/www/b.tar.gz")
  export BERTH_IMAGE_RETRIES=4
}

teardown() {
  if mountpoint -q "$T/cache" 2>/dev/null; then umount "$T/cache"; fi
  common_teardown
}

pull() { run "$IMAGES_TOOL" pull "$@"; }
url() { echo "http://127.0.0.1:$PORT/$1/${2:-a.tar.gz}${3:+?$3}#${4:-$A}"; }
requests() { grep -c "^$1 " "$LOG" || true; }

@test "two layers from nginx, fetched together, verified and unpacked; then cached" {
  start_nginx "$T/www"
  pull "http://127.0.0.1:$NGINX_PORT/a.tar.gz#$A" "http://127.0.0.1:$NGINX_PORT/b.tar.gz#$B"
  [ "$status" -eq 0 ]
  [ "${lines[2]}" = "layer $BERTH_CACHE_DIR/layers/sha256/$A" ]
  [ "${lines[3]}" = "layer $BERTH_CACHE_DIR/layers/sha256/$B" ]
  [ "$(cat "$BERTH_CACHE_DIR/layers/sha256/$B/etc/motd")" = "hello from b.tar.gz" ]
  [ "$(sha256 "$BERTH_CACHE_DIR/blobs/sha256/$A")" = "$A" ]
  n=$(wc -l <"$T/nginx/logs/access.log")
  pull "http://127.0.0.1:$NGINX_PORT/a.tar.gz#$A" "http://127.0.0.1:$NGINX_PORT/b.tar.gz#$B"
  [ "$status" -eq 0 ]
  [[ "${lines[0]}" == "done 0 cached $A "* ]]
  [ "$(wc -l <"$T/nginx/logs/access.log")" -eq "$n" ]
  # no temporary names left anywhere in the cache
  [ -z "$(find "$BERTH_CACHE_DIR" -name '.*')" ]
}

@test "a truncated body is resumed with Range" {
  start_faultserver "$T/www"
  pull "$(url truncate)"
  [ "$status" -eq 0 ]
  [[ "$output" == *"retry 0 "* ]]
  [ "$(requests truncate)" -eq 2 ]
  grep -q '^truncate a.tar.gz bytes=[1-9][0-9]*-$' "$LOG"
}

@test "a Content-Length longer than the body is a retry, then success" {
  start_faultserver "$T/www"
  pull "$(url badlen)"
  [ "$status" -eq 0 ]
  [ "$(requests badlen)" -eq 2 ]
}

@test "a Content-Length shorter than the file fails the digest" {
  start_faultserver "$T/www"
  pull "$(url shortlen)"
  [ "$status" -eq 3 ]
  [[ "$output" == *"/shortlen/a.tar.gz: sha256 mismatch: expected $A, got "* ]]
}

@test "a stalled transfer times out, and resumes" {
  export BERTH_IMAGE_LOW_SPEED_TIME=1
  start_faultserver "$T/www"
  pull "$(url stall)"
  [ "$status" -eq 0 ]
  [ "$(requests stall)" -eq 2 ]
  grep -q '^stall a.tar.gz bytes=[1-9][0-9]*-$' "$LOG"
}

@test "a reset connection is retried" {
  start_faultserver "$T/www"
  pull "$(url reset)"
  [ "$status" -eq 0 ]
  [ "$(requests reset)" -eq 2 ]
}

@test "500 is retried with backoff; 503 and 429 honour Retry-After" {
  start_faultserver "$T/www"
  pull "$(url e500 a.tar.gz n=2)"
  [ "$status" -eq 0 ]
  [[ "${lines[0]}" == "retry 0 250ms HTTP 500" ]]
  [[ "${lines[1]}" == "retry 0 500ms HTTP 500" ]]
  rm -rf "$BERTH_CACHE_DIR"
  pull "$(url e503)"
  [ "$status" -eq 0 ]
  [[ "${lines[0]}" == "retry 0 1000ms HTTP 503" ]]
  rm -rf "$BERTH_CACHE_DIR"
  pull "$(url e429)"
  [ "$status" -eq 0 ]
  [[ "${lines[0]}" == "retry 0 1000ms HTTP 429" ]]
}

@test "retries are bounded" {
  export BERTH_IMAGE_RETRIES=2
  start_faultserver "$T/www"
  pull "$(url e500 a.tar.gz n=100)"
  [ "$status" -eq 1 ]
  [[ "$output" == *"e500/a.tar.gz?n=100: HTTP 500 (gave up after 3 attempts)"* ]]
  [ "$(requests e500)" -eq 3 ]
}

@test "404 fails at once" {
  start_faultserver "$T/www"
  pull "$(url e404)"
  [ "$status" -eq 1 ]
  [[ "$output" == *"GET http://127.0.0.1:$PORT/e404/a.tar.gz: HTTP 404"* ]]
  [ "$(requests e404)" -eq 1 ]
}

@test "redirects are followed up to the bound" {
  start_faultserver "$T/www"
  pull "$(url redir3)"
  [ "$status" -eq 0 ]
  rm -rf "$BERTH_CACHE_DIR"
  BERTH_IMAGE_MAX_REDIRECTS=2 run "$IMAGES_TOOL" pull "$(url redir3)"
  [ "$status" -eq 1 ]
  [[ "$output" == *"Maximum (2) redirects followed"* ]]
}

@test "a redirect to file:// is refused" {
  start_faultserver "$T/www"
  pull "$(url tofile)"
  [ "$status" -eq 1 ]
  [[ "$output" == *"tofile/a.tar.gz: refusing to follow a redirect to file:///etc/passwd"* ]]
  [ ! -e "$BERTH_CACHE_DIR/layers/sha256/$A" ]
}

@test "https works with a trusted CA; a redirect from https down to http is refused" {
  command -v openssl >/dev/null || need "openssl"
  start_faultserver "$T/www"
  start_tls_faultserver "$T/www"
  pull "https://127.0.0.1:$TLS_PORT/ok/a.tar.gz#$A"
  [ "$status" -eq 0 ]
  rm -rf "$BERTH_CACHE_DIR"
  pull "https://127.0.0.1:$TLS_PORT/tohttp/a.tar.gz?port=$PORT#$A"
  [ "$status" -eq 1 ]
  [[ "$output" == *"tohttp/a.tar.gz?port=$PORT: refusing to follow a redirect to http://127.0.0.1:$PORT/ok/a.tar.gz (https may only lead to https)"* ]]
  # the plain server was never asked
  [ "$(grep -c "^ok a.tar.gz" "$LOG")" -eq 1 ]
  # without the CA, the certificate is refused
  rm -rf "$BERTH_CACHE_DIR"
  BERTH_CA_BUNDLE= run "$IMAGES_TOOL" pull "https://127.0.0.1:$TLS_PORT/ok/a.tar.gz#$A"
  [ "$status" -eq 1 ]
  [[ "$output" == *"certificate"* ]]
}

@test "a corrupted byte fails with the URL, the expected and the actual digest" {
  start_faultserver "$T/www"
  pull "$(url corrupt)"
  [ "$status" -eq 3 ]
  [[ "$output" == *"layer 1: http://127.0.0.1:$PORT/corrupt/a.tar.gz: sha256 mismatch: expected $A, got "[0-9a-f]* ]]
  [ -z "$(ls "$BERTH_CACHE_DIR/blobs/sha256")" ]
  [ -z "$(ls "$BERTH_CACHE_DIR/layers/sha256")" ]
}

@test "a server that ignores Range: the download starts over cleanly" {
  start_faultserver "$T/www"
  mkdir -p "$BERTH_CACHE_DIR/blobs/sha256"
  head -c 1000 "$T/www/a.tar.gz" >"$BERTH_CACHE_DIR/blobs/sha256/.$A.partial"
  pull "$(url norange)"
  [ "$status" -eq 0 ]
  grep -q '^norange a.tar.gz bytes=1000-$' "$LOG"
  [ "$(sha256 "$BERTH_CACHE_DIR/blobs/sha256/$A")" = "$A" ]
}

@test "a partial file that is wrong is thrown away and fetched again" {
  start_faultserver "$T/www"
  mkdir -p "$BERTH_CACHE_DIR/blobs/sha256"
  head -c 5000 /dev/urandom >"$BERTH_CACHE_DIR/blobs/sha256/.$A.partial"
  pull "$(url ok)"
  [ "$status" -eq 0 ]
  [ "$(requests ok)" -eq 2 ]
  [ "$(sha256 "$BERTH_CACHE_DIR/blobs/sha256/$A")" = "$A" ]
}

@test "the proxy variables are honoured" {
  start_faultserver "$T/www"
  # an unresolvable host: only a proxy can serve it
  http_proxy=http://127.0.0.1:$PORT run "$IMAGES_TOOL" pull "http://berth-test.invalid/ok/a.tar.gz#$A"
  [ "$status" -eq 0 ]
  [ "$(requests ok)" -eq 1 ]
  rm -rf "$BERTH_CACHE_DIR"
  http_proxy=http://127.0.0.1:$PORT no_proxy=berth-test.invalid BERTH_IMAGE_RETRIES=0 \
    run "$IMAGES_TOOL" pull "http://berth-test.invalid/ok/a.tar.gz#$A"
  [ "$status" -eq 1 ]
  [ "$(requests ok)" -eq 1 ]
}

@test "http without a sha256 is refused" {
  run "$IMAGES_TOOL" pull "http://127.0.0.1:1/a.tar.gz"
  [ "$status" -eq 1 ]
  [[ "$output" == *"a sha256 is required for http(s)"* ]]
}

@test "connection refused is retried, then reported" {
  export BERTH_IMAGE_RETRIES=1
  port=$("$PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  run "$IMAGES_TOOL" pull "http://127.0.0.1:$port/a.tar.gz#$A"
  [ "$status" -eq 1 ]
  [[ "$output" == *"gave up after 2 attempts"* ]]
}

@test "the download limit stops a large archive" {
  start_faultserver "$T/www"
  BERTH_IMAGE_MAX_DOWNLOAD=100K run "$IMAGES_TOOL" pull "$(url ok)"
  [ "$status" -eq 4 ]
  [[ "$output" == *"larger than the limit of 102400 bytes (BERTH_IMAGE_MAX_DOWNLOAD)"* ]]
}

@test "local files: paths and file:// URLs, with and without a digest" {
  pull "$T/www/a.tar.gz"
  [ "$status" -eq 0 ]
  [[ "${lines[0]}" == "done 0 fetched $A "* ]]
  pull "file://$T/www/b.tar.gz#$B" "$T/www/a.tar.gz#$A"
  [ "$status" -eq 0 ]
  [[ "${lines[1]}" == "done 1 cached $A "* ]]
  # a cached digest is used as is; a cold one is checked against the file
  pull "$T/www/b.tar.gz#$A"
  [ "$status" -eq 0 ]
  rm -rf "$BERTH_CACHE_DIR"
  pull "$T/www/b.tar.gz#$A"
  [ "$status" -eq 3 ]
  [[ "$output" == *"b.tar.gz: sha256 mismatch: expected $A, got $B"* ]]
}

@test "kill -9 during a download: the rerun resumes with Range" {
  start_faultserver "$T/www"
  "$IMAGES_TOOL" pull "$(url stall)" >/dev/null 2>&1 &
  kill9_mid_download $! "$A"
  [ ! -e "$BERTH_CACHE_DIR/blobs/sha256/$A" ]
  size=$(stat -c %s "$BERTH_CACHE_DIR/blobs/sha256/.$A.partial")
  [ "$size" -gt 0 ]
  pull "$(url stall)"
  [ "$status" -eq 0 ]
  grep -q "^stall a.tar.gz bytes=$size-\$" "$LOG"
  [ -d "$BERTH_CACHE_DIR/layers/sha256/$A" ]
}

@test "kill -9 during an unpack: no layer under its name; the rerun reuses the blob" {
  src=$T/many
  "$PYTHON" - "$src" <<'PY'
import os, sys
for d in range(1, 41):
    os.makedirs("%s/%d" % (sys.argv[1], d))
    for f in range(1, 501):
        with open("%s/%d/%d" % (sys.argv[1], d, f), "w") as fh:
            fh.write("%d %d\n" % (d, f))
PY
  tar -C "$src" -czf "$T/www/many.tar.gz" .
  M=$(sha256 "$T/www/many.tar.gz")
  start_faultserver "$T/www"
  "$IMAGES_TOOL" pull "$(url ok many.tar.gz '' "$M")" >/dev/null 2>&1 &
  pid=$!
  PIDS+=($pid)
  for _ in $(seq 400); do
    ls -A "$BERTH_CACHE_DIR/layers/sha256" 2>/dev/null | grep -q "^\.$M\.tmp-" && break
    sleep 0.01
  done
  kill -9 "$pid"
  wait "$pid" || true
  ls -A "$BERTH_CACHE_DIR/layers/sha256" | grep -q "^\.$M\.tmp-"
  [ ! -e "$BERTH_CACHE_DIR/layers/sha256/$M" ]
  pull "$(url ok many.tar.gz '' "$M")"
  [ "$status" -eq 0 ]
  [ "$(requests ok)" -eq 1 ]
  [ "$(ls -A "$BERTH_CACHE_DIR/layers/sha256")" = "$M" ]
  [ "$(cat "$BERTH_CACHE_DIR/layers/sha256/$M/40/500")" = "40 500" ]
}

@test "a full disk: the pull fails cleanly and the next run repairs" {
  [ "$(id -u)" -eq 0 ] || need "root to mount a small tmpfs"
  mkdir -p "$BERTH_CACHE_DIR"
  mount -t tmpfs -o size=1M,mode=0700 berth-test "$BERTH_CACHE_DIR" || need "tmpfs"
  start_faultserver "$T/www"
  pull "$(url ok)"
  [ "$status" -eq 1 ]
  [[ "$output" == *"No space left on device"* ]]
  # no blob under its name, and the space of the partial download given back
  [ ! -e "$BERTH_CACHE_DIR/blobs/sha256/$A" ]
  [ "$(find "$BERTH_CACHE_DIR/blobs" -type f -size +0 | wc -l)" -eq 0 ]
  [ -z "$(ls "$BERTH_CACHE_DIR/layers/sha256")" ]
  # the blob fits but its unpacked layer does not
  mount -o remount,size=3M "$BERTH_CACHE_DIR"
  pull "$(url ok)"
  [ "$status" -eq 1 ]
  [[ "$output" == *"No space left on device"* ]]
  [ -z "$(ls -A "$BERTH_CACHE_DIR/layers/sha256")" ]
  mount -o remount,size=64M "$BERTH_CACHE_DIR"
  pull "$(url ok)"
  [ "$status" -eq 0 ]
  [ "$(ls -A "$BERTH_CACHE_DIR/layers/sha256")" = "$A" ]
}

@test "eight parallel pulls of the same cold layers: all succeed, each blob fetched once" {
  start_faultserver "$T/www"
  for i in $(seq 8); do
    "$IMAGES_TOOL" pull "$(url ok a.tar.gz)" "$(url ok b.tar.gz '' "$B")" >"$T/out.$i" 2>&1 &
    PIDS+=($!)
  done
  for i in $(seq 8); do
    wait "${PIDS[$i]}"
  done
  for i in $(seq 8); do
    grep -q "^layer .*/$A\$" "$T/out.$i"
    grep -q "^layer .*/$B\$" "$T/out.$i"
  done
  [ "$(grep -c '^ok a.tar.gz' "$LOG")" -eq 1 ]
  [ "$(grep -c '^ok b.tar.gz' "$LOG")" -eq 1 ]
}

@test "a local file without a digest is hashed once, again only when it changes" {
  cp "$T/www/a.tar.gz" "$T/local.tar.gz"
  IMAGES_TOOL_DEBUG=1 run "$IMAGES_TOOL" pull "$T/local.tar.gz"
  [ "$status" -eq 0 ]
  [[ "$output" != *"is unchanged since it hashed to"* ]]
  IMAGES_TOOL_DEBUG=1 run "$IMAGES_TOOL" pull "$T/local.tar.gz"
  [ "$status" -eq 0 ]
  [[ "$output" == *"\`$T/local.tar.gz\` is unchanged since it hashed to $A"* ]]
  [[ "$output" == *"done 0 cached $A "* ]]
  # new content under the same name: hashed again, a new layer
  cp "$T/www/b.tar.gz" "$T/local.tar.gz"
  IMAGES_TOOL_DEBUG=1 run "$IMAGES_TOOL" pull "$T/local.tar.gz"
  [ "$status" -eq 0 ]
  [[ "$output" != *"is unchanged since"* ]]
  [[ "$output" == *"layer $BERTH_CACHE_DIR/layers/sha256/$B"* ]]
}

@test "a published layer is unpacked while another one still downloads" {
  export BERTH_IMAGE_LOW_SPEED_TIME=2
  start_faultserver "$T/www"
  "$IMAGES_TOOL" pull "$(url ok a.tar.gz)" "$(url stall b.tar.gz '' "$B")" >"$T/out" 2>&1 &
  pid=$!
  PIDS+=($pid)
  for _ in $(seq 150); do
    [ -d "$BERTH_CACHE_DIR/layers/sha256/$A" ] && break
    sleep 0.01
  done
  [ -d "$BERTH_CACHE_DIR/layers/sha256/$A" ]
  # b is still stalled: the pull is not over and b is not unpacked
  kill -0 "$pid"
  [ ! -e "$BERTH_CACHE_DIR/layers/sha256/$B" ]
  wait "$pid"
  grep -q "^layer .*/$B\$" "$T/out"
}

@test "a corrupt archive whose digest matches is refused at unpack, and nothing is published" {
  cp "$T/www/a.tar.gz" "$T/www/bad.tar.gz"
  "$PYTHON" -c 'import sys; p=sys.argv[1]; b=bytearray(open(p,"rb").read()); b[-8]^=1; open(p,"wb").write(b)' "$T/www/bad.tar.gz"
  BAD=$(sha256 "$T/www/bad.tar.gz")
  start_faultserver "$T/www"
  pull "$(url ok bad.tar.gz '' "$BAD")"
  [ "$status" -eq 1 ]
  [[ "$output" == *"gzip trailer: CRC-32 "*"the archive is corrupt"* ]]
  [ -z "$(ls -A "$BERTH_CACHE_DIR/layers/sha256")" ]
  pull "file://$T/www/bad.tar.gz#$BAD"
  [ "$status" -eq 1 ]
  [[ "$output" == *"the archive is corrupt"* ]]
  [ -z "$(ls -A "$BERTH_CACHE_DIR/layers/sha256")" ]
}

# Fault injection at the cache's publishing renames. strace fails or kills the
# syscalls on one cache folder only (-P): a rename there, or the fsync of the
# folder that makes it durable. A tmpfs never fails a rename for want of
# space (it has no folder blocks), so ENOSPC at the rename is injected too.
# at_fault FOLDER SYSCALL:ACTION CMD...
at_fault() {
  local dir=$1 inject=$2
  shift 2
  command -v strace >/dev/null || need "strace"
  mkdir -p "$BERTH_CACHE_DIR/blobs/sha256" "$BERTH_CACHE_DIR/layers/sha256"
  # LeakSanitizer cannot work under ptrace; the other tests check these paths for leaks
  ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 \
    run strace -f -qq -o /dev/null -P "$dir" -e trace="${inject%%:*}" -e inject="$inject" "$@"
}
blobs() { echo "$BERTH_CACHE_DIR/blobs/sha256"; }
layers() { echo "$BERTH_CACHE_DIR/layers/sha256"; }
# Nothing under a final name but what is listed.
finals_are() { [ "$(ls "$1" | tr '\n' ' ')" = "${2:+$2 }" ]; }

@test "a failing folder fsync after a publishing rename: the entry is taken back and the pull fails" {
  start_faultserver "$T/www"
  at_fault "$(blobs)" fsync:error=EIO "$IMAGES_TOOL" pull "$(url ok)"
  [ "$status" -eq 1 ]
  [[ "$output" == *"sync the folder after renaming \`.$A.partial\` into place: Input/output error"* ]]
  finals_are "$(blobs)" ""
  finals_are "$(layers)" ""
  # the complete download stays as a partial file, and the next run publishes it
  [ "$(stat -c %s "$(blobs)/.$A.partial")" -eq "$(stat -c %s "$T/www/a.tar.gz")" ]
  at_fault "$(layers)" fsync:error=EIO "$IMAGES_TOOL" pull "$(url ok)"
  [ "$status" -eq 1 ]
  [[ "$output" == *"sync the folder after renaming \`.$A.tmp-"*"\` into place: Input/output error"* ]]
  finals_are "$(blobs)" "$A"
  [ -z "$(ls -A "$(layers)")" ]
  pull "$(url ok)"
  [ "$status" -eq 0 ]
  finals_are "$(layers)" "$A"
  [ "$(cat "$(layers)/$A/etc/motd")" = "hello from a.tar.gz" ]
}

@test "no space at a publishing rename: nothing published, nothing left, the next run succeeds" {
  start_faultserver "$T/www"
  at_fault "$(blobs)" renameat:error=ENOSPC "$IMAGES_TOOL" pull "$(url ok)"
  [ "$status" -eq 1 ]
  [[ "$output" == *"rename \`.$A.partial\` into place: No space left on device"* ]]
  finals_are "$(blobs)" ""
  at_fault "$(layers)" renameat:error=ENOSPC "$IMAGES_TOOL" pull "$(url ok)"
  [ "$status" -eq 1 ]
  [[ "$output" == *"rename \`.$A.tmp-"*"\` into place: No space left on device"* ]]
  [ -z "$(ls -A "$(layers)")" ]
  pull "$(url ok)"
  [ "$status" -eq 0 ]
  finals_are "$(layers)" "$A"
}

@test "kill -9 at a publishing rename, or just after it: never a partial entry; the next run completes" {
  start_faultserver "$T/www"
  for where in renameat fsync; do
    for dir in "$(blobs)" "$(layers)"; do
      rm -rf "$BERTH_CACHE_DIR"
      at_fault "$dir" "$where:signal=KILL" "$IMAGES_TOOL" pull "$(url ok)"
      [ "$status" -eq 137 ]
      # under a final name only ever a whole, verified blob or a whole layer
      for b in $(ls "$(blobs)"); do [ "$(sha256 "$(blobs)/$b")" = "$b" ]; done
      for l in $(ls "$(layers)"); do [ "$(cat "$(layers)/$l/etc/motd")" = "hello from a.tar.gz" ]; done
      pull "$(url ok)"
      [ "$status" -eq 0 ]
      finals_are "$(layers)" "$A"
      [ -z "$(ls -A "$(layers)" | grep '^\.')" ]
      [ "$(cmp "$(layers)/$A/usr/bin/blob" <(tar -xzOf "$T/www/a.tar.gz" ./usr/bin/blob) && echo same)" = same ]
    done
  done
}

# How long the last `run` took, in whole seconds.
timed_pull() {
  local s=$SECONDS
  pull "$@"
  ELAPSED=$((SECONDS - s))
}

@test "a server that stalls after its headers: the deadline gives the layer up, and says why" {
  export BERTH_IMAGE_LOW_SPEED_TIME=1 BERTH_IMAGE_DEADLINE=3
  start_faultserver "$T/www"
  timed_pull "$(url stallhead a.tar.gz n=100)"
  [ "$status" -eq 1 ]
  [[ "$output" == *"layer 1: GET http://127.0.0.1:$PORT/stallhead/a.tar.gz?n=100: gave up: less than 1 MiB arrived in 3 s (BERTH_IMAGE_DEADLINE); "*" attempts, the last failed: Operation too slow"* ]]
  [ "$ELAPSED" -le 6 ]
  [ -z "$(ls "$BERTH_CACHE_DIR/blobs/sha256")" ]
}

@test "a server that drips 64 bytes a second: each attempt stops at the low-speed window; the deadline ends them" {
  export BERTH_IMAGE_LOW_SPEED_TIME=1 BERTH_IMAGE_RETRIES=1 BERTH_IMAGE_DEADLINE=60
  start_faultserver "$T/www"
  timed_pull "$(url drip a.tar.gz n=100)"
  [ "$status" -eq 1 ]
  [[ "$output" == *"drip/a.tar.gz?n=100: Operation too slow. Less than 1024 bytes/sec transferred the last 1 seconds (gave up after 2 attempts)"* ]]
  [ "$(requests drip)" -eq 2 ]
  [ "$ELAPSED" -le 8 ]
  # a low-speed window longer than the deadline: the deadline stops the attempt itself
  rm -rf "$BERTH_CACHE_DIR"
  export BERTH_IMAGE_LOW_SPEED_TIME=60 BERTH_IMAGE_DEADLINE=2 BERTH_IMAGE_RETRIES=5
  timed_pull "$(url drip a.tar.gz n=100)"
  [ "$status" -eq 1 ]
  [[ "$output" == *"drip/a.tar.gz?n=100: gave up: less than 1 MiB arrived in 2 s (BERTH_IMAGE_DEADLINE); the server is stalled or too slow"* ]]
  [ "$ELAPSED" -le 5 ]
}

@test "the deadline restarts with every MiB: a slow but steady download completes" {
  # 5 MiB at 1 MiB/s: longer than the deadline, but never a deadline without a MiB
  make_layer "$T/www/big.tar.gz" 5120
  BIG=$(sha256 "$T/www/big.tar.gz")
  export BERTH_IMAGE_DEADLINE=2
  start_faultserver "$T/www"
  timed_pull "$(url slow big.tar.gz '' "$BIG")"
  [ "$status" -eq 0 ]
  [ "$ELAPSED" -ge 3 ]
  [ "$(requests slow)" -eq 1 ]
}

@test "a bad deadline override is a usage error naming the variable" {
  BERTH_IMAGE_DEADLINE=soon run "$IMAGES_TOOL" pull "$T/www/a.tar.gz"
  [ "$status" -eq 1 ]
  [[ "$output" == *'BERTH_IMAGE_DEADLINE: expected a number, got "soon"'* ]]
}

@test "a local archive is unpacked where it is, its digest checked on the way; a mismatch publishes nothing" {
  pull "file://$T/www/a.tar.gz#$A"
  [ "$status" -eq 0 ]
  [ "$(cat "$BERTH_CACHE_DIR/layers/sha256/$A/etc/motd")" = "hello from a.tar.gz" ]
  # no copy of it in the cache, and no temporary name left
  [ -z "$(ls -A "$BERTH_CACHE_DIR/blobs/sha256")" ]
  [ -z "$(find "$BERTH_CACHE_DIR/layers" -name '.*')" ]
  pull "$T/www/b.tar.gz"
  [ "$status" -eq 0 ]
  [ -z "$(ls -A "$BERTH_CACHE_DIR/blobs/sha256")" ]
  [ "$(ls "$BERTH_CACHE_DIR/layers/sha256" | sort | tr '\n' ' ')" = "$(printf '%s\n' "$A" "$B" | sort | tr '\n' ' ')" ]
  rm -rf "$BERTH_CACHE_DIR"
  # the whole archive unpacks, then the digest does not match: nothing is published
  pull "$T/www/b.tar.gz#$A"
  [ "$status" -eq 3 ]
  [[ "$output" == *"b.tar.gz: sha256 mismatch: expected $A, got $B"* ]]
  [ -z "$(ls -A "$BERTH_CACHE_DIR/layers/sha256")" ]
  [ -z "$(ls -A "$BERTH_CACHE_DIR/blobs/sha256")" ]
  # only a fetch of the blob itself (berth lock) copies it in
  run "$IMAGES_TOOL" fetch "$T/www/a.tar.gz#$A"
  [ "$status" -eq 0 ]
  [ "$(sha256 "$BERTH_CACHE_DIR/blobs/sha256/$A")" = "$A" ]
}

@test "a local archive's layer: a failing folder fsync or kill -9 at its publishing rename leaves nothing half-done" {
  at_fault "$(layers)" fsync:error=EIO "$IMAGES_TOOL" pull "$T/www/a.tar.gz#$A"
  [ "$status" -eq 1 ]
  [[ "$output" == *"sync the folder after renaming \`.$A.tmp-"*"\` into place: Input/output error"* ]]
  [ -z "$(ls -A "$(layers)")" ]
  # without a digest: unpacked under a neutral name, published under the one it hashed to
  at_fault "$(layers)" fsync:error=EIO "$IMAGES_TOOL" pull "$T/www/b.tar.gz"
  [ "$status" -eq 1 ]
  [[ "$output" == *"sync the folder after renaming \`.local.blob.tmp-"*"\` into place: Input/output error"* ]]
  [ -z "$(ls -A "$(layers)")" ]
  at_fault "$(layers)" renameat:signal=KILL "$IMAGES_TOOL" pull "$T/www/b.tar.gz"
  [ "$status" -eq 137 ]
  finals_are "$(layers)" ""
  pull "$T/www/a.tar.gz#$A" "$T/www/b.tar.gz"
  [ "$status" -eq 0 ]
  [ "$(cat "$(layers)/$B/etc/motd")" = "hello from b.tar.gz" ]
  [ -z "$(ls -A "$(blobs)")" ]
}
