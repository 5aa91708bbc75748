#!/usr/bin/env bats
# Real servers as services: Debian's PostgreSQL (its binaries, the files
# initdb reads and the libraries ldd names, copied over a busybox root) run
# under `user: postgres` behind pg_isready, and busybox httpd beside it; dev
# commands reach both by service name. As root and as a user the tests
# create (with a subordinate id range, so `postgres` is mapped).

bats_require_minimum_version 1.5.0
load ../sandbox/helpers
load helpers

pgbin=/usr/lib/postgresql/15/bin
BERTH_UP_TIMEOUT=120 # initdb

# make_pg_image ROOT: busybox, PostgreSQL 15 and what it loads, and a
# `postgres` user (uid 70) that owns nothing: it works in /tmp (1777).
make_pg_image() {
  local r=$1 f
  cp -a "$W/root" "$r"
  chmod 1777 "$r/tmp"
  for a in httpd wget mkdir; do ln -sf busybox "$r/bin/$a"; done
  local bins="$pgbin/postgres $pgbin/initdb $pgbin/pg_isready $pgbin/psql"
  local mods="/usr/lib/postgresql/15/lib/plpgsql.so /usr/lib/postgresql/15/lib/dict_snowball.so"
  # shellcheck disable=SC2086
  for f in $bins $mods /usr/share/postgresql/15 /usr/share/zoneinfo/UTC \
           $(ldd $bins $mods | awk '/=>/ { print $3 } /^\t\// { print $1 }' | sort -u); do
    cp -r --parents -L "$f" "$r"
  done
  printf 'root:x:0:0:root:/root:/bin/sh\npostgres:x:70:70:PostgreSQL:/tmp:/bin/sh\n' >"$r/etc/passwd"
  printf 'root:x:0:\npostgres:x:70:\n' >"$r/etc/group"
  mkdir -p "$r/www"
  echo "hello from httpd" >"$r/www/index.html"
  chmod -R a+rX "$r"
}

setup_file() {
  sandbox_setup_file
  mkdir -p "$W/proj"
  if [ -n "${RUNNER:-}" ]; then chown -R "$RUNNER:" "$W/proj"; fi
  [ -x "$pgbin/postgres" ] || return 0
  make_pg_image "$W/pg"
  # initdb refuses root: the server and initdb run as `postgres`
  spec pg <<'YAML'
  db:
    user: postgres
    command: [sh, -c, "initdb -D /tmp/pgdata --auth=trust --no-locale -E UTF8 -U postgres >/dev/null && exec postgres -D /tmp/pgdata -h 127.0.0.1 -k /tmp"]
    healthcheck:
      command: [pg_isready, -h, 127.0.0.1, -U, postgres]
      interval: 100ms
      retries: 300
  web:
    command: [httpd, -f, -p, "8080", -h, /www]
    healthcheck:
      command: [wget, -q, -O, /dev/null, "http://127.0.0.1:8080/"]
      interval: 100ms
  app:
    command: [sh, -c, "psql -q -h db -U postgres -c 'create table visits (who text)' && echo app ready; exec sleep 100000"]
    depends_on: [db, web]
YAML
}

teardown_file() { envs_teardown_file; }

setup() {
  [ "${SKIP_ALL:-0}" = 1 ] && fail_or_skip "needs root to create the test user"
  need user_namespaces
  need overlay
  if [[ "$BATS_TEST_DESCRIPTION" == postgres* ]]; then
    [ -x "$pgbin/postgres" ] || fail_or_skip "postgresql is not installed (scripts/deps.sh)"
  fi
}

# spec NAME: $W/proj/NAME.yaml on the PostgreSQL image, services from stdin.
spec() {
  { printf 'berth: 1\nname: %s\nimage:\n  - url: %s\nnetwork: none\n' "$1" "$W/pg"
    printf 'env:\n  PATH: %s:/bin\n  TZ: UTC\nservices:\n' "$pgbin"
    cat; } >"$W/proj/$1.yaml"
  chmod 644 "$W/proj/$1.yaml"
}

@test "postgres: initdb and the server run as user postgres, healthy behind pg_isready; app waits for it" {
  run --separate-stderr in_proj up -f pg.yaml
  echo "$stderr"
  [ "$status" -eq 0 ]
  [[ "$stderr" == *"berth: app: waiting for db ("*")"* ]]
  [[ "$stderr" == *"berth: db: healthy"* ]]
  [[ "$stderr" == *"berth: pg is up" ]]
  run in_proj exec -f pg.yaml db -- id -un
  [ "$output" = postgres ]
  run in_proj logs -f pg.yaml db
  [[ "$output" == *"database system is ready to accept connections"* ]]
  # app created its table once db was healthy
  for _ in $(seq 50); do in_proj logs -f pg.yaml app | grep -q 'app ready' && break; sleep 0.1; done
  run in_proj logs -f pg.yaml app
  echo "$output"
  [ "$output" = "app ready" ]
}

@test "postgres: a dev command connects with psql by service name; what it writes stays while the environment is up" {
  run in_proj -q run -f pg.yaml -- psql -h db -U postgres -tAc "insert into visits values ('dev') returning who"
  echo "$output"
  [ "$status" -eq 0 ]
  [[ "$output" == dev* ]]
  run in_proj -q run -f pg.yaml -- psql -h db -U postgres -tAc "select count(*) from visits where who = 'dev'"
  [ "$output" = 1 ]
  # --ephemeral runs against services of its own: a fresh database
  run in_proj -q run -f pg.yaml --ephemeral -- psql -h db -U postgres -tAc "select count(*) from visits where who = 'dev'"
  echo "$output"
  [[ "$output" != 1 ]]
  # a failing statement passes psql's status through
  run in_proj -q run -f pg.yaml -- psql -h db -U postgres -v ON_ERROR_STOP=1 -tAc "select * from nosuch"
  [ "$status" -eq 1 ]
  [[ "$output" == *'relation "nosuch" does not exist'* ]]
}

@test "postgres: httpd beside it: the dev sandbox fetches from it by name" {
  run in_proj -q run -f pg.yaml -- wget -q -O - http://web:8080/
  [ "$status" -eq 0 ]
  [ "$output" = "hello from httpd" ]
  run in_proj ps -f pg.yaml
  echo "$output"
  [[ "$output" == *"db "*"healthy"* ]]
  [[ "$output" == *"web "*"healthy"* ]]
  [[ "$output" == *"app "*"running"* ]]
  in_proj -q down -f pg.yaml
}

@test "postgres as root: up fails naming the service, with initdb's refusal in its last log lines" {
  spec pgroot <<'YAML'
  db:
    command: [sh, -c, "initdb -D /tmp/pgdata --auth=trust && exec postgres -D /tmp/pgdata"]
    healthcheck:
      command: [pg_isready, -h, 127.0.0.1]
      interval: 100ms
YAML
  run --separate-stderr in_proj up -f pgroot.yaml
  echo "$stderr"
  [ "$status" -eq 1 ]
  [[ "$stderr" == *"berth: up: service db failed: exit status 1"* ]]
  [[ "$stderr" == *"  db | initdb: error: cannot be run as root"* ]]
  in_proj -q down -f pgroot.yaml
}

@test "examples/services: its image packs Debian's redis-server on the fly; up, a dev command by name, down" {
  command -v redis-server >/dev/null || fail_or_skip "redis-server is not installed (scripts/deps.sh)"
  ex="$BATS_TEST_DIRNAME/../../examples"
  mkdir -p "$W/proj/ex"
  cp "$ex/services/berth.yaml" "$W/proj/ex/"
  BERTH="$W/bin/berth" bash "$ex/build-busybox-image.sh" "$W/proj/ex/image/redis.tar.zst" /usr/bin/redis-server /usr/bin/redis-cli
  chmod -R a+rX "$W/proj/ex"
  if [ -n "${RUNNER:-}" ]; then chown -R "$RUNNER:" "$W/proj/ex"; fi
  run --separate-stderr in_proj up -f ex/berth.yaml
  echo "$stderr"
  [ "$status" -eq 0 ]
  [[ "$stderr" == *"berth: counter: running"* ]]
  run in_proj -q run -f ex/berth.yaml -- redis-cli -h cache set greeting hi
  [ "$output" = OK ]
  run in_proj exec -f ex/berth.yaml cache -- redis-cli get greeting
  [ "$output" = hi ]
  # counter counts once cache is healthy
  for _ in $(seq 30); do [ -n "$(in_proj -q run -f ex/berth.yaml -- redis-cli -h cache get ticks)" ] && break; sleep 0.2; done
  [ "$(in_proj -q run -f ex/berth.yaml -- redis-cli -h cache get ticks)" -ge 1 ]
  in_proj -q down -f ex/berth.yaml
  [ "$(in_proj --json ps -f ex/berth.yaml | jq -r .environment)" = down ]
}
