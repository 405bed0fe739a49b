#include "store/postgres/pg_batch_sql.h"

#include <array>
#include <mutex>
#include <string>

#include "store/postgres/pg_sql.h"

namespace lynx::store::pg {

namespace {

constexpr const char* kBranchColumns =
    "gid, url, bin_data, branch_id, op, status, create_time, update_time, finish_time,"
    " rollback_time";
constexpr const char* kBranchTypes[] = {"text",        "text",       "bytea",       "text",
                                        "text",        "text",       "timestamptz", "timestamptz",
                                        "timestamptz", "timestamptz"};

// VALUES (...), (...) for n rows of 10 parameters starting at $first.
std::string Values(size_t n, size_t first) {
  std::string out = "VALUES ";
  size_t p = first;
  for (size_t r = 0; r < n; ++r) {
    out += r > 0 ? ", (" : "(";
    for (size_t c = 0; c < 10; ++c, ++p) {
      if (c > 0) out += ", ";
      out += "$" + std::to_string(p) + "::" + kBranchTypes[c];
    }
    out += ")";
  }
  return out;
}

std::string BuildSaveNew(size_t n) {
  std::string sql =
      "WITH g AS (INSERT INTO trans_global (gid, trans_type, status, query_prepared, protocol,"
      " create_time, update_time, finish_time, rollback_time, options, custom_data,"
      " next_cron_interval, next_cron_time, owner, ext_data, result, rollback_reason)"
      " VALUES ($1::text, $2::text, $3::text, $4::text, $5::text, $6::timestamptz,"
      " $7::timestamptz, $8::timestamptz, $9::timestamptz, $10::text, $11::text, $12::int,"
      " $13::timestamptz, $14::text, $15::text, $16::text, $17::text)"
      " ON CONFLICT (gid) DO NOTHING RETURNING id)";
  if (n == 0) return sql + " SELECT id, NULL::bigint, NULL::text, NULL::text FROM g";
  sql += ", b AS (INSERT INTO trans_branch_op (" + std::string(kBranchColumns) +
         ") SELECT v.* FROM (" + Values(n, 18) +
         ") AS v WHERE EXISTS (SELECT 1 FROM g) RETURNING id, branch_id, op)"
         " SELECT g.id, b.id, b.branch_id, b.op FROM g, b";
  return sql;
}

constexpr const char* kUpsertSet =
    " ON CONFLICT (gid, branch_id, op) DO UPDATE SET status = excluded.status,"
    " finish_time = excluded.finish_time, rollback_time = excluded.rollback_time,"
    " update_time = excluded.update_time";

std::string BuildSaveBranches(size_t n, bool append) {
  std::string sql =
      "WITH g AS (SELECT 1 FROM trans_global WHERE gid = $1::text AND status = $2::text"
      " FOR UPDATE) INSERT INTO trans_branch_op (" +
      std::string(kBranchColumns) + ") SELECT v.* FROM (" + Values(n, 3) +
      ") AS v WHERE EXISTS (SELECT 1 FROM g)";
  if (!append) sql += kUpsertSet;
  return sql;
}

std::string BuildSaveBranchesChangeStatus(size_t n) {
  return "WITH g AS (" + std::string(kChangeStatus) +
         " RETURNING 1), b AS (INSERT INTO trans_branch_op (" + std::string(kBranchColumns) +
         ") SELECT v.* FROM (" + Values(n, 9) + ") AS v WHERE EXISTS (SELECT 1 FROM g)" +
         kUpsertSet + ") SELECT 1 FROM g";
}

struct Texts {
  std::once_flag once;
  std::array<std::string, kMaxBatchRows + 1> save_new, append, upsert, upsert_change;
};

Texts& AllTexts() {
  static Texts t;
  std::call_once(t.once, [] {
    for (size_t n = 0; n <= kMaxBatchRows; ++n) {
      t.save_new[n] = BuildSaveNew(n);
      t.append[n] = BuildSaveBranches(n, true);
      t.upsert[n] = BuildSaveBranches(n, false);
      t.upsert_change[n] = BuildSaveBranchesChangeStatus(n);
    }
  });
  return t;
}

}  // namespace

const char* SaveNewTransSql(size_t n) { return AllTexts().save_new.at(n).c_str(); }

const char* SaveBranchesSql(size_t n, bool append) {
  return (append ? AllTexts().append : AllTexts().upsert).at(n).c_str();
}

const char* SaveBranchesChangeStatusSql(size_t n) { return AllTexts().upsert_change.at(n).c_str(); }

}  // namespace lynx::store::pg
