#!/usr/bin/env bash
# The README's test command: installs what is missing, builds everything and runs every test
# suite in one pass (unit tests with in-memory and embedded stores, integration tests that start
# the real dtmd and a real business service).
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build_dir="${LYNX_BUILD_DIR:-$repo/build}"
"$repo/scripts/build.sh"
cd "$build_dir"
ctest --output-on-failure --timeout 900 -j1
