// Single-statement forms of the PostgreSQL store's multi-row writes, built for a given number of
// branch rows. Each replaces a BEGIN / statement per row / COMMIT sequence by one round trip and
// one implicit transaction, which is most of a saga's store cost (the store is latency-bound).
// PgConn::Run caches prepared statements by the text's address, so the texts are built once per
// row count and live for the process.
#pragma once

#include <cstddef>

namespace lynx::store::pg {

// Row counts with a single-statement form; larger writes use the multi-statement path.
inline constexpr size_t kMaxBatchRows = 32;

// Insert-if-absent of a global ($1..$17, kInsertGlobal's order) and its n branches ($18.., 10 per
// row in BranchParams' order, gid included): returns no row when the gid exists, else one row
// per branch (global id, branch id, branch_id, op), or one row with a NULL branch id for n = 0.
// A duplicate (branch_id, op) fails the whole statement with a unique violation.
const char* SaveNewTransSql(size_t n);

// Branch rows written only while the global ($1 gid, $2 status) is locked FOR UPDATE with that
// status: n rows from $3 (10 per row, gid included). append: plain INSERT (a duplicate fails
// with a unique violation); otherwise an upsert of status / finish / rollback / update times.
// Affects no row when the global is absent or has another status.
const char* SaveBranchesSql(size_t n, bool append);

// The status change (kChangeStatus's $1-$8) and the upsert of n branch rows (from $9) in one
// statement; a row when the change was made, none (and no branch written) otherwise.
const char* SaveBranchesChangeStatusSql(size_t n);

}  // namespace lynx::store::pg
