#!/usr/bin/env bash
# scripts/interop-go.sh [BUILD_DIR]: the interop suite of issue 5, direction 1 — DTM's official
# Go SDK (github.com/dtm-labs/client, pinned in tests/interop/go/go.mod) driving dtmd from
# BUILD_DIR (default: build/). Every test starts its own dtmd and an in-process business service.
# Tests on MariaDB / PostgreSQL use the servers of scripts/lib/databases.sh when their
# LYNX_TEST_* variables are set (scripts/test.sh does that), skip otherwise, and fail instead
# when LYNX_TEST_REQUIRE_DBS=1. Go caches live in ~/.cache/lynx-dtm (scripts/lib/go-env.sh);
# the first run downloads the modules through the Go module proxy.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build_dir="${1:-$repo/build}"
if ! build_dir="$(cd "$build_dir" 2>/dev/null && pwd)"; then
  echo "interop-go: build directory ${1:-$repo/build} does not exist" >&2
  exit 1
fi
# shellcheck source=lib/go-env.sh
source "$repo/scripts/lib/go-env.sh"
export LYNX_DTMD_PATH="$build_dir/apps/dtmd/dtmd"
if [[ ! -x $LYNX_DTMD_PATH ]]; then
  echo "interop-go: $LYNX_DTMD_PATH not found; build dtmd first (scripts/build.sh)" >&2
  exit 1
fi
if ! command -v go >/dev/null 2>&1; then
  echo "interop-go: the Go toolchain is missing (expected /usr/local/go/bin/go)" >&2
  exit 1
fi
cd "$repo/tests/interop/go"
echo "interop-go: $(go version); dtmd: $LYNX_DTMD_PATH"
if ! go mod download; then
  echo "interop-go: 'go mod download' failed: the pinned modules could not be fetched (GOPROXY=$(go env GOPROXY), cache $(go env GOMODCACHE))" >&2
  exit 1
fi
# Twice: as DTM's users run it (no authentication), then against dtmd with Auth.Enabled, the SDK
# sending its token through its public middleware hooks (tests/interop/go/auth_test.go).
go test -count=1 -v ./...
echo "interop-go: again with authentication on (LYNX_INTEROP_AUTH=1)"
LYNX_INTEROP_AUTH=1 go test -count=1 ./...
