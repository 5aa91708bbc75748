#!/usr/bin/env bats
# What outlives a command: kill -9 of the supervisor, of `up` and of `run`;
# the environment's cgroup; what `run` of an environment that is not up
# leaves behind; the lock protocol (volumes, layers); `run --ephemeral`.
# As root and as a user the tests create.

bats_require_minimum_version 1.5.0
load ../sandbox/helpers
load helpers

setup_file() { envs_setup_file nc seq kill trap; }
teardown_file() { envs_teardown_file; }

setup() { envs_setup; }

# Live supervisors, their janitors and namespace holders started by this
# file's tests (their folder is the project's; zombies are gone).
berth_procs() {
  local p
  for p in $(ps -e -o pid=,stat=,comm= | awk '$2 !~ /^Z/ && $3 ~ /^berth-(supervise|netns|cgroup)/ { print $1 }'); do
    [[ "$(readlink "/proc/$p/cwd" 2>/dev/null)" == "$W/"* ]] && echo "$p"
  done
  return 0
}

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
  ! env_cgroups "$name" | grep . || false
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

# The environment's cgroup folders (one per v1 hierarchy, or the v2 one).
env_cgroups() { find "${CG_ROOT:-/sys/fs/cgroup}" -maxdepth 4 -type d -name "env-$1-*" 2>/dev/null; }

# kill -9 of the supervisor of environment NAME (up): every process of it
# ends, and with a cgroup, the cgroup is removed, without any `down`.
kill_supervisor_leaves_nothing() {
  local name=$1 sup p
  sup=$(cat "$W"/home/state/envs/"$name"-*/supervisor.pid)
  mapfile -t pids < <(echo "$sup"; ps -e -o pid=,ppid= | awk -v s="$sup" '$2 == s { print $1 }')
  [ "${#pids[@]}" -ge 3 ]
  kill -9 "$sup"
  for _ in $(seq 100); do
    alive=0
    for p in "${pids[@]}"; do gone "$p" || alive=1; done
    [ "$alive" = 0 ] && [ -z "$(env_cgroups "$name")" ] && break
    sleep 0.05
  done
  [ "$alive" = 0 ]
  nothing_left "$name"
  [ -z "$(env_cgroups "$name")" ]
  [ "$(in_proj --json ps -f "$name.yaml" | jq -r .environment)" = dead ]
  in_proj -q down -f "$name.yaml"
  rm -rf "$W"/home/state/envs/"$name"-*
}

@test "the environment's cgroup holds the supervisor and every service (limits nest below); kill -9 of the supervisor removes it" {
  spec cg <<'YAML'
services:
  free:
    command: [sleep, "1000"]
  limited:
    command: [sleep, "1000"]
    resources: {memory: 64MiB, pids: 32}
YAML
  mech=$(jq -r .env_cgroup "$W/doctor.json")
  in_proj -q up -f cg.yaml
  sup=$(cat "$W"/home/state/envs/cg-*/supervisor.pid)
  if [ "$mech" = none ]; then
    # rootless v1: no cgroup; doctor says what ends the services instead
    [ -n "$RUNNER" ]
    run as_runner "$W/bin/berth" doctor
    [[ "$output" == *"env cgroup        none: services end by parent-death signals and pid namespaces"* ]]
    [ -z "$(env_cgroups cg)" ]
    kill_supervisor_leaves_nothing cg
    return 0
  fi
  [ "$mech" = "cgroup v1" ] || [ "$mech" = "cgroup v2" ]
  mapfile -t dirs < <(env_cgroups cg)
  [ "${#dirs[@]}" -ge 1 ]
  for d in "${dirs[@]}"; do
    # the supervisor, the free service's init and the limited one's (in its own cgroup below)
    all=$(find "$d" -name cgroup.procs -exec cat {} +)
    grep -qx "$sup" <<<"$all"
    [ "$(wc -l <<<"$all")" -ge 4 ]
  done
  pids_dir=$(grep /pids/ <<<"$(env_cgroups cg)" || env_cgroups cg)
  limited=$(in_proj --json ps -f cg.yaml | jq -r '.services[] | select(.name == "limited") | .pid')
  # the limited service's own cgroup is a child of the environment's
  [ -n "$(find "$pids_dir"/*/ -maxdepth 1 -name cgroup.procs -exec grep -lx "$limited" {} +)" ]
  kill_supervisor_leaves_nothing cg
}

@test "down kills what is left in the environment's cgroup and removes it" {
  spec cgdown <<'YAML'
services:
  svc:
    command: [sleep, "1000"]
YAML
  in_proj -q up -f cgdown.yaml
  sleep 0.2
  in_proj -q down -f cgdown.yaml
  nothing_left cgdown
  [ -z "$(env_cgroups cgdown)" ]
}

@test "cgroup v2 on a real hierarchy (the host's unified one): the environment's tree, removed after kill -9 of its supervisor; a user who may not write it falls back" {
  [ -w /sys/fs/cgroup/unified ] || fail_or_skip "no writable cgroup v2 hierarchy"
  export CG_ROOT=/sys/fs/cgroup/unified/berth-test-$$
  mkdir "$CG_ROOT"
  spec cgv2 <<'YAML'
services:
  svc:
    command: [sleep, "1000"]
YAML
  if [ -n "${RUNNER:-}" ]; then
    # not delegated to this user: no cgroup, and doctor says so
    run as_runner env BERTH_CGROUP2_ROOT="$CG_ROOT" "$W/bin/berth" --json doctor
    [ "$(jq -r .env_cgroup <<<"$output")" = none ]
    BERTH_CGROUP2_ROOT=$CG_ROOT in_proj -q up -f cgv2.yaml
    [ -z "$(find "$CG_ROOT" -mindepth 1 -type d)" ]
    kill_supervisor_leaves_nothing cgv2
    rmdir "$CG_ROOT"
    return 0
  fi
  BERTH_CGROUP2_ROOT=$CG_ROOT in_proj -q up -f cgv2.yaml
  sup=$(cat "$W"/home/state/envs/cgv2-*/supervisor.pid)
  d=$(env_cgroups cgv2)
  [ -d "$d/supervisor" ]
  grep -qx "$sup" "$d/supervisor/cgroup.procs"
  svc=$(in_proj --json ps -f cgv2.yaml | jq -r '.services[0].pid')
  grep -qx "$svc" "$d/supervisor/cgroup.procs"
  # the v2 file berth relies on is there (Linux 5.14+)
  [ -e "$d/cgroup.kill" ]
  kill_supervisor_leaves_nothing cgv2
  rmdir "$CG_ROOT/berth" "$CG_ROOT"
}

@test "a run of an environment that is not up leaves no process, mount or cgroup, and its state folder can be removed" {
  spec notup <<'YAML'
mounts:
  - {volume: data, target: /data}
resources: {memory: 128MiB, pids: 64}
YAML
  run in_proj -q run -f notup.yaml -- sh -c 'echo x >/data/x; cat /data/x'
  echo "$output"
  [ "$status" -eq 0 ]
  [ ! -e "$(echo "$W"/home/state/envs/notup-*/rootfs)/mntns" ]
  nothing_left notup
  [ -z "$(find /sys/fs/cgroup -maxdepth 3 -type d -name "notup-*" 2>/dev/null)" ]
  rm -rf "$W"/home/state/envs/notup-*
  [ -z "$(ls -d "$W"/home/state/envs/notup-* 2>/dev/null)" ]
}

@test "kill -9 of the supervisor of an environment up with its root kept mounted (as root) releases the root" {
  spec keptkill </dev/null
  in_proj -q up -f keptkill.yaml
  in_proj -q run -f keptkill.yaml -- true
  pin=$(echo "$W"/home/state/envs/keptkill-*/rootfs)/mntns
  if [ -z "${RUNNER:-}" ] && grep -q '"kept_root":true' "$W/doctor.json"; then
    [ "$(awk -v p="$pin" '$5 == p' /proc/self/mountinfo | wc -l)" -eq 1 ]
  fi
  sup=$(cat "$W"/home/state/envs/keptkill-*/supervisor.pid)
  kill -9 "$sup"
  for _ in $(seq 100); do [ -z "$(awk -v w="$W/" 'index($5, w) == 1' /proc/self/mountinfo)" ] && break; sleep 0.05; done
  nothing_left keptkill
  [ ! -e "$pin" ]
  in_proj -q down -f keptkill.yaml
  rm -rf "$W"/home/state/envs/keptkill-*
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

@test "two run --ephemeral of one spec at once: each its own redis on the same port, both pass, nothing left" {
  command -v redis-server >/dev/null || fail_or_skip "redis-server is not installed (scripts/deps.sh)"
  rm -rf "$W/redis"
  make_redis_image "$W/redis"
  IMG=$W/redis spec ci <<'YAML'
mounts:
  - {volume: data, target: /data}
services:
  cache:
    command: [redis-server, --port, "6379", --save, "", --appendonly, "no"]
    healthcheck:
      command: [redis-cli, ping]
      interval: 100ms
      retries: 100
YAML
  # each sets a key of its own, waits for the other to have set its own,
  # and must still read only its own: two servers, not one shared
  job='redis-cli -h cache set who $0 >/dev/null; echo $0 >/data/mine; sleep 1.5; test "$(redis-cli -h cache get who)" = $0 && test "$(cat /data/mine)" = $0'
  in_proj -q run --ephemeral -f ci.yaml -- sh -c "$job" one >"$W/ci1.out" 2>&1 &
  p1=$!
  in_proj -q run --ephemeral -f ci.yaml -- sh -c "$job" two >"$W/ci2.out" 2>&1 &
  p2=$!
  s1=0; s2=0
  wait "$p1" || s1=$?
  wait "$p2" || s2=$?
  cat "$W/ci1.out" "$W/ci2.out"
  [ "$s1" -eq 0 ]; [ "$s2" -eq 0 ]
  nothing_left ci
  [ -z "$(ls -d "$W"/home/state/envs/ci-* 2>/dev/null)" ]
  # the spec's own environment was never touched
  [ "$(in_proj --json ps -f ci.yaml | jq -r .environment)" = down ]
}

@test "run --ephemeral passes a failing status through with the services' last log lines, and leaves nothing" {
  spec cifail <<'YAML'
services:
  talker:
    command: [sh, -c, "echo talker says hello; echo talker warns >&2; exec sleep 1000"]
YAML
  run --separate-stderr in_proj run --ephemeral -f cifail.yaml -- sh -c 'sleep 0.3; echo out; exit 3'
  echo "$stderr"
  [ "$status" -eq 3 ]
  [ "$output" = out ]
  [[ "$stderr" == *"talker | talker says hello"* ]]
  [[ "$stderr" == *"talker | talker warns"* ]]
  nothing_left cifail
  [ -z "$(ls -d "$W"/home/state/envs/cifail-* 2>/dev/null)" ]
  # a command that passes says nothing of them
  run --separate-stderr in_proj run --ephemeral -f cifail.yaml -- true
  [ "$status" -eq 0 ]; [ -z "$stderr" ]
  [ -z "$(ls -d "$W"/home/state/envs/cifail-* 2>/dev/null)" ]
}

@test "down --volumes never removes a volume a running sandbox has bound (a second run's, beside the first), and names who holds it" {
  spec vols <<'YAML'
workdir: /
mounts:
  - {volume: data, target: /data}
YAML
  env_dir() { echo "$W"/home/state/envs/vols-????????; }
  rm -f "$W/proj/go1" "$W/proj/go2"
  chmod 777 "$W/proj"
  # the first run owns the writable layer, the second gets a throwaway one; both bind the volume
  in_proj -q run -f vols.yaml -- sh -c 'echo 1 >/data/one; while [ ! -e /data/go1 ]; do sleep 0.05; done' 3>&- &
  first=$!
  for _ in $(seq 100); do [ -e "$(env_dir)/volumes/data/one" ] && break; sleep 0.05; done
  in_proj -q run -f vols.yaml -- sh -c 'echo 2 >/data/two; while [ ! -e /data/go2 ]; do sleep 0.05; done; cat /data/two' \
    >"$W/second.out" 2>&1 3>&- &
  second=$!
  for _ in $(seq 100); do [ -e "$(env_dir)/volumes/data/two" ] && break; sleep 0.05; done
  touch "$(env_dir)/volumes/data/go1"
  wait "$first"
  # the second still runs with the volume bound: refused, nothing removed
  run in_proj down -f vols.yaml --volumes
  echo "$output"
  [ "$status" -eq 1 ]
  [[ "$output" == *"volume data is in use by berth (pid $second"*"); no volume was removed"* ]] ||
    [[ "$output" == *"volume data is in use by berth (pid "*"); no volume was removed"* ]]
  [ -e "$(env_dir)/volumes/data/two" ]
  touch "$(env_dir)/volumes/data/go2"
  wait "$second"
  [ "$(tail -1 "$W/second.out")" = 2 ]
  run in_proj --json down -f vols.yaml --volumes
  [ "$status" -eq 0 ]; [ "$(jq -r .volumes_removed <<<"$output")" = true ]
  [ ! -e "$(env_dir)/volumes" ]
  nothing_left vols
  rm -rf "$W"/home/state/envs/vols-*
}

@test "down --volumes of an environment that is up stops its services first, then removes their volumes" {
  spec svcvol <<'YAML'
services:
  keeper:
    command: [sh, -c, "echo kept >/v/file; exec sleep 1000"]
    mounts: [{volume: v, target: /v}]
YAML
  in_proj -q up -f svcvol.yaml
  for _ in $(seq 100); do [ -e "$(echo "$W"/home/state/envs/svcvol-*)/volumes/v/file" ] && break; sleep 0.05; done
  run in_proj --json down -f svcvol.yaml --volumes
  [ "$status" -eq 0 ]; [ "$(jq -r .volumes_removed <<<"$output")" = true ]
  nothing_left svcvol
}

# A spec whose image is an archive in the cache (what gc can remove).
packed_spec() {
  local name=$1
  mkdir -p "$W/packs/$name"; cp -a "$W/img/." "$W/packs/$name/"; echo "$name" >"$W/packs/$name/etc/which"
  [ -z "${RUNNER:-}" ] || chown -R "$RUNNER:" "$W/packs"
  as_runner "$W/bin/berth" -q image pack "$W/packs/$name" -o "$W/packs/$name.tar.zst" >/dev/null
  IMG=$W/packs/$name.tar.zst spec "$name"
}

layers_in_cache() { ls "$W/home/cache/layers/sha256" 2>/dev/null | grep -v '^\.' || true; }

@test "run --ephemeral uses the layers the environment's last pull resolved, and writes none of its own" {
  packed_spec ephrec </dev/null
  in_proj -q run -f ephrec.yaml -- true
  record=$(ls "$W"/home/state/envs/ephrec-*/layers)
  [ -n "$record" ]
  refs=$(stat -c '%n %y' "$W/home/cache/refs/"* "$record")
  # a pull of its own would rewrite the cache's refs (and load libcrypto)
  run in_proj -q run --ephemeral -f ephrec.yaml -- cat /etc/which
  [ "$status" -eq 0 ]; [ "$output" = ephrec ]
  [ "$(stat -c '%n %y' "$W/home/cache/refs/"* "$record")" = "$refs" ]
  # without a record it pulls, and still leaves no record behind
  rm -rf "$W"/home/state/envs/ephrec-*
  run in_proj -q run --ephemeral -f ephrec.yaml -- cat /etc/which
  [ "$status" -eq 0 ]; [ "$output" = ephrec ]
  [ -z "$(ls -d "$W"/home/state/envs/ephrec-* 2>/dev/null)" ]
}

@test "image gc keeps the layers of a running dev sandbox and of an environment that is up, whatever the refs say" {
  packed_spec gcrun </dev/null
  rm -rf "$W/home/cache/layers" "$W/home/cache/blobs"
  # a run that ended holds no in-use record, gc or not
  in_proj -q run -f gcrun.yaml -- true
  [ -n "$(layers_in_cache)" ]
  [ -z "$(held_records "$W/home/cache")" ]
  in_proj -q run -f gcrun.yaml -- sh -c 'while [ ! -e /tmp/go ]; do sleep 0.05; done' >/dev/null 2>&1 3>&- &
  holder=$!
  # the layers are cached already: wait for the run to hold its record
  for _ in $(seq 100); do [ -n "$(held_records "$W/home/cache")" ] && break; sleep 0.05; done
  [ -n "$(held_records "$W/home/cache")" ]
  layer=$(layers_in_cache)
  [ -n "$layer" ]
  # the spec is gone: its refs no longer keep anything, but the run does
  mv "$W/proj/gcrun.yaml" "$W/gcrun.yaml"
  berth -q image gc
  [ "$(layers_in_cache)" = "$layer" ]
  kill "$(pgrep -f "^$W/bin/berth -q run -f gcrun.yaml" | head -1)"
  wait "$holder" || true
  for _ in $(seq 50); do berth -q image gc; [ -z "$(layers_in_cache)" ] && break; sleep 0.1; done
  [ -z "$(layers_in_cache)" ]
  # the same for a supervisor that is up
  mv "$W/gcrun.yaml" "$W/proj/gcrun.yaml"
  cat >>"$W/proj/gcrun.yaml" <<'YAML'
services:
  svc:
    command: [sleep, "1000"]
YAML
  in_proj -q up -f gcrun.yaml
  layer=$(layers_in_cache)
  [ -n "$layer" ]
  cp "$W/proj/gcrun.yaml" "$W/gcrun.yaml"; rm "$W/proj/gcrun.yaml"
  berth -q image gc
  [ "$(layers_in_cache)" = "$layer" ]
  cp "$W/gcrun.yaml" "$W/proj/gcrun.yaml"
  in_proj -q down -f gcrun.yaml
  # and the supervisor's, when it went down
  [ -z "$(held_records "$W/home/cache")" ]
  rm "$W/proj/gcrun.yaml"
  berth -q image gc
  [ -z "$(layers_in_cache)" ]
  # gc removed the records of sandboxes that ended
  [ -z "$(ls -A "$W/home/cache/inuse")" ]
}

@test "runs that come and go on the layers a long run holds share its in-use record; gc running meanwhile removes nothing; after kill -9 gc takes it all" {
  packed_spec gcshare </dev/null
  in_proj -q run -f gcshare.yaml -- true
  layer=$(layers_in_cache)
  [ -n "$layer" ]
  in_proj -q run -f gcshare.yaml -- sh -c 'while [ ! -e /tmp/go ]; do sleep 0.05; done' >/dev/null 2>&1 3>&- &
  holder=$!
  for _ in $(seq 100); do [ -n "$(held_records "$W/home/cache")" ] && break; sleep 0.05; done
  [ "$(held_records "$W/home/cache" | wc -l)" = 1 ]
  # only the run keeps the layers now
  mv "$W/proj/gcshare.yaml" "$W/gcshare.yaml"
  cp "$W/gcshare.yaml" "$W/proj/gcshare-short.yaml"
  ( for _ in $(seq 20); do berth -q image gc >/dev/null 2>&1; done ) &
  gc=$!
  for i in $(seq 8); do
    run in_proj -q run -f gcshare-short.yaml -- cat /etc/which
    [ "$status" -eq 0 ]; [ "$output" = gcshare ]
  done
  rm "$W/proj/gcshare-short.yaml"
  wait "$gc"
  berth -q image gc
  [ "$(layers_in_cache)" = "$layer" ]
  # one record for those layers, held by the long run alone
  [ "$(ls "$W/home/cache/inuse" | wc -l)" = 1 ]
  [ "$(held_records "$W/home/cache" | wc -l)" = 1 ]
  # kill -9: the record stays, unheld (its sandbox dies with berth), and gc
  # takes it and the layers
  kill -9 "$(pgrep -f "^$W/bin/berth -q run -f gcshare.yaml" | head -1)"
  wait "$holder" || true
  for _ in $(seq 100); do [ -z "$(held_records "$W/home/cache")" ] && break; sleep 0.05; done
  [ -z "$(held_records "$W/home/cache")" ]
  [ "$(ls "$W/home/cache/inuse" | wc -l)" = 1 ]
  berth -q image gc
  [ -z "$(layers_in_cache)" ]
  [ -z "$(ls -A "$W/home/cache/inuse")" ]
}

@test "a record of other layers under the same name: the run holds one of its own, and removes it when it ends" {
  packed_spec collide </dev/null
  in_proj -q run -f collide.yaml -- true
  layer=$(layers_in_cache | head -1)
  # the shared record's name: FNV-1a (64 bits) of its text, one digest a line
  name=$(python3 -c '
import sys
h = 0xcbf29ce484222325
for b in (sys.argv[1] + "\n").encode():
    h = ((h ^ b) * 0x100000001b3) & 0xffffffffffffffff
print("%016x" % h)' "$layer")
  [ -e "$W/home/cache/inuse/$name" ]
  other=$(printf '%064d' 0)
  echo "$other" >"$W/home/cache/inuse/$name"
  [ -z "${RUNNER:-}" ] || chown "$RUNNER:" "$W/home/cache/inuse/$name"
  in_proj -q run -f collide.yaml -- sh -c 'while [ ! -e /tmp/go ]; do sleep 0.05; done' >/dev/null 2>&1 3>&- &
  holder=$!
  for _ in $(seq 100); do [ -n "$(held_records "$W/home/cache")" ] && break; sleep 0.05; done
  own=$(held_records "$W/home/cache")
  [ -n "$own" ]
  [[ "$(basename "$own")" == *-* ]]
  [ "$(cat "$own")" = "$layer" ]
  [ "$(cat "$W/home/cache/inuse/$name")" = "$other" ]
  kill "$(pgrep -f "^$W/bin/berth -q run -f collide.yaml" | head -1)"
  wait "$holder" || true
  [ ! -e "$own" ]
  [ "$(cat "$W/home/cache/inuse/$name")" = "$other" ]
  rm "$W/proj/collide.yaml"
  berth -q image gc
  [ -z "$(ls -A "$W/home/cache/inuse")" ]
}

@test "kill -9 of a run that brought services up leaves no process, mount or cgroup; of an --ephemeral one, the next ephemeral run removes its folder" {
  spec killrun <<'YAML'
services:
  svc:
    command: [sleep, "1000"]
    resources: {pids: 32}
YAML
  for eph in "" --ephemeral; do
    in_proj -q run $eph -f killrun.yaml -- sleep 1000 3>&- &
    for _ in $(seq 100); do [ -n "$(ls "$W"/home/state/envs/killrun-*/supervisor.pid 2>/dev/null)" ] && break; sleep 0.05; done
    for _ in $(seq 100); do [ -n "$(pgrep -f "^$W/bin/berth -q run $eph ?-f killrun.yaml")" ] && break; sleep 0.05; done
    sleep 0.3
    [ -n "$(env_cgroups killrun)" ] || [ "$(jq -r .env_cgroup "$W/doctor.json")" = none ]
    runpid=$(pgrep -f "^$W/bin/berth -q run $eph ?-f killrun.yaml" | head -1)
    [ -n "$runpid" ]
    kill -9 "$runpid"
    wait || true
    nothing_left killrun
    [ -z "$(env_cgroups killrun)" ]
  done
  # the killed ephemeral run's folder: files only, removed by the next one
  [ -n "$(ls -d "$W"/home/state/envs/killrun-*.run-* 2>/dev/null)" ]
  in_proj -q run --ephemeral -f killrun.yaml -- true
  [ -z "$(ls -d "$W"/home/state/envs/killrun-*.run-* 2>/dev/null)" ]
  in_proj -q down -f killrun.yaml
  rm -rf "$W"/home/state/envs/killrun-*
}

@test "a full cache disk at run time: a clear error, no in-use record left behind; a later run succeeds, and its record lets the next run start on a full disk" {
  packed_spec fullrec </dev/null
  d="$W/small.$BATS_TEST_NUMBER"
  mkdir -p "$d"
  mount -t tmpfs -o size=16m,mode=0755 tmpfs "$d"
  [ -z "${RUNNER:-}" ] || chown "$RUNNER:" "$d"
  in_small() { (cd "$W/proj" && as_runner env BERTH_STATE_DIR="$W/home/state" BERTH_CACHE_DIR="$d/cache" "$W/bin/berth" -q "$@"); }
  in_small pull -f fullrec.yaml
  dd if=/dev/zero of="$d/fill" bs=4k 2>/dev/null || true
  run --separate-stderr in_small run -f fullrec.yaml -- true
  echo "$stderr"
  [ "$status" -eq 125 ]
  [[ "$stderr" == *"No space left on device"* ]]
  [ -z "$(ls -A "$d/cache/inuse" 2>/dev/null)" ]   # not even a half-written one
  rm "$d/fill"
  run in_small run -f fullrec.yaml -- cat /etc/which
  [ "$status" -eq 0 ]; [ "$output" = fullrec ]
  [ -z "$(held_records "$d/cache")" ]
  [ "$(ls -A "$d/cache/inuse" | grep -c '^\.')" = 0 ]
  # the next run finds the record in place: it runs with the disk full again
  dd if=/dev/zero of="$d/fill" bs=4k 2>/dev/null || true
  run in_small run -f fullrec.yaml -- cat /etc/which
  [ "$status" -eq 0 ]; [ "$output" = fullrec ]
  rm "$d/fill"
  umount "$d"
}
