# shellcheck shell=bash
# scripts/lib/databases.sh: throwaway PostgreSQL, MariaDB and Redis servers for tests.
#
# Source it from a bash script (works under `set -euo pipefail`). It starts real servers from the
# installed Debian packages, each on 127.0.0.1 and a free TCP port, with all data in a directory
# you choose. It never uses systemctl or service and runs as root (CI containers) or as a normal
# user.
#
#   source "$repo/scripts/lib/databases.sh"
#   tmp="$(mktemp -d)"
#   trap 'lynx_db_stop_all; rm -rf "$tmp"' EXIT   # stop servers first, then remove their data
#   lynx_db_start_all "$tmp"
#   # exported: LYNX_TEST_DB_HOST=127.0.0.1
#   #   LYNX_TEST_PG_PORT     user postgres, no password (trust), database postgres,
#   #                         max_prepared_transactions=100
#   #   LYNX_TEST_MYSQL_PORT  user lynx, empty password, ALL PRIVILEGES ON *.* (XA works)
#   #   LYNX_TEST_REDIS_PORT  no password, no persistence
#
# lynx_db_start_all BASE_DIR  Starts all three under BASE_DIR, which is created if missing (as
#     root it becomes world-traversable so the postgres user can reach its data; if a parent
#     directory still blocks postgres, PostgreSQL's data goes to /tmp/lynx-pg.XXXXXX, and if
#     BASE_DIR is too long for unix sockets they go to /tmp/lynx-db.XXXXXX. lynx_db_stop_all
#     removes both fallback directories). Returns once
#     every server accepts connections. On failure it prints the tail of the failing log to
#     stderr, stops whatever it had started and returns non-zero. If no EXIT trap calls
#     lynx_db_stop_all yet, it adds lynx_db_stop_all in front of the current EXIT trap. A trap
#     the caller sets later replaces that one, so a later trap must call lynx_db_stop_all too.
# lynx_db_stop_all  Stops all servers and waits for their processes to exit. It escalates to
#     SIGKILL after LYNX_DB_STOP_TIMEOUT seconds. Safe to call more than once.
#
# Logs: BASE_DIR/{postgres-initdb,postgres,mariadb-install,mariadb,redis}.log
# Tunables: LYNX_DB_START_TIMEOUT (s, default 60, per server), LYNX_DB_STOP_TIMEOUT (s, default
#     30), LYNX_DB_DURABLE (1: durable server settings for benchmarks — PostgreSQL fsync and
#     synchronous_commit on, InnoDB log flushed at every commit, Redis AOF with fsync every
#     second; default: fsync off, for throw-away test data), LYNX_DB_PORT_ATTEMPTS (default 5), LYNX_PG_BINDIR (default: newest
#     /usr/lib/postgresql/*/bin, preferring 15).
# Also set, not exported: LYNX_DB_{PG,MYSQL,REDIS}_START_MS (start-up time of each server
#     including initdb / mariadb-install-db), LYNX_DB_PG_SOCKET_DIR, LYNX_DB_MYSQL_SOCKET.

# State (kept if the file is sourced twice).
: "${_LYNX_DB_PG_WRAPPER_PID:=}" "${_LYNX_DB_PG_PID:=}" "${_LYNX_DB_PG_DATA:=}"
: "${_LYNX_DB_MY_PID:=}" "${_LYNX_DB_REDIS_PID:=}" "${_LYNX_DB_RUNNING:=}"
if ! declare -p _LYNX_DB_REMOVE_DIRS >/dev/null 2>&1; then _LYNX_DB_REMOVE_DIRS=(); fi

_lynx_db_log() { printf 'lynx-db: %s\n' "$*" >&2; }

# _lynx_db_fail MESSAGE [LOG...]: prints the message and the tail of each log, returns 1.
_lynx_db_fail() {
  local msg=$1 f
  shift
  _lynx_db_log "ERROR: $msg"
  for f in "$@"; do
    if [[ -s $f ]]; then
      printf 'lynx-db: ---- last lines of %s ----\n' "$f" >&2
      tail -n 40 -- "$f" | sed 's/^/lynx-db: | /' >&2 || true
    else
      printf 'lynx-db: (%s is empty or missing)\n' "$f" >&2
    fi
  done
  return 1
}

# _lynx_db_now_ms VAR: milliseconds since the epoch, written to VAR (no fork).
_lynx_db_now_ms() {
  local t=${EPOCHREALTIME//[!0-9]/}
  printf -v "$1" '%s' "$((t / 1000))"
}

_lynx_db_is_root() { [[ ${EUID:-$(id -u)} -eq 0 ]]; }

# _lynx_db_alive PID: true while PID exists and is not a zombie.
_lynx_db_alive() {
  local pid=${1:-} st
  [[ -n $pid ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  { st=$(<"/proc/$pid/stat"); } 2>/dev/null || return 1
  st=${st##*) }
  [[ ${st:0:1} != Z ]]
}

# _lynx_db_port_in_use PORT: true when something accepts TCP connections on 127.0.0.1:PORT.
_lynx_db_port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# _lynx_db_pick_port VAR: a random free port, preferring 20000 up to the start of the kernel's
# ephemeral range (so outgoing connections cannot grab it), else 20000-60999.
_lynx_db_pick_port() {
  local lo=20000 hi=60999 eph_lo eph_hi p i
  if { read -r eph_lo eph_hi </proc/sys/net/ipv4/ip_local_port_range; } 2>/dev/null &&
    [[ $eph_lo =~ ^[0-9]+$ ]] && ((eph_lo > lo + 2000)); then
    hi=$((eph_lo - 1))
  fi
  for ((i = 0; i < 200; i++)); do
    p=$((lo + (RANDOM * 32768 + RANDOM) % (hi - lo + 1)))
    if ! _lynx_db_port_in_use "$p"; then
      printf -v "$1" '%s' "$p"
      return 0
    fi
  done
  _lynx_db_fail "no free TCP port found in $lo-$hi"
}

# _lynx_db_log_since LOG OFFSET: the part of LOG written after byte OFFSET.
_lynx_db_log_since() { tail -c +"$(($2 + 1))" -- "$1" 2>/dev/null || true; }

_lynx_db_size() { stat -c %s -- "$1" 2>/dev/null || echo 0; }

# _lynx_db_wait_ready PID LOG OFFSET BIND_ERROR_REGEX READY_CMD...: polls READY_CMD (probes
# must not block: they run under `timeout`) until it succeeds. Returns 0 once ready, 2 if the server exited because its port was taken (the caller
# retries with another port), 3 on timeout and 1 if the server exited for any other reason.
_lynx_db_wait_ready() {
  local pid=$1 log=$2 off=$3 bindre=$4 now deadline
  shift 4
  _lynx_db_now_ms now
  deadline=$((now + ${LYNX_DB_START_TIMEOUT:-60} * 1000))
  while :; do
    if _lynx_db_alive "$pid" && "$@" >/dev/null 2>&1 && _lynx_db_alive "$pid"; then
      return 0
    fi
    if ! _lynx_db_alive "$pid"; then
      wait "$pid" 2>/dev/null || true
      if _lynx_db_log_since "$log" "$off" | grep -Eqi -- "$bindre"; then return 2; fi
      return 1
    fi
    _lynx_db_now_ms now
    ((now < deadline)) || return 3
    sleep 0.05
  done
}

# _lynx_db_find_bin VAR NAME...: the first NAME found in PATH, /usr/sbin or /usr/bin.
_lynx_db_find_bin() {
  local var=$1 n d
  shift
  for n in "$@"; do
    if command -v "$n" >/dev/null 2>&1; then
      printf -v "$var" '%s' "$(command -v "$n")"
      return 0
    fi
    for d in /usr/sbin /usr/bin /usr/local/sbin /usr/local/bin; do
      if [[ -x $d/$n ]]; then
        printf -v "$var" '%s' "$d/$n"
        return 0
      fi
    done
  done
  _lynx_db_fail "none of these programs is installed: $*"
}

_lynx_db_pg_bindir() {
  local d
  for d in "${LYNX_PG_BINDIR:-}" /usr/lib/postgresql/15/bin; do
    if [[ -n $d && -x $d/postgres && -x $d/initdb ]]; then
      printf -v "$1" '%s' "$d"
      return 0
    fi
  done
  d=$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin -type d 2>/dev/null | sort -V | tail -n 1)
  if [[ -n $d && -x $d/postgres ]]; then
    printf -v "$1" '%s' "$d"
    return 0
  fi
  d=$(pg_config --bindir 2>/dev/null || true)
  if [[ -n $d && -x $d/postgres ]]; then
    printf -v "$1" '%s' "$d"
    return 0
  fi
  _lynx_db_fail "PostgreSQL server binaries not found (install postgresql or set LYNX_PG_BINDIR)"
}

# ---------------------------------------------------------------------------------------------
# PostgreSQL

# _lynx_db_pg_ready BINDIR PORT DATA: postmaster.pid says ready (so this postmaster has bound
# its sockets) and it accepts TCP connections.
_lynx_db_pg_ready() {
  local status=""
  { status=$(sed -n 8p -- "$3/postmaster.pid"); } 2>/dev/null || return 1
  [[ $status == ready* ]] || return 1
  timeout -k 1 5 "$1/pg_isready" -q -h 127.0.0.1 -p "$2" -U postgres -d postgres -t 2
}

_lynx_db_start_pg() {
  local base=$1 run=$2 bindir pgdir data sock log="$1/postgres.log" initlog="$1/postgres-initdb.log"
  local -a asuser=()
  local port off attempt rc
  _lynx_db_pg_bindir bindir || return 1

  pgdir="$base/pg"
  sock="$run/pg"
  mkdir -p -- "$pgdir" "$sock" || return 1
  if _lynx_db_is_root; then
    command -v runuser >/dev/null 2>&1 || _lynx_db_fail "runuser (util-linux) is needed to run PostgreSQL as root" || return 1
    id -u postgres >/dev/null 2>&1 || _lynx_db_fail "the postgres system user is missing (install the postgresql package)" || return 1
    asuser=(runuser -u postgres --)
    chmod a+x -- "$base" "$run" || return 1
    chown postgres: -- "$pgdir" "$sock" || return 1
    if ! "${asuser[@]}" test -w "$pgdir" -a -w "$sock"; then
      # A parent of BASE_DIR is not traversable by postgres (e.g. under /root): use /tmp.
      _lynx_db_log "postgres cannot reach $pgdir; putting its data under /tmp instead"
      pgdir=$(mktemp -d /tmp/lynx-pg.XXXXXX) || return 1
      _LYNX_DB_REMOVE_DIRS+=("$pgdir")
      sock="$pgdir/run"
      mkdir -p -- "$sock" && chmod 0755 -- "$pgdir" && chown postgres: -- "$pgdir" "$sock" || return 1
    fi
  fi
  data="$pgdir/data"
  _LYNX_DB_PG_DATA=$data

  if ! (cd -- "$pgdir" && "${asuser[@]}" "$bindir/initdb" -D "$data" -U postgres -A trust -E UTF8 \
    --locale=C --no-sync --no-instructions) </dev/null >"$initlog" 2>&1; then
    _lynx_db_fail "PostgreSQL initdb failed (data dir $data)" "$initlog"
    return 1
  fi

  # Tests throw the data away: no fsync. Benchmarks (LYNX_DB_DURABLE=1) keep the defaults.
  local durability=(-c fsync=off -c synchronous_commit=off -c full_page_writes=off)
  if [[ ${LYNX_DB_DURABLE:-0} == 1 ]]; then
    durability=(-c fsync=on -c synchronous_commit=on -c full_page_writes=on)
  fi
  : >"$log"
  for ((attempt = 1; attempt <= ${LYNX_DB_PORT_ATTEMPTS:-5}; attempt++)); do
    _lynx_db_pick_port port || return 1
    off=$(_lynx_db_size "$log")
    (cd -- "$pgdir" && exec "${asuser[@]}" "$bindir/postgres" -D "$data" -p "$port" -k "$sock" \
      -c listen_addresses=127.0.0.1 -c max_prepared_transactions=100 -c max_connections=300 \
      "${durability[@]}") </dev/null >>"$log" 2>&1 &
    _LYNX_DB_PG_WRAPPER_PID=$!
    rc=0
    _lynx_db_wait_ready "$_LYNX_DB_PG_WRAPPER_PID" "$log" "$off" \
      'could not bind|address already in use|could not create any TCP/IP sockets' \
      _lynx_db_pg_ready "$bindir" "$port" "$data" || rc=$?
    case $rc in
      0)
        _LYNX_DB_PG_PID=$(sed -n 1p -- "$data/postmaster.pid" 2>/dev/null || true)
        export LYNX_TEST_PG_PORT=$port
        LYNX_DB_PG_SOCKET_DIR=$sock
        return 0
        ;;
      2)
        _lynx_db_log "PostgreSQL could not bind port $port, retrying with another port"
        _LYNX_DB_PG_WRAPPER_PID=
        ;;
      3)
        _lynx_db_fail "PostgreSQL did not accept connections on 127.0.0.1:$port within ${LYNX_DB_START_TIMEOUT:-60}s" "$log"
        return 1
        ;;
      *)
        _LYNX_DB_PG_WRAPPER_PID=
        _lynx_db_fail "PostgreSQL exited during start-up (port $port)" "$log"
        return 1
        ;;
    esac
  done
  _lynx_db_fail "PostgreSQL: no free port after ${LYNX_DB_PORT_ATTEMPTS:-5} attempts" "$log"
}

# ---------------------------------------------------------------------------------------------
# MariaDB

_lynx_db_start_mariadb() {
  local base=$1 run=$2 mariadbd installdb client admin dir data sock
  local log="$1/mariadb.log" instlog="$1/mariadb-install.log" port off attempt rc
  local -a asroot=() common=()
  _lynx_db_find_bin mariadbd mariadbd mysqld || return 1
  _lynx_db_find_bin installdb mariadb-install-db mysql_install_db || return 1
  _lynx_db_find_bin client mariadb mysql || return 1
  _lynx_db_find_bin admin mariadb-admin mysqladmin || return 1

  dir="$base/mariadb"
  data="$dir/data"
  sock="$run/mysqld.sock"
  mkdir -p -- "$dir/tmp" || return 1
  if _lynx_db_is_root; then asroot=(--user=root); fi
  # Options shared by bootstrap and server so InnoDB does not resize its files at first start.
  # Tests: flush the log once a second. Benchmarks (LYNX_DB_DURABLE=1): on every commit.
  local durability=(--innodb-flush-log-at-trx-commit=2 --innodb-doublewrite=0)
  if [[ ${LYNX_DB_DURABLE:-0} == 1 ]]; then
    durability=(--innodb-flush-log-at-trx-commit=1 --innodb-doublewrite=1)
  fi
  common=(--innodb-buffer-pool-size=64M --innodb-log-file-size=16M --skip-log-bin
    --character-set-server=utf8mb4 --collation-server=utf8mb4_general_ci)

  if ! (cd -- "$dir" && "$installdb" --no-defaults "${asroot[@]}" --datadir="$data" \
    --auth-root-authentication-method=normal --skip-test-db --skip-name-resolve \
    --tmpdir="$dir/tmp" "${common[@]}") </dev/null >"$instlog" 2>&1; then
    _lynx_db_fail "mariadb-install-db failed (data dir $data)" "$instlog"
    return 1
  fi

  : >"$log"
  for ((attempt = 1; attempt <= ${LYNX_DB_PORT_ATTEMPTS:-5}; attempt++)); do
    _lynx_db_pick_port port || return 1
    off=$(_lynx_db_size "$log")
    rm -f -- "$sock" "$dir/mariadbd.pid"
    (cd -- "$dir" && exec "$mariadbd" --no-defaults "${asroot[@]}" --datadir="$data" \
      --socket="$sock" --pid-file="$dir/mariadbd.pid" --tmpdir="$dir/tmp" --port="$port" \
      --bind-address=127.0.0.1 --skip-networking=0 --skip-name-resolve \
      "${durability[@]}" --max-connections=300 \
      "${common[@]}") </dev/null >>"$log" 2>&1 &
    _LYNX_DB_MY_PID=$!
    rc=0
    # Ready when our own unix socket answers (so it is this server) and TCP answers too.
    _lynx_db_wait_ready "$_LYNX_DB_MY_PID" "$log" "$off" \
      "bind on tcp/ip port|address already in use|already have another server running on port" \
      _lynx_db_mariadb_ready "$admin" "$sock" "$port" || rc=$?
    case $rc in
      0) break ;;
      2)
        _lynx_db_log "MariaDB could not bind port $port, retrying with another port"
        _LYNX_DB_MY_PID=
        continue
        ;;
      3)
        _lynx_db_fail "MariaDB did not accept connections on 127.0.0.1:$port within ${LYNX_DB_START_TIMEOUT:-60}s" "$log"
        return 1
        ;;
      *)
        _LYNX_DB_MY_PID=
        _lynx_db_fail "MariaDB exited during start-up (port $port)" "$log"
        return 1
        ;;
    esac
  done
  if [[ -z $_LYNX_DB_MY_PID ]]; then
    _lynx_db_fail "MariaDB: no free port after ${LYNX_DB_PORT_ATTEMPTS:-5} attempts" "$log"
    return 1
  fi

  # The test user: empty password, from anywhere (TCP clients are 127.0.0.1 with
  # skip-name-resolve) and over the socket. Anonymous users would shadow it: drop them.
  local sql="DELETE FROM mysql.global_priv WHERE User=''; FLUSH PRIVILEGES;"
  local h
  for h in '%' '127.0.0.1' 'localhost'; do
    sql+=" CREATE USER 'lynx'@'$h' IDENTIFIED BY ''; GRANT ALL PRIVILEGES ON *.* TO 'lynx'@'$h' WITH GRANT OPTION;"
  done
  if ! timeout -k 5 60 "$client" --no-defaults --protocol=socket -S "$sock" -u root -e "$sql" >>"$log" 2>&1; then
    _lynx_db_fail "MariaDB: creating user lynx failed" "$log"
    return 1
  fi
  # Check what tests need: TCP login as lynx, XA through PREPARE/COMMIT and XA RECOVER.
  if ! timeout -k 5 60 "$client" --no-defaults --protocol=tcp -h 127.0.0.1 -P "$port" -u lynx -e \
    "XA START 'lynx_db_probe'; XA END 'lynx_db_probe'; XA PREPARE 'lynx_db_probe'; XA RECOVER; XA COMMIT 'lynx_db_probe';" \
    >>"$log" 2>&1; then
    _lynx_db_fail "MariaDB: XA check as lynx over TCP 127.0.0.1:$port failed" "$log"
    return 1
  fi
  export LYNX_TEST_MYSQL_PORT=$port
  LYNX_DB_MYSQL_SOCKET=$sock
}

# _lynx_db_mariadb_ready ADMIN SOCKET PORT
_lynx_db_mariadb_ready() {
  timeout -k 1 5 "$1" --no-defaults --protocol=socket -S "$2" -u root --connect-timeout=2 ping &&
    timeout -k 1 5 "$1" --no-defaults --protocol=tcp -h 127.0.0.1 -P "$3" -u root --connect-timeout=2 ping
}

# ---------------------------------------------------------------------------------------------
# Redis

# _lynx_db_redis_ready CLI PORT PID LOG OFFSET: logged that it is ready, answers on PORT and
# is our process.
_lynx_db_redis_ready() {
  local out
  _lynx_db_log_since "$4" "$5" | grep -q 'Ready to accept connections' || return 1
  out=$(timeout -k 1 5 "$1" -h 127.0.0.1 -p "$2" info server 2>/dev/null) || return 1
  [[ $out == *"process_id:$3"$'\r'* || $out == *"process_id:$3"$'\n'* ]]
}

_lynx_db_start_redis() {
  local base=$1 server cli dir="$1/redis" log="$1/redis.log" port off attempt rc
  _lynx_db_find_bin server redis-server || return 1
  _lynx_db_find_bin cli redis-cli || return 1
  mkdir -p -- "$dir" || return 1
  # Tests: memory only. Benchmarks (LYNX_DB_DURABLE=1): append-only file, fsync every second.
  local durability=(--appendonly no)
  if [[ ${LYNX_DB_DURABLE:-0} == 1 ]]; then durability=(--appendonly yes --appendfsync everysec); fi
  : >"$log"
  for ((attempt = 1; attempt <= ${LYNX_DB_PORT_ATTEMPTS:-5}; attempt++)); do
    _lynx_db_pick_port port || return 1
    off=$(_lynx_db_size "$log")
    (cd -- "$dir" && exec "$server" --port "$port" --bind 127.0.0.1 --dir "$dir" --save '' \
      "${durability[@]}" --daemonize no --logfile '' --unixsocket '') </dev/null >>"$log" 2>&1 &
    _LYNX_DB_REDIS_PID=$!
    rc=0
    _lynx_db_wait_ready "$_LYNX_DB_REDIS_PID" "$log" "$off" \
      'address already in use|could not create server tcp listening socket|failed listening on port' \
      _lynx_db_redis_ready "$cli" "$port" "$_LYNX_DB_REDIS_PID" "$log" "$off" || rc=$?
    case $rc in
      0)
        export LYNX_TEST_REDIS_PORT=$port
        return 0
        ;;
      2)
        _lynx_db_log "Redis could not bind port $port, retrying with another port"
        _LYNX_DB_REDIS_PID=
        ;;
      3)
        _lynx_db_fail "Redis did not answer PING on 127.0.0.1:$port within ${LYNX_DB_START_TIMEOUT:-60}s" "$log"
        return 1
        ;;
      *)
        _LYNX_DB_REDIS_PID=
        _lynx_db_fail "Redis exited during start-up (port $port)" "$log"
        return 1
        ;;
    esac
  done
  _lynx_db_fail "Redis: no free port after ${LYNX_DB_PORT_ATTEMPTS:-5} attempts" "$log"
}

# ---------------------------------------------------------------------------------------------
# Public API

# Adds lynx_db_stop_all in front of the current EXIT trap unless it is already called there.
_lynx_db_register_trap() {
  local cur
  cur=$(trap -p EXIT)
  case $cur in *lynx_db_stop_all*) return 0 ;; esac
  if [[ -z $cur ]]; then
    trap 'lynx_db_stop_all' EXIT
  else
    eval "set -- $cur"
    # shellcheck disable=SC2064  # expand the old trap's command now
    trap "lynx_db_stop_all; $3" EXIT
  fi
}

lynx_db_start_all() {
  if [[ $# -ne 1 || -z $1 ]]; then
    _lynx_db_log "usage: lynx_db_start_all BASE_DIR"
    return 2
  fi
  if [[ -n $_LYNX_DB_RUNNING ]]; then
    _lynx_db_log "ERROR: databases already started; call lynx_db_stop_all first"
    return 1
  fi
  local base run t0 t1 t2 t3
  mkdir -p -- "$1" || { _lynx_db_log "ERROR: cannot create $1"; return 1; }
  base=$(cd -- "$1" && pwd -P) || return 1
  _LYNX_DB_RUNNING=1
  _lynx_db_register_trap

  # Unix socket paths are limited to 107 bytes: use a short directory when BASE_DIR is long.
  if ((${#base} <= 70)); then
    run="$base/run"
    mkdir -p -- "$run" || { lynx_db_stop_all; return 1; }
  else
    run=$(mktemp -d /tmp/lynx-db.XXXXXX) || { lynx_db_stop_all; return 1; }
    _LYNX_DB_REMOVE_DIRS+=("$run")
  fi

  _lynx_db_now_ms t0
  if ! _lynx_db_start_pg "$base" "$run"; then lynx_db_stop_all; return 1; fi
  _lynx_db_now_ms t1
  if ! _lynx_db_start_mariadb "$base" "$run"; then lynx_db_stop_all; return 1; fi
  _lynx_db_now_ms t2
  if ! _lynx_db_start_redis "$base" "$run"; then lynx_db_stop_all; return 1; fi
  _lynx_db_now_ms t3
  LYNX_DB_PG_START_MS=$((t1 - t0))
  LYNX_DB_MYSQL_START_MS=$((t2 - t1))
  LYNX_DB_REDIS_START_MS=$((t3 - t2))
  export LYNX_TEST_DB_HOST=127.0.0.1
  return 0
}

lynx_db_stop_all() {
  local -a wait_pids=() kill_pids=()
  local p now deadline alive killed=
  # Postmaster: SIGINT is a fast shutdown (SIGTERM would wait for clients to disconnect).
  if [[ -z $_LYNX_DB_PG_PID && -n $_LYNX_DB_PG_DATA ]]; then
    _LYNX_DB_PG_PID=$(sed -n 1p -- "$_LYNX_DB_PG_DATA/postmaster.pid" 2>/dev/null || true)
  fi
  if [[ $_LYNX_DB_PG_PID =~ ^[0-9]+$ ]] && _lynx_db_alive "$_LYNX_DB_PG_PID"; then
    kill -INT "$_LYNX_DB_PG_PID" 2>/dev/null || true
    kill_pids+=("$_LYNX_DB_PG_PID")
  elif _lynx_db_alive "$_LYNX_DB_PG_WRAPPER_PID"; then
    kill -TERM "$_LYNX_DB_PG_WRAPPER_PID" 2>/dev/null || true
  fi
  for p in "$_LYNX_DB_MY_PID" "$_LYNX_DB_REDIS_PID"; do
    if _lynx_db_alive "$p"; then
      kill -TERM "$p" 2>/dev/null || true
      kill_pids+=("$p")
    fi
  done
  for p in "$_LYNX_DB_PG_WRAPPER_PID" "$_LYNX_DB_MY_PID" "$_LYNX_DB_REDIS_PID"; do
    if [[ -n $p ]]; then wait_pids+=("$p"); fi
  done
  kill_pids+=("${wait_pids[@]}")

  _lynx_db_now_ms now
  deadline=$((now + ${LYNX_DB_STOP_TIMEOUT:-30} * 1000))
  while :; do
    alive=
    for p in "${kill_pids[@]}"; do
      if _lynx_db_alive "$p"; then alive+=" $p"; fi
    done
    [[ -n $alive ]] || break
    _lynx_db_now_ms now
    if ((now >= deadline)); then
      if [[ -n $killed ]]; then
        _lynx_db_log "WARNING: processes still alive after SIGKILL:$alive"
        break
      fi
      _lynx_db_log "servers did not stop within ${LYNX_DB_STOP_TIMEOUT:-30}s, killing:$alive"
      for p in $alive; do kill -KILL "$p" 2>/dev/null || true; done
      killed=1
      deadline=$((now + 10000))
    fi
    sleep 0.05
  done
  # Reap our own children so no zombies or job entries stay behind.
  for p in "${wait_pids[@]}"; do
    if ! _lynx_db_alive "$p"; then wait "$p" 2>/dev/null || true; fi
  done

  for p in "${_LYNX_DB_REMOVE_DIRS[@]}"; do rm -rf -- "$p" || true; done
  _LYNX_DB_REMOVE_DIRS=()
  _LYNX_DB_PG_WRAPPER_PID= _LYNX_DB_PG_PID= _LYNX_DB_PG_DATA=
  _LYNX_DB_MY_PID= _LYNX_DB_REDIS_PID= _LYNX_DB_RUNNING=
  unset LYNX_TEST_PG_PORT LYNX_TEST_MYSQL_PORT LYNX_TEST_REDIS_PORT LYNX_TEST_DB_HOST
  return 0
}
