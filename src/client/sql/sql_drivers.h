// The SQL drivers behind OpenSqlDb (one file each: sqlite_db.cc, postgres_db.cc, mysql_db.cc) and
// the placeholder rewriting they share. Internal to the SDK.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <lynx/dtm/sql.h>

namespace lynx::dtm::internal {

StatusOr<std::unique_ptr<SqlDb>> OpenSqlite(const DBConf& conf);
StatusOr<std::unique_ptr<SqlDb>> OpenPostgres(const DBConf& conf);
StatusOr<std::unique_ptr<SqlDb>> OpenMysql(const DBConf& conf);

// Calls `on_placeholder(index)` for every `?` of `sql` outside quoted strings, identifiers and
// comments, and returns `sql` with each replaced by what the callback returned. `*count` receives
// the number of placeholders. `backslash_escapes`: a backslash escapes the next character inside
// quotes (MySQL), else it is an ordinary character (PostgreSQL's standard strings).
std::string RewritePlaceholders(const std::string& sql,
                                const std::function<std::string(size_t)>& on_placeholder,
                                size_t* count, bool backslash_escapes);

// InvalidArgument unless the statement has exactly `params` placeholders.
Status CheckParamCount(const std::string& sql, size_t placeholders, size_t params);

}  // namespace lynx::dtm::internal
