// SqlDb over one sqlite3 connection (the file is created when missing; 5 s busy timeout).
#include <sqlite3.h>

#include <memory>
#include <utility>

#include "client/sql/sql_drivers.h"
#include "common/sqlite_status.h"

namespace lynx::dtm::internal {
namespace {

// Finalizes a prepared statement when it goes out of scope.
struct StmtCloser {
  void operator()(sqlite3_stmt* stmt) const { sqlite3_finalize(stmt); }
};
using StmtPtr = std::unique_ptr<sqlite3_stmt, StmtCloser>;

class SqliteDb final : public SqlDb {
 public:
  explicit SqliteDb(sqlite3* db) : db_(db) {}
  ~SqliteDb() override { sqlite3_close_v2(db_); }

  SqlDriver driver() const override { return SqlDriver::kSqlite; }

  Status Exec(const std::string& sql) override {
    char* err = nullptr;
    int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err);
    if (rc == SQLITE_OK) return Status::Ok();
    std::string message = err != nullptr ? err : sqlite3_errstr(rc);
    sqlite3_free(err);
    Status st = SqliteError(nullptr, rc, sql);
    return Status(st.code(), sql + ": " + message);
  }

  StatusOr<int64_t> Execute(const std::string& sql,
                            const std::vector<std::string>& params) override {
    StmtPtr stmt;
    if (Status st = Prepare(sql, params, &stmt); !st.ok()) return st;
    int rc;
    while ((rc = sqlite3_step(stmt.get())) == SQLITE_ROW) {
    }
    if (rc != SQLITE_DONE) return SqliteError(db_, rc, sql);
    return static_cast<int64_t>(sqlite3_changes(db_));
  }

  StatusOr<SqlRows> Query(const std::string& sql, const std::vector<std::string>& params) override {
    StmtPtr stmt;
    if (Status st = Prepare(sql, params, &stmt); !st.ok()) return st;
    SqlRows rows;
    int rc;
    while ((rc = sqlite3_step(stmt.get())) == SQLITE_ROW) {
      int n = sqlite3_column_count(stmt.get());
      SqlRow row;
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
    if (rc != SQLITE_DONE) return SqliteError(db_, rc, sql);
    return rows;
  }

  bool InTransaction() const override { return sqlite3_get_autocommit(db_) == 0; }

  Status Begin() override { return Exec("BEGIN IMMEDIATE"); }

 private:
  // Prepares `sql` and binds `params`; on success *out holds the statement.
  Status Prepare(const std::string& sql, const std::vector<std::string>& params, StmtPtr* out) {
    sqlite3_stmt* raw = nullptr;
    int rc = sqlite3_prepare_v2(db_, sql.c_str(), static_cast<int>(sql.size()), &raw, nullptr);
    StmtPtr stmt(raw);
    if (rc != SQLITE_OK) return SqliteError(db_, rc, sql);
    const size_t expected = static_cast<size_t>(sqlite3_bind_parameter_count(stmt.get()));
    if (Status st = CheckParamCount(sql, expected, params.size()); !st.ok()) return st;
    for (size_t i = 0; i < params.size(); ++i) {
      rc = sqlite3_bind_text(stmt.get(), static_cast<int>(i + 1), params[i].data(),
                             static_cast<int>(params[i].size()), SQLITE_TRANSIENT);
      if (rc != SQLITE_OK) return SqliteError(db_, rc, sql);
    }
    *out = std::move(stmt);
    return Status::Ok();
  }

  sqlite3* db_;
};

}  // namespace

StatusOr<std::unique_ptr<SqlDb>> OpenSqlite(const DBConf& conf) {
  if (conf.db.empty()) return Status::InvalidArgument("sqlite: DBConf.db (the file path) is empty");
  sqlite3* db = nullptr;
  int rc =
      sqlite3_open_v2(conf.db.c_str(), &db,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    Status st = SqliteError(db, rc, "open " + conf.db);
    sqlite3_close_v2(db);
    return st;
  }
  sqlite3_extended_result_codes(db, 1);
  sqlite3_busy_timeout(db, 5000);
  return std::unique_ptr<SqlDb>(new SqliteDb(db));
}

}  // namespace lynx::dtm::internal
