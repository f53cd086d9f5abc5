#!/usr/bin/env bash
# `npm test`: build, run the unit tests on the host, then the lab tests
# (*.lab.test.ts, real WireGuard) twice: inside a disposable sandbox with
# userspace WireGuard (wireguard-go), and inside the kernel lab, a qemu guest
# with Debian's kernel and its WireGuard module (one boot runs the whole lab
# suite). Run as root: the labs create namespaces. See test/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."

step_started=0
step() {
  printf '\n== %s\n' "$*"
  step_started=$SECONDS
}
step_done() {
  printf '== done in %d s\n' "$((SECONDS - step_started))"
}

step "build: tsc --build"
node_modules/.bin/tsc --build
step_done

step "unit tests on the host: vitest run --project '!lab'"
node_modules/.bin/vitest run --project '!lab'
step_done

step "lab tests, userspace WireGuard: lab-sandbox vitest run --project lab"
packages/lab/bin/lab-sandbox node_modules/.bin/vitest run --project lab
step_done

step "lab tests, kernel WireGuard: kernel-lab -- vitest run --project lab"
packages/lab/bin/kernel-lab --timeout 900 -- node_modules/.bin/vitest run --project lab
step_done
