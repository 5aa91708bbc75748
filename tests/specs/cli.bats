#!/usr/bin/env bats
# berth validate and berth spec show: output and exit statuses.
bats_require_minimum_version 1.5.0

setup() {
  : "${BERTH:?BERTH must point at the berth binary}"
  T=$(mktemp -d /tmp/berth-bats-specs.XXXXXX)
  cd "$T"
  SHA=$(printf 'a%.0s' $(seq 64))
  cat >berth.yaml <<YAML
berth: 1
name: payments-api
version: 1.4.0
image:
  - url: https://artifacts.example.com/debian.tar.zst
    sha256: $SHA
  - {name: python, version: 3.11.7, url: ./layers/python.tar, check: [python3, --version]}
workdir: /workspace
mounts:
  - {source: ., target: /workspace}
  - {type: tmpfs, target: /tmp, size: 256MiB}
env: {APP_ENV: development, GREETING: "\${BERTH_BATS_VAR:-hi}"}
resources: {memory: 2GiB, cpus: 1.5}
ports: ["127.0.0.1:8080:8080"]
services:
  web:
    command: [python3, -m, web]
    depends_on: [postgres]
  postgres:
    command: [postgres]
    healthcheck: {command: [pg_isready], interval: 2s}
    restart: on-failure
YAML
}

teardown() {
  cd /
  rm -rf "$T"
}

@test "validate: a valid spec prints nothing and exits 0" {
  run --separate-stderr "$BERTH" validate
  [ "$status" -eq 0 ]
  [ -z "$output" ]
  [ -z "$stderr" ]
}

@test "validate: -f after the verb, from another folder" {
  mkdir sub && cd sub
  run --separate-stderr "$BERTH" validate -f ../berth.yaml
  [ "$status" -eq 0 ]
  [ -z "$output$stderr" ]
}

@test "validate: an invalid value gives FILE:LINE:COL, the key path and exit 2" {
  sed -i 's/memory: 2GiB/memory: lots/' berth.yaml
  run --separate-stderr "$BERTH" validate -f berth.yaml
  [ "$status" -eq 2 ]
  [ -z "$output" ]
  [ "$stderr" = 'berth.yaml:13:21: resources.memory: expected a size like 512MiB (units B K KiB M MiB G GiB), got "lots"' ]
}

@test "validate: an unknown key suggests the closest one" {
  sed -i 's/^workdir:/wrkdir:/' berth.yaml
  run --separate-stderr "$BERTH" validate
  [ "$status" -eq 2 ]
  [ "$stderr" = 'berth.yaml:8:1: wrkdir: unknown key; did you mean "workdir"?' ]
}

@test "validate: a dependency cycle is named" {
  sed -i 's/    restart: on-failure/    depends_on: [web]/' berth.yaml
  run --separate-stderr "$BERTH" validate
  [ "$status" -eq 2 ]
  [ "$stderr" = 'berth.yaml:22:18: services.postgres.depends_on[0]: dependency cycle: web -> postgres -> web' ]
}

@test "validate: an unset variable without default is an error at its line" {
  sed -i 's/\${BERTH_BATS_VAR:-hi}/${BERTH_BATS_UNSET}/' berth.yaml
  unset BERTH_BATS_UNSET
  run --separate-stderr "$BERTH" validate
  [ "$status" -eq 2 ]
  [ "$stderr" = 'berth.yaml:12:39: env.GREETING: environment variable BERTH_BATS_UNSET is not set (write ${BERTH_BATS_UNSET:-} to allow it unset)' ]
}

@test "validate: --json reports the error as JSON on stderr" {
  sed -i 's/cpus: 1.5/cpus: 0/' berth.yaml
  run --separate-stderr "$BERTH" validate --json
  [ "$status" -eq 2 ]
  [ -z "$output" ]
  [ "$(jq -r .kind <<<"$stderr")" = invalid ]
  [ "$(jq -r .exit <<<"$stderr")" = 2 ]
  [ "$(jq -r .command <<<"$stderr")" = validate ]
  [[ "$(jq -r .error <<<"$stderr")" == 'berth.yaml:13:33: resources.cpus: expected a number of CPUs above 0'* ]]
}

@test "validate: a missing file exits 1" {
  run --separate-stderr "$BERTH" validate -f nope.yaml
  [ "$status" -eq 1 ]
  [ "$stderr" = 'berth: open `nope.yaml`: No such file or directory' ]
}

@test "validate: a folder instead of a file exits 1" {
  mkdir d
  run --separate-stderr "$BERTH" validate -f d
  [ "$status" -eq 1 ]
  [ "$stderr" = 'berth: read `d`: Is a directory' ]
}

@test "validate: a spec over 1 MiB is refused with exit 2" {
  head -c 1048577 /dev/zero | tr '\0' '#' >big.yaml
  run --separate-stderr "$BERTH" validate -f big.yaml
  [ "$status" -eq 2 ]
  [ "$stderr" = 'big.yaml:1:1: spec file is larger than the limit of 1048576 bytes' ]
}

@test "validate: an alias bomb is refused with exit 2" {
  {
    echo 'a0: &a0 [x, x, x, x, x, x, x, x, x, x]'
    for i in 1 2 3 4 5 6 7 8; do
      p=$((i - 1))
      echo "a$i: &a$i [*a$p, *a$p, *a$p, *a$p, *a$p, *a$p, *a$p, *a$p, *a$p, *a$p]"
    done
  } >bomb.yaml
  run --separate-stderr "$BERTH" validate -f bomb.yaml
  [ "$status" -eq 2 ]
  [[ "$stderr" == bomb.yaml:5:*': document has more than the limit of 100000 nodes (aliases count as expanded)' ]]
}

@test "validate: 10,000-deep nesting is refused with exit 2" {
  python3 -c 'print("a: " + "[" * 10000 + "]" * 10000)' >deep.yaml
  run --separate-stderr "$BERTH" validate -f deep.yaml
  [ "$status" -eq 2 ]
  [[ "$stderr" == 'deep.yaml:1:67: a[0]'*': nesting deeper than the limit of 64 levels' ]]
}

@test "validate: extends without any repository is refused at its line with exit 1" {
  sed -i 's/^version: 1.4.0/extends: base-debian@^2.1/' berth.yaml
  run --separate-stderr env -u BERTH_SPEC_REPOS "$BERTH" validate
  [ "$status" -eq 1 ]
  [ "$stderr" = 'berth.yaml:3:10: extends: cannot resolve "base-debian@^2.1": no spec repository is configured (--repo, BERTH_SPEC_REPOS or repos:)' ]
}

@test "validate: bad usage exits 2" {
  run "$BERTH" validate extra
  [ "$status" -eq 2 ]
  run "$BERTH" validate --bogus
  [ "$status" -eq 2 ]
}

@test "validate --help prints usage and exits 0" {
  run "$BERTH" validate --help
  [ "$status" -eq 0 ]
  [[ "$output" == "Usage: berth validate"* ]]
}

@test "spec show: the normalized spec in human form" {
  export BERTH_BATS_VAR=hello
  run --separate-stderr "$BERTH" spec show
  [ "$status" -eq 0 ]
  [ -z "$stderr" ]
  grep -qx 'name: payments-api' <<<"$output"
  grep -qx "    sha256: $SHA" <<<"$output"
  grep -qx "  - url: $T/layers/python.tar" <<<"$output"
  grep -qx "  - {type: bind, source: $T, target: /workspace, read_only: false}" <<<"$output"
  grep -qx '  - {type: tmpfs, target: /tmp, read_only: false, size: 256MiB}' <<<"$output"
  grep -qx '  GREETING: hello' <<<"$output"
  grep -qx '  memory: 2GiB' <<<"$output"
  # services in start order: postgres first
  [ "$(grep -n '^  postgres:$' <<<"$output" | cut -d: -f1)" -lt "$(grep -n '^  web:$' <<<"$output" | cut -d: -f1)" ]
}

@test "spec show: the human form reads back as YAML" {
  sed -i 's/^env: {APP_ENV: development,/env: {APP_ENV: development, N: "12", Y: "yes", L: "a\\nb", C: "a: #b",/' berth.yaml
  run --separate-stderr "$BERTH" spec show
  [ "$status" -eq 0 ]
  env=$(python3 -c 'import sys, yaml; d = yaml.safe_load(sys.stdin)["env"]; print(repr([d["N"], d["Y"], d["L"], d["C"]]))' <<<"$output")
  [ "$env" = "['12', 'yes', 'a\\nb', 'a: #b']" ]
  run --separate-stderr "$BERTH" spec show
  [ "$status" -eq 0 ]
  name=$(python3 -c 'import sys, yaml; d = yaml.safe_load(sys.stdin); print(d["name"], d["services"]["postgres"]["restart"], d["ports"][0])' <<<"$output")
  [ "$name" = "payments-api on-failure 127.0.0.1:8080:8080" ]
}

@test "spec show --json: every field, sizes in bytes, durations in ms" {
  run --separate-stderr "$BERTH" spec show --json -f berth.yaml
  [ "$status" -eq 0 ]
  [ "$(jq -r .name <<<"$output")" = payments-api ]
  [ "$(jq -r .berth <<<"$output")" = 1 ]
  [ "$(jq -r .version <<<"$output")" = 1.4.0 ]
  [ "$(jq -r .dir <<<"$output")" = "$T" ]
  [ "$(jq -r .resources.memory <<<"$output")" = 2147483648 ]
  [ "$(jq -r .resources.cpus <<<"$output")" = 1.5 ]
  [ "$(jq -r .resources.pids <<<"$output")" = null ]
  [ "$(jq -r '.image[1].url' <<<"$output")" = "$T/layers/python.tar" ]
  [ "$(jq -r '.image[1].check | join(" ")' <<<"$output")" = "python3 --version" ]
  [ "$(jq -r '.mounts[1].size' <<<"$output")" = 268435456 ]
  [ "$(jq -r '.env.GREETING' <<<"$output")" = hi ]
  [ "$(jq -r '.ports[0].host_ip' <<<"$output")" = 127.0.0.1 ]
  [ "$(jq -r '.network' <<<"$output")" = private ]
  [ "$(jq -r '.security.seccomp' <<<"$output")" = default ]
  [ "$(jq -r '[.services[].name] | join(",")' <<<"$output")" = postgres,web ]
  [ "$(jq -r '.services[0].healthcheck.interval_ms' <<<"$output")" = 2000 ]
  [ "$(jq -r '.services[0].stop_timeout_ms' <<<"$output")" = 10000 ]
  [ "$(jq -r '.services[0].restart' <<<"$output")" = on-failure ]
  [ "$(jq -r '.services[1].depends_on[0]' <<<"$output")" = postgres ]
  [ "$(jq -r '.services[1].healthcheck' <<<"$output")" = null ]
}

@test "spec show: --json before the verb works too" {
  run --separate-stderr "$BERTH" --json spec show
  [ "$status" -eq 0 ]
  python3 -c 'import json, sys; assert json.load(sys.stdin)["name"] == "payments-api"' <<<"$output"
}

@test "spec show: an invalid spec exits 2 and prints nothing on stdout" {
  sed -i 's/^name: payments-api/name: Payments/' berth.yaml
  run --separate-stderr "$BERTH" spec show
  [ "$status" -eq 2 ]
  [ -z "$output" ]
  [ "$stderr" = 'berth.yaml:2:7: name: expected a name matching [a-z0-9][a-z0-9-]{0,62}, got "Payments"' ]
}

@test "spec publish without --repo is a usage error" {
  run --separate-stderr "$BERTH" spec publish
  [ "$status" -eq 2 ]
  [ "$stderr" = 'berth: spec publish: give the repository folder to publish to with one --repo DIR' ]
}

@test "spec: a missing or unknown subcommand is a usage error" {
  run --separate-stderr "$BERTH" spec
  [ "$status" -eq 2 ]
  run --separate-stderr "$BERTH" spec shwo
  [ "$status" -eq 2 ]
  [[ "$stderr" == *'unknown subcommand `shwo`; did you mean `show`?' ]]
}
