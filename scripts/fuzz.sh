#!/usr/bin/env bash
# Builds the libFuzzer targets of fuzz/ with clang (ASan + UBSan) and runs each of them:
#   scripts/fuzz.sh [--seconds N] [--target NAME] [--build-only]
# Every run first replays fuzz/regressions/<target>/ (inputs that once crashed; committed) and
# the seeds in fuzz/corpus/<target>/, then fuzzes for N seconds (default 60) per target with a
# working corpus kept outside the checkout (~/.cache/lynx-dtm/fuzz/<target>). A crash, leak,
# sanitizer report or timeout copies the input into fuzz/regressions/<target>/ (commit it with
# the fix) and makes the script fail. The test command runs it for a few seconds per target.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
seconds=60
only=""
build_only=0
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds="$2"; shift 2 ;;
    --target) only="$2"; shift 2 ;;
    --build-only) build_only=1; shift ;;
    *) echo "usage: $0 [--seconds N] [--target NAME] [--build-only]" >&2; exit 2 ;;
  esac
done

"$repo/scripts/setup-deps.sh" >/dev/null
build_dir="${LYNX_FUZZ_BUILD_DIR:-$repo/build-fuzz}"
cache="${LYNX_FUZZ_CACHE:-$HOME/.cache/lynx-dtm}"
export CCACHE_DIR="${CCACHE_DIR:-$cache/ccache}"
export CCACHE_BASEDIR="$repo"
export CCACHE_NOHASHDIR=1
cmake -S "$repo/fuzz" -B "$build_dir" -G Ninja -DCMAKE_CXX_COMPILER=clang++-14 \
  -DCMAKE_CXX_COMPILER_LAUNCHER=ccache >/dev/null
# Quiet when it works; a failing build shows why (the test log would otherwise be empty).
if ! cmake --build "$build_dir" -j "${LYNX_JOBS:-2}" >"$build_dir/build.log" 2>&1; then
  tail -n 40 "$build_dir/build.log" >&2
  echo "fuzz: building the targets failed (whole log: $build_dir/build.log)" >&2
  exit 1
fi
[ "$build_only" = 1 ] && exit 0

targets=(http_request_fuzz api_body_fuzz grpc_request_fuzz branch_reply_fuzz config_fuzz)
[ -n "$only" ] && targets=("$only")
status=0
for t in "${targets[@]}"; do
  bin="$build_dir/$t"
  seeds="$repo/fuzz/corpus/$t"
  regressions="$repo/fuzz/regressions/$t"
  work="$cache/fuzz/$t"
  artifacts="$(mktemp -d "${TMPDIR:-/tmp}/lynx-fuzz-$t.XXXXXX")"
  mkdir -p "$work" "$regressions"
  # Replay: every committed input once (a fixed crash must stay fixed).
  mapfile -t inputs < <(find "$seeds" "$regressions" -type f 2>/dev/null | sort)
  if [ ${#inputs[@]} -gt 0 ] && ! "$bin" -runs=1 "${inputs[@]}" >"$artifacts/replay.log" 2>&1; then
    echo "fuzz: $t fails on a committed input:" >&2
    tail -30 "$artifacts/replay.log" >&2
    status=1
    continue
  fi
  # max_len 64 KiB: requests and replies larger than the read buffers are a size check, not
  # new parser states.
  if "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
      -print_final_stats=1 -artifact_prefix="$artifacts/" "$work" "$seeds" \
      >"$artifacts/fuzz.log" 2>&1; then
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$artifacts/fuzz.log" | grep -o '[0-9]*$' || true)
    echo "fuzz: $t ok (${seconds}s, ${runs:-?} inputs, corpus $(find "$work" -type f | wc -l))"
  else
    for f in "$artifacts"/crash-* "$artifacts"/leak-* "$artifacts"/timeout-* "$artifacts"/oom-*; do
      [ -e "$f" ] && cp "$f" "$regressions/"
    done
    echo "fuzz: $t FOUND A FAILURE (input saved in fuzz/regressions/$t):" >&2
    grep -A25 -m1 -E 'ERROR: |runtime error|deadly signal' "$artifacts/fuzz.log" >&2 || tail -30 "$artifacts/fuzz.log" >&2
    status=1
  fi
  rm -rf "$artifacts"
done
exit $status
