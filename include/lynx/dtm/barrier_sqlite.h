// DTM's sub-transaction barrier on SQLite (dtm-protocol.md §8.1-8.4): the table `barrier`, the
// barrier call that wraps a branch's business code in one local transaction (duplicate requests,
// empty compensations and hanging actions never reach the business code) and the msg back-check
// QueryPrepared. A branch handler:
//   auto bb = lynx::dtm::BranchBarrier::FromQuery(query);
//   lynx::Status st = lynx::dtm::BarrierCall(*bb, db, [&](lynx::dtm::SqliteDb& tx) {
//     return tx.Exec("UPDATE account SET balance = balance - 30 WHERE id = 1");
//   });
// SqliteDb is a minimal handle over one sqlite3 connection; no SQLite types appear here.
// Thread-compatible: use a SqliteDb from one thread at a time (one handle per thread).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <lynx/dtm/barrier.h>
#include <lynx/status.h>

namespace lynx::dtm {

// The barrier table (SQLite has no schema, so DTM's dtm_barrier.barrier becomes `barrier`).
inline constexpr char kBarrierTable[] = "barrier";
// The message of the status BarrierCall returns for a duplicated msg local transaction (Go's
// ErrDuplicated); its code is kUniqueConflict, so it is neither Ok nor a Failure.
inline constexpr char kResultDuplicated[] = "DUPLICATED";

// True when `status` is the DUPLICATED result of BarrierCall.
bool IsDuplicated(const Status& status);

// One SQLite connection. Move-only; the connection closes with the last owner.
class SqliteDb {
 public:
  // Opens (creating when missing) the database file at `path`, with a 5 s busy timeout.
  static StatusOr<SqliteDb> Open(const std::string& path);

  SqliteDb(SqliteDb&&) noexcept;
  SqliteDb& operator=(SqliteDb&&) noexcept;
  ~SqliteDb();

  // Runs one or more ';'-separated statements without parameters; result rows are discarded.
  Status Exec(const std::string& sql);
  // Runs one statement with text parameters bound to ?1, ?2, ...; returns the rows it changed.
  StatusOr<int64_t> Execute(const std::string& sql, const std::vector<std::string>& params = {});
  // Runs one query with text parameters; returns every row, each column as text (NULL -> "").
  StatusOr<std::vector<std::vector<std::string>>> Query(
      const std::string& sql, const std::vector<std::string>& params = {});
  // False while a transaction is open on this connection.
  bool InAutocommit() const;

 private:
  struct Impl;
  explicit SqliteDb(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Creates the table `barrier` (DTM's columns, UNIQUE(gid, branch_id, op, barrier_id) and the
// create_time / update_time indexes) when it does not exist.
Status CreateBarrierTable(SqliteDb& db);

// Go's CallWithDB + Call (§8.3): begins a transaction on `db` (which must not be in one), takes
// the next barrier id of `bb`, inserts-ignore the origin row (cancel -> try, compensate / rollback
// -> action) and then the current row, and
//   - op msg with the current row already present -> rollback, returns DUPLICATED;
//   - cancel/compensate/rollback whose origin row was new (empty compensation), or a current row
//     already present (duplicate request, hanging action) -> commit, returns Ok without busi;
//   - otherwise runs busi(db): Ok -> commit (a commit error is returned); an error -> rollback
//     and returns it; an exception -> rollback and rethrow.
Status BarrierCall(BranchBarrier& bb, SqliteDb& db, const std::function<Status(SqliteDb&)>& busi);

// Go's QueryPrepared (§8.4), DTM's back-check for a msg prepared by Msg::DoAndSubmit:
// inserts-ignore (gid, "00", "msg", "01", reason "rollback"), then reads the row's reason. A
// Failure when it is "rollback" (the local transaction did not commit and now never will), Ok when
// it is "msg".
Status BarrierQueryPrepared(const BranchBarrier& bb, SqliteDb& db);

}  // namespace lynx::dtm
