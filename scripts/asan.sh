#!/usr/bin/env bash
# The unit suites, the integration suite (embedded store), the hostile-peer and the security
# suites again, on a build with AddressSanitizer and UndefinedBehaviorSanitizer (GCC; build-asan/,
# compiles cached by ccache outside the checkout). Any sanitizer report fails the run. scripts/test.sh calls it after
# the main suites, with the test databases still running.
# Usage: scripts/asan.sh [ctest -R regex]
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build_dir="${LYNX_ASAN_BUILD_DIR:-$repo/build-asan}"
select="${1:-^(store_contract_test|engine_test|config_test|codec_test|robustness_test|app_test|dtm_client_test|grpc_branch_server_test|integration_test|hostile_test|security_test|security_unit_test|otlp_trace_test)$}"
# -Wno-maybe-uninitialized: GCC 12 reports false positives in Boost headers under the sanitizers.
flags="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined -Wno-maybe-uninitialized"
targets="dtmd busi_server store_contract_test engine_test config_test codec_test robustness_test
  app_test dtm_client_test grpc_branch_server_test integration_test hostile_test security_test
  security_unit_test otlp_trace_test"
LYNX_BUILD_DIR="$build_dir" LYNX_BUILD_TYPE=RelWithDebInfo LYNX_BUILD_TARGETS="$targets" \
  "$repo/scripts/build.sh" \
  -DCMAKE_CXX_FLAGS="$flags" -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" \
  -DLYNX_DTMD_ALLOCATOR=system
# detect_leaks=0: gRPC and the test harness keep process-lifetime singletons; leaks are not what
# this run is for (use-after-free, overflows, undefined behaviour are).
export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:quarantine_size_mb=32"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
# The descriptor-exhaustion attack runs in the plain suite only: under it the sanitizer runtimes
# fail themselves (UBSan probes memory through a pipe to check a vptr, and reports every virtual
# call as "invalid vptr" when no descriptor is left).
export GTEST_FILTER='-HostileFdTest.*'

cd "$build_dir"
ctest --output-on-failure --timeout 1200 -j1 -R "$select"
