#!/usr/bin/env bash
# Install what berth needs to build and test, from Debian's packages only.
# Runs apt-get only when something is missing; as root, or through sudo.
set -euo pipefail

packages=(
  # build
  build-essential meson ninja-build pkg-config clang libclang-rt-14-dev
  libyaml-dev libcurl4-openssl-dev libarchive-dev libseccomp-dev libssl-dev libjansson-dev
  # tests
  libcmocka-dev bats jq python3 python3-yaml curl nginx-light zstd xz-utils bzip2 gzip
  busybox-static uidmap iproute2 procps util-linux bsdutils passwd openssl
  gcc-multilib                      # -m32 -static: the 32-bit x86 sandbox probe
  strace                            # fails or kills the cache's publishing syscalls in tests
  golang-github-containers-common   # podman's seccomp profile, an import test input
  mmdebstrap                        # a real Debian root for the pack/pull/run test
  docker-registry skopeo            # a real OCI registry, and images pushed to it, for the OCI tests
  podman                            # `podman save` archives (docker-archive, oci-archive) for the OCI tests; a peer of bench/oci-pull.sh
  apache2-utils python3-cryptography  # its htpasswd (bcrypt) and the test token server's JWT signing
  redis-server                      # a real server for the services tests (its binary and libraries packed into a layer)
  postgresql                        # another: initdb and postgres under a service's user:, pg_isready, psql (tests/envs/real.bats)
  passt                             # pasta: outbound access and published ports for network: private
  # peers for the benchmarks
  bubblewrap crun hyperfine umoci
)

# pasta opens the tap device as the user who runs berth; udev makes it
# world-usable (0666) on Debian, a container without udev may not.
if [ -c /dev/net/tun ] && [ "$(stat -c %a /dev/net/tun)" != 666 ] && [ "$(id -u)" -eq 0 ]; then
  chmod 0666 /dev/net/tun
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "deps: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
  SUDO=sudo
fi

# Packages such as nginx start their service on install; keep them from doing so.
policy=/usr/sbin/policy-rc.d
made_policy=
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
  $SUDO chmod 755 "$policy"
  made_policy=1
fi
cleanup() { if [ -n "$made_policy" ]; then $SUDO rm -f "$policy"; fi; }
trap cleanup EXIT

echo "deps: installing ${missing[*]}" >&2
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
