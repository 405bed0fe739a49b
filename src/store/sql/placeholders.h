// Numbered placeholders for drivers that only know '?'. The shared SQL store core binds each
// statement's parameters once, in one order, for PostgreSQL and MySQL alike; PostgreSQL reads
// "$1 ... $n" itself (a number may repeat), MySQL's statements are written the same way and
// rendered here, once per prepared statement, to '?' plus the parameter index of each '?'.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace lynx::store::sql {

struct PositionalSql {
  std::string text;        // every "$n" replaced by '?'
  std::vector<int> order;  // per '?', the 0-based index of the parameter it binds
  int params = 0;          // the highest n: how many parameters the statement takes
};

// "$n" outside quoted literals becomes '?'. A statement without "$" keeps its own '?'s, bound in
// order (order stays empty). Mixing both, "$0" or a gap in the numbers is a programming error,
// reported as empty text.
PositionalSql ToPositional(std::string_view sql);

}  // namespace lynx::store::sql
