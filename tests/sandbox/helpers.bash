# Shared setup for the sandbox bats tests. The binaries and a busybox root
# are copied into a world-readable temp folder so an unprivileged user the
# tests create can run them too (BERTH_TEST_AS_USER=1).

# fail_or_skip: skip, or fail under BERTH_TEST_MUST_WORK=1
source "$(dirname "${BASH_SOURCE[0]}")/../lib.bash"

# need FEATURE: skip unless `berth doctor` says the host has it.
need() {
  local key=$1 want=${2:-true}
  grep -q "\"$key\":$want" "$W/doctor.json" || fail_or_skip "berth doctor: $key is not $want"
}

limit_mech() {
  python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["limits"][sys.argv[2]])' "$W/doctor.json" "$1"
}

as_runner() {
  if [ -n "${RUNNER:-}" ]; then
    runuser -u "$RUNNER" -- env -i PATH=/usr/bin:/bin HOME="$W/home" TERM="${TERM:-dumb}" "$@"
  else
    env -i PATH=/usr/bin:/bin HOME="$W/home" TERM="${TERM:-dumb}" BERTH_SECRET=host-only "$@"
  fi
}

sb() {
  as_runner "$W/bin/sandbox-driver" --root "$W/root" --cache "$W/home/cache" "$@"
}

make_root() {
  local r=$1
  mkdir -p "$r"/{bin,proc,dev,tmp,etc,sys,work,ro,scratch}
  cp /bin/busybox "$r/bin/busybox"
  for a in sh ls cat id echo true false sleep ps hostname env wc stat dd df mkdir rm touch grep tty stty; do
    ln -s busybox "$r/bin/$a"
  done
  cp "$PROBE" "$r/bin/probe"
  touch "$r/etc/hosts" "$r/etc/hostname" "$r/etc/resolv.conf"
  printf 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1001::/:/bin/sh\n' >"$r/etc/passwd"
  printf 'root:x:0:\nstaff:x:1002:\n' >"$r/etc/group"
  chmod -R a+rX "$r"
}

sandbox_setup_file() {
  W=$(mktemp -d /tmp/berth-sandbox-test.XXXXXX)
  chmod 755 "$W"
  export W
  mkdir -p "$W/bin" "$W/home"
  cp "$DRIVER" "$BERTH" "$W/bin/"
  # the static berth runs what needs libcurl, libarchive or libcrypto with it
  if [ -x "$(dirname "$BERTH")/berth-dynamic" ]; then cp "$(dirname "$BERTH")/berth-dynamic" "$W/bin/"; fi
  make_root "$W/root"
  if [ "${BERTH_TEST_AS_USER:-0}" = 1 ]; then
    if [ "$(id -u)" != 0 ]; then
      echo "# not root: cannot create a test user" >&3
      export RUNNER=""
      export SKIP_ALL=1
      return 0
    fi
    RUNNER="berthsb$$"
    useradd -M -d "$W/home" -s /bin/sh "$RUNNER"
    echo "$RUNNER" >"$W/created-user"
    chown "$RUNNER:" "$W/home"
    export RUNNER
  else
    export RUNNER=""
  fi
  as_runner "$W/bin/berth" doctor --json >"$W/doctor.json" || true
}

sandbox_teardown_file() {
  [ -n "${W:-}" ] || return 0
  # Roots kept mounted by runs as root (berth down releases them), and
  # whatever a failed test left mounted.
  local m
  awk -v w="$W/" 'index($5, w) == 1 { print $5 }' /proc/self/mountinfo | sort -r | while read -r m; do
    umount -l "$m" || true
  done
  if [ -f "$W/created-user" ]; then
    userdel "$(cat "$W/created-user")" 2>/dev/null || true
  fi
  rm -rf "$W"
}

runner_uid() {
  if [ -n "${RUNNER:-}" ]; then id -u "$RUNNER"; else echo 0; fi
}
