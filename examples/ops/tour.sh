#!/usr/bin/env bash
# The Ops tour end to end, in a scratch folder: build the image, make a
# signing key, publish the base (signed), then, as a developer, lock, pull,
# run and verify the project that extends it.
#   usage: examples/ops/tour.sh [BERTH]   (default: build/cli/berth)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
berth=$(realpath "${1:-$here/../../build/cli/berth}")
work=$(mktemp -d /tmp/berth-ops-tour.XXXXXX)
export BERTH_CACHE_DIR=$work/cache BERTH_STATE_DIR=$work/state
trap 'cd "$work/project" 2>/dev/null && "$berth" down >/dev/null 2>&1; rm -rf "$work"' EXIT
step() { printf '\n$ %s\n' "$*"; "$@"; }

# Ops: the image and the base spec, published to a signed repository.
"$here/../build-busybox-image.sh" "$work/images/busybox.tar.zst" >/dev/null
sha=$(sha256sum "$work/images/busybox.tar.zst" | cut -d' ' -f1)
sed "s|@IMAGE_URL@|file://$work/images/busybox.tar.zst|; s|@IMAGE_SHA256@|$sha|" \
  "$here/base-busybox.yaml" >"$work/base-busybox.yaml"
step "$berth" spec keygen "$work/ops.key"
step "$berth" spec publish -f "$work/base-busybox.yaml" --repo "$work/specs" --key "$work/ops.key"
step "$berth" spec versions base-busybox --repo "$work/specs"

# A developer: the project names the repository and the key it trusts.
cp -r "$here/project" "$work/project"
cd "$work/project"
printf '\nrepos:\n  - {url: %s, key: %s}\n' "$work/specs" "$work/ops.key.pub" >>berth.yaml
step "$berth" validate
step "$berth" lock
step "$berth" pull --locked
step "$berth" run --locked -- sh -c 'echo "$APP_ENV in $(pwd), TZ=${TZ:-unset}"'
step "$berth" verify
step "$berth" spec diff base-busybox@1.0.0 berth.yaml --repo "$work/specs"
