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

berth_unpack() { rm -rf "$S/layer"; "$IMAGES_TOOL" unpack "$ARCHIVE" "$S/layer"; }
tar_unpack() { rm -rf "$S/tar"; mkdir "$S/tar"; tar -C "$S/tar" -I zstd -xf "$ARCHIVE"; }
decompress() { zstd -dc "$ARCHIVE" >/dev/null; }

# Each unpack follows the removal of the previous 1 GiB tree at once: on a
# virtual machine, pages freed a few seconds earlier have gone back to the host
# and cost far more to touch again, which would favour whichever tool runs
# right after a removal. The order alternates (ABBA) for the same reason.
b=() t=() z=()
for i in $(seq "$RUNS"); do
  if [ $((i % 2)) = 1 ]; then
    b+=("$(seconds berth_unpack)"); rm -rf "$S/layer"
    t+=("$(seconds tar_unpack)"); rm -rf "$S/tar"
  else
    t+=("$(seconds tar_unpack)"); rm -rf "$S/tar"
    b+=("$(seconds berth_unpack)"); rm -rf "$S/layer"
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
