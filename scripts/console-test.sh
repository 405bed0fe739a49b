#!/usr/bin/env bash
# The console's browser suite (tests/console): Playwright (playwright-core from npm, pinned by
# tests/console/package-lock.json) drives Debian's Chromium (/usr/bin/chromium, installed by
# scripts/setup-deps.sh; never a downloaded browser) against the real dtmd and a real business
# service. ctest runs it as console_browser_test with LYNX_DTMD_PATH and LYNX_CONSOLE_ARTIFACTS
# (screenshots) set; by hand it takes build/apps/dtmd/dtmd and writes build/console-artifacts.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dir="$repo/tests/console"
[[ -x /usr/bin/chromium ]] || { echo "console-test.sh: /usr/bin/chromium is missing (scripts/setup-deps.sh)" >&2; exit 1; }
# Packages: installed again only when the lockfile changed (npm's cache is ~/.npm).
stamp="$dir/node_modules/.lynx-lock-sha"
want="$(sha256sum "$dir/package-lock.json" | cut -c1-64)"
if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
  (cd "$dir" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  echo "$want" >"$stamp"
fi
cd "$dir"
exec node --test --test-concurrency=1 ./*.test.mjs
