#!/usr/bin/env bats
# berth lock and --locked: what the lock pins, using it without a repository,
# naming what changed, and an offline run in a namespace with only loopback.
bats_require_minimum_version 1.5.0

load ../images/helpers

setup() {
  : "${BERTH:?BERTH must point at the berth binary}"
  common_setup
  cd "$T"
  unset BERTH_SPEC_REPOS
  mkdir -p src/etc proj
  echo one >src/etc/layer
  tar -C src -cf layer.tar .
  cat >base.yaml <<YAML
berth: 1
name: base-debian
version: 2.1.0
image: [{url: $T/layer.tar}]
env: {LANG: C.UTF-8}
resources: {memory: 512MiB}
YAML
  "$BERTH" spec publish -f base.yaml --repo "$T/repo" >/dev/null
  cat >proj/berth.yaml <<'YAML'
berth: 1
name: app
extends: base-debian@^2.1
env: {APP: "1"}
YAML
  cd proj
}

teardown() {
  # As root an environment's root stays mounted between runs until down.
  if [ -f "$T/proj/berth.lock" ]; then (cd "$T/proj" && "$BERTH" down >/dev/null 2>&1 || true); fi
  common_teardown
}

@test "lock: pins the base, every layer and the spec's digest, in stable sorted JSON" {
  run --separate-stderr "$BERTH" lock --repo "$T/repo"
  [ "$status" -eq 0 ]
  [ "$output" = "wrote berth.lock (1 base)" ]
  [ "$(jq -r '.bases[0] | [.name, .version, .repo, .sha256] | join(" ")' berth.lock)" = \
    "base-debian 2.1.0 $T/repo $(sha256 "$T/base.yaml")" ]
  [ "$(jq -r '.layers[0] | [.key, .url, .sha256] | join(" ")' berth.lock)" = "image[0] $T/layer.tar $(sha256 "$T/layer.tar")" ]
  [ "$(jq -r '.spec_sha256' berth.lock)" = "$(sha256 berth.yaml)" ]
  [ "$(jq -S . berth.lock)" = "$(cat berth.lock)" ]
  cp berth.lock first
  "$BERTH" lock --repo "$T/repo" >/dev/null
  cmp first berth.lock
}

@test "with berth.lock, validate, spec show and pull need no repository" {
  "$BERTH" lock --repo "$T/repo" >/dev/null
  mv "$T/repo" "$T/repo.gone"
  run --separate-stderr "$BERTH" validate
  [ "$status" -eq 0 ]
  [ -z "$output$stderr" ]
  run --separate-stderr "$BERTH" pull --locked
  [ "$status" -eq 0 ]
  run --separate-stderr "$BERTH" spec show --json
  [ "$(jq -c '.env' <<<"$output")" = '{"APP":"1","LANG":"C.UTF-8"}' ]
  # Without the cached copy the pinned file comes from its repository, by digest.
  rm -rf "$BERTH_CACHE_DIR/specs"
  run --separate-stderr "$BERTH" validate
  [ "$status" -eq 1 ]
  [[ "$stderr" == "berth.yaml:3:10: extends: $T/repo: the index lists base-debian@2.1.0 but specs/"*" is missing" ]]
}

@test "lock keeps its pins when a newer version appears; lock --update takes it" {
  "$BERTH" lock --repo "$T/repo" >/dev/null
  cd "$T"
  sed -i 's/^version: 2.1.0/version: 2.2.0/; s/512MiB/1GiB/' base.yaml
  "$BERTH" spec publish -f base.yaml --repo "$T/repo" >/dev/null
  cd proj
  run --separate-stderr "$BERTH" spec show --json --repo "$T/repo"
  [ "$(jq -r '.resources.memory' <<<"$output")" = 536870912 ]
  "$BERTH" lock --repo "$T/repo" >/dev/null
  [ "$(jq -r '.bases[0].version' berth.lock)" = 2.1.0 ]
  "$BERTH" lock --update --repo "$T/repo" >/dev/null
  [ "$(jq -r '.bases[0].version' berth.lock)" = 2.2.0 ]
  run --separate-stderr "$BERTH" spec show --json --repo "$T/repo"
  [ "$(jq -r '.resources.memory' <<<"$output")" = 1073741824 ]
}

@test "--locked: a missing lock, a changed spec and a range the pin no longer fits are refused, naming the change" {
  run --separate-stderr "$BERTH" pull --locked --repo "$T/repo"
  [ "$status" -eq 1 ]
  [ "$stderr" = "berth: --locked: berth.lock is missing (run berth lock)" ]
  "$BERTH" lock --repo "$T/repo" >/dev/null
  locked=$(sha256 berth.yaml)
  sed -i 's/APP: "1"/APP: "2"/' berth.yaml
  run --separate-stderr "$BERTH" pull --locked --repo "$T/repo"
  [ "$status" -eq 1 ]
  [ "$stderr" = "berth: berth.lock does not match berth.yaml: berth.yaml: changed since berth.lock was written (sha256 $(sha256 berth.yaml | cut -c1-12)…, berth.lock ${locked:0:12}…) (run berth lock)" ]
  # A range the pinned version no longer fits.
  sed -i 's/\^2.1/^3/' berth.yaml
  run --separate-stderr "$BERTH" validate --locked --repo "$T/repo"
  [ "$status" -eq 1 ]
  [ "$stderr" = 'berth.yaml:3:10: extends: berth.lock does not pin a version of base-debian that fits "^3" (run berth lock)' ]
}

@test "--locked: a changed layer is refused, by digest or by the file behind a path" {
  "$BERTH" lock --repo "$T/repo" >/dev/null
  old=$(sha256 "$T/layer.tar")
  echo two >"$T/src/etc/layer"
  tar -C "$T/src" -cf "$T/layer.tar" .
  new=$(sha256 "$T/layer.tar")
  run --separate-stderr "$BERTH" pull --locked
  [ "$status" -eq 1 ]
  [ "$stderr" = "berth: berth.lock does not match berth.yaml: image[0]: $T/layer.tar: sha256 is now ${new:0:12}…, berth.lock ${old:0:12}… (run berth lock)" ]
  # A digest written in the spec that differs from the pinned one.
  printf 'berth: 1\nname: app\nextends: base-debian@^2.1\nimage: [{url: %s, sha256: %s}]\n' "$T/layer.tar" "$new" >berth.yaml
  "$BERTH" lock --repo "$T/repo" >/dev/null
  sed -i "s/$new/$old/" berth.lock
  run --separate-stderr "$BERTH" validate --repo "$T/repo"
  [ "$status" -eq 0 ]
  [ -z "$stderr" ] # validate is silent on success; -v shows the warnings
  run --separate-stderr "$BERTH" validate -v --repo "$T/repo"
  [ "$status" -eq 0 ]
  [[ "$stderr" == "berth: warning: berth.lock is stale (image[0].sha256: spec ${new:0:12}…, berth.lock ${old:0:12}…); run berth lock" ]]
}

@test "offline: validate, pull, up, verify and run from the lock and a warm cache, in a network namespace with only loopback" {
  [ "$(id -u)" = 0 ] || need "root, for unshare -n"
  unshare -n true 2>/dev/null || need "network namespaces"
  command -v nginx >/dev/null || need "nginx (scripts/deps.sh)"
  bash "$BATS_TEST_DIRNAME/../../examples/build-busybox-image.sh" "$T/repo/busybox.tar.zst"
  start_nginx "$T/repo"
  url="http://127.0.0.1:$NGINX_PORT"
  # The base and its image both come over http.
  cd "$T"
  cat >base.yaml <<YAML
berth: 1
name: base-debian
version: 3.0.0
image: [{url: $url/busybox.tar.zst, sha256: $(sha256 "$T/repo/busybox.tar.zst")}]
env: {LANG: C.UTF-8}
resources: {memory: 512MiB}
YAML
  "$BERTH" spec publish -f base.yaml --repo "$T/repo" >/dev/null
  cd proj
  sed -i 's/\^2.1/^3/' berth.yaml
  printf 'services:\n  web: {command: [sh, -c, "while :; do sleep 1; done"], resources: {pids: 20}}\n' >>berth.yaml
  "$BERTH" lock --repo "$url" >/dev/null
  [ "$(jq -r '.bases[0].repo' berth.lock)" = "$url" ]
  "$BERTH" pull --locked >/dev/null
  grep -q 'GET /busybox.tar.zst' "$T/nginx/logs/access.log"
  # Only loopback, and nothing listens on it there: the repository is out of reach.
  run --separate-stderr unshare -n sh -c '
    ip link set lo up
    curl -fs -o /dev/null "$0/index.json" && { echo "the repository is reachable"; exit 9; }
    "$BERTH" validate --locked || exit 1
    "$BERTH" pull --locked || exit 2
    "$BERTH" -q up --locked || exit 3
    "$BERTH" verify --locked || exit 4
    "$BERTH" -q run --locked -- sh -c "cat /etc/berth-image; echo APP=\$APP" || exit 5
    "$BERTH" down' "$url"
  echo "$output $stderr"
  [ "$status" -eq 0 ]
  [[ "$output" == *"verify: "*" checks match"* ]]
  [[ "$output" == *"busybox "*"APP=1"* ]]
  # Without the lock the repository is needed, and is not there.
  mv berth.lock berth.lock.off
  run --separate-stderr unshare -n sh -c 'ip link set lo up; "$BERTH" validate --repo "$0"' "$url"
  [ "$status" -eq 1 ]
  [[ "$stderr" == *"extends: $url"* ]]
}
