#!/usr/bin/env bash
# Time what a user types: `berth pull -f SPEC` of the 1 GiB /usr .tar.zst, from
# a file:// URL and over http from nginx on loopback, into a fresh cache on
# tmpfs, against GNU tar extracting the same archive, with and without
# `sha256sum` first (berth checks the digest too), and against decompression
# alone. All in one run: memory warmed before each timed command and the order
# rotating from round to round. Median of $BENCH_RUNS rounds.
# BERTH_BASELINE=PATH also times another berth build the same way (an A/B
# of a change, in the same rounds).
set -euo pipefail
. "$(dirname "$0")/lib.bash"
RUNS=${BENCH_RUNS:-7}
make_archive
S=$(scratch)
NGINX_PID=
cleanup() {
  [ -n "$NGINX_PID" ] && kill "$NGINX_PID" 2>/dev/null && wait "$NGINX_PID" 2>/dev/null
  rm -rf "$S"
}
trap cleanup EXIT
start_nginx "$S"
sha=$(sha256sum "$ARCHIVE" | cut -d' ' -f1)
spec() {
  mkdir -p "$S/$1"
  printf 'berth: 1\nname: bench\nimage:\n  - url: %s\n    sha256: %s\n' "$2" "$sha" >"$S/$1/berth.yaml"
}
spec file "file://$ARCHIVE"
spec http "http://127.0.0.1:$NGINX_PORT/usr.tar.zst"

pull_file() { BERTH_CACHE_DIR=$S/cache "$BERTH" pull -f "$S/file/berth.yaml"; }
pull_base() { BERTH_CACHE_DIR=$S/cache "$BERTH_BASELINE" pull -f "$S/file/berth.yaml"; }
pull_http() { BERTH_CACHE_DIR=$S/cache "$BERTH" pull -f "$S/http/berth.yaml"; }
tar_x() { mkdir "$S/tar"; tar -C "$S/tar" -I zstd -xf "$ARCHIVE"; }
sha_tar_x() { sha256sum "$ARCHIVE" | grep -q "^$sha " && tar_x; }
decompress() { zstd -dc "$ARCHIVE" >/dev/null; }
clean() { rm -rf "$S/cache" "$S/tar"; }
# the unpacked tree is about 3.1x the archive; a pull over http also keeps the blob
warm_mb=$(($(stat -c %s "$ARCHIVE") * 45 / 10 / 1000000))

names=(pull_file pull_http tar_x sha_tar_x decompress)
[ -n "${BERTH_BASELINE:-}" ] && names+=(pull_base)
declare -A times
for i in $(seq "$RUNS"); do
  # rotate the order, so that no command always follows the same one
  for k in $(seq 0 $((${#names[@]} - 1))); do
    n=${names[$(((k + i) % ${#names[@]}))]}
    warm_memory "$S" $warm_mb
    times[$n]+="$(seconds "$n") "
    clean
  done
done
med() { printf '%s\n' ${times[$1]} | median; }
for n in "${names[@]}"; do echo "bench: $n: ${times[$n]}" >&2; done
printf 'RESULT\tpull file:// 1GiB /usr .tar.zst to tmpfs\t%s\ts\tGNU tar -I zstd -xf\t%s\n' "$(med pull_file)" "$(med tar_x)"
printf 'RESULT\tpull file:// 1GiB /usr .tar.zst to tmpfs\t%s\ts\tsha256sum && tar -x\t%s\n' "$(med pull_file)" "$(med sha_tar_x)"
printf 'RESULT\tpull file:// vs decompression alone\t%s\ts\tzstd -dc >/dev/null\t%s\n' "$(med pull_file)" "$(med decompress)"
printf 'RESULT\tpull http:// (loopback nginx) to tmpfs\t%s\ts\tGNU tar -I zstd -xf\t%s\n' "$(med pull_http)" "$(med tar_x)"
printf 'RESULT\tpull http:// (loopback nginx) to tmpfs\t%s\ts\tsha256sum && tar -x\t%s\n' "$(med pull_http)" "$(med sha_tar_x)"
if [ -n "${BERTH_BASELINE:-}" ]; then
  printf 'RESULT\tpull file://, this build vs BERTH_BASELINE\t%s\ts\tbaseline berth pull\t%s\n' "$(med pull_file)" "$(med pull_base)"
fi
