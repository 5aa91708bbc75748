# Registries on 127.0.0.1 for the OCI tests: fakeregistry.py, which plays
# each hostile case, and Debian's docker-registry with images pushed by
# skopeo from layouts that ocilayout.py builds.

start_fakeregistry() {
  REGLOG=$T/registry.log
  rm -f "$T/reg.port"
  "$PYTHON" "$FAKEREGISTRY" --port-file "$T/reg.port" --log "$REGLOG" &
  PIDS+=($!)
  for _ in $(seq 100); do
    [ -s "$T/reg.port" ] && break
    sleep 0.05
  done
  REG=127.0.0.1:$(cat "$T/reg.port")
}

free_port() {
  "$PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start_registry [token|htpasswd]: docker-registry on 127.0.0.1 with a
# throwaway config and store; sets RP (its port). With token, a token
# server (tokenserver.py) signs what the registry trusts; with htpasswd,
# user u, password p.
start_registry() {
  command -v docker-registry >/dev/null && command -v skopeo >/dev/null ||
    need "docker-registry and skopeo (scripts/deps.sh)"
  RP=$(free_port)
  mkdir -p "$T/registry"
  printf 'version: 0.1\nlog: {level: error}\nstorage:\n  filesystem: {rootdirectory: %s}\nhttp: {addr: 127.0.0.1:%s}\n' \
    "$T/registry/store" "$RP" >"$T/registry/config.yml"
  case "${1:-}" in
  token)
    openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=berth-test \
      -keyout "$T/registry/key.pem" -out "$T/registry/cert.pem" 2>/dev/null
    TOKLOG=$T/registry/token.log
    "$PYTHON" "$TOKENSERVER" --key "$T/registry/key.pem" --port-file "$T/registry/tp" --log "$TOKLOG" &
    PIDS+=($!)
    for _ in $(seq 100); do [ -s "$T/registry/tp" ] && break; sleep 0.05; done
    printf 'auth:\n  token:\n    realm: http://127.0.0.1:%s/token\n    service: berth-test-registry\n    issuer: berth-test\n    rootcertbundle: %s\n' \
      "$(cat "$T/registry/tp")" "$T/registry/cert.pem" >>"$T/registry/config.yml"
    ;;
  htpasswd)
    htpasswd -Bbn u p >"$T/registry/htpasswd"
    printf 'auth:\n  htpasswd: {realm: berth-test, path: %s}\n' "$T/registry/htpasswd" >>"$T/registry/config.yml"
    ;;
  esac
  docker-registry serve "$T/registry/config.yml" >"$T/registry/log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 100); do
    curl -s -o /dev/null "http://127.0.0.1:$RP/v2/" && break
    sleep 0.05
  done
}

# push LAYOUT-KIND NAME [SKOPEO-ARGS]: build an OCI layout and copy it in.
push() {
  local kind=$1 name=$2
  shift 2
  rm -rf "$T/layout-$name"
  "$PYTHON" "$OCILAYOUT" "$kind" "$T/layout-$name" 1
  skopeo --insecure-policy copy -q --all --dest-tls-verify=false "$@" \
    "oci:$T/layout-$name:1" "docker://127.0.0.1:$RP/$name:1"
}
