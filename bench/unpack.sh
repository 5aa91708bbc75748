#!/usr/bin/env bash
# Unpack the 1 GiB /usr .tar.zst into a layer folder on tmpfs: berth's unpacker
# (the same library `berth pull` uses, through the test driver) against GNU tar
# on the same archive, and against decompression alone. Median of $BENCH_RUNS.
set -euo pipefail
# ---- shared with bench/download.sh (kept in each: bench/run runs every *.sh) ----
# The archive: ~1 GiB, ~27,000 entries of this machine's /usr as .tar.zst,
# made once and kept in $BERTH_BENCH_DIR between runs.
BENCH_DIR=${BERTH_BENCH_DIR:-/var/tmp/berth-bench}
ARCHIVE=$BENCH_DIR/usr.tar.zst
RUNS=${BENCH_RUNS:-5}
IMAGES_TOOL=${IMAGES_TOOL:-$(dirname "$BERTH")/../tests/images/images-tool}

make_archive() {
  [ -s "$ARCHIVE" ] && return 0
  mkdir -p "$BENCH_DIR"
  echo "bench: making $ARCHIVE (once)" >&2
  tar -C / -cf - usr/bin usr/include usr/lib/gcc usr/share/doc usr/share/locale usr/lib/python3 2>/dev/null |
    zstd -q -T0 -3 >"$ARCHIVE.tmp"
  mv "$ARCHIVE.tmp" "$ARCHIVE"
}

# A scratch folder on tmpfs, so the disk does not decide the result.
scratch() {
  local base=/dev/shm
  [ "$(stat -f -c %T "$base" 2>/dev/null)" = tmpfs ] || base=${TMPDIR:-/tmp}
  mktemp -d "$base/berth-bench.XXXXXX"
}

# seconds CMD...: wall time of one run, in seconds with 3 decimals.
seconds() {
  local s e
  s=$(date +%s.%N)
  "$@" >/dev/null 2>&1 || { echo "bench: failed: $*" >&2; return 1; }
  e=$(date +%s.%N)
  awk -v s="$s" -v e="$e" 'BEGIN{printf "%.3f", e-s}'
}

median() { sort -n | awk '{v[NR]=$1} END{print v[int((NR+1)/2)]}'; }
# ---- end of the shared part ----
if [ ! -x "$IMAGES_TOOL" ]; then
  echo "bench: no $IMAGES_TOOL (the images test driver); build with tests enabled" >&2
  exit 1
fi
make_archive
S=$(scratch)
trap 'rm -rf "$S"' EXIT

berth_unpack() { rm -rf "$S/layer"; "$IMAGES_TOOL" unpack "$ARCHIVE" "$S/layer"; }
tar_unpack() { rm -rf "$S/tar"; mkdir "$S/tar"; tar -C "$S/tar" -I zstd -xf "$ARCHIVE"; }
decompress() { zstd -dc "$ARCHIVE" >/dev/null; }

b=() t=() z=()
for _ in $(seq "$RUNS"); do
  # interleaved, so a noisy neighbour hurts both alike
  b+=("$(seconds berth_unpack)")
  rm -rf "$S/layer"
  t+=("$(seconds tar_unpack)")
  rm -rf "$S/tar"
  z+=("$(seconds decompress)")
done
bm=$(printf '%s\n' "${b[@]}" | median)
tm=$(printf '%s\n' "${t[@]}" | median)
zm=$(printf '%s\n' "${z[@]}" | median)
echo "bench: unpack runs: berth ${b[*]} | tar ${t[*]} | zstd -dc ${z[*]}" >&2
printf 'RESULT\tunpack 1GiB /usr .tar.zst to tmpfs\t%s\ts\tGNU tar -I zstd -xf\t%s\n' "$bm" "$tm"
printf 'RESULT\tunpack vs decompression alone\t%s\ts\tzstd -dc >/dev/null\t%s\n' "$bm" "$zm"
