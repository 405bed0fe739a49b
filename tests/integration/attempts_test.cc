// The attempt history (docs/operations.md): every call dtmd makes for a transaction is recorded —
// first calls, retries, compensations, msg back-checks — with outcome, HTTP status and reply,
// kept per branch up to Attempts.KeepPerBranch, readable at /api/dtmsvr/attempts on every store,
// and purged with the transaction.
#include <boost/json.hpp>

#include <string>
#include <vector>

#include "harness.h"

namespace lynx::it {
namespace {

namespace bj = boost::json;

std::string S(const bj::value& v) { return v.is_string() ? std::string(v.get_string()) : ""; }

class AttemptsTest : public IntegrationTest {
 protected:
  bj::array Attempts(const std::string& gid) const {
    auto res = dtm_.Get("attempts", {{"gid", gid}});
    EXPECT_EQ(res.status, 200) << res.body;
    bj::value v = res.Json();
    if (!v.is_object() || !v.as_object().contains("attempts")) return {};
    return v.at("attempts").as_array();
  }
  // The history is written behind the calls: awaits `n` attempts of gid.
  bj::array AwaitAttempts(const std::string& gid, size_t n) const {
    bj::array got;
    EXPECT_TRUE(WaitUntil([&] {
      got = Attempts(gid);
      return got.size() >= n;
    })) << "attempts of "
        << gid << ": " << bj::serialize(got);
    return got;
  }
  static std::vector<std::string> Keys(const bj::array& attempts) {
    std::vector<std::string> out;
    for (const auto& a : attempts) {
      out.push_back(S(a.at("branch_id")) + "/" + S(a.at("op")) + "/" + S(a.at("outcome")) + "/" +
                    std::to_string(a.at("code").to_number<int64_t>()));
    }
    return out;
  }
};

TEST_F(AttemptsTest, EveryCallOfASagaIsRecordedWithItsOutcome) {
  LYNX_DTMD_ONLY("the attempt history is a dtmd feature");
  const std::string gid = TestName();
  busi_.Script("TransIn", {"ERROR"});  // the first call fails, the retry succeeds
  ASSERT_EQ(Submit(Saga(gid)).status, 200);
  ASSERT_TRUE(dtm_.WaitPasses(gid, 1));
  EXPECT_EQ(dtm_.CronOnce(60), gid);
  ASSERT_TRUE(dtm_.WaitStatus(gid, kSucceed));
  bj::array got = AwaitAttempts(gid, 3);
  EXPECT_EQ(Keys(got), (std::vector<std::string>{"01/action/SUCCESS/200", "02/action/ERROR/500",
                                                 "02/action/SUCCESS/200"}));
  const bj::object& failed = got.at(1).as_object();
  EXPECT_EQ(S(failed.at("target")), busi_.Url("TransIn"));
  EXPECT_FALSE(S(failed.at("detail")).empty());
  EXPECT_GE(failed.at("duration_ms").to_number<int64_t>(), 0);
  EXPECT_FALSE(S(failed.at("start_time")).empty());
  EXPECT_EQ(S(failed.at("owner")).rfind("dtmd-", 0), 0u) << S(failed.at("owner"));
  // Ids give the order of the calls.
  EXPECT_LT(got.at(0).at("id").to_number<int64_t>(), got.at(2).at("id").to_number<int64_t>());
}

TEST_F(AttemptsTest, CompensationsAndFailuresAreRecordedToo) {
  LYNX_DTMD_ONLY("the attempt history is a dtmd feature");
  const std::string gid = TestName();
  ASSERT_EQ(Submit(Saga(gid, "", "FAILURE")).status, 200);
  ASSERT_TRUE(dtm_.WaitStatus(gid, kFailed));
  bj::array got = AwaitAttempts(gid, 4);
  std::vector<std::string> keys = Keys(got);
  EXPECT_EQ(keys.size(), 4u);
  for (const char* want : {"01/action/SUCCESS/200", "02/action/FAILURE/409",
                           "02/compensate/SUCCESS/200", "01/compensate/SUCCESS/200"}) {
    EXPECT_NE(std::find(keys.begin(), keys.end(), want), keys.end()) << want;
  }
}

TEST_F(AttemptsTest, UnknownGidHasNoAttemptsAndGidIsRequired) {
  LYNX_DTMD_ONLY("the attempt history is a dtmd feature");
  EXPECT_TRUE(Attempts("no-such-gid").empty());
  EXPECT_NE(dtm_.Get("attempts", {}).status, 200);
}

class AttemptsBoundTest : public AttemptsTest {
 protected:
  DtmdOptions Options() const override {
    DtmdOptions o;
    o.extra_yaml = "Attempts:\n  KeepPerBranch: 2\n";
    return o;
  }
};

// A branch retried again and again keeps only its newest attempts.
TEST_F(AttemptsBoundTest, OnlyTheNewestAttemptsOfABranchAreKept) {
  LYNX_DTMD_ONLY("the attempt history is a dtmd feature");
  const std::string gid = TestName();
  busi_.Script("TransIn", {"ERROR", "ONGOING", "ERROR"});
  ASSERT_EQ(Submit(Saga(gid)).status, 200);
  ASSERT_TRUE(dtm_.WaitPasses(gid, 1));
  for (int64_t forward : {60, 200, 600}) EXPECT_EQ(dtm_.CronOnce(forward), gid);
  ASSERT_TRUE(dtm_.WaitStatus(gid, kSucceed));
  // TransIn was called 4 times (ERROR, ONGOING, ERROR, SUCCESS): the newest stay, at most 2
  // retries and the final call (2 in all when the last retry and the success were written in
  // one batch).
  EXPECT_EQ(busi_.Calls("TransIn", gid).size(), 4u);
  bj::array got;
  ASSERT_TRUE(WaitUntil([&] {
    got = Attempts(gid);
    return !got.empty() && S(got.back().at("outcome")) == "SUCCESS" &&
           S(got.back().at("branch_id")) == "02";
  }));
  std::vector<std::string> keys = Keys(got);
  ASSERT_GE(keys.size(), 3u);
  EXPECT_LE(keys.size(), 4u);
  EXPECT_EQ(keys.front(), "01/action/SUCCESS/200");
  const std::vector<std::string> newest(keys.end() - 2, keys.end());
  EXPECT_EQ(newest, (std::vector<std::string>{"02/action/ERROR/500", "02/action/SUCCESS/200"}));
  if (keys.size() == 4) {
    EXPECT_EQ(keys[1], "02/action/ONGOING/425");
  }
}

}  // namespace
}  // namespace lynx::it
