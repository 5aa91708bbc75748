#!/usr/bin/env bats
# `berth run` and `berth shell` on a spec: state dir, writable layer, named
# volumes, --ephemeral, exit statuses. As root and as a user the tests create.

bats_require_minimum_version 1.5.0
load ../sandbox/helpers
load helpers

setup_file() {
  sandbox_setup_file
  mkdir -p "$W/proj"
  cp -a "$W/root" "$W/img"
  if [ -n "${RUNNER:-}" ]; then chown -R "$RUNNER:" "$W/proj" "$W/img"; else chown 1234:1234 "$W/proj"; fi
  cat >"$W/proj/berth.yaml" <<YAML
berth: 1
name: demo
image:
  - url: $W/img
workdir: /work
mounts:
  - {source: ., target: /work}
  - {volume: cache, target: /cache}
env: {GREETING: hi there}
resources: {memory: 256MiB, pids: 128, nofile: 512, cpus: 1}
network: none
YAML
  chmod 644 "$W/proj/berth.yaml"
}
teardown_file() { sandbox_teardown_file; }

# A test that failed half-way may leave its filesystem mounted.
teardown() {
  local m
  for m in "$W"/ovlfs.*/m "$W"/small.*; do
    if mountpoint -q "$m"; then umount "$m"; fi
  done
}

setup() { envs_setup; }

@test "run passes the command's status through, and env and workdir from the spec" {
  run in_proj run -- sh -c 'echo "$GREETING"; pwd; exit 9'
  [ "$status" -eq 9 ]
  [[ "$output" == *"hi there"* ]]
  [[ "$output" == *"/work"* ]]
}

@test "run: 127 not found, 126 not executable, 125 for anything berth refused or failed at" {
  run -127 in_proj run -- /nope
  run in_proj run -- /etc/passwd
  [ "$status" -eq 126 ]
  run berth run -f "$W/nope.yaml" -- true
  [ "$status" -eq 125 ]
  printf 'berth: 1\nname: demo\nimage: [{url: %s}]\nnetwrk: none\n' "$W/img" >"$W/invalid.yaml"; chmod 644 "$W/invalid.yaml"
  run berth run -f "$W/invalid.yaml" -- true
  [ "$status" -eq 125 ]
  [[ "$output" == *"invalid.yaml:4:1"* ]]
  sed "s|url: .*|url: $W/no-such-folder|" "$W/proj/berth.yaml" >"$W/bad.yaml"; chmod 644 "$W/bad.yaml"
  run berth run -f "$W/bad.yaml" -- true
  [ "$status" -eq 125 ]
  run berth run
  [ "$status" -eq 125 ]
  run berth run --frobnicate -- true
  [ "$status" -eq 125 ]
}

@test "files written into the project folder belong to the developer" {
  run in_proj run -- sh -c 'echo x >/work/made-inside'
  [ "$status" -eq 0 ]
  [ "$(stat -c %u "$W/proj/made-inside")" = "$(stat -c %u "$W/proj")" ]
}

@test "the writable layer and named volumes persist; --ephemeral leaves nothing" {
  in_proj run -- sh -c 'echo kept >/etc/kept; echo vol >/cache/v'
  run in_proj -q run -- sh -c 'cat /etc/kept /cache/v'
  echo "$output"; [ "$output" = "kept
vol" ]
  run in_proj run --ephemeral -- sh -c 'cat /etc/kept 2>&1; echo gone >/etc/gone; ls /cache'
  [[ "$output" == *"No such file"* ]]
  run in_proj run -- sh -c 'cat /etc/gone'
  [ "$status" -ne 0 ]
  ls -laRn "$W"/home/state/envs/demo-*/run-* || true
  ! ls -d "$W"/home/state/envs/demo-*/run-* 2>/dev/null
}

@test "a run beside another gets a throwaway layer and says so; the first keeps its changes" {
  sed 's/name: demo/name: twice/' "$W/proj/berth.yaml" >"$W/proj/twice.yaml"; chmod 644 "$W/proj/twice.yaml"
  rm -f "$W/proj/go"
  in_proj run -f twice.yaml -- sh -c 'echo one >/etc/first; while [ ! -e /work/go ]; do sleep 0.05; done' \
    >/dev/null 2>&1 3>&- &
  first=$!
  for _ in $(seq 100); do
    ls "$W"/home/state/envs/twice-*/rootfs/upper/etc/first >/dev/null 2>&1 && break
    sleep 0.05
  done
  run in_proj run -f twice.yaml -- sh -c 'echo two >/etc/second; echo shared >/cache/beside; cat /etc/second'
  touch "$W/proj/go"
  wait "$first"
  [ "$status" -eq 0 ]
  [[ "$output" == *"holds its writable layer"* ]]
  [[ "$output" == *two* ]]
  run in_proj -q run -f twice.yaml -- sh -c 'cat /etc/first; cat /cache/beside; cat /etc/second 2>&1 || true'
  echo "$output"
  [[ "$output" == "one
shared"* ]]
  [[ "$output" == *"No such file"* ]]
  ! ls -d "$W"/home/state/envs/twice-*/run-* 2>/dev/null
}

@test "a declared limit the host cannot enforce is warned about once" {
  run in_proj run -- true
  want=
  [ "$(limit_mech memory)" != none ] || want=memory
  [ "$(limit_mech cpus)" != none ] || want="${want:+$want and }cpus"
  if [ -n "$want" ]; then
    [ "$(grep -c "warning: resources: the $want limits\? \(is\|are\) not enforced on this host" <<<"$output")" -eq 1 ]
  else
    [[ "$output" != *"not enforced"* ]]
  fi
}

@test "shell runs a shell in the dev sandbox, with a pty on a terminal" {
  env="BERTH_STATE_DIR=$W/home/state BERTH_CACHE_DIR=$W/home/cache"
  run as_runner sh -c "cd '$W/proj' && echo 'echo in-shell; exit 3' | env $env '$W/bin/berth' shell"
  [[ "$output" == *"in-shell"* ]]
  [ "$status" -eq 3 ]
  command -v script >/dev/null || fail_or_skip "no script(1)"
  run as_runner sh -c "cd '$W/proj' && printf 'tty; exit 4\n' | script -qec 'env $env $W/bin/berth shell' /dev/null"
  echo "$output"
  [[ "$output" == *"/dev/pts/0"* ]]
  [ "$status" -eq 4 ]
}

@test "doctor names a mechanism for each limit" {
  run berth doctor
  [ "$status" -eq 0 ]
  for l in memory cpus pids nofile; do [[ "$output" == *"limit $l"* ]]; done
}

# A state folder listed with what identifies each entry, for before/after.
state_listing() { (cd "$W/home/state" 2>/dev/null && find . | sort); }

@test "doctor tries overlay in the state folder and leaves nothing there or in TMPDIR" {
  mkdir -p "$W/tmpdir" "$W/dstate"; chmod 1777 "$W/tmpdir"; chmod 700 "$W/dstate"
  [ -z "${RUNNER:-}" ] || chown "$RUNNER:" "$W/dstate"
  run as_runner env TMPDIR="$W/tmpdir" BERTH_STATE_DIR="$W/dstate" "$W/bin/berth" doctor
  [ "$status" -eq 0 ]
  [[ "$output" == *"overlayfs         ok"* ]]
  (cd "$W/proj" && as_runner env TMPDIR="$W/tmpdir" BERTH_STATE_DIR="$W/home/state" \
    BERTH_CACHE_DIR="$W/home/cache" "$W/bin/berth" run -- true)
  run ls -A "$W/tmpdir" "$W/dstate"
  [ "$output" = "$W/dstate:

$W/tmpdir:" ]
  # a state folder that cannot be made: doctor says why instead of probing
  touch "$W/afile"
  run as_runner env BERTH_STATE_DIR="$W/afile/state" "$W/bin/berth" doctor
  echo "$output"
  [[ "$output" == *"stacking          copy (state folder: "*"Not a directory)"* ]]
}

@test "where overlay refuses the state folder (an overlayfs, as in a container), run copies the layers and says so" {
  o="$W/ovlfs.$BATS_TEST_NUMBER"; mkdir -p "$o"/{l,u,w,m}
  mount -t overlay overlay -o "lowerdir=$o/l,upperdir=$o/u,workdir=$o/w" "$o/m"
  [ -z "${RUNNER:-}" ] || chown "$RUNNER:" "$o/m"
  st="$o/m/state"
  in_ovl() { in_state "$st" "$@"; }
  run --separate-stderr in_ovl run -- sh -c 'echo kept >/etc/fallback; cat /etc/fallback'
  echo "$output / $stderr"
  [ "$status" -eq 0 ]; [ "$output" = kept ]
  [[ "$stderr" == *"overlay cannot be mounted on the state folder"*"copy of its layers"* ]]
  ls -d "$st"/envs/demo-*/rootfs/copy-*
  [ "$(head -1 "$st"/envs/demo-*/rootfs/stacking)" = copy ]
  # from now on straight to the copy, silently, with the writes kept
  run --separate-stderr in_ovl run -- cat /etc/fallback
  [ "$status" -eq 0 ]; [ "$output" = kept ]
  [[ "$stderr" != *"overlay cannot be mounted"* ]]
  run in_ovl doctor
  echo "$output"
  [[ "$output" == *"stacking          copy ("* ]]
  umount "$o/m"
}

@test "doctor says which stacking is in use and why" {
  run berth doctor
  [[ "$output" == *"stacking          overlay (overlayfs mounts here)"* ]]
  run as_runner env BERTH_ROOTFS=copy "$W/bin/berth" doctor --json
  [[ "$output" == *'"stacking":"copy","stacking_reason":"BERTH_ROOTFS=copy"'* ]]
  run as_runner env BERTH_ROOTFS=bogus "$W/bin/berth" doctor
  [ "$status" -eq 2 ]
  [[ "$output" == *"BERTH_ROOTFS: expected auto, overlay or copy"* ]]
}

@test "--ephemeral leaves nothing new in the state folder (overlay and copy)" {
  mkdir -p "$W/home/state"; [ -z "${RUNNER:-}" ] || chown "$RUNNER:" "$W/home/state"
  sed 's/name: demo/name: ephem/' "$W/proj/berth.yaml" >"$W/proj/ephem.yaml"; chmod 644 "$W/proj/ephem.yaml"
  before=$(state_listing)
  run in_proj -q run -f ephem.yaml --ephemeral -- sh -c 'echo x >/etc/x; echo v >/cache/v; cat /etc/x'
  [ "$status" -eq 0 ]
  echo "$output"; [ "$output" = x ]
  [ "$(state_listing)" = "$before" ]
  run in_proj -q run -f ephem.yaml --ephemeral -- sh -c 'ls /etc/x 2>&1 || true'
  [[ "$output" == *"No such file"* ]]
  [ "$(state_listing)" = "$before" ]
  run in_proj_env BERTH_ROOTFS=copy -q run -f ephem.yaml --ephemeral -- sh -c 'echo y >/etc/x; cat /etc/x'
  [ "$status" -eq 0 ]
  [ "$output" = y ]
  [ "$(state_listing)" = "$before" ]
  # and an environment that exists keeps exactly what it had
  in_proj run -f ephem.yaml -- true
  before=$(state_listing)
  in_proj run -f ephem.yaml --ephemeral -- sh -c 'echo z >/etc/z'
  in_proj_env BERTH_ROOTFS=copy run -f ephem.yaml --ephemeral -- sh -c 'echo z >/etc/z'
  [ "$(state_listing)" = "$before" ]
}

in_state() { # STATE-DIR VAR=value... berth-args...
  local st=$1 vars=()
  shift
  while [[ "${1:-}" == *=* ]]; do vars+=("$1"); shift; done
  (cd "$W/proj" && as_runner env "${vars[@]}" BERTH_STATE_DIR="$st" BERTH_CACHE_DIR="$W/home/cache" "$W/bin/berth" "$@")
}

# berth in the background, exec'd with no process in between, so that $! is
# berth: STATE-DIR OUTPUT VAR=value... berth-args...
berth_bg() {
  local st=$1 out=$2 vars=()
  shift 2
  while [[ "${1:-}" == *=* ]]; do vars+=("$1"); shift; done
  local env=(env -i PATH=/usr/bin:/bin HOME="$W/home" "${vars[@]}" BERTH_STATE_DIR="$st" BERTH_CACHE_DIR="$W/home/cache")
  if [ -n "${RUNNER:-}" ]; then
    (cd "$W/proj" && exec setpriv --reuid="$RUNNER" --regid="$RUNNER" --init-groups "${env[@]}" "$W/bin/berth" "$@") \
      >"$out" 2>&1 &
  else
    (cd "$W/proj" && exec "${env[@]}" "$W/bin/berth" "$@") >"$out" 2>&1 &
  fi
}

in_proj_env() { # VAR=value... berth-args...
  local vars=()
  while [[ "${1:-}" == *=* ]]; do vars+=("$1"); shift; done
  (cd "$W/proj" && as_runner env "${vars[@]}" BERTH_STATE_DIR="$W/home/state" BERTH_CACHE_DIR="$W/home/cache" \
    "$W/bin/berth" "$@")
}

# Two archive layers over the busybox folder: the top one whites out a file
# and makes a folder opaque.
make_whiteout_spec() {
  python3 - "$W/layers" <<'PY'
import io, os, sys, tarfile
d = sys.argv[1]; os.makedirs(d, exist_ok=True)
def layer(name, entries):
    with tarfile.open(os.path.join(d, name), "w:gz") as t:
        for path, data in entries:
            ti = tarfile.TarInfo(path)
            if data is None:
                ti.type = tarfile.DIRTYPE; ti.mode = 0o755; t.addfile(ti)
            else:
                ti.size = len(data); ti.mode = 0o644; t.addfile(ti, io.BytesIO(data))
layer("l1.tar.gz", [("data", None), ("data/gone", b"gone\n"), ("data/kept", b"kept\n"),
                    ("opq", None), ("opq/old", b"old\n")])
layer("l2.tar.gz", [("data/.wh.gone", b""), ("opq", None), ("opq/.wh..wh..opq", b""), ("opq/new", b"new\n")])
PY
  chmod -R a+rX "$W/layers"
  cat >"$W/proj/copy.yaml" <<YAML
berth: 1
name: copied
image:
  - url: $W/img
  - url: $W/layers/l1.tar.gz
  - url: $W/layers/l2.tar.gz
network: none
YAML
  chmod 644 "$W/proj/copy.yaml"
}

# Every file and folder of the layers the copy was made from, with content.
layers_manifest() {
  (cd "$W/img" && find . -printf '%p %m %s %T@ %U %G %y\n' | sort && find . -type f -exec md5sum {} + | sort)
  (cd "$W/home/cache/layers" && find . -printf '%p %m %s %T@ %U %G %y\n' | sort && find . -type f -exec md5sum {} + | sort)
}

@test "without overlay (BERTH_ROOTFS=copy): runs, writes persist, whiteouts hold, the cache never changes" {
  make_whiteout_spec
  run in_proj_env BERTH_ROOTFS=copy -q run -f copy.yaml -- sh -c 'ls /data; ls /opq; cat /data/kept'
  [ "$status" -eq 0 ]
  echo "$output"; [ "$output" = "kept
new
kept" ]
  ls -d "$W"/home/state/envs/copied-*/rootfs/copy-*
  before=$(layers_manifest)
  # write, chmod and truncate every file the sandbox can reach in its root
  run in_proj_env BERTH_ROOTFS=copy run -f copy.yaml -- sh -c \
    'busybox find / -xdev -type f -exec sh -c "for f; do echo w >>\"\$f\"; busybox chmod 700 \"\$f\"; done" _ {} +; echo done'
  [ "$status" -eq 0 ]
  [ "$(layers_manifest)" = "$before" ]
  # the writes are the environment's from now on
  run in_proj_env BERTH_ROOTFS=copy -q run -f copy.yaml -- sh -c 'cat /data/kept; busybox stat -c %a /data/kept'
  echo "$output"; [ "$output" = "kept
w
700" ]
  # no file of the copy shares an inode with the cache or the image folder
  run find "$W"/home/state/envs/copied-*/rootfs/copy-* -type f -links +1
  [ -z "$output" ]
  # --ephemeral starts from the layers again and leaves nothing
  before=$(state_listing)
  run in_proj_env BERTH_ROOTFS=copy -q run -f copy.yaml --ephemeral -- sh -c 'cat /data/kept; ls /data'
  echo "$output"; [ "$output" = "kept
kept" ]
  [ "$(state_listing)" = "$before" ]
}

@test "kill -9 while a root copy is built: nothing is published, and the next run builds it and cleans up" {
  big="$W/biglayer"
  mkdir -p "$big/many"
  python3 -c 'import os, sys
for i in range(20000):
    open(os.path.join(sys.argv[1], "f%05d" % i), "w").write("x" * 64)' "$big/many"
  chmod -R a+rX "$big"
  cat >"$W/proj/big.yaml" <<YAML
berth: 1
name: big
image:
  - url: $W/img
  - url: $big
network: none
YAML
  chmod 644 "$W/proj/big.yaml"
  st="$W/home/state"
  berth_bg "$st" "$W/big.out" BERTH_ROOTFS=copy run -f big.yaml -- true
  pid=$!
  for _ in $(seq 500); do
    compgen -G "$st/envs/big-*/rootfs/.copy-*.tmp" >/dev/null && break
    sleep 0.01
  done
  sleep 0.02
  kill -9 "$pid"
  wait "$pid" || true
  cat "$W/big.out"
  # the kill landed mid-build: a partial copy under its temporary name only
  compgen -G "$st/envs/big-*/rootfs/.copy-*.tmp"
  [ -z "$(compgen -G "$st/envs/big-*/rootfs/copy-*")" ]
  run in_proj_env BERTH_ROOTFS=copy -q run -f big.yaml -- sh -c 'ls /many | wc -l'
  [ "$status" -eq 0 ]; [ "$output" = 20000 ]
  [ -z "$(compgen -G "$st/envs/big-*/rootfs/.copy-*")" ]
  compgen -G "$st/envs/big-*/rootfs/copy-*"
}

@test "a full disk while a root copy is built: a clear error, nothing half-made, and a later run succeeds" {
  d="$W/small.$BATS_TEST_NUMBER"
  mkdir -p "$d"
  mount -t tmpfs -o size=1m,mode=0755 tmpfs "$d"
  [ -z "${RUNNER:-}" ] || chown "$RUNNER:" "$d"
  run --separate-stderr in_state "$d/state" BERTH_ROOTFS=copy -q run -- true
  echo "$stderr"
  [ "$status" -eq 125 ]
  [[ "$stderr" == *"No space left on device"* ]]
  [ -z "$(compgen -G "$d/state/envs/demo-*/rootfs/*copy-*")" ]
  mount -o remount,size=64m "$d"
  run in_state "$d/state" BERTH_ROOTFS=copy -q run -- cat /etc/hostname
  [ "$status" -eq 0 ]; [ "$output" = demo ]
  umount "$d"
}

@test "as root the root of an environment that is up stays mounted between runs, pinned in the state folder, until down" {
  sed 's/name: demo/name: kept/' "$W/proj/berth.yaml" >"$W/proj/kept.yaml"; chmod 644 "$W/proj/kept.yaml"
  # not up: a run leaves nothing mounted
  run in_proj -vv run -f kept.yaml -- sh -c 'echo one >/etc/one; echo v >/cache/v'
  [ "$status" -eq 0 ]
  pin=$(echo "$W"/home/state/envs/kept-*/rootfs)/mntns
  [[ "$output" != *"kept"* ]]; [ ! -e "$pin" ]
  ! awk -v w="$W/" 'index($5, w) == 1' /proc/self/mountinfo | grep . || false
  in_proj -q up -f kept.yaml
  run in_proj -vv run -f kept.yaml -- sh -c 'echo one >/etc/one; echo v >/cache/v'
  [ "$status" -eq 0 ]
  if [ -n "${RUNNER:-}" ]; then
    # rootless: nothing can hold a mount without a process; one per run
    [[ "$output" != *"kept"* ]]; [ ! -e "$pin" ]
    run in_proj --json down -f kept.yaml
    [ "$status" -eq 0 ]; [ "$(jq -r .root_unmounted <<<"$output")" = false ]
    return 0
  fi
  need kept_root
  [[ "$output" == *"a new overlay, kept mounted from now on ($pin)"* ]]
  [ "$(awk -v p="$pin" '$5 == p && $9 == "nsfs"' /proc/self/mountinfo | wc -l)" -eq 1 ]
  # the pin holds a tmpfs and the overlay, none of the host's mounts
  run "$W/root/bin/probe" ns-mounts "$pin"
  echo "$output"
  [ "${#lines[@]}" -eq 2 ]
  [[ "${lines[0]}" == *" / rw,"*" - tmpfs "* || "${lines[1]}" == *" / rw,"*" - tmpfs "* ]]
  [[ "$output" == *" /root rw,"*" - overlay "*"upperdir=$W/home/state/envs/kept-"* ]]
  run in_proj -vv run -f kept.yaml -- cat /etc/one
  [ "$status" -eq 0 ]; [[ "$output" == *"the overlay kept on $pin"* ]]; [[ "$output" == *one* ]]
  # other layers: the pin is replaced, the writable layer kept
  cp -a "$W/img" "$W/img2"
  sed "s|url: .*|url: $W/img2|" "$W/proj/kept.yaml" >"$W/proj/kept2.yaml"; mv "$W/proj/kept2.yaml" "$W/proj/kept.yaml"
  chmod 644 "$W/proj/kept.yaml"
  run in_proj -vv run -f kept.yaml -- cat /etc/one
  echo "$output"
  [ "$status" -eq 0 ]; [[ "$output" == *"mounted from other layers or ids: replacing it"* ]]; [[ "$output" == *one* ]]
  [ "$(awk -v p="$pin" '$5 == p' /proc/self/mountinfo | wc -l)" -eq 1 ]
  run "$W/root/bin/probe" ns-mounts "$pin"
  [[ "$output" == *"lowerdir+=/"* ]]; [ "${#lines[@]}" -eq 2 ]
  # the same path made again (as `image gc` and a later pull do) is another layer
  rm -rf "$W/img2"; cp -a "$W/img" "$W/img2"
  run in_proj -vv run -f kept.yaml -- true
  [ "$status" -eq 0 ]; [[ "$output" == *"replacing it"* ]]
  # --ephemeral neither uses nor replaces it
  run in_proj -vv run -f kept.yaml --ephemeral -- sh -c 'test ! -e /etc/one'
  [ "$status" -eq 0 ]; [[ "$output" != *"kept"* ]]
  # down unmounts it and keeps the writable layer and, without --volumes, the volumes
  run in_proj --json down -f kept.yaml
  [ "$status" -eq 0 ]; [ "$(jq -r .root_unmounted <<<"$output")" = true ]
  ! awk -v p="$pin" '$5 == p' /proc/self/mountinfo | grep -q . || false
  [ ! -e "$pin" ]
  run in_proj --json down -f kept.yaml
  [ "$(jq -r .root_unmounted <<<"$output")" = false ]
  # a pin that is not one (a plain file, as a crash between two steps leaves) is replaced
  touch "$pin"
  in_proj -q up -f kept.yaml
  run in_proj -q run -f kept.yaml -- sh -c 'cat /etc/one /cache/v'
  [ "$output" = "one
v" ]
  [ "$(awk -v p="$pin" '$5 == p && $9 == "nsfs"' /proc/self/mountinfo | wc -l)" -eq 1 ]
  run in_proj --json down -f kept.yaml --volumes
  [ "$status" -eq 0 ]; [ "$(jq -r .volumes_removed <<<"$output")" = true ]
  run in_proj -q run -f kept.yaml -- sh -c 'cat /etc/one; ls /cache'
  [ "$output" = one ]
  in_proj down -f kept.yaml
}

@test "a pulled environment's next run uses its layers as the last pull found them, until they change" {
  mkdir -p "$W/arch"; [ -z "${RUNNER:-}" ] || chown "$RUNNER:" "$W/arch"
  cp -a "$W/img" "$W/arch/src"; echo one >"$W/arch/src/etc/version"
  as_runner "$W/bin/berth" -q image pack "$W/arch/src" -o "$W/arch/img.tar.zst" >/dev/null
  sed -e 's/name: demo/name: archived/' -e "s|url: .*|url: $W/arch/img.tar.zst|" "$W/proj/berth.yaml" >"$W/proj/arch.yaml"
  chmod 644 "$W/proj/arch.yaml"
  run in_proj -vv run -f arch.yaml -- cat /etc/version
  [ "$status" -eq 0 ]; [[ "$output" == *one* ]]; [[ "$output" != *"as the last pull found them"* ]]
  run in_proj -vv run -f arch.yaml -- cat /etc/version
  [ "$status" -eq 0 ]; [[ "$output" == *one* ]]; [[ "$output" == *"as the last pull found them"* ]]
  # a new archive at the same path is pulled again
  echo two >"$W/arch/src/etc/version"
  as_runner "$W/bin/berth" -q image pack "$W/arch/src" -o "$W/arch/img.tar.zst" >/dev/null
  run in_proj -vv run -f arch.yaml -- cat /etc/version
  [ "$status" -eq 0 ]; [[ "$output" == *two* ]]; [[ "$output" != *"as the last pull found them"* ]]
  # a layer folder gone from the cache is unpacked again
  rm -rf "$W"/home/cache/layers/sha256/*
  run in_proj -vv run -f arch.yaml -- cat /etc/version
  [ "$status" -eq 0 ]; [[ "$output" == *two* ]]; [[ "$output" != *"as the last pull found them"* ]]
  # --ephemeral reads the record but never writes one
  sed 's/name: archived/name: archived-eph/' "$W/proj/arch.yaml" >"$W/proj/arch-eph.yaml"; chmod 644 "$W/proj/arch-eph.yaml"
  run in_proj -q run -f arch-eph.yaml --ephemeral -- cat /etc/version
  [ "$status" -eq 0 ]; [ "$output" = two ]
  ! ls -d "$W"/home/state/envs/archived-eph-* 2>/dev/null || false
  # a record that is not one (garbage, say) is no shortcut: a full pull writes it again
  env_dir=$(echo "$W"/home/state/envs/archived-????????)
  printf 'berth layers 1\ngarbage\n' >"$env_dir/layers"
  run in_proj -vv run -f arch.yaml -- cat /etc/version
  [ "$status" -eq 0 ]; [[ "$output" == *two* ]]; [[ "$output" != *"as the last pull found them"* ]]
  run in_proj -vv run -f arch.yaml -- true
  [ "$status" -eq 0 ]; [[ "$output" == *"as the last pull found them"* ]]
  # down --volumes leaves the volumes to a run that has them bound
  rm -f "$W/proj/go2"
  in_proj run -f arch.yaml -- sh -c 'echo v >/cache/v; while [ ! -e /work/go2 ]; do sleep 0.05; done' \
    >/dev/null 2>&1 3>&- &
  holder=$!
  for _ in $(seq 100); do [ -e "$env_dir/volumes/cache/v" ] && break; sleep 0.05; done
  run in_proj down -f arch.yaml --volumes
  [ "$status" -eq 1 ]; [[ "$output" == *"volume cache is in use by berth (pid "*"); no volume was removed"* ]]
  [ -e "$env_dir/volumes/cache/v" ]
  touch "$W/proj/go2"
  wait "$holder"
  run in_proj --json down -f arch.yaml --volumes
  [ "$status" -eq 0 ]; [ "$(jq -r .volumes_removed <<<"$output")" = true ]
  [ ! -e "$env_dir/volumes" ]
}

@test "user: app with a hostile /etc/passwd in a layer: a FIFO, a symlink to /dev/zero or out of the root, a whiteout" {
  cp "$NO_OPENAT2" "$W/bin/no-openat2"
  printf 'app:x:4242:4242::/:/bin/sh\n' >"$W/hostpw"; chmod 644 "$W/hostpw"
  python3 - "$W/pwlayers" "$W/hostpw" <<'PY'
import io, os, sys, tarfile
d, host = sys.argv[1], sys.argv[2]; os.makedirs(d, exist_ok=True)
def layer(name, ti):
    with tarfile.open(os.path.join(d, name + ".tar.gz"), "w:gz") as t:
        e = tarfile.TarInfo("etc"); e.type = tarfile.DIRTYPE; e.mode = 0o755; t.addfile(e)
        t.addfile(ti, io.BytesIO(b""))
def entry(path, type, target=""):
    ti = tarfile.TarInfo(path); ti.type = type; ti.linkname = target; ti.mode = 0o644; return ti
layer("fifo", entry("etc/passwd", tarfile.FIFOTYPE))
layer("zero", entry("etc/passwd", tarfile.SYMTYPE, "/dev/zero"))
layer("out", entry("etc/passwd", tarfile.SYMTYPE, "../../../../../../.." + host))
layer("whiteout", entry("etc/.wh.passwd", tarfile.REGTYPE))
PY
  chmod -R a+rX "$W/pwlayers"
  for l in fifo zero out whiteout; do
    cat >"$W/proj/pw-$l.yaml" <<YAML
berth: 1
name: pw-$l
image:
  - url: $W/img
  - url: $W/pwlayers/$l.tar.gz
user: app
network: none
YAML
    chmod 644 "$W/proj/pw-$l.yaml"
    want="not in the image's /etc/passwd"
    [ "$l" = fifo ] && want='`/etc/passwd` is a fifo, not a regular file'
    for wrap in "" "$W/bin/no-openat2"; do
      if [ -n "$RUNNER" ]; then
        run timeout 20 $wrap runuser -u "$RUNNER" -- env -i PATH=/usr/bin:/bin HOME="$W/home" \
          BERTH_STATE_DIR="$W/home/state" BERTH_CACHE_DIR="$W/home/cache" sh -c "cd '$W/proj' && exec '$W/bin/berth' run -f pw-$l.yaml -- id -u"
      else
        run timeout 20 $wrap env -i PATH=/usr/bin:/bin HOME="$W/home" BERTH_STATE_DIR="$W/home/state" \
          BERTH_CACHE_DIR="$W/home/cache" sh -c "cd '$W/proj' && exec '$W/bin/berth' run -f pw-$l.yaml -- id -u"
      fi
      echo "$l ${wrap:-openat2}: $status: $output"
      [ "$status" -eq 125 ]
      [[ "$output" == *"user \`app\`: $want"* ]]
      [[ "$output" != *4242* ]]
    done
  done
}

@test "warnings are data: run and shell show them, --json lists them, -q hides them; validate stays silent" {
  # without pasta, network private falls back to loopback only: a warning
  export BERTH_PASTA=/nonexistent
  cat >"$W/proj/warned.yaml" <<YAML
berth: 1
name: warned
image:
  - url: $W/img
network: private
services:
  db:
    command: [sleep, "1000"]
YAML
  chmod 644 "$W/proj/warned.yaml"
  run --separate-stderr in_proj run -f warned.yaml -- echo ran
  printf '%s\n' "$stderr"
  [ "$status" -eq 0 ]; [ "$output" = ran ]
  # with services the dev sandbox joins their network, which has no pasta: said once, not by the sandbox too
  [ "${stderr_lines[0]}" = 'berth: warning: network: "private" has loopback only: pasta is not installed (Debian package passt) (see berth doctor)' ]
  [ "${#stderr_lines[@]}" -eq 1 ]
  run --separate-stderr as_runner sh -c "cd '$W/proj' && echo 'exit 0' | env BERTH_STATE_DIR='$W/home/state' BERTH_CACHE_DIR='$W/home/cache' BERTH_PASTA=/nonexistent '$W/bin/berth' shell -f warned.yaml"
  [ "$status" -eq 0 ]; [ "${#stderr_lines[@]}" -eq 1 ]; [[ "${stderr_lines[0]}" == 'berth: warning: network:'* ]]
  # without services, the sandbox itself falls back, and says so
  printf 'berth: 1\nname: nopasta\nimage:\n  - url: %s\nnetwork: private\n' "$W/img" >"$W/proj/nopasta.yaml"
  chmod 644 "$W/proj/nopasta.yaml"
  run --separate-stderr in_proj run -f nopasta.yaml -- true
  [ "$status" -eq 0 ]
  [ "$stderr" = 'berth: warning: network: "private" has loopback only: pasta is not installed (Debian package passt) (see berth doctor)' ]
  # --json: one document on stderr, with a warnings array
  run --separate-stderr in_proj --json run -f warned.yaml -- true
  echo "$stderr"
  [ "$status" -eq 0 ]; [ -z "$output" ]
  [ "$(jq -r .command <<<"$stderr")" = run ]
  [ "$(jq -r '.warnings | map(.key) | join(",")' <<<"$stderr")" = network ]
  [ "$(jq -r '.warnings[0].message' <<<"$stderr")" = '"private" has loopback only: pasta is not installed (Debian package passt) (see berth doctor)' ]
  # ... in the error's document when there is one
  run -127 --separate-stderr in_proj --json run -f warned.yaml -- /no/such/command
  [ "$status" -eq 127 ]; [ "$(jq -r .kind <<<"$stderr")" = command-not-found ]
  [ "$(jq -r '.warnings | length' <<<"$stderr")" = 1 ]
  # -q hides them; validate prints nothing on success
  run --separate-stderr in_proj -q run -f warned.yaml -- true
  [ "$status" -eq 0 ]; [ -z "$stderr" ]
  run --separate-stderr in_proj validate -f warned.yaml
  [ "$status" -eq 0 ]; [ -z "$stderr" ]; [ -z "$output" ]
  run --separate-stderr in_proj validate -v -f warned.yaml
  [ "$status" -eq 0 ]; [ -z "$stderr" ]
  # a key written but with nothing in it is not warned about; network none is acted on
  sed -i -e 's/network: private/network: none/' -e 's/^ports: .*/ports: []/' -e '/^services:/,$d' "$W/proj/warned.yaml"
  run --separate-stderr in_proj run -f warned.yaml -- true
  [ "$status" -eq 0 ]; [ -z "$stderr" ]
  unset BERTH_PASTA
}

@test "warnings from the environment come as data: the throwaway layer in --json, a warning shown once" {
  rm -f "$W/proj/go3"
  in_proj run -- sh -c 'echo >/etc/holding; while [ ! -e /work/go3 ]; do sleep 0.05; done' >/dev/null 2>&1 3>&- &
  first=$!
  for _ in $(seq 100); do
    ls "$W"/home/state/envs/demo-*/rootfs/upper/etc/holding >/dev/null 2>&1 && break
    sleep 0.05
  done
  run --separate-stderr in_proj --json run -- true
  touch "$W/proj/go3"
  wait "$first"
  echo "$stderr"
  [ "$status" -eq 0 ]
  jq -e '.warnings | map(select(.message | test("holds its writable layer"))) | length == 1' <<<"$stderr"
  # a spec whose layers need a pull first: each warning is still shown once
  mkdir -p "$W/wpull"; [ -z "${RUNNER:-}" ] || chown "$RUNNER:" "$W/wpull"
  cp -a "$W/img" "$W/wpull/src"; echo w >"$W/wpull/src/etc/w"
  as_runner "$W/bin/berth" -q image pack "$W/wpull/src" -o "$W/wpull/img.tar.zst" >/dev/null
  printf 'berth: 1\nname: wpull\nimage:\n  - url: %s\nservices:\n  db: {command: [sleep, "1"]}\n' "$W/wpull/img.tar.zst" >"$W/proj/wpull.yaml"
  chmod 644 "$W/proj/wpull.yaml"
  BERTH_PASTA=/nonexistent run --separate-stderr in_proj -vv run -f wpull.yaml -- cat /etc/w
  echo "$stderr"
  [ "$status" -eq 0 ]; [ "$output" = w ]
  [ "$(grep -c 'warning: network: "private" has loopback only' <<<"$stderr")" -eq 1 ]
}

@test "the cpus limit is enforced: a busy command is throttled (cpu.stat), or run says the host cannot" {
  # a name of its own: the cgroup is found by it, and other runs may spin beside this one
  sed -e "s/name: demo/name: cpuspin$$/" -e 's/cpus: 1/cpus: 0.2/' "$W/proj/berth.yaml" >"$W/proj/cpuspin.yaml"
  chmod 644 "$W/proj/cpuspin.yaml"
  mech=$(limit_mech cpus)
  if [ "$mech" = none ]; then
    # rootless without a delegated cpu controller: doctor says so, and so does run
    [ -n "${RUNNER:-}" ] || fail_or_skip "berth doctor: no cpu controller for root"
    run in_proj run -f cpuspin.yaml -- true
    [ "$status" -eq 0 ]
    [[ "$output" =~ (the|and)\ cpus\ limits?\ (is|are)\ not\ enforced\ on\ this\ host ]]
    return 0
  fi
  case "$mech" in
    "cgroup v1") base=/sys/fs/cgroup/cpu/berth ;;
    "cgroup v2") base="$(jq -r .cgroup2_dir "$W/doctor.json")/berth" ;;
  esac
  # three spinners for 1.5 s at 0.2 CPUs: throttled in most 100 ms periods,
  # even when other work on the host leaves them less than a core
  in_proj run -f cpuspin.yaml -- sh -c 'spin() { while :; do :; done; }; spin & spin & spin & sleep 1.5' \
    >/dev/null 2>&1 3>&- &
  pid=$!
  periods=0 throttled=0
  while kill -0 "$pid" 2>/dev/null; do
    stat=$(cat "$base"/cpuspin$$-*/cpu.stat 2>/dev/null || true)
    p=$(sed -n 's/^nr_periods //p' <<<"$stat") t=$(sed -n 's/^nr_throttled //p' <<<"$stat")
    if [ -n "$t" ]; then periods=$p throttled=$t; fi
    sleep 0.05
  done
  wait "$pid" || true
  echo "$mech: $throttled of $periods periods throttled"
  [ "$periods" -gt 3 ]
  [ "$throttled" -gt $((periods / 2)) ]
}

@test "without BERTH_CACHE_DIR and BERTH_STATE_DIR: \$XDG_*_HOME/berth, else ~/.cache/berth and ~/.local/state/berth, each 0700" {
  x="$W/xdg.$BATS_TEST_NUMBER" h="$W/xhome.$BATS_TEST_NUMBER"
  mkdir -p "$x" "$h"
  [ -z "${RUNNER:-}" ] || chown "$RUNNER:" "$x" "$h"
  run as_runner sh -c "cd '$W/proj' && env HOME='$h' XDG_CACHE_HOME='$x/cache' XDG_STATE_HOME='$x/state' '$W/bin/berth' -q run --ephemeral -- echo xdg"
  [ "$status" -eq 0 ]; [ "$output" = xdg ]
  [ "$(stat -c %a "$x/cache/berth")" = 700 ]; [ "$(stat -c %a "$x/state/berth")" = 700 ]
  [ -n "$(ls -A "$x/cache/berth")" ]
  [ ! -e "$h/.cache" ]; [ ! -e "$h/.local" ]
  # a relative XDG folder is ignored, as the XDG spec says: HOME's are used
  run as_runner sh -c "cd '$W/proj' && env HOME='$h' XDG_CACHE_HOME=rel '$W/bin/berth' -q run --ephemeral -- echo home"
  [ "$status" -eq 0 ]; [ "$output" = home ]
  [ "$(stat -c %a "$h/.cache/berth")" = 700 ]; [ "$(stat -c %a "$h/.local/state/berth")" = 700 ]
  [ -n "$(ls -A "$h/.cache/berth")" ]
  [ ! -e "$W/proj/rel" ]
  [ "$(stat -c %u "$h/.local/state/berth")" = "$(runner_uid)" ]
}

@test "run says when the memory limit killed the command, or a fork failed at the pids limit" {
  [ "$(limit_mech memory)" != none ] || [ -n "${RUNNER:-}" ] || fail_or_skip "no cgroup for memory"
  if [ "$(limit_mech memory)" = none ]; then
    # no cgroup for this user here: nothing kills the hog, and run says so
    run in_proj run -- true
    [ "$status" -eq 0 ]
    [[ "$output" =~ the\ memory\ (and\ cpus\ )?limits?\ (is|are)\ not\ enforced\ on\ this\ host ]]
    [[ "$output" != *"killed by"* ]]
    return 0
  fi
  run in_proj run -- probe hog 1024
  echo "$output"
  [ "$status" -eq 137 ]
  [ "$(grep -c '^berth: killed by the memory limit (256MiB)$' <<<"$output")" -eq 1 ]
  run in_proj run -- sh -c 'kill -KILL $$'
  [ "$status" -eq 137 ]
  [[ "$output" != *"memory limit"* ]]
  if [[ "$(limit_mech pids)" == cgroup* ]]; then
    run in_proj run -- probe forkbomb 500
    echo "$output"
    [[ "$output" == *"berth: fork failed at the pids limit (128)"* ]]
  fi
  run in_proj run -- true
  [ "$status" -eq 0 ]
  [[ "$output" != *"limit ("* ]]
}
