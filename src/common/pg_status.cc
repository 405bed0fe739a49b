#include "common/pg_status.h"

namespace lynx {

std::string PgConnValue(const std::string& v) {
  std::string out = "'";
  for (char c : v) {
    if (c == '\\' || c == '\'') out += '\\';
    out += c;
  }
  return out + "'";
}

std::optional<PgFailure> PgResultFailure(PGconn* conn, PGresult* r, const std::string& prefix,
                                         const std::string& what) {
  ExecStatusType st = r != nullptr ? PQresultStatus(r) : PGRES_FATAL_ERROR;
  if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == PGRES_EMPTY_QUERY) {
    return std::nullopt;
  }
  std::string message = r != nullptr ? PQresultErrorMessage(r) : PQerrorMessage(conn);
  while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) {
    message.pop_back();
  }
  const char* state = r != nullptr ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
  PgFailure f;
  f.sqlstate = state != nullptr ? state : "";
  f.text = prefix + ": " + message + (f.sqlstate.empty() ? "" : " (SQLSTATE " + f.sqlstate + ")") +
           " in: " + what;
  f.connection_lost = PQstatus(conn) != CONNECTION_OK;
  return f;
}

}  // namespace lynx
