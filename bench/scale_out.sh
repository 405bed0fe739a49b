#!/usr/bin/env bash
# Scale-out curve: throughput of 1, 2, 3 ... dtmd instances sharing one store server (PostgreSQL,
# MariaDB or Redis), the same total number of clients spread over the instances (client i talks
# to instance i mod N), completions counted at bench_busi, final states verified. Everything runs
# on this machine, so the instances share its cores with the store server, the business service
# and the load generator: the curve shows where one machine stops, not a cluster.
#
#   bench/scale_out.sh                                          # postgres and redis, 1 2 3, saga
#   bench/scale_out.sh --stores redis --instances "1 2 4" --modes "saga msg" --rounds 2
#
# Prints one markdown row per store, shape and instance count (medians over rounds): tx/s, the
# ratio to one instance, p50 / p99 latency, dtmd CPU per transaction (all instances summed) and
# store server CPU per transaction. Not a test: nothing is asserted.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build_dir="${LYNX_BUILD_DIR:-$repo/build}"

stores="postgres redis"
instances="1 2 3"
modes="saga"
concurrency=32
duration=10
warmup=2
rounds=1
while [[ $# -gt 0 ]]; do
  case $1 in
    --stores) stores=$2; shift 2 ;;
    --instances) instances=$2; shift 2 ;;
    --modes) modes=$2; shift 2 ;;
    --concurrency) concurrency=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --warmup) warmup=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done

"$repo/scripts/build.sh" >/dev/null
dtmd_bin="$build_dir/apps/dtmd/dtmd"
busi_bin="$build_dir/bench/bench_busi"
loadgen="$build_dir/bench/dtm_loadgen"
out_dir="$(mktemp -d "${TMPDIR:-/tmp}/lynx-scale.XXXXXX")"
results="$out_dir/results.jsonl"
: >"$results"
source "$repo/scripts/lib/databases.sh"
source "$repo/bench/lib.sh"
pids=()
busi_pid=""
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  [[ -n $busi_pid ]] && kill -9 "$busi_pid" 2>/dev/null || true
  lynx_db_stop_all
  rm -rf "$out_dir"/run*/data "$out_dir/db"
}
trap cleanup EXIT
LYNX_DB_DURABLE=1 lynx_db_start_all "$out_dir/db" >/dev/null

start_busi "$busi_bin" "$out_dir" --track-completions

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "commit: $(git -C "$repo" rev-parse --short HEAD)$(git -C "$repo" diff --quiet || echo '+dirty')"
echo "load: $concurrency clients in total, $duration s after $warmup s warm-up, rounds $rounds; UpdateBranchSync 1"

run_id=0
for store in $stores; do
  proc=$(store_process "$store")
  for round in $(seq 1 "$rounds"); do
    for n in $instances; do
      run_id=$((run_id + 1))
      scope="scale$run_id"
      [[ $store == redis ]] && fresh_redis
      urls=""
      server_pids=""
      pids=()
      for i in $(seq 1 "$n"); do
        dir="$out_dir/run$run_id-$i"
        mkdir -p "$dir"
        port=$(free_port)
        grpc=$(free_port)
        printf "ListenAddress: 127.0.0.1\nHttpPort: %s\nGrpcPort: %s\nUpdateBranchSync: 1\nLogLevel: warn\nStore:\n  DataDir: %s/data\n%s\n" \
          "$port" "$grpc" "$dir" "$(dtmd_store_yaml "$store" "$scope")" >"$dir/conf.yml"
        "$dtmd_bin" -c "$dir/conf.yml" >"$dir/server.log" 2>&1 &
        pid=$!
        disown "$pid"
        pids+=("$pid")
        if ! wait_http "$port" "$pid"; then
          echo "dtmd $i of $n on $store did not start; log:" >&2
          tail -20 "$dir/server.log" >&2
          exit 1
        fi
        urls+="${urls:+,}http://127.0.0.1:$port/api/dtmsvr"
        server_pids+="${server_pids:+,}$pid"
      done
      for mode in $modes; do
        before=$(cpu_of "$proc")
        line=$("$loadgen" --dtm "$urls" --busi "$busi_url" --mode "$mode" \
          --concurrency "$concurrency" --duration "$duration" --warmup "$warmup" \
          --server-pid "$server_pids" --json --complete-at busi || true)
        store_cpu=$(awk -v a="$before" -v b="$(cpu_of "$proc")" 'BEGIN {printf "%.2f", b - a}')
        echo "{\"store\":\"$store\",\"instances\":$n,\"round\":$round,\"store_cpu_s\":$store_cpu,\"result\":${line:-null}}" >>"$results"
        printf '  %-9s n=%s %-4s %s\n' "$store" "$n" "$mode" "$line"
      done
      for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
      for p in "${pids[@]}"; do
        for _ in $(seq 1 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.05; done
        kill -9 "$p" 2>/dev/null || true
      done
      pids=()
    done
  done
done

python3 - "$results" <<'EOF'
import json, statistics, sys
rows = {}
for line in open(sys.argv[1]):
    r = json.loads(line)
    res = r["result"]
    if not res:
        continue
    key = (r["store"], res["mode"], r["instances"])
    rows.setdefault(key, []).append((res, r["store_cpu_s"]))
def med(xs):
    return statistics.median(xs) if xs else 0
print("| store | shape | dtmd instances | tx/s | vs 1 instance | p50 / p99 ms | dtmd CPU ms/tx (all) | store CPU ms/tx | errors |")
print("|---|---|---|---|---|---|---|---|---|")
base = {}
for (store, mode, n) in sorted(rows):
    runs = rows[(store, mode, n)]
    tps = med([x["tps"] for x, _ in runs])
    if n == min(k[2] for k in rows if k[0] == store and k[1] == mode):
        base[(store, mode)] = tps
    total = [x["tps"] * (x["window_s"] + x["warmup_s"]) for x, _ in runs]
    cpu = med([1000 * x.get("server_cpu_s", 0) / max(1, x["count"]) for x, _ in runs])
    store_cpu = med([1000 * c / max(1, t) for (x, c), t in zip(runs, total)])
    errors = sum(x["errors"] + x["unverified"] for x, _ in runs)
    print(f"| {store} | {mode} | {n} | {tps:,.0f} | {tps / base[(store, mode)]:.2f}x | "
          f"{med([x['p50_ms'] for x, _ in runs]):.1f} / {med([x['p99_ms'] for x, _ in runs]):.1f} | "
          f"{cpu:.3f} | {store_cpu:.3f} | {errors} |")
EOF
