// Store: the storage interface of dtmd, with DTM's store semantics (dtm-protocol.md §7.1).
// Every backend (memory, embedded SQLite, and later PostgreSQL/MySQL/Redis) implements it, and one
// contract test suite runs against each. All methods are synchronous and thread-safe; the server
// calls blocking backends from its store thread pool. Times are passed in by the caller (the
// injected clock), never read by the store itself, except where a method takes no `now`.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/status.h"

namespace boost::asio {
class io_context;
}  // namespace boost::asio

namespace lynx::store {

inline constexpr const char* kStatusPrepared = "prepared";
inline constexpr const char* kStatusSubmitted = "submitted";
inline constexpr const char* kStatusAborting = "aborting";
inline constexpr const char* kStatusSucceed = "succeed";
inline constexpr const char* kStatusFailed = "failed";

// One row of trans_global. Times are Unix ms, 0 = NULL.
struct TransGlobal {
  int64_t id = 0;
  std::string gid;
  std::string trans_type;
  std::string status;
  std::string query_prepared;
  std::string protocol;
  UnixMs create_time = 0;
  UnixMs update_time = 0;
  UnixMs finish_time = 0;
  UnixMs rollback_time = 0;
  std::string result;
  std::string rollback_reason;
  std::string options;             // JSON text of the per-transaction options, "" when none
  std::string custom_data;         // saga orders / msg delay, as the client sent it
  int64_t next_cron_interval = 0;  // seconds
  UnixMs next_cron_time = 0;
  std::string owner;
  std::string ext_data;

  bool IsFinished() const { return status == kStatusSucceed || status == kStatusFailed; }
};

// One row of trans_branch_op. (gid, branch_id, op) is unique.
struct TransBranch {
  int64_t id = 0;
  std::string gid;
  std::string url;
  std::string bin_data;  // raw bytes sent as the branch request body
  std::string branch_id;
  std::string op;
  std::string status;
  UnixMs create_time = 0;
  UnixMs update_time = 0;
  UnixMs finish_time = 0;
  UnixMs rollback_time = 0;
};

// One call dtmd made for a transaction (not in DTM): a branch call, a retry, a phase-2 call, a
// msg back-check (branch_id "00", op "msg") or a workflow resume (branch_id "00", op
// the workflow's name). Kept per (gid, branch_id, op), the newest `keep` (AddAttempts), and
// deleted with the transaction by PurgeFinished.
struct BranchAttempt {
  int64_t id = 0;  // assigned by the store, increasing: the order of the attempts
  std::string gid;
  std::string branch_id;
  std::string op;
  UnixMs start_time = 0;
  int64_t duration_ms = 0;
  std::string target;   // the URL called
  std::string outcome;  // SUCCESS | FAILURE | ONGOING | ERROR
  int64_t code = 0;     // HTTP status or gRPC code; 0 when no reply came
  std::string detail;   // the reply or error text, cut short
  std::string owner;    // the instance that made the call
  // Not stored: the call ended its branch op (a success), so no attempt of the key follows and
  // AddAttempts need not trim it. Spares the common path one statement per call.
  bool final = false;
};

// One row of kv (topics use cat "topics").
struct KV {
  int64_t id = 0;
  std::string cat;
  std::string k;
  std::string v;
  int64_t version = 1;
  UnixMs create_time = 0;
  UnixMs update_time = 0;
};

// Filters of /all. Empty strings and 0 times mean "no filter"; the time bounds are inclusive.
struct ScanCondition {
  std::string status;
  std::string trans_type;
  UnixMs create_time_start = 0;
  UnixMs create_time_end = 0;
  // Not in DTM (the console's filters): gids starting with these bytes, compared exactly (no
  // LIKE patterns); and, when set, only unfinished transactions whose next_cron_time is before
  // this time (due but not yet picked up by a cron).
  std::string gid_prefix;
  UnixMs overdue_before = 0;
};

// The update applied by ChangeGlobalStatus besides `status` and `update_time = now`.
struct StatusChange {
  std::string new_status;
  UnixMs now = 0;
  std::optional<std::string> rollback_reason;  // written when set
  std::optional<std::string> result;           // written when set
  // finish_time = now when new_status is succeed; rollback_time = now when failed.
  // A finished transaction leaves the cron index and is never leased again.
};

struct ResetCronResult {
  int64_t succeed_count = 0;
  bool has_remaining = false;
};

class Store {
 public:
  virtual ~Store() = default;

  // True when calls may block on I/O (the server then runs them off its network threads).
  virtual bool IsBlocking() const { return true; }

  virtual Status Ping() = 0;
  // Creates the schema when absent (idempotent).
  virtual Status PopulateSchema() = 0;

  // kOk with nullopt when absent.
  virtual StatusOr<std::optional<TransGlobal>> FindGlobal(const std::string& gid) = 0;
  // One page of globals ordered newest first. `position` is the opaque cursor of the previous
  // page ("" = start) and is replaced by the cursor of the next page ("" when this was the last).
  virtual Status ScanGlobals(std::string* position, int64_t limit, const ScanCondition& cond,
                             std::vector<TransGlobal>* out) = 0;
  // All branches of gid in insertion order.
  virtual StatusOr<std::vector<TransBranch>> FindBranches(const std::string& gid) = 0;

  // Atomically inserts `global` and `branches` when gid is absent (ids are assigned in place);
  // kUniqueConflict and no write when it exists.
  virtual Status MaySaveNewTrans(TransGlobal& global, std::vector<TransBranch>& branches) = 0;
  // Atomically: the global must exist with `expected_status` (else kNotFound, no write); then
  // append == true: insert `rows` (a (branch_id, op) already present -> kUniqueConflict, no write);
  // append == false: upsert `rows` by (branch_id, op): status, finish_time, rollback_time,
  // update_time of existing rows change, absent rows are inserted.
  virtual Status LockGlobalSaveBranches(const std::string& gid, const std::string& expected_status,
                                        const std::vector<TransBranch>& rows, bool append) = 0;
  // Compare-and-set of the global status; kNotFound when the stored status is not `old_status`.
  virtual Status ChangeGlobalStatus(const std::string& gid, const std::string& old_status,
                                    const StatusChange& change) = 0;
  // A pass's last branch results and the status change they lead to:
  // LockGlobalSaveBranches(gid, old_status, rows, false) then ChangeGlobalStatus(gid,
  // old_status, change). A store that can write both at once (one script, one transaction)
  // overrides this and says so with CombinesBranchesAndStatus: both or neither, and the server
  // then saves the write it would otherwise spend on the branch. The default runs the two
  // calls in turn (not atomic: the branch rows may be written without the change).
  virtual bool CombinesBranchesAndStatus() const { return false; }
  virtual Status SaveBranchesChangeStatus(const std::string& gid, const std::string& old_status,
                                          const std::vector<TransBranch>& rows,
                                          const StatusChange& change) {
    if (Status st = LockGlobalSaveBranches(gid, old_status, rows, false); !st.ok()) return st;
    return ChangeGlobalStatus(gid, old_status, change);
  }
  // Sets next_cron_interval, next_cron_time and update_time while the status is still
  // `expected_status`; kNotFound (nothing written) otherwise.
  virtual Status TouchCronTime(const std::string& gid, const std::string& expected_status,
                               int64_t interval_s, UnixMs next_cron_time, UnixMs now) = 0;
  // Leases one unfinished transaction with next_cron_time <= now + expire_in_ms (a transaction
  // whose time has come is due: resetCronTime / resetNextCronTime set it to now): sets
  // next_cron_time = now + lease_s, owner = `owner`, update_time = now, and returns the leased
  // row (after the update). nullopt when none is due.
  virtual StatusOr<std::optional<TransGlobal>> LockOneGlobalTrans(UnixMs now, int64_t expire_in_ms,
                                                                  int64_t lease_s,
                                                                  const std::string& owner) = 0;
  // For at most `limit` unfinished transactions with next_cron_time > now + after_ms, sets
  // next_cron_time = update_time = now. has_remaining is exact (more such rows exist).
  virtual StatusOr<ResetCronResult> ResetCronTime(UnixMs now, int64_t after_ms, int64_t limit) = 0;
  // next_cron_time = update_time = now for gid, whatever its status; kNotFound when absent.
  virtual Status ResetTransGlobalCronTime(const std::string& gid, UnixMs now) = 0;

  // KV (topics). Scan is ordered by id ascending with the same cursor contract as ScanGlobals.
  virtual Status ScanKV(const std::string& cat, std::string* position, int64_t limit,
                        std::vector<KV>* out) = 0;
  // The entry (cat, key) as a list of 0 or 1; every entry of cat when key is empty.
  virtual StatusOr<std::vector<KV>> FindKV(const std::string& cat, const std::string& key) = 0;
  // version 1; kUniqueConflict when (cat, k) exists.
  virtual Status CreateKV(const std::string& cat, const std::string& k, const std::string& v,
                          UnixMs now) = 0;
  // Optimistic update: succeeds only when the stored version equals kv.version, then stores
  // kv.v with version + 1 (kv.version is incremented in place); kNotFound otherwise.
  virtual Status UpdateKV(KV& kv, UnixMs now) = 0;
  // kNotFound when absent.
  virtual Status DeleteKV(const std::string& cat, const std::string& k) = 0;

  // DTM's batched branch-status writes (UpdateBranchSync: 0, dtm-protocol.md §7.5): upserts
  // `rows` by (gid, branch_id, op) — status, finish_time, rollback_time, update_time — without
  // checking the global, as one store transaction. Only stores that say so take part (the SQL
  // servers, where one commit per batch saves real work); on the others DTM's contract is a
  // no-op and dtmd writes every branch status synchronously instead.
  virtual bool SupportsBatchedBranchUpdates() const { return false; }
  virtual Status UpdateBranches(const std::vector<TransBranch>& rows) { return Status::Ok(); }

  // Attempt history: inserts `rows` (ids assigned by the store, increasing) and keeps only the
  // newest `keep` attempts of each (gid, branch_id, op) that a non-final row of `rows` touches,
  // in one store transaction. A key is thus never longer than `keep` retries plus its final call.
  // The transaction is not checked (attempts are written behind the calls, batched).
  virtual Status AddAttempts(const std::vector<BranchAttempt>& rows, int64_t keep) = 0;
  // Every attempt of gid, oldest first.
  virtual StatusOr<std::vector<BranchAttempt>> FindAttempts(const std::string& gid) = 0;

  // Retention: deletes at most `limit` finished transactions (succeed / failed) whose update_time
  // (the time they finished) is before `before`, together with their branches, and returns how
  // many transactions were deleted. Callers purge in small batches, calling again while a batch
  // comes back full, so no call holds locks for long. Unfinished transactions are never deleted.
  // Their attempts go with them.
  // Several dtmd instances may purge at once: each row is deleted once, none is reported twice.
  virtual StatusOr<int64_t> PurgeFinished(UnixMs before, int64_t limit) = 0;

  // Completion forms of the writes on every transaction's path. A store whose I/O can complete
  // without a blocked thread (the embedded store's group-commit writer; Redis' pipelined
  // connection on dtmd's io threads, once AttachIo gave it the io_context) overrides them: the
  // server then calls these instead of handing the blocking forms to its store threads, which
  // saves two thread handoffs per call. They return false, without calling `done`, when this
  // store (or this call) has no such form: the caller then runs the blocking form. Otherwise
  // `done` runs exactly once, on any thread; the arguments must stay alive until it has run.
  template <class T>
  using Completion = std::function<void(T)>;
  // The store is destroyed before `io`, and not while threads run it.
  virtual void AttachIo(boost::asio::io_context& io) {}
  virtual bool MaySaveNewTransAsync(TransGlobal& global, std::vector<TransBranch>& branches,
                                    Completion<Status> done) {
    return false;
  }
  virtual bool LockGlobalSaveBranchesAsync(const std::string& gid,
                                           const std::string& expected_status,
                                           const std::vector<TransBranch>& rows, bool append,
                                           Completion<Status> done) {
    return false;
  }
  virtual bool ChangeGlobalStatusAsync(const std::string& gid, const std::string& old_status,
                                       const StatusChange& change, Completion<Status> done) {
    return false;
  }
  virtual bool SaveBranchesChangeStatusAsync(const std::string& gid, const std::string& old_status,
                                             const std::vector<TransBranch>& rows,
                                             const StatusChange& change, Completion<Status> done) {
    return false;
  }
};

}  // namespace lynx::store
