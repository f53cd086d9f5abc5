#!/usr/bin/env bash
# The test command: set up what is missing, build, check formatting and types,
# and run every test, both WireGuard labs included (run as root).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
npm run check
npm test
