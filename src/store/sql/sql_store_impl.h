// SqlStore's member definitions (see sql_store.h). Included by postgres_store.cc and
// mysql_store.cc after their driver headers, each followed by its explicit instantiation.
#pragma once

#include <limits>
#include <set>
#include <tuple>

#include "store/sql/rows.h"
#include "store/sql/sql_store.h"
#include "store/store_util.h"

namespace lynx::store::sql {

template <class D>
SqlStore<D>::SqlStore() = default;

template <class D>
SqlStore<D>::~SqlStore() = default;

template <class D>
template <class F>
Status SqlStore<D>::Read(F&& fn) {
  for (int attempt = 0;; ++attempt) {
    auto conn = pool_->Acquire();
    if (!conn.ok()) return conn.status();
    Status st = fn(**conn);
    if (st.ok() || attempt > 0 || !(*conn)->Broken()) return st;
  }
}

template <class D>
template <class F>
Status SqlStore<D>::Write(F&& fn) {
  auto conn = pool_->Acquire();
  if (!conn.ok()) return conn.status();
  return fn(**conn);
}

template <class D>
Status SqlStore<D>::Ping() {
  return Read(
      [](typename D::Conn& c) { return c.Run(D::kSql.ping, typename D::Params()).status(); });
}

template <class D>
StatusOr<std::optional<TransGlobal>> SqlStore<D>::FindGlobal(const std::string& gid) {
  std::optional<TransGlobal> out;
  Status st = Read([&](typename D::Conn& c) -> Status {
    auto r = c.Run(D::kSql.find_global, typename D::Params().Text(gid));
    if (!r.ok()) return r.status();
    if (r->rows() > 0) out = ReadGlobal(*r, 0);
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return out;
}

template <class D>
Status SqlStore<D>::ScanGlobals(std::string* position, int64_t limit, const ScanCondition& cond,
                                std::vector<TransGlobal>* out) {
  int64_t before = 0;
  if (Status st = StartPage(*position, limit, std::numeric_limits<int64_t>::max(), &before);
      !st.ok())
    return st;
  out->clear();
  Status st = Read([&](typename D::Conn& c) -> Status {
    typename D::Params p;
    p.Int(before).Text(cond.status).Text(cond.trans_type);
    p.Time(cond.create_time_start).Time(cond.create_time_end).Int(limit);
    p.Text(cond.gid_prefix).Time(cond.overdue_before);
    auto r = c.Run(D::kSql.scan_globals, p);
    if (!r.ok()) return r.status();
    out->clear();
    for (int i = 0; i < r->rows(); ++i) out->push_back(ReadGlobal(*r, i));
    return Status::Ok();
  });
  if (!st.ok()) return st;
  *position = NextCursor(out->size(), limit, out->empty() ? 0 : out->back().id);
  return Status::Ok();
}

template <class D>
StatusOr<std::vector<TransBranch>> SqlStore<D>::FindBranches(const std::string& gid) {
  std::vector<TransBranch> out;
  Status st = Read([&](typename D::Conn& c) -> Status {
    auto r = c.Run(D::kSql.find_branches, typename D::Params().Text(gid));
    if (!r.ok()) return r.status();
    out.clear();
    for (int i = 0; i < r->rows(); ++i) out.push_back(ReadBranch(*r, i));
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return out;
}

template <class D>
bool SqlStore<D>::RunAsync(const char* sql, typename D::Params params, ResultCallback done) {
  return false;
}

namespace detail {

template <class Params>
Params ChangeStatusParams(const std::string& gid, const std::string& old_status,
                          const StatusChange& change) {
  Params p;
  p.Text(change.new_status).Time(change.now);
  p.Bool(change.rollback_reason.has_value()).Text(change.rollback_reason.value_or(""));
  p.Bool(change.result.has_value()).Text(change.result.value_or(""));
  p.Text(gid).Text(old_status);
  return p;
}

template <class Result>
Status ChangeStatusDone(const StatusOr<Result>& r, const std::string& gid,
                        const std::string& old_status) {
  if (!r.ok()) return r.status();
  return r->Affected() == 0 ? NoTrans(gid, old_status) : Status::Ok();
}

}  // namespace detail

template <class D>
Status SqlStore<D>::ChangeGlobalStatus(const std::string& gid, const std::string& old_status,
                                       const StatusChange& change) {
  return Write([&](typename D::Conn& c) -> Status {
    auto r = c.Run(D::kSql.change_status,
                   detail::ChangeStatusParams<typename D::Params>(gid, old_status, change));
    return detail::ChangeStatusDone(r, gid, old_status);
  });
}

template <class D>
bool SqlStore<D>::ChangeGlobalStatusAsync(const std::string& gid, const std::string& old_status,
                                          const StatusChange& change, Completion<Status> done) {
  return RunAsync(D::kSql.change_status,
                  detail::ChangeStatusParams<typename D::Params>(gid, old_status, change),
                  [&gid, &old_status, done = std::move(done)](StatusOr<typename D::Result> r) {
                    done(detail::ChangeStatusDone(r, gid, old_status));
                  });
}

template <class D>
Status SqlStore<D>::SaveBranchesChangeStatus(const std::string& gid, const std::string& old_status,
                                             const std::vector<TransBranch>& rows,
                                             const StatusChange& change) {
  return Write([&](typename D::Conn& c) {
    return InTransaction(c, [&]() -> Status {
      auto changed = c.Run(D::kSql.change_status,
                           detail::ChangeStatusParams<typename D::Params>(gid, old_status, change));
      if (Status st = detail::ChangeStatusDone(changed, gid, old_status); !st.ok()) return st;
      for (const auto& row : rows) {
        auto r = c.Run(D::kSql.upsert_branch, BranchParams<typename D::Params>(gid, row));
        if (!r.ok()) return r.status();
      }
      return Status::Ok();
    });
  });
}

template <class D>
Status SqlStore<D>::TouchCronTime(const std::string& gid, const std::string& expected_status,
                                  int64_t interval_s, UnixMs next_cron_time, UnixMs now) {
  return Write([&](typename D::Conn& c) -> Status {
    typename D::Params p;
    p.Int(interval_s).Time(next_cron_time, /*zero_is_null=*/false).Time(now);
    p.Text(gid).Text(expected_status);
    auto r = c.Run(D::kSql.touch_cron, p);
    if (!r.ok()) return r.status();
    return r->Affected() == 0 ? NoTrans(gid, expected_status) : Status::Ok();
  });
}

template <class D>
Status SqlStore<D>::ResetTransGlobalCronTime(const std::string& gid, UnixMs now) {
  return Write([&](typename D::Conn& c) -> Status {
    auto r = c.Run(D::kSql.reset_by_gid, typename D::Params().Time(now, false).Text(gid));
    if (!r.ok()) return r.status();
    return r->Affected() == 0 ? Status::NotFound("no trans with gid: " + gid) : Status::Ok();
  });
}

template <class D>
Status SqlStore<D>::ScanKV(const std::string& cat, std::string* position, int64_t limit,
                           std::vector<KV>* out) {
  int64_t after = 0;
  if (Status st = StartPage(*position, limit, 0, &after); !st.ok()) return st;
  out->clear();
  Status st = Read([&](typename D::Conn& c) -> Status {
    auto r = c.Run(D::kSql.scan_kv, typename D::Params().Text(cat).Int(after).Int(limit));
    if (!r.ok()) return r.status();
    out->clear();
    for (int i = 0; i < r->rows(); ++i) out->push_back(ReadKV(*r, i));
    return Status::Ok();
  });
  if (!st.ok()) return st;
  *position = NextCursor(out->size(), limit, out->empty() ? 0 : out->back().id);
  return Status::Ok();
}

template <class D>
StatusOr<std::vector<KV>> SqlStore<D>::FindKV(const std::string& cat, const std::string& key) {
  std::vector<KV> out;
  Status st = Read([&](typename D::Conn& c) -> Status {
    auto r = key.empty() ? c.Run(D::kSql.find_kv_cat, typename D::Params().Text(cat))
                         : c.Run(D::kSql.find_kv, typename D::Params().Text(cat).Text(key));
    if (!r.ok()) return r.status();
    out.clear();
    for (int i = 0; i < r->rows(); ++i) out.push_back(ReadKV(*r, i));
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return out;
}

template <class D>
Status SqlStore<D>::CreateKV(const std::string& cat, const std::string& k, const std::string& v,
                             UnixMs now) {
  return Write([&](typename D::Conn& c) -> Status {
    auto r = c.Run(D::kSql.create_kv, typename D::Params().Text(cat).Text(k).Text(v).Time(now));
    // PostgreSQL's statement skips a duplicate (no row inserted); MySQL's fails with a
    // duplicate-key error.
    if (r.status().IsUniqueConflict() || (r.ok() && r->Affected() == 0)) {
      return Status::UniqueConflict("kv exists: " + cat + "/" + k);
    }
    return r.status();
  });
}

template <class D>
Status SqlStore<D>::UpdateKV(KV& kv, UnixMs now) {
  Status st = Write([&](typename D::Conn& c) -> Status {
    auto r =
        c.Run(D::kSql.update_kv,
              typename D::Params().Text(kv.v).Time(now).Text(kv.cat).Text(kv.k).Int(kv.version));
    if (!r.ok()) return r.status();
    return r->Affected() == 0
               ? Status::NotFound("kv " + kv.cat + "/" + kv.k + " absent or version mismatch")
               : Status::Ok();
  });
  if (st.ok()) ++kv.version;
  return st;
}

template <class D>
Status SqlStore<D>::DeleteKV(const std::string& cat, const std::string& k) {
  return Write([&](typename D::Conn& c) -> Status {
    auto r = c.Run(D::kSql.delete_kv, typename D::Params().Text(cat).Text(k));
    if (!r.ok()) return r.status();
    return r->Affected() == 0 ? Status::NotFound("kv " + cat + "/" + k) : Status::Ok();
  });
}

template <class D>
Status SqlStore<D>::UpdateBranches(const std::vector<TransBranch>& rows) {
  if (rows.empty()) return Status::Ok();
  return Write([&](typename D::Conn& c) {
    return InTransaction(c, [&]() -> Status {
      for (const auto& row : rows) {
        auto r = c.Run(D::kSql.upsert_branch, BranchParams<typename D::Params>(row.gid, row));
        if (!r.ok()) return r.status();
      }
      return Status::Ok();
    });
  });
}

template <class D>
Status SqlStore<D>::AddAttempts(const std::vector<BranchAttempt>& rows, int64_t keep) {
  return Write([&](typename D::Conn& c) {
    return InTransaction(c, [&]() -> Status {
      std::set<std::tuple<std::string, std::string, std::string>> keys;
      for (const auto& a : rows) {
        auto r = c.Run(D::kSql.insert_attempt, AttemptParams<typename D::Params>(a));
        if (!r.ok()) return r.status();
        if (!a.final) keys.emplace(a.gid, a.branch_id, a.op);
      }
      for (const auto& [gid, branch_id, op] : keys) {
        auto r = c.Run(D::kSql.trim_attempts,
                       typename D::Params().Text(gid).Text(branch_id).Text(op).Int(keep));
        if (!r.ok()) return r.status();
      }
      return Status::Ok();
    });
  });
}

template <class D>
StatusOr<std::vector<BranchAttempt>> SqlStore<D>::FindAttempts(const std::string& gid) {
  std::vector<BranchAttempt> out;
  Status st = Read([&](typename D::Conn& c) -> Status {
    auto r = c.Run(D::kSql.find_attempts, typename D::Params().Text(gid));
    if (!r.ok()) return r.status();
    out.clear();
    for (int i = 0; i < r->rows(); ++i) out.push_back(ReadAttempt(*r, i));
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return out;
}

}  // namespace lynx::store::sql
