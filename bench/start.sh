#!/usr/bin/env bash
# Start-up cost of a sandbox: `berth run -- /bin/true` with full isolation
# (every namespace, the default seccomp filter, memory and pids limits, an
# overlay root with a writable layer: kept, whose overlay stays mounted
# between runs as root while the environment is up, and --ephemeral,
# mounted for each run) against
# bubblewrap (namespaces only, no
# seccomp, no limits) and crun with a seccomp profile and the same limits on
# an equivalent OCI bundle, all interleaved (bench/interleave.py,
# BENCH_ROUNDS x BENCH_RUNS cycles). Prints RESULT lines for bench/run
# (medians; means and the ratios to bwrap with their intervals go to stderr).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
BERTH=${BERTH:-$here/../build/cli/berth}
# The sandbox alone (no spec, no envs, none of the image libraries berth
# links), with the same root, layer and limits as `berth run`.
DRIVER=${DRIVER:-$here/../build/tests/sandbox/sandbox-driver}
RUNS=${BENCH_RUNS:-40}
ROUNDS=${BENCH_ROUNDS:-5}
for t in bwrap crun python3 busybox; do
  command -v "$t" >/dev/null || { echo "start.sh: $t is missing" >&2; exit 1; }
done

w=$(mktemp -d /tmp/berth-bench-start.XXXXXX)
chmod 755 "$w"
# As root the environment's root stays mounted until `berth down`.
cleanup() {
  "$BERTH" -q -f "$w/proj/berth.yaml" down >/dev/null 2>&1 || true
  rm -rf "$w"
}
trap cleanup EXIT

# The same busybox root for all three.
root="$w/rootfs"
mkdir -p "$root"/{bin,etc,proc,dev,sys,tmp,work}
cp "$(command -v busybox)" "$root/bin/busybox"
for a in sh true; do ln -s busybox "$root/bin/$a"; done
touch "$root/etc/hosts" "$root/etc/hostname" "$root/etc/resolv.conf"
chmod -R a+rX "$root"

# berth: a pulled environment. The root packed as an archive with its
# digest, as Ops publishes one, and pulled (verified, unpacked into the
# cache) before anything is timed. Until the third session of 2026-12-01 the
# spec named the folder itself, which skips the cache.
export BERTH_STATE_DIR="$w/state" BERTH_CACHE_DIR="$w/cache"
sha=$("$BERTH" -q image pack "$root" -o "$w/rootfs.tar.zst")
mkdir -p "$w/proj"
cat >"$w/proj/berth.yaml" <<YAML
berth: 1
name: bench
image:
  - url: $w/rootfs.tar.zst
    sha256: $sha
resources: {memory: 256MiB, pids: 256, nofile: 1024}
network: none
security:
  seccomp: default
YAML
"$BERTH" -q -f "$w/proj/berth.yaml" pull
# Up, as a developer's environment is: as root its root then stays mounted
# between runs (a run of one that is not up leaves nothing mounted).
"$BERTH" -q -f "$w/proj/berth.yaml" up
(cd "$w/proj" && "$BERTH" -q run -- /bin/true) # warm the seccomp cache, create the state folder

mkdir -p "$w/drv/u" "$w/drv/w" "$w/drv/m"
driver_cmd=$(command -v true)
if [ -x "$DRIVER" ]; then
  driver_cmd="$DRIVER --lower $root --upper $w/drv/u --work $w/drv/w --mnt $w/drv/m --net none --memory 268435456 --pids 256 --nofile 1024 --cache $w/cache -- /bin/true"
fi

# crun: an OCI bundle with the same filter berth's default is measured
# against (Docker's default profile, resolved for amd64 and the capabilities
# berth keeps), the same capabilities, the same limits and the same
# namespaces, a user namespace included (until 2026-12-01 it had none).
mkdir -p "$w/bundle"
ln -s "$root" "$w/bundle/rootfs"
python3 - "$here/../tests/sandbox/profiles/docker-default.json" "$w/bundle/config.json" <<'PY'
import json, sys
docker = json.load(open(sys.argv[1]))
caps = ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_SETGID",
        "CAP_SETUID", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SETFCAP"]
def applies(rule):
    inc, exc = rule.get("includes", {}), rule.get("excludes", {})
    if inc.get("arches") and "amd64" not in inc["arches"]:
        return False
    if any(c not in caps for c in inc.get("caps", [])):
        return False
    if "amd64" in exc.get("arches", []) or any(c in caps for c in exc.get("caps", [])):
        return False
    return True
syscalls = []
for r in docker["syscalls"]:
    if applies(r):
        x = {"names": r["names"], "action": r["action"]}
        if r.get("args"):
            x["args"] = r["args"]
        if "errnoRet" in r:
            x["errnoRet"] = r["errnoRet"]
        syscalls.append(x)
spec = {
  "ociVersion": "1.0.2",
  "process": {"terminal": False, "user": {"uid": 0, "gid": 0}, "args": ["/bin/true"],
              "env": ["PATH=/bin"], "cwd": "/", "noNewPrivileges": True,
              "capabilities": {k: caps for k in ("bounding", "effective", "permitted")}},
  "root": {"path": "rootfs", "readonly": True},
  "hostname": "bench",
  "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"},
             {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "mode=755"]},
             {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs"}],
  "linux": {
    # every namespace berth makes, the user namespace mapped as berth maps it as root
    "namespaces": [{"type": t} for t in ("user", "pid", "network", "ipc", "uts", "mount", "cgroup")],
    "uidMappings": [{"containerID": 0, "hostID": 1879048192, "size": 65536}],
    "gidMappings": [{"containerID": 0, "hostID": 1879048192, "size": 65536}],
    "resources": {"memory": {"limit": 268435456}, "pids": {"limit": 256}},
    "seccomp": {"defaultAction": docker["defaultAction"], "defaultErrnoRet": docker["defaultErrnoRet"],
                "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
                "syscalls": syscalls},
  },
}
json.dump(spec, open(sys.argv[2], "w"), indent=1)
PY
# crun refuses a hybrid host whose cgroup2 hierarchy holds any controller
# (this one has hugetlb there). Hide that hierarchy in a private mount
# namespace that only this benchmark lives in; all three run inside it.
cat >"$w/run.sh" <<SH
set -e
if mountpoint -q /sys/fs/cgroup/unified && [ -n "\$(cat /sys/fs/cgroup/unified/cgroup.controllers)" ]; then
  umount -l /sys/fs/cgroup/unified
fi
crun run --bundle "$w/bundle" berth-bench-start >/dev/null
# Interleaved (bench/interleave.py), so a noisy neighbour or a slow moment
# of the machine hurts all of them alike.
python3 "$here/interleave.py" --ref bwrap $((ROUNDS * RUNS)) "$w/runs.json" \\
  berth "$BERTH -q -f $w/proj/berth.yaml run -- /bin/true" \\
  berth-ephemeral "$BERTH -q -f $w/proj/berth.yaml run --ephemeral -- /bin/true" \\
  sandbox "$driver_cmd" \\
  bwrap "$(command -v bwrap) --unshare-all --ro-bind $root / --proc /proc --dev /dev /bin/true" \\
  crun "$(command -v crun) run --bundle $w/bundle berth-bench-start"
SH
if [ "$(id -u)" = 0 ]; then
  unshare -m --propagation private bash "$w/run.sh"
else
  bash "$w/run.sh"
fi

python3 - "$w/runs.json" <<'PY'
import json, statistics, sys
times = json.load(open(sys.argv[1]))
med = {k: statistics.median(v) for k, v in times.items()}
print("RESULT\trun -- /bin/true, full isolation (median) vs bwrap\t%.2f\tms\tbwrap --unshare-all\t%.2f" % (med["berth"], med["bwrap"]))
print("RESULT\trun -- /bin/true, full isolation (median) vs crun\t%.2f\tms\tcrun + seccomp\t%.2f" % (med["berth"], med["crun"]))
print("RESULT\trun --ephemeral -- /bin/true (median) vs bwrap\t%.2f\tms\tbwrap --unshare-all\t%.2f" % (med["berth-ephemeral"], med["bwrap"]))
print("RESULT\tsandbox alone (driver, overlay root) (median) vs bwrap\t%.2f\tms\tbwrap --unshare-all\t%.2f" % (med["sandbox"], med["bwrap"]))
print("RESULT\trun --ephemeral -- /bin/true (median) vs crun\t%.2f\tms\tcrun + seccomp\t%.2f" % (med["berth-ephemeral"], med["crun"]))
PY
