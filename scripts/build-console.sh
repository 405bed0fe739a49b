#!/usr/bin/env bash
# Builds the web console (console/, Vite + TypeScript, npm packages from the registry pinned by
# console/package-lock.json) into OUT_DIR. A build is cached outside the checkout under
# ~/.cache/lynx-dtm/console/<hash of the console's sources>, so a fresh clone with unchanged
# sources copies it instead of running npm. Usage: scripts/build-console.sh OUT_DIR
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${1:?usage: build-console.sh OUT_DIR}"
src="$repo/console"
cache_root="${LYNX_CACHE_DIR:-$HOME/.cache/lynx-dtm}/console"

if ! command -v npm >/dev/null || ! command -v node >/dev/null; then
  echo "build-console.sh: node and npm are needed to build the console (scripts/setup-deps.sh installs them)" >&2
  exit 1
fi
# The sources that make the build: everything under console/ but its outputs and packages.
hash=$(cd "$src" && find . -type f -not -path './node_modules/*' -not -path './dist/*' -print0 |
  LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16)
hash="$hash-$(node --version)"
cached="$cache_root/$hash"
if [[ ! -f "$cached/index.html" ]]; then
  echo "-- console: building with Vite ($hash)"
  (cd "$src" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  tmp="$cache_root/.tmp-$$"
  rm -rf "$tmp"
  mkdir -p "$cache_root"
  (cd "$src" && LYNX_CONSOLE_OUT="$tmp" npm run --silent build >/dev/null)
  [[ -f "$tmp/index.html" ]] || { echo "build-console.sh: no index.html in the Vite output" >&2; exit 1; }
  rm -rf "$cached"
  mv "$tmp" "$cached"
  # Older builds of the console are not needed again.
  find "$cache_root" -mindepth 1 -maxdepth 1 -type d -not -name "$hash" -mtime +7 -exec rm -rf {} +
fi
rm -rf "$out"
mkdir -p "$(dirname "$out")"
cp -r "$cached" "$out"
