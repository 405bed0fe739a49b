#!/usr/bin/env bash
# Builds lynx-dtm (dtmd, libraries and, unless LYNX_DTM_TESTS=OFF, the tests) into build/.
# Compiles are cached by ccache outside the checkout (~/.cache/lynx-dtm/ccache) so that a fresh
# clone rebuilds fast. Usage: scripts/build.sh [extra cmake args]
# LYNX_BUILD_DIR, LYNX_BUILD_TYPE, LYNX_JOBS, and LYNX_BUILD_TARGETS (space-separated targets
# instead of everything) adjust it.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$repo/scripts/setup-deps.sh"

build_dir="${LYNX_BUILD_DIR:-$repo/build}"
export CCACHE_DIR="${CCACHE_DIR:-$HOME/.cache/lynx-dtm/ccache}"
export CCACHE_BASEDIR="$repo"   # cache hits across checkouts in different directories
export CCACHE_NOHASHDIR=1
export CCACHE_MAXSIZE="${CCACHE_MAXSIZE:-5G}"
mkdir -p "$CCACHE_DIR"

cmake -S "$repo" -B "$build_dir" -G Ninja \
  -DCMAKE_BUILD_TYPE="${LYNX_BUILD_TYPE:-RelWithDebInfo}" \
  -DCMAKE_CXX_COMPILER_LAUNCHER=ccache \
  -DLYNX_DTM_BUILD_TESTS="${LYNX_DTM_TESTS:-ON}" "$@" >/dev/null
# 2 cores: one Beast translation unit takes ~0.8 GB, so two jobs are safe.
targets=()
for t in ${LYNX_BUILD_TARGETS:-}; do targets+=(--target "$t"); done
cmake --build "$build_dir" -j "${LYNX_JOBS:-2}" "${targets[@]}"
