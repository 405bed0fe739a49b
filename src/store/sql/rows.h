// Row mapping shared by the PostgreSQL and MySQL stores: both read the column lists of their
// *_sql.h files by position and bind the same parameters in the same order, through result and
// parameter types with the same small interface (Int / Text / Time / Bytes).
#pragma once

#include <string>

#include "store/store.h"

namespace lynx::store::sql {

// Columns: id, gid, trans_type, status, query_prepared, protocol, create_time, update_time,
// finish_time, rollback_time, options, custom_data, next_cron_interval, next_cron_time, owner,
// ext_data, result, rollback_reason.
template <class Result>
TransGlobal ReadGlobal(const Result& r, int i) {
  TransGlobal g;
  g.id = r.Int(i, 0);
  g.gid = r.Text(i, 1);
  g.trans_type = r.Text(i, 2);
  g.status = r.Text(i, 3);
  g.query_prepared = r.Text(i, 4);
  g.protocol = r.Text(i, 5);
  g.create_time = r.Time(i, 6);
  g.update_time = r.Time(i, 7);
  g.finish_time = r.Time(i, 8);
  g.rollback_time = r.Time(i, 9);
  g.options = r.Text(i, 10);
  g.custom_data = r.Text(i, 11);
  g.next_cron_interval = r.Int(i, 12);
  g.next_cron_time = r.Time(i, 13);
  g.owner = r.Text(i, 14);
  g.ext_data = r.Text(i, 15);
  g.result = r.Text(i, 16);
  g.rollback_reason = r.Text(i, 17);
  return g;
}

// The insert's parameters: every column but id, in the order above.
template <class Params>
Params GlobalParams(const TransGlobal& g) {
  Params p;
  p.Text(g.gid).Text(g.trans_type).Text(g.status).Text(g.query_prepared).Text(g.protocol);
  p.Time(g.create_time).Time(g.update_time).Time(g.finish_time).Time(g.rollback_time);
  p.Text(g.options).Text(g.custom_data).Int(g.next_cron_interval);
  p.Time(g.next_cron_time, /*zero_is_null=*/false);
  p.Text(g.owner).Text(g.ext_data).Text(g.result).Text(g.rollback_reason);
  return p;
}

// Columns: id, gid, url, bin_data, branch_id, op, status, create_time, update_time, finish_time,
// rollback_time.
template <class Result>
TransBranch ReadBranch(const Result& r, int i) {
  TransBranch b;
  b.id = r.Int(i, 0);
  b.gid = r.Text(i, 1);
  b.url = r.Text(i, 2);
  b.bin_data = r.Bytes(i, 3);
  b.branch_id = r.Text(i, 4);
  b.op = r.Text(i, 5);
  b.status = r.Text(i, 6);
  b.create_time = r.Time(i, 7);
  b.update_time = r.Time(i, 8);
  b.finish_time = r.Time(i, 9);
  b.rollback_time = r.Time(i, 10);
  return b;
}

// Appends one branch row's 10 parameters: gid, url, bin_data, branch_id, op, status, create_time,
// update_time, finish_time, rollback_time.
template <class Params>
void AppendBranchParams(Params& p, const std::string& gid, const TransBranch& b) {
  p.Text(gid).Text(b.url).Bytes(b.bin_data).Text(b.branch_id).Text(b.op).Text(b.status);
  p.Time(b.create_time).Time(b.update_time).Time(b.finish_time).Time(b.rollback_time);
}

template <class Params>
Params BranchParams(const std::string& gid, const TransBranch& b) {
  Params p;
  AppendBranchParams(p, gid, b);
  return p;
}

// Columns: id, cat, k, v, version, create_time, update_time.
template <class Result>
KV ReadKV(const Result& r, int i) {
  return KV{r.Int(i, 0), r.Text(i, 1), r.Text(i, 2), r.Text(i, 3),
            r.Int(i, 4), r.Time(i, 5), r.Time(i, 6)};
}

// Columns: id, gid, branch_id, op, start_time, duration_ms, target, outcome, code, detail, owner.
template <class Result>
BranchAttempt ReadAttempt(const Result& r, int i) {
  BranchAttempt a;
  a.id = r.Int(i, 0);
  a.gid = r.Text(i, 1);
  a.branch_id = r.Text(i, 2);
  a.op = r.Text(i, 3);
  a.start_time = r.Int(i, 4);
  a.duration_ms = r.Int(i, 5);
  a.target = r.Text(i, 6);
  a.outcome = r.Text(i, 7);
  a.code = r.Int(i, 8);
  a.detail = r.Text(i, 9);
  a.owner = r.Text(i, 10);
  return a;
}

// The insert's parameters: every column but id, in the order above.
template <class Params>
Params AttemptParams(const BranchAttempt& a) {
  Params p;
  p.Text(a.gid).Text(a.branch_id).Text(a.op).Int(a.start_time).Int(a.duration_ms);
  p.Text(a.target).Text(a.outcome).Int(a.code).Text(a.detail).Text(a.owner);
  return p;
}

}  // namespace lynx::store::sql
