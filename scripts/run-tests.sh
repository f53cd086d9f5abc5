#!/usr/bin/env bash
# `npm test`: build, run the unit tests on the host, then the lab tests
# (*.lab.test.ts, real WireGuard) inside a disposable sandbox with userspace
# WireGuard. Run as root (the lab creates network namespaces). See test/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."

step() {
  printf '\n== %s\n' "$*"
}

step "build: tsc --build"
node_modules/.bin/tsc --build

step "unit tests (host): vitest run --project '!lab'"
node_modules/.bin/vitest run --project '!lab'

step "lab tests, userspace WireGuard (wireguard-go in a lab sandbox)"
packages/lab/bin/lab-sandbox node_modules/.bin/vitest run --project lab
