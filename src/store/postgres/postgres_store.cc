#include "store/postgres/postgres_store.h"

#include "store/postgres/pg_batch_sql.h"
#include "store/sql/rows.h"
#include "store/sql/sql_store_impl.h"
#include "store/store_util.h"

#include <algorithm>
#include <cctype>
#include <limits>
#include <map>
#include <utility>

#include "common/pg_status.h"
#include "store/postgres/pg_async.h"
#include "store/postgres/pg_conn.h"
#include "store/postgres/pg_sql.h"

namespace lynx::store {

namespace pg {
// The statements the shared core runs (sql/sql_store.h).
const sql::Statements Dialect::kSql = {
    .ping = pg::kPing,
    .find_global = pg::kFindGlobal,
    .scan_globals = pg::kScanGlobals,
    .find_branches = pg::kFindBranches,
    .change_status = pg::kChangeStatus,
    .touch_cron = pg::kTouchCron,
    .reset_by_gid = pg::kResetByGid,
    .scan_kv = pg::kScanKV,
    .find_kv = pg::kFindKV,
    .find_kv_cat = pg::kFindKVCat,
    .create_kv = pg::kCreateKV,
    .update_kv = pg::kUpdateKV,
    .delete_kv = pg::kDeleteKV,
    .upsert_branch = pg::kUpsertBranch,
    .insert_attempt = pg::kInsertAttempt,
    .trim_attempts = pg::kTrimAttempts,
    .find_attempts = pg::kFindAttempts,
};
}  // namespace pg

template class sql::SqlStore<pg::Dialect>;

using pg::PgConn;
using pg::PgParams;
using pg::PgPool;
using pg::PgResult;

namespace {

TransGlobal ReadGlobal(const PgResult& r, int i) { return sql::ReadGlobal(r, i); }
PgParams GlobalParams(const TransGlobal& g) { return sql::GlobalParams<PgParams>(g); }
PgParams BranchParams(const std::string& gid, const TransBranch& b) {
  return sql::BranchParams<PgParams>(gid, b);
}

bool ValidSchemaName(const std::string& s) {
  return !s.empty() && s.size() <= 63 && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
  });
}

}  // namespace

StatusOr<std::unique_ptr<PostgresStore>> PostgresStore::Open(const PostgresOptions& o) {
  if (!ValidSchemaName(o.schema)) {
    return Status::InvalidArgument("config key Store.Schema: '" + o.schema +
                                   "' must be letters, digits and '_'");
  }
  std::string info = "host=" + PgConnValue(o.host) +
                     " port=" + std::to_string(o.port != 0 ? o.port : 5432) +
                     " connect_timeout=" + std::to_string(std::max(1, o.connect_timeout_s)) +
                     " application_name=dtmd options=" + PgConnValue("-c search_path=" + o.schema) +
                     // A server that stops answering must fail the call (~60 s), not hold a
                     // store thread for ever: TCP keepalives and an unacknowledged-data limit.
                     " keepalives=1 keepalives_idle=30 keepalives_interval=10 keepalives_count=3"
                     " tcp_user_timeout=60000";
  if (!o.user.empty()) info += " user=" + PgConnValue(o.user);
  if (!o.password.empty()) info += " password=" + PgConnValue(o.password);
  if (!o.db.empty()) info += " dbname=" + PgConnValue(o.db);
  std::unique_ptr<PostgresStore> store(new PostgresStore());
  // Folded like the unquoted identifier it becomes in search_path and CREATE SCHEMA.
  store->schema_ = o.schema;
  for (char& ch : store->schema_)
    ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  store->options_ = o;
  store->conninfo_ = info;
  store->pool_ = std::make_unique<PgPool>(
      info, static_cast<size_t>(std::clamp<int64_t>(o.max_conns, 1, o.kMaxConnections)),
      std::chrono::seconds(std::max<int64_t>(0, o.conn_max_life_s)));
  bool exists = false;
  Status st = store->Read([&](PgConn& c) -> Status {
    auto r = c.Run(pg::kTablesExist, PgParams());
    if (!r.ok()) return r.status();
    exists = r->Text(0, 0) == "t";
    return Status::Ok();
  });
  if (!st.ok()) return st;
  if (!exists && o.create_schema) {
    if (Status populated = store->PopulateSchema(); !populated.ok()) return populated;
  } else if (exists) {
    if (Status indexed = store->EnsurePurgeIndex(); !indexed.ok()) return indexed;
  }
  return store;
}

PostgresStore::~PostgresStore() = default;

Status PostgresStore::EnsurePurgeIndex() {
  bool present = false;
  Status st = Read([&](PgConn& c) -> Status {
    auto r = c.Run(pg::kPurgeIndexExists, PgParams());
    if (!r.ok()) return r.status();
    present = r->Text(0, 0) == "t";
    return Status::Ok();
  });
  if (!st.ok() || present) return st;
  // Outside a transaction (CONCURRENTLY requires it); IF NOT EXISTS covers a racing instance.
  return Write([](PgConn& c) { return c.Exec(pg::kCreatePurgeIndex); });
}

Status PostgresStore::PopulateSchema() {
  return Write([&](PgConn& c) {
    return pg::InTransaction(c, [&]() -> Status {
      if (auto r = c.Run(pg::kSchemaLock, PgParams()); !r.ok()) return r.status();
      auto found = c.Run(pg::kSchemaExists, PgParams().Text(schema_));
      if (!found.ok()) return found.status();
      if (found->rows() == 0) {
        // The name is validated in Open; unquoted, it folds like search_path does.
        if (Status st = c.Exec("CREATE SCHEMA " + schema_); !st.ok()) return st;
      }
      return c.Exec(pg::kSchemaTables);
    });
  });
}

Status PostgresStore::DropSchema() {
  return Write([&](PgConn& c) { return c.Exec("DROP SCHEMA IF EXISTS " + schema_ + " CASCADE"); });
}

namespace {

// The single-statement save's result: the global's id in every row, each branch's id with its
// (branch_id, op); no row when the gid exists.
Status SaveNewResult(const StatusOr<PgResult>& r, TransGlobal& global,
                     std::vector<TransBranch>& branches) {
  if (!r.ok()) return r.status();
  if (r->rows() == 0) return Status::UniqueConflict("gid exists: " + global.gid);
  std::map<std::pair<std::string, std::string>, int64_t> branch_ids;
  for (int i = 0; i < r->rows() && !branches.empty(); ++i) {
    branch_ids[{r->Text(i, 2), r->Text(i, 3)}] = r->Int(i, 1);
  }
  global.id = r->Int(0, 0);
  for (auto& b : branches) b.id = branch_ids[{b.branch_id, b.op}];
  return Status::Ok();
}

PgParams SaveNewParams(const TransGlobal& global, const std::vector<TransBranch>& branches) {
  PgParams p = GlobalParams(global);
  for (const auto& b : branches) sql::AppendBranchParams(p, global.gid, b);
  return p;
}

// An upsert statement may touch each key once: a key repeated within `rows` keeps its last row,
// as if the rows were written one after the other.
std::vector<TransBranch> LastRowPerKey(const std::vector<TransBranch>& rows) {
  std::vector<TransBranch> unique_rows;
  for (const auto& row : rows) {
    auto same = std::find_if(unique_rows.begin(), unique_rows.end(), [&](const TransBranch& u) {
      return u.branch_id == row.branch_id && u.op == row.op;
    });
    if (same != unique_rows.end()) {
      *same = row;
    } else {
      unique_rows.push_back(row);
    }
  }
  return unique_rows;
}

PgParams SaveBranchesParams(const std::string& gid, const std::string& expected_status,
                            const std::vector<TransBranch>& batch) {
  PgParams p;
  p.Text(gid).Text(expected_status);
  for (const auto& row : batch) sql::AppendBranchParams(p, gid, row);
  return p;
}

Status SaveBranchesResult(const StatusOr<PgResult>& r, const std::string& gid,
                          const std::string& expected_status) {
  if (!r.ok()) return r.status();
  return r->Affected() == 0 ? NoTrans(gid, expected_status) : Status::Ok();
}

}  // namespace

Status PostgresStore::MaySaveNewTrans(TransGlobal& global, std::vector<TransBranch>& branches) {
  if (branches.size() > pg::kMaxBatchRows) return MaySaveNewTransInSteps(global, branches);
  return Write([&](PgConn& c) -> Status {
    // One statement, one implicit transaction: a duplicate (branch_id, op) undoes the global.
    return SaveNewResult(
        c.Run(pg::SaveNewTransSql(branches.size()), SaveNewParams(global, branches)), global,
        branches);
  });
}

bool PostgresStore::MaySaveNewTransAsync(TransGlobal& global, std::vector<TransBranch>& branches,
                                         Completion<Status> done) {
  if (branches.size() > pg::kMaxBatchRows) return false;
  return RunAsync(pg::SaveNewTransSql(branches.size()), SaveNewParams(global, branches),
                  [&global, &branches, done = std::move(done)](StatusOr<PgResult> r) {
                    done(SaveNewResult(r, global, branches));
                  });
}

Status PostgresStore::MaySaveNewTransInSteps(TransGlobal& global,
                                             std::vector<TransBranch>& branches) {
  std::vector<int64_t> ids;  // the global's id, then the branches'
  Status st = Write([&](PgConn& c) {
    return pg::InTransaction(c, [&]() -> Status {
      auto g = c.Run(pg::kInsertGlobal, GlobalParams(global));
      if (!g.ok()) return g.status();
      if (g->rows() == 0) return Status::UniqueConflict("gid exists: " + global.gid);
      ids.push_back(g->Int(0, 0));
      for (const auto& b : branches) {
        // A duplicate (branch_id, op) fails with kUniqueConflict; the rollback undoes the global.
        auto r = c.Run(pg::kInsertBranch, BranchParams(global.gid, b));
        if (!r.ok()) return r.status();
        ids.push_back(r->Int(0, 0));
      }
      return Status::Ok();
    });
  });
  if (!st.ok()) return st;
  global.id = ids[0];
  for (size_t i = 0; i < branches.size(); ++i) branches[i].id = ids[i + 1];
  return Status::Ok();
}

Status PostgresStore::LockGlobalSaveBranches(const std::string& gid,
                                             const std::string& expected_status,
                                             const std::vector<TransBranch>& rows, bool append) {
  const std::vector<TransBranch> batch = append ? rows : LastRowPerKey(rows);
  if (batch.empty() || batch.size() > pg::kMaxBatchRows) {
    return LockGlobalSaveBranchesInSteps(gid, expected_status, rows, append);
  }
  return Write([&](PgConn& c) -> Status {
    // The global row is locked FOR UPDATE for the statement, as DTM's SELECT ... FOR UPDATE.
    return SaveBranchesResult(c.Run(pg::SaveBranchesSql(batch.size(), append),
                                    SaveBranchesParams(gid, expected_status, batch)),
                              gid, expected_status);
  });
}

bool PostgresStore::LockGlobalSaveBranchesAsync(const std::string& gid,
                                                const std::string& expected_status,
                                                const std::vector<TransBranch>& rows, bool append,
                                                Completion<Status> done) {
  const std::vector<TransBranch> batch = append ? rows : LastRowPerKey(rows);
  if (batch.empty() || batch.size() > pg::kMaxBatchRows) return false;
  return RunAsync(pg::SaveBranchesSql(batch.size(), append),
                  SaveBranchesParams(gid, expected_status, batch),
                  [&gid, &expected_status, done = std::move(done)](StatusOr<PgResult> r) {
                    done(SaveBranchesResult(r, gid, expected_status));
                  });
}

bool PostgresStore::SaveBranchesChangeStatusAsync(const std::string& gid,
                                                  const std::string& old_status,
                                                  const std::vector<TransBranch>& rows,
                                                  const StatusChange& change,
                                                  Completion<Status> done) {
  const std::vector<TransBranch> batch = LastRowPerKey(rows);
  if (batch.empty() || batch.size() > pg::kMaxBatchRows) return false;
  PgParams p = sql::detail::ChangeStatusParams<PgParams>(gid, old_status, change);
  for (const auto& row : batch) sql::AppendBranchParams(p, gid, row);
  return RunAsync(pg::SaveBranchesChangeStatusSql(batch.size()), std::move(p),
                  [&gid, &old_status, done = std::move(done)](StatusOr<PgResult> r) {
                    if (!r.ok()) return done(r.status());
                    done(r->rows() == 0 ? NoTrans(gid, old_status) : Status::Ok());
                  });
}

void PostgresStore::AttachIo(boost::asio::io_context& io) {
  async_ = std::make_unique<pg::AsyncPgPool>(
      io, conninfo_,
      static_cast<size_t>(std::clamp<int64_t>(options_.max_conns, 1, options_.kMaxConnections)),
      std::chrono::milliseconds(1000 * std::max(1, options_.connect_timeout_s)),
      std::chrono::seconds(std::max<int64_t>(0, options_.conn_max_life_s)));
}

bool PostgresStore::RunAsync(const char* sql, PgParams params, ResultCallback done) {
  if (async_ == nullptr) return false;
  // A write is not sent again: whether it committed is unknown once it may have been sent, and
  // one that was not sent failed with the connection, which the caller retries like any
  // kUnavailable.
  async_->Run(sql, std::move(params),
              [done = std::move(done)](StatusOr<PgResult> r, bool) { done(std::move(r)); });
  return true;
}

Status PostgresStore::LockGlobalSaveBranchesInSteps(const std::string& gid,
                                                    const std::string& expected_status,
                                                    const std::vector<TransBranch>& rows,
                                                    bool append) {
  return Write([&](PgConn& c) {
    return pg::InTransaction(c, [&]() -> Status {
      auto locked = c.Run(pg::kLockGlobal, PgParams().Text(gid).Text(expected_status));
      if (!locked.ok()) return locked.status();
      if (locked->rows() == 0) return NoTrans(gid, expected_status);
      // One statement per row, so a key repeated within `rows` is simply upserted twice.
      const char* sql = append ? pg::kInsertBranch : pg::kUpsertBranch;
      for (const auto& row : rows) {
        if (auto r = c.Run(sql, BranchParams(gid, row)); !r.ok()) return r.status();
      }
      return Status::Ok();
    });
  });
}

StatusOr<std::optional<TransGlobal>> PostgresStore::LockOneGlobalTrans(UnixMs now,
                                                                       int64_t expire_in_ms,
                                                                       int64_t lease_s,
                                                                       const std::string& owner) {
  std::optional<TransGlobal> leased;
  Status st = Write([&](PgConn& c) -> Status {
    PgParams p;
    p.Time(now + lease_s * 1000, false).Text(owner).Time(now).Time(now + expire_in_ms, false);
    auto r = c.Run(pg::kLease, p);
    if (!r.ok()) return r.status();
    if (r->rows() > 0) leased = ReadGlobal(*r, 0);
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return leased;
}

StatusOr<ResetCronResult> PostgresStore::ResetCronTime(UnixMs now, int64_t after_ms,
                                                       int64_t limit) {
  if (limit <= 0) return Status::InvalidArgument("limit must be positive");
  ResetCronResult result;
  Status st = Write([&](PgConn& c) -> Status {
    auto r = c.Run(pg::kResetCron, PgParams().Time(now + after_ms, false).Int(limit).Time(now));
    if (!r.ok()) return r.status();
    result.succeed_count = r->Int(0, 0);
    result.has_remaining = r->Int(0, 1) > limit;
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return result;
}

StatusOr<int64_t> PostgresStore::PurgeFinished(UnixMs before, int64_t limit) {
  if (limit <= 0) return Status::InvalidArgument("limit must be positive");
  int64_t purged = 0;
  Status st = Write([&](PgConn& c) -> Status {
    auto r = c.Run(pg::kPurgeFinished, PgParams().Time(before, false).Int(limit));
    if (!r.ok()) return r.status();
    purged = r->Int(0, 0);
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return purged;
}

}  // namespace lynx::store
