# Shared by the images bats files. Every test gets its own temp folder and cache;
# servers are started by the tests on 127.0.0.1 and stopped by pid.

# must_work, fail_or_skip
source "$(dirname "${BASH_SOURCE[0]}")/../lib.bash"

# Skip a test that needs a missing kernel feature, or fail when CI says it must work.
need() { fail_or_skip "$@"; }

common_setup() {
  T=$(mktemp -d "${BATS_TMPDIR:-/tmp}/berth-images.XXXXXX")
  export BERTH_CACHE_DIR=$T/cache
  export BERTH_STATE_DIR=$T/state
  PIDS=()
}

common_teardown() {
  for p in "${PIDS[@]}"; do
    kill "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
  if [ -n "${T:-}" ]; then
    chmod -R u+rwX "$T" 2>/dev/null || true
    rm -rf "$T"
  fi
}

# start_faultserver ROOT [ARGS...]: sets PORT and LOG.
start_faultserver() {
  local root=$1
  shift
  LOG=$T/requests.log
  touch "$LOG"
  rm -f "$T/port"
  "$PYTHON" "$FAULTSERVER" --root "$root" --log "$LOG" --port-file "$T/port" "$@" &
  PIDS+=($!)
  for _ in $(seq 100); do
    [ -s "$T/port" ] && break
    sleep 0.05
  done
  PORT=$(cat "$T/port")
}

# start_tls_faultserver ROOT: a TLS faultserver with a fresh self-signed
# certificate for 127.0.0.1, trusted through BERTH_CA_BUNDLE. Sets TLS_PORT.
start_tls_faultserver() {
  openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 \
    -addext subjectAltName=IP:127.0.0.1 -keyout "$T/key.pem" -out "$T/cert.pem" 2>/dev/null
  local plain=$PORT
  start_faultserver "$1" --cert "$T/cert.pem" --key "$T/key.pem"
  TLS_PORT=$PORT
  PORT=$plain
  export BERTH_CA_BUNDLE=$T/cert.pem
}

# start_nginx ROOT: a static server with Range support, as a user process with
# its own prefix, config and pid file. Sets NGINX_PORT.
start_nginx() {
  local root=$1 dir=$T/nginx
  mkdir -p "$dir/logs" "$dir/tmp"
  NGINX_PORT=$("$PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  cat >"$dir/nginx.conf" <<CONF
daemon off;
user $(id -un) $(id -gn);
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/logs/error.log;
events { worker_connections 64; }
http {
  access_log $dir/logs/access.log;
  client_body_temp_path $dir/tmp; proxy_temp_path $dir/tmp; fastcgi_temp_path $dir/tmp;
  uwsgi_temp_path $dir/tmp; scgi_temp_path $dir/tmp;
  sendfile on;
  server { listen 127.0.0.1:$NGINX_PORT; root $root; }
}
CONF
  nginx -p "$dir" -c "$dir/nginx.conf" -e "$dir/logs/error.log" &
  PIDS+=($!)
  for _ in $(seq 100); do
    curl -fso /dev/null "http://127.0.0.1:$NGINX_PORT/" -r 0-0 2>/dev/null && break
    [ -s "$dir/nginx.pid" ] && break
    sleep 0.05
  done
  sleep 0.1
}

sha256() { sha256sum "$1" | cut -d' ' -f1; }

# A small layer archive of N KiB of random data plus a few files.
make_layer() {
  local out=$1 kib=${2:-512} d
  d=$(mktemp -d "$T/src.XXXXXX")
  mkdir -p "$d/etc" "$d/usr/bin"
  echo "hello from $(basename "$out")" >"$d/etc/motd"
  head -c "$((kib * 1024))" /dev/urandom >"$d/usr/bin/blob"
  tar -C "$d" -czf "$out" .
  rm -rf "$d"
}

# kill9_mid_download PID DIGEST: SIGKILL a pull once its partial blob has
# bytes on disk (and a little more has come), and reap it.
kill9_mid_download() {
  local pid=$1 digest=$2
  PIDS+=("$pid")
  for _ in $(seq 100); do
    [ -s "$BERTH_CACHE_DIR/blobs/sha256/.$digest.partial" ] && break
    sleep 0.05
  done
  sleep 0.2
  kill -9 "$pid"
  wait "$pid" || true
}
