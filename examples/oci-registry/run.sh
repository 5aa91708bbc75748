#!/usr/bin/env bash
# Start Debian's docker-registry on 127.0.0.1 with a throwaway store, push a
# busybox image (two layers, a whiteout between them) built by
# tests/images/ocilayout.py with skopeo, then pull it with berth and run the
# image's own command and one of ours; then pin the tag with berth lock (in a
# copy of the spec, so nothing is written here). Needs docker-registry and skopeo
# (scripts/deps.sh) and a built berth (meson setup build && ninja -C build).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
berth=${BERTH:-$top/build/cli/berth}
work=$(mktemp -d)
export OCI_EXAMPLE_PORT=${OCI_EXAMPLE_PORT:-$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
export BERTH_CACHE_DIR=${BERTH_CACHE_DIR:-$work/cache}
export BERTH_STATE_DIR=${BERTH_STATE_DIR:-$work/state}

printf 'version: 0.1\nlog: {level: error}\nstorage:\n  filesystem: {rootdirectory: %s}\nhttp: {addr: 127.0.0.1:%s}\n' \
  "$work/store" "$OCI_EXAMPLE_PORT" >"$work/registry.yml"
docker-registry serve "$work/registry.yml" >"$work/registry.log" 2>&1 &
registry=$!
trap 'kill $registry; wait $registry 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 100); do
  curl -s -o /dev/null "http://127.0.0.1:$OCI_EXAMPLE_PORT/v2/" && break
  sleep 0.05
done

python3 "$top/tests/images/ocilayout.py" busybox "$work/layout" 1
skopeo --insecure-policy copy -q --dest-tls-verify=false "oci:$work/layout:1" \
  "docker://127.0.0.1:$OCI_EXAMPLE_PORT/busybox:1"

set -x
"$berth" validate -f "$here/berth.yaml"
"$berth" pull -f "$here/berth.yaml"
"$berth" run --ephemeral -f "$here/berth.yaml"
"$berth" run --ephemeral -f "$here/berth.yaml" -- sh -c 'echo "$FROM_SPEC; $GREETING in $(pwd)"; cat /etc/motd'
cp "$here/berth.yaml" "$work/berth.yaml"
"$berth" lock -f "$work/berth.yaml"
"$berth" pull -f "$work/berth.yaml"
"$berth" image ls
