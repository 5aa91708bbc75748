#!/usr/bin/env bash
# What each start-up optimisation in place gains today: `berth run -- /bin/true`
# in a pulled environment (as bench/start.sh makes it, plus the project folder
# bound at /workspace, as a dev environment has it), built once as it is and
# once more per trick with that trick alone switched off (a patch from
# bench/tricks/ or meson options). All builds run interleaved, one run at a
# time in a new random order each cycle. Prints each trick's gain: how much
# longer a run takes without it than its reference build, in ms and as a
# share of the whole `berth run`.
#
#   bench/tricks.sh                 # every variant
#   bench/tricks.sh kept-root ...   # only these tricks (and their references)
#
# Knobs: BENCH_RUNS (cycles, each running every build once; default 300),
# TRICKS_DIR (source copies and builds, /var/tmp/berth-tricks;
# a build is reused while the tree, the patch and the options are the same),
# TRICKS_AS_USER (time rootless runs as this user).
# Not run by bench/run: it builds 17 copies of berth first.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
CYCLES=${BENCH_RUNS:-300}
TRICKS_DIR=${TRICKS_DIR:-/var/tmp/berth-tricks}
for t in python3 busybox meson ninja git patch; do
  command -v "$t" >/dev/null || { echo "tricks.sh: $t is missing" >&2; exit 1; }
done

# variant|patch in bench/tricks/|meson options
variants="
base||
no-dlopen||-Dc_link_args=-Wl,--push-state,--no-as-needed,-lcurl,-larchive,-lcrypto,--pop-state
no-bind-now|no-bind-now|
no-layer-record|no-layer-record|
no-kept-root|no-kept-root|
no-fd-layers|no-fd-layers|
no-vfork-command|no-vfork-command|
no-early-mounts|no-early-mounts|
no-late-cgroup|no-late-cgroup|
no-late-netns|no-late-netns|
no-etc-in-dev|no-etc-in-dev|
no-mknod-placeholders|no-mknod-placeholders|
no-spec-allow|no-spec-allow|
no-vm-idmap-holder|no-vm-idmap-holder|
no-bpf-cache|no-bpf-cache|
no-bpf-tree|no-bpf-tree|
no-parallel-idmap|no-parallel-idmap|
"
# trick|variant without it|reference (the same build with it)|what
tricks="
dlopen|no-dlopen|base|libcurl, libarchive, libcrypto by dlopen() on first use
bind-now|no-bind-now|base|-z now (full RELRO)
layer-record|no-layer-record|base|the layer record (<state>/layers)
kept-root|no-kept-root|base|the kept root (as root)
fd-layers|no-fd-layers|base|idmapped layers as fds (without them the root is not kept either)
fd-layers-alone|no-fd-layers|no-kept-root|idmapped layers as fds, over a root that is not kept
vfork-command|no-vfork-command|base|the command started with CLONE_VM and CLONE_VFORK
early-mounts|no-early-mounts|base|/proc, /dev, /tmp, /etc prepared before the root arrives
late-cgroup|no-late-cgroup|base|cgroup v1 made while the init mounts
late-netns|no-late-netns|base|network namespace made by the init, not by clone()
etc-in-dev|no-etc-in-dev|base|/etc files staged in the /dev tmpfs
mknod-placeholders|no-mknod-placeholders|base|/dev placeholders made before the root arrives
spec-allow|no-spec-allow|base|SECCOMP_FILTER_FLAG_SPEC_ALLOW
vm-idmap-holder|no-vm-idmap-holder|base|the idmapped bind's user namespace held by a CLONE_VM process
bpf-cache|no-bpf-cache|base|the seccomp BPF kept in the cache
bpf-tree|no-bpf-tree|base|libseccomp's binary tree (SCMP_FLTATR_CTL_OPTIMIZE 2)
parallel-idmap|no-parallel-idmap|base|rootless: newuidmap and newgidmap at once
"

# Which variants: all, or those the named tricks need.
want=$(echo "$variants" | cut -d'|' -f1 | grep .)
if [ $# -gt 0 ]; then
  want=base
  for t in "$@"; do
    line=$(echo "$tricks" | grep "^$t|") || { echo "tricks.sh: no trick $t" >&2; exit 1; }
    want+=" $(echo "$line" | cut -d'|' -f2) $(echo "$line" | cut -d'|' -f3)"
  done
  want=$(echo "$want" | tr ' ' '\n' | sort -u)
fi

# build NAME PATCH OPTS: a copy of the tree as it is (uncommitted changes
# included) with the patch applied, built without tests.
build() {
  local name=$1 patch=$2 opts=$3 src=$TRICKS_DIR/src/$1 b=$TRICKS_DIR/build/$1 stamp
  stamp=$( (cd "$top" && git ls-files -s -- . ':!bench' ':!docs' && git diff -- . ':!bench' ':!docs'; [ -z "$patch" ] || cat "$here/tricks/$patch.patch"; echo "$opts") | sha256sum)
  if [ -x "$b/cli/berth" ] && [ "$(cat "$b/.stamp" 2>/dev/null)" = "$stamp" ]; then
    return 0
  fi
  echo "tricks.sh: building $name" >&2
  rm -rf "$src" "$b"
  mkdir -p "$src"
  git -C "$top" ls-files -z | (cd "$top" && tar --null -T - -cf -) | tar -C "$src" -xf -
  [ -z "$patch" ] || patch -s -d "$src" -p1 <"$here/tricks/$patch.patch"
  # shellcheck disable=SC2086 # options are words
  meson setup -Dtests=disabled -Dfuzz=disabled $opts "$b" "$src" >"$TRICKS_DIR/$name.log" 2>&1 &&
    ninja -C "$b" >>"$TRICKS_DIR/$name.log" 2>&1 ||
    { echo "tricks.sh: build of $name failed, see $TRICKS_DIR/$name.log" >&2; exit 1; }
  echo "$stamp" >"$b/.stamp"
}

mkdir -p "$TRICKS_DIR"
for v in $want; do
  line=$(echo "$variants" | grep "^$v|")
  build "$v" "$(echo "$line" | cut -d'|' -f2)" "$(echo "$line" | cut -d'|' -f3)"
done

w=$(mktemp -d /tmp/berth-bench-tricks.XXXXXX)
chmod 755 "$w"
cleanup() {
  for v in $want; do
    "${as_user[@]}" "$TRICKS_DIR/build/$v/cli/berth" -q -f "$w/$v/berth.yaml" down >/dev/null 2>&1 || true
  done
  rm -rf "$w"
}
trap cleanup EXIT
# TRICKS_AS_USER=NAME: pull and time as that user (rootless; it needs ranges
# in /etc/subuid and /etc/subgid).
as_user=()
if [ -n "${TRICKS_AS_USER:-}" ]; then
  chown "$TRICKS_AS_USER" "$w"
  as_user=(runuser -u "$TRICKS_AS_USER" -- env BERTH_STATE_DIR="$w/state" BERTH_CACHE_DIR="$w/cache")
fi

# The root of bench/start.sh, packed with its digest and pulled.
root="$w/rootfs"
mkdir -p "$root"/{bin,etc,proc,dev,sys,tmp,work,workspace}
cp "$(command -v busybox)" "$root/bin/busybox"
for a in sh true; do ln -s busybox "$root/bin/$a"; done
touch "$root/etc/hosts" "$root/etc/hostname" "$root/etc/resolv.conf"
chmod -R a+rX "$root"
export BERTH_STATE_DIR="$w/state" BERTH_CACHE_DIR="$w/cache"
sha=$("$TRICKS_DIR/build/base/cli/berth" -q image pack "$root" -o "$w/rootfs.tar.zst")
# One project folder per variant: each has an environment of its own (its
# layer record, its writable layer, its kept root); the cache is shared.
cmds=()
for v in $want; do
  mkdir -p "$w/$v"
  cat >"$w/$v/berth.yaml" <<YAML
berth: 1
name: bench
image:
  - url: $w/rootfs.tar.zst
    sha256: $sha
workdir: /workspace
mounts:
  - {source: ., target: /workspace}
resources: {memory: 256MiB, pids: 256, nofile: 1024}
network: none
security:
  seccomp: default
YAML
  berth=$TRICKS_DIR/build/$v/cli/berth
  "${as_user[@]}" "$berth" -q -f "$w/$v/berth.yaml" pull
  "${as_user[@]}" "$berth" -q -f "$w/$v/berth.yaml" up # as root, an environment that is up keeps its root
  "${as_user[@]}" "$berth" -q -f "$w/$v/berth.yaml" run -- /bin/true # warm the seccomp cache, keep the root
  cmds+=("$v" "$berth -q -f $w/$v/berth.yaml run -- /bin/true")
done

echo "tricks.sh: $(uptime)" >&2
# Randomised interleaving, one run at a time: every cycle runs each build
# once, in a new random order, so a busy neighbour hits all builds alike. A
# trick's gain is the median over the cycles of (without it - its reference)
# in the same cycle, with a 95% bootstrap interval over the cycles.
"${as_user[@]}" python3 "$here/interleave.py" "$CYCLES" "$w/times.json" "${cmds[@]}"
echo "tricks.sh: $(uptime)" >&2

python3 - "$tricks" "$w/times.json" <<'PY'
import json, random, statistics, sys
tricks = [l.split("|", 3) for l in sys.argv[1].strip().splitlines()]
times = json.load(open(sys.argv[2]))
med = {k: statistics.median(v) for k, v in times.items()}
base = med["base"]
n = len(times["base"])
print("berth run -- /bin/true: median of %d runs per build (quartiles)" % n)
for k in sorted(med, key=med.get):
    q = statistics.quantiles(times[k], n=4)
    print("  %-24s %7.2f ms  (%.2f-%.2f)" % (k, med[k], q[0], q[2]))
print("gain of each trick: median over the cycles of (without it - its reference),")
print("95%% bootstrap interval; %% of the base build's median (%.2f ms)" % base)
print("  %-20s %8s %7s %17s  %s" % ("trick", "gain ms", "% run", "95% interval", "what"))
rng = random.Random(1)
for name, without, ref, what in tricks:
    if without not in med or ref not in med:
        continue
    d = [a - b for a, b in zip(times[without], times[ref])]
    g = statistics.median(d)
    boot = sorted(statistics.median(rng.choices(d, k=len(d))) for _ in range(1000))
    print("  %-20s %8.2f %6.1f%% %8.2f..%-8.2f  %s" % (name, g, 100 * g / base, boot[25], boot[974], what))
PY
