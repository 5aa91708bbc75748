#!/usr/bin/env bash
# Fetch the 1 GiB /usr .tar.zst over loopback from nginx (a user process on a
# free port), sha256 included, into a cache on tmpfs: berth's fetcher against the
# curl command line (`curl -o`). Median throughput of $BENCH_RUNS, MB/s.
set -euo pipefail
. "$(dirname "$0")/lib.bash"
RUNS=${BENCH_RUNS:-9}
make_archive
S=$(scratch)
NGINX_PID=
cleanup() {
  [ -n "$NGINX_PID" ] && kill "$NGINX_PID" 2>/dev/null && wait "$NGINX_PID" 2>/dev/null
  rm -rf "$S"
}
trap cleanup EXIT

start_nginx "$S"
port=$NGINX_PORT

size=$(stat -c %s "$ARCHIVE")
sha=$(sha256sum "$ARCHIVE" | cut -d' ' -f1)
url=http://127.0.0.1:$port/usr.tar.zst

berth_fetch() { BERTH_CACHE_DIR=$S/cache "$IMAGES_TOOL" fetch "$url#$sha"; }
curl_fetch() { curl -fsS -o "$S/curl.out" "$url"; }
warm_mb=$((size * 12 / 10 / 1000000))

b=() c=()
for i in $(seq "$RUNS"); do
  # warm memory before each run (see lib.bash), and alternate the order (ABBA)
  if [ $((i % 2)) = 1 ]; then
    warm_memory "$S" $warm_mb; b+=("$(seconds berth_fetch)"); rm -rf "$S/cache"
    warm_memory "$S" $warm_mb; c+=("$(seconds curl_fetch)"); rm -f "$S/curl.out"
  else
    warm_memory "$S" $warm_mb; c+=("$(seconds curl_fetch)"); rm -f "$S/curl.out"
    warm_memory "$S" $warm_mb; b+=("$(seconds berth_fetch)"); rm -rf "$S/cache"
  fi
done
bm=$(printf '%s\n' "${b[@]}" | median)
cm=$(printf '%s\n' "${c[@]}" | median)
echo "bench: download runs (s): berth ${b[*]} | curl ${c[*]}" >&2
mbps() { awk -v b="$size" -v s="$1" 'BEGIN{printf "%.0f", b/s/1e6}'; }
printf 'RESULT\tdownload the /usr .tar.zst over loopback, sha256 incl.\t%s\tMB/s\tcurl -o\t%s\n' "$(mbps "$bm")" "$(mbps "$cm")"
