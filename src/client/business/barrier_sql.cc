// The SQL side of BranchBarrier (dtm-protocol.md §8.1-8.4), one algorithm for every driver; only
// the insert-ignore statement and the table DDL differ per dialect.
#include <lynx/dtm/barrier.h>
#include <lynx/dtm/sql.h>

#include <mutex>

namespace lynx::dtm {
namespace {

std::mutex table_mu;
std::string table_override;  // guarded by table_mu

// The op whose row a compensation inserts-ignore first (§8.3 step 2); empty for none.
std::string OriginOp(const std::string& op) {
  if (op == "cancel") return "try";
  if (op == "compensate" || op == "rollback") return "action";
  return "";
}

bool IsCompensation(const std::string& op) {
  return op == "cancel" || op == "compensate" || op == "rollback";
}

// "schema.table" -> "schema" (empty without a dot).
std::string SchemaOf(const std::string& table) {
  auto dot = table.find('.');
  return dot == std::string::npos ? std::string() : table.substr(0, dot);
}

std::string ColumnsDdl(const std::string& id_column, const std::string& time_type,
                       const std::string& time_default) {
  return id_column +
         ",\n"
         "  trans_type varchar(45) DEFAULT '',\n"
         "  gid varchar(128) DEFAULT '',\n"
         "  branch_id varchar(128) DEFAULT '',\n"
         "  op varchar(45) DEFAULT '',\n"
         "  barrier_id varchar(45) DEFAULT '',\n"
         "  reason varchar(45) DEFAULT '',\n"
         "  create_time " +
         time_type + " DEFAULT " + time_default + ",\n  update_time " + time_type + " DEFAULT " +
         time_default + ",\n  CONSTRAINT uniq_barrier UNIQUE (gid, branch_id, op, barrier_id)";
}

}  // namespace

bool IsDuplicated(const Status& status) {
  return status.code() == StatusCode::kUniqueConflict && status.message() == kResultDuplicated;
}

std::string BarrierTableName(SqlDriver driver) {
  {
    std::lock_guard lock(table_mu);
    if (!table_override.empty()) return table_override;
  }
  return driver == SqlDriver::kSqlite ? "barrier" : "dtm_barrier.barrier";
}

void SetBarrierTableName(const std::string& name) {
  std::lock_guard lock(table_mu);
  table_override = name;
}

Status CreateBarrierTable(SqlDb& db) {
  const std::string table = BarrierTableName(db.driver());
  const std::string schema = SchemaOf(table);
  // Index names are unqualified; PostgreSQL puts them in the table's schema.
  std::string plain = schema.empty() ? table : table.substr(schema.size() + 1);
  switch (db.driver()) {
    case SqlDriver::kSqlite:
      return db.Exec(
          "CREATE TABLE IF NOT EXISTS " + table + " (\n" +
          ColumnsDdl("  id INTEGER PRIMARY KEY AUTOINCREMENT", "DATETIME", "CURRENT_TIMESTAMP") +
          "\n);\nCREATE INDEX IF NOT EXISTS " + plain + "_create_time ON " + table +
          " (create_time);\nCREATE INDEX IF NOT EXISTS " + plain + "_update_time ON " + table +
          " (update_time);");
    case SqlDriver::kPostgres: {
      std::string seq = (schema.empty() ? "" : schema + ".") + plain + "_seq";
      return db.Exec((schema.empty() ? "" : "CREATE SCHEMA IF NOT EXISTS " + schema + ";\n") +
                     "CREATE SEQUENCE IF NOT EXISTS " + seq + ";\nCREATE TABLE IF NOT EXISTS " +
                     table + " (\n" +
                     ColumnsDdl("  id bigint NOT NULL DEFAULT nextval('" + seq + "') PRIMARY KEY",
                                "timestamp(0) with time zone", "now()") +
                     "\n);\nCREATE INDEX IF NOT EXISTS " + plain + "_create_time ON " + table +
                     " (create_time);\nCREATE INDEX IF NOT EXISTS " + plain + "_update_time ON " +
                     table + " (update_time);");
    }
    case SqlDriver::kMysql:
      return db.Exec((schema.empty() ? "" : "CREATE DATABASE IF NOT EXISTS " + schema + ";\n") +
                     "CREATE TABLE IF NOT EXISTS " + table + " (\n" +
                     ColumnsDdl("  id bigint(22) PRIMARY KEY AUTO_INCREMENT", "datetime", "now()") +
                     ",\n  KEY (create_time),\n  KEY (update_time)\n) ENGINE=InnoDB DEFAULT "
                     "CHARSET=utf8mb4;");
  }
  return Status::InvalidArgument("CreateBarrierTable: unknown driver");
}

StatusOr<int64_t> InsertBarrier(SqlDb& db, const std::string& trans_type, const std::string& gid,
                                const std::string& branch_id, const std::string& op,
                                const std::string& barrier_id, const std::string& reason) {
  if (op.empty()) return int64_t{0};
  const std::string table = BarrierTableName(db.driver());
  const std::string columns = "(trans_type, gid, branch_id, op, barrier_id, reason) ";
  const std::string values = "VALUES(?, ?, ?, ?, ?, ?)";
  std::string sql;
  switch (db.driver()) {
    case SqlDriver::kSqlite:
      sql = "INSERT OR IGNORE INTO " + table + columns + values;
      break;
    case SqlDriver::kPostgres:
      sql = "INSERT INTO " + table + columns + values +
            " ON CONFLICT ON CONSTRAINT uniq_barrier DO NOTHING";
      break;
    case SqlDriver::kMysql:
      sql = "INSERT IGNORE INTO " + table + columns + values;
      break;
  }
  return db.Execute(sql, {trans_type, gid, branch_id, op, barrier_id, reason});
}

Status BranchBarrier::Call(SqlDb& tx, const std::function<Status(SqlDb&)>& busi) {
  std::string bid = NewBarrierId();
  std::string origin = OriginOp(op_);
  auto origin_affected = InsertBarrier(tx, trans_type_, gid_, branch_id_, origin, bid, op_);
  if (!origin_affected.ok()) return origin_affected.status();
  auto current_affected = InsertBarrier(tx, trans_type_, gid_, branch_id_, op_, bid, op_);
  if (!current_affected.ok()) return current_affected.status();
  if (op_ == "msg" && *current_affected == 0) {
    return Status(StatusCode::kUniqueConflict, kResultDuplicated);
  }
  if ((IsCompensation(op_) && *origin_affected > 0) || *current_affected == 0) {
    return Status::Ok();  // empty compensation, duplicate request or hanging action
  }
  return busi(tx);
}

Status BranchBarrier::CallWithDB(SqlDb& db, const std::function<Status(SqlDb&)>& busi) {
  if (db.InTransaction()) {
    return Status::InvalidArgument("CallWithDB: the connection is already in a transaction");
  }
  if (Status st = db.Begin(); !st.ok()) return st;
  Status result;
  try {
    result = Call(db, busi);
  } catch (...) {
    if (db.InTransaction()) db.Rollback();
    throw;
  }
  if (result.ok()) {
    if (Status st = db.Commit(); !st.ok()) {
      if (db.InTransaction()) db.Rollback();
      return st;
    }
    return result;
  }
  // busi may have ended the transaction itself (SQLite rolls back on some errors).
  if (db.InTransaction()) db.Rollback();
  return result;
}

Status BranchBarrier::QueryPrepared(SqlDb& db) const {
  auto inserted = InsertBarrier(db, trans_type_, gid_, "00", "msg", "01", "rollback");
  if (!inserted.ok()) return inserted.status();
  auto rows = db.Query("SELECT reason FROM " + BarrierTableName(db.driver()) +
                           " WHERE gid=? AND branch_id=? AND op=? AND barrier_id=?",
                       {gid_, "00", "msg", "01"});
  if (!rows.ok()) return rows.status();
  if (rows->empty()) return Status::NotFound("QueryPrepared: no barrier row for " + gid_);
  if ((*rows)[0][0] == "rollback") return Status::Failure("FAILURE");
  return Status::Ok();
}

}  // namespace lynx::dtm
