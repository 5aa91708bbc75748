#!/usr/bin/env bats
# berth verify: the dev sandbox read back from the kernel (cgroup files,
# /proc/PID/status and limits), runtime checks, and the cache against the
# archives. As root: the sandboxes run for real and the test writes a cgroup
# file behind berth's back.
bats_require_minimum_version 1.5.0

load ../images/helpers

setup_file() {
  export BB="$BATS_FILE_TMPDIR/busybox.tar.zst"
  bash "$BATS_TEST_DIRNAME/../../examples/build-busybox-image.sh" "$BB" >/dev/null
}

setup() {
  : "${BERTH:?BERTH must point at the berth binary}"
  [ "$(id -u)" = 0 ] || need "root: the test writes the sandbox's cgroup files"
  common_setup
  cd "$T"
  mkdir -p rt/opt
  echo 'echo "fakeruntime 2.4.1"' >rt/opt/version.sh
  tar -C rt -cf runtime.tar .
  cat >berth.yaml <<YAML
berth: 1
name: verify-demo
image:
  - url: $BB
  - {name: fakert, version: 2.4.1, url: $T/runtime.tar, check: [sh, /opt/version.sh]}
resources: {memory: 256MiB, pids: 64, nofile: 1000}
security: {capabilities: {add: [NET_RAW], drop: [CHOWN]}}
YAML
  "$BERTH" lock >/dev/null
  "$BERTH" pull >/dev/null
}

# The sandbox's processes end shortly after berth run was told to stop.
wait_sandbox_gone() {
  for _ in $(seq 200); do
    grep -qs '/berth/verify-demo-' /proc/[0-9]*/cgroup || return 0
    sleep 0.05
  done
}

teardown() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  wait_sandbox_gone
  if [ -n "${T:-}" ] && [ -f "$T/berth.yaml" ]; then (cd "$T" && "$BERTH" down >/dev/null 2>&1 || true); fi
  PIDS=()
  common_teardown
}

@test "verify: a fresh dev sandbox matches its spec, field by field" {
  run --separate-stderr "$BERTH" verify -v
  [ "$status" -eq 0 ]
  [[ "$output" == *"resources.memory: 256MiB (ok)"* ]]
  [[ "$output" == *"resources.pids: 64 (ok)"* ]]
  [[ "$output" == *"resources.nofile: 1000 (ok)"* ]]
  [[ "$output" == *"security.seccomp: filter (ok)"* ]]
  [[ "$output" == *"security.no_new_privs: 1 (ok)"* ]]
  [[ "$output" == *"security.capabilities: DAC_OVERRIDE,FOWNER,FSETID,KILL,SETGID,SETUID,SETPCAP,NET_BIND_SERVICE,NET_RAW,SETFCAP (ok)"* ]]
  [[ "$output" == *'image[1].version: "fakeruntime 2.4.1" (ok)'* ]]
  [[ "$output" == *"image[0]: sha256 $(sha256 "$BB" | cut -c1-12)… (ok)"* ]]
  run --separate-stderr "$BERTH" --json verify
  [ "$status" -eq 0 ]
  [ "$(jq -r '.ok' <<<"$output")" = true ]
  [ "$(jq -r '[.checks[] | select(.key == "resources.memory")][0] | .spec + " " + .actual + " " + .source' <<<"$output")" = "256MiB 256MiB kernel" ]
  # Nothing is left running or mounted by the fresh sandbox.
  [ -z "$(pgrep -f berth-verify- || true)" ]
}

@test "verify: a memory limit changed behind berth's back, in the cgroup file, is caught" {
  "$BERTH" run -- sleep 60 >/dev/null 2>&1 &
  PIDS+=($!)
  for _ in $(seq 100); do
    cg=$(grep -h -E '(:memory:|^0::).*/berth/verify-demo-' /proc/[0-9]*/cgroup 2>/dev/null | head -1 || true)
    [ -n "$cg" ] && break
    sleep 0.05
  done
  [ -n "$cg" ] || fail "the sandbox's cgroup did not appear"
  path=${cg#*:*:}
  if [[ "$cg" == 0::* ]]; then
    f=/sys/fs/cgroup$path/memory.max
    [ -e "$f" ] || f=/sys/fs/cgroup/unified$path/memory.max
  else
    f=/sys/fs/cgroup/memory$path/memory.limit_in_bytes
  fi
  echo $((128 * 1024 * 1024)) >"$f"
  run --separate-stderr "$BERTH" verify
  [ "$status" -eq 1 ]
  [ "$output" = "resources.memory: spec 256MiB, kernel 128MiB" ]
  run --separate-stderr "$BERTH" --json verify
  [ "$status" -eq 1 ]
  [ "$(jq -r '.ok' <<<"$output")" = false ]
}

@test "verify: a wrong runtime version is caught from the check: command's output" {
  sed -i 's/version: 2.4.1/version: 2.5.0/' berth.yaml
  run --separate-stderr "$BERTH" verify
  [ "$status" -eq 1 ]
  [ "$output" = 'image[1].version: spec 2.5.0, output "fakeruntime 2.4.1"' ]
}

@test "verify: a file changed in a cached layer is caught against the archive" {
  sha=$(sha256 "$BB")
  f=$BERTH_CACHE_DIR/layers/sha256/$sha/etc/passwd
  before=$(stat -c %s "$f")
  echo "intruder:x:0:0::/:/bin/sh" >>"$f"
  run --separate-stderr "$BERTH" verify
  [ "$status" -eq 1 ]
  [ "$output" = "image[0]: spec sha256 ${sha:0:12}…, cache etc/passwd: size $(stat -c %s "$f"), archive $before" ]
  # Same size, other bytes.
  truncate -s "$before" "$f"
  sed -i 's/^root:/ROOT:/' "$f"
  run --separate-stderr "$BERTH" verify
  [ "$status" -eq 1 ]
  [ "$output" = "image[0]: spec sha256 ${sha:0:12}…, cache etc/passwd: content differs from the archive" ]
  rm -rf "$BERTH_CACHE_DIR/layers/sha256/$sha"
  run --separate-stderr "$BERTH" verify
  [ "$status" -eq 1 ]
  [[ "$output" == "image[0]: spec sha256 ${sha:0:12}…, cache layer ${sha:0:12} is not in the cache (run berth pull)"* ]]
}

@test "verify: a local archive, which pull reads in place and keeps no copy of, is checked where the spec names it" {
  rm -f berth.lock
  rm -rf "$BERTH_CACHE_DIR"
  cat >berth.yaml <<YAML
berth: 1
name: verify-local
image:
  - {url: $BB, sha256: $(sha256 "$BB")}
resources: {memory: 256MiB}
YAML
  "$BERTH" pull >/dev/null
  [ -z "$(ls -A "$BERTH_CACHE_DIR/blobs/sha256" 2>/dev/null)" ]
  run --separate-stderr "$BERTH" verify -v
  echo "$output $stderr"
  [ "$status" -eq 0 ]
  [[ "$output" == *"image[0]: sha256 $(sha256 "$BB" | cut -c1-12)… (ok)"* ]]
}

@test "verify: a spec without limits, whose sandbox has no cgroup, is read back from a fresh sandbox" {
  cat >berth.yaml <<YAML
berth: 1
name: verify-nolimits
image:
  - url: $BB
  - {name: fakert, version: 2.4.1, url: $T/runtime.tar, check: [sh, /opt/version.sh]}
YAML
  "$BERTH" lock >/dev/null
  "$BERTH" pull >/dev/null
  run --separate-stderr "$BERTH" verify -v
  echo "$output $stderr"
  [ "$status" -eq 0 ]
  [[ "$output" == *"security.seccomp: filter (ok)"* ]]
  [[ "$output" == *'image[1].version: "fakeruntime 2.4.1" (ok)'* ]]
  [[ "$output" != *"resources."* ]]
}
