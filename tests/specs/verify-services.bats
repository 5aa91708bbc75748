#!/usr/bin/env bats
# berth verify of an environment that is up with services: each service's
# state from its supervisor, and its command's limits and security read back
# from the kernel (cgroup files, /proc/PID/limits and status). As root and as
# a user the test creates (rootless on cgroup v1 has no cgroup: memory is
# then not enforced, and verify says so).

bats_require_minimum_version 1.5.0
load ../sandbox/helpers
load ../envs/helpers

setup_file() {
  envs_setup_file httpd wget
  mkdir -m 755 "$W/img/www"
  echo hello >"$W/img/www/index.html"
}

teardown_file() { envs_teardown_file; }

setup() { envs_setup; }

teardown() {
  in_proj -q down >/dev/null 2>&1 || true
}

# berth.yaml: the busybox image, dropping CHOWN, services from stdin.
spec() {
  { printf 'berth: 1\nname: vs\nimage:\n  - url: %s\nnetwork: none\n' "$W/img"
    printf 'security: {capabilities: {drop: [CHOWN]}}\nservices:\n'; cat; } >"$W/proj/berth.yaml"
  chmod 644 "$W/proj/berth.yaml"
}

two_services() {
  spec <<'YAML'
  web:
    command: [httpd, -f, -p, "8080", -h, /www]
    healthcheck: {command: [wget, -q, -O, /dev/null, "http://127.0.0.1:8080/"], interval: 100ms, retries: 50}
    resources: {memory: 64MiB, pids: 50, nofile: 500}
  worker:
    command: [sh, -c, "while :; do sleep 1; done"]
YAML
}

service_pid() { in_proj --json ps | jq -r ".services[] | select(.name == \"$1\") | .pid"; }

caps="DAC_OVERRIDE,FOWNER,FSETID,KILL,SETGID,SETUID,SETPCAP,NET_BIND_SERVICE,SETFCAP"

@test "verify: an environment that is up matches, service by service; one with no limits too" {
  two_services
  in_proj -q up
  run --separate-stderr in_proj verify -v
  echo "$output $stderr"
  [[ "$output" == *"services.web.state: healthy (ok)"* ]]
  [[ "$output" == *"services.worker.state: running (ok)"* ]]
  [[ "$output" == *"services.web.resources.pids: 50 (ok)"* ]]
  [[ "$output" == *"services.web.resources.nofile: 500 (ok)"* ]]
  [[ "$output" == *"services.web.security.seccomp: filter (ok)"* ]]
  [[ "$output" == *"services.worker.security.no_new_privs: 1 (ok)"* ]]
  [[ "$output" == *"services.worker.security.capabilities: $caps (ok)"* ]]
  [[ "$output" != *"services.worker.resources"* ]]
  if [ "$(limit_mech memory)" = none ]; then
    # Rootless on cgroup v1: no cgroup, so no memory limit to read back.
    [ "$status" -eq 1 ]
    [ "$(grep -v '(ok)' <<<"$output")" = "services.web.resources.memory: spec 64MiB, kernel no limit" ]
  else
    [ "$status" -eq 0 ]
    [[ "$output" == *"services.web.resources.memory: 64MiB (ok)"* ]]
  fi
  run --separate-stderr in_proj --json verify
  [ "$(jq -r '[.checks[] | select(.key == "services.web.resources.pids")][0] | .spec + " " + .actual + " " + .source' <<<"$output")" = "50 50 kernel" ]
}

@test "verify: a service's limits changed behind berth's back (its cgroup file, its command's rlimit) are caught" {
  two_services
  in_proj -q up
  pid=$(service_pid web)
  cmd=$(cut -d' ' -f1 "/proc/$pid/task/$pid/children")
  # as the user the service runs as
  as_runner prlimit --pid "$cmd" --nofile=300:300
  run --separate-stderr in_proj verify
  [ "$status" -eq 1 ]
  [[ "$output" == *"services.web.resources.nofile: spec 500, kernel 300"* ]]
  if [ "$(limit_mech memory)" = none ]; then
    # Rootless on cgroup v1: no cgroup file to change; verify reports the
    # memory limit as not there at all.
    [ "$output" = "services.web.resources.memory: spec 64MiB, kernel no limit
services.web.resources.nofile: spec 500, kernel 300" ]
    return 0
  fi
  cg=$(grep -E '(:memory:|^0::)' "/proc/$pid/cgroup" | grep /berth/ | head -1)
  [ -n "$cg" ] || fail "the service's cgroup is not berth's: $(cat "/proc/$pid/cgroup")"
  path=${cg#*:*:}
  if [[ "$cg" == 0::* ]]; then
    f=/sys/fs/cgroup$path/memory.max
    [ -e "$f" ] || f=/sys/fs/cgroup/unified$path/memory.max
  else
    f=/sys/fs/cgroup/memory$path/memory.limit_in_bytes
  fi
  echo $((32 * 1024 * 1024)) >"$f"
  run --separate-stderr in_proj verify
  [ "$status" -eq 1 ]
  [ "$output" = "services.web.resources.memory: spec 64MiB, kernel 32MiB
services.web.resources.nofile: spec 500, kernel 300" ]
  run --separate-stderr in_proj --json verify
  [ "$status" -eq 1 ]
  [ "$(jq -r '.ok' <<<"$output")" = false ]
  [ "$(jq -r '[.checks[] | select(.ok | not) | .key] | join(",")' <<<"$output")" = \
    "services.web.resources.memory,services.web.resources.nofile" ]
}

@test "verify: an unhealthy service and an exited one are caught; an environment that is down too" {
  spec <<'YAML'
  web:
    command: [sh, -c, "touch /tmp/ok; while :; do sleep 1; done"]
    healthcheck: {command: [sh, -c, "test -e /tmp/ok"], interval: 100ms, retries: 2}
  job:
    command: [sh, -c, "sleep 0.5; exit 3"]
    restart: "no"
YAML
  in_proj -q up
  in_proj exec web -- rm /tmp/ok
  for _ in $(seq 100); do
    [ "$(in_proj --json ps | jq -r '[.services[].state] | join(",")')" = "unhealthy,exited 3" ] && break
    sleep 0.1
  done
  run --separate-stderr in_proj verify
  echo "$output $stderr"
  [ "$status" -eq 1 ]
  [ "${lines[0]}" = "services.web.state: spec healthy, supervisor unhealthy" ]
  [ "${lines[1]}" = "services.job.state: spec running, supervisor exited 3" ]
  [ "${#lines[@]}" -eq 2 ]
  in_proj -q down
  run --separate-stderr in_proj verify
  [ "$status" -eq 1 ]
  [ "$output" = "services.web.state: spec healthy, supervisor down
services.job.state: spec running, supervisor down" ]
}

# A real server: Debian's redis-server, its binary and libraries (found with
# ldd) copied over the busybox root.
@test "verify: redis, a real server, with limits" {
  command -v redis-server >/dev/null || fail_or_skip "redis-server is not installed (scripts/deps.sh)"
  rm -rf "$W/redis"
  cp -a "$W/root" "$W/redis"
  for f in /usr/bin/redis-server /usr/bin/redis-cli \
           $(ldd /usr/bin/redis-server /usr/bin/redis-cli | awk '/=>/ { print $3 } /^\t\// { print $1 }' | sort -u); do
    cp --parents -L "$f" "$W/redis"
  done
  chmod -R a+rX "$W/redis"
  cat >"$W/proj/berth.yaml" <<YAML
berth: 1
name: vs
image: [{url: $W/redis}]
network: none
services:
  redis:
    command: [redis-server, --port, "6379", --save, "", --appendonly, "no"]
    healthcheck: {command: [redis-cli, ping], interval: 100ms, retries: 50}
    resources: {pids: 64, nofile: 4096}
YAML
  chmod 644 "$W/proj/berth.yaml"
  in_proj -q up
  run --separate-stderr in_proj verify -v
  echo "$output $stderr"
  [ "$status" -eq 0 ]
  [[ "$output" == *"services.redis.state: healthy (ok)"* ]]
  [[ "$output" == *"services.redis.resources.pids: 64 (ok)"* ]]
  [[ "$output" == *"services.redis.resources.nofile: 4096 (ok)"* ]]
}

@test "verify: a service named like the environment is not taken for its dev sandbox" {
  spec <<'YAML'
  vs-db:
    command: [sh, -c, "while :; do sleep 1; done"]
    resources: {pids: 50}
YAML
  printf 'resources: {pids: 30}\n' >>"$W/proj/berth.yaml"
  in_proj -q up
  run --separate-stderr in_proj verify -v
  echo "$output $stderr"
  [ "$status" -eq 0 ]
  [[ "$output" == *"services.vs-db.resources.pids: 50 (ok)"* ]]
  [[ "$output" != *"
resources.pids"* ]]
}

@test "verify: a service's own runtime layer is checked inside the running service" {
  mkdir -p "$W/rt/opt"
  echo 'echo "fakeruntime 2.4.1"' >"$W/rt/opt/version.sh"
  tar -C "$W/rt" -cf "$W/rt.tar" .
  chmod 644 "$W/rt.tar"
  spec <<YAML
  app:
    command: [sh, -c, "while :; do sleep 1; done"]
    image:
      - url: $W/img
      - {name: fakert, version: 2.4.1, url: $W/rt.tar, check: [sh, /opt/version.sh]}
YAML
  in_proj -q up
  run --separate-stderr in_proj verify -v
  echo "$output $stderr"
  [ "$status" -eq 0 ]
  [[ "$output" == *'services.app.image[1].version: "fakeruntime 2.4.1" (ok)'* ]]
  sed -i 's/version: 2.4.1/version: 2.5.0/' "$W/proj/berth.yaml"
  run --separate-stderr in_proj verify
  [ "$status" -eq 1 ]
  [ "$output" = 'services.app.image[1].version: spec 2.5.0, output "fakeruntime 2.4.1"' ]
}
