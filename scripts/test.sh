#!/usr/bin/env bash
# The README's test command: installs what is missing, builds everything, starts throwaway
# PostgreSQL, MariaDB and Redis servers (loopback, free ports, temp data dirs; see
# scripts/lib/databases.sh) and runs every test suite in one pass: unit tests with the in-memory
# and embedded stores, the barrier on every database, and integration tests that start the real
# dtmd and real business services, then again under AddressSanitizer + UBSan (scripts/asan.sh);
# fuzz_smoke builds and runs the libFuzzer targets for a few seconds each. LYNX_TEST_REQUIRE_DBS=1 turns a missing database into a test
# failure, so nothing passes by skipping.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build_dir="${LYNX_BUILD_DIR:-$repo/build}"
"$repo/scripts/build.sh"

source "$repo/scripts/lib/databases.sh"
db_dir="$(mktemp -d "${TMPDIR:-/tmp}/lynx-dtm-dbs.XXXXXX")"
trap 'lynx_db_stop_all; rm -rf "$db_dir"' EXIT
lynx_db_start_all "$db_dir"
export LYNX_TEST_REQUIRE_DBS=1
echo "test databases: postgres :$LYNX_TEST_PG_PORT, mariadb :$LYNX_TEST_MYSQL_PORT, redis :$LYNX_TEST_REDIS_PORT"

# The tracing suite's OTLP receiver (built once per machine, cached outside the checkout).
source "$repo/scripts/lib/jaeger.sh"
LYNX_JAEGER_PATH="$(lynx_jaeger_path)"
export LYNX_JAEGER_PATH

status=0
(cd "$build_dir" && ctest --output-on-failure --timeout 900 -j1) || status=$?
# The same suites under AddressSanitizer + UBSan (build-asan/), with the databases still up.
"$repo/scripts/asan.sh" || status=$?
exit $status
