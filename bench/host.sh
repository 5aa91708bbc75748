#!/usr/bin/env bash
# What this machine charges for page faults, forks and waking an idle CPU:
# the costs a sandbox start is made of (bench/host-costs.c). No peer; the
# figures explain why start-up ratios differ from one machine to the next.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
command -v cc >/dev/null || { echo "host.sh: cc is missing" >&2; exit 1; }
w=$(mktemp -d /tmp/berth-bench-host.XXXXXX)
trap 'rm -rf "$w"' EXIT
cc -O2 -o "$w/host-costs" "$here/host-costs.c"
"$w/host-costs" | while IFS=$'\t' read -r label us; do
  printf 'RESULT\thost: %s\t%s\tus\n' "$label" "$us"
done
