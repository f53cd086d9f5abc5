#!/usr/bin/env bash
# Installs what a fresh Debian 12 machine lacks to build, test and demo
# wg-dynamic: Debian packages (without recommends) and the npm dependencies.
# Idempotent: a machine that has everything is left alone. Run as root.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  wireguard-go      # userspace WireGuard for the namespace lab and the demo
  wireguard-tools   # wg and wg-quick, the lab's independent witness
  nftables          # wg-quick's rules for AllowedIPs = 0.0.0.0/0, ::/0
  iproute2          # ip netns, veth
  iputils-ping
  qemu-system-x86   # the kernel lab: a real kernel with the WireGuard module
  busybox-static    # the kernel lab's initramfs
  kmod              # depmod for the kernel lab's module tree
  xz-utils          # unpacking the kernel image
  systemd           # systemd-analyze verify for the unit files
  man-db            # man -l: the man pages' test renders them (not in a minimal Debian)
  groff-base        # the formatter man uses
  ca-certificates
)

if [ "$(id -u)" -ne 0 ]; then
  echo "setup: run as root (the labs create network namespaces and install Debian packages)" >&2
  exit 1
fi

if ! command -v node >/dev/null || ! node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)'; then
  echo "setup: Node.js 20.19 or newer is required (found: $(node --version 2>/dev/null || echo none))" >&2
  exit 1
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# The kernel lab downloads Debian's kernel package on first use: it needs the
# package lists, which a machine that lacked nothing above may not have.
if ! apt-cache show linux-image-amd64 >/dev/null 2>&1; then
  echo "setup: apt-get update (for the kernel lab's kernel package)"
  apt-get update -qq
fi

# npm ci when the installed tree is missing or older than the lock file.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: npm ci"
  npm ci --no-audit --no-fund --loglevel=error
fi
