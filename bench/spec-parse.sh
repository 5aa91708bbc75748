#!/usr/bin/env bash
# Spec parsing: `berth validate` on hostile and realistic specs, against
# PyYAML's yaml.safe_load (python3-yaml) on the same files. Both are timed as
# whole processes with hyperfine. The hostile inputs must be refused in
# under 100 ms; the script fails if they are not.
set -euo pipefail
: "${BERTH:?BERTH must point at the berth binary}"
command -v hyperfine >/dev/null || { echo "spec-parse: hyperfine is needed" >&2; exit 1; }
PY=/usr/bin/python3
$PY -c 'import yaml' 2>/dev/null || { echo "spec-parse: python3-yaml is needed" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# ~1 MB alias bomb: nine levels of ten aliases each, then a megabyte of
# references to the top one (1e9 nodes if expanded).
{
  echo 'a0: &a0 [x, x, x, x, x, x, x, x, x, x]'
  for i in 1 2 3 4 5 6 7 8; do
    p=$((i - 1))
    echo "a$i: &a$i [*a$p, *a$p, *a$p, *a$p, *a$p, *a$p, *a$p, *a$p, *a$p, *a$p]"
  done
  i=0
  while [ $((i * 60)) -lt 1000000 ]; do
    printf 'k%06d: [*a8, *a8, *a8, *a8, *a8, *a8, *a8, *a8, *a8]\n' "$i"
    i=$((i + 1))
  done
} >"$work/alias-bomb.yaml"

# 10,000-deep nesting.
$PY -c 'print("a: " + "[" * 10000 + "]" * 10000)' >"$work/deep.yaml"

# Just under 1 MiB of plain keys: no tricks, just size.
$PY -c '
import sys
for i in range(61000):
    print("key%06d: value" % i)
' >"$work/huge.yaml"

# A realistic spec, like the one in DESIGN.md.
sha=$(printf 'a%.0s' $(seq 64))
cat >"$work/realistic.yaml" <<YAML
berth: 1
name: payments-api
version: 1.4.0
description: Payments API as it runs in production
image:
  - url: https://artifacts.example.com/debian-12-slim.tar.zst
    sha256: $sha
  - name: python
    version: 3.11.7
    url: https://artifacts.example.com/python-3.11.7.tar.zst
    sha256: $sha
    check: [python3, --version]
workdir: /workspace
mounts:
  - {source: ., target: /workspace}
  - {source: ./fixtures, target: /fixtures, read_only: true}
  - {type: tmpfs, target: /tmp, size: 256MiB}
  - {volume: cache, target: /root/.cache}
env: {APP_ENV: development, DATABASE_URL: "postgres://app@postgres:5432/app"}
user: "1000:1000"
resources: {memory: 2GiB, cpus: 1.5, pids: 512, nofile: 4096}
network: private
ports: ["127.0.0.1:8080:8080"]
security:
  seccomp: default
  capabilities: {add: [], drop: []}
  read_only: false
services:
  postgres:
    command: [postgres, -D, /var/lib/postgresql/data]
    user: postgres
    env: {POSTGRES_HOST_AUTH_METHOD: trust}
    mounts: [{volume: pgdata, target: /var/lib/postgresql/data}]
    ports: ["127.0.0.1:5432:5432"]
    healthcheck: {command: [pg_isready], interval: 1s, timeout: 3s, retries: 30, start_period: 0s}
    restart: on-failure
    stop_timeout: 10s
    resources: {memory: 512MiB}
  app-worker:
    command: [python3, -m, worker]
    depends_on: [postgres]
YAML
"$BERTH" validate -f "$work/realistic.yaml"

# Mean wall time of a command in ms over RUNS runs; failures (exit 2 on
# refusal, PyYAML's RecursionError) are expected.
mean_ms() {
  hyperfine -N -i --warmup 1 --runs "$RUNS" --export-json "$work/h.json" "$@" >/dev/null 2>&1
  $PY -c 'import json, sys; print("%.2f" % (json.load(open(sys.argv[1]))["results"][0]["mean"] * 1000))' "$work/h.json"
}

peer="python3-yaml safe_load"
fail=0
for f in alias-bomb deep huge realistic; do
  file="$work/$f.yaml"
  size=$(stat -c %s "$file")
  b=$(RUNS=30 mean_ms "$BERTH validate -f $file")
  p=$(RUNS=5 mean_ms "$PY -c 'import sys, yaml; yaml.safe_load(open(sys.argv[1]))' $file")
  printf 'RESULT\tspec-parse %s (%s bytes)\t%s\tms\t%s\t%s\n' "$f" "$size" "$b" "$peer" "$p"
  case $f in
    alias-bomb | deep)
      if ! awk -v v="$b" 'BEGIN { exit !(v < 100) }'; then
        echo "spec-parse: $f took $b ms, over the 100 ms bound" >&2
        fail=1
      fi ;;
  esac
done
exit $fail
