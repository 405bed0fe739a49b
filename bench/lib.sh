# Helpers shared by bench/compare.sh and bench/scale_out.sh (sourced).

# CPU seconds used so far by every process whose command name is $1 (the store server; the
# PostgreSQL server is many processes).
cpu_of() {
  local ticks=0 f rest
  for f in /proc/[0-9]*/stat; do
    rest=$(cat "$f" 2>/dev/null) || continue
    [[ $rest == *"($1)"* ]] || continue
    rest=${rest##*) }
    read -r -a fields <<<"$rest"
    ticks=$((ticks + fields[11] + fields[12]))
  done
  echo "$ticks $(getconf CLK_TCK)" | awk '{printf "%.2f", $1 / $2}'
}
store_process() {
  case $1 in
    redis) echo redis-server ;;
    postgres) echo postgres ;;
    mysql) echo mariadbd ;;
    *) echo "" ;;
  esac
}

# fresh_redis: empties the bench's Redis and rewrites its append-only file, waiting for the
# rewrite to end. Without it each run met the data of the runs before and, once the file had
# doubled, an automatic rewrite (a fork writing the whole data set) inside its measured window:
# the same binary measured ±20% from run to run.
fresh_redis() {
  local cli=(redis-cli -p "$LYNX_TEST_REDIS_PORT")
  "${cli[@]}" flushall >/dev/null
  "${cli[@]}" bgrewriteaof >/dev/null
  for _ in $(seq 1 600); do
    "${cli[@]}" info persistence | grep -q '^aof_rewrite_in_progress:0' &&
      ! "${cli[@]}" info persistence | grep -q '^aof_rewrite_scheduled:1' && return 0
    sleep 0.05
  done
  echo "Redis: the append-only file rewrite did not end within 30 s" >&2
  return 1
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

wait_http() {  # wait_http PORT PID: until GET newGid answers (30 s)
  for _ in $(seq 1 300); do
    if ! kill -0 "$2" 2>/dev/null; then return 1; fi
    if curl -fsS -o /dev/null "http://127.0.0.1:$1/api/dtmsvr/newGid" 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  return 1
}

# The Store keys of a dtmd config (below "Store:", DataDir aside) for STORE with its own SCOPE:
# a schema (PostgreSQL), a database (MariaDB), a key prefix (Redis); nothing for embedded.
dtmd_store_yaml() {
  local store=$1 scope=$2
  case $store in
    redis) printf '  Driver: redis\n  Host: 127.0.0.1\n  Port: %s\n  RedisPrefix: "{%s}"' "$LYNX_TEST_REDIS_PORT" "$scope" ;;
    postgres) printf '  Driver: postgres\n  Host: 127.0.0.1\n  Port: %s\n  User: postgres\n  Db: postgres\n  Schema: %s' "$LYNX_TEST_PG_PORT" "$scope" ;;
    mysql) printf '  Driver: mysql\n  Host: 127.0.0.1\n  Port: %s\n  User: lynx\n  Db: %s' "$LYNX_TEST_MYSQL_PORT" "$scope" ;;
  esac
}

# start_busi BIN OUT_DIR [ARGS...]: starts bench_busi on a free port (log OUT_DIR/busi.log); sets
# busi_pid and busi_url (http://127.0.0.1:PORT/api/busi).
start_busi() {
  local bin=$1 dir=$2
  shift 2
  "$bin" --port 0 --port-file "$dir/busi.port" --threads 1 "$@" >"$dir/busi.log" 2>&1 &
  busi_pid=$!
  disown "$busi_pid"  # killed at exit without a job-control notice
  for _ in $(seq 1 100); do [[ -s $dir/busi.port ]] && break; sleep 0.05; done
  busi_url="http://127.0.0.1:$(head -1 "$dir/busi.port")/api/busi"
}
