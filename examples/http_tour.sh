#!/usr/bin/env bash
# A tour of every transaction mode over dtmd's HTTP API, acting as the client SDK does on the
# wire (the C++ SDK arrives with issue 3). Needs a running dtmd and the test business service.
# Usage: examples/http_tour.sh DTM_URL BUSI_URL
#   e.g. examples/http_tour.sh http://127.0.0.1:36789/api/dtmsvr http://127.0.0.1:8081/api/busi
set -euo pipefail
dtm="$1"
busi="$2"
failures=0

post() { curl -sS -X POST -H 'Content-Type: application/json' -d "$2" "$dtm/$1"; }
new_gid() { curl -sS "$dtm/newGid" | sed -E 's/.*"gid":"([^"]+)".*/\1/'; }
status_of() {
  curl -sS "$dtm/query?gid=$1" | sed -E 's/.*"transaction":\{[^}]*"status":"([a-z]+)".*/\1/'
}
# Waits (bounded) until the transaction reaches a final status, then checks it.
expect() {
  local gid="$1" want="$2" what="$3" s=""
  for _ in $(seq 1 100); do
    s="$(status_of "$gid")"
    [ "$s" = succeed ] || [ "$s" = failed ] && break
    sleep 0.1
  done
  if [ "$s" = "$want" ]; then
    printf '  %-44s %-8s ok\n' "$what" "$s"
  else
    printf '  %-44s %-8s EXPECTED %s\n' "$what" "$s" "$want"
    failures=$((failures + 1))
  fi
}

echo "dtmd $(curl -sS "$dtm/version")"

# SAGA: TransOut then TransIn; a failing TransIn compensates both, in reverse.
for outcome in ok fail; do
  gid="$(new_gid)"
  in_payload='{"amount":30}'
  [ "$outcome" = fail ] && in_payload='{"amount":30,"trans_in_result":"FAILURE"}'
  body=$(cat <<JSON
{"gid":"$gid","trans_type":"saga","concurrent":false,"protocol":"",
 "steps":[{"action":"$busi/TransOut","compensate":"$busi/TransOutRevert"},
          {"action":"$busi/TransIn","compensate":"$busi/TransInRevert"}],
 "payloads":["{\"amount\":30}",$(printf '%s' "$in_payload" | sed 's/"/\\"/g; s/.*/"&"/')]}
JSON
)
  post submit "$body" >/dev/null
  expect "$gid" "$([ $outcome = ok ] && echo succeed || echo failed)" "saga ($outcome)"
done

# 2-phase message: prepare, (local transaction), submit.
gid="$(new_gid)"
msg=$(cat <<JSON
{"gid":"$gid","trans_type":"msg","concurrent":false,"protocol":"","query_prepared":"$busi/QueryPrepared",
 "steps":[{"action":"$busi/TransOut"},{"action":"$busi/TransIn"}],"payloads":["{\"amount\":30}","{\"amount\":30}"]}
JSON
)
post prepare "$msg" >/dev/null
post submit "$msg" >/dev/null
expect "$gid" succeed "msg (prepare + submit)"
gid="$(new_gid)"
post prepare "$(printf '%s' "$msg" | sed -E "s/\"gid\":\"[^\"]+\"/\"gid\":\"$gid\"/")" >/dev/null
post abort "{\"gid\":\"$gid\",\"trans_type\":\"msg\"}" >/dev/null
expect "$gid" failed "msg (prepare + abort)"

# TCC: prepare, register each branch, call its try, then submit (confirm) or abort (cancel).
for outcome in ok fail; do
  gid="$(new_gid)"
  post prepare "{\"gid\":\"$gid\",\"trans_type\":\"tcc\",\"protocol\":\"\",\"concurrent\":false}" >/dev/null
  for b in 01 02; do
    post registerBranch "{\"gid\":\"$gid\",\"trans_type\":\"tcc\",\"branch_id\":\"$b\",\"data\":\"{\\\"amount\\\":30}\",\"confirm\":\"$busi/TransOutConfirm\",\"cancel\":\"$busi/TransOutRevert\"}" >/dev/null
    curl -sS -X POST -d '{"amount":30}' "$busi/TransOut?gid=$gid&trans_type=tcc&branch_id=$b&op=try" >/dev/null
  done
  if [ "$outcome" = ok ]; then
    post submit "{\"gid\":\"$gid\",\"trans_type\":\"tcc\"}" >/dev/null
    expect "$gid" succeed "tcc (try, confirm)"
  else
    post abort "{\"gid\":\"$gid\",\"trans_type\":\"tcc\",\"rollback_reason\":\"try failed\"}" >/dev/null
    expect "$gid" failed "tcc (try, cancel)"
  fi
done

# XA: prepare, each branch registers its phase-2 URL, then submit (commit) or abort (rollback).
for outcome in ok fail; do
  gid="$(new_gid)"
  post prepare "{\"gid\":\"$gid\",\"trans_type\":\"xa\",\"protocol\":\"\",\"concurrent\":false}" >/dev/null
  for b in 01 02; do
    post registerBranch "{\"gid\":\"$gid\",\"trans_type\":\"xa\",\"branch_id\":\"$b\",\"url\":\"$busi/TransInXa\"}" >/dev/null
  done
  if [ "$outcome" = ok ]; then
    post submit "{\"gid\":\"$gid\",\"trans_type\":\"xa\"}" >/dev/null
    expect "$gid" succeed "xa (commit)"
  else
    post abort "{\"gid\":\"$gid\",\"trans_type\":\"xa\"}" >/dev/null
    expect "$gid" failed "xa (rollback)"
  fi
done

if [ "$failures" -ne 0 ]; then
  echo "tour: $failures unexpected outcome(s)"
  exit 1
fi
echo "tour: every mode reached its expected final state"
