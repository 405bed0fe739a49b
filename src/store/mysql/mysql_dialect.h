// The MySQL side of the shared SQL store core (store/sql/sql_store.h): its driver types and
// the statements the core runs (filled in mysql_store.cc from mysql_sql.h).
#pragma once

#include "store/sql/sql_store.h"

namespace lynx::store::my {

class MyConn;
class MyPool;
class MyParams;
class MyResult;

struct Dialect {
  using Conn = MyConn;
  using Pool = MyPool;
  using Params = MyParams;
  using Result = MyResult;
  static const sql::Statements kSql;
};

}  // namespace lynx::store::my
