// The numbered-placeholder rendering that lets the MySQL store run the shared SQL core's
// statements (store/sql/placeholders.h).
#include "store/sql/placeholders.h"

#include <gtest/gtest.h>

namespace lynx::store::sql {
namespace {

TEST(SqlPlaceholdersTest, NumbersBecomeQuestionMarksWithTheirParameterIndex) {
  PositionalSql p = ToPositional("UPDATE t SET a = $1, b = IF($1 = 'x', $2, b) WHERE c = $3");
  EXPECT_EQ(p.text, "UPDATE t SET a = ?, b = IF(? = 'x', ?, b) WHERE c = ?");
  EXPECT_EQ(p.order, (std::vector<int>{0, 0, 1, 2}));
  EXPECT_EQ(p.params, 3);
}

TEST(SqlPlaceholdersTest, MultiDigitNumbersAndOutOfOrderUse) {
  PositionalSql p = ToPositional(
      "SELECT 1 WHERE a=$2 AND b=$1 AND c=$10 AND d=$3 AND e=$4 AND f=$5 AND g=$6 "
      "AND h=$7 AND i=$8 AND j=$9");
  EXPECT_EQ(p.order, (std::vector<int>{1, 0, 9, 2, 3, 4, 5, 6, 7, 8}));
  EXPECT_EQ(p.params, 10);
}

TEST(SqlPlaceholdersTest, QuotedTextIsLeftAlone) {
  PositionalSql p = ToPositional("SELECT '$1', \"$2\", `$3`, $1");
  EXPECT_EQ(p.text, "SELECT '$1', \"$2\", `$3`, ?");
  EXPECT_EQ(p.order, (std::vector<int>{0}));
}

TEST(SqlPlaceholdersTest, PlainQuestionMarksKeepTheirOrder) {
  PositionalSql p = ToPositional("SELECT a FROM t WHERE b = ? AND c = ?");
  EXPECT_EQ(p.text, "SELECT a FROM t WHERE b = ? AND c = ?");
  EXPECT_TRUE(p.order.empty());
  EXPECT_EQ(ToPositional("SELECT 1").text, "SELECT 1");
}

TEST(SqlPlaceholdersTest, MistakesAreRefused) {
  EXPECT_TRUE(ToPositional("SELECT $1, ?").text.empty());        // mixed
  EXPECT_TRUE(ToPositional("SELECT $0").text.empty());           // no parameter 0
  EXPECT_TRUE(ToPositional("SELECT $1, $3").text.empty());       // $2 never bound
  EXPECT_FALSE(ToPositional("SELECT $1, $2, $2").text.empty());  // repeats are fine
}

}  // namespace
}  // namespace lynx::store::sql
