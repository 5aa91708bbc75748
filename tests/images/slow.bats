#!/usr/bin/env bats
# Real data end to end: part of this machine's /usr as .tar.zst, served by nginx,
# pulled by `berth pull`, and compared entry by entry with GNU tar's extraction.

load helpers

setup() { common_setup; }
teardown() { common_teardown; }

listing() {
  # type, mode, size, mtime (seconds), symlink target, path; owners are not kept
  (cd "$1" && find . -printf '%y %m %s %TY%Tm%Td%TH%TM%TS %l %p\n' | sed 's/\.[0-9]* / /' | sort)
}

@test "a real /usr archive unpacks exactly as GNU tar extracts it" {
  mkdir -p "$T/www" "$T/tar"
  tar -C / -cf - usr/include usr/share/doc usr/lib/python3 2>/dev/null | zstd -q -T0 >"$T/www/usr.tar.zst"
  sha=$(sha256 "$T/www/usr.tar.zst")
  start_nginx "$T/www"
  cat >"$T/berth.yaml" <<YAML
berth: 1
name: usr
image:
  - url: http://127.0.0.1:$NGINX_PORT/usr.tar.zst
    sha256: $sha
YAML
  run "$BERTH" pull -f "$T/berth.yaml"
  [ "$status" -eq 0 ]
  layer=$BERTH_CACHE_DIR/layers/sha256/$sha
  tar -C "$T/tar" -I zstd -xf "$T/www/usr.tar.zst"
  diff -r --no-dereference "$T/tar" "$layer"
  # the folders above the archived ones are not in the archive: both tools make them now
  implicit=' \.(/usr(/lib|/share)?)?$'
  diff <(listing "$T/tar" | grep -Ev "$implicit") <(listing "$layer" | grep -Ev "$implicit")
  [ "$(listing "$layer" | wc -l)" -gt 10000 ]
  # hardlinks stay hardlinks
  [ "$(find "$T/tar" -type f -links +1 | wc -l)" -eq "$(find "$layer" -type f -links +1 | wc -l)" ]
}
