#!/usr/bin/env bash
# The README's first command: installs what is missing, builds, starts dtmd on its durable
# embedded store (data in ./run/dtmd-data), starts the bundled business service, and runs the
# example tour of every transaction mode. With --keep, dtmd keeps serving on :36789 afterwards.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build_dir="${LYNX_BUILD_DIR:-$repo/build}"
keep=0
[ "${1:-}" = "--keep" ] && keep=1
"$repo/scripts/build.sh"
command -v curl >/dev/null || apt-get install -y -q curl >/dev/null

run_dir="$repo/run"
mkdir -p "$run_dir"
rm -f "$run_dir/dtmd.port" "$run_dir/busi.port"
port_arg=0
[ $keep = 1 ] && port_arg=36789
"$build_dir/apps/dtmd/dtmd" --http-port "$port_arg" --port-file "$run_dir/dtmd.port" \
  --data-dir "$run_dir/dtmd-data" >"$run_dir/dtmd.log" 2>&1 &
dtmd_pid=$!
"$build_dir/tests/integration/busi_server" --port-file "$run_dir/busi.port" \
  >"$run_dir/busi.log" 2>&1 &
busi_pid=$!
cleanup() {
  kill "$busi_pid" 2>/dev/null || true
  [ $keep = 1 ] || kill "$dtmd_pid" 2>/dev/null || true
}
trap cleanup EXIT

for _ in $(seq 1 100); do
  [ -s "$run_dir/dtmd.port" ] && [ -s "$run_dir/busi.port" ] && break
  if ! kill -0 "$dtmd_pid" 2>/dev/null; then cat "$run_dir/dtmd.log"; exit 1; fi
  sleep 0.1
done
dtm="http://127.0.0.1:$(cat "$run_dir/dtmd.port")/api/dtmsvr"
busi="http://127.0.0.1:$(cat "$run_dir/busi.port")/api/busi"
echo "dtmd (embedded store, data in $run_dir/dtmd-data) at $dtm"
"$repo/examples/http_tour.sh" "$dtm" "$busi"
if [ $keep = 1 ]; then
  echo "dtmd keeps running (pid $dtmd_pid) on :36789; log: $run_dir/dtmd.log"
fi
