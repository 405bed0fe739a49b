// Retention (Store.FinishedDataExpire): dtmd deletes finished transactions and their branches once
// they are older than the configured age, keeps unfinished ones, and keeps everything when the
// age is 0. Runs on whatever store LYNX_IT_STORE selects, like the rest of the suite.
#include <boost/json.hpp>

#include <string>

#include "harness.h"

namespace lynx::it {
namespace {

namespace bj = boost::json;

constexpr int64_t kDay = 86400;

int64_t PurgeOnce(const Dtmd& dtm, int64_t forward_s) {
  auto res = Http(dtm.port(), "POST",
                  WithQuery("/api/test/purgeOnce", {{"forward", std::to_string(forward_s)}}));
  EXPECT_EQ(res.status, 200) << res.body;
  bj::value v = res.Json();
  return v.is_object() ? v.as_object().at("purged").to_number<int64_t>() : -1;
}

class RetentionTest : public IntegrationTest {
 protected:
  // Three finished transactions and one that waits (a prepared msg).
  void MakeHistory(const std::string& prefix) {
    ASSERT_EQ(Submit(Saga(prefix + "-ok")).status, 200);
    ASSERT_TRUE(dtm_.WaitStatus(prefix + "-ok", kSucceed));
    ASSERT_EQ(Submit(Saga(prefix + "-rollback", "", "FAILURE")).status, 200);
    ASSERT_TRUE(dtm_.WaitStatus(prefix + "-rollback", kFailed));
    TransRequest msg = Msg(prefix + "-msg");
    ASSERT_EQ(Submit(msg).status, 200);
    ASSERT_TRUE(dtm_.WaitStatus(prefix + "-msg", kSucceed));
    ASSERT_EQ(Prepare(Msg(prefix + "-waiting")).status, 200);
  }
};

TEST_F(RetentionTest, PurgesFinishedTransactionsOlderThanTheAge) {
  LYNX_DTMD_ONLY("retention is a dtmd feature (purgeOnce test hook)");
  SubscribeHttpTrans();
  MakeHistory("r");
  // Younger than a day: nothing goes.
  EXPECT_EQ(PurgeOnce(dtm_, 0), 0);
  EXPECT_EQ(PurgeOnce(dtm_, kDay - 60), 0);
  EXPECT_TRUE(dtm_.Exists("r-ok"));
  // The attempt history of the saga is written behind its calls: await it before purging.
  auto attempts = [&](const char* gid) {
    bj::value v = dtm_.Get("attempts", {{"gid", gid}}).Json();
    return v.is_object() ? v.at("attempts").as_array().size() : size_t{0};
  };
  ASSERT_TRUE(WaitUntil([&] { return attempts("r-ok") == 2; }));
  // A day and a minute later the three finished ones go, with their branches and attempts.
  EXPECT_EQ(PurgeOnce(dtm_, kDay + 60), 3);
  for (const char* gone : {"r-ok", "r-rollback", "r-msg"}) {
    EXPECT_FALSE(dtm_.Exists(gone)) << gone;
    EXPECT_EQ(dtm_.Status(gone), "") << gone;
    EXPECT_TRUE(dtm_.BranchStatuses(gone).empty()) << gone;
    EXPECT_EQ(attempts(gone), 0u) << gone;
  }
  EXPECT_EQ(dtm_.Status("r-waiting"), kPrepared);
  EXPECT_EQ(PurgeOnce(dtm_, 10 * kDay), 0);
  // The topic (a KV entry) is not history.
  EXPECT_EQ(Submit(Msg("r-after")).status, 200);
  EXPECT_TRUE(dtm_.WaitStatus("r-after", kSucceed));
  // A purged gid may be used again.
  EXPECT_EQ(Submit(Saga("r-ok")).status, 200);
  EXPECT_TRUE(dtm_.WaitStatus("r-ok", kSucceed));
}

class RetentionBatchTest : public RetentionTest {
 protected:
  DtmdOptions Options() const override {
    DtmdOptions o;
    o.store_yaml = "  PurgeBatch: 4\n";
    return o;
  }
};

// One round goes on while batches come back full.
TEST_F(RetentionBatchTest, ManyFinishedTransactionsGoInSeveralBatches) {
  LYNX_DTMD_ONLY("retention is a dtmd feature (purgeOnce test hook)");
  constexpr int kCount = 25;  // PurgeBatch 4 below: 7 store calls
  for (int i = 0; i < kCount; ++i) {
    const std::string gid = "batch-" + std::to_string(i);
    ASSERT_EQ(Submit(Saga(gid)).status, 200);
    ASSERT_TRUE(dtm_.WaitStatus(gid, kSucceed));
  }
  EXPECT_EQ(PurgeOnce(dtm_, kDay + 60), kCount);
  for (int i = 0; i < kCount; ++i) EXPECT_FALSE(dtm_.Exists("batch-" + std::to_string(i)));
}

class RetentionOffTest : public RetentionTest {
 protected:
  DtmdOptions Options() const override {
    DtmdOptions o;
    o.store_yaml = "  FinishedDataExpire: 0\n";
    return o;
  }
};

TEST_F(RetentionOffTest, ZeroKeepsEverything) {
  LYNX_DTMD_ONLY("retention is a dtmd feature (purgeOnce test hook)");
  SubscribeHttpTrans();
  MakeHistory("off");
  EXPECT_EQ(PurgeOnce(dtm_, 100 * kDay), 0);
  for (const char* kept : {"off-ok", "off-rollback", "off-msg", "off-waiting"}) {
    EXPECT_TRUE(dtm_.Exists(kept)) << kept;
  }
}

// The background loop (no test hook): with a one-second age, a finished transaction disappears
// within a few purge rounds while an unfinished one stays.
class RetentionLoopTest : public RetentionTest {
 protected:
  DtmdOptions Options() const override {
    DtmdOptions o;
    o.store_yaml = "  FinishedDataExpire: 1\n  PurgeInterval: 1\n";
    return o;
  }
};

TEST_F(RetentionLoopTest, BackgroundLoopPurges) {
  LYNX_DTMD_ONLY("retention is a dtmd feature");
  SubscribeHttpTrans();
  MakeHistory("loop");
  EXPECT_TRUE(WaitUntil([&] { return !dtm_.Exists("loop-ok"); }, std::chrono::seconds(20)));
  EXPECT_TRUE(WaitUntil([&] { return !dtm_.Exists("loop-msg"); }, std::chrono::seconds(20)));
  EXPECT_FALSE(dtm_.Exists("loop-rollback"));
  EXPECT_EQ(dtm_.Status("loop-waiting"), kPrepared);
}

}  // namespace
}  // namespace lynx::it
