# Sourced by bench/download.sh and bench/unpack.sh (bench/run runs every *.sh,
# so this file is not one). Needs $BERTH.
# The archive: ~1 GiB, ~27,000 entries of this machine's /usr as .tar.zst,
# made once and kept in $BERTH_BENCH_DIR between runs.
BENCH_DIR=${BERTH_BENCH_DIR:-/var/tmp/berth-bench}
ARCHIVE=$BENCH_DIR/usr.tar.zst
IMAGES_TOOL=${IMAGES_TOOL:-$(dirname "$BERTH")/../tests/images/images-tool}
if [ ! -x "$IMAGES_TOOL" ]; then
  echo "bench: no $IMAGES_TOOL (the images test driver); build with tests enabled" >&2
  exit 1
fi

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

# warm_memory DIR MB: write and delete MB of zeroes in DIR (the tmpfs the next
# run writes to). On a virtual machine, memory freed a few seconds earlier
# has often gone back to the host, and touching it again costs 2-3x as much
# as touching memory in use; whether a run meets such memory depends on how
# long ago the last 1 GiB tree was removed. Every timed run follows this, so
# every tool starts from memory the guest has just touched.
warm_memory() {
  head -c "${2}M" /dev/zero >"$1/.warm" && rm -f "$1/.warm"
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
