#!/usr/bin/env bash
# Install dependencies, build berth, and show it: a command in the bundled
# busybox example, then an environment with a service (examples/services:
# Debian's redis-server packed into the busybox image on the fly) brought up,
# used from a dev command, inspected and taken down.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/deps.sh
[ -d build ] || meson setup build >/dev/null
ninja -C build >/dev/null
berth=$PWD/build/cli/berth
hello=examples/hello/berth.yaml
services=examples/services/berth.yaml

BERTH=$berth examples/build-busybox-image.sh examples/hello/image/busybox.tar.zst >/dev/null
BERTH=$berth examples/build-busybox-image.sh examples/services/image/redis.tar.zst \
  /usr/bin/redis-server /usr/bin/redis-cli >/dev/null

# Keep the demo's cache and state beside the build, not in the caller's home.
export BERTH_CACHE_DIR=${BERTH_CACHE_DIR:-$PWD/build/demo/cache}
export BERTH_STATE_DIR=${BERTH_STATE_DIR:-$PWD/build/demo/state}
# Whatever happens, leave no services running.
trap '"$berth" -q down -f "$services" >/dev/null 2>&1 || true' EXIT

set -x
"$berth" validate -f "$hello"
"$berth" pull -f "$hello"
"$berth" run -f "$hello" -- sh -c 'echo "$GREETING: $(id -u):$(id -g) in $(pwd), pid $$ of $(ls /proc | grep -c "^[0-9]")"; ls'
"$berth" down -f "$hello"   # as root, the root stays mounted until down

"$berth" up -f "$services"          # cache (redis) behind its healthcheck, then counter
"$berth" run -f "$services" -- redis-cli -h cache set greeting "hello from a dev command"
"$berth" run -f "$services" -- sh -c 'echo "$(redis-cli -h cache get greeting), ticks: $(redis-cli -h cache get ticks)"'
"$berth" ps -f "$services"
"$berth" exec -f "$services" cache -- redis-cli dbsize
"$berth" logs -f "$services" --tail 3 cache
"$berth" down -f "$services"
"$berth" ps -f "$services"
