#!/usr/bin/env bash
# Time what a user types: `berth pull -f SPEC` of an OCI image from Debian's
# docker-registry on loopback, cold (a fresh cache on tmpfs), against
# `skopeo copy docker://… oci:DIR` + `umoci unpack` and against `podman pull`
# (throwaway --root/--runroot on tmpfs), in the same rounds with the order
# rotating; median of $BENCH_RUNS rounds. Then a warm pull (everything
# cached), with berth.lock (no request at all) and by tag (one HEAD), with
# hyperfine.
# The image: 5 gzip layers (about 320 MB, 1 GB unpacked) of this machine's
# /usr files (programs, libraries, headers, documentation, locales: what
# images hold, compressing as they do), made once into
# $BERTH_BENCH_DIR/oci-layout; delete it to make it again.
set -euo pipefail
BERTH=${BERTH:-$(cd "$(dirname "$0")/.." && pwd)/build/cli/berth}
. "$(dirname "$0")/lib.bash"
RUNS=${BENCH_RUNS:-5}
LAYOUT=$BENCH_DIR/oci-layout

for t in docker-registry skopeo podman hyperfine; do
  command -v "$t" >/dev/null || { echo "bench: needs $t (scripts/deps.sh)" >&2; exit 1; }
done
command -v umoci >/dev/null || apt-get install -y -q umoci >/dev/null

# layer N DIR...: a gzip tar of /DIR... (sorted, owners 0, mtime 0) into the
# layout, its digest and diff_id in $LAYOUT/.layerN.
layer() {
  local n=$1 tmp=$LAYOUT/.layer$1.tmp
  shift
  tar -C / --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -cf - "$@" 2>/dev/null |
    tee >(sha256sum | cut -d' ' -f1 >"$tmp.diff") | gzip -6 >"$tmp.gz"
  local hex
  hex=$(sha256sum "$tmp.gz" | cut -d' ' -f1)
  mv "$tmp.gz" "$LAYOUT/blobs/sha256/$hex"
  echo "$hex $(stat -c %s "$LAYOUT/blobs/sha256/$hex") $(cat "$tmp.diff")" >"$LAYOUT/.layer$n"
  rm -f "$tmp.diff"
}

blob() { # blob FILE: move FILE into the layout; print its digest hex
  local hex
  hex=$(sha256sum "$1" | cut -d' ' -f1)
  mv "$1" "$LAYOUT/blobs/sha256/$hex"
  echo "$hex"
}

make_layout() {
  [ -s "$LAYOUT/index.json" ] && return 0
  echo "bench: making $LAYOUT (once)" >&2
  rm -rf "$LAYOUT"
  mkdir -p "$LAYOUT/blobs/sha256"
  layer 1 usr/lib/gcc &
  layer 2 usr/include usr/share/locale &
  wait
  layer 3 usr/lib/python3 usr/share/doc usr/libexec usr/share/perl &
  layer 4 usr/share/vim usr/share/i18n usr/share/zoneinfo usr/sbin usr/share/fonts &
  wait
  layer 5 usr/lib/x86_64-linux-gnu/perl usr/lib/x86_64-linux-gnu/perl-base usr/lib/x86_64-linux-gnu/gconv \
    usr/lib/x86_64-linux-gnu/dri
  local diffs="" layers="" hex size diff
  for n in 1 2 3 4 5; do
    read -r hex size diff <"$LAYOUT/.layer$n"
    diffs+="${diffs:+,}\"sha256:$diff\""
    layers+="${layers:+,}{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"sha256:$hex\",\"size\":$size}"
  done
  printf '{"architecture":"amd64","os":"linux","config":{"Env":["PATH=/usr/bin:/bin"],"Cmd":["/bin/sh"]},"rootfs":{"type":"layers","diff_ids":[%s]}}' \
    "$diffs" >"$LAYOUT/config.json"
  local csize chex
  csize=$(stat -c %s "$LAYOUT/config.json")
  chex=$(blob "$LAYOUT/config.json")
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[%s]}' \
    "$chex" "$csize" "$layers" >"$LAYOUT/manifest.json"
  local msize mhex
  msize=$(stat -c %s "$LAYOUT/manifest.json")
  mhex=$(blob "$LAYOUT/manifest.json")
  echo '{"imageLayoutVersion":"1.0.0"}' >"$LAYOUT/oci-layout"
  printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"annotations":{"org.opencontainers.image.ref.name":"1"}}]}' \
    "$mhex" "$msize" >"$LAYOUT/index.json"
}

make_layout
S=$(scratch)
REG_PID=
cleanup() {
  if [ -n "$REG_PID" ]; then kill "$REG_PID" 2>/dev/null; wait "$REG_PID" 2>/dev/null || true; fi
  clean
  rm -rf "$S"
}
trap cleanup EXIT

# The registry's store on tmpfs too: every tool reads the same blobs from memory.
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
printf 'version: 0.1\nlog: {level: error}\nstorage:\n  filesystem: {rootdirectory: %s}\nhttp: {addr: 127.0.0.1:%s}\n' \
  "$S/store" "$PORT" >"$S/registry.yml"
docker-registry serve "$S/registry.yml" >"$S/registry.log" 2>&1 &
REG_PID=$!
for _ in $(seq 100); do curl -so /dev/null "http://127.0.0.1:$PORT/v2/" && break; sleep 0.05; done
REF=127.0.0.1:$PORT/bench:1
skopeo --insecure-policy copy -q --dest-tls-verify=false "oci:$LAYOUT:1" "docker://$REF"
mkdir -p "$S/spec"
printf 'berth: 1\nname: bench\nimage:\n  - oci: "%s"\n' "$REF" >"$S/spec/berth.yaml"
bytes=$(awk '{s+=$2} END{print s}' "$LAYOUT"/.layer?)

berth_pull() { BERTH_CACHE_DIR=$S/cache "$BERTH" pull -f "$S/spec/berth.yaml"; }
skopeo_umoci() {
  skopeo --insecure-policy copy -q --src-tls-verify=false "docker://$REF" "oci:$S/sk:1" &&
    umoci unpack --rootless --image "$S/sk:1" "$S/bundle"
}
podman_pull() {
  podman --root "$S/pr" --runroot "$S/prr" --cgroup-manager=cgroupfs --events-backend=none \
    pull -q --tls-verify=false "$REF"
}
clean() {
  chmod -R u+rwX "$S/cache" "$S/sk" "$S/bundle" 2>/dev/null || true
  rm -rf "$S/cache" "$S/sk" "$S/bundle"
  if [ -d "$S/pr" ]; then
    podman --root "$S/pr" --runroot "$S/prr" --cgroup-manager=cgroupfs system reset -f >/dev/null 2>&1 || true
    umount -R "$S/pr" 2>/dev/null || true
    rm -rf "$S/pr" "$S/prr"
  fi
}
warm_mb=$((bytes * 5 / 1000000))

names=(berth_pull skopeo_umoci podman_pull)
declare -A times
for i in $(seq "$RUNS"); do
  for k in $(seq 0 $((${#names[@]} - 1))); do
    n=${names[$(((k + i) % ${#names[@]}))]}
    warm_memory "$S" $warm_mb
    times[$n]+="$(seconds "$n") "
    clean
  done
done
med() { printf '%s\n' ${times[$1]} | median; }
for n in "${names[@]}"; do echo "bench: $n: ${times[$n]}" >&2; done
label="cold pull, 5 gzip layers $((bytes / 1000000)) MB, local docker-registry, to tmpfs"
printf 'RESULT\t%s\t%s\ts\tskopeo copy + umoci unpack\t%s\n' "$label" "$(med berth_pull)" "$(med skopeo_umoci)"
printf 'RESULT\t%s\t%s\ts\tpodman pull\t%s\n' "$label" "$(med berth_pull)" "$(med podman_pull)"

# Warm: everything cached. With berth.lock the pull asks nothing; by tag it
# sends one HEAD to see whether the tag moved.
berth_pull >/dev/null 2>&1
BERTH_CACHE_DIR=$S/cache "$BERTH" lock -f "$S/spec/berth.yaml" >/dev/null
mkdir -p "$S/tag"
cp "$S/spec/berth.yaml" "$S/tag/"
export BERTH_CACHE_DIR=$S/cache
hyperfine -N -w 5 -r 50 --export-json "$S/warm.json" \
  "$BERTH pull -q -f $S/spec/berth.yaml" "$BERTH pull -q -f $S/tag/berth.yaml" >&2
read -r locked tag < <(python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["results"]; print(*(x["median"]*1000 for x in r))' "$S/warm.json")
printf 'RESULT\twarm pull (all cached), with berth.lock\t%.1f\tms\n' "$locked"
printf 'RESULT\twarm pull (all cached), by tag (one HEAD)\t%.1f\tms\n' "$tag"
