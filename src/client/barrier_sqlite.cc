#include <lynx/dtm/barrier_sqlite.h>

#include <sqlite3.h>

#include <memory>
#include <utility>

#include "common/sqlite_status.h"

namespace lynx::dtm {
namespace {

// Finalizes a prepared statement when it goes out of scope.
struct StmtCloser {
  void operator()(sqlite3_stmt* stmt) const { sqlite3_finalize(stmt); }
};
using StmtPtr = std::unique_ptr<sqlite3_stmt, StmtCloser>;

}  // namespace

bool IsDuplicated(const Status& status) {
  return status.code() == StatusCode::kUniqueConflict && status.message() == kResultDuplicated;
}

struct SqliteDb::Impl {
  sqlite3* db = nullptr;
  ~Impl() {
    if (db != nullptr) sqlite3_close_v2(db);
  }

  // Prepares `sql` and binds `params`; on success *out holds the statement.
  Status Prepare(const std::string& sql, const std::vector<std::string>& params, StmtPtr* out) {
    sqlite3_stmt* raw = nullptr;
    int rc = sqlite3_prepare_v2(db, sql.c_str(), static_cast<int>(sql.size()), &raw, nullptr);
    StmtPtr stmt(raw);
    if (rc != SQLITE_OK) return SqliteError(db, rc, sql);
    for (size_t i = 0; i < params.size(); ++i) {
      rc = sqlite3_bind_text(stmt.get(), static_cast<int>(i + 1), params[i].data(),
                             static_cast<int>(params[i].size()), SQLITE_TRANSIENT);
      if (rc != SQLITE_OK) return SqliteError(db, rc, sql);
    }
    *out = std::move(stmt);
    return Status::Ok();
  }
};

SqliteDb::SqliteDb(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SqliteDb::SqliteDb(SqliteDb&&) noexcept = default;
SqliteDb& SqliteDb::operator=(SqliteDb&&) noexcept = default;
SqliteDb::~SqliteDb() = default;

StatusOr<SqliteDb> SqliteDb::Open(const std::string& path) {
  auto impl = std::make_unique<Impl>();
  int rc =
      sqlite3_open_v2(path.c_str(), &impl->db,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) return SqliteError(impl->db, rc, "open " + path);
  sqlite3_extended_result_codes(impl->db, 1);
  sqlite3_busy_timeout(impl->db, 5000);
  return SqliteDb(std::move(impl));
}

Status SqliteDb::Exec(const std::string& sql) {
  char* err = nullptr;
  int rc = sqlite3_exec(impl_->db, sql.c_str(), nullptr, nullptr, &err);
  if (rc == SQLITE_OK) return Status::Ok();
  std::string message = err != nullptr ? err : sqlite3_errstr(rc);
  sqlite3_free(err);
  Status st = SqliteError(nullptr, rc, sql);
  return Status(st.code(), sql + ": " + message);
}

StatusOr<int64_t> SqliteDb::Execute(const std::string& sql,
                                    const std::vector<std::string>& params) {
  StmtPtr stmt;
  if (Status st = impl_->Prepare(sql, params, &stmt); !st.ok()) return st;
  int rc;
  while ((rc = sqlite3_step(stmt.get())) == SQLITE_ROW) {
  }
  if (rc != SQLITE_DONE) return SqliteError(impl_->db, rc, sql);
  return static_cast<int64_t>(sqlite3_changes(impl_->db));
}

StatusOr<std::vector<std::vector<std::string>>> SqliteDb::Query(
    const std::string& sql, const std::vector<std::string>& params) {
  StmtPtr stmt;
  if (Status st = impl_->Prepare(sql, params, &stmt); !st.ok()) return st;
  std::vector<std::vector<std::string>> rows;
  int rc;
  while ((rc = sqlite3_step(stmt.get())) == SQLITE_ROW) {
    int n = sqlite3_column_count(stmt.get());
    std::vector<std::string> row;
    row.reserve(static_cast<size_t>(n));
    for (int i = 0; i < n; ++i) {
      const unsigned char* text = sqlite3_column_text(stmt.get(), i);
      int len = sqlite3_column_bytes(stmt.get(), i);
      row.emplace_back(text != nullptr ? std::string(reinterpret_cast<const char*>(text),
                                                     static_cast<size_t>(len))
                                       : std::string());
    }
    rows.push_back(std::move(row));
  }
  if (rc != SQLITE_DONE) return SqliteError(impl_->db, rc, sql);
  return rows;
}

bool SqliteDb::InAutocommit() const { return sqlite3_get_autocommit(impl_->db) != 0; }

Status CreateBarrierTable(SqliteDb& db) {
  return db.Exec(std::string("CREATE TABLE IF NOT EXISTS ") + kBarrierTable +
                 " (\n"
                 "  id INTEGER PRIMARY KEY AUTOINCREMENT,\n"
                 "  trans_type VARCHAR(45) DEFAULT '',\n"
                 "  gid VARCHAR(128) DEFAULT '',\n"
                 "  branch_id VARCHAR(128) DEFAULT '',\n"
                 "  op VARCHAR(45) DEFAULT '',\n"
                 "  barrier_id VARCHAR(45) DEFAULT '',\n"
                 "  reason VARCHAR(45) DEFAULT '',\n"
                 "  create_time DATETIME DEFAULT CURRENT_TIMESTAMP,\n"
                 "  update_time DATETIME DEFAULT CURRENT_TIMESTAMP,\n"
                 "  UNIQUE (gid, branch_id, op, barrier_id)\n"
                 ");\n"
                 "CREATE INDEX IF NOT EXISTS barrier_create_time ON " +
                 kBarrierTable +
                 " (create_time);\n"
                 "CREATE INDEX IF NOT EXISTS barrier_update_time ON " +
                 kBarrierTable + " (update_time);");
}

namespace {

// Go's insertBarrier: INSERT OR IGNORE; returns the rows inserted (0 when the row exists or when
// `op` is empty).
StatusOr<int64_t> InsertBarrier(SqliteDb& db, const std::string& trans_type, const std::string& gid,
                                const std::string& branch_id, const std::string& op,
                                const std::string& barrier_id, const std::string& reason) {
  if (op.empty()) return int64_t{0};
  return db.Execute(std::string("INSERT OR IGNORE INTO ") + kBarrierTable +
                        "(trans_type, gid, branch_id, op, barrier_id, reason) "
                        "VALUES(?1, ?2, ?3, ?4, ?5, ?6)",
                    {trans_type, gid, branch_id, op, barrier_id, reason});
}

// The op whose row a compensation inserts-ignore first (§8.3 step 2); empty for none.
std::string OriginOp(const std::string& op) {
  if (op == "cancel") return "try";
  if (op == "compensate" || op == "rollback") return "action";
  return "";
}

// Runs the barrier steps and busi inside the open transaction; `commit` says whether the caller
// commits (true) or rolls back (false).
Status CallInTransaction(BranchBarrier& bb, SqliteDb& db,
                         const std::function<Status(SqliteDb&)>& busi, bool* commit) {
  *commit = false;
  std::string bid = bb.NewBarrierId();
  const std::string& op = bb.op();
  std::string origin = OriginOp(op);
  auto origin_affected =
      InsertBarrier(db, bb.trans_type(), bb.gid(), bb.branch_id(), origin, bid, op);
  if (!origin_affected.ok()) return origin_affected.status();
  auto current_affected = InsertBarrier(db, bb.trans_type(), bb.gid(), bb.branch_id(), op, bid, op);
  if (!current_affected.ok()) return current_affected.status();
  if (op == "msg" && *current_affected == 0) {
    return Status(StatusCode::kUniqueConflict, kResultDuplicated);
  }
  bool compensation = op == "cancel" || op == "compensate" || op == "rollback";
  if ((compensation && *origin_affected > 0) || *current_affected == 0) {
    *commit = true;  // empty compensation, duplicate request or hanging action
    return Status::Ok();
  }
  Status st = busi(db);
  *commit = st.ok();
  return st;
}

}  // namespace

Status BarrierCall(BranchBarrier& bb, SqliteDb& db, const std::function<Status(SqliteDb&)>& busi) {
  if (!db.InAutocommit()) {
    return Status::InvalidArgument("BarrierCall: the database handle is already in a transaction");
  }
  if (Status st = db.Exec("BEGIN IMMEDIATE"); !st.ok()) return st;
  bool commit = false;
  Status result;
  try {
    result = CallInTransaction(bb, db, busi, &commit);
  } catch (...) {
    if (!db.InAutocommit()) db.Exec("ROLLBACK");
    throw;
  }
  if (commit) {
    if (Status st = db.Exec("COMMIT"); !st.ok()) {
      if (!db.InAutocommit()) db.Exec("ROLLBACK");
      return st;
    }
    return result;
  }
  // busi may have ended the transaction itself (an error can make SQLite roll back on its own).
  if (!db.InAutocommit()) db.Exec("ROLLBACK");
  return result;
}

Status BarrierQueryPrepared(const BranchBarrier& bb, SqliteDb& db) {
  auto inserted = InsertBarrier(db, bb.trans_type(), bb.gid(), "00", "msg", "01", "rollback");
  if (!inserted.ok()) return inserted.status();
  auto rows = db.Query(std::string("SELECT reason FROM ") + kBarrierTable +
                           " WHERE gid=?1 AND branch_id=?2 AND op=?3 AND barrier_id=?4",
                       {bb.gid(), "00", "msg", "01"});
  if (!rows.ok()) return rows.status();
  if (rows->empty()) return Status::NotFound("QueryPrepared: no barrier row for " + bb.gid());
  if ((*rows)[0][0] == "rollback") return Status::Failure("FAILURE");
  return Status::Ok();
}

}  // namespace lynx::dtm
