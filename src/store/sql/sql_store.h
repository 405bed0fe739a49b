// SqlStore: the part of the Store that the PostgreSQL and MySQL stores share — reads, scans,
// compare-and-set updates, KV, the attempt history — written once over a Dialect:
//
//   struct Dialect {
//     using Conn = ...; using Pool = ...; using Params = ...; using Result = ...;
//     static const sql::Statements kSql;  // the statements the core runs, in its dialect
//   };
//
// Conn, Pool, Params and Result have the same small interface in both drivers (pg_conn.h,
// mysql_conn.h): Pool::Acquire, Conn::Run(sql, params), Conn::Broken, a free InTransaction(conn,
// fn) found by argument-dependent lookup, Params::Text/Int/Bool/Time/Bytes, Result::rows/Int/
// Text/Time/Affected. Every statement the core runs takes its parameters in the same order in
// both dialects, numbered "$1 ... $n" (MySQL's are rendered to '?' by its driver, see
// placeholders.h). What really differs — schema creation, saving a new transaction, the branch
// write's locking, the cron lease, the admin reset and retention — stays in each store.
//
// Member definitions are in sql_store_impl.h, included (and explicitly instantiated) only by the
// two store .cc files, so this header needs no driver header.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "store/store.h"

namespace lynx::store::sql {

// The statements the core runs; each store fills one from its *_sql.h.
struct Statements {
  const char* ping;
  const char* find_global;
  const char* scan_globals;
  const char* find_branches;
  const char* change_status;
  const char* touch_cron;
  const char* reset_by_gid;
  const char* scan_kv;
  const char* find_kv;
  const char* find_kv_cat;
  const char* create_kv;
  const char* update_kv;
  const char* delete_kv;
  const char* upsert_branch;
  const char* insert_attempt;
  const char* trim_attempts;
  const char* find_attempts;
};

template <class Dialect>
class SqlStore : public Store {
 public:
  ~SqlStore() override;

  bool IsBlocking() const override { return true; }
  Status Ping() override;

  StatusOr<std::optional<TransGlobal>> FindGlobal(const std::string& gid) override;
  Status ScanGlobals(std::string* position, int64_t limit, const ScanCondition& cond,
                     std::vector<TransGlobal>* out) override;
  StatusOr<std::vector<TransBranch>> FindBranches(const std::string& gid) override;

  Status ChangeGlobalStatus(const std::string& gid, const std::string& old_status,
                            const StatusChange& change) override;
  Status TouchCronTime(const std::string& gid, const std::string& expected_status,
                       int64_t interval_s, UnixMs next_cron_time, UnixMs now) override;
  Status ResetTransGlobalCronTime(const std::string& gid, UnixMs now) override;
  // One transaction: the status change (its UPDATE takes the global's row lock and checks the
  // old status, as a branch write's SELECT ... FOR UPDATE does), then the rows' upserts.
  bool CombinesBranchesAndStatus() const override { return true; }
  Status SaveBranchesChangeStatus(const std::string& gid, const std::string& old_status,
                                  const std::vector<TransBranch>& rows,
                                  const StatusChange& change) override;
  // Through RunAsync when the dialect's store has a non-blocking connection.
  bool ChangeGlobalStatusAsync(const std::string& gid, const std::string& old_status,
                               const StatusChange& change, Completion<Status> done) override;

  Status ScanKV(const std::string& cat, std::string* position, int64_t limit,
                std::vector<KV>* out) override;
  StatusOr<std::vector<KV>> FindKV(const std::string& cat, const std::string& key) override;
  Status CreateKV(const std::string& cat, const std::string& k, const std::string& v,
                  UnixMs now) override;
  Status UpdateKV(KV& kv, UnixMs now) override;
  Status DeleteKV(const std::string& cat, const std::string& k) override;

  bool SupportsBatchedBranchUpdates() const override { return true; }
  Status UpdateBranches(const std::vector<TransBranch>& rows) override;
  Status AddAttempts(const std::vector<BranchAttempt>& rows, int64_t keep) override;
  StatusOr<std::vector<BranchAttempt>> FindAttempts(const std::string& gid) override;

 protected:
  SqlStore();

  // Runs fn(conn) on a pooled connection. A read whose connection turned out to be broken (the
  // server restarted, or killed the session, since it was pooled) runs once more on a new one:
  // reads are idempotent.
  template <class F>
  Status Read(F&& fn);
  // Writes are not retried: a connection lost around COMMIT leaves the outcome unknown, and the
  // engine's callers already treat kUnavailable as "try again later".
  template <class F>
  Status Write(F&& fn);

  using ResultCallback = std::function<void(StatusOr<typename Dialect::Result>)>;
  // Runs one statement without a blocked thread and reports its result to `done` (on any
  // thread); false, without running it, when this store cannot (the default: MySQL, and
  // PostgreSQL before AttachIo).
  virtual bool RunAsync(const char* sql, typename Dialect::Params params, ResultCallback done);

  std::unique_ptr<typename Dialect::Pool> pool_;
};

}  // namespace lynx::store::sql
