#!/usr/bin/env bats
# What outlives a command: kill -9 of the supervisor, of `up` and of `run`;
# the environment's cgroup; what `run` of an environment that is not up
# leaves behind; the lock protocol (volumes, layers); `run --ephemeral`.
# As root and as a user the tests create.

bats_require_minimum_version 1.5.0
load ../sandbox/helpers

setup_file() {
  sandbox_setup_file
  mkdir -p "$W/proj" "$W/img"
  cp -a "$W/root/." "$W/img/"
  for a in nc seq kill trap; do ln -sf busybox "$W/img/bin/$a"; done
  chmod -R a+rX "$W/img"
  if [ -n "${RUNNER:-}" ]; then chown -R "$RUNNER:" "$W/proj"; fi
}
teardown_file() {
  for f in "$W"/proj/*.yaml; do in_proj -q down -f "$(basename "$f")" >/dev/null 2>&1 || true; done
  sandbox_teardown_file
}

setup() {
  [ "${SKIP_ALL:-0}" = 1 ] && fail_or_skip "needs root to create the test user"
  need user_namespaces
  need overlay
}

# spec NAME: write $W/proj/NAME.yaml for environment NAME, the rest from stdin.
spec() {
  { printf 'berth: 1\nname: %s\nimage:\n  - url: %s\nnetwork: none\n' "$1" "${IMG:-$W/img}"; cat; } >"$W/proj/$1.yaml"
  chmod 644 "$W/proj/$1.yaml"
}

berth() {
  local q=
  if [ "${1:-}" = -q ]; then q=-q; shift; fi
  as_runner env BERTH_STATE_DIR="$W/home/state" BERTH_CACHE_DIR="$W/home/cache" BERTH_UP_TIMEOUT=60 \
    "$W/bin/berth" $q "$@"
}

in_proj() { (cd "$W/proj" && berth "$@"); }

state_of() { in_proj --json ps -f "$1.yaml" | jq -r ".services[] | select(.name == \"$2\") | .state"; }

gone() { [ ! -d "/proc/$1" ] || [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" = Z ]; }

# Live supervisors and namespace holders (zombies an init has not reaped are gone).
berth_procs() { ps -e -o stat=,comm= | awk '$1 !~ /^Z/ && $2 ~ /^berth-(supervise|netns)/'; }

# Nothing of environment NAME is left: no process under its state folder, no
# mount under $W, no cgroup named after it.
nothing_left() {
  local name=$1 i
  for i in $(seq 100); do
    [ -z "$(berth_procs)" ] && break
    sleep 0.05
  done
  ! berth_procs | grep . || false
  ! awk -v w="$W/" 'index($5, w) == 1' /proc/self/mountinfo | grep . || false
  ! find /sys/fs/cgroup -maxdepth 4 -type d -name "env-$name-*" 2>/dev/null | grep . || false
}

@test "kill -9 of up while a service is still starting takes the environment down" {
  spec killup <<'YAML'
services:
  slow:
    command: [sleep, "1000"]
    healthcheck:
      command: [sh, -c, "exit 1"]
      interval: 100ms
      retries: 1000
YAML
  in_proj -q up -f killup.yaml 3>&- &
  for _ in $(seq 100); do [ "$(state_of killup slow 2>/dev/null)" = starting ] && break; sleep 0.05; done
  [ "$(state_of killup slow)" = starting ]
  uppid=$(pgrep -f "^$W/bin/berth -q up -f killup.yaml" | head -1)
  [ -n "$uppid" ]
  kill -9 "$uppid"
  wait || true
  for _ in $(seq 100); do [ "$(in_proj --json ps -f killup.yaml | jq -r .environment)" = down ] && break; sleep 0.05; done
  [ "$(in_proj --json ps -f killup.yaml | jq -r .environment)" = down ]
  nothing_left killup
  in_proj -q down -f killup.yaml
  rm -rf "$W"/home/state/envs/killup-*
}

@test "up that returned leaves the environment up; down removes it and the state folder can go" {
  spec stays <<'YAML'
services:
  svc:
    command: [sleep, "1000"]
YAML
  in_proj -q up -f stays.yaml
  sleep 0.3
  [ "$(state_of stays svc)" = running ]
  in_proj -q down -f stays.yaml
  nothing_left stays
  rm -rf "$W"/home/state/envs/stays-*
  [ -z "$(ls -d "$W"/home/state/envs/stays-* 2>/dev/null)" ]
}
