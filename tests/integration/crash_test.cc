// Crash recovery with the embedded store (the default driver): dtmd is killed with SIGKILL while
// transactions are in flight, restarted on the same data dir, and the cron must finish every
// transaction it acknowledged, applying each branch at least once and never compensating a saga
// whose actions all succeed.
#include <boost/json.hpp>

#include <atomic>
#include <iostream>
#include <map>
#include <mutex>
#include <thread>
#include <tuple>

#include "harness.h"

namespace lynx::it {
namespace {

namespace bj = boost::json;

class CrashTest : public IntegrationTest {
 protected:
  // The embedded store (dtmd's default driver, DTM's "boltdb") whatever LYNX_IT_STORE says.
  DtmdOptions Options() const override {
    DtmdOptions o;
    o.store = "boltdb";
    return o;
  }
};

// Every stored transaction (pages through /all).
std::vector<bj::object> AllTransactions(const Dtmd& dtm) {
  std::vector<bj::object> out;
  std::string position;
  for (int page = 0; page < 1000; ++page) {
    Params params = {{"limit", "50"}};
    if (!position.empty()) params.emplace_back("position", position);
    auto res = dtm.Get("all", params);
    EXPECT_EQ(res.status, 200) << res.body;
    bj::value v = res.Json();
    if (!v.is_object()) break;
    const bj::value& ts = v.as_object().at("transactions");
    if (ts.is_array()) {
      for (const auto& t : ts.as_array()) out.push_back(t.as_object());
    }
    position = std::string(v.as_object().at("next_position").as_string());
    if (position.empty()) break;
  }
  return out;
}

TEST_F(CrashTest, KillDuringBranchCallThenRecover) {
  const std::string gid = TestName();
  busi_.Script("TransIn", {"HOLD:crash"});
  ASSERT_EQ(Submit(Saga(gid)).status, 200);
  // The pass is now inside the TransIn call.
  ASSERT_TRUE(WaitUntil([&] { return busi_.Calls("TransIn", gid).size() == 1; }));
  dtm_.Kill9();
  busi_.Release("crash");
  std::string err;
  ASSERT_TRUE(dtm_.Restart(&err)) << err;
  EXPECT_EQ(dtm_.Status(gid), kSubmitted);
  EXPECT_EQ(dtm_.BranchStatuses(gid), Statuses({kPrepared, kSucceed, kPrepared, kPrepared}))
      << "TransOut's success was recorded before TransIn started";
  EXPECT_EQ(dtm_.CronOnce(180), gid);
  EXPECT_EQ(dtm_.Status(gid), kSucceed);
  EXPECT_EQ(dtm_.BranchStatuses(gid), Statuses({kPrepared, kSucceed, kPrepared, kSucceed}));
  EXPECT_EQ(busi_.Calls("TransOut", gid).size(), 1u);
  EXPECT_EQ(busi_.Calls("TransIn", gid).size(), 2u);
  EXPECT_TRUE(busi_.Calls("TransOutRevert", gid).empty());
  EXPECT_TRUE(busi_.Calls("TransInRevert", gid).empty());
}

TEST_F(CrashTest, GracefulRestartKeepsState) {
  const std::string gid = TestName();
  busi_.Script("TransOut", {"ONGOING"});
  auto saga = Saga(gid);
  saga.branch_headers = {{"test_header", "kept"}};
  ASSERT_EQ(Submit(saga).status, 200);
  ASSERT_TRUE(dtm_.WaitPasses(gid, 1));
  ASSERT_EQ(dtm_.Status(gid), kSubmitted);
  std::string err;
  ASSERT_TRUE(dtm_.Restart(&err)) << err;
  EXPECT_EQ(dtm_.Status(gid), kSubmitted);
  EXPECT_EQ(dtm_.CronOnce(180), gid);
  EXPECT_EQ(dtm_.Status(gid), kSucceed);
  for (const auto& c : busi_.Calls("", gid)) {
    EXPECT_EQ(c.Header("test_header"), "kept") << "options survive a restart";
  }
}

TEST_F(CrashTest, KillDuringTccConfirm) {
  const std::string gid = TestName();
  TransRequest tcc;
  tcc.gid = gid;
  tcc.trans_type = "tcc";
  ASSERT_EQ(Prepare(tcc).status, 200);
  for (const auto& [id, confirm, cancel] :
       std::vector<std::tuple<std::string, std::string, std::string>>{
           {"01", "TransOutConfirm", "TransOutRevert"},
           {"02", "TransInConfirm", "TransInRevert"}}) {
    auto reg =
        dtm_.Post("registerBranch", bj::serialize(bj::object{{"gid", gid},
                                                             {"trans_type", "tcc"},
                                                             {"branch_id", id},
                                                             {"data", BusiPayload()},
                                                             {"confirm", busi_.Url(confirm)},
                                                             {"cancel", busi_.Url(cancel)}}));
    ASSERT_EQ(reg.status, 200) << reg.body;
  }
  busi_.Script("TransOutConfirm", {"HOLD:crash"});  // 02 confirms first, then 01 hangs
  ASSERT_EQ(Submit(tcc).status, 200);
  ASSERT_TRUE(WaitUntil([&] { return busi_.Calls("TransOutConfirm", gid).size() == 1; }));
  dtm_.Kill9();
  busi_.Release("crash");
  std::string err;
  ASSERT_TRUE(dtm_.Relaunch(&err)) << err;
  EXPECT_EQ(dtm_.Status(gid), kSubmitted);
  EXPECT_EQ(dtm_.BranchStatuses(gid), Statuses({kPrepared, kPrepared, kPrepared, kSucceed}));
  EXPECT_EQ(dtm_.CronOnce(180), gid);
  EXPECT_EQ(dtm_.Status(gid), kSucceed);
  EXPECT_EQ(dtm_.BranchStatuses(gid), Statuses({kPrepared, kSucceed, kPrepared, kSucceed}));
  EXPECT_EQ(busi_.Calls("TransInConfirm", gid).size(), 1u);
  EXPECT_EQ(busi_.Calls("TransOutConfirm", gid).size(), 2u);
  EXPECT_TRUE(busi_.Calls("TransOutRevert", gid).empty());
}

TEST_F(CrashTest, PreparedMsgAndTopicsSurviveKill) {
  const std::string gid = TestName();
  ASSERT_EQ(Prepare(Msg(gid)).status, 200);  // subscribes http_trans first
  dtm_.Kill9();
  std::string err;
  ASSERT_TRUE(dtm_.Relaunch(&err)) << err;
  EXPECT_EQ(dtm_.Status(gid), kPrepared);
  EXPECT_EQ(dtm_.CronOnce(60), gid);  // timed out: back-check, then the branches
  EXPECT_EQ(dtm_.Status(gid), kSucceed);
  EXPECT_EQ(busi_.Calls("QueryPrepared", gid).size(), 1u);
  // The topic was reloaded from the store: a new msg still resolves it.
  const std::string gid2 = gid + "-2";
  auto msg = Msg(gid2);
  msg.wait_result = true;
  EXPECT_EQ(Submit(msg).status, 200);
  EXPECT_EQ(dtm_.BranchStatuses(gid2), Statuses({kSucceed, kSucceed}));
}

TEST_F(CrashTest, SigtermWithBranchCallInFlight) {
  const std::string gid = TestName();
  busi_.Script("TransIn", {"HOLD:stop"});
  ASSERT_EQ(Submit(Saga(gid)).status, 200);
  ASSERT_TRUE(WaitUntil([&] { return busi_.Calls("TransIn", gid).size() == 1; }));
  EXPECT_EQ(dtm_.Stop(), std::optional<int>(0)) << "dtmd exits cleanly within the grace period";
  busi_.Release("stop");
  std::string err;
  ASSERT_TRUE(dtm_.Relaunch(&err)) << err;
  EXPECT_EQ(dtm_.CronOnce(180), gid);
  EXPECT_EQ(dtm_.Status(gid), kSucceed);
  EXPECT_EQ(busi_.Calls("TransOut", gid).size(), 1u);
}

TEST_F(CrashTest, KillNineUnderLoad) {
  constexpr int kThreads = 4;
  constexpr int kPerThread = 100;
  constexpr int kKillAfter = 80;        // acknowledged submits before the kill
  constexpr size_t kTransInCalls = 60;  // ... and branch calls made (some transactions done)
  // Mid-flight work: the first 40 TransIn calls answer ONGOING, every TransOut takes 5 ms.
  busi_.Script("TransIn", std::vector<std::string>(40, "ONGOING"));
  busi_.SetDefault("TransOut", "SLEEP:5");

  std::mutex mu;
  std::map<std::string, std::string> acked;  // gid -> trans_type, answered 200 before the kill
  std::atomic<int> acked_count{0};
  std::atomic<int> unexpected{0};
  const uint16_t port = dtm_.port();
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const std::string gid = "crash-" + std::to_string(t) + "-" + std::to_string(i);
        TransRequest r;
        r.gid = gid;
        if ((i + t) % 2 == 0) {
          r = Saga(gid);
        } else {
          r.trans_type = "msg";
          r.AddMsg(busi_.Url("TransOut"), BusiPayload());
          r.AddMsg(busi_.Url("TransIn"), BusiPayload());
          r.query_prepared = busi_.Url("QueryPrepared");
        }
        auto res = Http(port, "POST", "/api/dtmsvr/submit", r.Json(), {}, std::chrono::seconds(20));
        if (res.status == 0) break;  // dtmd is gone
        if (res.status != 200) {
          ++unexpected;
          continue;
        }
        std::lock_guard lock(mu);
        acked[gid] = r.trans_type;
        ++acked_count;
      }
    });
  }
  const bool reached = WaitUntil(
      [&] { return acked_count >= kKillAfter && busi_.Calls("TransIn").size() >= kTransInCalls; },
      std::chrono::seconds(60));
  dtm_.Kill9();
  for (auto& th : threads) th.join();
  ASSERT_TRUE(reached) << "only " << acked_count << " submits acknowledged before the deadline";
  EXPECT_EQ(unexpected, 0);

  std::string err;
  ASSERT_TRUE(dtm_.Restart(&err)) << err;
  // The kill must have caught work in flight, or this test proves little.
  int unfinished = 0;
  for (const auto& [gid, type] : acked) {
    const std::string st = dtm_.Status(gid);
    EXPECT_NE(st, "") << gid << " was acknowledged but is not stored";
    if (st != kSucceed) ++unfinished;
  }
  EXPECT_GT(unfinished, 0);
  std::cout << "[ stats    ] acknowledged " << acked.size() << ", unfinished at restart "
            << unfinished << "\n";
  busi_.Script("TransIn", {});
  busi_.SetDefault("TransOut", "");
  // Drive the cron until nothing is due any more.
  std::string last = "?";
  int passes = 0;
  const int max_passes = 10 * static_cast<int>(acked.size()) + 100;
  while (passes < max_passes) {
    last = dtm_.CronOnce(3600);
    if (last.empty()) break;
    ++passes;
  }
  ASSERT_EQ(last, "") << "the cron did not settle after " << passes << " passes";

  for (const auto& [gid, type] : acked) {
    SCOPED_TRACE(gid + " (" + type + ")");
    EXPECT_EQ(dtm_.Status(gid), kSucceed);
    if (type == "saga") {
      EXPECT_EQ(dtm_.BranchStatuses(gid), Statuses({kPrepared, kSucceed, kPrepared, kSucceed}));
      EXPECT_TRUE(busi_.Calls("TransOutRevert", gid).empty());
      EXPECT_TRUE(busi_.Calls("TransInRevert", gid).empty());
    } else {
      EXPECT_EQ(dtm_.BranchStatuses(gid), Statuses({kSucceed, kSucceed}));
    }
    EXPECT_GE(busi_.Calls("TransOut", gid).size(), 1u);
    EXPECT_GE(busi_.Calls("TransIn", gid).size(), 1u);
  }
  // Transactions whose submit was cut by the kill may exist too; none is left unfinished.
  for (const auto& t : AllTransactions(dtm_)) {
    EXPECT_EQ(std::string(t.at("status").as_string()), kSucceed)
        << std::string(t.at("gid").as_string());
  }
  EXPECT_TRUE(dtm_.Ping());
}

}  // namespace
}  // namespace lynx::it
