#!/usr/bin/env bash
# Build a small root filesystem from Debian's busybox-static and pack it as a
# reproducible .tar.zst: the image the bundled examples run in. Programs
# named after the output (e.g. /usr/bin/redis-server from Debian's package)
# are copied in at the same paths with the libraries ldd names for them.
#   usage: build-busybox-image.sh OUTPUT.tar.zst [PROGRAM...]
set -euo pipefail
out=${1:?usage: $0 OUTPUT.tar.zst [PROGRAM...]}
shift
busybox=/bin/busybox
[ -x "$busybox" ] || { echo "$0: $busybox is missing: apt-get install busybox-static" >&2; exit 1; }

umask 022
root=$(mktemp -d)
chmod 755 "$root"
trap 'rm -rf "$root"' EXIT
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc,root,tmp,proc,sys,dev,workspace,var/tmp}
chmod 1777 "$root/tmp" "$root/var/tmp"
cp "$busybox" "$root/bin/busybox"
for applet in $("$busybox" --list-full); do
  [ "$applet" = bin/busybox ] && continue
  ln -sf /bin/busybox "$root/$applet"
done
cat >"$root/etc/passwd" <<'P'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
P
cat >"$root/etc/group" <<'G'
root:x:0:
nogroup:x:65534:
G
echo "busybox $("$busybox" | head -1 | awk '{print $2}')" >"$root/etc/berth-image"
if [ $# -gt 0 ]; then
  for f in "$@" $(ldd "$@" | awk '/=>/ { print $3 } /^\t\// { print $1 }' | sort -u); do
    [ -e "$f" ] || { echo "$0: $f is missing" >&2; exit 1; }
    cp --parents -L "$f" "$root"
  done
  echo "with $*" >>"$root/etc/berth-image"
fi

mkdir -p "$(dirname "$out")"
tmp="$out.tmp.$$"
if [ -n "${BERTH:-}" ] && "$BERTH" image pack --help >/dev/null 2>&1 && "$BERTH" image pack "$root" -o "$tmp" >/dev/null 2>&1; then
  :
else
  # GNU tar with the same reproducibility rules as `berth image pack`.
  tar --sort=name --numeric-owner --owner=0 --group=0 --mtime=@"${SOURCE_DATE_EPOCH:-0}" \
      --format=pax --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime \
      -C "$root" -cf - . | zstd -q -19 -T0 -o "$tmp" -f
fi
mv -f "$tmp" "$out"
sha256sum "$out" | cut -d' ' -f1
