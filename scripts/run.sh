#!/usr/bin/env bash
# The README's first command: installs what is missing, builds, starts dtmd on its durable
# embedded store (data in ./run/dtmd-data) and a throwaway PostgreSQL for the example's account
# balances, then runs the bundled example (examples/transfer): SAGA, TCC, XA and the 2-phase
# message, over HTTP and again over gRPC (dtmd's gRPC port, gRPC branches), each succeeding and
# rolling back, printing every outcome and the balances. Exits non-zero when a scenario does not
# end as it must. With --keep, dtmd keeps serving on :36789 (HTTP) and :36790 (gRPC), its web
# console (http://127.0.0.1:36789/admin/) showing the example's transactions.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build_dir="${LYNX_BUILD_DIR:-$repo/build}"
keep=0
[ "${1:-}" = "--keep" ] && keep=1
"$repo/scripts/build.sh"

run_dir="$repo/run"
mkdir -p "$run_dir"
rm -f "$run_dir/dtmd.port"
port_arg=0 grpc_port_arg=0
[ $keep = 1 ] && port_arg=36789 grpc_port_arg=36790
"$build_dir/apps/dtmd/dtmd" --http-port "$port_arg" --grpc-port "$grpc_port_arg" --port-file "$run_dir/dtmd.port" \
  --data-dir "$run_dir/dtmd-data" >"$run_dir/dtmd.log" 2>&1 &
dtmd_pid=$!

source "$repo/scripts/lib/databases.sh"
db_dir="$(mktemp -d "${TMPDIR:-/tmp}/lynx-dtm-example.XXXXXX")"
cleanup() {
  [ $keep = 1 ] || kill "$dtmd_pid" 2>/dev/null || true
  lynx_db_stop_all
  rm -rf "$db_dir"
}
trap cleanup EXIT
lynx_db_start_all "$db_dir"

for _ in $(seq 1 200); do
  [ -s "$run_dir/dtmd.port" ] && break
  if ! kill -0 "$dtmd_pid" 2>/dev/null; then cat "$run_dir/dtmd.log"; exit 1; fi
  sleep 0.05
done
dtm="http://127.0.0.1:$(sed -n 1p "$run_dir/dtmd.port")/api/dtmsvr"
dtm_grpc="127.0.0.1:$(sed -n 2p "$run_dir/dtmd.port")"
echo "dtmd (embedded store, data in $run_dir/dtmd-data) at $dtm, gRPC $dtm_grpc"
# The example's lynx config, pointed at this dtmd.
sed -e "s|http://localhost:36789/api/dtmsvr|$dtm|" -e "s|localhost:36790|$dtm_grpc|" \
  "$repo/examples/transfer/config.yaml" >"$run_dir/transfer.yaml"
"$build_dir/examples/transfer/transfer_example" --config "$run_dir/transfer.yaml" \
  --db-driver postgres --db-host 127.0.0.1 --db-port "$LYNX_TEST_PG_PORT" \
  --db-user postgres --db-name postgres
if [ $keep = 1 ]; then
  echo "dtmd keeps running (pid $dtmd_pid) on :36789; log: $run_dir/dtmd.log"
  echo "web console with the example's transactions: http://127.0.0.1:36789/admin/"
fi
