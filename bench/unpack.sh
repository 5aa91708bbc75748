#!/usr/bin/env bash
# Unpack the 1 GiB /usr .tar.zst into a layer folder on tmpfs: berth's unpacker
# (the same library `berth pull` uses, through the test driver) against GNU tar
# on the same archive, and against decompression alone. Median of $BENCH_RUNS.
set -euo pipefail
. "$(dirname "$0")/lib-images.sh"
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
