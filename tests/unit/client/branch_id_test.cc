// BranchIDGen (dtm-protocol.md §1.5): 01..99 per parent, nested ids, the two limits.
#include <gtest/gtest.h>

#include <lynx/dtm/trans_base.h>

namespace lynx::dtm {
namespace {

TEST(BranchIdGenTest, TopLevelCountsFrom01To99) {
  BranchIdGen gen;
  EXPECT_EQ(gen.CurrentSubBranchId(), "00");
  for (int i = 1; i <= 99; ++i) {
    auto id = gen.NewSubBranchId();
    ASSERT_TRUE(id.ok()) << i;
    char want[8];
    std::snprintf(want, sizeof want, "%02d", i);
    EXPECT_EQ(*id, want);
  }
  auto past = gen.NewSubBranchId();
  ASSERT_FALSE(past.ok());
  EXPECT_EQ(past.status().message(), "branch id is larger than 99");
  EXPECT_EQ(gen.CurrentSubBranchId(), "99");
}

TEST(BranchIdGenTest, NestedIdsAppendToTheParent) {
  BranchIdGen gen("01");
  EXPECT_EQ(*gen.NewSubBranchId(), "0101");
  EXPECT_EQ(*gen.NewSubBranchId(), "0102");
  BranchIdGen deeper("0102");
  EXPECT_EQ(*deeper.NewSubBranchId(), "010201");
}

TEST(BranchIdGenTest, ParentOfTwentyCharactersIsRefused) {
  BranchIdGen ok_gen(std::string(18, '1'));
  auto id = ok_gen.NewSubBranchId();
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(id->size(), 20u);
  BranchIdGen too_long(*id);
  auto refused = too_long.NewSubBranchId();
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().message(), "total branch id is longer than 20");
}

}  // namespace
}  // namespace lynx::dtm
