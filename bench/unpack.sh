#!/usr/bin/env bash
# Unpack the 1 GiB /usr .tar.zst into a layer folder on tmpfs: berth's unpacker
# (the same library `berth pull` uses, through the test driver) against GNU tar
# on the same archive, and against decompression alone. Median of $BENCH_RUNS.
set -euo pipefail
. "$(dirname "$0")/lib.bash"
RUNS=${BENCH_RUNS:-7}
make_archive
S=$(scratch)
trap 'rm -rf "$S"' EXIT

berth_unpack() { "$IMAGES_TOOL" unpack "$ARCHIVE" "$S/layer"; }
tar_unpack() { mkdir "$S/tar"; tar -C "$S/tar" -I zstd -xf "$ARCHIVE"; }
decompress() { zstd -dc "$ARCHIVE" >/dev/null; }
# the unpacked tree is about 3.1x the archive
warm_mb=$(($(stat -c %s "$ARCHIVE") * 35 / 10 / 1000000))

# Memory is warmed before each unpack (see lib.bash), and the order
# alternates (ABBA).
b=() t=() z=()
for i in $(seq "$RUNS"); do
  if [ $((i % 2)) = 1 ]; then
    warm_memory "$S" $warm_mb; b+=("$(seconds berth_unpack)"); rm -rf "$S/layer"
    warm_memory "$S" $warm_mb; t+=("$(seconds tar_unpack)"); rm -rf "$S/tar"
  else
    warm_memory "$S" $warm_mb; t+=("$(seconds tar_unpack)"); rm -rf "$S/tar"
    warm_memory "$S" $warm_mb; b+=("$(seconds berth_unpack)"); rm -rf "$S/layer"
  fi
done
for _ in $(seq "$RUNS"); do
  z+=("$(seconds decompress)")
done
bm=$(printf '%s\n' "${b[@]}" | median)
tm=$(printf '%s\n' "${t[@]}" | median)
zm=$(printf '%s\n' "${z[@]}" | median)
echo "bench: unpack runs: berth ${b[*]} | tar ${t[*]} | zstd -dc ${z[*]}" >&2
printf 'RESULT\tunpack 1GiB /usr .tar.zst to tmpfs\t%s\ts\tGNU tar -I zstd -xf\t%s\n' "$bm" "$tm"
printf 'RESULT\tunpack vs decompression alone\t%s\ts\tzstd -dc >/dev/null\t%s\n' "$bm" "$zm"
