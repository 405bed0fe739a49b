// PostgresStore: the Store on a PostgreSQL server (Store.Driver: postgres), with DTM's schema
// (pg_sql.h) in database `db`, schema `schema`. Every call borrows one connection from a small
// pool; multi-statement writes run in one transaction, compare-and-set updates are single
// statements, and the cron lease is an UPDATE over SELECT ... FOR UPDATE SKIP LOCKED, so several
// dtmd instances may share one database. A read that fails because its pooled connection broke
// (server restart) is retried once on a new connection; a write then fails with kUnavailable,
// since whether it committed is unknown. Thread-safe; calls block on the network.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "store/postgres/pg_dialect.h"
#include "store/sql/sql_store.h"
#include "store/store.h"

namespace lynx::store {

namespace pg {
class AsyncPgPool;
}  // namespace pg

struct PostgresOptions {
  std::string host = "127.0.0.1";
  int64_t port = 5432;
  std::string user;
  std::string password;
  std::string db = "dtm";
  // Letters, digits and '_' only (it is passed as search_path and folded to lower case like an
  // unquoted identifier). Created by PopulateSchema when absent.
  std::string schema = "public";
  // Connections opened on demand up to this many (Store.MaxOpenConns). Values below 1 mean 1;
  // values above kMaxConnections are capped.
  int64_t max_conns = 16;
  int connect_timeout_s = 5;
  // Connections are reopened after this many seconds (Store.ConnMaxLifeTime, given in minutes);
  // 0 keeps them.
  int64_t conn_max_life_s = 300;
  // Open runs PopulateSchema when trans_global is absent from the schema.
  bool create_schema = true;

  // DTM's default MaxOpenConns is 500, more than PostgreSQL's default max_connections (100) and
  // far more than dtmd's store threads can use at once.
  static constexpr int64_t kMaxConnections = 64;
};

class PostgresStore : public sql::SqlStore<pg::Dialect> {
 public:
  // Connects once (so a wrong address or password fails here) and creates the schema if asked.
  static StatusOr<std::unique_ptr<PostgresStore>> Open(const PostgresOptions& options);
  ~PostgresStore() override;
  PostgresStore(const PostgresStore&) = delete;
  PostgresStore& operator=(const PostgresStore&) = delete;

  Status PopulateSchema() override;

  // The rest of the Store is sql::SqlStore's.
  Status MaySaveNewTrans(TransGlobal& global, std::vector<TransBranch>& branches) override;
  Status LockGlobalSaveBranches(const std::string& gid, const std::string& expected_status,
                                const std::vector<TransBranch>& rows, bool append) override;
  StatusOr<std::optional<TransGlobal>> LockOneGlobalTrans(UnixMs now, int64_t expire_in_ms,
                                                          int64_t lease_s,
                                                          const std::string& owner) override;
  StatusOr<ResetCronResult> ResetCronTime(UnixMs now, int64_t after_ms, int64_t limit) override;
  StatusOr<int64_t> PurgeFinished(UnixMs before, int64_t limit) override;

  // The single-statement writes on every transaction's path (a new transaction, a branch
  // status, a status change) run on non-blocking connections on dtmd's io threads once AttachIo
  // was called (pg_async.h); larger writes and everything else use the blocking pool.
  void AttachIo(boost::asio::io_context& io) override;
  bool MaySaveNewTransAsync(TransGlobal& global, std::vector<TransBranch>& branches,
                            Completion<Status> done) override;
  bool LockGlobalSaveBranchesAsync(const std::string& gid, const std::string& expected_status,
                                   const std::vector<TransBranch>& rows, bool append,
                                   Completion<Status> done) override;
  bool SaveBranchesChangeStatusAsync(const std::string& gid, const std::string& old_status,
                                     const std::vector<TransBranch>& rows,
                                     const StatusChange& change, Completion<Status> done) override;

  // Drops the whole schema with its tables (tests, which use a schema each).
  Status DropSchema();

 private:
  PostgresStore() = default;
  // The multi-statement forms, for writes with more rows than pg_batch_sql.h has statements for.
  Status MaySaveNewTransInSteps(TransGlobal& global, std::vector<TransBranch>& branches);
  Status LockGlobalSaveBranchesInSteps(const std::string& gid, const std::string& expected_status,
                                       const std::vector<TransBranch>& rows, bool append);
  // Adds the retention index to a schema created by DTM.
  Status EnsurePurgeIndex();
  bool RunAsync(const char* sql, pg::PgParams params, ResultCallback done) override;

  std::string schema_;
  PostgresOptions options_;
  std::string conninfo_;
  std::unique_ptr<pg::AsyncPgPool> async_;  // set by AttachIo
};

}  // namespace lynx::store
