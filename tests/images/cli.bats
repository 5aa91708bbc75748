#!/usr/bin/env bats
# berth image pack|ls|gc (and pull, once specs land) through the real binary.

load helpers

setup() {
  common_setup
  mkdir -p "$T/www"
  make_layer "$T/www/a.tar.gz" 256
  make_layer "$T/www/b.tar.gz" 128
  A=$(sha256 "$T/www/a.tar.gz")
  B=$(sha256 "$T/www/b.tar.gz")
}

teardown() { common_teardown; }

@test "image --help and usage errors" {
  run "$BERTH" image --help
  [ "$status" -eq 0 ]
  [[ "$output" == "Usage: berth image"* ]]
  run "$BERTH" image
  [ "$status" -eq 2 ]
  run "$BERTH" image frob
  [ "$status" -eq 2 ]
  [[ "$output" == *"unknown subcommand \`frob\`"* ]]
  run "$BERTH" image pack "$T"
  [ "$status" -eq 2 ]
}

@test "image pack prints a digest that matches the file and is stable" {
  mkdir -p "$T/src/etc"
  echo hi >"$T/src/etc/motd"
  run "$BERTH" image pack "$T/src" -o "$T/x.tar.zst"
  [ "$status" -eq 0 ]
  [ "$output" = "$(sha256 "$T/x.tar.zst")" ]
  d=$output
  touch "$T/src/etc/motd"
  run "$BERTH" --json image pack -o "$T/y.tar.zst" "$T/src"
  [ "$output" = "{\"file\":\"$T/y.tar.zst\",\"sha256\":\"$d\"}" ]
}

@test "image ls shows digests, sizes and owners; gc removes only unreferenced ones" {
  echo spec >"$T/berth.yaml"
  IMAGES_TOOL_OWNER=$T/berth.yaml "$IMAGES_TOOL" pull "$T/www/a.tar.gz" >/dev/null
  "$IMAGES_TOOL" pull "$T/www/b.tar.gz" >/dev/null
  run "$BERTH" image ls
  [ "$status" -eq 0 ]
  [[ "${lines[0]}" == DIGEST* ]]
  [[ "$output" == *"${A:0:12} "*"$T/berth.yaml"* ]]
  [[ "$output" == *"${B:0:12} "* ]]
  run "$BERTH" --json image ls
  echo "$output" | jq -e --arg a "$A" --arg o "$T/berth.yaml" '.[] | select(.sha256 == $a) | .used_by == [$o] and .blob_size > 0 and .layer_size > 0'
  run "$BERTH" image gc --dry-run
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = "would remove $B" ]
  [[ "${lines[1]}" == "would free 1 layer, "* ]]
  [ -d "$BERTH_CACHE_DIR/layers/sha256/$B" ]
  run "$BERTH" image gc
  [ "${lines[0]}" = "removed $B" ]
  [ ! -e "$BERTH_CACHE_DIR/layers/sha256/$B" ]
  [ ! -e "$BERTH_CACHE_DIR/blobs/sha256/$B" ]
  [ -d "$BERTH_CACHE_DIR/layers/sha256/$A" ]
  # the owner goes away: so does what only it used
  rm "$T/berth.yaml"
  run "$BERTH" --json image gc
  [ "$(echo "$output" | jq -r '.removed[0]')" = "$A" ]
  [ -z "$(ls -A "$BERTH_CACHE_DIR/layers/sha256")" ]
  [ -z "$(ls -A "$BERTH_CACHE_DIR/refs")" ]
}
