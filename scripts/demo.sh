#!/usr/bin/env bash
# Install dependencies, build berth, build the bundled example's image from
# Debian's busybox-static, and run a command in the example environment.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/deps.sh
[ -d build ] || meson setup build >/dev/null
ninja -C build >/dev/null
berth=$PWD/build/cli/berth
example=examples/hello

BERTH=$berth examples/build-busybox-image.sh "$example/image/busybox.tar.zst" >/dev/null

# Keep the demo's cache and state beside the build, not in the caller's home.
export BERTH_CACHE_DIR=${BERTH_CACHE_DIR:-$PWD/build/demo/cache}
export BERTH_STATE_DIR=${BERTH_STATE_DIR:-$PWD/build/demo/state}

set -x
"$berth" validate -f "$example/berth.yaml"
"$berth" pull -f "$example/berth.yaml"
"$berth" run -f "$example/berth.yaml" -- sh -c 'echo "$GREETING: $(id -u):$(id -g) in $(pwd), pid $$ of $(ls /proc | grep -c "^[0-9]")"; ls'
"$berth" down -f "$example/berth.yaml"   # as root, the root stays mounted until down
