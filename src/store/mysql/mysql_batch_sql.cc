#include "store/mysql/mysql_batch_sql.h"

#include <array>
#include <mutex>
#include <string>

namespace lynx::store::my {

namespace {

constexpr const char* kInsertInto =
    "INSERT INTO trans_branch_op (gid, url, bin_data, branch_id, op, status, create_time,"
    " update_time, finish_time, rollback_time) ";

std::string BuildInsert(size_t n) {
  std::string sql = std::string(kInsertInto) + "VALUES ";
  for (size_t r = 0; r < n; ++r)
    sql += r > 0 ? ", (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)" : "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
  return sql;
}

struct Texts {
  std::once_flag once;
  std::array<std::string, kMaxBatchRows + 1> insert;
};

Texts& AllTexts() {
  static Texts t;
  std::call_once(t.once, [] {
    for (size_t n = 1; n <= kMaxBatchRows; ++n) {
      t.insert[n] = BuildInsert(n);
    }
  });
  return t;
}

}  // namespace

const char* InsertBranchesSql(size_t n) { return AllTexts().insert.at(n).c_str(); }

}  // namespace lynx::store::my
