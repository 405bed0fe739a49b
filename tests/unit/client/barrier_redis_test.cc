// The Redis barrier (dtm-protocol.md §8.5) against the real redis-server of scripts/test.sh:
// adjustment, insufficient balance, duplicate request, empty compensation blocking a late action,
// msg DUPLICATED after the back-check, and QueryPrepared.
#include <gtest/gtest.h>

#include <lynx/dtm/barrier.h>
#include <lynx/dtm/redis.h>

#include "../../support/test_databases.h"

namespace lynx::dtm {
namespace {

class BarrierRedisTest : public testing::Test {
 protected:
  void SetUp() override {
    auto port = testing_dbs::RedisPort();
    LYNX_REQUIRE_SERVER(port.has_value(), "redis");
    auto rd = RedisDb::Connect(testing_dbs::Host(), *port);
    ASSERT_TRUE(rd.ok()) << rd.status().message();
    rd_.emplace(std::move(*rd));
    suffix_ = testing_dbs::UniqueSuffix();
    key_ = "account-" + suffix_;
    ASSERT_TRUE(rd_->Command({"SET", key_, "100"}).ok());
  }

  BranchBarrier Make(const std::string& trans_type, const std::string& op,
                     const std::string& branch_id = "01") {
    auto bb = BranchBarrier::From(trans_type, "gid-" + suffix_, branch_id, op);
    EXPECT_TRUE(bb.ok());
    return *bb;
  }
  std::string Balance() { return rd_->Command({"GET", key_})->str; }

  std::optional<RedisDb> rd_;
  std::string suffix_;
  std::string key_;
};

TEST_F(BarrierRedisTest, AdjustsOnceAndARepeatDoesNothing) {
  BranchBarrier bb = Make("saga", "action");
  ASSERT_TRUE(bb.RedisCheckAdjustAmount(*rd_, key_, -30, 60).ok());
  EXPECT_EQ(Balance(), "70");
  BranchBarrier again = Make("saga", "action");
  ASSERT_TRUE(again.RedisCheckAdjustAmount(*rd_, key_, -30, 60).ok());
  EXPECT_EQ(Balance(), "70");
  auto ttl = rd_->Command({"TTL", "gid-" + suffix_ + "-01-action-01"});
  ASSERT_TRUE(ttl.ok());
  EXPECT_GT(ttl->integer, 0);
  EXPECT_LE(ttl->integer, 60);
}

TEST_F(BarrierRedisTest, InsufficientBalanceOrMissingKeyIsAFailure) {
  BranchBarrier bb = Make("saga", "action");
  EXPECT_TRUE(bb.RedisCheckAdjustAmount(*rd_, key_, -101, 60).IsFailure());
  EXPECT_EQ(Balance(), "100");
  BranchBarrier missing = Make("saga", "action", "02");
  EXPECT_TRUE(missing.RedisCheckAdjustAmount(*rd_, key_ + "-none", 5, 60).IsFailure());
}

TEST_F(BarrierRedisTest, EmptyCompensationBlocksTheLateAction) {
  BranchBarrier compensate = Make("saga", "compensate");
  ASSERT_TRUE(compensate.RedisCheckAdjustAmount(*rd_, key_, 30, 60).ok());
  EXPECT_EQ(Balance(), "100");  // the action never ran: nothing to give back
  BranchBarrier action = Make("saga", "action");
  ASSERT_TRUE(action.RedisCheckAdjustAmount(*rd_, key_, -30, 60).ok());
  EXPECT_EQ(Balance(), "100");  // hanging action: ignored
}

TEST_F(BarrierRedisTest, CancelAfterTryGivesBack) {
  BranchBarrier try_bb = Make("tcc", "try");
  ASSERT_TRUE(try_bb.RedisCheckAdjustAmount(*rd_, key_, -30, 60).ok());
  BranchBarrier cancel = Make("tcc", "cancel");
  ASSERT_TRUE(cancel.RedisCheckAdjustAmount(*rd_, key_, 30, 60).ok());
  EXPECT_EQ(Balance(), "100");
}

TEST_F(BarrierRedisTest, QueryPreparedFirstMakesTheLocalTransactionDuplicated) {
  BranchBarrier check = Make("msg", "msg", "00");
  EXPECT_TRUE(check.RedisQueryPrepared(*rd_, 60).IsFailure());
  BranchBarrier local = Make("msg", "msg", "00");
  Status st = local.RedisCheckAdjustAmount(*rd_, key_, -30, 60);
  EXPECT_TRUE(IsDuplicated(st)) << st.message();
  EXPECT_EQ(Balance(), "100");
}

TEST_F(BarrierRedisTest, LocalTransactionFirstMakesQueryPreparedSucceed) {
  BranchBarrier local = Make("msg", "msg", "00");
  ASSERT_TRUE(local.RedisCheckAdjustAmount(*rd_, key_, -30, 60).ok());
  BranchBarrier check = Make("msg", "msg", "00");
  EXPECT_TRUE(check.RedisQueryPrepared(*rd_, 60).ok());
  EXPECT_EQ(Balance(), "70");
}

TEST_F(BarrierRedisTest, BadExpiryAndUnreachableServerAreErrors) {
  BranchBarrier bb = Make("saga", "action");
  EXPECT_EQ(bb.RedisCheckAdjustAmount(*rd_, key_, -1, 0).code(), StatusCode::kInvalidArgument);
  auto unreachable = RedisDb::Connect("127.0.0.1", 1, 500);
  EXPECT_EQ(unreachable.status().code(), StatusCode::kUnavailable);
}

}  // namespace
}  // namespace lynx::dtm
