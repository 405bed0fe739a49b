#!/usr/bin/env bash
# bench_smoke: the benchmark tools work end to end. Starts dtmd on its embedded store (temp data
# dir, free ports) and bench_busi (--track-completions), runs dtm_loadgen for a second per shape
# (saga, msg, tcc) with 4 clients, completions counted both ways (wait_result replies, and the
# last forward action seen by bench_busi), and checks that each finished transactions with no
# error and that every sampled gid queried back as succeed. When dtmrs is installed in the cache
# (scripts/lib/dtmrs.sh; never installed here, so a registry hiccup cannot fail CI) it runs its
# saga and msg the same way. Never asserts throughput: a smoke test, not a timed test.
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
"$busi" --port 0 --port-file "$tmp/busi.port" --track-completions >"$tmp/busi.log" 2>&1 &
pids+=($!)
if ! dtm_port=$(await_port "$tmp/dtmd.port" "$dtm_pid"); then
  echo "dtmd did not start:" >&2; tail -20 "$tmp/dtmd.log" >&2; exit 1
fi
if ! busi_port=$(await_port "$tmp/busi.port" "${pids[1]}"); then
  echo "bench_busi did not start:" >&2; tail -20 "$tmp/busi.log" >&2; exit 1
fi

failed=0
# run_case NAME PORT PID LOADGEN-ARGS...: one second of load, judged on its JSON line.
run_case() {
  local name=$1 port=$2 pid=$3 line
  shift 3
  # || true: a run with errors exits 1, but its line is still judged (and printed) below.
  line=$("$loadgen" --dtm "http://127.0.0.1:$port/api/dtmsvr" \
    --busi "http://127.0.0.1:$busi_port/api/busi" --concurrency 4 \
    --duration 1 --warmup 0.2 --server-pid "$pid" --json "$@") || true
  echo "$name: $line"
  if ! python3 -c '
import json, sys
r = json.loads(sys.argv[1])
ok = r["count"] > 0 and r["errors"] == 0 and r["unverified"] == 0 and r["verified"] > 0
sys.exit(0 if ok else 1)' "$line"; then
    echo "FAIL: $name (want count > 0, errors 0, unverified 0)" >&2
    failed=1
  fi
}
for mode in saga msg tcc; do
  for complete in reply busi; do
    run_case "dtmd $mode $complete" "$dtm_port" "$dtm_pid" --mode "$mode" --complete-at "$complete"
  done
done

source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib/dtmrs.sh"
if dtmrs_bin=$(lynx_dtmrs_cached_path); then
  dtmrs_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  RUST_LOG=warn DTMRS_DB="sqlite:$tmp/dtmrs.db?mode=rwc" DTMRS_ADDR="127.0.0.1:$dtmrs_port" \
    DTMRS_GRPC_ADDR="127.0.0.1:0" "$dtmrs_bin" >"$tmp/dtmrs.log" 2>&1 &
  pids+=($!)
  dtmrs_pid=$!
  for _ in $(seq 1 300); do
    curl -fsS -o /dev/null "http://127.0.0.1:$dtmrs_port/api/dtmsvr/newGid" 2>/dev/null && break
    sleep 0.1
  done
  for mode in saga msg; do
    run_case "dtmrs $mode busi" "$dtmrs_port" "$dtmrs_pid" --mode "$mode" --complete-at busi \
      --dialect dtmrs
  done
else
  echo "dtmrs $LYNX_DTMRS_VERSION is not installed in the cache: its smoke run is left out"
fi
if [[ $failed != 0 ]]; then
  echo "---- dtmd log ----" >&2; tail -30 "$tmp/dtmd.log" >&2
  [[ -f $tmp/dtmrs.log ]] && { echo "---- dtmrs log ----" >&2; tail -30 "$tmp/dtmrs.log" >&2; }
  exit 1
fi
echo "bench smoke ok"
