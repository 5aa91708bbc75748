#!/usr/bin/env bats
# OCI images, continued: berth.lock pinning tags, services taking an image's
# config, image ls, registry configuration and podman save archives. Against
# Debian's docker-registry with images pushed by skopeo.

load helpers
load registry

setup() {
  common_setup
  export BERTH_REGISTRY_TIMEOUT=3
  unset XDG_RUNTIME_DIR XDG_CONFIG_HOME
  export HOME=$T/home
  mkdir -p "$HOME"
}

teardown() {
  for f in "$T"/*.yaml; do [ -e "$f" ] && "$BERTH" down -f "$f" >/dev/null 2>&1; done
  common_teardown
}

spec_for() {
  printf 'berth: 1\nname: oci-test\nimage:\n  - oci: "%s"\n' "$1" >"$T/berth.yaml"
}

# The digest a tag names in the registry, as skopeo sees it.
tag_digest() {
  skopeo inspect --tls-verify=false --format '{{.Digest}}' "docker://127.0.0.1:$RP/$1"
}

lock_digest() {
  "$PYTHON" -c 'import json,sys; print(json.load(open(sys.argv[1]))["layers"][0]["sha256"])' "$T/berth.lock"
}

@test "oci2: berth lock pins a tag to its digest; pulls and runs use it without a tag lookup, offline too; --update moves it" {
  start_registry
  push busybox busybox
  spec_for "127.0.0.1:$RP/busybox:1"
  first=$(tag_digest busybox:1)
  run "$BERTH" lock -f "$T/berth.yaml"
  [ "$status" -eq 0 ]
  grep -q "\"oci\": \"127.0.0.1:$RP/busybox:1\"" "$T/berth.lock"
  [ "sha256:$(lock_digest)" = "$first" ]
  # the tag moves to another image; the lock keeps what it pinned
  push service busybox
  second=$(tag_digest busybox:1)
  [ "$first" != "$second" ]
  run "$BERTH" lock -f "$T/berth.yaml"
  [ "sha256:$(lock_digest)" = "$first" ]
  run "$BERTH" pull -f "$T/berth.yaml"
  echo "$output"
  [ "$status" -eq 0 ]
  [[ "${lines[0]}" == "image 127.0.0.1:$RP/busybox:1@$first sha256:"*" 2 layers" ]]
  [[ "$output" != *warning* ]]
  run "$BERTH" run --ephemeral -f "$T/berth.yaml"
  [ "$output" = "hello-from-config from /srv" ]
  # spec show gives the reference the lock pulls, which reads back as a spec
  "$BERTH" spec show -f "$T/berth.yaml" >"$T/shown.yaml"
  grep -q "^  - oci: \"127.0.0.1:$RP/busybox:1@$first\"$" "$T/shown.yaml"
  "$BERTH" validate -f "$T/shown.yaml"
  # --update resolves the tag again
  cp "$T/berth.lock" "$T/first.lock"
  run "$BERTH" lock --update -f "$T/berth.yaml"
  [ "$status" -eq 0 ]
  [ "sha256:$(lock_digest)" = "$second" ]
  mv "$T/first.lock" "$T/berth.lock"
  # the registry goes away: pull (--locked too) and run need nothing from it
  kill "${PIDS[-1]}"
  wait "${PIDS[-1]}" 2>/dev/null || true
  run "$BERTH" pull --locked -f "$T/berth.yaml"
  echo "$output"
  [ "$status" -eq 0 ]
  run "$BERTH" run --ephemeral -f "$T/berth.yaml" -- cat /etc/motd
  [ "$output" = "from layer two" ]
  # a lock that pins something else for the entry is stale
  sed -i "s|\"oci\": \"127.0.0.1:$RP/busybox:1\"|\"oci\": \"127.0.0.1:$RP/other:1\"|" "$T/berth.lock"
  run "$BERTH" pull --locked -f "$T/berth.yaml"
  [ "$status" -eq 1 ]
  [[ "$output" == *"image[0]: oci:127.0.0.1:$RP/busybox:1 is not what berth.lock pins there (oci:127.0.0.1:$RP/other:1)"* ]]
}

@test "oci2: berth pull without a lock warns that a tag is not pinned; a digest in the reference needs no lock" {
  start_registry
  push busybox busybox
  spec_for "127.0.0.1:$RP/busybox:1"
  digest=$(tag_digest busybox:1)
  run "$BERTH" pull -f "$T/berth.yaml"
  [ "$status" -eq 0 ]
  [ "${lines[1]}" = "$T/berth.yaml:4:5: warning: oci: 127.0.0.1:$RP/busybox:1 is not pinned by a digest (berth lock pins it); it resolved to $digest" ]
  spec_for "127.0.0.1:$RP/busybox@$digest"
  run "$BERTH" lock -f "$T/berth.yaml"
  [ "$status" -eq 0 ]
  [ "sha256:$(lock_digest)" = "$digest" ]
  run "$BERTH" pull -f "$T/berth.yaml"
  [ "$status" -eq 0 ]
  [[ "$output" != *warning* ]]
}

# A spec whose service web runs its own OCI image, with $T/out at /out.
service_spec() {
  mkdir -p "$T/out"
  cat >"$T/svc.yaml" <<YAML
berth: 1
name: oci-svc
image:
  - oci: "127.0.0.1:$RP/svc:1"
services:
  web:
    image:
      - oci: "127.0.0.1:$RP/svc:1"
    mounts: [{source: "$T/out", target: /out}]
$1
YAML
}

wait_said() {
  for _ in $(seq 100); do
    [ -s "$T/out/said" ] && break
    sleep 0.1
  done
  cat "$T/out/said"
}

@test "oci2: a service from an OCI image runs its Entrypoint and Cmd with its Env and WorkingDir; the spec's command, env and workdir win" {
  start_registry
  push service svc
  service_spec ""
  run "$BERTH" up -f "$T/svc.yaml"
  echo "$output"
  [ "$status" -eq 0 ]
  [ "$(wait_said)" = "from-image in /srv" ]
  run "$BERTH" down -f "$T/svc.yaml"
  [ "$status" -eq 0 ]
  rm "$T/out/said"
  # command replaces Cmd (the Entrypoint, sh -c, stays, as compose does)
  service_spec "    command: ['echo \"\$SVC_VAR cmd in \$PWD\" >/out/said; exec sleep 1000']
    env: {SVC_VAR: from-spec}
    workdir: /tmp"
  run "$BERTH" up -f "$T/svc.yaml"
  echo "$output"
  [ "$status" -eq 0 ]
  [ "$(wait_said)" = "from-spec cmd in /tmp" ]
  run "$BERTH" down -f "$T/svc.yaml"
  [ "$status" -eq 0 ]
}

@test "oci2: a service without command needs an OCI image to take one from" {
  printf 'berth: 1\nname: plain\nimage: [{url: %s}]\nservices:\n  web: {user: x}\n' "$T" >"$T/plain.yaml"
  run "$BERTH" validate -f "$T/plain.yaml"
  [ "$status" -eq 2 ]
  [[ "$output" == *"plain.yaml:5:3: services.web.command: required key is missing (only an OCI image's Entrypoint and Cmd can stand for it)" ]]
}

@test "oci2: image ls shows each OCI image's reference, platform, digest, size and last use, then the layers; --json too" {
  start_registry
  push busybox busybox
  spec_for "127.0.0.1:$RP/busybox:1"
  run "$BERTH" pull -f "$T/berth.yaml"
  [ "$status" -eq 0 ]
  digest=$(tag_digest busybox:1)
  size=$(skopeo inspect --tls-verify=false --raw "docker://127.0.0.1:$RP/busybox:1" | jq '[.layers[].size] | add')
  run "$BERTH" image ls
  echo "$output"
  [ "$status" -eq 0 ]
  [[ "${lines[0]}" =~ ^IMAGE\ +PLATFORM\ +DIGEST\ +LAYERS\ +SIZE\ +LAST\ USED$ ]]
  [[ "${lines[1]}" =~ ^127\.0\.0\.1:$RP/busybox:1\ +linux/[a-z0-9]+\ +${digest:7:12}\ +2\ +[0-9.]+\ [KM]iB\ +20[0-9-]+\ [0-9:]+$ ]]
  [[ "${lines[2]}" =~ ^DIGEST\ +ARCHIVE ]]
  run "$BERTH" --json image ls
  echo "$output" | jq -e --arg r "127.0.0.1:$RP/busybox:1" --arg d "$digest" --argjson s "$size" \
    '[.[] | select(.type == "image")] | length == 1 and .[0].reference == $r and .[0].digest == $d
     and .[0].layers == 2 and .[0].size == $s and .[0].last_used > 0 and .[0].complete'
  echo "$output" | jq -e '[.[] | select(.type == "layer")] | length == 4'
  # pulled again through a lock (by digest): the same image, listed once
  "$BERTH" lock -f "$T/berth.yaml"
  "$BERTH" pull -f "$T/berth.yaml"
  run "$BERTH" --json image ls
  echo "$output" | jq -e '[.[] | select(.type == "image")] | length == 1'
  # an archive is listed by its path
  skopeo --insecure-policy copy -q "oci:$T/layout-busybox:1" "oci-archive:$T/oci.tar:1"
  printf 'berth: 1\nname: arch\nimage:\n  - oci-archive: "%s"\n' "$T/oci.tar" >"$T/arch.yaml"
  "$BERTH" pull -f "$T/arch.yaml"
  run "$BERTH" image ls
  [[ "${lines[1]}" =~ ^127\.0\.0\.1:$RP/busybox:1\  ]]
  [[ "${lines[2]}" =~ ^oci-archive:$T/oci\.tar\ +linux/ ]]
}

@test "oci2: registries.conf: mirrors asked first, plain http only for hosts listed as insecure (and the loopback); a bad line is named" {
  start_fakeregistry
  mkdir -p "$HOME/.config/berth"
  conf=$HOME/.config/berth/registries.conf
  port=${REG#*:}
  # 0.0.0.0 reaches the loopback, but is not one of its names: https unless listed
  printf '# a mirror for a registry that does not exist\nmirror example.invalid:5000 0.0.0.0:%s  # the fake one\n' "$port" >"$conf"
  spec_for "example.invalid:5000/good/app:1"
  run "$BERTH" pull -f "$T/berth.yaml"
  echo "$output"
  [ "$status" -eq 1 ]
  [[ "$output" == *"example.invalid:5000/good/app:1: "* ]]
  [ ! -s "$REGLOG" ]
  printf 'insecure 0.0.0.0:%s\n' "$port" >>"$conf"
  run "$BERTH" pull -f "$T/berth.yaml"
  echo "$output"
  [ "$status" -eq 0 ]
  [[ "${lines[0]}" == "image example.invalid:5000/good/app:1 sha256:"*" 2 layers" ]]
  grep -q "^GET /v2/good/app/manifests/1 " "$REGLOG"
  # XDG_CONFIG_HOME wins over ~/.config
  mkdir -p "$T/xdg/berth"
  echo "mirror example.invalid:5000" >"$T/xdg/berth/registries.conf"
  XDG_CONFIG_HOME=$T/xdg run "$BERTH" pull -f "$T/berth.yaml"
  [ "$status" -eq 2 ]
  [[ "$output" == *"$T/xdg/berth/registries.conf:1: expected \"mirror REGISTRY MIRROR\" or \"insecure HOST[:PORT]\""* ]]
}

# podman with a throwaway store under $T: nothing of the machine's own.
podman_t() {
  podman --root "$T/podman/root" --runroot "$T/podman/run" --cgroup-manager=cgroupfs --events-backend=none \
    --storage-driver=vfs "$@"
}

@test "oci2: podman save archives (docker-archive, oci-archive, and a multi-image docker-archive) pull and run with the image config" {
  command -v podman >/dev/null || need "podman (scripts/deps.sh)"
  start_registry
  push busybox busybox
  push service svc
  podman_t pull -q --tls-verify=false "127.0.0.1:$RP/busybox:1" "127.0.0.1:$RP/svc:1" >/dev/null
  podman_t save -q --format docker-archive -o "$T/docker.tar" "127.0.0.1:$RP/busybox:1"
  podman_t save -q --format oci-archive -o "$T/oci.tar" "127.0.0.1:$RP/busybox:1"
  podman_t save -q -m --format docker-archive -o "$T/multi.tar" "127.0.0.1:$RP/busybox:1" "127.0.0.1:$RP/svc:1"
  for kind in docker oci; do
    printf 'berth: 1\nname: podman\nimage:\n  - %s-archive: "%s"\n' "$kind" "$T/$kind.tar" >"$T/berth.yaml"
    run "$BERTH" pull -f "$T/berth.yaml"
    echo "$kind: $output"
    [ "$status" -eq 0 ]
    [[ "$output" == "image $T/$kind.tar sha256:"*" 2 layers" ]]
    run "$BERTH" run --ephemeral -f "$T/berth.yaml"
    [ "$output" = "hello-from-config from /srv" ]
    run "$BERTH" run --ephemeral -f "$T/berth.yaml" -- sh -c 'cat /etc/motd; test -e /etc/gone || echo gone'
    [ "$output" = "$(printf 'from layer two\ngone')" ]
  done
  # several images: ref picks one by the name podman gave it
  printf 'berth: 1\nname: podman\nimage:\n  - docker-archive: "%s"\n    ref: "127.0.0.1:%s/svc:1"\n' "$T/multi.tar" "$RP" >"$T/berth.yaml"
  run "$BERTH" pull -f "$T/berth.yaml"
  [ "$status" -eq 0 ]
  run "$BERTH" run --ephemeral -f "$T/berth.yaml" -- sh -c 'echo "$SVC_VAR"'
  [ "$output" = "from-image" ]
  printf 'berth: 1\nname: podman\nimage:\n  - docker-archive: "%s"\n' "$T/multi.tar" >"$T/berth.yaml"
  run "$BERTH" pull -f "$T/berth.yaml"
  echo "$output"
  [ "$status" -eq 1 ]
  [[ "$output" == *"$T/multi.tar: "*"127.0.0.1:$RP/busybox:1"*"127.0.0.1:$RP/svc:1"* ]]
}

@test "oci2: berth pull names the reference in each registry error: unauthorized (with the auth file), unknown tag, platform, media type, down" {
  start_fakeregistry
  pull_says() {
    spec_for "$1"
    run "$BERTH" pull -f "$T/berth.yaml"
    echo "$output"
    [ "$status" -eq 1 ]
    [ "$output" = "berth: pull: $T/berth.yaml:4:5: $1: $2" ]
  }
  pull_says "$REG/basic/app:1" "unauthorized (no credentials for $REG in \$XDG_RUNTIME_DIR/containers/auth.json or ~/.docker/config.json)"
  mkdir -p "$HOME/.docker"
  echo "{\"auths\": {\"$REG\": {\"auth\": \"$(printf u:wrong | base64)\"}}}" >"$HOME/.docker/config.json"
  pull_says "$REG/basic/app:1" "unauthorized (credentials from $HOME/.docker/config.json were refused)"
  pull_says "$REG/good/app:nope" "tag nope is not in the registry"
  pull_says "$REG/noplat/app:1" "no image for platform linux/amd64 in the index (it has linux/s390x)"
  pull_says "$REG/artifact/app:1" "manifest: config (not a container image): unsupported media type \"application/vnd.oci.empty.v1+json\""
  port=$(free_port)
  spec_for "127.0.0.1:$port/app:1"
  run "$BERTH" pull -f "$T/berth.yaml"
  [ "$status" -eq 1 ]
  [[ "$output" == "berth: pull: $T/berth.yaml:4:5: 127.0.0.1:$port/app:1: registry http://127.0.0.1:$port is down or unreachable: "* ]]
  # doctor says where credentials and mirrors come from
  run "$BERTH" doctor
  [[ "$output" == *$'\nregistries.conf   none ('"$HOME/.config/berth/registries.conf)"$'\nregistry auth     '"$HOME/.docker/config.json"* ]]
  mkdir -p "$HOME/.config/berth"
  printf 'mirror docker.io 127.0.0.1:5000\ninsecure registry.lan:5000\n' >"$HOME/.config/berth/registries.conf"
  run "$BERTH" doctor
  [[ "$output" == *$'\nregistries.conf   '"$HOME/.config/berth/registries.conf (mirrors: docker.io=127.0.0.1:5000; insecure: registry.lan:5000)"* ]]
  run "$BERTH" --json doctor
  echo "$output" | jq -e '.registries.mirrors == ["docker.io=127.0.0.1:5000"] and .registries.insecure == ["registry.lan:5000"] and .registries.error == null'
  echo "bogus line" >"$HOME/.config/berth/registries.conf"
  run "$BERTH" doctor
  [[ "$output" == *$'\nregistries.conf   broken: '"$HOME/.config/berth/registries.conf:1: expected"* ]]
}

@test "oci2: berth lock pins a local archive by its file's digest; --locked refuses it once the file changed" {
  command -v skopeo >/dev/null || need "skopeo (scripts/deps.sh)"
  "$PYTHON" "$OCILAYOUT" busybox "$T/layout" 1
  skopeo --insecure-policy copy -q "oci:$T/layout:1" "oci-archive:$T/oci.tar:1"
  printf 'berth: 1\nname: arch\nimage:\n  - oci-archive: "%s"\n' "$T/oci.tar" >"$T/berth.yaml"
  run "$BERTH" lock -f "$T/berth.yaml"
  [ "$status" -eq 0 ]
  grep -q "\"oci-archive\": \"$T/oci.tar\"" "$T/berth.lock"
  [ "$(lock_digest)" = "$(sha256sum <"$T/oci.tar" | cut -d' ' -f1)" ]
  run "$BERTH" pull --locked -f "$T/berth.yaml"
  [ "$status" -eq 0 ]
  echo >>"$T/oci.tar"
  run "$BERTH" pull --locked -f "$T/berth.yaml"
  echo "$output"
  [ "$status" -eq 1 ]
  [[ "$output" == *"image[0]: $T/oci.tar: sha256 is now "* ]]
}
