#!/usr/bin/env bats
# `berth run` and `berth shell` on a spec: state dir, writable layer, named
# volumes, --ephemeral, exit statuses. As root and as a user the tests create.

bats_require_minimum_version 1.5.0
load ../sandbox/helpers

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

setup() {
  [ "${SKIP_ALL:-0}" = 1 ] && fail_or_skip "needs root to create the test user"
  need user_namespaces
  need overlay
}

berth() {
  local q=
  if [ "${1:-}" = -q ]; then q=-q; shift; fi
  as_runner env BERTH_STATE_DIR="$W/home/state" BERTH_CACHE_DIR="$W/home/cache" \
    "$W/bin/berth" $q "$@"
}

in_proj() { (cd "$W/proj" && berth "$@"); }

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
  [ "$output" = "kept
vol" ]
  run in_proj run --ephemeral -- sh -c 'cat /etc/kept 2>&1; echo gone >/etc/gone; ls /cache'
  [[ "$output" == *"No such file"* ]]
  run in_proj run -- sh -c 'cat /etc/gone'
  [ "$status" -ne 0 ]
  ls -laRn "$W"/home/state/envs/demo-*/run-* || true
  ! ls -d "$W"/home/state/envs/demo-*/run-* 2>/dev/null
}

@test "a declared limit the host cannot enforce is warned about once" {
  run in_proj run -- true
  mech=$(limit_mech cpus)
  if [ "$mech" = none ]; then
    [ "$(grep -c 'cannot enforce the cpus limit' <<<"$output")" -eq 1 ]
  else
    [[ "$output" != *"cannot enforce"* ]]
  fi
}

@test "shell runs a shell in the dev sandbox, with a pty on a terminal" {
  env="BERTH_STATE_DIR=$W/home/state BERTH_CACHE_DIR=$W/home/cache"
  run as_runner sh -c "cd '$W/proj' && echo 'echo in-shell; exit 3' | env $env '$W/bin/berth' shell"
  [[ "$output" == *"in-shell"* ]]
  [ "$status" -eq 3 ]
  command -v script >/dev/null || skip "no script(1)"
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
