// MysqlStore: the Store on a MySQL or MariaDB server (Store.Driver: mysql), with DTM's schema
// (mysql_sql.h) in database `db`. Every call borrows one connection from a small pool;
// multi-statement writes run in one transaction, compare-and-set updates are single statements,
// and the cron lease and the retention purge lock their rows with SELECT ... FOR UPDATE SKIP
// LOCKED (MariaDB >= 10.6, MySQL >= 8.0), so several dtmd instances may share one database.
// A read that fails because its pooled connection broke (server restart, KILL, wait_timeout) is
// retried once on a new connection; a write then fails with kUnavailable, since whether it
// committed is unknown. Thread-safe; calls block on the network.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "store/mysql/mysql_dialect.h"
#include "store/sql/sql_store.h"
#include "store/store.h"

namespace lynx::store {

struct MysqlOptions {
  std::string host = "127.0.0.1";
  int64_t port = 3306;
  std::string user;
  std::string password;
  // Created by PopulateSchema when absent (with the tables).
  std::string db = "dtm";
  // Connections opened on demand up to this many (Store.MaxOpenConns). Values below 1 mean 1;
  // values above kMaxConnections are capped.
  int64_t max_conns = 16;
  int connect_timeout_s = 5;
  // Connections are reopened after this many seconds (Store.ConnMaxLifeTime, given in minutes);
  // 0 keeps them.
  int64_t conn_max_life_s = 300;
  // Open runs PopulateSchema when trans_global is absent from `db`.
  bool create_schema = true;

  // DTM's default MaxOpenConns is 500, more than MySQL's default max_connections (151) and far
  // more than dtmd's store threads can use at once.
  static constexpr int64_t kMaxConnections = 64;
};

class MysqlStore : public sql::SqlStore<my::Dialect> {
 public:
  // Connects once (so a wrong address or password fails here, naming host:port), and creates
  // the database and tables if asked, or adds the retention index to tables DTM created.
  static StatusOr<std::unique_ptr<MysqlStore>> Open(const MysqlOptions& options);
  ~MysqlStore() override;
  MysqlStore(const MysqlStore&) = delete;
  MysqlStore& operator=(const MysqlStore&) = delete;

  // Creates the database and the tables when absent (idempotent, serialised across instances).
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

  // Drops the whole database with its tables (tests, which use a database each).
  Status DropDatabase();
  // EXPLAIN of the lease query and of the purge query (one line per plan row: id, table, type,
  // key, rows, Extra), so tests can check that they stay index range scans without a filesort.
  StatusOr<std::string> CronQueryPlan();
  StatusOr<std::string> PurgeQueryPlan();

 private:
  MysqlStore() = default;
  // Database and tables on `conn`, a connection without a default database.
  Status PopulateOn(my::MyConn& conn);
  // Adds the retention index to a trans_global created by DTM.
  Status EnsurePurgeIndex(my::MyConn& conn);
  // `sql` with {db} replaced by the quoted database name.
  std::string WithDb(const char* sql) const;

  MysqlOptions options_;
  bool consecutive_ids_ = false;  // innodb_autoinc_lock_mode <= 1
};

}  // namespace lynx::store
