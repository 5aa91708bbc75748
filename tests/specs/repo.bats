#!/usr/bin/env bats
# Spec repositories: publish, yank, versions, show; extends chains with merge
# rules and final fields; signatures and rollback; a folder and nginx.
bats_require_minimum_version 1.5.0

load ../images/helpers

setup() {
  : "${BERTH:?BERTH must point at the berth binary}"
  common_setup
  cd "$T"
  unset BERTH_SPEC_REPOS
  mkdir layers
  echo base >layers/base.tar
  cat >base.yaml <<YAML
berth: 1
name: base-debian
version: 2.1.0
image: [{url: $T/layers/base.tar}]
env: {LANG: C.UTF-8, TZ: UTC}
resources: {memory: 512MiB, pids: 100}
security:
  seccomp: default
services:
  db: {command: [postgres]}
  web: {command: [web], depends_on: [db]}
final: [security, resources.memory]
YAML
}

teardown() {
  common_teardown
}

publish() { "$BERTH" spec publish --repo "$T/repo" "$@"; }

# put_raw REPO FILE NAME VERSION [YANKED]: write FILE into REPO by hand (no
# validation, as a hostile or broken publisher could).
put_raw() {
  local repo=$1 file=$2 name=$3 version=$4 yanked=${5:-false} sha
  mkdir -p "$repo/specs"
  sha=$(sha256 "$file")
  cp "$file" "$repo/specs/$sha.yaml"
  python3 - "$repo/index.json" "$name" "$version" "$sha" "$yanked" <<'PY'
import json, os, sys
path, name, version, sha, yanked = sys.argv[1:]
idx = json.load(open(path)) if os.path.exists(path) else {"berth_index": 1, "sequence": 0, "specs": {}}
idx["sequence"] += 1
idx["specs"].setdefault(name, {})[version] = {"sha256": sha, "yanked": yanked == "true", "published": "2026-01-01T00:00:00Z"}
json.dump(idx, open(path, "w"), indent=2, sort_keys=True)
PY
}

@test "publish: the spec is stored by content and listed in the index" {
  run --separate-stderr publish -f base.yaml
  [ "$status" -eq 0 ]
  [ "$output" = "published base-debian@2.1.0 to $T/repo" ]
  sha=$(sha256 base.yaml)
  cmp base.yaml "repo/specs/$sha.yaml"
  [ "$(jq -r '.specs["base-debian"]["2.1.0"].sha256' repo/index.json)" = "$sha" ]
  [ "$(jq -r '.specs["base-debian"]["2.1.0"].yanked' repo/index.json)" = false ]
  [ "$(jq -r '.sequence' repo/index.json)" = 1 ]
  [[ "$(jq -r '.specs["base-debian"]["2.1.0"].published' repo/index.json)" =~ ^20[0-9-]+T[0-9:]+Z$ ]]
}

@test "publish: a version is immutable, even with the same content or other build metadata" {
  publish -f base.yaml
  before=$(cat repo/index.json)
  run --separate-stderr publish -f base.yaml
  [ "$status" -eq 1 ]
  [ "$stderr" = "berth: base-debian@2.1.0 is already published in $T/repo (versions are immutable; publish a new version)" ]
  sed -i 's/^version: 2.1.0/version: 2.1.0+rebuild.2/; s/TZ: UTC/TZ: CET/' base.yaml
  run --separate-stderr publish -f base.yaml
  [ "$status" -eq 1 ]
  [ "$(cat repo/index.json)" = "$before" ]
  [ "$(ls repo/specs | wc -l)" -eq 1 ]
}

@test "publish: needs version:, and refuses an invalid spec with exit 2, writing nothing" {
  sed -i '/^version:/d' base.yaml
  run --separate-stderr publish -f base.yaml
  [ "$status" -eq 2 ]
  [ "$stderr" = 'base.yaml:1:1: version: required to publish' ]
  [ ! -e repo/index.json ]
  sed -i 's/^name: base-debian/name: base-debian\nversion: 1.2/' base.yaml
  run --separate-stderr publish -f base.yaml
  [ "$status" -eq 2 ]
  [ "$stderr" = 'base.yaml:3:10: version: expected a semantic version like 1.4.0, got "1.2"' ]
  [ ! -e repo/index.json ]
}

@test "yank: ranges skip a yanked version, an exact pin still takes it with a warning" {
  publish -f base.yaml
  sed -i 's/^version: 2.1.0/version: 2.1.1/' base.yaml
  publish -f base.yaml
  run --separate-stderr "$BERTH" spec yank base-debian@2.1.1 --repo "$T/repo"
  [ "$status" -eq 0 ]
  [ "$(jq -r '.specs["base-debian"]["2.1.1"].yanked' repo/index.json)" = true ]
  [ "$(jq -r '.sequence' repo/index.json)" = 3 ]
  run --separate-stderr "$BERTH" spec show base-debian@^2.1 --repo "$T/repo"
  [ "$status" -eq 0 ]
  [[ "$output" == *"version: 2.1.0"* ]]
  run --separate-stderr "$BERTH" spec show base-debian@2.1.1 --repo "$T/repo"
  [ "$status" -eq 0 ]
  [[ "$output" == *"version: 2.1.1"* ]]
  [ "$stderr" = "berth: warning: base-debian@2.1.1 is yanked in $T/repo; pinned exactly, so it is used" ]
  run --separate-stderr "$BERTH" spec versions base-debian --repo "$T/repo"
  [ "$status" -eq 0 ]
  [ "$output" = $'2.1.0\n2.1.1  (yanked)' ]
  run --separate-stderr "$BERTH" spec yank base-debian@9.9.9 --repo "$T/repo"
  [ "$status" -eq 1 ]
  [ "$stderr" = "berth: $T/repo: no base-debian@9.9.9 to yank" ]
}

@test "versions --json and show --json: the index entries and the resolved model" {
  publish -f base.yaml
  run --separate-stderr "$BERTH" --json spec versions base-debian --repo "$T/repo"
  [ "$status" -eq 0 ]
  [ "$(jq -r '.[0].version + " " + (.[0].yanked|tostring) + " " + .[0].sha256' <<<"$output")" = "2.1.0 false $(sha256 base.yaml)" ]
  run --separate-stderr "$BERTH" spec show base-debian@2 --repo "$T/repo" --json
  [ "$status" -eq 0 ]
  [ "$(jq -r '.name + " " + .version + " " + (.resources.memory|tostring)' <<<"$output")" = "base-debian 2.1.0 536870912" ]
}

@test "a range that matches nothing names the nearest versions" {
  for v in 1.0.0 2.0.0 2.1.0 3.0.0-rc.1 4.0.0; do
    sed -i "s/^version: .*/version: $v/" base.yaml
    publish -f base.yaml
  done
  run --separate-stderr "$BERTH" spec show 'base-debian@^3' --repo "$T/repo"
  [ "$status" -eq 1 ]
  [ "$stderr" = "berth: $T/repo: no version of base-debian matches \"^3\" (nearest: 2.1.0, 3.0.0-rc.1, 4.0.0)" ]
  run --separate-stderr "$BERTH" spec show 'base-debian@^3.0.0-rc.1' --repo "$T/repo"
  [ "$status" -eq 0 ]
  [[ "$output" == *"version: 3.0.0-rc.1"* ]]
}

@test "concurrent publishes to one folder all land; one version published twice at once lands once" {
  for i in $(seq 1 16); do
    sed "s/^version: .*/version: 1.0.$i/" base.yaml >"b$i.yaml"
  done
  pids=()
  for i in $(seq 1 16); do
    publish -f "b$i.yaml" >/dev/null 2>&1 &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p"; done
  [ "$(jq -r '.specs["base-debian"] | length' repo/index.json)" -eq 16 ]
  [ "$(jq -r '.sequence' repo/index.json)" -eq 16 ]
  pids=()
  sed 's/^version: .*/version: 5.0.0/' base.yaml >"same.yaml"
  for i in $(seq 1 8); do
    publish -f same.yaml >"out.$i" 2>&1 &
    pids+=($!)
  done
  ok=0
  for p in "${pids[@]}"; do if wait "$p"; then ok=$((ok + 1)); fi; done
  [ "$ok" -eq 1 ]
  [ "$(jq -r '.specs["base-debian"] | length' repo/index.json)" -eq 17 ]
  [ "$(grep -l 'already published' out.* | wc -l)" -eq 7 ]
  [ -z "$(find repo -name '.*tmp*')" ]
}

# ---- extends -------------------------------------------------------------

project() {
  cat >berth.yaml
}

@test "extends: maps merge key by key, lists replace, null removes a key and a service" {
  publish -f base.yaml
  project <<'YAML'
berth: 1
name: app
extends: base-debian@^2.1
env: {TZ: null, APP: "1"}
resources: {pids: 50}
services:
  db: null
  web: {command: [web2], depends_on: null}
YAML
  run --separate-stderr "$BERTH" spec show --json --repo "$T/repo"
  [ "$status" -eq 0 ]
  [ "$(jq -c '.env' <<<"$output")" = '{"APP":"1","LANG":"C.UTF-8"}' ]
  [ "$(jq -c '[.resources.memory, .resources.pids]' <<<"$output")" = '[536870912,50]' ]
  [ "$(jq -c '[.services[] | {name, command}]' <<<"$output")" = '[{"name":"web","command":["web2"]}]' ]
  [ "$(jq -r '.image[0].url' <<<"$output")" = "$T/layers/base.tar" ]
  [ "$(jq -r '.name + " " + (.version|tostring)' <<<"$output")" = "app null" ]
  run --separate-stderr "$BERTH" validate --repo "$T/repo"
  [ "$status" -eq 0 ]
  [ -z "$output$stderr" ]
}

@test "extends: a final field set by the extending spec is an error at the overriding line" {
  publish -f base.yaml
  project <<'YAML'
berth: 1
name: app
extends: base-debian@^2.1
resources: {pids: 50}
security:
  capabilities: {add: []}
  seccomp: unconfined
YAML
  run --separate-stderr "$BERTH" validate --repo "$T/repo"
  [ "$status" -eq 2 ]
  [ "$stderr" = 'berth.yaml:6:18: security.capabilities.add: final in base-debian@2.1.0, cannot be overridden' ]
  project <<'YAML'
berth: 1
name: app
extends: base-debian@^2.1
resources:
  pids: 50
  memory: 1GiB
YAML
  run --separate-stderr "$BERTH" validate --repo "$T/repo"
  [ "$status" -eq 2 ]
  [ "$stderr" = 'berth.yaml:6:3: resources.memory: final in base-debian@2.1.0, cannot be overridden' ]
  printf 'berth: 1\nname: app\nextends: base-debian@^2.1\nresources: null\n' >berth.yaml
  run --separate-stderr "$BERTH" validate --repo "$T/repo"
  [ "$status" -eq 2 ]
  [ "$stderr" = 'berth.yaml:4:1: resources: final in base-debian@2.1.0, cannot be overridden' ]
}

@test "extends: a chain of three; final holds down the chain; errors point into the file that holds the key" {
  publish -f base.yaml
  cat >mid.yaml <<'YAML'
berth: 1
name: team-python
version: 1.0.0
extends: base-debian@~2.1
env: {PY: "3.11"}
final: [env.PY]
YAML
  publish -f mid.yaml
  project <<'YAML'
berth: 1
name: app
extends: team-python@1
env:
  PY: "3.12"
YAML
  run --separate-stderr "$BERTH" validate --repo "$T/repo"
  [ "$status" -eq 2 ]
  [ "$stderr" = 'berth.yaml:5:3: env.PY: final in team-python@1.0.0, cannot be overridden' ]
  printf 'berth: 1\nname: app\nextends: team-python@1\nsecurity: {read_only: true}\n' >berth.yaml
  run --separate-stderr "$BERTH" validate --repo "$T/repo"
  [ "$status" -eq 2 ]
  [ "$stderr" = 'berth.yaml:4:12: security.read_only: final in base-debian@2.1.0, cannot be overridden' ]
  # Removing the service web depends on: the error is in the base, where depends_on is written.
  printf 'berth: 1\nname: app\nextends: team-python@1\nservices: {db: null}\n' >berth.yaml
  run --separate-stderr "$BERTH" validate --repo "$T/repo"
  [ "$status" -eq 2 ]
  [ "$stderr" = 'base-debian@2.1.0:11:38: services.web.depends_on[0]: no service named "db"' ]
  printf 'berth: 1\nname: app\nextends: team-python@1\n' >berth.yaml
  run --separate-stderr "$BERTH" spec show --json --repo "$T/repo"
  [ "$status" -eq 0 ]
  [ "$(jq -c '.env' <<<"$output")" = '{"LANG":"C.UTF-8","PY":"3.11","TZ":"UTC"}' ]
}

@test "extends: a cycle is named in full; a chain deeper than 8 is refused" {
  printf 'berth: 1\nname: a\nversion: 1.0.0\nextends: b@1\nimage: [{url: /x}]\n' >a.yaml
  printf 'berth: 1\nname: b\nversion: 1.0.0\nextends: a@1\nimage: [{url: /x}]\n' >b.yaml
  put_raw repo a.yaml a 1.0.0
  put_raw repo b.yaml b 1.0.0
  printf 'berth: 1\nname: app\nextends: a@1\n' >berth.yaml
  run --separate-stderr "$BERTH" validate --repo "$T/repo"
  [ "$status" -eq 2 ]
  [ "$stderr" = 'b@1.0.0:4:10: extends: cycle: app -> a@1.0.0 -> b@1.0.0 -> a' ]
  for i in $(seq 0 9); do
    if [ "$i" -lt 9 ]; then ext="extends: l$((i + 1))@1"; else ext=; fi
    printf 'berth: 1\nname: l%s\nversion: 1.0.0\n%s\nimage: [{url: /x}]\n' "$i" "$ext" >"l$i.yaml"
    put_raw repo "l$i.yaml" "l$i" 1.0.0
  done
  printf 'berth: 1\nname: app\nextends: l1@1\n' >berth.yaml
  run --separate-stderr "$BERTH" validate --repo "$T/repo"
  [ "$status" -eq 2 ]
  [ "$stderr" = 'l8@1.0.0:4:10: extends: chain deeper than the limit of 8 bases' ]
  printf 'berth: 1\nname: app\nextends: l2@1\n' >berth.yaml
  run --separate-stderr "$BERTH" validate --repo "$T/repo"
  [ "$status" -eq 0 ]
}

@test "extends: repositories in order: --repo, then BERTH_SPEC_REPOS, then repos:" {
  publish -f base.yaml
  sed -i 's/^version: 2.1.0/version: 2.1.5/; s/pids: 100/pids: 200/' base.yaml
  "$BERTH" spec publish -f base.yaml --repo "$T/other"
  printf 'berth: 1\nname: app\nextends: base-debian@^2.1\nrepos: [{url: %s}]\n' "$T/other" >berth.yaml
  run --separate-stderr "$BERTH" spec show --json
  [ "$(jq -r '.resources.pids' <<<"$output")" = 200 ]
  run --separate-stderr env BERTH_SPEC_REPOS="$T/repo" "$BERTH" spec show --json
  [ "$(jq -r '.resources.pids' <<<"$output")" = 100 ]
  run --separate-stderr env BERTH_SPEC_REPOS="$T/repo" "$BERTH" spec show --json --repo "$T/other"
  [ "$(jq -r '.resources.pids' <<<"$output")" = 200 ]
}

# ---- broken and hostile repositories ---------------------------------------

@test "a malformed, oversized or incomplete index and a tampered spec file are refused with exit 1" {
  publish -f base.yaml
  printf 'berth: 1\nname: app\nextends: base-debian@^2.1\n' >berth.yaml
  cp repo/index.json good.json
  echo '{"berth_index": 1, "sequence": 1, "specs": {"base-debian": {"2.1": {}}}}' >repo/index.json
  run --separate-stderr "$BERTH" validate --repo "$T/repo"
  [ "$status" -eq 1 ]
  [ "$stderr" = "berth.yaml:3:10: extends: $T/repo: malformed index: base-debian: \"2.1\" is not a semantic version" ]
  echo '{"berth_index": 1, "sequence": 1, "specs": {' >repo/index.json
  run --separate-stderr "$BERTH" validate --repo "$T/repo"
  [ "$status" -eq 1 ]
  [[ "$stderr" == "berth.yaml:3:10: extends: $T/repo: malformed index: line 2: "* ]]
  head -c $((17 * 1024 * 1024)) /dev/zero | tr '\0' ' ' >repo/index.json
  run --separate-stderr "$BERTH" validate --repo "$T/repo"
  [ "$status" -eq 1 ]
  [ "$stderr" = "berth.yaml:3:10: extends: $T/repo: index larger than the limit of 16777216 bytes" ]
  cp good.json repo/index.json
  sha=$(sha256 base.yaml)
  echo '# changed' >>"repo/specs/$sha.yaml"
  run --separate-stderr "$BERTH" validate --repo "$T/repo"
  [ "$status" -eq 1 ]
  [[ "$stderr" == "berth.yaml:3:10: extends: $T/repo: specs/$sha.yaml: sha256 mismatch for base-debian@2.1.0: the index says $sha, the file has "* ]]
  rm "repo/specs/$sha.yaml"
  run --separate-stderr "$BERTH" validate --repo "$T/repo"
  [ "$status" -eq 1 ]
  [ "$stderr" = "berth.yaml:3:10: extends: $T/repo: the index lists base-debian@2.1.0 but specs/$sha.yaml is missing" ]
}

# ---- signatures ------------------------------------------------------------

# A signed repository and a project whose repos: entry carries the key.
signed_setup() {
  "$BERTH" spec keygen "$T/ops.key" >/dev/null
  publish -f base.yaml --key "$T/ops.key" >/dev/null
  printf 'berth: 1\nname: app\nextends: base-debian@^2.1\nrepos: [{url: %s, key: %s}]\n' "$T/repo" "$T/ops.key.pub" >berth.yaml
}

@test "keygen: an Ed25519 key pair, the private key mode 0600, never overwritten" {
  run --separate-stderr "$BERTH" spec keygen "$T/ops.key"
  [ "$status" -eq 0 ]
  [ "$(stat -c %a "$T/ops.key")" = 600 ]
  openssl pkey -in "$T/ops.key" -noout -text | grep -q ED25519
  openssl pkey -pubin -in "$T/ops.key.pub" -noout -text | grep -q ED25519
  cp "$T/ops.key" before
  run --separate-stderr "$BERTH" spec keygen "$T/ops.key"
  [ "$status" -eq 1 ]
  [[ "$stderr" == *"(not overwriting a key): File exists" ]]
  cmp before "$T/ops.key"
}

@test "signed: a valid signature resolves; the signature is checkable with openssl" {
  signed_setup
  run --separate-stderr "$BERTH" validate
  [ "$status" -eq 0 ]
  [ -z "$stderr" ]
  xxd -r -p repo/index.json.sig >sig.bin
  openssl pkeyutl -verify -pubin -inkey "$T/ops.key.pub" -rawin -in repo/index.json -sigfile sig.bin
}

@test "signed: an unsigned index, a tampered index, another key's signature and a tampered spec are refused" {
  signed_setup
  mv repo/index.json.sig sig.keep
  run --separate-stderr "$BERTH" validate
  [ "$status" -eq 1 ]
  [ "$stderr" = "berth.yaml:3:10: extends: $T/repo: the index is not signed, but repos: gives a key for it" ]
  mv sig.keep repo/index.json.sig
  cp repo/index.json good.json
  sed -i 's/"yanked": false/"yanked": true /' repo/index.json
  run --separate-stderr "$BERTH" validate
  [ "$status" -eq 1 ]
  [ "$stderr" = "berth.yaml:3:10: extends: $T/repo: index.json: signature does not match (tampered, or signed by another key)" ]
  cp good.json repo/index.json
  "$BERTH" spec keygen "$T/other.key" >/dev/null
  printf 'berth: 1\nname: app\nextends: base-debian@^2.1\nrepos: [{url: %s, key: %s}]\n' "$T/repo" "$T/other.key.pub" >berth.yaml
  run --separate-stderr "$BERTH" validate
  [ "$status" -eq 1 ]
  [ "$stderr" = "berth.yaml:3:10: extends: $T/repo: index.json: signature does not match (tampered, or signed by another key)" ]
  # The key inline, as PEM, works as the path does.
  pem=$(sed 's/^/      /' "$T/ops.key.pub")
  printf 'berth: 1\nname: app\nextends: base-debian@^2.1\nrepos:\n  - url: %s\n    key: |\n%s\n' "$T/repo" "$pem" >berth.yaml
  run --separate-stderr "$BERTH" validate
  [ "$status" -eq 0 ]
  sha=$(sha256 base.yaml)
  sed -i 's/pids: 100/pids: 999/' "repo/specs/$sha.yaml"
  # The copy cached when its digest matched is used, not the tampered file.
  run --separate-stderr "$BERTH" spec show --json
  [ "$status" -eq 0 ]
  [ "$(jq -r '.resources.pids' <<<"$output")" = 100 ]
  rm -rf "$BERTH_CACHE_DIR/specs"
  run --separate-stderr "$BERTH" validate
  [ "$status" -eq 1 ]
  [[ "$stderr" == "berth.yaml:"*": extends: $T/repo: specs/$sha.yaml: sha256 mismatch for base-debian@2.1.0"* ]]
}

@test "signed: an index rolled back to an older signed one is refused" {
  signed_setup
  cp repo/index.json old.json
  cp repo/index.json.sig old.sig
  run --separate-stderr "$BERTH" validate
  [ "$status" -eq 0 ]
  sed -i 's/^version: 2.1.0/version: 2.1.1/' base.yaml
  publish -f base.yaml --key "$T/ops.key" >/dev/null
  run --separate-stderr "$BERTH" validate
  [ "$status" -eq 0 ]
  [ "$(cat "$BERTH_STATE_DIR"/spec-repos/*)" = 2 ]
  cp old.json repo/index.json
  cp old.sig repo/index.json.sig
  run --separate-stderr "$BERTH" validate
  [ "$status" -eq 1 ]
  [ "$stderr" = "berth.yaml:3:10: extends: $T/repo: index sequence 1 is older than 2 seen before: refusing a rolled-back index" ]
}

@test "signed: a change to a signed repository needs the key" {
  signed_setup
  sed -i 's/^version: 2.1.0/version: 2.2.0/' base.yaml
  run --separate-stderr publish -f base.yaml
  [ "$status" -eq 2 ]
  [ "$stderr" = "berth: $T/repo: the index is signed: give --key" ]
  run --separate-stderr "$BERTH" spec yank base-debian@2.1.0 --repo "$T/repo"
  [ "$status" -eq 2 ]
  [ "$(jq -r '.sequence' repo/index.json)" = 1 ]
  run --separate-stderr "$BERTH" spec yank base-debian@2.1.0 --repo "$T/repo" --key "$T/ops.key"
  [ "$status" -eq 0 ]
  printf 'berth: 1\nname: app\nextends: base-debian@2.1.0\nrepos: [{url: %s, key: %s}]\n' "$T/repo" "$T/ops.key.pub" >berth.yaml
  run --separate-stderr "$BERTH" validate -v
  [ "$status" -eq 0 ]
  echo "$stderr"
  [ "${stderr_lines[0]}" = "berth: warning: extends: base-debian@2.1.0 is yanked in $T/repo; pinned exactly, so it is used" ]
  [ "${#stderr_lines[@]}" -eq 1 ]
}

# ---- over http -------------------------------------------------------------

@test "http: a repository served by nginx on loopback, signed, resolves as the folder does" {
  signed_setup
  start_nginx "$T/repo"
  url="http://127.0.0.1:$NGINX_PORT/"
  printf 'berth: 1\nname: app\nextends: base-debian@^2.1\nrepos: [{url: "%s", key: %s}]\nenv: {X: "1"}\n' "$url" "$T/ops.key.pub" >berth.yaml
  run --separate-stderr "$BERTH" spec show --json
  [ "$status" -eq 0 ]
  [ "$(jq -c '.env' <<<"$output")" = '{"LANG":"C.UTF-8","TZ":"UTC","X":"1"}' ]
  run --separate-stderr "$BERTH" spec versions base-debian --repo "$url"
  [ "$output" = 2.1.0 ]
  grep -q 'GET /index.json.sig' "$T/nginx/logs/access.log"
  sed -i 's/"yanked": false/"yanked": true /' repo/index.json
  run --separate-stderr "$BERTH" validate
  [ "$status" -eq 1 ]
  [ "$stderr" = "berth.yaml:3:10: extends: $url: index.json: signature does not match (tampered, or signed by another key)" ]
  rm repo/index.json
  run --separate-stderr "$BERTH" validate
  [ "$status" -eq 1 ]
  [ "$stderr" = "berth.yaml:3:10: extends: $url: no index.json (not a spec repository)" ]
}

# ---- diff --------------------------------------------------------------------

@test "spec diff: two resolved specs key by key, a file against a published version, and --json" {
  publish -f base.yaml
  sed -i 's/^version: 2.1.0/version: 2.2.0/; s/memory: 512MiB/memory: 1GiB/; s/TZ: UTC/TZ: CET/' base.yaml
  sed -i 's/  db: {command: \[postgres\]}/  db: {command: [postgres, -N, "50"]}/' base.yaml
  publish -f base.yaml
  run --separate-stderr "$BERTH" spec diff base-debian@2.1.0 base-debian@2.2.0 --repo "$T/repo"
  [ "$status" -eq 0 ]
  [ "$output" = 'version: "2.1.0" -> "2.2.0"
env.TZ: "UTC" -> "CET"
resources.memory: 536870912 -> 1073741824
services.db.command: ["postgres"] -> ["postgres","-N","50"]' ]
  printf 'berth: 1\nname: app\nextends: base-debian@2.1.0\nresources: {pids: 7}\nservices: {web: null}\n' >berth.yaml
  run --separate-stderr "$BERTH" --json spec diff berth.yaml base-debian@2.1.0 --repo "$T/repo"
  [ "$status" -eq 0 ]
  [ "$(jq -c '[.[] | select(.key == "resources.pids" or .key == "services.web") | [.key, .a, (if .key == "services.web" then .b.name else .b end)]]' <<<"$output")" = \
    '[["resources.pids",7,100],["services.web",null,"web"]]' ]
  run --separate-stderr "$BERTH" spec diff berth.yaml --repo "$T/repo"
  [ "$status" -eq 2 ]
  run --separate-stderr "$BERTH" spec diff berth.yaml base-debian@7 --repo "$T/repo"
  [ "$status" -eq 1 ]
  [ "$stderr" = "berth: $T/repo: no version of base-debian matches \"7\" (nearest: 2.1.0, 2.2.0)" ]
}

@test "extends: a base already in the cache is read from there, by digest: no hashing, no libcrypto loaded" {
  publish -f base.yaml >/dev/null
  printf 'berth: 1\nname: app\nextends: base-debian@^2.1\n' >berth.yaml
  loaded() { LD_DEBUG=libs "$BERTH" validate --repo "$T/repo" 2>&1 >/dev/null | sed -n 's/.*calling init: //p'; }
  run loaded
  [[ "$output" == *libcrypto* ]]
  sha=$(sha256 base.yaml)
  [ -f "$BERTH_CACHE_DIR/specs/$sha.yaml" ]
  run loaded
  [[ "$output" == *libc.so.6* ]]
  [[ "$output" != *libcrypto* ]]
  rm "repo/specs/$sha.yaml"
  run --separate-stderr "$BERTH" validate --repo "$T/repo"
  [ "$status" -eq 0 ]
}
