#!/usr/bin/env bats
# Services: `up` starts a supervisor per environment, which runs the spec's
# services in one shared network namespace; ps, logs, exec and down talk to
# it. busybox (httpd, wget, sh loops) plays the servers. As root and as a
# user the tests create.

bats_require_minimum_version 1.5.0
load ../sandbox/helpers
load helpers

setup_file() {
  envs_setup_file httpd wget nc seq kill trap
  mkdir -m 755 "$W/img/www"
  echo "hello from web" >"$W/img/www/index.html"
  # web answers only after a while; app fetches from it once, at its start:
  # it can only succeed if web was healthy before app started.
  spec berth <<YAML
services:
  web:
    command: [sh, -c, "sleep 0.3; echo web starting; exec httpd -f -p 8080 -h /www"]
    healthcheck:
      command: [wget, -q, -O, /dev/null, "http://127.0.0.1:8080/"]
      interval: 100ms
      retries: 100
  app:
    command: [sh, -c, "wget -q -O - http://127.0.0.1:8080/ && echo app fetched; echo oops >&2; while :; do sleep 1; done"]
    depends_on: [web]
YAML
}
teardown_file() {
  envs_teardown_file
}

setup() { envs_setup; }

# The processes of an environment: its supervisor and everything under it.
env_pids() {
  local sup
  sup=$(cat "$W"/home/state/envs/"$1"-*/supervisor.pid 2>/dev/null) || return 0
  echo "$sup"
  ps -e -o pid=,ppid= | awk -v s="$sup" '$2 == s { print $1 }'
}

@test "up starts services in depends_on order, gated by healthchecks; they share 127.0.0.1" {
  run --separate-stderr in_proj up -f berth.yaml
  echo "$stderr"
  [ "$status" -eq 0 ]
  # app waits for web, says so, and starts once web is healthy
  [[ "$stderr" == *"berth: app: waiting for web ("*")"* ]]
  healthy=$(grep -n 'web: healthy' <<<"$stderr" | cut -d: -f1)
  running=$(grep -n 'app: running' <<<"$stderr" | cut -d: -f1)
  [ -n "$healthy" ] && [ -n "$running" ] && [ "$healthy" -lt "$running" ]
  [[ "$stderr" == *"berth: berth is up" ]]
  [[ "$stderr" != *"services:"* ]]
  for _ in $(seq 50); do in_proj logs app | grep -q 'app fetched' && break; sleep 0.1; done
  run in_proj logs app
  [[ "$output" == *"hello from web"*"app fetched"* ]]
  # up again: already up, ready at once
  run in_proj -q up
  [ "$status" -eq 0 ]
}

@test "services reach each other by name" {
  run in_proj exec app -- wget -q -O - http://web:8080/
  [ "$status" -eq 0 ]
  [ "$output" = "hello from web" ]
  run in_proj exec web -- cat /etc/hosts
  [[ "${lines[0]}" == "127.0.0.1"*"localhost web app" ]]
}

@test "run and run --ephemeral join the network of an environment that is up; not one that is down" {
  run in_proj -q run -- wget -q -O - http://web:8080/
  [ "$status" -eq 0 ]
  [ "$output" = "hello from web" ]
  run in_proj -q run --ephemeral -- wget -q -O - http://127.0.0.1:8080/
  [ "$output" = "hello from web" ]
  spec alone <<'YAML'
services:
  web:
    command: [sleep, "1000"]
YAML
  run in_proj -q run -f alone.yaml -- wget -q -O - http://127.0.0.1:8080/
  [ "$status" -ne 0 ]
}

@test "ps lists state, pid, uptime and restarts; --json serves tools" {
  run in_proj ps
  echo "$output"
  [ "$status" -eq 0 ]
  [[ "${lines[0]}" == "SERVICE"*"STATE"*"PID"*"UPTIME"*"RESTARTS"*"PORTS" ]]
  [[ "$output" == *"web "*"healthy"* ]]
  [[ "$output" == *"app "*"running"* ]]
  run in_proj --json ps
  [ "$(jq -r .environment <<<"$output")" = up ]
  [ "$(jq -r '.services | map(.name) | join(",")' <<<"$output")" = web,app ]
  pid=$(jq -r '.services[0].pid' <<<"$output")
  [ -d "/proc/$pid" ]
  [ "$(jq -r '.services[1].restarts' <<<"$output")" = 0 ]
}

@test "exec runs in the service's namespaces and root and passes the status through" {
  run in_proj exec web -- sh -c 'wget -q -O - http://127.0.0.1:8080/; cat /proc/1/cmdline | tr "\0" " "; exit 7'
  echo "$output"
  [ "$status" -eq 7 ]
  [[ "$output" == "hello from web"* ]]
  # the service's own pid namespace: its init is pid 1
  [[ "$output" == *"berth-init"* ]]
  run -127 in_proj exec app -- no-such-command
  [[ "$output" == *"no-such-command"* ]]
  run in_proj exec nosuch -- true
  [ "$status" -eq 125 ]
  [[ "$output" == *"no service named \`nosuch\`"* ]]
}

@test "logs: interleaved by time with the service's name; --tail; unknown service exits 2" {
  run in_proj logs
  echo "$output"
  [ "$status" -eq 0 ]
  [[ "$output" == *"web | web starting"* ]]
  [[ "$output" == *"app | hello from web"* ]]
  [[ "$output" == *"app | oops"* ]]
  # web started before app, so its line comes first
  [ "$(grep -n 'web | web starting' <<<"$output" | cut -d: -f1)" -lt "$(grep -n 'app | hello' <<<"$output" | cut -d: -f1)" ]
  run in_proj logs --tail 1 app
  [ "$output" = oops ]
  run in_proj logs --since 1h web
  [ "$output" = "web starting" ]
  run in_proj logs nosuch
  [ "$status" -eq 2 ]
  run in_proj logs --since yesterday
  [ "$status" -eq 2 ]
}

@test "down stops every service and the supervisor; exec then says the service is not running" {
  mapfile -t pids < <(env_pids berth)
  [ "${#pids[@]}" -ge 3 ]
  run in_proj down
  [ "$status" -eq 0 ]
  for p in "${pids[@]}"; do gone "$p"; done
  run in_proj ps
  [ "$status" -eq 0 ]
  [[ "$output" == *"berth is not up"* ]]
  run in_proj exec web -- true
  [ "$status" -eq 1 ]
  [ "$output" = "berth: web is not running (state: down)" ]
  ! ls "$W"/home/state/envs/berth-*/control.sock
}

@test "a service with an image of its own runs on it" {
  rm -rf "$W/img2"; cp -a "$W/img" "$W/img2"
  echo "the other image" >"$W/img2/marker"
  chmod -R a+rX "$W/img2"
  spec twoimg <<YAML
services:
  own:
    image: [{url: $W/img2}]
    command: [sh, -c, "cat /marker; while :; do sleep 1; done"]
  shared:
    command: [sh, -c, "cat /marker 2>&1; while :; do sleep 1; done"]
YAML
  in_proj -q up -f twoimg.yaml
  run in_proj exec -f twoimg.yaml own -- cat /marker
  [ "$output" = "the other image" ]
  run in_proj exec -f twoimg.yaml shared -- cat /marker
  [ "$status" -ne 0 ]
  for _ in $(seq 50); do in_proj logs -f twoimg.yaml own | grep -q other && break; sleep 0.1; done
  [ "$(in_proj logs -f twoimg.yaml own)" = "the other image" ]
  in_proj -q down -f twoimg.yaml
}

@test "a service whose command does not exist fails up with 127, named; the others stay" {
  spec nocmd <<'YAML'
services:
  ok:
    command: [sleep, "1000"]
  broken:
    command: [no-such-server, --port, "1"]
YAML
  run --separate-stderr in_proj up -f nocmd.yaml
  echo "$stderr"
  [ "$status" -eq 1 ]
  [[ "$stderr" == *"berth: up: service broken failed: exit status 127: "*"no-such-server"* ]]
  [ "$(state_of nocmd ok)" = running ]
  run in_proj exec -f nocmd.yaml broken -- true
  [ "$status" -eq 1 ]
  [ "$output" = "berth: broken is not running (state: exited)" ]
  in_proj -q down -f nocmd.yaml
}

@test "a failing healthcheck fails up with its last output and the service's last 20 log lines" {
  spec sick <<'YAML'
services:
  db:
    command: [sh, -c, "for i in $(seq 30); do echo line $i; done; while :; do sleep 1; done"]
    healthcheck:
      command: [sh, -c, "echo no response; exit 1"]
      interval: 50ms
      retries: 3
  web:
    command: [sleep, "1000"]
    depends_on: [db]
YAML
  run --separate-stderr in_proj up -f sick.yaml
  echo "$stderr"
  [ "$status" -eq 1 ]
  [[ "$stderr" == *'berth: web: waiting for db (healthcheck failing: exit status 1, "no response")'* ]]
  [[ "$stderr" == *'berth: up: service db failed: healthcheck failing: exit status 1, "no response"'* ]]
  [[ "$stderr" == *"  db | line 30"* ]]
  [[ "$stderr" == *"  db | line 11"* ]]
  [[ "$stderr" != *"  db | line 10"* ]]
  # left in place for inspection
  [ "$(state_of sick db)" = unhealthy ]
  [ "$(state_of sick web)" = waiting ]
  in_proj -q down -f sick.yaml
}

@test "a healthcheck runs with default signal handling, not the supervisor's" {
  spec sigs <<'YAML'
services:
  svc:
    command: [sleep, "1000"]
    healthcheck:
      command: [sh, -c, "kill -TERM $$$$; sleep 1; exit 0"]
      interval: 50ms
      retries: 1
YAML
  run in_proj up -f sigs.yaml
  echo "$output"
  [ "$status" -eq 1 ]
  [[ "$output" == *"service svc failed: healthcheck failing: exit status 143"* ]]
  in_proj -q down -f sigs.yaml
}

@test "restart: on-failure restarts a crashing service with backoff, no leaves it exited N" {
  spec crash <<'YAML'
services:
  flaky:
    command: [sh, -c, "echo crashed; exit 3"]
    restart: on-failure
  once:
    command: [sh, -c, "exit 4"]
YAML
  # up may see both running before they exit: its status is not the point
  run in_proj up -f crash.yaml
  for _ in $(seq 50); do
    [ "$(in_proj --json ps -f crash.yaml | jq '.services[0].restarts')" -ge 3 ] && [ "$(state_of crash once)" = exited ] && break
    sleep 0.1
  done
  run in_proj --json ps -f crash.yaml
  echo "$output"
  [ "$(jq '.services[0].restarts' <<<"$output")" -ge 3 ]
  run in_proj ps -f crash.yaml
  [[ "$output" == *"once "*"exited 4"* ]]
  [ "$(in_proj --json ps -f crash.yaml | jq -r '.services[1].reason')" = "exit status 4" ]
  [ "$(in_proj logs -f crash.yaml flaky | grep -c crashed)" -ge 3 ]
  in_proj -q down -f crash.yaml
}

@test "logs are rotated past their bound" {
  spec chatty <<'YAML'
services:
  talk:
    command: [sh, -c, "i=0; while [ $i -lt 400 ]; do echo line $i; i=$((i+1)); done; echo done; while :; do sleep 1; done"]
YAML
  BERTH_LOG_MAX=2000 in_proj -q up -f chatty.yaml
  for _ in $(seq 50); do in_proj logs -f chatty.yaml --tail 1 | grep -q done && break; sleep 0.1; done
  d=$(echo "$W"/home/state/envs/chatty-*/logs)
  [ -f "$d/talk.log.1" ]
  [ "$(stat -c %s "$d/talk.log")" -le 2000 ]
  [ "$(stat -c %s "$d/talk.log.1")" -le 2000 ]
  run in_proj logs -f chatty.yaml
  [ "${lines[-1]}" = done ]
  in_proj -q down -f chatty.yaml
}

@test "down sends SIGTERM, then SIGKILL after stop_timeout" {
  spec stubborn <<'YAML'
services:
  polite:
    command: [sh, -c, "trap 'echo got TERM >/work/polite.out; exit 0' TERM; while :; do sleep 0.05; done"]
    mounts: [{source: ., target: /work}]
  deaf:
    command: [sh, -c, "trap '' TERM; while :; do sleep 0.05; done"]
    stop_timeout: 300ms
YAML
  rm -f "$W/proj/polite.out"
  in_proj -q up -f stubborn.yaml
  mapfile -t pids < <(env_pids stubborn)
  run in_proj down -f stubborn.yaml
  [ "$status" -eq 0 ]
  [ "$(cat "$W/proj/polite.out")" = "got TERM" ]
  for p in "${pids[@]}"; do gone "$p"; done
}

@test "kill -9 of the supervisor takes the services with it; ps says dead, down cleans up, up recovers" {
  in_proj -q up
  mapfile -t pids < <(env_pids berth)
  sup=${pids[0]}
  [ "${#pids[@]}" -ge 3 ]
  kill -9 "$sup"
  for _ in $(seq 50); do
    alive=0
    for p in "${pids[@]}"; do gone "$p" || alive=1; done
    [ "$alive" = 0 ] && break
    sleep 0.1
  done
  [ "$alive" = 0 ]
  run in_proj ps
  [ "$status" -eq 1 ]
  [[ "$output" == *"supervisor is dead"* ]]
  [ "$(in_proj --json ps | jq -r .environment)" = dead ]
  run in_proj down
  [ "$status" -eq 0 ]
  [ "$(in_proj --json ps | jq -r .environment)" = down ]
  run in_proj -q up
  [ "$status" -eq 0 ]
  [ "$(state_of berth web)" = healthy ]
  in_proj -q down
  # nothing of the environment stays mounted
  ! grep -q "$W/home/state/envs/berth-" /proc/self/mountinfo
}

@test "a stale pid file and socket are never trusted" {
  d=$(echo "$W"/home/state/envs/berth-*)
  # a live process that is not a supervisor, and a socket nobody answers
  sleep 100 &
  other=$!
  echo "$other" >"$d/supervisor.pid"
  python3 -c "import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])" "$d/control.sock"
  run in_proj ps
  [ "$status" -eq 1 ]
  [[ "$output" == *"supervisor is dead"* ]]
  run in_proj -q up
  [ "$status" -eq 0 ]
  [ "$(cat "$d/supervisor.pid")" != "$other" ]
  kill "$other"
  in_proj -q down
}

@test "the state folder of an environment that is down can be removed" {
  in_proj -q up
  in_proj -q down
  rm -rf "$W/home/state/envs"/berth-*
  [ -z "$(ls "$W/home/state/envs" | grep '^berth-' || true)" ]
}

@test "run of an environment that is not up brings its services up, and down again after" {
  spec onrun <<'YAML'
services:
  web:
    command: [httpd, -f, -p, "8081", -h, /www]
    healthcheck:
      command: [wget, -q, -O, /dev/null, "http://127.0.0.1:8081/"]
      interval: 50ms
YAML
  run in_proj -q run -f onrun.yaml -- wget -q -O - http://web:8081/
  [ "$status" -eq 0 ]
  [ "$output" = "hello from web" ]
  [ "$(in_proj --json ps -f onrun.yaml | jq -r .environment)" = down ]
  # already up: left up
  in_proj -q up -f onrun.yaml
  run in_proj -q run -f onrun.yaml --ephemeral -- wget -q -O - http://web:8081/
  [ "$output" = "hello from web" ]
  [ "$(in_proj --json ps -f onrun.yaml | jq -r .environment)" = up ]
  in_proj -q down -f onrun.yaml
  # a service that fails: 125 before the command runs, with its reason
  spec onrunbad <<'YAML'
services:
  broken:
    command: [no-such-server]
YAML
  run in_proj run -f onrunbad.yaml -- echo never
  [ "$status" -eq 125 ]
  [[ "$output" == *"service broken failed: exit status 127"* ]]
  [[ "$output" != *never* ]]
  [ "$(in_proj --json ps -f onrunbad.yaml | jq -r .environment)" = down ]
}

@test "kill -9 of a run that brought the services up takes them down" {
  spec killrun <<'YAML'
services:
  svc:
    command: [sleep, "1000"]
YAML
  in_proj -q run -f killrun.yaml -- sleep 1000 3>&- &
  for _ in $(seq 100); do [ "$(state_of killrun svc 2>/dev/null)" = running ] && break; sleep 0.05; done
  [ "$(state_of killrun svc)" = running ]
  mapfile -t pids < <(env_pids killrun)
  runpid=$(pgrep -f "^$W/bin/berth -q run -f killrun.yaml" | head -1)
  [ -n "$runpid" ]
  kill -9 "$runpid"
  for _ in $(seq 100); do
    alive=0
    for p in "${pids[@]}"; do gone "$p" || alive=1; done
    [ "$alive" = 0 ] && break
    sleep 0.05
  done
  [ "$alive" = 0 ]
  [ "$(in_proj --json ps -f killrun.yaml | jq -r .environment)" = down ]
  wait || true
}

@test "shell SERVICE opens a shell in a running service" {
  in_proj -q up
  run in_proj shell web <<<'echo in $(hostname); exit 3'
  [ "$status" -eq 3 ]
  [ "$output" = "in web" ]
  in_proj -q down
  run in_proj shell web <<<'exit 0'
  [ "$status" -eq 1 ]
  [[ "$output" == *"web is not running (state: down)"* ]]
}

# A real server: Debian's redis-server, its binary and libraries (found with
# ldd) copied into a layer over the busybox root.
make_redis_image() {
  local r=$1 f
  cp -a "$W/root" "$r"
  mkdir -p "$r/usr/bin"
  for f in /usr/bin/redis-server /usr/bin/redis-cli \
           $(ldd /usr/bin/redis-server /usr/bin/redis-cli | awk '/=>/ { print $3 } /^\t\// { print $1 }' | sort -u); do
    cp --parents -L "$f" "$r"
  done
  chmod -R a+rX "$r"
}

@test "redis: a real server, healthy behind redis-cli ping, reached by name from run and exec" {
  command -v redis-server >/dev/null || fail_or_skip "redis-server is not installed (scripts/deps.sh)"
  rm -rf "$W/redis"
  make_redis_image "$W/redis"
  cat >"$W/proj/redis.yaml" <<YAML
berth: 1
name: redis
image:
  - url: $W/redis
network: none
services:
  cache:
    command: [redis-server, --port, "6379", --save, "", --appendonly, "no"]
    healthcheck:
      command: [redis-cli, ping]
      interval: 100ms
      retries: 50
YAML
  chmod 644 "$W/proj/redis.yaml"
  run in_proj up -f redis.yaml
  echo "$output"
  [ "$status" -eq 0 ]
  [[ "$output" == *"berth: cache: healthy"* ]]
  run in_proj exec -f redis.yaml cache -- redis-cli set greeting hello
  [ "$output" = OK ]
  run in_proj -q run -f redis.yaml -- redis-cli -h cache get greeting
  [ "$status" -eq 0 ]
  [ "$output" = hello ]
  run in_proj logs -f redis.yaml cache
  [[ "$output" == *"Ready to accept connections"* ]]
  in_proj -q down -f redis.yaml
}

@test "up on a terminal: one progress line, redrawn in place and cleared before each state line; none off a terminal" {
  command -v script >/dev/null || fail_or_skip "script is missing (bsdutils)"
  spec slow <<'YAML'
services:
  db:
    command: [sh, -c, "sleep 0.8; touch /tmp/ready; exec sleep 1000"]
    healthcheck:
      command: [sh, -c, "test -e /tmp/ready || { echo no response; exit 1; }"]
      interval: 50ms
      retries: 100
  web:
    command: [sleep, "1000"]
    depends_on: [db]
YAML
  # on a pseudo-terminal (script) 200 columns wide, stdin from /dev/null
  out=$(cd "$W/proj" && as_runner script -qec "stty cols 200; env BERTH_STATE_DIR=$W/home/state BERTH_CACHE_DIR=$W/home/cache $W/bin/berth up -f slow.yaml" /dev/null </dev/null)
  printf '%s' "$out" | cat -A
  esc=$'\033[K'
  # what web waits for, and why, on the progress line
  [[ "$out" == *$'\r'"$esc[0/2] "*"s waiting: web (for db: healthcheck failing: exit status 1, \"no response\")"* ]]
  # each state line starts on a cleared line, never after a progress line's text
  [[ "$out" == *$'\r'"${esc}berth: db: healthy"* ]]
  [[ "$out" == *"berth: web: running"* ]]
  cleared=${out//$'\r'"${esc}berth: "/$'\n'berth: }
  ! grep -q '.berth: ' <<<"$cleared"
  # the last thing shown is the final line: no progress line left behind
  [ "${out##*berth: web: running}" = $'\r\nberth: slow is up\r' ]
  in_proj -q down -f slow.yaml
  # off a terminal: the state lines alone
  run --separate-stderr in_proj up -f slow.yaml
  [ "$status" -eq 0 ]
  [[ "$stderr" == *"berth: web: waiting for db (healthcheck failing: exit status 1, \"no response\")"* ]]
  [[ "$stderr" != *$'\033'* ]]
  [[ "$stderr" != *$'\r'* ]]
  in_proj -q down -f slow.yaml
}

@test "as root, a run into an environment that is up takes the kept root, as any run does; its writes stay after down" {
  spec joinup <<'YAML'
services:
  svc:
    command: [sleep, "1000"]
YAML
  in_proj -q up -f joinup.yaml
  pin=$(echo "$W"/home/state/envs/joinup-*)/rootfs/mntns
  if [ -n "${RUNNER:-}" ]; then
    # rootless: nothing can hold a mount without a process; one per run
    run in_proj -vv run -f joinup.yaml -- cat /etc/hosts
    [ "$status" -eq 0 ]; [[ "$output" == *"127.0.0.1"*"svc"* ]]; [[ "$output" != *"kept"* ]]; [ ! -e "$pin" ]
    in_proj -q down -f joinup.yaml
    return 0
  fi
  need kept_root
  run in_proj -vv run -f joinup.yaml -- sh -c 'echo joined >/etc/joined; cat /etc/hosts'
  echo "$output"
  [ "$status" -eq 0 ]
  [[ "$output" == *"127.0.0.1"*"svc"* ]]
  [[ "$output" == *"a new overlay, kept mounted from now on ($pin)"* ]]
  run in_proj -vv run -f joinup.yaml -- cat /etc/joined
  [[ "$output" == *"the overlay kept on $pin"* ]]
  [[ "$output" == *joined* ]]
  in_proj -q down -f joinup.yaml
  [ ! -e "$pin" ]
  # the writable layer, and who owns what in it, as a run of the environment down sees them
  run in_proj -q run -f joinup.yaml -- sh -c 'cat /etc/joined; stat -c %u:%g /etc/joined'
  [ "$output" = "joined
0:0" ]
  in_proj -q down -f joinup.yaml
}
