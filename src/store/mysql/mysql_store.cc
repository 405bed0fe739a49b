#include "store/mysql/mysql_store.h"

#include "store/mysql/mysql_batch_sql.h"
#include "store/sql/rows.h"
#include "store/sql/sql_store_impl.h"
#include "store/store_util.h"

#include <algorithm>
#include <chrono>
#include <limits>
#include <utility>

#include "store/mysql/mysql_conn.h"
#include "store/mysql/mysql_sql.h"

namespace lynx::store {

namespace my {
// The statements the shared core runs (sql/sql_store.h).
const sql::Statements Dialect::kSql = {
    .ping = my::kPing,
    .find_global = my::kFindGlobal,
    .scan_globals = my::kScanGlobals,
    .find_branches = my::kFindBranches,
    .change_status = my::kChangeStatus,
    .touch_cron = my::kTouchCron,
    .reset_by_gid = my::kResetByGid,
    .scan_kv = my::kScanKV,
    .find_kv = my::kFindKV,
    .find_kv_cat = my::kFindKVCat,
    .create_kv = my::kCreateKVRow,
    .update_kv = my::kUpdateKV,
    .delete_kv = my::kDeleteKV,
    .upsert_branch = my::kUpsertBranch,
    .insert_attempt = my::kInsertAttempt,
    .trim_attempts = my::kTrimAttempts,
    .find_attempts = my::kFindAttempts,
};
}  // namespace my

template class sql::SqlStore<my::Dialect>;

using my::MyConn;
using my::MyParams;
using my::MyPool;
using my::MyResult;

namespace {

TransGlobal ReadGlobal(const MyResult& r, int i) { return sql::ReadGlobal(r, i); }
MyParams GlobalParams(const TransGlobal& g) { return sql::GlobalParams<MyParams>(g); }
MyParams BranchParams(const std::string& gid, const TransBranch& b) {
  return sql::BranchParams<MyParams>(gid, b);
}

constexpr unsigned int kErDupKeyName = 1061;
// Rows per IN list of the purge and reset statements (a batch larger than this is split).
constexpr size_t kInListChunk = 500;

// MySQL's limit on identifiers; any other character is fine once quoted.
bool ValidDbName(const std::string& s) {
  return !s.empty() && s.size() <= 64 && s.find('\0') == std::string::npos && s.back() != ' ';
}

// "id IN (" + the ids in decimal + ")": integers formatted here, nothing to escape.
std::string IdList(const char* prefix, const std::vector<int64_t>& ids, size_t from, size_t to) {
  std::string sql = prefix;
  for (size_t i = from; i < to; ++i) {
    if (i > from) sql += ',';
    sql += std::to_string(ids[i]);
  }
  return sql + ")";
}

// EXPLAIN of `sql` with `params`, one line per plan row: "name=value | name=value ...".
Status Explain(MyConn& c, const std::string& sql, const MyParams& params, std::string* plan) {
  auto r = c.RunOnce("EXPLAIN " + sql, params);
  if (!r.ok()) return r.status();
  plan->clear();
  for (int i = 0; i < r->rows(); ++i) {
    for (int col = 0; col < r->columns(); ++col) {
      *plan += (col > 0 ? " | " : "") + r->Name(col) + "=" + r->Text(i, col);
    }
    *plan += "\n";
  }
  return Status::Ok();
}

}  // namespace

StatusOr<std::unique_ptr<MysqlStore>> MysqlStore::Open(const MysqlOptions& o) {
  if (!ValidDbName(o.db)) {
    return Status::InvalidArgument("config key Store.Db: '" + o.db +
                                   "' is not a valid MySQL database name");
  }
  std::unique_ptr<MysqlStore> store(new MysqlStore());
  store->options_ = o;
  my::MyConnConfig config;
  config.host = o.host;
  config.port = static_cast<unsigned int>(o.port != 0 ? o.port : 3306);
  config.user = o.user;
  config.password = o.password;
  config.connect_timeout_s = static_cast<unsigned int>(std::max(1, o.connect_timeout_s));
  {
    // Without a default database: `db` may not exist yet.
    auto boot = MyConn::Connect(config);
    if (!boot.ok()) return boot.status();
    auto found = (*boot)->Run(my::kTablesExist, MyParams().Text(o.db));
    if (!found.ok()) return found.status();
    const bool exists = found->Int(0, 0) > 0;
    // Lock modes 0 and 1 give a multi-row INSERT consecutive ids (2, MySQL 8's default, may
    // interleave them with other inserts).
    auto mode = (*boot)->Run(my::kAutoincLockMode, MyParams());
    if (!mode.ok()) return mode.status();
    store->consecutive_ids_ = mode->rows() > 0 && mode->Int(0, 0) <= 1;
    if (!exists && o.create_schema) {
      if (Status st = store->PopulateOn(**boot); !st.ok()) return st;
    } else if (exists) {
      if (Status st = store->EnsurePurgeIndex(**boot); !st.ok()) return st;
    }
  }
  config.db = o.db;
  store->pool_ = std::make_unique<MyPool>(
      config, static_cast<size_t>(std::clamp<int64_t>(o.max_conns, 1, o.kMaxConnections)),
      std::chrono::seconds(std::max<int64_t>(0, o.conn_max_life_s)));
  // Opens the first pooled connection: a missing database (create_schema off) fails here.
  if (Status st = store->Ping(); !st.ok()) return st;
  return store;
}

MysqlStore::~MysqlStore() = default;

std::string MysqlStore::WithDb(const char* sql) const {
  std::string out = sql;
  const std::string quoted = MyConn::QuoteIdentifier(options_.db);
  for (size_t at; (at = out.find("{db}")) != std::string::npos;) out.replace(at, 4, quoted);
  return out;
}

Status MysqlStore::EnsurePurgeIndex(MyConn& conn) {
  auto found = conn.Run(my::kPurgeIndexExists, MyParams().Text(options_.db));
  if (!found.ok()) return found.status();
  if (found->Int(0, 0) > 0) return Status::Ok();
  Status st = conn.Exec(WithDb(my::kCreatePurgeIndex));
  // Another instance added it meanwhile.
  if (!st.ok() && conn.LastErrno() == kErDupKeyName) return Status::Ok();
  return st;
}

Status MysqlStore::PopulateOn(MyConn& conn) {
  auto locked = conn.Run(my::kSchemaLock, MyParams().Text(my::kSchemaLockName));
  if (!locked.ok()) return locked.status();
  if (locked->Int(0, 0) != 1) {
    return Status::Unavailable("mysql store: timed out waiting for lock '" +
                               std::string(my::kSchemaLockName) + "' held by another instance");
  }
  Status st = [&]() -> Status {
    auto db = conn.Run(my::kDatabaseExists, MyParams().Text(options_.db));
    if (!db.ok()) return db.status();
    if (db->Int(0, 0) == 0) {
      if (Status created = conn.Exec(WithDb(my::kCreateDatabase)); !created.ok()) return created;
    }
    for (const char* ddl : my::kSchemaTables) {
      if (Status created = conn.Exec(WithDb(ddl)); !created.ok()) return created;
    }
    return EnsurePurgeIndex(conn);  // tables DTM created before
  }();
  (void)conn.Run(my::kSchemaUnlock, MyParams().Text(my::kSchemaLockName));
  return st;
}

Status MysqlStore::PopulateSchema() {
  // A connection of its own without a default database: the database may be missing.
  my::MyConnConfig config;
  config.host = options_.host;
  config.port = static_cast<unsigned int>(options_.port != 0 ? options_.port : 3306);
  config.user = options_.user;
  config.password = options_.password;
  config.connect_timeout_s = static_cast<unsigned int>(std::max(1, options_.connect_timeout_s));
  auto conn = MyConn::Connect(config);
  if (!conn.ok()) return conn.status();
  return PopulateOn(**conn);
}

Status MysqlStore::DropDatabase() {
  return Write([&](MyConn& c) { return c.Exec(WithDb(my::kDropDatabase)); });
}

StatusOr<std::string> MysqlStore::CronQueryPlan() {
  const UnixMs due = 1'700'000'000'000;
  std::string plan;
  Status st = Read([&](MyConn& c) {
    return Explain(c, my::kLeaseCandidates,
                   MyParams().Time(due, false).Time(due, false).Time(due, false), &plan);
  });
  if (!st.ok()) return st;
  return plan;
}

StatusOr<std::string> MysqlStore::PurgeQueryPlan() {
  std::string plan;
  Status st = Read([&](MyConn& c) {
    return Explain(c, my::kPurgeCandidates,
                   MyParams().Text(kStatusSucceed).Time(1'700'000'000'000, false).Int(500), &plan);
  });
  if (!st.ok()) return st;
  return plan;
}

Status MysqlStore::MaySaveNewTrans(TransGlobal& global, std::vector<TransBranch>& branches) {
  // One multi-row INSERT for the branches when their ids can be derived from the first one.
  const bool batched =
      consecutive_ids_ && !branches.empty() && branches.size() <= my::kMaxBatchRows;
  std::vector<int64_t> ids;  // the global's id, then the branches'
  Status st = Write([&](MyConn& c) {
    return my::InTransaction(c, [&]() -> Status {
      ids.clear();
      auto g = c.Run(my::kInsertGlobal, GlobalParams(global));
      if (g.status().IsUniqueConflict()) return Status::UniqueConflict("gid exists: " + global.gid);
      if (!g.ok()) return g.status();
      ids.push_back(g->InsertId());
      if (batched) {
        MyParams p;
        for (const auto& b : branches) sql::AppendBranchParams(p, global.gid, b);
        // A duplicate (branch_id, op) fails with kUniqueConflict; the rollback undoes the global.
        auto r = c.Run(my::InsertBranchesSql(branches.size()), p);
        if (!r.ok()) return r.status();
        for (size_t i = 0; i < branches.size(); ++i) {
          ids.push_back(r->InsertId() + static_cast<int64_t>(i));
        }
        return Status::Ok();
      }
      for (const auto& b : branches) {
        auto r = c.Run(my::kInsertBranch, BranchParams(global.gid, b));
        if (!r.ok()) return r.status();
        ids.push_back(r->InsertId());
      }
      return Status::Ok();
    });
  });
  if (!st.ok()) return st;
  global.id = ids[0];
  for (size_t i = 0; i < branches.size(); ++i) branches[i].id = ids[i + 1];
  return Status::Ok();
}

Status MysqlStore::LockGlobalSaveBranches(const std::string& gid,
                                          const std::string& expected_status,
                                          const std::vector<TransBranch>& rows, bool append) {
  // Kept as DTM's transaction (START, SELECT ... FOR UPDATE, INSERT, COMMIT): a single
  // INSERT ... SELECT ... JOIN trans_global ... FOR UPDATE was measured at less than half the
  // throughput on MariaDB 10.11 (its locking read of the join serialised more than the row).
  return Write([&](MyConn& c) {
    return my::InTransaction(c, [&]() -> Status {
      auto locked = c.Run(my::kLockGlobal, MyParams().Text(gid).Text(expected_status));
      if (!locked.ok()) return locked.status();
      if (locked->rows() == 0) return NoTrans(gid, expected_status);
      // One statement per row, so a key repeated within `rows` is simply upserted twice.
      const char* sql = append ? my::kInsertBranch : my::kUpsertBranch;
      for (const auto& row : rows) {
        if (auto r = c.Run(sql, BranchParams(gid, row)); !r.ok()) return r.status();
      }
      return Status::Ok();
    });
  });
}

StatusOr<std::optional<TransGlobal>> MysqlStore::LockOneGlobalTrans(UnixMs now,
                                                                    int64_t expire_in_ms,
                                                                    int64_t lease_s,
                                                                    const std::string& owner) {
  std::optional<TransGlobal> leased;
  Status st = Write([&](MyConn& c) {
    return my::InTransaction(c, [&]() -> Status {
      const UnixMs due = now + expire_in_ms;
      auto r = c.Run(my::kLeaseCandidates,
                     MyParams().Time(due, false).Time(due, false).Time(due, false));
      if (!r.ok()) return r.status();
      if (r->rows() == 0) return Status::Ok();
      // The earliest of the per-status candidates, ties by id, as in the other stores.
      int best = 0;
      for (int i = 1; i < r->rows(); ++i) {
        if (std::pair(r->Time(i, 13), r->Int(i, 0)) <
            std::pair(r->Time(best, 13), r->Int(best, 0))) {
          best = i;
        }
      }
      TransGlobal g = ReadGlobal(*r, best);
      g.next_cron_time = now + lease_s * 1000;
      g.owner = owner;
      g.update_time = now;
      MyParams p;
      p.Time(g.next_cron_time, false).Text(owner).Time(now).Int(g.id);
      if (auto u = c.Run(my::kLeaseUpdate, p); !u.ok()) return u.status();
      leased = std::move(g);  // the row as the update left it
      return Status::Ok();
    });
  });
  if (!st.ok()) return st;
  return leased;
}

StatusOr<ResetCronResult> MysqlStore::ResetCronTime(UnixMs now, int64_t after_ms, int64_t limit) {
  if (limit <= 0) return Status::InvalidArgument("limit must be positive");
  ResetCronResult result;
  Status st = Write([&](MyConn& c) {
    return my::InTransaction(c, [&]() -> Status {
      auto r = c.Run(my::kResetCandidates, MyParams().Time(now + after_ms, false).Int(limit + 1));
      if (!r.ok()) return r.status();
      std::vector<int64_t> ids;
      for (int i = 0; i < r->rows() && static_cast<int64_t>(ids.size()) < limit; ++i) {
        ids.push_back(r->Int(i, 0));
      }
      result.has_remaining = r->rows() > limit;
      result.succeed_count = 0;
      for (size_t from = 0; from < ids.size(); from += kInListChunk) {
        const size_t to = std::min(ids.size(), from + kInListChunk);
        auto u = c.RunOnce(IdList(my::kResetByIdsPrefix, ids, from, to),
                           MyParams().Time(now, false).Time(now));
        if (!u.ok()) return u.status();
        result.succeed_count += u->Affected();
      }
      return Status::Ok();
    });
  });
  if (!st.ok()) return st;
  return result;
}

StatusOr<int64_t> MysqlStore::PurgeFinished(UnixMs before, int64_t limit) {
  if (limit <= 0) return Status::InvalidArgument("limit must be positive");
  int64_t purged = 0;
  Status st = Write([&](MyConn& c) {
    return my::InTransaction(c, [&]() -> Status {
      // Locked, not yet deleted: the rows of this batch, which concurrent purgers skip.
      std::vector<int64_t> ids;
      std::vector<std::string> gids;
      for (const char* status : {kStatusSucceed, kStatusFailed}) {
        const int64_t room = limit - static_cast<int64_t>(ids.size());
        if (room <= 0) break;
        auto r = c.Run(my::kPurgeCandidates, MyParams().Text(status).Time(before, false).Int(room));
        if (!r.ok()) return r.status();
        for (int i = 0; i < r->rows(); ++i) {
          ids.push_back(r->Int(i, 0));
          gids.push_back(r->Text(i, 1));
        }
      }
      purged = 0;
      for (size_t from = 0; from < ids.size(); from += kInListChunk) {
        const size_t to = std::min(ids.size(), from + kInListChunk);
        std::string in_list;  // "?,?,...)" of the batch's gids
        MyParams p;
        for (size_t i = from; i < to; ++i) {
          in_list += i > from ? ",?" : "?";
          p.Text(gids[i]);
        }
        in_list += ")";
        if (auto b = c.RunOnce(my::kPurgeBranchesPrefix + in_list, p); !b.ok()) return b.status();
        if (auto a = c.RunOnce(my::kPurgeAttemptsPrefix + in_list, p); !a.ok()) return a.status();
        auto g = c.RunOnce(IdList(my::kPurgeGlobalsPrefix, ids, from, to), MyParams());
        if (!g.ok()) return g.status();
        purged += g->Affected();
      }
      return Status::Ok();
    });
  });
  if (!st.ok()) return st;
  return purged;
}

}  // namespace lynx::store
