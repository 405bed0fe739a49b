#!/usr/bin/env bash
# Races dtmd against the reference DTM server (github.com/dtm-labs/dtm, the release
# scripts/reference-dtm.sh builds) and dtmrs (crates.io, scripts/lib/dtmrs.sh) on the same
# machine, the same store server, the same no-op business service (bench_busi) and the same load
# (dtm_loadgen), alternating the servers, and prints one table row per store and transaction shape
# with the ratios dtmd / DTM and dtmd / dtmrs.
#
# A transaction counts when bench_busi sees its last forward action (TransIn, or TransInConfirm
# for tcc) — dtmrs has no wait_result — for every server alike (--complete-at reply: DTM's
# wait_result instead, dtmd and DTM only); afterwards counted gids are queried back in each
# server's own /query format and must be "succeed". dtmrs runs saga and msg (its API has no tcc
# shape the client drives like DTM's); its SQLite store is WAL + synchronous=NORMAL (not
# power-safe: a power loss may lose the last commits), stated with the results.
#
#   bench/compare.sh                                   # every store, saga msg tcc, 32 clients
#   bench/compare.sh --stores "embedded redis" --modes saga --duration 10 --rounds 3
#   bench/compare.sh --concurrency "1 8 32 128"        # scaling curve
#   bench/compare.sh --history 100000                  # with 100k finished transactions stored
#   bench/compare.sh --servers "dtmd dtmd-nohistory"   # the attempt history's cost (dtmd with
#                                                      # Attempts.KeepPerBranch 0 as baseline)
#   bench/compare.sh --stores redis --redis-stats      # + Redis' time per command and per
#                                                      # transaction, for each server
#   bench/compare.sh --stores redis --servers "dtmd dtmd-compact dtm dtmrs"
#                                                      # + dtmd on the compact Redis layout
#   bench/compare.sh --servers "dtmd dtmd-alt" --alt-dtmd /tmp/dtmd-old
#                                                      # before / after: another dtmd binary
#                                                      # (dtmd-alt-compact: on the compact layout)
#
# Stores: embedded (dtmd's SQLite vs DTM's BoltDB), redis, postgres, mysql (MariaDB). The
# database servers are private instances started with durable settings (LYNX_DB_DURABLE=1 of
# scripts/lib/databases.sh); the settings that decide durability are printed with the results.
# Both servers run with UpdateBranchSync 1 (synchronous branch writes: DTM's default since
# 2025-03, dtmd's default) unless --update-branch-sync 0 is given. Each server gets a fresh
# schema / database / prefix / data directory per run; Redis is emptied and its append-only file
# rewritten before each run (fresh_redis in bench/lib.sh). Results (one JSON line per run) go to
# $out_dir/results.jsonl; the table is printed at the end. Not a test: nothing is asserted.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build_dir="${LYNX_BUILD_DIR:-$repo/build}"

stores="embedded redis postgres mysql"
modes="saga msg tcc"
concurrency="32"
duration=10
warmup=2
rounds=1
history=0
update_branch_sync=1
servers="dtmd dtm dtmrs"
complete_at=busi
redis_stats=0
alt_dtmd=""
while [[ $# -gt 0 ]]; do
  case $1 in
    --stores) stores=$2; shift 2 ;;
    --modes) modes=$2; shift 2 ;;
    --concurrency) concurrency=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --warmup) warmup=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --history) history=$2; shift 2 ;;
    --update-branch-sync) update_branch_sync=$2; shift 2 ;;
    --servers) servers=$2; shift 2 ;;
    --complete-at) complete_at=$2; shift 2 ;;
    --redis-stats) redis_stats=1; shift ;;
    --alt-dtmd) alt_dtmd=$2; shift 2 ;;
    -h|--help) sed -n '2,30p' "$0"; exit 0 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done

"$repo/scripts/build.sh" >/dev/null
dtmd_bin="$build_dir/apps/dtmd/dtmd"
busi_bin="$build_dir/bench/bench_busi"
loadgen="$build_dir/bench/dtm_loadgen"
dtm_bin=""
dtm_module=""
if [[ " $servers " == *" dtm "* ]]; then
  dtm_bin="$("$repo/scripts/reference-dtm.sh")"
  dtm_module="$(source "$repo/scripts/lib/go-env.sh" && go env GOMODCACHE)/github.com/dtm-labs/dtm@${LYNX_REFERENCE_DTM_VERSION:-v1.19.0}"
fi

dtmrs_bin=""
if [[ " $servers " == *" dtmrs "* ]]; then
  [[ $complete_at == busi ]] || { echo "dtmrs needs --complete-at busi (it has no wait_result)" >&2; exit 2; }
  source "$repo/scripts/lib/dtmrs.sh"
  dtmrs_bin="$(lynx_dtmrs_path)"
fi

out_dir="$(mktemp -d "${TMPDIR:-/tmp}/lynx-bench.XXXXXX")"
results="$out_dir/results.jsonl"
: >"$results"
source "$repo/scripts/lib/databases.sh"
source "$repo/bench/lib.sh"
server_pid=""
busi_pid=""
cleanup() {
  [[ -n $server_pid ]] && kill -9 "$server_pid" 2>/dev/null || true
  [[ -n $busi_pid ]] && kill -9 "$busi_pid" 2>/dev/null || true
  lynx_db_stop_all
  # The results stay; the servers' data (a GiB or more per run) does not.
  rm -rf "$out_dir"/run*/data "$out_dir"/run*/dtm.bolt "$out_dir/db"
}
trap cleanup EXIT
needs_dbs=0
for s in $stores; do [[ $s != embedded ]] && needs_dbs=1; done
if [[ $needs_dbs == 1 ]]; then
  LYNX_DB_DURABLE=1 lynx_db_start_all "$out_dir/db" >/dev/null
fi

# Arrivals are kept until their await comes: tracked only when the load generator awaits them.
track=()
[[ $complete_at == busi ]] && track=(--track-completions)
start_busi "$busi_bin" "$out_dir" "${track[@]}"

# Durability settings, printed with the results.
settings() {
  echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
  echo "commit: $(git -C "$repo" rev-parse --short HEAD)$(git -C "$repo" diff --quiet || echo '+dirty'), reference: $(basename "${dtm_bin:-none}")"
  echo "UpdateBranchSync: $update_branch_sync (dtmd, DTM); dtmd embedded: fsync every commit (group commit); DTM BoltDB: fsync every write transaction"
  [[ -n $dtmrs_bin ]] && echo "dtmrs $LYNX_DTMRS_VERSION: SQLite WAL + synchronous=NORMAL (NOT power-safe; a process crash loses nothing), RUST_LOG=warn, its defaults otherwise"
  echo "completion: $complete_at (busi: the last forward action seen by bench_busi; reply: wait_result)"
  if [[ $needs_dbs == 1 ]]; then
    echo "postgres: fsync=$(psql -h 127.0.0.1 -p "$LYNX_TEST_PG_PORT" -U postgres -Atc 'show fsync'), synchronous_commit=$(psql -h 127.0.0.1 -p "$LYNX_TEST_PG_PORT" -U postgres -Atc 'show synchronous_commit')"
    echo "mariadb: innodb_flush_log_at_trx_commit=$(mysql -h127.0.0.1 -P"$LYNX_TEST_MYSQL_PORT" -ulynx -Nse 'select @@innodb_flush_log_at_trx_commit')"
    echo "redis: appendonly=$(redis-cli -p "$LYNX_TEST_REDIS_PORT" config get appendonly | tail -1), appendfsync=$(redis-cli -p "$LYNX_TEST_REDIS_PORT" config get appendfsync | tail -1)"
  fi
  echo "load: $duration s measured after $warmup s warm-up, rounds $rounds, history $history finished transactions"
}

run_id=0
# start_server SERVER STORE: starts a fresh server; sets server_pid, server_port.
start_server() {
  local server=$1 store=$2 dir port grpc
  run_id=$((run_id + 1))
  dir="$out_dir/run$run_id-$server-$store"
  mkdir -p "$dir"
  port=$(free_port)
  grpc=$(free_port)
  local store_yaml scope="bench$run_id"
  [[ $store == redis ]] && fresh_redis
  store_yaml=$(dtmd_store_yaml "$store" "$scope")
  if [[ $server == dtmrs ]]; then
    # dtmrs: everything by environment; a fresh SQLite file / database / key prefix per run.
    local db=""
    case $store in
      embedded) db="sqlite:$dir/dtmrs.db?mode=rwc" ;;
      redis) db="redis://127.0.0.1:$LYNX_TEST_REDIS_PORT/0?key_prefix=$scope:" ;;
      postgres)
        psql -h 127.0.0.1 -p "$LYNX_TEST_PG_PORT" -U postgres -qc "CREATE DATABASE $scope" >/dev/null
        db="postgres://postgres@127.0.0.1:$LYNX_TEST_PG_PORT/$scope" ;;
      mysql)
        mysql -h127.0.0.1 -P"$LYNX_TEST_MYSQL_PORT" -ulynx -e "CREATE DATABASE $scope"
        db="mysql://lynx@127.0.0.1:$LYNX_TEST_MYSQL_PORT/$scope" ;;
    esac
    (cd "$dir" && RUST_LOG=warn DTMRS_DB="$db" DTMRS_ADDR="127.0.0.1:$port" \
      DTMRS_GRPC_ADDR="127.0.0.1:$grpc" exec "$dtmrs_bin") >"$dir/server.log" 2>&1 &
  elif [[ $server == dtmd* ]]; then
    [[ $server == *compact ]] && store_yaml+=$'\n  RedisLayout: compact'
    printf "ListenAddress: 127.0.0.1\nHttpPort: $port\nGrpcPort: $grpc\nUpdateBranchSync: $update_branch_sync\nLogLevel: warn\nStore:\n  DataDir: $dir/data\n%s\n" "$store_yaml" >"$dir/conf.yml"
    [[ $server == dtmd-nohistory ]] && printf "Attempts:\n  KeepPerBranch: 0\n" >>"$dir/conf.yml"
    local bin=$dtmd_bin
    [[ $server == dtmd-alt* ]] && bin=$alt_dtmd
    "$bin" -c "$dir/conf.yml" >"$dir/server.log" 2>&1 &
  else
    # DTM: BoltDB file ./dtm.bolt in its working dir; SQL tables and Redis data reset by -r.
    case $store in
      embedded) store_yaml="" ;;
      redis) store_yaml="Store:\n$store_yaml\n" ;;
      postgres) store_yaml="Store:\n  Driver: postgres\n  Host: 127.0.0.1\n  Port: $LYNX_TEST_PG_PORT\n  User: postgres\n  Password: ''\n  Db: postgres\n  Schema: public\n" ;;
      mysql) store_yaml="Store:\n  Driver: mysql\n  Host: 127.0.0.1\n  Port: $LYNX_TEST_MYSQL_PORT\n  User: lynx\n  Password: ''\n  Db: dtm\n" ;;
    esac
    printf "HttpPort: $port\nGrpcPort: $grpc\nUpdateBranchSync: $update_branch_sync\nLogLevel: warn\n$store_yaml" >"$dir/conf.yml"
    local reset=()
    if [[ $store != embedded ]]; then
      # -r runs DTM's own schema scripts, which it looks up as ./sqls: those of its module.
      reset=(-r)
      ln -sfn "$dtm_module/sqls" "$dir/sqls"
      # DTM's MySQL script connects to its database before it creates it.
      if [[ $store == mysql ]]; then
        mysql -h127.0.0.1 -P"$LYNX_TEST_MYSQL_PORT" -ulynx -e 'CREATE DATABASE IF NOT EXISTS dtm'
      fi
    fi
    (cd "$dir" && exec "$dtm_bin" -c "$dir/conf.yml" "${reset[@]}") >"$dir/server.log" 2>&1 &
  fi
  server_pid=$!
  disown "$server_pid"
  server_port=$port
  if ! wait_http "$port" "$server_pid"; then
    echo "$server on $store did not start; log:" >&2
    tail -20 "$dir/server.log" >&2
    exit 1
  fi
}

# redis_profile N: Redis' INFO commandstats since the last resetstat, as calls and microseconds
# per transaction (N transactions), largest first. EVALSHA's time includes the commands its
# scripts ran, which are listed as well.
redis_profile() {
  redis-cli -p "$LYNX_TEST_REDIS_PORT" info commandstats | tr -d '\r' | python3 -c '
import re, sys
n = max(1, int(sys.argv[1]))
rows = []
for line in sys.stdin:
    m = re.match(r"cmdstat_(\S+):calls=(\d+),usec=(\d+)", line)
    if m: rows.append((int(m.group(3)), int(m.group(2)), m.group(1)))
rows.sort(reverse=True)
print("    redis per transaction: " + ", ".join(
    "%s %.2f calls %.1f us" % (name, calls / n, usec / n) for usec, calls, name in rows[:8]))
' "$1"
}

dialect_of() { [[ $1 == dtmrs ]] && echo dtmrs || echo dtm; }

stop_server() {
  kill "$server_pid" 2>/dev/null || true
  for _ in $(seq 1 100); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.05; done
  kill -9 "$server_pid" 2>/dev/null || true
  server_pid=""
}

settings | tee "$out_dir/settings.txt"
echo "results: $results"
for store in $stores; do
  for round in $(seq 1 "$rounds"); do
    # Alternate who goes first, so neither always meets a warmer store server.
    order=$servers
    if ((round % 2 == 0)); then order=$(echo "$servers" | awk '{for (i = NF; i > 0; i--) printf "%s ", $i}'); fi
    for server in $order; do
      [[ $server == *compact && $store != redis ]] && continue  # a Redis layout
      start_server "$server" "$store"
      if ((history > 0)); then
        # Finished history the server's queries must live with (not measured).
        "$loadgen" --dtm "http://127.0.0.1:$server_port/api/dtmsvr" --busi "$busi_url" --mode msg \
          --concurrency 32 --count "$history" --warmup 0 --json --complete-at "$complete_at" \
          --dialect "$(dialect_of "$server")" >/dev/null
      fi
      for mode in $modes; do
        [[ $server == dtmrs && $mode == tcc ]] && continue
        for c in $concurrency; do
          proc=$(store_process "$store")
          before=0
          [[ -n $proc ]] && before=$(cpu_of "$proc")
          [[ $redis_stats == 1 && $store == redis ]] &&
            redis-cli -p "$LYNX_TEST_REDIS_PORT" config resetstat >/dev/null
          line=$("$loadgen" --dtm "http://127.0.0.1:$server_port/api/dtmsvr" --busi "$busi_url" \
            --mode "$mode" --concurrency "$c" --duration "$duration" --warmup "$warmup" \
            --server-pid "$server_pid" --json --complete-at "$complete_at" \
            --dialect "$(dialect_of "$server")" || true)
          store_cpu=null
          [[ -n $proc ]] && store_cpu=$(awk -v a="$before" -v b="$(cpu_of "$proc")" 'BEGIN {printf "%.2f", b - a}')
          echo "{\"server\":\"$server\",\"store\":\"$store\",\"round\":$round,\"history\":$history,\"store_cpu_s\":$store_cpu,\"result\":${line:-null}}" >>"$results"
          printf '  %-5s %-9s %-4s c=%-4s %s\n' "$server" "$store" "$mode" "$c" "$line"
          if [[ $redis_stats == 1 && $store == redis && -n $line ]]; then
            # The stats cover the warm-up too: transactions estimated at the measured rate.
            redis_profile "$(python3 -c 'import json,sys; r=json.loads(sys.argv[1]); print(round(r["tps"] * (r["warmup_s"] + r["window_s"])))' "$line")"
          fi
        done
      done
      stop_server
    done
  done
done

python3 "$repo/bench/table.py" "$results" "$out_dir/settings.txt"
