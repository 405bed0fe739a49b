// PgConn: one libpq connection with cached prepared statements, PgParams / PgResult around the
// wire values, and PgPool, a bounded, lazily grown set of connections. Internal to the PostgreSQL
// store (the only files that include libpq). A connection is used by one thread at a time; the
// pool hands each connection to one borrower.
#pragma once

#include <libpq-fe.h>

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

namespace lynx::store::pg {

// Statement parameters, all sent as text except bytea (binary, so no escaping is needed). Every
// statement casts its parameters ($1::bigint), so PostgreSQL never has to guess a type.
class PgParams {
 public:
  PgParams& Text(std::string v);
  PgParams& Int(int64_t v) { return Text(std::to_string(v)); }
  PgParams& Bool(bool v) { return Text(v ? "true" : "false"); }
  PgParams& Bytes(std::string v);
  // A timestamptz literal in UTC; 0 is NULL (the schema's "no time") unless `zero_is_null` is
  // false (next_cron_time, where 0 means "due at once" as in the other stores).
  PgParams& Time(UnixMs v, bool zero_is_null = true);
  PgParams& Null();

  int size() const { return static_cast<int>(values_.size()); }
  const char* const* values() const { return ptrs_.data(); }
  const int* lengths() const { return lengths_.data(); }
  const int* formats() const { return formats_.data(); }

 private:
  PgParams& Push(std::string v, bool null, int format);

  std::vector<std::string> values_;
  std::vector<const char*> ptrs_;  // rebuilt on every push: values_ may reallocate
  std::vector<int> lengths_;
  std::vector<int> formats_;
  std::vector<bool> nulls_;
};

// A successful result, rows in text format. Times are selected as Unix ms (see pg_sql.h).
class PgResult {
 public:
  explicit PgResult(PGresult* r) : r_(r, PQclear) {}
  int rows() const { return PQntuples(r_.get()); }
  int64_t Affected() const;
  bool IsNull(int row, int col) const { return PQgetisnull(r_.get(), row, col) != 0; }
  std::string Text(int row, int col) const;  // NULL reads as ""
  int64_t Int(int row, int col) const;       // NULL reads as 0
  UnixMs Time(int row, int col) const { return Int(row, col); }
  std::string Bytes(int row, int col) const;  // bytea (hex text) decoded; NULL reads as ""

 private:
  std::unique_ptr<PGresult, void (*)(PGresult*)> r_;
};

class PgConn {
 public:
  // Connects with a libpq conninfo string; kUnavailable when the server cannot be reached.
  static StatusOr<std::unique_ptr<PgConn>> Connect(const std::string& conninfo);
  ~PgConn();
  PgConn(const PgConn&) = delete;
  PgConn& operator=(const PgConn&) = delete;

  // Runs one or more statements without parameters (BEGIN, DDL).
  Status Exec(const std::string& sql);
  // Runs `sql` as a prepared statement, prepared on first use and cached by the pointer, so
  // `sql` must be a string constant.
  StatusOr<PgResult> Run(const char* sql, const PgParams& params);

  // True once libpq saw the connection fail, or when a transaction was left open: either way
  // the connection must not go back to the pool.
  bool Broken() const;

  // When the connection was opened (pool lifetime limit).
  std::chrono::steady_clock::time_point opened() const { return opened_; }

  // Quotes an identifier (schema name) for DDL.
  std::string QuoteIdentifier(const std::string& name) const;

 private:
  explicit PgConn(PGconn* conn) : conn_(conn) {}
  // kOk for a successful result, else the error mapped to a Status (see pg_conn.cc).
  Status Check(PGresult* r, const std::string& what) const;

  PGconn* conn_;
  std::chrono::steady_clock::time_point opened_ = std::chrono::steady_clock::now();
  std::unordered_map<const char*, std::string> prepared_;  // sql -> statement name
};

// kOk for a successful result, else the error mapped to a Status (see pg_conn.cc).
Status CheckResult(PGconn* conn, PGresult* r, const std::string& what);

// Runs fn() between BEGIN and COMMIT; ROLLBACK when fn or COMMIT fails.
template <class F>
Status InTransaction(PgConn& conn, F&& fn) {
  if (Status st = conn.Exec("BEGIN"); !st.ok()) return st;
  Status st = fn();
  if (st.ok()) st = conn.Exec("COMMIT");
  if (!st.ok()) (void)conn.Exec("ROLLBACK");  // a broken connection is discarded anyway
  return st;
}

// Up to `max_conns` connections, opened on demand; Acquire blocks while all are borrowed. A
// broken connection is closed when its lease ends, together with the idle ones (a server restart
// breaks them all), so the next Acquire reconnects. A connection older than `max_life` (DTM's
// Store.ConnMaxLifeTime; zero = no limit) is closed when it comes back, so connections move to a
// new primary behind a virtual address or pooler after a fail-over.
class PgPool {
 public:
  class Lease {
   public:
    Lease(PgPool* pool, std::unique_ptr<PgConn> conn) : pool_(pool), conn_(std::move(conn)) {}
    Lease(Lease&& other) noexcept = default;
    Lease(const Lease&) = delete;
    ~Lease() {
      if (conn_ != nullptr) pool_->Release(std::move(conn_));
    }
    PgConn* operator->() const { return conn_.get(); }
    PgConn& operator*() const { return *conn_; }

   private:
    PgPool* pool_;
    std::unique_ptr<PgConn> conn_;
  };

  PgPool(std::string conninfo, size_t max_conns,
         std::chrono::seconds max_life = std::chrono::seconds(0));
  // kUnavailable when a new connection was needed and could not be opened.
  StatusOr<Lease> Acquire();

 private:
  void Release(std::unique_ptr<PgConn> conn);

  const std::string conninfo_;
  const size_t max_conns_;
  const std::chrono::seconds max_life_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<PgConn>> idle_;  // guarded by mu_
  size_t open_ = 0;                            // idle + borrowed + connecting, guarded by mu_
};

}  // namespace lynx::store::pg
