#!/usr/bin/env bash
# `npm test`: build, run the unit tests on the host, then the lab tests
# (*.lab.test.ts, real WireGuard): all of them inside a disposable sandbox with
# userspace WireGuard (wireguard-go), and those whose outcome can depend on the
# backend (project lab-kernel, listed in vitest.config.ts) again inside the
# kernel lab, a qemu guest with Debian's kernel and its WireGuard module (one
# boot runs them all). Run as root: the labs create namespaces. See test/README.md.
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

# Every project but the two lab ones ("lab-unit" is the lab package's unit tests).
step "unit tests on the host: vitest run --project '!lab*' --project lab-unit"
node_modules/.bin/vitest run --project '!lab*' --project lab-unit
step_done

step "lab tests, userspace WireGuard: lab-sandbox vitest run --project lab"
packages/lab/bin/lab-sandbox node_modules/.bin/vitest run --project lab
step_done

# Under software emulation, loading the modules is most of a file's cost: the
# files share one worker (--no-isolate) so that each module loads once.
step "lab tests, kernel WireGuard: kernel-lab -- vitest run --project lab-kernel"
packages/lab/bin/kernel-lab --timeout 900 -- \
  node_modules/.bin/vitest run --project lab-kernel --no-isolate --maxWorkers=1
step_done
