// The PostgreSQL side of the shared SQL store core (store/sql/sql_store.h): its driver types and
// the statements the core runs (filled in postgres_store.cc from pg_sql.h).
#pragma once

#include "store/sql/sql_store.h"

namespace lynx::store::pg {

class PgConn;
class PgPool;
class PgParams;
class PgResult;

struct Dialect {
  using Conn = PgConn;
  using Pool = PgPool;
  using Params = PgParams;
  using Result = PgResult;
  static const sql::Statements kSql;
};

}  // namespace lynx::store::pg
