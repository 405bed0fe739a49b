// BranchBarrier: DTM's sub-transaction barrier (dtm-protocol.md §8). It names the branch call a
// piece of business code belongs to — trans_type, gid, branch_id and op, as DTM passes them in a
// branch request's query — and runs that code so that duplicate requests, empty compensations
// and hanging actions never reach it:
//   auto bb = lynx::dtm::BranchBarrier::FromQuery(request.query);
//   if (!bb.ok()) return bb.status();
//   return bb->CallWithDB(db, [&](lynx::dtm::SqlDb& tx) {
//     return tx.Execute("UPDATE account SET balance = balance - ? WHERE id = ?", {"30", "1"})
//         .status();
//   });
// On SQL databases (SQLite, PostgreSQL, MySQL/MariaDB; see sql.h) the barrier rows live in the
// table BarrierTableName(driver) — create it with CreateBarrierTable — in the same local
// transaction as the business change. On Redis, RedisCheckAdjustAmount adjusts a numeric key with
// the same guarantees in one Lua script.
// Value type, thread-compatible (one BranchBarrier per branch call).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>

#include <lynx/status.h>

namespace lynx::dtm {

class SqlDb;
class RedisDb;
enum class SqlDriver;

// The message of the status a msg local transaction gets when DTM's back-check ran first (Go's
// ErrDuplicated); its code is kUniqueConflict, so it is neither Ok nor a Failure.
inline constexpr char kResultDuplicated[] = "DUPLICATED";
// True when `status` is that DUPLICATED result.
bool IsDuplicated(const Status& status);

class BranchBarrier {
 public:
  // InvalidArgument when any of the four is empty (Go's BarrierFrom).
  static StatusOr<BranchBarrier> From(std::string trans_type, std::string gid,
                                      std::string branch_id, std::string op);
  // From the query parameters trans_type, gid, branch_id and op (Go's BarrierFromQuery; "\n",
  // "\r" and ";" are removed from each value).
  static StatusOr<BranchBarrier> FromQuery(const std::map<std::string, std::string>& query);
  // From the gRPC metadata dtm-trans_type, dtm-gid, dtm-branch_id and dtm-op (Go's
  // BarrierFromGrpc; keys lower-case as gRPC delivers them, values escaped as in FromQuery).
  // InvalidArgument naming the first key that is missing or empty.
  static StatusOr<BranchBarrier> FromGrpc(const std::map<std::string, std::string>& metadata);

  const std::string& trans_type() const { return trans_type_; }
  const std::string& gid() const { return gid_; }
  const std::string& branch_id() const { return branch_id_; }
  const std::string& op() const { return op_; }
  int barrier_id() const { return barrier_id_; }
  // Increments the barrier id and returns it as two digits ("01" for the first local transaction
  // of a branch call, "02" for the second, ...).
  std::string NewBarrierId();
  std::string ToString() const;

  // Go's Call (§8.3) inside the transaction the caller opened on `tx` (the caller commits or
  // rolls back according to the result): takes the next barrier id, inserts-ignore the origin
  // row (cancel -> try, compensate / rollback -> action) and the current row, then
  //   - op msg whose row already exists -> DUPLICATED (roll back);
  //   - a compensation whose origin row was new (empty compensation), or a current row that
  //     already existed (duplicate request, hanging action) -> Ok without calling busi;
  //   - otherwise busi(tx)'s status (an exception propagates).
  Status Call(SqlDb& tx, const std::function<Status(SqlDb&)>& busi);
  // Go's CallWithDB: begins a transaction on `db` (which must not be in one), runs Call and
  // commits on Ok (a commit error is returned) or rolls back otherwise; on an exception it rolls
  // back and rethrows.
  Status CallWithDB(SqlDb& db, const std::function<Status(SqlDb&)>& busi);
  // Go's QueryPrepared (§8.4), the back-check of a msg prepared by Msg::DoAndSubmit(DB):
  // inserts-ignore (gid, "00", "msg", "01", reason "rollback") and reads the row's reason: a
  // Failure when it is "rollback" (the local transaction did not commit and now never will), Ok
  // when it is "msg".
  Status QueryPrepared(SqlDb& db) const;

  // Go's RedisCheckAdjustAmount (§8.5): in one Lua script, adds `amount` to the integer at `key`
  // unless the key is missing or would go below 0 (Failure), the call is a duplicate (Ok, or
  // DUPLICATED for op msg) or an empty compensation (Ok; the origin key is set to block a late
  // action). Barrier keys expire after `barrier_expire_seconds`.
  Status RedisCheckAdjustAmount(RedisDb& rd, const std::string& key, int64_t amount,
                                int64_t barrier_expire_seconds);
  // Go's RedisQueryPrepared: sets "<gid>-00-msg-01" to "rollback" when missing; a Failure when
  // its value is "rollback".
  Status RedisQueryPrepared(RedisDb& rd, int64_t barrier_expire_seconds) const;

 private:
  BranchBarrier() = default;
  std::string trans_type_;
  std::string gid_;
  std::string branch_id_;
  std::string op_;
  int barrier_id_ = 0;
};

// Go's dtmimp.Escape: removes "\n", "\r" and ";" (applied to values read from a query).
std::string EscapeQueryValue(const std::string& value);

// The barrier table of `driver`: the name set by SetBarrierTableName, else "dtm_barrier.barrier"
// (DTM's default) for PostgreSQL and MySQL and "barrier" for SQLite (which has no schemas).
std::string BarrierTableName(SqlDriver driver);
// Go's SetBarrierTableName; "" restores the defaults. Call it at start-up, before any barrier.
void SetBarrierTableName(const std::string& name);
// Creates the barrier table when missing, with DTM's columns, UNIQUE(gid, branch_id, op,
// barrier_id) (named uniq_barrier) and the create_time / update_time indexes; on PostgreSQL and
// MySQL also the schema / database of a "schema.table" name.
Status CreateBarrierTable(SqlDb& db);

// Inserts-ignore one barrier row; returns the rows inserted (0 when it existed or `op` is empty).
// Exposed for XA phase 2, which records a rollback row as DTM's SDK does.
StatusOr<int64_t> InsertBarrier(SqlDb& db, const std::string& trans_type, const std::string& gid,
                                const std::string& branch_id, const std::string& op,
                                const std::string& barrier_id, const std::string& reason);

// Retention for barrier rows (not in DTM): deletes rows of BarrierTableName(db.driver()) created
// more than `older_than_seconds` ago by the database's clock, at most `batch` per statement and
// statement after statement until a batch comes back short, so no statement holds locks for
// long. Returns how many rows went. Keep rows well beyond the life of your longest transaction
// (days, not minutes): a barrier row that is gone can no longer stop a late, duplicate or
// out-of-order branch call of its transaction. Call it from a periodic job, outside a transaction.
StatusOr<int64_t> PurgeBarriers(SqlDb& db, int64_t older_than_seconds, int64_t batch = 500);

}  // namespace lynx::dtm
