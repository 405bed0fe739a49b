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
# Vite 7 needs Node.js 20.19 or newer.
if ! node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)'; then
  echo "build-console.sh: Node.js $(node --version) is too old for the console's Vite 7 (20.19 or newer)" >&2
  exit 1
fi
# The sources that make the build: everything under console/ but its outputs and packages.
hash=$(cd "$src" && find . -type f -not -path './node_modules/*' -not -path './dist/*' -print0 |
  LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16)
hash="$hash-$(node --version)"
cached="$cache_root/$hash"
if [[ ! -f "$cached/index.html" ]]; then
  echo "-- console: building with Vite ($hash)"
  # In a copy outside the checkout: the packages (npm ci, from ~/.npm's cache when it has them)
  # and the build never touch the source tree.
  work="$cache_root/.work-$$"
  tmp="$cache_root/.out-$$"
  rm -rf "$work" "$tmp"
  mkdir -p "$work"
  trap 'rm -rf "$work" "$tmp"' EXIT
  (cd "$src" && find . -mindepth 1 -maxdepth 1 -not -name node_modules -not -name dist \
    -exec cp -r {} "$work/" \;)
  (cd "$work" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  (cd "$work" && LYNX_CONSOLE_OUT="$tmp" npm run --silent build >/dev/null)
  [[ -f "$tmp/index.html" ]] || { echo "build-console.sh: no index.html in the Vite output" >&2; exit 1; }
  rm -rf "$cached"
  mv "$tmp" "$cached"
  # Older builds of the console are not needed again.
  find "$cache_root" -mindepth 1 -maxdepth 1 -type d -not -name "$hash" -mtime +7 -exec rm -rf {} +
fi
rm -rf "$out"
mkdir -p "$(dirname "$out")"
cp -r "$cached" "$out"
