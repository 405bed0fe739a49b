#!/usr/bin/env bash
# bench_smoke: the benchmark tools work end to end. Starts dtmd on its embedded store (temp data
# dir, free ports) and bench_busi, runs dtm_loadgen for a second per shape (saga, msg, tcc) with 4
# clients, and checks that each finished transactions with no error and that every sampled gid
# queried back as succeed. Never asserts throughput: this is a smoke test, not a timed test.
#
#   bench/smoke.sh <build-dir>
set -euo pipefail
build=$(cd "${1:?usage: smoke.sh <build-dir>}" && pwd)
dtmd="$build/apps/dtmd/dtmd"
busi="$build/bench/bench_busi"
loadgen="$build/bench/dtm_loadgen"
for bin in "$dtmd" "$busi" "$loadgen"; do
  [[ -x $bin ]] || { echo "missing $bin (build it first)" >&2; exit 1; }
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/bench-smoke.XXXXXX")
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT

# await_port FILE PID: the first line of FILE once the process wrote it (30 s).
await_port() {
  for _ in $(seq 1 300); do
    if [[ -s $1 ]]; then head -1 "$1"; return 0; fi
    kill -0 "$2" 2>/dev/null || break
    sleep 0.1
  done
  return 1
}

printf 'ListenAddress: 127.0.0.1\n' >"$tmp/dtmd.yml"
"$dtmd" -c "$tmp/dtmd.yml" --http-port 0 --grpc-port 0 --port-file "$tmp/dtmd.port" \
  --data-dir "$tmp/data" >"$tmp/dtmd.log" 2>&1 &
pids+=($!)
dtm_pid=$!
"$busi" --port 0 --port-file "$tmp/busi.port" >"$tmp/busi.log" 2>&1 &
pids+=($!)
if ! dtm_port=$(await_port "$tmp/dtmd.port" "$dtm_pid"); then
  echo "dtmd did not start:" >&2; tail -20 "$tmp/dtmd.log" >&2; exit 1
fi
if ! busi_port=$(await_port "$tmp/busi.port" "${pids[1]}"); then
  echo "bench_busi did not start:" >&2; tail -20 "$tmp/busi.log" >&2; exit 1
fi

failed=0
for mode in saga msg tcc; do
  # || true: a run with errors exits 1, but its line is still judged (and printed) below.
  line=$("$loadgen" --dtm "http://127.0.0.1:$dtm_port/api/dtmsvr" \
    --busi "http://127.0.0.1:$busi_port/api/busi" --mode "$mode" --concurrency 4 \
    --duration 1 --warmup 0.2 --server-pid "$dtm_pid" --json) || true
  echo "$line"
  if ! python3 -c '
import json, sys
r = json.loads(sys.argv[1])
ok = r["count"] > 0 and r["errors"] == 0 and r["unverified"] == 0 and r["verified"] > 0
sys.exit(0 if ok else 1)' "$line"; then
    echo "FAIL: $mode (want count > 0, errors 0, unverified 0)" >&2
    failed=1
  fi
done
if [[ $failed != 0 ]]; then
  echo "---- dtmd log ----" >&2; tail -30 "$tmp/dtmd.log" >&2
  exit 1
fi
echo "bench smoke ok"
