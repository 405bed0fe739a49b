// SqlDb: one connection to the business database of a branch service — SQLite, PostgreSQL or
// MySQL/MariaDB — with just what the sub-transaction barrier, XA local transactions and simple
// business code need: statements with text parameters, rows as text, transactions.
//   auto db = lynx::dtm::OpenSqlDb({.driver = "postgres", .host = "127.0.0.1", .port = 5432,
//                                   .user = "postgres", .db = "busi"});
//   if (!db.ok()) return db.status();
//   auto changed = (*db)->Execute("UPDATE account SET balance = balance - ? WHERE id = ?",
//                                 {"30", "1"});
// Parameters are written `?` for every driver (PostgreSQL's $n are produced internally) and are
// passed as text; the database converts them to the column types. SqlDbPool hands out pooled
// connections for multi-threaded services. No driver types appear in this header.
// Thread-compatible: one SqlDb is used by one thread at a time; SqlDbPool is thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <lynx/status.h>

namespace lynx::dtm {

enum class SqlDriver { kSqlite, kPostgres, kMysql };

// Where the database is (Go's dtmcli.DBConf). `driver` is "sqlite", "postgres" or "mysql"
// (MariaDB included). For SQLite `db` is the file path and the network fields are unused.
// `port` 0 means the driver's default (5432 / 3306).
struct DBConf {
  // Every field has an initializer so that designated initializers may name only some.
  std::string driver = "";
  std::string host = "127.0.0.1";
  int64_t port = 0;
  std::string user = "";
  std::string password = "";
  std::string db = "";
  std::string schema = "";  // PostgreSQL: set as search_path when non-empty
};

using SqlRow = std::vector<std::string>;
using SqlRows = std::vector<SqlRow>;

class SqlDb {
 public:
  virtual ~SqlDb() = default;
  virtual SqlDriver driver() const = 0;

  // Runs one or more ';'-separated statements without parameters; result rows are discarded.
  virtual Status Exec(const std::string& sql) = 0;
  // Runs one statement with text parameters bound to its `?` placeholders; returns the rows it
  // changed (for INSERT IGNORE / ON CONFLICT DO NOTHING: 0 when the row existed).
  virtual StatusOr<int64_t> Execute(const std::string& sql,
                                    const std::vector<std::string>& params = {}) = 0;
  // Runs one query with text parameters; every row, each column as text (NULL -> "").
  virtual StatusOr<SqlRows> Query(const std::string& sql,
                                  const std::vector<std::string>& params = {}) = 0;
  // True while a transaction is open on this connection.
  virtual bool InTransaction() const = 0;

  // BEGIN (SQLite: BEGIN IMMEDIATE, so that the write lock is taken up front), COMMIT, ROLLBACK.
  virtual Status Begin();
  Status Commit() { return Exec("COMMIT"); }
  Status Rollback() { return Exec("ROLLBACK"); }
};

// Opens a new connection (SQLite: creates the file when missing). Unavailable when the server
// cannot be reached, InvalidArgument for an unknown driver.
StatusOr<std::unique_ptr<SqlDb>> OpenSqlDb(const DBConf& conf);

// A thread-safe pool of connections to one database. A lease returns its connection to the pool
// when it is destroyed, unless a transaction is still open on it (then the connection is closed,
// which rolls the transaction back). Leases may outlive the pool object.
class SqlDbPool {
 public:
  using Lease = std::unique_ptr<SqlDb, std::function<void(SqlDb*)>>;

  explicit SqlDbPool(DBConf conf, size_t max_idle = 16);
  ~SqlDbPool();
  SqlDbPool(const SqlDbPool&) = delete;
  SqlDbPool& operator=(const SqlDbPool&) = delete;

  // An idle connection, or a new one.
  StatusOr<Lease> Acquire();
  const DBConf& conf() const;

 private:
  struct State;
  std::shared_ptr<State> state_;
};

// The process-wide pool for `conf` (created on first use; keyed by every field of conf). Used by
// XA phase 2, which runs on pooled connections as DTM's SDK does.
SqlDbPool& SharedSqlDbPool(const DBConf& conf);

}  // namespace lynx::dtm
