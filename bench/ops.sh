#!/usr/bin/env bash
# The Ops side, timed as a user types it, with hyperfine:
#   - `berth validate` of a spec whose extends chain is 4 deep, from a folder
#     repository holding 1,000 versions of each name (target: under 10 ms);
#     peer: the same spec already merged, without extends;
#   - the same with berth.lock (bases pinned, from the cache);
#   - `berth pull --locked` on a warm cache (target: under 20 ms); peer:
#     `berth pull` of the same spec without a lock;
#   - `berth verify` of an environment that is up with 5 services (target:
#     under 100 ms; it reads each service back from the kernel and starts no
#     sandbox); peers: `berth ps` (the supervisor's answer alone) and
#     `berth run -- true` on the same spec. As root only.
# Prints RESULT lines for bench/run; fails when a target is missed.
set -euo pipefail
: "${BERTH:?BERTH must point at the berth binary}"
command -v hyperfine >/dev/null || { echo "ops: hyperfine is needed" >&2; exit 1; }
here=$(cd "$(dirname "$0")" && pwd)
RUNS=${BENCH_RUNS:-30}
work=$(mktemp -d /tmp/berth-bench-ops.XXXXXX)
export BERTH_CACHE_DIR=$work/cache BERTH_STATE_DIR=$work/state
trap 'cd "$work/proj" 2>/dev/null && "$BERTH" down >/dev/null 2>&1; rm -rf "$work"' EXIT

mean_ms() {
  hyperfine -N --warmup 2 --runs "$RUNS" --export-json "$work/h.json" "$@" >/dev/null 2>&1 ||
    { echo "ops: failed: $*" >&2; return 1; }
  python3 -c 'import json, sys; print("%.2f" % (json.load(open(sys.argv[1]))["results"][0]["mean"] * 1000))' "$work/h.json"
}

fail=0
target() { # label value bound
  if ! awk -v v="$2" -v b="$3" 'BEGIN { exit !(v < b) }'; then
    echo "ops: $1 took $2 ms, over the $3 ms target" >&2
    fail=1
  fi
}

# ---- the repository: l1 -> l2 -> l3 -> l4, 1,000 versions each -------------
"$here/../examples/build-busybox-image.sh" "$work/busybox.tar.zst" >/dev/null
img_sha=$(sha256sum "$work/busybox.tar.zst" | cut -d' ' -f1)
python3 - "$work/repo" "$work/busybox.tar.zst" "$img_sha" <<'PY'
import hashlib, json, os, sys
repo, image, sha = sys.argv[1:]
os.makedirs(repo + "/specs")
idx = {"berth_index": 1, "sequence": 0, "specs": {}}
for level in range(1, 5):
    name = "l%d" % level
    idx["specs"][name] = {}
    for i in range(1000):
        version = "%d.%d.%d" % (1 + i // 500, (i // 20) % 25, i % 20)
        text = "berth: 1\nname: %s\nversion: %s\n" % (name, version)
        if level < 4:
            text += "extends: l%d@^1\n" % (level + 1)
        else:
            text += "image: [{url: \"file://%s\", sha256: %s}]\n" % (image, sha)
        text += "env: {L%d: \"%s\"}\nresources: {pids: %d}\n" % (level, version, 100 + level)
        digest = hashlib.sha256(text.encode()).hexdigest()
        open("%s/specs/%s.yaml" % (repo, digest), "w").write(text)
        idx["sequence"] += 1
        idx["specs"][name][version] = {"sha256": digest, "yanked": False, "published": "2026-01-01T00:00:00Z"}
json.dump(idx, open(repo + "/index.json", "w"), indent=2, sort_keys=True)
PY
mkdir -p "$work/proj" "$work/flat"
cd "$work/proj"
printf 'berth: 1\nname: app\nextends: l1@^1\nenv: {APP: "1"}\n' >berth.yaml
"$BERTH" validate --repo "$work/repo"
"$BERTH" spec show --repo "$work/repo" >"$work/flat/berth.yaml"

b=$(mean_ms "$BERTH validate --repo $work/repo")
p=$(mean_ms "$BERTH validate -f $work/flat/berth.yaml")
printf 'RESULT\textends chain of 4, 1,000 versions each\t%s\tms\tthe merged spec, no extends\t%s\n' "$b" "$p"
target "the extends chain" "$b" 10

"$BERTH" lock --repo "$work/repo" >/dev/null
b=$(mean_ms "$BERTH validate")
printf 'RESULT\textends chain of 4, from berth.lock\t%s\tms\tthe merged spec, no extends\t%s\n' "$b" "$p"

# ---- pull --locked on a warm cache ----------------------------------------
"$BERTH" pull --locked >/dev/null
cp "$work/flat/berth.yaml" "$work/flat/nolock.yaml"
"$BERTH" pull -f "$work/flat/nolock.yaml" >/dev/null
b=$(mean_ms "$BERTH pull --locked")
p=$(mean_ms "$BERTH pull -f $work/flat/nolock.yaml")
printf 'RESULT\tpull --locked, warm cache\t%s\tms\tpull without a lock\t%s\n' "$b" "$p"
target "pull --locked" "$b" 20

# ---- verify with 5 services -------------------------------------------------
if [ "$(id -u)" = 0 ]; then
  cat >>berth.yaml <<'YAML'
resources: {memory: 256MiB, nofile: 1024}
services:
  s1: {command: [sleep, "60"], resources: {memory: 64MiB}}
  s2: {command: [sleep, "60"], resources: {memory: 64MiB}}
  s3: {command: [sleep, "60"], resources: {memory: 64MiB}}
  s4: {command: [sleep, "60"], resources: {memory: 64MiB}}
  s5: {command: [sleep, "60"], resources: {memory: 64MiB}}
YAML
  "$BERTH" lock >/dev/null
  "$BERTH" -q up
  "$BERTH" verify -q >/dev/null
  b=$(mean_ms "$BERTH verify -q")
  p=$(mean_ms "$BERTH ps")
  r=$(mean_ms "$BERTH run -- true")
  printf 'RESULT\tverify, 5 services up\t%s\tms\tps\t%s\n' "$b" "$p"
  printf 'RESULT\tverify, 5 services up\t%s\tms\trun -- true\t%s\n' "$b" "$r"
  target "verify" "$b" 100
else
  echo "ops: verify is timed as root only (it starts sandboxes with limits)" >&2
fi
exit $fail
