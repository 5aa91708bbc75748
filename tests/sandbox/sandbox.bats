#!/usr/bin/env bats
# The sandbox's promises, seen from inside by tests/sandbox/probe.c.
# Runs as root, and again (BERTH_TEST_AS_USER=1) as a user it creates.

bats_require_minimum_version 1.5.0
load helpers

setup_file() { sandbox_setup_file; }
teardown_file() { sandbox_teardown_file; }

setup() {
  [ "${SKIP_ALL:-0}" = 1 ] && fail_or_skip "needs root to create the test user"
  need user_namespaces
}

@test "it sees only its own pids" {
  run sb -- probe pids
  [ "$status" -eq 0 ]
  [[ "$output" == *"pids: 2"* ]]
  [[ "$output" == *"pid: 1"* ]]
}

@test "it sees only its own mounts" {
  mkdir -p "$W/mnt-src" && chmod 755 "$W/mnt-src"
  run sb --bind "$W/mnt-src:/work" --tmpfs /scratch:1048576 -- cat /proc/self/mountinfo
  echo "$output"
  [ "$status" -eq 0 ]
  inside=$(awk '{ print $5 }' <<<"$output")
  # each mount point is one the sandbox made: its root, /proc and its masks,
  # /sys and its cgroup view, /dev, /tmp, the generated /etc files, and the two asked for
  bad=$(grep -Ev '^(/|/proc(/.*)?|/sys(/.*)?|/dev(/.*)?|/tmp|/etc/(hosts|hostname|resolv\.conf)|/work|/scratch)$' <<<"$inside" || true)
  [ -z "$bad" ]
  [ "$(grep -cx / <<<"$inside")" -eq 1 ]
  grep -qx /work <<<"$inside"
  grep -qx /scratch <<<"$inside"
  # and none of the host's own (its cgroups, /boot, the folders tests run in ...)
  for m in $(awk '{ print $5 }' /proc/self/mountinfo | sort -u); do
    case "$m" in /|/proc|/sys|/sys/*|/dev|/dev/*|/tmp|/work|/scratch) continue ;; esac
    if grep -qx "$m" <<<"$inside"; then echo "host mount $m is seen inside"; return 1; fi
  done
}

@test "mount and keyctl are refused; a new user namespace is not (see the nested sandbox test)" {
  run sb -- sh -c 'probe mount; probe unshare; probe keyctl'
  [ "$status" -eq 0 ]
  [[ "$output" == *"mount: EPERM"* ]]
  [[ "$output" == *"unshare-user: ok"* ]]
  [[ "$output" == *"keyctl: EPERM"* ]]
  [[ "$output" == *"add_key: EPERM"* ]]
}

@test "TIOCSTI is refused by the filter, high bits or not; other ioctls pass" {
  run sb -- sh -c 'probe tiocsti </dev/null'
  [[ "$output" == *"tiocsti: EPERM"* ]]
  [[ "$output" == *"tiocsti-high: EPERM"* ]]
  [[ "$output" == *"tcgets: ENOTTY"* ]]
  # without the filter the same ioctl reaches the kernel, which says ENOTTY
  run sb --seccomp unconfined -- sh -c 'probe tiocsti </dev/null'
  [[ "$output" == *"tiocsti: ENOTTY"* ]]
}

@test "blocked calls fail with EPERM, unknown ones with ENOSYS" {
  run sb -- probe syscall 246 # kexec_load
  [[ "$output" == *"syscall: EPERM"* ]]
  run sb -- probe syscall 321 # bpf
  [[ "$output" == *"syscall: EPERM"* ]]
  run sb -- probe syscall 999
  [[ "$output" == *"syscall: ENOSYS"* ]]
}

@test "no fd beyond 0-2 reaches the command" {
  run sb -- probe fds 3</etc/hostname 7</etc/hostname
  [ "$status" -eq 0 ]
  [ "$(echo "$output" | grep -c '^fd:')" -eq 3 ]
  [[ "$output" != *"fd: 3"* ]]
}

@test "the environment is the given env plus TERM, nothing from the host" {
  run env BERTH_SECRET=host-only "$W/bin/sandbox-driver" --root "$W/root" --env FOO=bar -- probe env
  [ "$status" -eq 0 ]
  [[ "$output" == *"env: FOO=bar"* ]]
  [[ "$output" != *"BERTH_SECRET"* ]]
  [[ "$output" != *"HOME="* ]]
}

@test "capabilities are cut, no_new_privs is set, seccomp mode 2" {
  run sb -- probe status
  [ "$status" -eq 0 ]
  [[ "$output" == *"CapInh:	0000000000000000"* ]]
  [[ "$output" == *"CapAmb:	0000000000000000"* ]]
  [[ "$output" == *"CapEff:	00000000800005fb"* ]]
  [[ "$output" == *"CapBnd:	00000000800005fb"* ]]
  [[ "$output" == *"NoNewPrivs:	1"* ]]
  [[ "$output" == *"Seccomp:	2"* ]]
  run sb --cap-drop ALL --cap-add NET_BIND_SERVICE -- probe status
  [[ "$output" == *"CapEff:	0000000000000400"* ]]
  run sb --seccomp unconfined -- probe status
  [[ "$output" == *"Seccomp:	0"* ]]
  [[ "$output" == *"NoNewPrivs:	1"* ]]
}

@test "a non-root user inside has no capabilities" {
  need subordinate_ids
  run sb --user 1000:1000 -- probe status
  [ "$status" -eq 0 ]
  [[ "$output" == *"Uid:	1000"* ]]
  [[ "$output" == *"CapEff:	0000000000000000"* ]]
  # names come from the image's own /etc/passwd and /etc/group
  run sb --user app -- probe status
  [[ "$output" == *"Uid:	1000	1000"* ]]
  [[ "$output" == *"Gid:	1001	1001"* ]]
  run sb --user app:staff -- probe status
  [[ "$output" == *"Gid:	1002	1002"* ]]
  run sb --user nosuch -- true
  [ "$status" -eq 125 ]
  [[ "$output" == *"user \`nosuch\`: not in the image's /etc/passwd"* ]]
}

start_listener() {
  port_file="$W/port.$BATS_TEST_NUMBER"
  python3 -c '
import socket, sys
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(5)
open(sys.argv[1], "w").write(str(s.getsockname()[1]))
s.settimeout(30)
try:
    while True: s.accept()[0].close()
except Exception: pass
' "$port_file" &
  listener=$!
  for _ in $(seq 100); do [ -s "$port_file" ] && break; sleep 0.05; done
  port=$(cat "$port_file")
}

@test "host loopback is unreachable with network none and private, reachable with host" {
  start_listener
  run sb --net none -- probe connect 127.0.0.1 "$port"
  [[ "$output" == *"connect: ECONNREFUSED"* ]]
  run sb --net private -- probe connect 127.0.0.1 "$port"
  [[ "$output" == *"connect: ECONNREFUSED"* ]]
  run sb --net host -- probe connect 127.0.0.1 "$port"
  kill "$listener"; wait "$listener" 2>/dev/null || true
  [[ "$output" == *"connect: ok"* ]]
}

@test "a memory hog is stopped at the limit inside the sandbox" {
  mech=$(limit_mech memory)
  # rootless without a cgroup, nothing enforces memory (see the next test)
  [ "$mech" != none ] || [ -n "$RUNNER" ] || fail_or_skip "no mechanism for memory"
  if [ "$mech" = none ]; then
    # nothing enforces it for this user here: the hog lives, as doctor says
    run sb --memory $((64 << 20)) -- probe hog 128
    [[ "$output" == *"survived 128 MiB"* ]]
    return 0
  fi
  run sb --memory $((64 << 20)) -- probe hog 512
  echo "mechanism $mech, status $status: $output"
  [ "$status" -eq 137 ]
  [[ "$output" != *"survived"* ]]
  [[ "$output" =~ "oom_kills "[1-9] ]] # the cgroup's OOM events say so
  run sb -- probe hog 128
  [[ "$output" == *"survived 128 MiB"* ]]
}

@test "a memory limit never caps address space: large reservations work, with a cgroup or without" {
  run sb --memory $((64 << 20)) -- sh -c 'ulimit -v; probe reserve 16384'
  echo "$output"
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = unlimited ]
  [[ "$output" == *"reserve: ok"* ]]
  if [ -n "$RUNNER" ] && [ "$(limit_mech memory)" = none ]; then
    run as_runner "$W/bin/berth" doctor
    [[ "$output" == *"limit memory      none: not enforced"* ]]
  fi
}

@test "a fork bomb stops at the pids limit" {
  mech=$(limit_mech pids)
  [ "$mech" != none ] || fail_or_skip "no mechanism for pids"
  run sb --pids 32 -- probe forkbomb 500
  echo "$output"
  n=$(echo "$output" | sed -n 's/^forked: \([0-9]*\).*/\1/p')
  # it did fork, up to the limit and no further
  [ -n "$n" ]
  [ "$n" -gt 8 ]
  [ "$n" -lt 32 ]
  if [[ "$mech" == cgroup* ]]; then [[ "$output" =~ "pids_max "[1-9] ]]; fi
  # none of the bomb is left to count against the next sandbox
  run sb --pids 32 -- probe forkbomb 8
  [[ "$output" == *"forked: 8"* ]]
}

# The folders berth's cgroups live in, as `berth doctor` says the memory
# limit is enforced: none where it is an rlimit.
berth_cgroup_dirs() {
  case "$(limit_mech memory)" in
    "cgroup v1") echo /sys/fs/cgroup/memory/berth /sys/fs/cgroup/pids/berth /sys/fs/cgroup/cpu/berth ;;
    "cgroup v2") echo "$(jq -r .cgroup2_dir "$W/doctor.json")/berth" ;;
  esac
}

@test "berth's cgroups hold the sandbox while it runs and are removed afterwards" {
  [ -n "$RUNNER" ] || [ "$(limit_mech memory)" != rlimit ] || fail_or_skip "root without cgroups for memory"
  dirs=$(berth_cgroup_dirs)
  marker="held-$$-$BATS_TEST_NUMBER"
  sb --memory $((64 << 20)) --pids 64 --millicpus 500 -- sh -c "sleep 2; : $marker" &
  pid=$!
  want=$(wc -w <<<"$dirs") held=()
  # seen from the host (inside, a cgroup namespace hides it), while it runs:
  # the folders whose processes carry this test's marker (other sandboxes
  # may run beside it)
  while kill -0 "$pid" 2>/dev/null && [ "${#held[@]}" -lt "$want" ]; do
    held=()
    for d in $dirs; do
      for f in "$d"/sandbox-*/cgroup.procs; do
        for p in $(cat "$f" 2>/dev/null); do
          if tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -q "$marker"; then held+=("${f%/cgroup.procs}"); break; fi
        done
      done
    done
    sleep 0.05
  done
  wait "$pid"
  echo "cgroup folders: ${dirs:-none (rlimits)}; holding the sandbox: ${held[*]}"
  [ "${#held[@]}" -eq "$want" ]
  [ -n "$RUNNER" ] || [ "$want" -gt 0 ]
  for d in $dirs; do [ -d "$d" ]; done
  for h in "${held[@]}"; do [ ! -e "$h" ]; done
}

@test "nofile is enforced" {
  run sb --nofile 64 -- sh -c 'ulimit -n'
  [ "$output" = 64 ]
}

@test "files written into the project folder belong to the developer" {
  mkdir -p "$W/proj"
  if [ -n "$RUNNER" ]; then owner=$(id -u "$RUNNER"); else owner=1234; need idmapped_mounts; fi
  chown "$owner:$owner" "$W/proj"
  run sb --own-bind "$W/proj:/work" -- probe write /work/out
  [ "$status" -eq 0 ]
  [ "$(stat -c %u:%g "$W/proj/out")" = "$owner:$owner" ]
}

@test "exit statuses: the command's own, 127 not found, 126 not executable, 125 berth failed" {
  run sb -- probe exit 7
  [ "$status" -eq 7 ]
  run -127 sb -- /no/such/command
  run sb -- /etc/hosts
  [ "$status" -eq 126 ]
  run sb --cwd /no/such/dir -- true
  [ "$status" -eq 125 ]
  [[ "$output" == *"working directory"* ]]
  run sb -- sh -c 'kill -KILL $$'
  [ "$status" -eq 137 ]
}

@test "SIGTERM and SIGINT reach the command" {
  for sig in TERM INT; do
    out="$W/sig.$sig"
    "$W/bin/sandbox-driver" --root "$W/root" -- probe signals >"$out" 2>&1 &
    pid=$!
    for _ in $(seq 100); do grep -q ready "$out" && break; sleep 0.05; done
    kill -s "$sig" "$pid"
    st=0; wait "$pid" || st=$?
    grep -q "got: $sig" "$out"
    [ "$st" -eq $((40 + $(kill -l "$sig"))) ]
  done
}

@test "nothing survives kill -9 of berth" {
  marker=$((RANDOM + 100000))
  "$W/bin/sandbox-driver" --root "$W/root" -- sh -c "sleep $marker & sleep $marker; :" &
  pid=$!
  for _ in $(seq 100); do grep -qs "slee[p].$marker" /proc/[0-9]*/cmdline && break; sleep 0.05; done
  grep -qs "slee[p].$marker" /proc/[0-9]*/cmdline
  kill -9 "$pid"
  wait "$pid" || true
  for _ in $(seq 100); do grep -qs "slee[p].$marker" /proc/[0-9]*/cmdline || break; sleep 0.05; done
  ! grep -qs "slee[p].$marker" /proc/[0-9]*/cmdline
}

@test "pid 1 is closed to the sandbox, CAP_SYS_PTRACE or not (it holds berth's environment)" {
  run as_runner env BERTH_PID1_SECRET=host-only-pid1 "$W/bin/sandbox-driver" --root "$W/root" \
    --cache "$W/home/cache" --cap-add SYS_PTRACE -- probe pid1
  echo "$output"
  [[ "$output" == *"environ: EACCES"* ]]
  [[ "$output" == *"fd-dir: EACCES"* ]]
  [[ "$output" == *"ptrace-seize: EPERM"* ]]
  [[ "$output" != *"host-only-pid1"* ]]
}

@test "/proc masks and read-only paths, minimal /dev, generated /etc files" {
  run sb --hostname devbox -- sh -c 'wc -c </proc/timer_list; echo x >/proc/sys/kernel/hostname && echo wrote; ls -a /dev; hostname; cat /etc/hosts; echo x >>/etc/hosts && echo wrote-etc'
  echo "$output"
  [ "${lines[0]}" = 0 ]
  [[ "$output" != *wrote* ]]
  # the /etc files are staged in /dev and unlinked there once bound
  [[ "$output" != *".berth-"* ]]
  for d in null zero full random urandom tty ptmx pts shm; do [[ "$output" == *"$d"* ]]; done
  [[ "$output" != *"sda"* && "$output" != *"vda"* ]]
  [[ "$output" == *"devbox"* ]]
  [[ "$output" == *"127.0.0.1	localhost devbox"* ]]
}

@test "an image whose /etc points outside gets no /etc files, writes nothing there, and leaves nothing in /dev" {
  r="$W/etclink.$BATS_TEST_NUMBER" out="$W/outside.$BATS_TEST_NUMBER"
  cp -a "$W/root" "$r"
  mkdir -p "$out" && chmod 777 "$out"
  rm -rf "$r/etc" && ln -s "$out" "$r/etc"
  run as_runner "$W/bin/sandbox-driver" --root "$r" --cache "$W/home/cache" -- sh -c 'ls -a /dev; echo done'
  echo "$output"
  [ "$status" -eq 0 ]
  [[ "$output" == *done* && "$output" != *".berth-"* ]]
  [ -z "$(ls -A "$out")" ]
}

@test "tmpfs with a size, read-only binds" {
  mkdir -p "$W/robind" && chmod 755 "$W/robind"
  run sb --tmpfs /scratch:1048576 --bind "$W/robind:/ro:ro" -- sh -c 'dd if=/dev/zero of=/scratch/f bs=1k count=2048 2>&1; touch /ro/x && echo wrote-ro'
  echo "$output"
  [[ "$output" == *"No space left"* ]]
  [[ "$output" != *"wrote-ro"* ]]
}

@test "piped stdin and stdout work without a tty" {
  run bash -c "echo hello-pipe | '$W/bin/sandbox-driver' --root '$W/root' -- cat"
  [ "$output" = hello-pipe ]
}

@test "a pty follows the caller's terminal" {
  command -v script >/dev/null || fail_or_skip "no script(1)"
  run script -qec "stty cols 91 rows 33; $W/bin/sandbox-driver --root $W/root --tty -- sh -c 'tty; stty size; exit 4'" /dev/null
  echo "$output"
  [[ "$output" == *"/dev/pts/0"* ]]
  [[ "$output" == *"33 91"* ]]
  [ "$status" -eq 4 ]
}

@test "the seccomp program is compiled once and cached" {
  rm -rf "$W/home/cache"
  sb -- true
  f=$(ls "$W/home/cache/seccomp/"*.bpf)
  before=$(stat -c %Y.%i "$f")
  sleep 1.1
  sb -- true
  [ "$(stat -c %Y.%i "$f")" = "$before" ]
}

@test "Docker's default profile (and podman's, when installed) can be loaded instead" {
  profiles="$SECCOMP_DIR/docker-default.json"
  [ -r /usr/share/containers/seccomp.json ] && profiles="$profiles /usr/share/containers/seccomp.json"
  for p in $profiles; do
    prof="$W/$(basename "$p")"
    cp "$p" "$prof"; chmod 644 "$prof"
    run sb --seccomp "$prof" -- sh -c 'probe status; probe keyctl; probe mount; probe tiocsti </dev/null'
    echo "$p: $output"
    [ "$status" -eq 0 ]
    [[ "$output" == *"Seccomp:	2"* ]]
    [[ "$output" == *"mount: EPERM"* ]]
    [[ "$output" == *"tiocsti: EPERM"* ]]
    # podman's profile allows keyctl (it allows more by default); Docker's does not
    case "$p" in *docker-default.json) [[ "$output" == *"keyctl: EPERM"* ]] ;; esac
  done
}

@test "the image's files belong to the sandbox's root (idmapped as root)" {
  root="$W/root"
  if [ -n "$RUNNER" ]; then
    # rootless, layers are unpacked by the user and belong to them
    root="$W/userroot.$BATS_TEST_NUMBER"; cp -a "$W/root" "$root"; chown -R "$RUNNER:" "$root"
  fi
  run as_runner "$W/bin/sandbox-driver" --root "$root" -- sh -c 'stat -c %u:%g /etc/passwd /bin'
  [ "$output" = "0:0
0:0" ]
}

@test "an overlay root keeps writes in the upper dir and hides deletions" {
  need overlay
  st="$W/ovl.$BATS_TEST_NUMBER"; mkdir -p "$st"/{upper,work,mnt}
  lower="$W/root"
  if [ -z "$RUNNER" ]; then
    chown -R 1879048192:1879048192 "$st"
  else
    # rootless, layers are unpacked by the user and belong to them
    lower="$W/userroot"; cp -a "$W/root" "$lower"; chown -R "$RUNNER:" "$st" "$lower"
  fi
  run as_runner "$W/bin/sandbox-driver" --lower "$lower" --upper "$st/upper" --work "$st/work" --mnt "$st/mnt" \
    -- sh -c 'stat -c %u:%g /bin /etc/passwd; echo new >/etc/new && rm /bin/ps && ls /bin/ps'
  echo "$output"
  [ "$status" -ne 0 ]
  [ "${lines[0]}" = 0:0 ] # the image belongs to the sandbox's root
  [ "${lines[1]}" = 0:0 ]
  [ "$(cat "$st/upper/etc/new")" = new ]
  [ -c "$st/upper/bin/ps" ] # a whiteout
  [ -L "$lower/bin/ps" ]
  [ ! -e "$lower/etc/new" ]
}

@test "as root, idmapped layers reach overlay as fds (Linux 6.13+) or stacked on a mountpoint; rootless, user-owned layers" {
  need overlay
  # A layer that lost its idmapping would show the image as nobody's (65534).
  lower="$W/root"
  if [ -n "$RUNNER" ]; then
    lower="$W/userroot.$BATS_TEST_NUMBER"; cp -a "$W/root" "$lower"; chown -R "$RUNNER:" "$lower"
  fi
  for how in "" mountpoint; do
    st="$W/ovl.$BATS_TEST_NUMBER.$how"; mkdir -p "$st"/{upper,work,mnt}
    if [ -z "$RUNNER" ]; then chown -R 1879048192:1879048192 "$st"; else chown -R "$RUNNER:" "$st"; fi
    run as_runner env BERTH_OVERLAY_LAYERS="$how" "$W/bin/sandbox-driver" --lower "$lower" \
      --upper "$st/upper" --work "$st/work" --mnt "$st/mnt" -- stat -c %u:%g /bin /etc/passwd
    echo "${how:-fds}: $output"
    [ "$status" -eq 0 ]
    [ "$output" = "0:0
0:0" ]
  done
}

@test "layers stack: whiteouts (char 0:0) and opaque folders (user.overlay.opaque) from images/" {
  need overlay
  st="$W/layers.$BATS_TEST_NUMBER"; mkdir -p "$st"/{l2/op,l2/bin,upper,work,mnt}
  cp -a "$W/root" "$st/l1"; mkdir -p "$st/l1/op"; echo a >"$st/l1/op/a"; echo b >"$st/l2/op/b"
  mknod "$st/l2/bin/ps" c 0 0
  python3 -c 'import os,sys; os.setxattr(sys.argv[1], "user.overlay.opaque", b"y")' "$st/l2/op"
  chmod -R a+rX "$st"
  if [ -z "$RUNNER" ]; then chown 1879048192:1879048192 "$st"/{upper,work}; else chown -R "$RUNNER:" "$st"; fi
  run as_runner "$W/bin/sandbox-driver" --lower "$st/l1" --lower "$st/l2" --upper "$st/upper" --work "$st/work" \
    --mnt "$st/mnt" -- sh -c 'ls /op; ls /bin/ps 2>&1; ls /bin/sh'
  echo "$output"
  [[ "$output" == *b* ]]
  [[ "$output" != *"
a"* && "${lines[0]}" = b ]]
  [[ "$output" == *"/bin/ps: No such file"* ]]
  [[ "$output" == *"/bin/sh"* ]]
}

install_probe32() {
  if [ -z "${PROBE32:-}" ] || [ ! -x "$PROBE32" ]; then
    fail_or_skip "no 32-bit probe: the C compiler cannot build -m32 -static programs (gcc-multilib)"
    return 1
  fi
  cp "$PROBE32" "$W/root/bin/probe32"
  chmod 755 "$W/root/bin/probe32"
}

@test "a 32-bit x86 program runs under the default filter and under Docker's profile, under the same rules" {
  install_probe32
  prof="$W/docker-default.json.$BATS_TEST_NUMBER"
  cp "$SECCOMP_DIR/docker-default.json" "$prof"; chmod 644 "$prof"
  for how in default "$prof"; do
    run sb --seccomp "$how" -- sh -c 'probe32 sockets; probe32 status; probe32 keyctl; probe32 mount; probe32 syscall 283 # kexec_load'
    echo "$how: $output"
    [ "$status" -eq 0 ]
    [[ "$output" == *"abi: 32"* ]]
    [[ "$output" == *"Seccomp:	2"* ]]
    [[ "$output" == *"socket-inet: ok"* ]]
    [[ "$output" == *"socket-vsock: EPERM"* ]]
    [[ "$output" == *"socket-alg: EPERM"* ]]
    [[ "$output" == *"keyctl: EPERM"* ]]
    [[ "$output" == *"mount: EPERM"* ]]
    [[ "$output" == *"syscall: EPERM"* ]]
  done
}

@test "TIOCSTI and TIOCLINUX are refused to a 32-bit program too, under the default filter and Docker's profile" {
  install_probe32
  prof="$W/docker-default.json.$BATS_TEST_NUMBER"
  cp "$SECCOMP_DIR/docker-default.json" "$prof"; chmod 644 "$prof"
  for how in default "$prof"; do
    run sb --seccomp "$how" -- sh -c 'probe32 tiocsti </dev/null'
    echo "$how: $output"
    [[ "$output" == *"tiocsti: EPERM"* ]]
    [[ "$output" == *"tioclinux: EPERM"* ]]
    [[ "$output" == *"tcgets: ENOTTY"* ]]
  done
  # without the filter the same ioctl reaches the kernel, which says ENOTTY
  run sb --seccomp unconfined -- sh -c 'probe32 tiocsti </dev/null'
  [[ "$output" == *"tiocsti: ENOTTY"* ]]
}

@test "a nested sandbox: user, mount and uts namespaces of its own, while the sandbox's masks, read-only paths and filter hold" {
  run sb -- probe nest
  echo "$output"
  [ "$status" -eq 0 ]
  for ok in unshare hostname mount pivot detach; do [[ "$output" == *"nest-$ok: ok"* ]]; done
  [[ "$output" == *"nest-umount-mask: EINVAL"* ]] # locked with the mount namespace it was copied from
  [[ "$output" == *"nest-remount-ro: EPERM"* ]]
  [[ "$output" == *"nest-keyctl: EPERM"* ]]
  # a real program: util-linux's unshare as busybox has it, and mount
  run sb -- busybox unshare -Urm busybox sh -c 'busybox mount -t tmpfs none /tmp && echo mounted; wc -c </proc/timer_list'
  echo "$output"
  [[ "$output" == *mounted* ]]
  [[ "$output" == *"
0" ]]
  # in the sandbox's own namespaces the same mount is refused
  run sb -- busybox mount -t tmpfs none /tmp
  [ "$status" -ne 0 ]
}

@test "io_uring fails with ENOSYS, as if the kernel had none; NUMA policy calls pass" {
  run sb -- probe features
  echo "$output"
  [[ "$output" == *"io_uring_setup: ENOSYS"* ]]
  [[ "$output" == *"get_mempolicy: ok"* ]]
  [[ "$output" == *"set_mempolicy: ok"* ]]
}

# `--user app` looked up in the image, with openat2 and again where a seccomp
# filter makes it fail with ENOSYS (the fallback walk): it must fail at once
# (timeout: a hang fails) with the expected error, never reading the host's
# file (uid 4242). ARGS: expected error, then the driver's root arguments.
lookup_fails() {
  local want=$1 wrap
  shift
  cp "$NO_OPENAT2" "$W/bin/no-openat2"
  for wrap in "" "$W/bin/no-openat2"; do
    if [ -n "$RUNNER" ]; then
      run timeout 10 $wrap runuser -u "$RUNNER" -- env -i PATH=/usr/bin:/bin HOME="$W/home" \
        "$W/bin/sandbox-driver" "$@" --user app -- id -u
    else
      run timeout 10 $wrap env -i PATH=/usr/bin:/bin HOME="$W/home" "$W/bin/sandbox-driver" "$@" --user app -- id -u
    fi
    echo "${wrap:-openat2}: $status: $output"
    [ "$status" -eq 125 ]
    [[ "$output" == *"driver: user \`app\`: $want"* ]]
    [[ "$output" != *4242* ]]
  done
}

@test "user by name: a FIFO, a device, a symlink out of the root at /etc/passwd fail at once" {
  r="$W/pw.$BATS_TEST_NUMBER"
  cp -a "$W/root" "$r"
  printf 'app:x:4242:4242::/:/bin/sh\n' >"$W/hostpw"; chmod 644 "$W/hostpw"
  rm "$r/etc/passwd"; mkfifo "$r/etc/passwd"
  lookup_fails '`/etc/passwd` is a fifo, not a regular file' --root "$r"
  # the image's own /dev: empty, then holding a device (berth's /dev is mounted later)
  rm "$r/etc/passwd"; ln -s /dev/zero "$r/etc/passwd"
  lookup_fails "not in the image's /etc/passwd" --root "$r"
  mknod "$r/dev/zero" c 1 5
  lookup_fails '`/etc/passwd` is a character device, not a regular file' --root "$r"
  # out of the root by .. and by an absolute path: both resolve inside it
  ln -sfn "../../../../../../../..$W/hostpw" "$r/etc/passwd"
  lookup_fails "not in the image's /etc/passwd" --root "$r"
  ln -sfn "$W/hostpw" "$r/etc/passwd"
  lookup_fails "not in the image's /etc/passwd" --root "$r"
  # a symlink that stays inside is followed, as in the sandbox
  grep -q '"subordinate_ids":true' "$W/doctor.json" || return 0
  mv "$r/etc/passwd" "$r/etc/passwd.link"; cp "$W/root/etc/passwd" "$r/etc/passwd.real"
  ln -sfn passwd.real "$r/etc/passwd"
  run as_runner "$W/bin/sandbox-driver" --root "$r" --user app -- id -u
  [ "$output" = 1000 ]
}

@test "user by name through layers: a whited-out /etc/passwd hides the lower one, as does one the sandbox deleted" {
  need overlay
  st="$W/pwl.$BATS_TEST_NUMBER"; mkdir -p "$st"/{l2/etc,upper,work,mnt}
  cp -a "$W/root" "$st/l1"
  mknod "$st/l2/etc/passwd" c 0 0
  chmod -R a+rX "$st"
  if [ -z "$RUNNER" ]; then chown 1879048192:1879048192 "$st"/{upper,work}; else chown -R "$RUNNER:" "$st"; fi
  lookup_fails "not in the image's /etc/passwd" --lower "$st/l1" --lower "$st/l2" \
    --upper "$st/upper" --work "$st/work" --mnt "$st/mnt"
  # the sandbox deletes /etc/passwd in its writable layer, then makes a FIFO there
  ovl=(--lower "$st/l1" --upper "$st/upper" --work "$st/work" --mnt "$st/mnt")
  run as_runner "$W/bin/sandbox-driver" "${ovl[@]}" -- rm /etc/passwd
  [ "$status" -eq 0 ]
  [ -c "$st/upper/etc/passwd" ]
  lookup_fails "not in the image's /etc/passwd" "${ovl[@]}"
  run as_runner "$W/bin/sandbox-driver" "${ovl[@]}" -- busybox mkfifo /etc/passwd
  [ "$status" -eq 0 ]
  [ -p "$st/upper/etc/passwd" ]
  lookup_fails '`/etc/passwd` is a fifo, not a regular file' "${ovl[@]}"
}

@test "pid 1 shows only the name berth-init: no host path, argument or environment" {
  run as_runner env BERTH_PID1_SECRET=host-only-pid1 "$W/bin/sandbox-driver" --root "$W/root" \
    --cache "$W/home/cache" --env FOO=bar -- sh -c 'ps aux; tr "\0" " " </proc/1/cmdline; echo; cat /proc/1/comm; tr "\0" " " </proc/1/environ'
  echo "$output"
  [[ "$output" == *"    1 root     berth-init"* ]]
  [ "$(sed -n 's/^ *1 root *//p' <<<"$output")" = berth-init ]
  [[ "$output" == *"
berth-init 
berth-init"* ]]
  for leak in sandbox-driver "$W" --root --cache host-only FOO=bar; do [[ "$output" != *"$leak"* ]]; done
}

@test "the sandbox's ids: as root 2^31 and more (chown and tar above 65535 work); rootless the subordinate range doctor reports" {
  if [ -n "$RUNNER" ]; then
    ids_rootless
    return
  fi
  grep -q '"ids":2147549183' "$W/doctor.json"
  python3 -c '
import io, sys, tarfile
with tarfile.open(sys.argv[1], "w") as t:
    for name, uid in (("d/", 200000), ("d/f", 200000)):
        i = tarfile.TarInfo(name); i.uid = i.gid = uid
        if name.endswith("/"): i.type = tarfile.DIRTYPE; i.mode = 0o755; t.addfile(i)
        else: i.size = 2; t.addfile(i, io.BytesIO(b"x\n"))
' "$W/ids.tar"
  out="$W/idout.$BATS_TEST_NUMBER"; mkdir -p "$out"; chown 1879048192:1879048192 "$out"; cp "$W/ids.tar" "$out/"
  run "$W/bin/sandbox-driver" --root "$W/root" --bind "$out:/out" -- sh -c 'cd /out && touch f &&
    busybox chown 100000:100001 f && stat -c %u:%g f && busybox tar -xf ids.tar && stat -c %u:%g d d/f &&
    touch g && busybox chown 2000000000:2000000000 g && stat -c %u:%g g'
  echo "$output"
  [ "$status" -eq 0 ]
  [ "$output" = "100000:100001
200000:200000
200000:200000
2000000000:2000000000" ]
  # on the host: ids above 65535 are 2^31 + (id - 65536), where no user database hands out ids
  [ "$(stat -c %u:%g "$out/d/f")" = "$((2147483648 + 200000 - 65536)):$((2147483648 + 200000 - 65536))" ]
  [ "$(stat -c %u "$out/f")" = $((2147483648 + 100000 - 65536)) ]
}

# Rootless, the sandbox has the user's subordinate range, and doctor says how large it is.
ids_rootless() {
  need subordinate_ids
  n=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["ids"])' "$W/doctor.json")
  run sb -- cat /proc/self/uid_map
  echo "$output"
  [ "$(awk '{ s += $3 } END { print s }' <<<"$output")" = "$n" ]
  run as_runner "$W/bin/berth" doctor
  [[ "$output" == *"ids inside        $n (your user and its range"* ]]
}

@test "/sys is read-only, firmware masked; /sys/fs/cgroup shows the sandbox's own limits, read-only" {
  mech=$(limit_mech memory)
  run sb --memory $((64 << 20)) --pids 50 -- sh -c 'cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max 2>/dev/null ||
    cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/pids.max 2>/dev/null || echo no-cgroup: $(ls -A /sys/fs/cgroup);
    for f in /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/memory.max /sys/fs/cgroup/x /sys/x /sys/kernel/x; do
      echo 1 >$f && echo "wrote $f"; done; mkdir /sys/fs/cgroup/memory/x /sys/fs/cgroup/x && echo made-cgroup;
    echo "firmware: $(ls -A /sys/firmware | wc -l)"; ls /sys/class/net; grep " /sys" /proc/self/mountinfo | grep -v " ro,";
    grep " /sys/fs/cgroup/memory \| /sys/fs/cgroup " /proc/self/mountinfo | cut -d" " -f4,5,9; grep memory /proc/self/cgroup'
  echo "mechanism $mech: $output"
  [ "$status" -eq 0 ]
  case "$mech" in
    none) [ "${lines[0]}" = "no-cgroup:" ] ;;
    *) [ "${lines[0]}" = $((64 << 20)) ] && [ "${lines[1]}" = 50 ] || false ;;
  esac
  [[ "$output" != *wrote* && "$output" != *made-cgroup* ]]
  [[ "$output" == *"firmware: 0"* ]]
  [[ "$output" == *"
lo"* && "$output" != *eth* ]] # this network namespace's devices
  # every mount under /sys is read-only, and the sandbox's cgroup is its namespace's root
  [[ "$output" != *" - sysfs "* && "$output" != *" - cgroup"* && "$output" != *" - tmpfs "* ]]
  [ "$mech" = none ] || [[ "$output" =~ memory:/$ ]]
  # mounted with the cgroup as its root, as the JVM matches mountinfo against /proc/self/cgroup
  case "$mech" in
    "cgroup v1") [[ "$output" == *"/ /sys/fs/cgroup/memory cgroup"* ]] ;;
    "cgroup v2") [[ "$output" == *"/ /sys/fs/cgroup cgroup2"* ]] ;;
  esac
  [ -z "$RUNNER" ] || [ "$mech" != "cgroup v1" ] || fail "a user got a v1 cgroup"
}

@test "with the host's network, /sys is the host's, read-only, without its cgroups or kernel filesystems" {
  run sb --net host -- sh -c 'for d in /sys/fs/cgroup /sys/kernel/debug /sys/kernel/security /sys/firmware; do ls -A $d | wc -l; done | sort -u;
    touch /sys/x /sys/kernel/x 2>&1; grep " /sys" /proc/self/mountinfo | grep -v " ro,"; echo done'
  echo "$output"
  [ "${lines[0]}" = 0 ]
  [[ "$output" == *"Read-only file system"* && "$output" == *done* ]]
  [[ "$output" != *" - "* ]] # no writable mount under /sys
  run sb --net host --memory $((64 << 20)) -- sh -c 'cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/memory.max 2>/dev/null'
  [ "$(limit_mech memory)" = none ] || [ "${lines[0]}" = $((64 << 20)) ]
}

@test "the cgroup view: as root on v1 the same whether berth binds it or the init mounts it; otherwise the init's own" {
  mech=$(limit_mech memory)
  if [ "$mech" != "cgroup v1" ]; then
    # the init mounts the view itself: cgroup2's limit file, or nothing without a cgroup
    run as_runner env BERTH_CGROUP_VIEW=mount "$W/bin/sandbox-driver" --root "$W/root" --memory $((32 << 20)) -- \
      sh -c 'cat /sys/fs/cgroup/memory.max 2>/dev/null; ls -A /sys/fs/cgroup | wc -l'
    echo "$mech: $output"
    [ "$status" -eq 0 ]
    case "$mech" in
      "cgroup v2") [ "${lines[0]}" = $((32 << 20)) ] ;;
      *) [ "$output" = 0 ] ;;
    esac
    return 0
  fi
  for how in "" mount; do
    run env BERTH_CGROUP_VIEW="$how" "$W/bin/sandbox-driver" --root "$W/root" --memory $((32 << 20)) --pids 40 -- \
      sh -c 'cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max; echo 1 >/sys/fs/cgroup/pids/pids.max;
        grep " /sys/fs/cgroup/" /proc/self/mountinfo | cut -d" " -f4,5,6'
    echo "${how:-bind}: $output"
    [ "${lines[0]}" = $((32 << 20)) ] && [ "${lines[1]}" = 40 ] || false
    [[ "$output" == *"Read-only file system"* ]]
    [[ "$output" == *"/ /sys/fs/cgroup/memory ro,"* && "$output" == *"/ /sys/fs/cgroup/pids ro,"* ]]
  done
}
