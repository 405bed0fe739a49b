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

#include "store/store.h"

namespace lynx::store {

namespace pg {
class PgPool;
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

class PostgresStore : public Store {
 public:
  // Connects once (so a wrong address or password fails here) and creates the schema if asked.
  static StatusOr<std::unique_ptr<PostgresStore>> Open(const PostgresOptions& options);
  ~PostgresStore() override;
  PostgresStore(const PostgresStore&) = delete;
  PostgresStore& operator=(const PostgresStore&) = delete;

  bool IsBlocking() const override { return true; }
  Status Ping() override;
  Status PopulateSchema() override;

  StatusOr<std::optional<TransGlobal>> FindGlobal(const std::string& gid) override;
  Status ScanGlobals(std::string* position, int64_t limit, const ScanCondition& cond,
                     std::vector<TransGlobal>* out) override;
  StatusOr<std::vector<TransBranch>> FindBranches(const std::string& gid) override;

  Status MaySaveNewTrans(TransGlobal& global, std::vector<TransBranch>& branches) override;
  Status LockGlobalSaveBranches(const std::string& gid, const std::string& expected_status,
                                const std::vector<TransBranch>& rows, bool append) override;
  Status ChangeGlobalStatus(const std::string& gid, const std::string& old_status,
                            const StatusChange& change) override;
  Status TouchCronTime(const std::string& gid, const std::string& expected_status,
                       int64_t interval_s, UnixMs next_cron_time, UnixMs now) override;
  StatusOr<std::optional<TransGlobal>> LockOneGlobalTrans(UnixMs now, int64_t expire_in_ms,
                                                          int64_t lease_s,
                                                          const std::string& owner) override;
  StatusOr<ResetCronResult> ResetCronTime(UnixMs now, int64_t after_ms, int64_t limit) override;
  Status ResetTransGlobalCronTime(const std::string& gid, UnixMs now) override;

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
  StatusOr<int64_t> PurgeFinished(UnixMs before, int64_t limit) override;

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

  std::string schema_;
  std::unique_ptr<pg::PgPool> pool_;
};

}  // namespace lynx::store
