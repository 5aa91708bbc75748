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

# start_nginx DIR: nginx as a user process on a free loopback port, serving
# the archive as /usr.tar.zst from DIR/www. Sets NGINX_PORT and NGINX_PID.
start_nginx() {
  local d=$1
  NGINX_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  mkdir -p "$d/nginx/logs" "$d/nginx/tmp" "$d/www"
  ln "$ARCHIVE" "$d/www/usr.tar.zst" 2>/dev/null || cp "$ARCHIVE" "$d/www/usr.tar.zst"
  cat >"$d/nginx/nginx.conf" <<CONF
daemon off;
user $(id -un) $(id -gn);
worker_processes 1;
pid $d/nginx/nginx.pid;
error_log $d/nginx/logs/error.log;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path $d/nginx/tmp; proxy_temp_path $d/nginx/tmp; fastcgi_temp_path $d/nginx/tmp;
  uwsgi_temp_path $d/nginx/tmp; scgi_temp_path $d/nginx/tmp;
  sendfile on;
  server { listen 127.0.0.1:$NGINX_PORT; root $d/www; }
}
CONF
  nginx -p "$d/nginx" -c "$d/nginx/nginx.conf" -e "$d/nginx/logs/error.log" &
  NGINX_PID=$!
  for _ in $(seq 100); do
    curl -fso /dev/null -r 0-0 "http://127.0.0.1:$NGINX_PORT/usr.tar.zst" && break
    sleep 0.05
  done
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
