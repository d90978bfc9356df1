#!/usr/bin/env bash
# Installs everything fedmesh's tests and sandbox need on a fresh Debian machine: the Debian
# packages the tests drive for real (buildah and mmdebstrap build the image from a local Debian
# base), the npm dependencies (including Node 24 as a package), and
# the envtest binaries (kube-apiserver + etcd built from the Go module proxy, cached).
set -euo pipefail
cd "$(dirname "$0")/.."

declare -A pkg_for=(
  [ip]=iproute2 [tc]=iproute2 [setpriv]=util-linux [openssl]=openssl [curl]=curl
  [keepalived]=keepalived [nft]=nftables [iptables]=iptables
  [buildah]=buildah [mmdebstrap]=mmdebstrap [dig]=bind9-dnsutils
)
missing=()
for cmd in "${!pkg_for[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || PATH="$PATH:/usr/sbin:/sbin" command -v "$cmd" >/dev/null 2>&1 || missing+=("${pkg_for[$cmd]}")
done
if [ ${#missing[@]} -gt 0 ]; then
  mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
  echo "setup: installing Debian packages: ${missing[*]}" >&2
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

command -v go >/dev/null 2>&1 || { echo "setup: Go (1.24 or newer) is needed to build the envtest binaries" >&2; exit 1; }

if [ ! -x node_modules/.bin/node ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
# Prints the cache directory; builds only when the binaries are missing (cold: ~4 minutes).
npm run -s envtest:build
