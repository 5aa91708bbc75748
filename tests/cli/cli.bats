#!/usr/bin/env bats
# The command line as a whole: global options, help, versions, exit statuses.

setup() {
  : "${BERTH:?BERTH must point at the berth binary}"
  tmp=$(mktemp -d)
  cd "$tmp"
}

teardown() {
  rm -rf "$tmp"
}

@test "--version prints the version and exits 0" {
  run "$BERTH" --version
  [ "$status" -eq 0 ]
  [[ "$output" =~ ^berth\ [0-9]+\.[0-9]+\.[0-9]+$ ]]
}

@test "--json --version is a JSON object" {
  run "$BERTH" --json --version
  [ "$status" -eq 0 ]
  [ "$(jq -r .version <<<"$output")" != null ]
}

@test "--help lists every verb of the contract" {
  run "$BERTH" --help
  [ "$status" -eq 0 ]
  for v in validate pull run up down ps logs shell exec lock verify doctor spec image; do
    grep -qw "$v" <<<"$output" || { echo "missing $v"; return 1; }
  done
}

@test "every verb has its own --help" {
  for v in validate pull run up down ps logs shell exec lock verify doctor spec image; do
    run "$BERTH" "$v" --help
    [ "$status" -eq 0 ] || { echo "$v: status $status"; return 1; }
    [[ "$output" == "Usage: berth $v"* ]] || { echo "$v: $output"; return 1; }
  done
}

@test "no command is a usage error" {
  run "$BERTH"
  [ "$status" -eq 2 ]
  [[ "$output" == *"no command given"* ]]
}

@test "an unknown command suggests the closest one" {
  run "$BERTH" valdate
  [ "$status" -eq 2 ]
  [[ "$output" == *"unknown command \`valdate\`; did you mean \`validate\`?"* ]]
}

@test "an unknown option is a usage error" {
  run "$BERTH" --frobnicate
  [ "$status" -eq 2 ]
  run "$BERTH" up --frobnicate
  [ "$status" -eq 2 ]
}

@test "--json errors are JSON on stderr with the exit status" {
  run --separate-stderr "$BERTH" --json valdate
  [ "$status" -eq 2 ]
  [ "$(jq -r .kind <<<"$stderr")" = usage ]
  [ "$(jq -r .exit <<<"$stderr")" = 2 ]
}
