#!/usr/bin/env bash
# The demo: installs what is missing, builds, and runs a real three-namespace
# lab (a relay server and two clients over WireGuard) with the real daemons,
# inside a disposable sandbox, so that nothing is left behind. Run as root.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
npm run --silent build
exec packages/lab/bin/lab-sandbox node demo/dist/demo.js
