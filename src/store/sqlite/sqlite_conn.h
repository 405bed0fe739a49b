// SqliteConn: one SQLite connection with a cache of prepared statements, and ConnPool, a fixed
// set of read-only connections. Internal to the SQLite store. A connection is used by one thread
// at a time (SQLite's multi-thread mode); the pool hands each connection to one borrower.
#pragma once

#include <sqlite3.h>

#include "common/sqlite_status.h"

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/clock.h"
#include "common/status.h"

namespace lynx::store::sqlite {

using ::lynx::SqliteError;  // common/sqlite_status.h

// A borrowed, cached statement. It is reset and its bindings cleared when the Stmt goes out of
// scope, so a read never keeps its snapshot open. Text and blobs are bound without copying: the
// bound strings must outlive the Stmt (binding a temporary does not compile).
class Stmt {
 public:
  explicit Stmt(sqlite3_stmt* stmt) : stmt_(stmt) {}
  Stmt(Stmt&& other) noexcept : stmt_(other.stmt_), bind_rc_(other.bind_rc_) {
    other.stmt_ = nullptr;
  }
  Stmt& operator=(Stmt&&) = delete;
  Stmt(const Stmt&) = delete;
  ~Stmt();

  void Bind(int index, int64_t value);
  void Bind(int index, const std::string& value);
  void Bind(int index, std::string&&) = delete;
  void BindBlob(int index, const std::string& value);
  // 0 is stored as NULL (the schema's "no time").
  void BindTime(int index, UnixMs value);

  // kOk with true when a row is available, false when the statement is done.
  StatusOr<bool> Step();
  // Steps to completion, discarding rows.
  Status Run();

  int64_t Int(int column) const;
  std::string Text(int column) const;
  std::string Blob(int column) const;
  UnixMs Time(int column) const { return Int(column); }  // NULL reads as 0

 private:
  sqlite3_stmt* stmt_;
  int bind_rc_ = SQLITE_OK;  // the first bind failure, reported by Step
};

class SqliteConn {
 public:
  // Opens `path` read-write (creating it) or read-only, in multi-thread mode, with the busy
  // timeout set.
  static StatusOr<std::unique_ptr<SqliteConn>> Open(const std::string& path, bool read_only,
                                                    int busy_timeout_ms);
  ~SqliteConn();
  SqliteConn(const SqliteConn&) = delete;
  SqliteConn& operator=(const SqliteConn&) = delete;

  // Runs one or more statements without caching (pragmas, DDL).
  Status Exec(const char* sql);
  // A cached statement for `sql`, prepared on first use. The cache is keyed by the pointer, so
  // `sql` must be a string constant.
  StatusOr<Stmt> Prepare(const char* sql);
  // Column `column` of every row as text, through an uncached statement (pragmas, EXPLAIN).
  StatusOr<std::vector<std::string>> QueryColumn(const std::string& sql, int column);

  sqlite3* db() const { return db_; }
  int64_t Changes() const { return sqlite3_changes64(db_); }
  int64_t LastInsertRowId() const { return sqlite3_last_insert_rowid(db_); }
  // False after SQLite rolled a transaction back on its own (I/O error, disk full).
  bool InTransaction() const { return sqlite3_get_autocommit(db_) == 0; }

 private:
  explicit SqliteConn(sqlite3* db) : db_(db) {}

  sqlite3* db_;
  std::unordered_map<const char*, sqlite3_stmt*> stmts_;
};

// A fixed set of connections; Acquire blocks while all are borrowed.
class ConnPool {
 public:
  class Lease {
   public:
    Lease(ConnPool* pool, SqliteConn* conn) : pool_(pool), conn_(conn) {}
    Lease(Lease&& other) noexcept : pool_(other.pool_), conn_(other.conn_) {
      other.conn_ = nullptr;
    }
    Lease(const Lease&) = delete;
    ~Lease() {
      if (conn_ != nullptr) pool_->Release(conn_);
    }
    SqliteConn* operator->() const { return conn_; }
    SqliteConn& operator*() const { return *conn_; }

   private:
    ConnPool* pool_;
    SqliteConn* conn_;
  };

  explicit ConnPool(std::vector<std::unique_ptr<SqliteConn>> conns);
  Lease Acquire();

 private:
  void Release(SqliteConn* conn);

  std::vector<std::unique_ptr<SqliteConn>> conns_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<SqliteConn*> free_;
};

}  // namespace lynx::store::sqlite
