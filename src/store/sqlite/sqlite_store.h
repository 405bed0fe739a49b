// SqliteStore: dtmd's default, durable embedded store — one SQLite database file in WAL mode.
// Every write goes through one writer thread that group-commits whatever is queued (one fsync
// per batch, see group_commit.h); reads use a small pool of read-only connections and never wait
// for the writer. A method that returned kOk survives kill -9 and, with `fsync`, power loss.
// Thread-safe; calls block on disk I/O (IsBlocking() is true).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "store/store.h"

namespace lynx::store {

namespace sqlite {
class ConnPool;
class GroupCommitWriter;
class SqliteConn;
}  // namespace sqlite

struct SqliteOptions {
  // The database file; created with its schema when absent. No default: required.
  std::string path;
  // Read-only connections serving FindGlobal, FindBranches, Scan* and FindKV concurrently.
  // Default 4; values below 1 mean 1.
  int read_connections = 4;
  // Default true: synchronous=FULL, every commit fsyncs the WAL, so an acknowledged write also
  // survives power loss. false: synchronous=NORMAL, which survives a process crash (kill -9) but
  // may lose the last commits on power loss.
  bool fsync = true;
  // How long a connection waits for a lock held by another process before failing with
  // kUnavailable. Default 5000 ms.
  int busy_timeout_ms = 5000;
  // Upper bound on the operations committed together in one transaction. Default 1024.
  int max_batch = 1024;
  // When set, a file recording that `path` was created here (written once the schema exists).
  // With the marker present, a missing or empty database file is an error instead of a fresh,
  // empty store: data that was there must not vanish silently.
  std::string marker_path;
  // PRAGMA quick_check at open (time proportional to the file size): a corrupt file refuses to
  // open instead of serving errors.
  bool integrity_check = true;
};

class SqliteStore : public Store {
 public:
  static StatusOr<std::unique_ptr<SqliteStore>> Open(const SqliteOptions& options);
  // Runs the writes already queued, then closes every connection.
  ~SqliteStore() override;
  SqliteStore(const SqliteStore&) = delete;
  SqliteStore& operator=(const SqliteStore&) = delete;

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

  Status AddAttempts(const std::vector<BranchAttempt>& rows, int64_t keep) override;
  StatusOr<std::vector<BranchAttempt>> FindAttempts(const std::string& gid) override;
  StatusOr<int64_t> PurgeFinished(UnixMs before, int64_t limit) override;

  // The writes on every transaction's path complete from the group-commit writer's thread once
  // their batch is durable: no store thread waits for the writer.
  bool MaySaveNewTransAsync(TransGlobal& global, std::vector<TransBranch>& branches,
                            Completion<Status> done) override;
  bool LockGlobalSaveBranchesAsync(const std::string& gid, const std::string& expected_status,
                                   const std::vector<TransBranch>& rows, bool append,
                                   Completion<Status> done) override;
  bool ChangeGlobalStatusAsync(const std::string& gid, const std::string& old_status,
                               const StatusChange& change, Completion<Status> done) override;
  // One writer operation (one savepoint of a group commit).
  bool CombinesBranchesAndStatus() const override { return true; }
  Status SaveBranchesChangeStatus(const std::string& gid, const std::string& old_status,
                                  const std::vector<TransBranch>& rows,
                                  const StatusChange& change) override;
  bool SaveBranchesChangeStatusAsync(const std::string& gid, const std::string& old_status,
                                     const std::vector<TransBranch>& rows,
                                     const StatusChange& change, Completion<Status> done) override;

  // Write operations run and transactions committed since Open; writes() / commits() is the
  // mean group-commit batch size.
  uint64_t writes() const;
  uint64_t commits() const;
  // EXPLAIN QUERY PLAN of the cron lease and reset queries, one line per plan step, so a test
  // can check that they stay index range scans as finished history grows.
  StatusOr<std::string> CronQueryPlan();

 private:
  SqliteStore() = default;

  // A write for the writer thread, and what turns its status into the call's result (ids).
  struct WriteOp {
    std::function<Status(sqlite::SqliteConn&)> op;
    std::function<Status(Status)> then;  // empty: the status as it is
  };
  static WriteOp SaveNewOp(TransGlobal& global, std::vector<TransBranch>& branches);
  static WriteOp SaveBranchesOp(const std::string& gid, const std::string& expected_status,
                                const std::vector<TransBranch>& rows, bool append);
  static WriteOp ChangeStatusOp(const std::string& gid, const std::string& old_status,
                                const StatusChange& change);
  static WriteOp SaveBranchesChangeStatusOp(const std::string& gid, const std::string& old_status,
                                            const std::vector<TransBranch>& rows,
                                            const StatusChange& change);
  Status RunWrite(WriteOp w);
  void RunWriteAsync(WriteOp w, Completion<Status> done);

  std::unique_ptr<sqlite::GroupCommitWriter> writer_;
  std::unique_ptr<sqlite::ConnPool> readers_;
  // The next attempt id (0: not read from the table yet). Used on the writer thread only.
  int64_t next_attempt_id_ = 0;
};

}  // namespace lynx::store
