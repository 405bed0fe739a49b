// libpq helpers shared by dtmd's PostgreSQL store and the SDK's PostgreSQL driver (as
// sqlite_status.h is for SQLite): connection-string quoting and the description of a failed
// result. Each caller maps the failure to its own Status codes.
#pragma once

#include <libpq-fe.h>

#include <optional>
#include <string>

namespace lynx {

// libpq's connection string quoting: 'value' with \ and ' escaped.
std::string PgConnValue(const std::string& v);

struct PgFailure {
  std::string text;      // "<prefix>: <server message> (SQLSTATE xxxxx) in: <what>"
  std::string sqlstate;  // "" when the server sent none
  bool connection_lost = false;
};

// nullopt for a successful result (command, tuples or empty query); else what went wrong. `r`
// may be null (the connection's message is used).
std::optional<PgFailure> PgResultFailure(PGconn* conn, PGresult* r, const std::string& prefix,
                                         const std::string& what);

}  // namespace lynx
