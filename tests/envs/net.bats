#!/usr/bin/env bats
# The dev sandbox's network: private (outbound through pasta, the host's
# loopback on the gateway address, DNS through pasta), none and host, and
# published ports. As root and as a user the tests create.

bats_require_minimum_version 1.5.0
load ../sandbox/helpers
load helpers

setup_file() {
  sandbox_setup_file
  mkdir -p "$W/proj"
  cp -a "$W/root" "$W/img"
  for a in httpd nc ip timeout seq; do ln -s busybox "$W/img/bin/$a"; done
  if [ -n "${RUNNER:-}" ]; then chown -R "$RUNNER:" "$W/proj" "$W/img"; fi
  # a server on the host's loopback only, on a port the kernel picks
  mkdir -p "$W/www"
  echo "from the host's loopback" >"$W/www/hello.txt"
  python3 -c '
import http.server, socketserver, sys, functools
h = functools.partial(http.server.SimpleHTTPRequestHandler, directory=sys.argv[1])
h.log_message = lambda *a: None
s = socketserver.TCPServer(("127.0.0.1", 0), h)
open(sys.argv[2], "w").write(str(s.server_address[1]))
s.serve_forever()' "$W/www" "$W/host-port.tmp" >/dev/null 2>&1 3>&- &
  echo $! >"$W/server.pid"
  for _ in $(seq 100); do [ -s "$W/host-port.tmp" ] && break; sleep 0.05; done
  mv "$W/host-port.tmp" "$W/host-port"
}

teardown_file() {
  if [ -s "$W/server.pid" ]; then kill "$(cat "$W/server.pid")" 2>/dev/null || true; fi
  envs_teardown_file
}

setup() { envs_setup; }

# spec NAME NETWORK [PORTS]: berth.yaml-like spec NAME.yaml
spec() {
  {
    printf 'berth: 1\nname: %s\nimage:\n  - url: %s\nnetwork: %s\n' "$1" "$W/img" "$2"
    if [ -n "${3:-}" ]; then printf 'ports: [%s]\n' "$3"; fi
  } >"$W/proj/$1.yaml"
  chmod 644 "$W/proj/$1.yaml"
}

# The address pasta gives the namespace's gateway: the host's default
# gateway, copied. pasta maps connections to it to the host's loopback.
gateway() { ip -4 route show default | awk '{ print $3; exit }'; }

# get HOST PORT PATH: a command for the sandbox printing the response to an
# HTTP/1.0 GET (busybox nc: the static busybox's wget crashes in glibc's
# resolver). nc may not see the server's close through pasta: bounded.
get() {
  echo "(printf 'GET $3 HTTP/1.0\\r\\n\\r\\n' | timeout 3 nc $1 $2) 2>/dev/null || true"
}

# A port nothing listens on now, on the host's loopback.
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Pids of pasta processes whose command line contains $1.
pastas_with() {
  local p
  for p in /proc/[0-9]*; do
    { tr '\0' ' ' <"$p/cmdline"; } 2>/dev/null | grep -q -- "pasta .*$1" && echo "${p#/proc/}"
  done
  return 0
}

need_pasta() {
  need pasta || return 1
  [ -n "$(gateway)" ] || fail_or_skip "no IPv4 default route on this host: pasta has no addresses to copy"
}

@test "doctor says whether network private has pasta, as text and in --json" {
  run berth doctor
  [ "$status" -eq 0 ]
  if grep -q '"pasta":true' "$W/doctor.json"; then
    [[ "$output" == *"network private   outbound and ports through pasta (/"*"/pasta)"* ]]
  else
    [[ "$output" == *"network private   loopback only: "* ]]
    fail_or_skip "pasta is not usable here: $(grep -o '"pasta_detail":"[^"]*"' "$W/doctor.json")"
  fi
  [ "$(jq -r .network.private "$W/doctor.json")" = pasta ]
  [ -x "$(jq -r .network.pasta_path "$W/doctor.json")" ]
  # where pasta is not installed
  BERTH_PASTA=/nonexistent run berth doctor
  [[ "$output" == *"network private   loopback only: pasta is not installed (Debian package passt)"* ]]
  BERTH_PASTA=/nonexistent run berth --json doctor
  [ "$(jq -r .network.private <<<"$output")" = loopback ]
  [ "$(jq -r .network.pasta <<<"$output")" = false ]
  [ "$(jq -r .network.pasta_detail <<<"$output")" = "pasta is not installed (Debian package passt)" ]
}

@test "network private reaches a server on the host's loopback through pasta; none does not" {
  need_pasta
  local port gw
  port=$(cat "$W/host-port"); gw=$(gateway)
  spec priv private
  run --separate-stderr in_proj run -f priv.yaml -- sh -c "$(get "$gw" "$port" /hello.txt)"
  echo "$output $stderr"
  [ "$status" -eq 0 ]
  [[ "$output" == "HTTP/1.0 200 OK"*"from the host's loopback"* ]]
  [ -z "$stderr" ]   # no fallback warning, nor the old "behaves as none"
  # DNS goes to the address pasta forwards to the host's name server
  run in_proj run -f priv.yaml -- cat /etc/resolv.conf
  [[ "$output" == *"nameserver 169.254.1.1"* ]]
  # an interface besides loopback, with a default route
  run in_proj run -f priv.yaml -- ip -4 route
  [[ "$output" == *"default via $gw"* ]]
  spec nonet none
  run in_proj run -f nonet.yaml -- sh -c "$(get "$gw" "$port" /hello.txt)"
  [[ "$output" != *"from the host"* ]]
  run in_proj run -f nonet.yaml -- ip -4 route
  [ -z "$output" ]
  # the sandbox's own loopback is still its own
  run in_proj run -f priv.yaml -- sh -c "$(get 127.0.0.1 "$port" /hello.txt)"
  [[ "$output" != *"from the host"* ]]
}

@test "without pasta, network private falls back to loopback only with a warning" {
  local port gw
  port=$(cat "$W/host-port"); gw=$(gateway)
  spec nopasta private
  BERTH_PASTA=/nonexistent run --separate-stderr in_proj run -f nopasta.yaml -- sh -c "$(get "${gw:-192.0.2.1}" "$port" /hello.txt); ip -4 route"
  echo "$output / $stderr"
  [ "$status" -eq 0 ]
  [ -z "$output" ]
  [ "$stderr" = 'berth: warning: network: "private" has loopback only: pasta is not installed (Debian package passt) (see berth doctor)' ]
  BERTH_PASTA=/nonexistent run --separate-stderr in_proj --json run -f nopasta.yaml -- true
  [ "$(jq -r '.warnings[0].key' <<<"$stderr")" = network ]
  # ports cannot be published then: an error, not a silent drop
  spec nopasta-ports private '"127.0.0.1:8080:80"'
  BERTH_PASTA=/nonexistent run in_proj run -f nopasta-ports.yaml -- true
  [ "$status" -eq 125 ]
  [ "$output" = "berth: ports: cannot be published: pasta is not installed (Debian package passt) (see berth doctor)" ]
}

@test "a published port answers on the host, and pasta is gone when the run ends" {
  need_pasta
  local port
  port=$(free_port)
  spec pub private "\"127.0.0.1:$port:8080\""
  # the run ends when asked (a CGI script), however slow the machine is
  in_proj run -f pub.yaml -- sh -c 'mkdir -p /tmp/www/cgi-bin && echo "from the sandbox" >/tmp/www/index.html &&
    printf "#!/bin/sh\necho Content-type: text/plain\necho\necho stopping\ntouch /tmp/stop\n" >/tmp/www/cgi-bin/stop &&
    chmod +x /tmp/www/cgi-bin/stop && httpd -p 8080 -h /tmp/www &&
    for _ in $(seq 600); do [ -e /tmp/stop ] && exit 0; sleep 0.1; done' 3>&- &
  local bg=$! body=
  for _ in $(seq 100); do
    body=$(curl -s --max-time 2 "http://127.0.0.1:$port/") && [ -n "$body" ] && break
    sleep 0.1
  done
  [ "$body" = "from the sandbox" ]
  # pasta runs while the sandbox does, as the sandbox's owner...
  local p
  p=$(pastas_with "127.0.0.1/$port:8080")
  [ -n "$p" ]
  [ "$(stat -c %u "/proc/$p")" = "$(runner_uid)" ]
  # ... and goes with it: no process, and the port is free again
  [ "$(curl -s --max-time 5 "http://127.0.0.1:$port/cgi-bin/stop")" = stopping ]
  wait "$bg"
  [ -z "$(pastas_with "127.0.0.1/$port:8080")" ]
  [ ! -e "/proc/$p" ]
  # (SO_REUSEADDR: the connection just closed may wait in TIME_WAIT)
  python3 -c '
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen()' "$port"
}

@test "a second port form: HOST:INSIDE is published on 127.0.0.1 by default" {
  need_pasta
  local port
  port=$(free_port)
  spec pub2 private "\"$port:80\""
  in_proj run -f pub2.yaml -- sh -c 'mkdir /tmp/w && echo eighty >/tmp/w/index.html && httpd -p 80 -h /tmp/w &&
    sleep 30' 3>&- &
  local bg=$! body=
  for _ in $(seq 100); do
    body=$(curl -s --max-time 2 "http://127.0.0.1:$port/") && [ -n "$body" ] && break
    sleep 0.1
  done
  [ "$body" = eighty ]
  [ -n "$(pastas_with "127.0.0.1/$port:80")" ]
  # kill -9 of berth: the parent-death signal takes pasta with it
  local b
  b=$(pgrep -f -n -- "berth run -f pub2.yaml") || true
  [ -n "$b" ]
  kill -9 "$b"
  wait "$bg" || true
  for _ in $(seq 50); do [ -z "$(pastas_with "127.0.0.1/$port:80")" ] && break; sleep 0.1; done
  [ -z "$(pastas_with "127.0.0.1/$port:80")" ]
}

@test "a host port already in use fails the run, naming the port" {
  need_pasta
  local port
  port=$(free_port)
  python3 -c '
import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(); time.sleep(30)' "$port" 3>&- &
  local holder=$!
  for _ in $(seq 50); do ss -ltn "sport = :$port" | grep -q LISTEN && break; sleep 0.05; done
  spec busy private "\"127.0.0.1:$port:80\""
  run --separate-stderr in_proj run -f busy.yaml -- echo ran
  kill "$holder"
  echo "$output / $stderr"
  [ "$status" -eq 125 ]
  [ -z "$output" ]
  [ "$stderr" = "berth: ports: host port 127.0.0.1:$port cannot be published: it is already in use (or not allowed here)" ]
  [ -z "$(pastas_with "127.0.0.1/$port:80")" ]
}

@test "ports with network none are refused; with host they are the host's own, with a warning" {
  spec noneports none '"127.0.0.1:8080:80"'
  run in_proj run -f noneports.yaml -- true
  [ "$status" -eq 125 ]
  [ "$output" = 'berth: ports: cannot be published with network "none" (loopback only); use "private"' ]
  spec hostports host '"127.0.0.1:8080:80"'
  run --separate-stderr in_proj run -f hostports.yaml -- echo ran
  [ "$status" -eq 0 ]; [ "$output" = ran ]
  [ "$stderr" = 'berth: warning: ports: not published: with network "host" the sandbox listens on the host'"'"'s ports itself' ]
}

# ---- an environment with services: one network, one pasta ---------------------

# svc_spec NAME NETWORK: NAME.yaml with services from stdin (YAML under
# `services:`), and top-level ports from $TOP_PORTS when set.
svc_spec() {
  {
    printf 'berth: 1\nname: %s\nimage:\n  - url: %s\nnetwork: %s\n' "$1" "$W/img" "$2"
    if [ -n "${TOP_PORTS:-}" ]; then printf 'ports: [%s]\n' "$TOP_PORTS"; fi
    printf 'services:\n'
    cat
  } >"$W/proj/$1.yaml"
  chmod 644 "$W/proj/$1.yaml"
}

# web PORT TEXT: a service command serving TEXT on PORT inside.
web() {
  echo "[sh, -c, \"mkdir -p /tmp/w && echo $2 >/tmp/w/index.html && exec httpd -f -p $1 -h /tmp/w\"]"
}

# curl_until URL: the body once it answers (up to 10 s), else empty.
curl_until() {
  local body=
  for _ in $(seq 100); do
    body=$(curl -s --max-time 2 "$1") && [ -n "$body" ] && break
    sleep 0.1
  done
  echo "$body"
}

supervisor_of() { cat "$W"/home/state/envs/"$1"-*/supervisor.pid; }

@test "services: a service's published port answers on the host; ps shows it; the dev sandbox's ports too" {
  need_pasta
  local port top
  port=$(free_port); top=$(free_port)
  TOP_PORTS="\"$top:9090\"" svc_spec pubsvc private <<YAML
  web:
    command: $(web 8080 "from the service")
    ports: ["127.0.0.1:$port:8080"]
YAML
  run --separate-stderr in_proj up -f pubsvc.yaml
  echo "$output / $stderr"
  [ "$status" -eq 0 ]
  [[ "$stderr" != *warning* ]]
  [ "$(curl_until "http://127.0.0.1:$port/")" = "from the service" ]
  # one pasta for the environment, the supervisor's child, as its user
  local p sup
  p=$(pastas_with "127.0.0.1/$port:8080"); sup=$(supervisor_of pubsvc)
  [ -n "$p" ]
  [ "$(awk '{print $4}' "/proc/$p/stat")" = "$sup" ]
  [ "$(stat -c %u "/proc/$p")" = "$(runner_uid)" ]
  [[ "$(tr '\0' ' ' <"/proc/$p/cmdline")" == *"127.0.0.1/$top:9090"* ]]
  # ps: each service's ports, and the dev sandbox's
  run in_proj ps -f pubsvc.yaml
  echo "$output"
  [[ "${lines[0]}" == *PORTS ]]
  [[ "${lines[1]}" == "web "*"127.0.0.1:$port->8080/tcp" ]]
  [ "${lines[2]}" = "the dev sandbox's ports: 127.0.0.1:$top->9090/tcp" ]
  run in_proj --json ps -f pubsvc.yaml
  [ "$(jq -r '.services[0].ports | join(",")' <<<"$output")" = "127.0.0.1:$port->8080/tcp" ]
  [ "$(jq -r '.ports | join(",")' <<<"$output")" = "127.0.0.1:$top->9090/tcp" ]
  # the dev sandbox joins the network: its top-level port is published while the environment is up
  in_proj run -f pubsvc.yaml -- sh -c 'mkdir /tmp/d && echo "from the dev sandbox" >/tmp/d/index.html &&
    httpd -p 9090 -h /tmp/d && sleep 3' 3>&- &
  local bg=$!
  [ "$(curl_until "http://127.0.0.1:$top/")" = "from the dev sandbox" ]
  wait "$bg"
  run in_proj down -f pubsvc.yaml
  [ "$status" -eq 0 ]
  [ -z "$(pastas_with "127.0.0.1/$port:8080")" ]
  run curl -s --max-time 2 "http://127.0.0.1:$port/"
  [ "$status" -ne 0 ]
}

@test "services: kill -9 of the supervisor leaves no pasta behind" {
  need_pasta
  local port
  port=$(free_port)
  svc_spec killsvc private <<YAML
  web:
    command: $(web 8080 killed)
    ports: ["$port:8080"]
YAML
  in_proj -q up -f killsvc.yaml
  [ "$(curl_until "http://127.0.0.1:$port/")" = killed ]
  local p sup
  p=$(pastas_with "127.0.0.1/$port:8080"); sup=$(supervisor_of killsvc)
  [ -n "$p" ]; [ -n "$sup" ]
  kill -9 "$sup"
  for _ in $(seq 50); do [ -z "$(pastas_with "127.0.0.1/$port:8080")" ] && break; sleep 0.1; done
  [ -z "$(pastas_with "127.0.0.1/$port:8080")" ]
  run curl -s --max-time 2 "http://127.0.0.1:$port/"
  [ "$status" -ne 0 ]
  in_proj -q down -f killsvc.yaml
  # up again: the port is free for it
  in_proj -q up -f killsvc.yaml
  [ "$(curl_until "http://127.0.0.1:$port/")" = killed ]
  in_proj -q down -f killsvc.yaml
}

# The host's address on its default route's interface.
host_addr() {
  ip -4 -o addr show dev "$(ip -4 route show default | awk '{ print $5; exit }')" | awk '{ split($4, a, "/"); print a[1]; exit }'
}

# udp_ask ADDR PORT TEXT: send TEXT to ADDR:PORT over UDP until an answer
# comes (up to 10 s); print it.
udp_ask() {
  python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(0.2)
for _ in range(50):
    s.sendto(sys.argv[3].encode(), (sys.argv[1], int(sys.argv[2])))
    try:
        print(s.recv(600).decode()); break
    except OSError:
        pass' "$1" "$2" "$3"
}

# Debian 12's pasta (2023-03) loses the replies to UDP clients on the host's
# loopback (docs/SPEC.md, ports): these tests publish on the host's address.
@test "services: a UDP port (/udp) is published beside a TCP one on the same number; a UDP port in use fails up" {
  need_pasta
  local port addr
  port=$(free_port); addr=$(host_addr)
  [ -n "$addr" ]
  svc_spec udpsvc private <<YAML
  dns:
    command: [probe, udp-echo, "5353"]
    ports: ["$addr:$port:5353/udp"]
  web:
    command: $(web 8080 "tcp too")
    ports: ["$addr:$port:8080"]
YAML
  run --separate-stderr in_proj up -f udpsvc.yaml
  echo "$output / $stderr"
  [ "$status" -eq 0 ]
  [ "$(udp_ask "$addr" "$port" hello)" = "echo: hello" ]
  [ "$(curl_until "http://$addr:$port/")" = "tcp too" ]
  run in_proj --json ps -f udpsvc.yaml
  [ "$(jq -r '.services[] | select(.name == "dns") | .ports[0]' <<<"$output")" = "$addr:$port->5353/udp" ]
  [ "$(jq -r '.services[] | select(.name == "web") | .ports[0]' <<<"$output")" = "$addr:$port->8080/tcp" ]
  in_proj -q down -f udpsvc.yaml
  # the dev sandbox's own UDP port, while it runs
  spec udprun private "\"$addr:$port:5353/udp\""
  in_proj run -f udprun.yaml -- sh -c 'probe udp-echo 5353 & sleep 30' 3>&- &
  local bg=$!
  [ "$(udp_ask "$addr" "$port" again)" = "echo: again" ]
  kill "$(pgrep -f "^$W/bin/berth run -f udprun.yaml" | head -1)"
  wait "$bg" || true
  # a UDP port some process holds: up fails naming it, TCP on it is no excuse
  python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind((sys.argv[1], int(sys.argv[2]))); time.sleep(30)' "$addr" "$port" 3>&- &
  local holder=$!
  for _ in $(seq 50); do ss -lun "sport = :$port" | grep -q ":$port" && break; sleep 0.05; done
  run --separate-stderr in_proj up -f udpsvc.yaml
  kill "$holder"
  echo "$output / $stderr"
  [ "$status" -eq 1 ]
  [ "$stderr" = "berth: service dns: ports: host port $addr:$port/udp cannot be published: it is already in use (or not allowed here)" ]
  [ "$(in_proj --json ps -f udpsvc.yaml | jq -r .environment)" = down ]
}

@test "services: a host port in use fails up naming the port and the service; nothing is left running" {
  need_pasta
  local port other
  port=$(free_port); other=$(free_port)
  python3 -c '
import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(); time.sleep(30)' "$port" 3>&- &
  local holder=$!
  for _ in $(seq 50); do ss -ltn "sport = :$port" | grep -q LISTEN && break; sleep 0.05; done
  svc_spec busysvc private <<YAML
  db:
    command: [sleep, "1000"]
    ports: ["$other:5432"]
  web:
    command: $(web 8080 busy)
    ports: ["127.0.0.1:$port:8080"]
YAML
  run --separate-stderr in_proj up -f busysvc.yaml
  echo "$output / $stderr"
  [ "$status" -eq 1 ]
  [ "$stderr" = "berth: service web: ports: host port 127.0.0.1:$port cannot be published: it is already in use (or not allowed here)" ]
  [ "$(in_proj --json ps -f busysvc.yaml | jq -r .environment)" = down ]
  [ -z "$(pastas_with "/$other:5432")" ]
  # run of the environment fails the same way, before its command
  run --separate-stderr in_proj run -f busysvc.yaml -- echo ran
  kill "$holder"
  [ "$status" -eq 125 ]
  [ -z "$output" ]
  [[ "$stderr" == *"service web: ports: host port 127.0.0.1:$port cannot be published"* ]]
  [ "$(in_proj --json ps -f busysvc.yaml | jq -r .environment)" = down ]
}

@test "services: network private reaches the host's loopback from a service and the dev sandbox; none does not" {
  need_pasta
  local port gw
  port=$(cat "$W/host-port"); gw=$(gateway)
  svc_spec outsvc private <<YAML
  app:
    command: [sleep, "1000"]
YAML
  in_proj -q up -f outsvc.yaml
  run in_proj exec -f outsvc.yaml app -- sh -c "$(get "$gw" "$port" /hello.txt)"
  echo "$output"
  [[ "$output" == "HTTP/1.0 200 OK"*"from the host's loopback"* ]]
  run in_proj exec -f outsvc.yaml app -- cat /etc/resolv.conf
  [[ "$output" == *"nameserver 169.254.1.1"* ]]
  # the dev sandbox joins the environment's network, and its outbound access
  run --separate-stderr in_proj run -f outsvc.yaml -- sh -c "$(get "$gw" "$port" /hello.txt)"
  echo "$output / $stderr"
  [ "$status" -eq 0 ]
  [[ "$output" == "HTTP/1.0 200 OK"*"from the host's loopback"* ]]
  [ -z "$stderr" ]
  run in_proj run -f outsvc.yaml -- cat /etc/resolv.conf
  [[ "$output" == *"nameserver 169.254.1.1"* ]]
  in_proj -q down -f outsvc.yaml
  # run of an environment that is down brings it up: the same network
  run in_proj run -f outsvc.yaml -- sh -c "$(get "$gw" "$port" /hello.txt)"
  [[ "$output" == "HTTP/1.0 200 OK"*"from the host's loopback"* ]]
  # none: loopback only, for the services and the dev sandbox
  svc_spec nonesvc none <<YAML
  app:
    command: [sleep, "1000"]
YAML
  in_proj -q up -f nonesvc.yaml
  run in_proj exec -f nonesvc.yaml app -- sh -c "$(get "$gw" "$port" /hello.txt); ip -4 route"
  [ -z "$output" ]
  run in_proj run -f nonesvc.yaml -- sh -c "$(get "$gw" "$port" /hello.txt); ip -4 route"
  [ -z "$output" ]
  [ -z "$(ps --ppid "$(supervisor_of nonesvc)" -o comm= | grep pasta)" ]
  in_proj -q down -f nonesvc.yaml
}

@test "a pasta that fails (no route on the host) leaves loopback only with a warning, for a run and for services" {
  need pasta
  # pasta in a network namespace of its own, without interfaces: as on a
  # host without a route (a user's needs a user namespace for it)
  cat >"$W/bin/pasta-noroute" <<SH
#!/bin/sh
if [ "\$(id -u)" = 0 ]; then exec unshare -n $(command -v pasta) "\$@"; fi
exec unshare -rn $(command -v pasta) "\$@"
SH
  chmod 755 "$W/bin/pasta-noroute"
  spec pfail private
  BERTH_PASTA=$W/bin/pasta-noroute run --separate-stderr in_proj run -f pfail.yaml -- ip -4 route
  echo "$output / $stderr"
  [ "$status" -eq 0 ]; [ -z "$output" ]
  [[ "$stderr" == 'berth: warning: network: "private" has loopback only: '* ]]
  svc_spec pfsvc private <<YAML
  app:
    command: [sleep, "1000"]
YAML
  BERTH_PASTA=$W/bin/pasta-noroute run --separate-stderr in_proj up -f pfsvc.yaml
  echo "$output / $stderr"
  [ "$status" -eq 0 ]
  [[ "$stderr" == *'berth: warning: network: "private" has loopback only: '* ]]
  [ "$(in_proj --json ps -f pfsvc.yaml | jq -r '.warnings[0].key')" = network ]
  run in_proj run -f pfsvc.yaml -- ip -4 route
  [ "$status" -eq 0 ]; [ -z "$output" ]
  in_proj -q down -f pfsvc.yaml
  # with a pasta that works, no warning
  need_pasta
  run --separate-stderr in_proj up -f pfsvc.yaml
  [ "$status" -eq 0 ]
  [[ "$stderr" != *warning* ]]
  [ "$(in_proj --json ps -f pfsvc.yaml | jq -r '.warnings | length')" = 0 ]
  in_proj -q down -f pfsvc.yaml
}

@test "services: without pasta, private is loopback only with a warning; ports are an error; with none too" {
  svc_spec nopsvc private <<YAML
  app:
    command: [sleep, "1000"]
YAML
  BERTH_PASTA=/nonexistent run --separate-stderr in_proj up -f nopsvc.yaml
  echo "$output / $stderr"
  [ "$status" -eq 0 ]
  [ "${stderr_lines[0]}" = 'berth: warning: network: "private" has loopback only: pasta is not installed (Debian package passt) (see berth doctor)' ]
  BERTH_PASTA=/nonexistent run --separate-stderr in_proj --json run -f nopsvc.yaml -- ip -4 route
  [ "$status" -eq 0 ]; [ -z "$output" ]
  [ "$(jq -r '.warnings | map(.key) | join(",")' <<<"$stderr")" = network ]
  in_proj -q down -f nopsvc.yaml
  svc_spec noppsvc private <<YAML
  web:
    command: $(web 8080 x)
    ports: ["127.0.0.1:8080:8080"]
YAML
  BERTH_PASTA=/nonexistent run --separate-stderr in_proj up -f noppsvc.yaml
  [ "$status" -eq 1 ]
  [ "$stderr" = "berth: service web: ports: cannot be published: pasta is not installed (Debian package passt) (see berth doctor)" ]
  [ "$(in_proj --json ps -f noppsvc.yaml | jq -r .environment)" = down ]
  # network none: nothing could reach a port, for a service or the dev sandbox
  svc_spec nonepsvc none <<YAML
  web:
    command: $(web 8080 x)
    ports: ["127.0.0.1:8080:8080"]
YAML
  run --separate-stderr in_proj up -f nonepsvc.yaml
  [ "$status" -eq 2 ]
  [ "$stderr" = 'berth: service web: ports: cannot be published with network "none" (loopback only); use "private"' ]
  TOP_PORTS='"8080:80"' svc_spec nonetop none <<YAML
  app:
    command: [sleep, "1000"]
YAML
  run --separate-stderr in_proj run -f nonetop.yaml -- true
  [ "$status" -eq 125 ]
  [ "$stderr" = 'berth: ports: cannot be published with network "none" (loopback only); use "private"' ]
  [ "$(in_proj --json ps -f nonetop.yaml | jq -r .environment)" = down ]
}

@test "services: network host uses the host's network; a service's ports are its own, with a warning" {
  local port
  port=$(free_port)
  svc_spec hostsvc host <<YAML
  web:
    command: $(web "$port" hostnet-body)
    ports: ["127.0.0.1:$port:$port"]
YAML
  run --separate-stderr in_proj up -f hostsvc.yaml
  echo "$output / $stderr"
  [ "$status" -eq 0 ]
  [ "${stderr_lines[0]}" = "berth: warning: ports: service web: not published: with network \"host\" the service listens on the host's ports itself" ]
  # the service listens on the host's loopback itself: no pasta
  [ "$(curl_until "http://127.0.0.1:$port/")" = hostnet-body ]
  [ -z "$(pastas_with "$port")" ]
  # the dev sandbox is on the host's network too, and sees the service by name
  run --separate-stderr in_proj run -f hostsvc.yaml -- sh -c "$(get web "$port" /)"
  [[ "$output" == "HTTP/1."*" 200 OK"*hostnet-body* ]]
  run in_proj exec -f hostsvc.yaml web -- cat /etc/hostname
  [ "$status" -eq 0 ]; [ "$output" = web ]
  in_proj -q down -f hostsvc.yaml
  run curl -s --max-time 2 "http://127.0.0.1:$port/"
  [ "$status" -ne 0 ]
}
