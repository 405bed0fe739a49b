// PurgeBarriers: batched deletion of old barrier rows on each SQL dialect. The integers are
// formatted into the statement (they are int64 values, never text from outside) because MySQL
// accepts no bound string where LIMIT expects a number.
#include <string>

#include <lynx/dtm/barrier.h>
#include <lynx/dtm/sql.h>

namespace lynx::dtm {

namespace {

std::string PurgeStatement(SqlDriver driver, const std::string& table, int64_t age_s,
                           int64_t batch) {
  const std::string age = std::to_string(age_s);
  const std::string limit = std::to_string(batch);
  switch (driver) {
    case SqlDriver::kSqlite:
      // CURRENT_TIMESTAMP text, compared as text in the same format.
      return "DELETE FROM " + table + " WHERE id IN (SELECT id FROM " + table +
             " WHERE create_time < datetime('now', '-" + age + " seconds') LIMIT " + limit + ")";
    case SqlDriver::kPostgres:
      return "DELETE FROM " + table + " WHERE id IN (SELECT id FROM " + table +
             " WHERE create_time < now() - interval '" + age + " seconds' LIMIT " + limit + ")";
    case SqlDriver::kMysql:
      // Single-table DELETE takes ORDER BY / LIMIT directly, walking the create_time index.
      return "DELETE FROM " + table + " WHERE create_time < NOW() - INTERVAL " + age +
             " SECOND ORDER BY create_time LIMIT " + limit;
  }
  return "";
}

}  // namespace

StatusOr<int64_t> PurgeBarriers(SqlDb& db, int64_t older_than_seconds, int64_t batch) {
  if (older_than_seconds < 0) return Status::InvalidArgument("PurgeBarriers: negative age");
  if (batch <= 0) return Status::InvalidArgument("PurgeBarriers: batch must be positive");
  if (db.InTransaction()) {
    return Status::InvalidArgument("PurgeBarriers: call it outside a transaction");
  }
  const std::string sql =
      PurgeStatement(db.driver(), BarrierTableName(db.driver()), older_than_seconds, batch);
  if (sql.empty()) return Status::InvalidArgument("PurgeBarriers: unknown driver");
  int64_t total = 0;
  while (true) {
    auto n = db.Execute(sql);
    if (!n.ok()) return n.status();
    total += *n;
    if (*n < batch) return total;
  }
}

}  // namespace lynx::dtm
