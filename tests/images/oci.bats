#!/usr/bin/env bats
# OCI images: the registry client against fakeregistry.py, a registry on
# 127.0.0.1 that plays each hostile case, and against Debian's
# docker-registry with images pushed by skopeo.

load helpers
load registry

setup() {
  common_setup
  export BERTH_REGISTRY_TIMEOUT=3
  unset XDG_RUNTIME_DIR
  export HOME=$T/home
  mkdir -p "$HOME"
}

teardown() { common_teardown; }

resolve() { run "$OCI_TOOL" resolve "$@"; }

@test "oci: an index resolves to the host's platform, or the one asked for" {
  start_fakeregistry
  resolve "$REG/good/app:1"
  [ "$status" -eq 0 ]
  [[ "${lines[0]}" == "manifest sha256:"*" application/vnd.oci.image.manifest.v1+json" ]]
  [[ "${lines[1]}" == "config sha256:"*" linux/amd64" ]]
  [[ "${lines[2]}" == "layer sha256:"*" application/vnd.oci.image.layer.v1.tar+gzip" ]]
  [ "${lines[4]}" = "env PATH=/usr/bin:/bin GREETING=from-config" ]
  [ "${lines[6]}" = "cmd /bin/sh -c echo hi" ]
  [ "${lines[7]}" = "workdir /srv" ]
  resolve "$REG/good/app:1" linux/arm64/v8
  [ "$status" -eq 0 ]
  [[ "${lines[1]}" == *" linux/arm64" ]]
  # pinned by the digest the tag resolved to
  resolve "$REG/good/app:1" linux/amd64
  digest=$(echo "${lines[0]}" | cut -d' ' -f2)
  resolve "$REG/good/app@$digest"
  [ "$status" -eq 0 ]
  [ "$(echo "${lines[0]}" | cut -d' ' -f2)" = "$digest" ]
  # a Docker schema 2 manifest, served without an index
  resolve "$REG/single/app:1"
  [ "$status" -eq 0 ]
  [[ "${lines[0]}" == *" application/vnd.docker.distribution.manifest.v2+json" ]]
  [[ "${lines[2]}" == *" application/vnd.docker.image.rootfs.diff.tar.gzip" ]]
}

@test "oci: each hostile registry is refused with a message naming the reference" {
  start_fakeregistry
  refused() {
    local repo=$1 want=$2
    run "$OCI_TOOL" resolve "$REG/$repo:1"
    echo "$repo: $output"
    [ "$status" -eq 1 ]
    [[ "$output" == "oci-tool: $REG/$repo:1: "*"$want"* ]]
  }
  refused big/app "the manifest is larger than the limit of 4194304 bytes"
  refused mdigest/app "manifest: digest mismatch: the registry says sha256:0000000000000000000000000000000000000000000000000000000000000000, the bytes are sha256:"
  refused cdigest/app "config: digest mismatch: expected sha256:"
  refused loop/app "more than 5 redirects (a redirect loop?)"
  refused selfindex/app "points at itself (its entry sha256:5555555555555555555555555555555555555555555555555555555555555555 is served as the index again)"
  refused cfglayer/app "manifest: layers[1] is the config blob sha256:"
  refused noplat/app "no image for platform linux/amd64 in the index (it has linux/s390x)"
  refused schema1/app "manifest: Docker schema 1 manifests are not supported"
  refused artifact/app "unsupported media type \"application/vnd.oci.empty.v1+json\""
  run "$OCI_TOOL" resolve "$REG/good/app:nope"
  [ "$output" = "oci-tool: $REG/good/app:nope: tag nope is not in the registry" ]
  # a manifest pinned by digest that the registry serves other bytes for
  run "$OCI_TOOL" resolve "$REG/good/app:1"
  digest=$(echo "${lines[0]}" | cut -d' ' -f2)
  run "$OCI_TOOL" resolve "$REG/mdigest/app@$digest"
  [ "$status" -eq 1 ]
  [[ "$output" == *"manifest: digest mismatch: expected $digest, got sha256:"* ]]
}

@test "oci: a token server that hangs is given up on within BERTH_REGISTRY_TIMEOUT" {
  start_fakeregistry
  export BERTH_REGISTRY_TIMEOUT=2
  start=$(date +%s)
  run "$OCI_TOOL" resolve "$REG/tokenhang/app:1"
  end=$(date +%s)
  [ "$status" -eq 1 ]
  [[ "$output" == "oci-tool: $REG/tokenhang/app:1: token: GET http://$REG/token-hang?service=fake&scope=repository%3Atokenhang%2Fapp%3Apull: no complete answer within 2 s (BERTH_REGISTRY_TIMEOUT)"* ]]
  [ $((end - start)) -lt 10 ]
}

@test "oci: anonymous bearer tokens; basic auth from auth.json, with a hint at the file when refused" {
  start_fakeregistry
  resolve "$REG/token/app:1"
  [ "$status" -eq 0 ]
  grep -q "^GET /token?service=fake&scope=repository%3Atoken%2Fapp%3Apull -$" "$REGLOG"
  grep -q "^GET /v2/token/app/blobs/sha256:.* Bearer fake-token-1$" "$REGLOG"
  resolve "$REG/tokenbad/app:1"
  [ "$output" = "oci-tool: $REG/tokenbad/app:1: token: unauthorized (no credentials for $REG in \$XDG_RUNTIME_DIR/containers/auth.json or ~/.docker/config.json)" ]
  resolve "$REG/basic/app:1"
  [ "$status" -eq 1 ]
  [[ "$output" == *": unauthorized (no credentials for $REG in"* ]]
  # podman's file wins over docker's; a wrong password names the file
  export XDG_RUNTIME_DIR=$T/run
  mkdir -p "$XDG_RUNTIME_DIR/containers" "$HOME/.docker"
  echo "{\"auths\": {\"$REG\": {\"auth\": \"$(printf u:p | base64)\"}}}" >"$HOME/.docker/config.json"
  resolve "$REG/basic/app:1"
  [ "$status" -eq 0 ]
  echo "{\"auths\": {\"http://$REG/basic\": {\"auth\": \"$(printf u:wrong | base64)\"}}}" \
    >"$XDG_RUNTIME_DIR/containers/auth.json"
  resolve "$REG/basic/app:1"
  [ "$output" = "oci-tool: $REG/basic/app:1: unauthorized (credentials from $XDG_RUNTIME_DIR/containers/auth.json were refused)" ]
  grep -q "^GET /v2/basic/app/manifests/1 Basic $(printf u:wrong | base64)$" "$REGLOG"
}

@test "oci: a registry that is down is named" {
  port=$("$PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  run "$OCI_TOOL" resolve "127.0.0.1:$port/app:1"
  [ "$status" -eq 1 ]
  [[ "$output" == "oci-tool: 127.0.0.1:$port/app:1: registry http://127.0.0.1:$port is down or unreachable: "* ]]
}

@test "oci: mirrors are asked first; a mirror that fails hands over to the registry" {
  start_fakeregistry
  first=$REG
  firstlog=$REGLOG
  start_fakeregistry
  export BERTH_REGISTRY_MIRRORS="example.invalid:5000=$first"
  resolve "example.invalid:5000/good/app:1"
  # the mirror answered; the registry itself (not resolvable) was never asked
  [ "$status" -eq 0 ]
  grep -q "^GET /v2/good/app/manifests/1 " "$firstlog"
  export BERTH_REGISTRY_MIRRORS="$first=127.0.0.1:1,$first=$REG"
  resolve "$first/good/app:1"
  [ "$status" -eq 0 ]
  grep -q "^GET /v2/good/app/manifests/1 " "$REGLOG"
}

# ---- Debian's docker-registry, images pushed with skopeo ----------------------

@test "oci: docker-registry: a pushed image and a multi-arch index resolve" {
  start_registry
  push busybox busybox
  push multi multi
  resolve "127.0.0.1:$RP/busybox:1"
  [ "$status" -eq 0 ]
  [ "$(grep -c '^layer ' <<<"$output")" -eq 2 ]
  [ "${lines[6]}" = 'cmd sh -c echo "$GREETING from $PWD"' ]
  resolve "127.0.0.1:$RP/multi:1" linux/arm64/v8
  [ "$status" -eq 0 ]
  [[ "${lines[1]}" == *" linux/arm64" ]]
  [ "$(grep -c '^layer ' <<<"$output")" -eq 1 ]
  resolve "127.0.0.1:$RP/multi:1" linux/riscv64
  [ "$status" -eq 1 ]
  [[ "$output" == *"no image for platform linux/riscv64 in the index (it has linux/amd64, linux/arm64/v8)" ]]
  resolve "127.0.0.1:$RP/busybox:2"
  [ "$output" = "oci-tool: 127.0.0.1:$RP/busybox:2: tag 2 is not in the registry" ]
}

@test "oci: docker-registry with token auth: anonymous bearer token" {
  start_registry token
  push busybox busybox
  resolve "127.0.0.1:$RP/busybox:1"
  [ "$status" -eq 0 ]
  grep -q "^GET /token?service=berth-test-registry&scope=repository%3Abusybox%3Apull -$" "$TOKLOG"
}

@test "oci: docker-registry with htpasswd: basic auth from auth.json" {
  start_registry htpasswd
  push busybox busybox --dest-creds u:p
  resolve "127.0.0.1:$RP/busybox:1"
  [ "$status" -eq 1 ]
  [[ "$output" == *": unauthorized (no credentials for 127.0.0.1:$RP in "* ]]
  export XDG_RUNTIME_DIR=$T/run
  mkdir -p "$XDG_RUNTIME_DIR/containers"
  echo "{\"auths\": {\"127.0.0.1:$RP\": {\"auth\": \"$(printf u:p | base64)\"}}}" \
    >"$XDG_RUNTIME_DIR/containers/auth.json"
  resolve "127.0.0.1:$RP/busybox:1"
  [ "$status" -eq 0 ]
}

# ---- berth pull and run -------------------------------------------------------

spec_for() {
  printf 'berth: 1\nname: oci-test\nimage:\n  - oci: "%s"\n' "$1" >"$T/berth.yaml"
}

# Final names in the cache (temporary dot-names aside).
cache_entries() {
  find "$BERTH_CACHE_DIR/blobs/sha256" "$BERTH_CACHE_DIR/layers/sha256" -mindepth 1 -maxdepth 1 \
    ! -name '.*' 2>/dev/null | sort
}

@test "oci: berth pull refuses each hostile registry and leaves nothing in the cache" {
  start_fakeregistry
  for repo in big mdigest cdigest ldigest lsize loop selfindex mtlie cfglayer noplat schema1 artifact tokenbad; do
    spec_for "$REG/$repo/app:1"
    run "$BERTH" pull -f "$T/berth.yaml"
    echo "$repo: $output"
    [ "$status" -eq 1 ]
    [[ "$output" == "berth: pull: $T/berth.yaml:4:5: $REG/$repo/app:1: "* ]]
    [ -z "$(cache_entries)" ]
  done
  spec_for "$REG/mtlie/app:1"
  run "$BERTH" pull -f "$T/berth.yaml"
  [[ "$output" == *": layer sha256:"*": declared \"application/vnd.oci.image.layer.v1.tar+gzip\" but the blob is a JSON document" ]]
  # the lying layer was downloaded (and verified against its digest) before it was refused
  grep -q "^GET /v2/mtlie/app/blobs/" "$REGLOG"
  spec_for "$REG/ldigest/app:1"
  run "$BERTH" pull -f "$T/berth.yaml"
  [[ "$output" == *"sha256 mismatch"* ]]
}

@test "oci: berth pull stores layers by digest, shared across images; a pinned image is not asked for again" {
  start_fakeregistry
  spec_for "$REG/good/app:1"
  run "$BERTH" pull -f "$T/berth.yaml"
  [ "$status" -eq 0 ]
  [[ "${lines[0]}" == "image $REG/good/app:1 sha256:"*" 2 layers" ]]
  [[ "${lines[1]}" == "$T/berth.yaml:4:5: warning: oci: $REG/good/app:1 is not pinned by a digest (berth lock pins it); it resolved to sha256:"* ]]
  digest=${lines[1]##* }
  manifest=$(cut -d' ' -f3 <<<"${lines[0]}")
  # the tag again: one HEAD says it did not move
  n=$(wc -l <"$REGLOG")
  run "$BERTH" pull -f "$T/berth.yaml"
  [ "$status" -eq 0 ]
  [ "$(tail -n +$((n + 1)) "$REGLOG")" = "HEAD /v2/good/app/manifests/1 -" ]
  # two layers; their blobs, the manifest and the config
  [ "$(ls "$BERTH_CACHE_DIR/layers/sha256" | wc -l)" -eq 2 ]
  [ "$(ls "$BERTH_CACHE_DIR/blobs/sha256" | wc -l)" -eq 4 ]
  # another image whose first layer differs: one new layer, the second is shared
  spec_for "$REG/single/app:1"
  run "$BERTH" pull -f "$T/berth.yaml"
  [ "$status" -eq 0 ]
  [ "$(ls "$BERTH_CACHE_DIR/layers/sha256" | wc -l)" -eq 4 ]
  # pinned by digest: no warning, and no request at all once it is cached
  spec_for "$REG/good/app@$digest"
  run "$BERTH" pull -f "$T/berth.yaml"
  [ "$status" -eq 0 ]
  # (the digest the tag named: the index, which picks the same manifest)
  [ "$output" = "image $REG/good/app@$digest ${manifest:0:19} 2 layers" ]
  n=$(wc -l <"$REGLOG")
  run "$BERTH" pull -f "$T/berth.yaml"
  [ "$status" -eq 0 ]
  [ "$(wc -l <"$REGLOG")" -eq "$n" ]
}

@test "oci: docker-registry: berth run in a pulled busybox image; the whiteout hides /etc/gone (overlay and copy); offline afterwards" {
  start_registry
  push busybox busybox
  spec_for "127.0.0.1:$RP/busybox:1"
  run "$BERTH" pull -f "$T/berth.yaml"
  [ "$status" -eq 0 ]
  for how in auto copy; do
    BERTH_ROOTFS=$how run "$BERTH" run --ephemeral -f "$T/berth.yaml" -- sh -c 'cat /etc/motd; ls -a /etc | grep -c -e gone -e "^\.wh\."; test -e /etc/gone || echo gone'
    echo "$how: $output"
    [ "$status" -eq 0 ]
    [ "${lines[0]}" = "from layer two" ]
    [ "${lines[1]}" = "0" ]
    [ "${lines[2]}" = "gone" ]
  done
  # the registry goes away: the run uses what the pull recorded
  kill "${PIDS[-1]}"
  wait "${PIDS[-1]}" 2>/dev/null || true
  run "$BERTH" run --ephemeral -f "$T/berth.yaml" -- cat /etc/motd
  [ "$status" -eq 0 ]
  [ "$output" = "from layer two" ]
  # but a pull asks again, and says the registry is down
  run "$BERTH" pull -f "$T/berth.yaml"
  [ "$status" -eq 1 ]
  [[ "$output" == *"127.0.0.1:$RP/busybox:1: registry http://127.0.0.1:$RP is down or unreachable: "* ]]
}

@test "oci: the image config's Env, WorkingDir, Entrypoint and Cmd are the defaults; the spec overrides them" {
  start_registry
  push busybox busybox
  spec_for "127.0.0.1:$RP/busybox:1"
  run "$BERTH" run --ephemeral -f "$T/berth.yaml"
  [ "$status" -eq 0 ]
  [ "$output" = "hello-from-config from /srv" ]
  # a command replaces Entrypoint and Cmd; Env and WorkingDir stay
  run "$BERTH" run --ephemeral -f "$T/berth.yaml" -- sh -c 'echo "$GREETING $PATH $(pwd)"'
  [ "$output" = "hello-from-config /bin /srv" ]
  printf 'workdir: /tmp\nenv: {GREETING: from-spec}\n' >>"$T/berth.yaml"
  run "$BERTH" run --ephemeral -f "$T/berth.yaml"
  [ "$status" -eq 0 ]
  [ "$output" = "from-spec from /tmp" ]
  # without an OCI image, a command is still required
  printf 'berth: 1\nname: plain\nimage: [{url: %s}]\n' "$T" >"$T/plain.yaml"
  run "$BERTH" run -f "$T/plain.yaml"
  [ "$status" -eq 125 ]
  [[ "$output" == *"no command given: berth run [--] CMD [ARG...]" ]]
}

# ---- archives ------------------------------------------------------------------

archive_spec() {
  printf 'berth: 1\nname: oci-archive-test\nimage:\n  - %s: "%s"\n' "$1" "$2" >"$T/berth.yaml"
  [ -z "${3:-}" ] || printf '    ref: "%s"\n' "$3" >>"$T/berth.yaml"
}

@test "oci: oci-archive and docker-archive made by skopeo pull and run with the image config" {
  command -v skopeo >/dev/null || need "skopeo (scripts/deps.sh)"
  "$PYTHON" "$OCILAYOUT" busybox "$T/layout" 1
  skopeo --insecure-policy copy -q "oci:$T/layout:1" "oci-archive:$T/oci.tar:1"
  skopeo --insecure-policy copy -q --additional-tag busybox:2 "oci:$T/layout:1" "docker-archive:$T/docker.tar:busybox:1"
  for kind in oci-archive docker-archive; do
    archive_spec "$kind" "$T/${kind%-archive}.tar"
    run "$BERTH" pull -f "$T/berth.yaml"
    echo "$kind: $output"
    [ "$status" -eq 0 ]
    [[ "$output" == "image $T/${kind%-archive}.tar sha256:"*" 2 layers" ]]
    run "$BERTH" run --ephemeral -f "$T/berth.yaml"
    [ "$output" = "hello-from-config from /srv" ]
    run "$BERTH" run --ephemeral -f "$T/berth.yaml" -- sh -c 'cat /etc/motd; test -e /etc/gone || echo gone'
    [ "$output" = "$(printf 'from layer two\ngone')" ]
  done
  # docker save layers are plain tars: two more layers in the cache, none repeated
  [ "$(ls "$BERTH_CACHE_DIR/layers/sha256" | wc -l)" -eq 4 ]
  # ref picks an image by any of its names; a name the archive lacks is listed against what it has
  archive_spec docker-archive "$T/docker.tar" busybox:2
  run "$BERTH" pull -f "$T/berth.yaml"
  [ "$status" -eq 0 ]
  archive_spec docker-archive "$T/docker.tar" nope:1
  run "$BERTH" pull -f "$T/berth.yaml"
  [ "$status" -eq 1 ]
  [[ "$output" == "berth: pull: $T/berth.yaml:4:5: $T/docker.tar: manifest.json: no image nope:1 in the archive (it has "*"busybox:1"*"busybox:2)" ]]
}

@test "oci: an archive whose layer does not match its digest is refused and leaves nothing" {
  "$PYTHON" "$OCILAYOUT" busybox "$T/layout" 1
  # the small second layer, rewritten with other bytes of the same size
  small=$(find "$T/layout/blobs/sha256" -size -2k -type f | while read -r f; do
    head -c2 "$f" | od -An -tx1 | grep -q '1f 8b' && echo "$f"; done | head -1)
  [ -n "$small" ]
  size=$(stat -c %s "$small")
  head -c "$size" /dev/zero | tr '\0' x >"$small"
  tar -C "$T/layout" -cf "$T/bad.tar" .
  archive_spec oci-archive "$T/bad.tar"
  run "$BERTH" pull -f "$T/berth.yaml"
  echo "$output"
  [ "$status" -eq 1 ]
  [[ "$output" == "berth: pull: $T/berth.yaml:4:5: $T/bad.tar: layer: digest mismatch: expected sha256:$(basename "$small"), got sha256:"* ]]
  [ -z "$(cache_entries)" ]
}

@test "oci: examples/oci-registry/run.sh pulls from the registry it starts and runs" {
  command -v docker-registry >/dev/null && command -v skopeo >/dev/null ||
    need "docker-registry and skopeo (scripts/deps.sh)"
  run env BERTH="$BERTH" "$BATS_TEST_DIRNAME/../../examples/oci-registry/run.sh"
  echo "$output"
  [ "$status" -eq 0 ]
  [[ "$output" == *$'\nhello-from-config from /srv\n'* ]]
  [[ "$output" == *$'\nset by berth.yaml; hello-from-config in /srv\nfrom layer two\n'* ]]
  # locked: pulled by the digest the tag resolved to; image ls lists it
  [[ "$output" == *$'\nimage 127.0.0.1:'*'/busybox:1@sha256:'*$' 2 layers\n'* ]]
  [[ "$output" == *$'\nIMAGE '*$'\n127.0.0.1:'*'/busybox:1 '* ]]
}

@test "oci: a registry's credentials never go to its mirror" {
  start_fakeregistry
  mirror=$REG
  mirrorlog=$REGLOG
  start_fakeregistry
  export XDG_RUNTIME_DIR=$T/run
  mkdir -p "$XDG_RUNTIME_DIR/containers"
  echo "{\"auths\": {\"$REG\": {\"auth\": \"$(printf u:p | base64)\"}}}" >"$XDG_RUNTIME_DIR/containers/auth.json"
  export BERTH_REGISTRY_MIRRORS="$REG=$mirror"
  # the mirror has no basic/app that it would serve without credentials: it refuses, the registry serves
  resolve "$REG/basic/app:1"
  [ "$status" -eq 0 ]
  grep -q "^GET /v2/basic/app/manifests/1 -$" "$mirrorlog"
  ! grep -q "Basic" "$mirrorlog"
  grep -q "^GET /v2/basic/app/manifests/1 Basic $(printf u:p | base64)$" "$REGLOG"
}

@test "oci: docker-registry with token auth: berth pull sends the token with every blob" {
  start_registry token
  push busybox busybox
  spec_for "127.0.0.1:$RP/busybox:1"
  run "$BERTH" pull -f "$T/berth.yaml"
  [ "$status" -eq 0 ]
  [[ "${lines[0]}" == "image 127.0.0.1:$RP/busybox:1 sha256:"*" 2 layers" ]]
  run "$BERTH" run --ephemeral -f "$T/berth.yaml" -- cat /etc/motd
  [ "$output" = "from layer two" ]
}

@test "oci: a layer longer than its declared size is cut off at the size" {
  start_fakeregistry
  spec_for "$REG/lsize/app:1"
  run "$BERTH" pull -f "$T/berth.yaml"
  [ "$status" -eq 1 ]
  [[ "$output" == *"larger than its declared size of "*" bytes"* ]]
  [ -z "$(cache_entries)" ]
  # nothing of the extra megabyte was kept
  [ -z "$(find "$BERTH_CACHE_DIR/blobs" -size +100k)" ]
}

@test "oci: image gc keeps an OCI image's layers, manifest and config while the spec that pulled it exists" {
  start_fakeregistry
  spec_for "$REG/good/app:1"
  run "$BERTH" pull -f "$T/berth.yaml"
  [ "$status" -eq 0 ]
  before=$(cache_entries)
  [ "$(wc -l <<<"$before")" -eq 6 ]
  run "$BERTH" image gc
  [ "$status" -eq 0 ]
  [ "$(cache_entries)" = "$before" ]
  rm "$T/berth.yaml"
  run "$BERTH" image gc
  [ "$status" -eq 0 ]
  [ -z "$(cache_entries)" ]
}

@test "oci: image gc removes the OCI records (and documents) of images nothing keeps, and keeps those in use" {
  "$PYTHON" "$OCILAYOUT" busybox "$T/layout" 1
  tar -C "$T/layout" -cf "$T/oci.tar" .
  archive_spec oci-archive "$T/oci.tar"
  run "$BERTH" pull -f "$T/berth.yaml"
  [ "$status" -eq 0 ]
  [ "$(ls "$BERTH_CACHE_DIR/oci" | wc -l)" -eq 1 ]
  before=$(cache_entries)
  # the spec exists: its refs keep the image, record and documents included
  run "$BERTH" image gc
  [ "$status" -eq 0 ]
  [ "$(ls "$BERTH_CACHE_DIR/oci" | wc -l)" -eq 1 ]
  [ "$(cache_entries)" = "$before" ]
  # a run of it still resolves from the record, without the archive's bytes changing anything
  run "$BERTH" run --ephemeral -f "$T/berth.yaml" -- cat /etc/motd
  [ "$output" = "from layer two" ]
  # nothing keeps it any more: layers, manifest, config and the record go
  mv "$T/berth.yaml" "$T/gone.yaml"
  run "$BERTH" image gc
  [ "$status" -eq 0 ]
  [ -z "$(cache_entries)" ]
  [ -z "$(ls "$BERTH_CACHE_DIR/oci")" ]
  # a record whose documents are gone is dropped too
  mv "$T/gone.yaml" "$T/berth.yaml"
  run "$BERTH" pull -f "$T/berth.yaml"
  [ "$status" -eq 0 ]
  rm -f "$BERTH_CACHE_DIR"/blobs/sha256/*
  run "$BERTH" image gc
  [ -z "$(ls "$BERTH_CACHE_DIR/oci")" ]
}
