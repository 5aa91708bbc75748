#!/usr/bin/env bats
# A real Debian root as Ops makes one: mmdebstrap (minbase, ca-certificates,
# python3-minimal) packed with `berth image pack`, pulled, run, packed again.
# The root is built once from the host's apt sources and kept in /var/tmp.

load helpers

setup() { common_setup; }
teardown() { common_teardown; }

ROOTS=/var/tmp/berth-realroot

# The host's own sources, as apt reads them: mmdebstrap pastes each file into
# the root's sources.list, so no mirror is named here.
host_sources() {
  local LIST PARTS f
  eval "$(apt-config shell LIST Dir::Etc::sourcelist/f PARTS Dir::Etc::sourceparts/d)"
  [ -s "$LIST" ] && grep -qv '^\s*\(#\|$\)' "$LIST" && echo "$LIST"
  for f in "$PARTS"*.list "$PARTS"*.sources; do
    [ -s "$f" ] && echo "$f"
  done
  return 0
}

# Run a command with only stdin, stdout and stderr open. mmdebstrap hands apt
# the numbers of pipes it opens, and apt's hooks run them in dash, which takes
# only one-digit fds: bats' own fds push them past 9.
without_fds() {
  (
    for fd in /proc/$BASHPID/fd/*; do
      fd=${fd##*/}
      [ "$fd" -gt 2 ] && eval "exec $fd>&-"
    done
    exec "$@"
  )
}

# Sets ROOT to the cached root, building it first when missing. A build goes to
# a temporary name and is renamed when complete; the lock keeps concurrent
# runs from building it twice.
real_root() {
  local suite sources
  suite=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
  [ -n "$suite" ] || need "a Debian host (VERSION_CODENAME in /etc/os-release)"
  ROOT=$ROOTS/$suite-minbase-ca-python3
  mkdir -p "$ROOTS"
  exec 9>"$ROOTS/lock"
  flock 9
  if [ ! -d "$ROOT" ]; then
    mapfile -t sources < <(host_sources)
    [ "${#sources[@]}" -gt 0 ] || need "apt sources for $suite"
    # A build killed midway may have left /proc or /dev mounted inside: never descend into them.
    rm -rf --one-file-system "$ROOT.tmp"
    without_fds mmdebstrap --mode=root --variant=minbase --include=ca-certificates,python3-minimal \
      "$suite" "$ROOT.tmp" "${sources[@]}" </dev/null >"$T/mmdebstrap.log" 2>&1 ||
      { cat "$T/mmdebstrap.log" >&2; return 1; }
    mv "$ROOT.tmp" "$ROOT"
  fi
  exec 9>&-
}

# Every name under a folder with its type and link target, in bytes.
names() {
  (cd "$1" && find . -mindepth 1 -printf '%y %p -> %l\n' | LC_ALL=C sort)
}

@test "an mmdebstrap root with ca-certificates: pack, pull, import ssl, pack again to the same digest" {
  [ "$(id -u)" -eq 0 ] || need "root for mmdebstrap --mode=root"
  command -v mmdebstrap >/dev/null || need "mmdebstrap (scripts/deps.sh installs it)"
  real_root
  # what made packing such a root fail: device nodes and non-ASCII names
  [ -n "$(find "$ROOT/dev" -type c)" ]
  [ -n "$(find "$ROOT/usr/share/ca-certificates" -name '*[! -~]*')" ]

  run "$BERTH" image pack "$ROOT" -o "$T/dist/root.tar.zst"
  [ "$status" -eq 0 ]
  devices=$(find "$ROOT" -type c -o -type b | wc -l)
  [ "${lines[0]}" = "berth: warning: skipped $devices device nodes: the sandbox makes its own /dev" ]
  [ "${#lines[@]}" -eq 2 ]
  sha=${lines[1]}
  [ "$sha" = "$(sha256 "$T/dist/root.tar.zst")" ]

  mkdir "$T/project"
  cat >"$T/project/berth.yaml" <<YAML
berth: 1
name: realroot
image:
  - url: $T/dist/root.tar.zst
    sha256: $sha
YAML
  cd "$T/project"
  run "$BERTH" pull
  [ "$status" -eq 0 ]
  layer=$BERTH_CACHE_DIR/layers/sha256/$sha
  # every name came back byte for byte; only the device nodes stayed behind
  diff <(names "$ROOT" | grep -v '^[cb] ') <(names "$layer")

  run "$BERTH" run --ephemeral -- python3 -c '
import os, ssl
ctx = ssl.create_default_context(cafile="/etc/ssl/certs/ca-certificates.crt")
assert ctx.cert_store_stats()["x509_ca"] > 100, ctx.cert_store_stats()
assert os.path.exists("/usr/share/ca-certificates/mozilla/NetLock_Arany_=Class_Gold=_Főtanúsítvány.crt")
print(ssl.OPENSSL_VERSION)'
  [ "$status" -eq 0 ]
  [[ "$output" == "OpenSSL "* ]]

  # again, from a copy elsewhere with every mtime changed, in another locale: the same bytes
  cp -a "$ROOT" "$T/copy"
  find "$T/copy" -exec touch -h -d @123456789 {} +
  LC_ALL=C.UTF-8 run "$BERTH" -q image pack "$T/copy" -o "$T/again.tar.zst"
  [ "$status" -eq 0 ]
  [ "$output" = "$sha" ]
  cmp "$T/dist/root.tar.zst" "$T/again.tar.zst"
}
