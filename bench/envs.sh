#!/usr/bin/env bash
# Environments: the commands a user types around services, against peers in
# the same run.
#  - `berth up` then `berth down` of 1, 5 and 20 busybox httpd services, and
#    podman running the same services in one pod (`podman pod create`,
#    `podman run -d --pod` of the same root imported with `podman import`,
#    `podman pod rm -f`): interleaved rounds, medians, the cost per service;
#  - the supervisor's resident memory with 20 services (VmRSS), against the
#    20 conmon processes podman keeps for them;
#  - `berth run -- /bin/true` into an environment that is up (joining its
#    network), of one without services that is not up (plain and
#    `--ephemeral`, nothing left mounted) and of one that is up (its root
#    kept mounted), against `bwrap --unshare-all` on the same root, all
#    interleaved (bench/interleave.py, BENCH_ROUNDS x BENCH_RUNS cycles);
#  - `berth up` of redis until its healthcheck (100 ms interval) passes,
#    against redis-server started on the host and polled until it answers.
# Prints RESULT lines for bench/run. As root (podman, and the user
# namespaces berth makes as root); installs podman and catatonit if missing.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export BERTH=${BERTH:-$here/../build/cli/berth}
RUNS=${BENCH_RUNS:-30}
ROUNDS=${BENCH_ROUNDS:-5}
COUNTS=${BENCH_SERVICES:-"1 5 20"}
# shellcheck source=bench/lib.bash
source "$here/lib.bash"

[ "$(id -u)" = 0 ] || { echo "envs.sh: run as root (podman)" >&2; exit 1; }
if ! command -v podman >/dev/null || ! command -v catatonit >/dev/null; then
  echo "envs.sh: installing podman and catatonit (the pod's pause process) for this benchmark" >&2
  apt-get install -y -qq --no-install-recommends podman catatonit >/dev/null
fi
for t in bwrap busybox python3 redis-server redis-cli podman jq; do
  command -v "$t" >/dev/null || { echo "envs.sh: $t is missing" >&2; exit 1; }
done

w=$(mktemp -d /tmp/berth-bench-envs.XXXXXX)
chmod 755 "$w"
tag=berth-bench-envs-$$
cleanup() {
  for f in "$w"/proj/*.yaml; do "$BERTH" -q down -f "$f" >/dev/null 2>&1 || true; done
  podman pod rm -f -t 0 "$tag" >/dev/null 2>&1 || true
  podman rmi -f "localhost/$tag:1" >/dev/null 2>&1 || true
  rm -rf "$w"
}
trap cleanup EXIT
echo "envs.sh: load before: $(uptime)" >&2

# One busybox root, with redis-server and redis-cli (and their libraries)
# copied in; berth pulls it as a packed archive with its digest, podman
# imports the same tree.
root=$w/rootfs
mkdir -p "$root"/{bin,etc,proc,dev,sys,tmp,www}
chmod 1777 "$root/tmp"
cp "$(command -v busybox)" "$root/bin/busybox"
for a in sh true sleep httpd wget; do ln -s busybox "$root/bin/$a"; done
for f in /usr/bin/redis-server /usr/bin/redis-cli \
         $(ldd /usr/bin/redis-server /usr/bin/redis-cli | awk '/=>/ { print $3 } /^\t\// { print $1 }' | sort -u); do
  cp --parents -L "$f" "$root"
done
touch "$root/etc/hosts" "$root/etc/hostname" "$root/etc/resolv.conf"
printf 'root:x:0:0:root:/:/bin/sh\n' >"$root/etc/passwd"
echo hello >"$root/www/index.html"
chmod -R a+rX "$root"

export BERTH_STATE_DIR="$w/state" BERTH_CACHE_DIR="$w/cache"
sha=$("$BERTH" -q image pack "$root" -o "$w/rootfs.tar.zst")
mkdir -p "$w/proj"
# spec NAME: the environment NAME on that root; its services from stdin.
spec() {
  { printf 'berth: 1\nname: %s\nimage:\n  - url: %s\n    sha256: %s\nnetwork: none\n' "$1" "$w/rootfs.tar.zst" "$sha"
    cat; } >"$w/proj/$1.yaml"
}
for n in $COUNTS; do
  { echo "services:"
    for i in $(seq "$n"); do printf '  s%d:\n    command: [httpd, -f, -p, "%d", -h, /www]\n' "$i" $((8000 + i)); done
  } | spec "svc$n"
done
spec plain </dev/null
spec plainup </dev/null
spec isup <<'YAML'
services:
  idle:
    command: [sleep, "100000"]
YAML
spec redis <<'YAML'
services:
  cache:
    command: [redis-server, --port, "6379", --save, "", --appendonly, "no"]
    healthcheck:
      command: [redis-cli, ping]
      interval: 100ms
YAML
# Pulled before anything is timed: each environment records the layers its
# pull resolved, as a user's would after their first `up`.
for f in "$w"/proj/*.yaml; do "$BERTH" -q -f "$f" pull; done
"$BERTH" -q -f "$w/proj/plain.yaml" run -- /bin/true   # warm the seccomp cache

tar -C "$root" -cf "$w/rootfs.tar" .
podman import -q "$w/rootfs.tar" "localhost/$tag:1" >/dev/null
# This machine's root lacks CAP_SYS_RESOURCE: podman's default rlimits for
# root (nofile, nproc above the hard limits) cannot be set.
cat >"$w/containers.conf" <<CONF
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]
CONF
export CONTAINERS_CONF=$w/containers.conf

# The timed commands, as a user types them (one shell line each).
cat >"$w/berth-updown.sh" <<SH
"$BERTH" -q up -f "\$1" && "$BERTH" -q down -f "\$1"
SH
# pod rm -t 0: busybox httpd as a container's pid 1 ignores SIGTERM, so
# podman would wait out its 10 s; berth's services have an init that passes
# SIGTERM on. -t 0 kills at once, which favours podman.
cat >"$w/podman-updown.sh" <<SH
podman pod create --network none --name $tag >/dev/null
for i in \$(seq "\$1"); do
  podman run -d --pod $tag --name $tag-\$i localhost/$tag:1 httpd -f -p \$((8000 + i)) -h /www >/dev/null
done
podman pod rm -f -t 0 $tag >/dev/null
SH
cat >"$w/redis-host.sh" <<'SH'
redis-server --port 16379 --save "" --appendonly no >/dev/null &
until [ "$(redis-cli -p 16379 ping 2>/dev/null)" = PONG ]; do sleep 0.01; done
kill -KILL $!   # timed until PONG; redis's own shutdown is not the point
wait
SH


cat >"$w/run.sh" <<SH
set -euo pipefail
source "$here/lib.bash"
# crun (podman's runtime) refuses a hybrid host whose cgroup2 hierarchy holds
# a controller; hide it in this private mount namespace (as start.sh does).
if mountpoint -q /sys/fs/cgroup/unified && [ -n "\$(cat /sys/fs/cgroup/unified/cgroup.controllers)" ]; then
  umount -l /sys/fs/cgroup/unified
fi
: >"$w/times"
for round in \$(seq $ROUNDS); do
  for n in $COUNTS; do
    # ABBA: who goes first alternates with the round
    if [ \$((round % 2)) = 1 ]; then order="berth podman"; else order="podman berth"; fi
    for who in \$order; do
      if [ \$who = berth ]; then t=\$(seconds bash "$w/berth-updown.sh" "$w/proj/svc\$n.yaml")
      else t=\$(seconds bash "$w/podman-updown.sh" "\$n"); fi
      echo "\$who \$n \$t" >>"$w/times"
    done
  done
  t=\$(seconds bash "$w/redis-host.sh"); echo "redis-host 1 \$t" >>"$w/times"
  t=\$(seconds "$BERTH" -q up -f "$w/proj/redis.yaml"); echo "redis-up 1 \$t" >>"$w/times"
  "$BERTH" -q down -f "$w/proj/redis.yaml"
done

# Resident memory with 20 services (or the most asked for).
n=\$(echo $COUNTS | tr ' ' '\n' | sort -n | tail -1)
"$BERTH" -q up -f "$w/proj/svc\$n.yaml"
sup=\$(cat "$w"/state/envs/svc\$n-*/supervisor.pid)
echo "supervisor \$n \$(awk '/^VmRSS:/ { print \$2 }' /proc/\$sup/status)" >"$w/rss"
"$BERTH" -q down -f "$w/proj/svc\$n.yaml"
podman pod create --network none --name $tag >/dev/null
for i in \$(seq \$n); do podman run -d --pod $tag --name $tag-\$i localhost/$tag:1 httpd -f -p \$((8000 + i)) -h /www >/dev/null; done
kib=0
for p in \$(pgrep -f "^/usr/bin/conmon .*-n $tag-"); do kib=\$((kib + \$(awk '/^VmRSS:/ { print \$2 }' /proc/\$p/status))); done
echo "conmon \$(pgrep -c -f "^/usr/bin/conmon .*-n $tag-") \$kib" >>"$w/rss"
podman pod rm -f -t 0 $tag >/dev/null

# run -- /bin/true: into an environment that is up; of one without services
# that is not up (plain, --ephemeral) and of one that is up. Interleaved
# (bench/interleave.py): hyperfine's back-to-back runs of one command met
# different moments of this VM and moved the ratios by 30-100% between runs.
"$BERTH" -q up -f "$w/proj/isup.yaml"
"$BERTH" -q up -f "$w/proj/plainup.yaml"
python3 "$here/interleave.py" --ref bwrap $((ROUNDS * RUNS)) "$w/runs.json" \
  joined "$BERTH -q -f $w/proj/isup.yaml run -- /bin/true" \
  plain "$BERTH -q -f $w/proj/plain.yaml run -- /bin/true" \
  plain-up "$BERTH -q -f $w/proj/plainup.yaml run -- /bin/true" \
  plain-ephemeral "$BERTH -q -f $w/proj/plain.yaml run --ephemeral -- /bin/true" \
  bwrap "$(command -v bwrap) --unshare-all --ro-bind $root / --proc /proc --dev /dev /bin/true"
"$BERTH" -q down -f "$w/proj/isup.yaml"
"$BERTH" -q down -f "$w/proj/plain.yaml"
"$BERTH" -q down -f "$w/proj/plainup.yaml"
# nothing of the environments stays mounted
if grep -q "$w/state" /proc/self/mountinfo; then
  echo "envs.sh: left mounted:" >&2; grep "$w/state" /proc/self/mountinfo >&2; exit 1
fi
SH
unshare -m --propagation private bash "$w/run.sh"
echo "envs.sh: load after: $(uptime)" >&2

python3 - "$w/times" "$w/rss" "$w/runs.json" <<'PY'
import json, statistics, sys
times = {}
for line in open(sys.argv[1]):
    who, n, t = line.split()
    times.setdefault((who, int(n)), []).append(float(t) * 1000)
med = {k: statistics.median(v) for k, v in times.items()}
for k in sorted(times):
    print("%s %d: median %.1f ms over %d: %s" % (k[0], k[1], med[k], len(times[k]),
          " ".join("%.0f" % t for t in times[k])), file=sys.stderr)
ns = sorted({n for who, n in med if who == "berth"})
for n in ns:
    print("RESULT\tup + down, %d service%s (median) vs podman pod\t%.1f\tms\tpodman pod create/run/rm\t%.1f"
          % (n, "" if n == 1 else "s", med[("berth", n)], med[("podman", n)]))
if len(ns) >= 2:
    lo, hi = ns[0], ns[-1]
    for who in ("berth", "podman"):
        per = (med[(who, hi)] - med[(who, lo)]) / (hi - lo)
        steps = ["%.1f" % ((med[(who, b)] - med[(who, a)]) / (b - a)) for a, b in zip(ns, ns[1:])]
        print("%s: %.1f ms per service (%d to %d); per step: %s ms" % (who, per, lo, hi, ", ".join(steps)), file=sys.stderr)
    print("RESULT\tup + down, cost per service (%d to %d)\t%.1f\tms\tpodman, per container\t%.1f"
          % (lo, hi, (med[("berth", hi)] - med[("berth", lo)]) / (hi - lo),
             (med[("podman", hi)] - med[("podman", lo)]) / (hi - lo)))
print("RESULT\tup until redis is healthy (100 ms interval), median\t%.1f\tms\tredis-server on the host until PONG\t%.1f"
      % (med[("redis-up", 1)], med[("redis-host", 1)]))
rss = {}
for line in open(sys.argv[2]):
    who, n, kib = line.split()
    rss[who] = (int(n), int(kib))
print("RESULT\tsupervisor VmRSS, %d services\t%d\tKiB\t%d conmon processes, summed\t%d"
      % (rss["supervisor"][0], rss["supervisor"][1], rss["conmon"][0], rss["conmon"][1]))
runs = json.load(open(sys.argv[3]))
hm = {k: statistics.median(v) for k, v in runs.items()}
print("RESULT\trun -- /bin/true into an environment that is up\t%.2f\tms\tbwrap --unshare-all\t%.2f" % (hm["joined"], hm["bwrap"]))
print("RESULT\trun --ephemeral -- /bin/true, no services\t%.2f\tms\tbwrap --unshare-all\t%.2f" % (hm["plain-ephemeral"], hm["bwrap"]))
print("RESULT\trun -- /bin/true of an environment that is not up, no services (nothing left mounted)\t%.2f\tms\tbwrap --unshare-all\t%.2f" % (hm["plain"], hm["bwrap"]))
print("RESULT\trun -- /bin/true of an environment up without services (root kept mounted)\t%.2f\tms\tbwrap --unshare-all\t%.2f" % (hm["plain-up"], hm["bwrap"]))
PY
