# Shared by the tests of environments (load after ../sandbox/helpers): a
# project folder and a busybox image, berth run as the test's runner with a
# state and cache of its own, and `down` of whatever a failed test left up.

# envs_setup_file [APPLET...]: $W/proj, and $W/img (busybox with APPLETs).
envs_setup_file() {
  sandbox_setup_file
  mkdir -p "$W/proj" "$W/img"
  cp -a "$W/root/." "$W/img/"
  local a
  for a in "$@"; do ln -sf busybox "$W/img/bin/$a"; done
  chmod -R a+rX "$W/img"
  if [ -n "${RUNNER:-}" ]; then chown -R "$RUNNER:" "$W/proj"; fi
}

envs_teardown_file() {
  local f
  for f in "$W"/proj/*.yaml; do in_proj -q down -f "$(basename "$f")" >/dev/null 2>&1 || true; done
  sandbox_teardown_file
}

envs_setup() {
  [ "${SKIP_ALL:-0}" = 1 ] && fail_or_skip "needs root to create the test user"
  need user_namespaces
  need overlay
}

# berth [-q] ARGS: as the runner; the knobs a test sets pass through.
berth() {
  local q=
  if [ "${1:-}" = -q ]; then q=-q; shift; fi
  as_runner env BERTH_STATE_DIR="$W/home/state" BERTH_CACHE_DIR="$W/home/cache" BERTH_UP_TIMEOUT="${BERTH_UP_TIMEOUT:-60}" \
    ${BERTH_CGROUP2_ROOT:+BERTH_CGROUP2_ROOT=$BERTH_CGROUP2_ROOT} ${BERTH_LOG_MAX:+BERTH_LOG_MAX=$BERTH_LOG_MAX} \
    ${BERTH_PASTA+"BERTH_PASTA=$BERTH_PASTA"} "$W/bin/berth" $q "$@"
}

in_proj() { (cd "$W/proj" && berth "$@"); }

# spec NAME: $W/proj/NAME.yaml for environment NAME on $IMG (default the
# busybox image), network none, the rest from stdin. (net.bats, real.bats
# and specs/verify-services.bats write their own.)
spec() {
  { printf 'berth: 1\nname: %s\nimage:\n  - url: %s\nnetwork: none\n' "$1" "${IMG:-$W/img}"; cat; } >"$W/proj/$1.yaml"
  chmod 644 "$W/proj/$1.yaml"
}

# state_of SPEC SERVICE: the service's state in `ps --json`.
state_of() { in_proj --json ps -f "$1.yaml" | jq -r ".services[] | select(.name == \"$2\") | .state"; }

# PID is gone: no such process, or a zombie its parent (pid 1 here) has
# not reaped yet.
gone() { [ ! -d "/proc/$1" ] || [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" = Z ]; }

# The cache's in-use records (DIR/inuse) that a live sandbox or supervisor
# holds: those gc cannot lock. Records nobody holds may stay until gc.
held_records() {
  local f
  for f in "$1"/inuse/* "$1"/inuse/.[!.]*; do
    [ -e "$f" ] || continue
    flock -n -x "$f" true || echo "$f"
  done
}
