// MyConn: one MariaDB Connector/C connection with cached server-side prepared statements,
// MyParams / MyResult around the bound values, and MyPool, a bounded, lazily grown set of
// connections. Internal to the MySQL store (the only files that include mysql.h). A connection is
// used by one thread at a time; the pool hands each connection to one borrower.
//
// Prepared statements bind every value in binary form (strings and blobs as bytes, times as
// MYSQL_TIME), so nothing is escaped or interpolated and bin_data may hold any byte.
#pragma once

#include <mysql.h>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/clock.h"
#include "common/status.h"

namespace lynx::store::my {

// Unix ms <-> the process-local wall-clock time stored in datetime columns (see mysql_sql.h).
MYSQL_TIME LocalDatetime(UnixMs ms);
UnixMs FromLocalDatetime(const MYSQL_TIME& t);

class MyParams {
 public:
  MyParams& Text(std::string v) { return Push(Kind::kText, std::move(v), 0); }
  MyParams& Bytes(std::string v) { return Push(Kind::kBytes, std::move(v), 0); }
  MyParams& Int(int64_t v) { return Push(Kind::kInt, {}, v); }
  MyParams& Bool(bool v) { return Int(v ? 1 : 0); }
  // 0 is NULL (the schema's "no time") unless `zero_is_null` is false (next_cron_time, where 0
  // means "due at once" as in the other stores).
  MyParams& Time(UnixMs v, bool zero_is_null = true) {
    return v == 0 && zero_is_null ? Null() : Push(Kind::kTime, {}, v);
  }
  MyParams& Null() { return Push(Kind::kNull, {}, 0); }

  size_t size() const { return values_.size(); }

 private:
  friend class MyConn;
  enum class Kind { kText, kBytes, kInt, kTime, kNull };
  struct Value {
    Kind kind;
    std::string s;
    int64_t i;
  };
  MyParams& Push(Kind kind, std::string s, int64_t i) {
    values_.push_back(Value{kind, std::move(s), i});
    return *this;
  }

  std::vector<Value> values_;
};

// The rows of a statement (copied out of the connection), or the affected-row count and insert
// id of one without rows.
class MyResult {
 public:
  int rows() const { return static_cast<int>(rows_.size()); }
  int columns() const { return static_cast<int>(names_.size()); }
  const std::string& Name(int col) const { return names_[static_cast<size_t>(col)]; }
  // Rows matched, not only changed (the connection sets CLIENT_FOUND_ROWS).
  int64_t Affected() const { return affected_; }
  int64_t InsertId() const { return insert_id_; }
  bool IsNull(int row, int col) const { return Cell(row, col).null; }
  // Text and blob columns as bytes, integers in decimal; NULL reads as "".
  std::string Text(int row, int col) const;
  // Raw bytes (BLOB columns come back unchanged); NULL reads as "".
  std::string Bytes(int row, int col) const { return Text(row, col); }
  int64_t Int(int row, int col) const { return Cell(row, col).i; }  // NULL reads as 0
  UnixMs Time(int row, int col) const { return Cell(row, col).i; }  // NULL reads as 0

 private:
  friend class MyConn;
  enum class Kind { kBytes, kInt, kTime };
  struct Value {
    bool null = true;
    Kind kind = Kind::kBytes;
    int64_t i = 0;  // integers, and times as Unix ms
    std::string s;
  };
  const Value& Cell(int row, int col) const {
    return rows_[static_cast<size_t>(row)][static_cast<size_t>(col)];
  }

  std::vector<std::string> names_;
  std::vector<std::vector<Value>> rows_;
  int64_t affected_ = 0;
  int64_t insert_id_ = 0;
};

struct MyConnConfig {
  std::string host;
  unsigned int port = 3306;
  std::string user;
  std::string password;
  std::string db;  // the default database; "" for none (schema creation)
  unsigned int connect_timeout_s = 5;
};

class MyConn {
 public:
  // Connects over TCP (also for "localhost", as DTM's driver does) and sets up the session; a
  // failure is kUnavailable with a message naming host:port.
  static StatusOr<std::unique_ptr<MyConn>> Connect(const MyConnConfig& config);
  ~MyConn();
  MyConn(const MyConn&) = delete;
  MyConn& operator=(const MyConn&) = delete;

  // Runs one statement without parameters (transaction control, DDL) over the text protocol.
  Status Exec(const std::string& sql);
  // Runs `sql` as a prepared statement, prepared on first use and cached by the pointer, so
  // `sql` must be a string constant. It may number its placeholders "$1 ... $n" like
  // PostgreSQL (a number may repeat; see store/sql/placeholders.h) or use plain '?'.
  StatusOr<MyResult> Run(const char* sql, const MyParams& params);
  // Prepares, runs and closes a statement built for this call (IN lists of varying length).
  StatusOr<MyResult> RunOnce(const std::string& sql, const MyParams& params);

  // True once a call saw the connection fail, or when a transaction was left open: either way
  // the connection must not go back to the pool.
  bool Broken() const;
  // One round trip (mysql_ping); false when the server closed the connection meanwhile.
  bool Alive();
  // The server or client error number of the last failed call (ER_* / CR_*), 0 before any.
  unsigned int LastErrno() const { return last_errno_; }
  // When the connection was opened (pool lifetime limit).
  std::chrono::steady_clock::time_point opened() const { return opened_; }

  // Backtick-quotes an identifier (a database name) for DDL.
  static std::string QuoteIdentifier(const std::string& name);

 private:
  explicit MyConn(MYSQL* conn) : conn_(conn) {}
  // `order`: per '?', the index of its value in `params`; empty binds them in order.
  StatusOr<MyResult> Execute(MYSQL_STMT* stmt, const MyParams& params, const std::string& sql,
                             const std::vector<int>& order = {});
  // The error of the last call mapped to a Status (see mysql_conn.cc); marks the connection
  // broken when the error says it is gone.
  Status Fail(unsigned int code, const char* message, const std::string& sql);
  Status ConnError(const std::string& sql) {
    return Fail(mysql_errno(conn_), mysql_error(conn_), sql);
  }
  Status StmtError(MYSQL_STMT* stmt, const std::string& sql) {
    return Fail(mysql_stmt_errno(stmt), mysql_stmt_error(stmt), sql);
  }

  MYSQL* conn_;
  struct Prepared {
    MYSQL_STMT* stmt;
    std::vector<int> order;  // see Execute
    int params;              // values the statement takes
  };
  std::unordered_map<const char*, Prepared> prepared_;
  bool broken_ = false;
  unsigned int last_errno_ = 0;
  std::chrono::steady_clock::time_point opened_ = std::chrono::steady_clock::now();
};

// Runs fn() between START TRANSACTION and COMMIT; ROLLBACK when fn or COMMIT fails.
template <class F>
Status InTransaction(MyConn& conn, F&& fn) {
  if (Status st = conn.Exec("START TRANSACTION"); !st.ok()) return st;
  Status st = fn();
  if (st.ok()) st = conn.Exec("COMMIT");
  if (!st.ok()) (void)conn.Exec("ROLLBACK");  // a broken connection is discarded anyway
  return st;
}

// Up to `max_conns` connections, opened on demand; Acquire blocks while all are borrowed. A
// broken connection is closed when its lease ends, together with the idle ones (a server restart
// breaks them all), so the next Acquire reconnects. A connection idle for longer than kIdleCheck
// is pinged before it is handed out: servers close idle sessions (wait_timeout), and a write
// must not fail merely because the pool was quiet for a night. A connection older than
// `max_life` (DTM's Store.ConnMaxLifeTime; zero = no limit) is closed when it comes back, so
// connections move to a new primary behind a virtual address or proxy after a fail-over.
class MyPool {
 public:
  class Lease {
   public:
    Lease(MyPool* pool, std::unique_ptr<MyConn> conn) : pool_(pool), conn_(std::move(conn)) {}
    Lease(Lease&& other) noexcept = default;
    Lease(const Lease&) = delete;
    ~Lease() {
      if (conn_ != nullptr) pool_->Release(std::move(conn_));
    }
    MyConn* operator->() const { return conn_.get(); }
    MyConn& operator*() const { return *conn_; }

   private:
    MyPool* pool_;
    std::unique_ptr<MyConn> conn_;
  };

  static constexpr std::chrono::seconds kIdleCheck{30};

  MyPool(MyConnConfig config, size_t max_conns,
         std::chrono::seconds max_life = std::chrono::seconds(0));
  // kUnavailable when a new connection was needed and could not be opened.
  StatusOr<Lease> Acquire();

 private:
  void Release(std::unique_ptr<MyConn> conn);

  const MyConnConfig config_;
  const size_t max_conns_;
  const std::chrono::seconds max_life_;
  std::mutex mu_;
  std::condition_variable cv_;
  struct Idle {
    std::unique_ptr<MyConn> conn;
    std::chrono::steady_clock::time_point since;
  };
  std::vector<Idle> idle_;  // guarded by mu_; the most recently used last
  size_t open_ = 0;         // idle + borrowed + connecting, guarded by mu_
};

}  // namespace lynx::store::my
