#!/usr/bin/env bash
# Self-test of scripts/lib/databases.sh: starts PostgreSQL, MariaDB and Redis in a temp dir,
# runs a query on each over TCP (PREPARE TRANSACTION on PostgreSQL, an XA transaction as user
# lynx on MariaDB, PING/SET/GET on Redis), stops them and checks their processes are gone.
# Usage: scripts/lib/databases-selftest.sh   (exit 0 on success)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=databases.sh
source "$here/databases.sh"

tmp="$(mktemp -d)"
trap 'lynx_db_stop_all; rm -rf "$tmp"' EXIT

now_ms() { local t=${EPOCHREALTIME//[!0-9]/}; echo $((t / 1000)); }

t0=$(now_ms)
lynx_db_start_all "$tmp"
t1=$(now_ms)
printf 'started in %d ms (postgres %d ms, mariadb %d ms, redis %d ms)\n' $((t1 - t0)) \
  "$LYNX_DB_PG_START_MS" "$LYNX_DB_MYSQL_START_MS" "$LYNX_DB_REDIS_START_MS"
printf 'LYNX_TEST_DB_HOST=%s LYNX_TEST_PG_PORT=%s LYNX_TEST_MYSQL_PORT=%s LYNX_TEST_REDIS_PORT=%s\n' \
  "$LYNX_TEST_DB_HOST" "$LYNX_TEST_PG_PORT" "$LYNX_TEST_MYSQL_PORT" "$LYNX_TEST_REDIS_PORT"

_lynx_db_pg_bindir pgbin
# Each -c is its own query, so COMMIT PREPARED runs outside a transaction block.
out=$("$pgbin/psql" -X -q -A -t -v ON_ERROR_STOP=1 -h "$LYNX_TEST_DB_HOST" -p "$LYNX_TEST_PG_PORT" \
  -U postgres -d postgres \
  -c "CREATE TABLE selftest(x int)" \
  -c "BEGIN" -c "INSERT INTO selftest VALUES (42)" -c "PREPARE TRANSACTION 'lynx_selftest'" \
  -c "COMMIT PREPARED 'lynx_selftest'" \
  -c "SELECT 'pg', x, current_setting('max_prepared_transactions') FROM selftest")
[[ $out == "pg|42|100" ]] || { echo "postgres: unexpected result '$out'" >&2; exit 1; }
echo "postgres: PREPARE TRANSACTION / COMMIT PREPARED ok ($out)"

out=$(mariadb --no-defaults --protocol=tcp -h "$LYNX_TEST_DB_HOST" -P "$LYNX_TEST_MYSQL_PORT" -u lynx \
  -N -B -e "CREATE DATABASE selftest; CREATE TABLE selftest.t (x INT) ENGINE=InnoDB;
    XA START 'x'; INSERT INTO selftest.t VALUES (42); XA END 'x'; XA PREPARE 'x';
    XA RECOVER; XA COMMIT 'x';
    SELECT 'mysql', x, CURRENT_USER() FROM selftest.t;")
[[ $out == *$'mysql\t42\tlynx@'* && $out == *x* ]] || { echo "mariadb: unexpected result '$out'" >&2; exit 1; }
echo "mariadb: XA START/END/PREPARE/RECOVER/COMMIT as lynx ok ($(tail -n 1 <<<"$out" | tr '\t' '|'))"

out=$(redis-cli -h "$LYNX_TEST_DB_HOST" -p "$LYNX_TEST_REDIS_PORT" ping)
[[ $out == PONG ]] || { echo "redis: unexpected PING reply '$out'" >&2; exit 1; }
redis-cli -h "$LYNX_TEST_DB_HOST" -p "$LYNX_TEST_REDIS_PORT" set selftest 42 >/dev/null
out=$(redis-cli -h "$LYNX_TEST_DB_HOST" -p "$LYNX_TEST_REDIS_PORT" get selftest)
[[ $out == 42 ]] || { echo "redis: unexpected GET reply '$out'" >&2; exit 1; }
save=$(redis-cli -h "$LYNX_TEST_DB_HOST" -p "$LYNX_TEST_REDIS_PORT" config get save | sed -n 2p)
[[ -z $save ]] || { echo "redis: persistence is on (save '$save')" >&2; exit 1; }
echo "redis: PING/SET/GET ok, save disabled"

pids="$_LYNX_DB_PG_PID $_LYNX_DB_PG_WRAPPER_PID $_LYNX_DB_MY_PID $_LYNX_DB_REDIS_PID"
ports="$LYNX_TEST_PG_PORT $LYNX_TEST_MYSQL_PORT $LYNX_TEST_REDIS_PORT"
t2=$(now_ms)
lynx_db_stop_all
t3=$(now_ms)
lynx_db_stop_all # idempotent
for p in $pids; do
  if kill -0 "$p" 2>/dev/null; then echo "process $p still running after stop" >&2; exit 1; fi
done
for p in $ports; do
  if _lynx_db_port_in_use "$p"; then echo "port $p still accepting after stop" >&2; exit 1; fi
done
printf 'stopped in %d ms\nselftest OK\n' $((t3 - t2))
