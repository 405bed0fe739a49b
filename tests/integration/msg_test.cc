// 2-phase messages over HTTP (dtm-protocol.md §5.3, §13.3) and topics (§2.11, §13.8).
//
// Note on cron passes: dtmd's cronOnce?forward=N moves the whole clock for the pass, so a touch
// made during it schedules the next pass at now + N + interval. Successive passes therefore use
// growing look-aheads where DTM's tests reuse the same one.
#include <boost/json.hpp>

#include <thread>

#include "harness.h"

namespace lynx::it {
namespace {

namespace bj = boost::json;

using MsgTest = IntegrationTest;

TEST_F(MsgTest, TopicWithTwoSubscribers) {
  const std::string gid = TestName();
  busi_.Script("TransOut", {"HOLD:msg"});  // keeps the pass in flight until released
  ASSERT_EQ(Submit(Msg(gid)).status, 200);
  EXPECT_EQ(dtm_.Status(gid), kSubmitted);
  busi_.Release("msg");
  ASSERT_TRUE(dtm_.WaitPasses(gid, 1));
  EXPECT_EQ(dtm_.BranchStatuses(gid), Statuses({kSucceed, kSucceed}));
  EXPECT_EQ(dtm_.Status(gid), kSucceed);
  for (const char* route : {"TransOut", "TransIn"}) {
    auto calls = busi_.Calls(route, gid);
    ASSERT_EQ(calls.size(), 1u) << route;
    EXPECT_EQ(calls[0].method, "POST");
    EXPECT_EQ(calls[0].Query("trans_type"), "msg");
    EXPECT_EQ(calls[0].Query("op"), "action");
    EXPECT_EQ(calls[0].body, BusiPayload());
  }
  EXPECT_EQ(busi_.Calls("TransOut", gid)[0].Query("branch_id"), "01-01");
  EXPECT_EQ(busi_.Calls("TransIn", gid)[0].Query("branch_id"), "01-02");
  EXPECT_TRUE(busi_.Calls("QueryPrepared", gid).empty());
}

TEST_F(MsgTest, PreparedBackCheckOngoingThenSubmitted) {
  const std::string gid = TestName();
  ASSERT_EQ(Prepare(Msg(gid)).status, 200);
  EXPECT_EQ(dtm_.Status(gid), kPrepared);
  busi_.Script("QueryPrepared", {"ONGOING"});
  EXPECT_EQ(dtm_.CronOnce(180), gid);
  EXPECT_EQ(dtm_.Status(gid), kPrepared);
  busi_.Script("TransIn", {"ONGOING"});
  EXPECT_EQ(dtm_.CronOnce(360), gid);
  EXPECT_EQ(dtm_.Status(gid), kSubmitted);
  EXPECT_EQ(dtm_.CronOnce(600), gid);
  EXPECT_EQ(dtm_.BranchStatuses(gid), Statuses({kSucceed, kSucceed}));
  EXPECT_EQ(dtm_.Status(gid), kSucceed);

  auto checks = busi_.Calls("QueryPrepared", gid);
  ASSERT_EQ(checks.size(), 2u);
  for (const auto& c : checks) {
    EXPECT_EQ(c.method, "GET") << "the back-check has no body";
    EXPECT_EQ(c.Query("branch_id"), "00");
    EXPECT_EQ(c.Query("op"), "msg");
    EXPECT_EQ(c.body, "");
  }
  EXPECT_EQ(busi_.Calls("TransOut", gid).size(), 1u);
  EXPECT_EQ(busi_.Calls("TransIn", gid).size(), 2u);
}

TEST_F(MsgTest, PreparedBackCheckFailure) {
  const std::string gid = TestName();
  ASSERT_EQ(Prepare(Msg(gid)).status, 200);
  busi_.Script("QueryPrepared", {"ONGOING"});
  EXPECT_EQ(dtm_.CronOnce(360), gid);
  EXPECT_EQ(dtm_.Status(gid), kPrepared);
  busi_.Script("QueryPrepared", {"FAILURE"});
  EXPECT_EQ(dtm_.CronOnce(600), gid);
  EXPECT_EQ(dtm_.BranchStatuses(gid), Statuses({kPrepared, kPrepared}));
  EXPECT_EQ(dtm_.Status(gid), kFailed);
  EXPECT_TRUE(busi_.Calls("TransOut", gid).empty());
  EXPECT_TRUE(busi_.Calls("TransIn", gid).empty());
}

TEST_F(MsgTest, BackCheckOldStyleFailure) {
  // A pre-1.10 back-check answers 200 {"dtm_result":"FAILURE"}: the msg fails all the same.
  const std::string gid = TestName();
  ASSERT_EQ(Prepare(Msg(gid)).status, 200);
  busi_.Script("QueryPrepared", {"OLD_FAILURE"});
  EXPECT_EQ(dtm_.CronOnce(60), gid);
  EXPECT_EQ(dtm_.Status(gid), kFailed);
  EXPECT_TRUE(busi_.Calls("TransOut", gid).empty());
}

TEST_F(MsgTest, DuplicatePrepareAndLatePrepare) {
  const std::string gid = TestName();
  auto msg = Msg(gid);
  EXPECT_EQ(Prepare(msg).status, 200);
  EXPECT_EQ(Prepare(msg).status, 200);
  EXPECT_EQ(Submit(msg).status, 200);
  ASSERT_TRUE(dtm_.WaitPasses(gid, 1));
  EXPECT_EQ(dtm_.Status(gid), kSucceed);
  auto late = Prepare(msg);
  EXPECT_EQ(late.status, 409) << late.body;
  EXPECT_NE(late.body.find(R"("dtm_result":"FAILURE")"), std::string::npos) << late.body;
  EXPECT_NE(late.body.find("current status 'succeed', cannot prepare"), std::string::npos);
  // The branches created at prepare time were used, not duplicated.
  EXPECT_EQ(dtm_.BranchStatuses(gid), Statuses({kSucceed, kSucceed}));
}

TEST_F(MsgTest, AbortPrepared) {
  const std::string gid = TestName();
  auto msg = Msg(gid);
  ASSERT_EQ(Prepare(msg).status, 200);
  EXPECT_EQ(Abort(msg).status, 200);
  EXPECT_EQ(dtm_.Status(gid), kFailed);
  EXPECT_EQ(Submit(msg).status, 409);
  EXPECT_TRUE(busi_.Calls("", gid).empty());
}

TEST_F(MsgTest, UnknownTopic) {
  const std::string gid = TestName();
  TransRequest msg;
  msg.gid = gid;
  msg.trans_type = "msg";
  msg.AddMsg("topic://non_existent_topic_TestMsgTopicNotFoundFailed", BusiPayload());
  msg.query_prepared = busi_.Url("QueryPrepared");
  auto res = Submit(msg);
  EXPECT_NE(res.status, 200);
  EXPECT_NE(res.body.find("topic not found"), std::string::npos) << res.body;
  EXPECT_FALSE(dtm_.Exists(gid));
}

TEST_F(MsgTest, DefaultTimeout) {
  const std::string gid = TestName();
  ASSERT_EQ(Prepare(Msg(gid)).status, 200);
  EXPECT_EQ(dtm_.CronOnce(15), gid);  // due (after RetryInterval) but not timed out (35 s)
  EXPECT_EQ(dtm_.Status(gid), kPrepared);
  EXPECT_TRUE(busi_.Calls("QueryPrepared", gid).empty());
  EXPECT_EQ(dtm_.CronOnce(60), gid);
  EXPECT_EQ(dtm_.Status(gid), kSucceed);
  EXPECT_EQ(busi_.Calls("QueryPrepared", gid).size(), 1u);
}

TEST_F(MsgTest, CustomTimeout) {
  const std::string gid = TestName();
  auto msg = Msg(gid);
  msg.timeout_to_fail = 120;
  ASSERT_EQ(Prepare(msg).status, 200);
  EXPECT_EQ(dtm_.CronOnce(15), gid);
  EXPECT_EQ(dtm_.Status(gid), kPrepared);
  EXPECT_EQ(dtm_.CronOnce(60), gid);
  EXPECT_EQ(dtm_.Status(gid), kPrepared) << "60 s < timeout_to_fail 120 s";
  EXPECT_TRUE(busi_.Calls("QueryPrepared", gid).empty());
  EXPECT_EQ(dtm_.CronOnce(180), gid);
  EXPECT_EQ(dtm_.Status(gid), kSucceed);
}

TEST_F(MsgTest, CustomTimeoutBackCheckFailure) {
  const std::string gid = TestName();
  auto msg = Msg(gid);
  msg.timeout_to_fail = 120;
  ASSERT_EQ(Prepare(msg).status, 200);
  EXPECT_EQ(dtm_.CronOnce(15), gid);
  EXPECT_EQ(dtm_.Status(gid), kPrepared);
  EXPECT_EQ(dtm_.CronOnce(60), gid);
  EXPECT_EQ(dtm_.Status(gid), kPrepared);
  busi_.Script("QueryPrepared", {"FAILURE"});
  EXPECT_EQ(dtm_.CronOnce(180), gid);
  EXPECT_EQ(dtm_.Status(gid), kFailed);
  EXPECT_EQ(dtm_.BranchStatuses(gid), Statuses({kPrepared, kPrepared}));
}

TEST_F(MsgTest, Concurrent) {
  const std::string gid = TestName();
  auto msg = Msg(gid);
  msg.concurrent = true;
  // Both branches are held unanswered: only parallel calls can both arrive before the first
  // one's request timeout (3 s).
  busi_.Script("TransOut", {"HOLD:both"});
  busi_.Script("TransIn", {"HOLD:both"});
  ASSERT_EQ(Submit(msg).status, 200);
  EXPECT_EQ(dtm_.Status(gid), kSubmitted);
  EXPECT_TRUE(WaitUntil([&] { return busi_.Calls("", gid).size() == 2; }, std::chrono::seconds(2)))
      << "a concurrent msg calls its branches in parallel";
  busi_.Release("both");
  ASSERT_TRUE(dtm_.WaitPasses(gid, 1));
  EXPECT_EQ(dtm_.BranchStatuses(gid), Statuses({kSucceed, kSucceed}));
  EXPECT_EQ(dtm_.Status(gid), kSucceed);
}

TEST_F(MsgTest, Delay) {
  const std::string gid = TestName();
  TransRequest msg;
  msg.gid = gid;
  msg.trans_type = "msg";
  msg.AddMsg(busi_.Url("TransOut"), BusiPayload());
  msg.AddMsg(busi_.Url("TransIn"), BusiPayload());
  msg.query_prepared = busi_.Url("QueryPrepared");
  msg.custom_data = R"({"delay":10})";
  ASSERT_EQ(Submit(msg).status, 200);
  ASSERT_TRUE(dtm_.WaitPasses(gid, 1));
  EXPECT_EQ(dtm_.BranchStatuses(gid), Statuses({kPrepared, kPrepared}));
  EXPECT_EQ(dtm_.Status(gid), kSubmitted);
  EXPECT_EQ(dtm_.CronOnce(0), "");
  EXPECT_EQ(dtm_.CronOnce(8), "");
  EXPECT_EQ(dtm_.CronOnce(12), gid);
  EXPECT_EQ(dtm_.BranchStatuses(gid), Statuses({kSucceed, kSucceed}));
  EXPECT_EQ(dtm_.Status(gid), kSucceed);
  EXPECT_EQ(busi_.Calls("TransOut", gid).size(), 1u);
}

// msg_webhook_test: TransIn errors three times; the alert fires after the third consecutive
// failure (back-off 10 -> 20 -> 40 -> 80 s, log2(80/10) = 3 = AlertRetryLimit).
void RunWebhookScenario(Busi& busi, Dtmd& dtm, const std::string& gid, TransRequest msg) {
  busi.Script("TransIn", {"ERROR"});
  ASSERT_EQ(dtm.Post("submit", msg.Json()).status, 200);
  EXPECT_EQ(dtm.Status(gid), kSubmitted);
  ASSERT_TRUE(dtm.WaitPasses(gid, 1));
  busi.Script("TransIn", {"ERROR"});
  EXPECT_EQ(dtm.CronOnce(180), gid);
  EXPECT_TRUE(busi.Calls("AlertWebHook").empty()) << "no alert after two failures";
  busi.Script("TransIn", {"ERROR"});
  EXPECT_EQ(dtm.CronOnce(400), gid);
  auto alerts = busi.Calls("AlertWebHook");
  ASSERT_EQ(alerts.size(), 1u);
  bj::value v = bj::parse(alerts[0].body);
  ASSERT_TRUE(v.is_object()) << alerts[0].body;
  const bj::object& o = v.as_object();
  EXPECT_EQ(o.at("gid").as_string(), gid);
  EXPECT_EQ(o.at("status").as_string(), "submitted");
  EXPECT_EQ(o.at("branch").as_string(), busi.Url("TransIn"));
  EXPECT_EQ(o.at("retry_count").to_number<int64_t>(), 3);
  EXPECT_NE(std::string(o.at("error").as_string()).find("injected error"), std::string::npos);
  EXPECT_EQ(alerts[0].method, "POST");
  EXPECT_EQ(dtm.CronOnce(600), gid);
  EXPECT_EQ(dtm.BranchStatuses(gid), Statuses({kSucceed, kSucceed}));
  EXPECT_EQ(dtm.Status(gid), kSucceed);
}

TEST_F(MsgTest, AlertWebhook) {
  const std::string gid = TestName();
  RunWebhookScenario(busi_, dtm_, gid, Msg(gid));
}

TEST_F(MsgTest, AlertWebhookError) {
  const std::string gid = TestName();
  busi_.SetDefault("AlertWebHook", "ERROR");  // a failing webhook must not break processing
  RunWebhookScenario(busi_, dtm_, gid, Msg(gid));
}

TEST_F(MsgTest, WaitResult) {
  const std::string gid = TestName();
  auto msg = Msg(gid);
  msg.wait_result = true;
  auto res = Submit(msg);
  EXPECT_EQ(res.status, 200) << res.body;
  EXPECT_EQ(dtm_.Status(gid), kSucceed) << "final when submit returns";

  // ONGOING is reported as "wait result not return success" with 425 (DTM: 409, FAILURE).
  const std::string gid2 = gid + "-ongoing";
  auto msg2 = Msg(gid2);
  msg2.wait_result = true;
  busi_.Script("TransIn", {"ONGOING"});
  auto res2 = Submit(msg2);
  EXPECT_EQ(res2.status, 425) << res2.body;
  EXPECT_EQ(dtm_.Status(gid2), kSubmitted);
  EXPECT_EQ(dtm_.CronOnce(180), gid2);
  EXPECT_EQ(dtm_.Status(gid2), kSucceed);
}

TEST_F(MsgTest, FailingBranchNeverRollsBack) {
  // A submitted msg only moves forward: FAILURE from a step is retried, not compensated.
  const std::string gid = TestName();
  busi_.Script("TransIn", {"FAILURE", "FAILURE"});
  ASSERT_EQ(Submit(Msg(gid)).status, 200);
  ASSERT_TRUE(dtm_.WaitPasses(gid, 1));
  EXPECT_EQ(dtm_.Status(gid), kSubmitted);
  EXPECT_EQ(dtm_.BranchStatuses(gid), Statuses({kSucceed, kPrepared}));
  EXPECT_EQ(dtm_.CronOnce(180), gid);
  EXPECT_EQ(dtm_.Status(gid), kSubmitted);
  EXPECT_EQ(dtm_.CronOnce(600), gid);
  EXPECT_EQ(dtm_.Status(gid), kSucceed);
  EXPECT_EQ(busi_.Calls("TransIn", gid).size(), 3u);
  EXPECT_EQ(busi_.Calls("TransOut", gid).size(), 1u);
}

// ---------------------------------------------------------------------------------------------
// Topics (§13.8)

class TopicTest : public IntegrationTest {
 protected:
  int Subscribe(const std::string& topic, const std::string& url) {
    return dtm_.Get("subscribe", {{"topic", topic}, {"url", url}, {"remark", "for test"}}).status;
  }
  int Unsubscribe(const std::string& topic, const std::string& url) {
    return dtm_.Get("unsubscribe", {{"topic", topic}, {"url", url}}).status;
  }
  int Delete(const std::string& topic) {
    return Http(dtm_.port(), "DELETE", "/api/dtmsvr/topic/" + topic).status;
  }
};

TEST_F(TopicTest, SubscribeUnsubscribeDelete) {
  const std::string topic = "test_topic_TestTopicNormal";
  EXPECT_EQ(Subscribe(topic, "http://dtm/test1"), 200);
  EXPECT_NE(Subscribe(topic, "http://dtm/test1"), 200) << "repeated subscription";
  EXPECT_NE(Subscribe("", "http://dtm/test1"), 200) << "empty topic";
  EXPECT_NE(Subscribe(topic, ""), 200) << "empty url";
  EXPECT_EQ(Subscribe(topic, "http://dtm/test2"), 200);

  EXPECT_EQ(Unsubscribe(topic, "http://dtm/test1"), 200);
  EXPECT_NE(Unsubscribe(topic, "http://dtm/test1"), 200) << "repeated unsubscription";
  EXPECT_NE(Unsubscribe("", "http://dtm/test1"), 200) << "empty topic";
  EXPECT_NE(Unsubscribe(topic, ""), 200) << "empty url";
  EXPECT_NE(Unsubscribe("non_existent_topic", "http://dtm/test1"), 200) << "unknown topic";
  EXPECT_EQ(Unsubscribe(topic, "http://dtm/test2"), 200) << "the last url";
  EXPECT_NE(Unsubscribe(topic, "http://dtm/test2"), 200) << "the topic is empty";

  EXPECT_NE(Delete("non_existent_testDeleteTopic"), 200);
  EXPECT_EQ(Delete(topic), 200);
  auto kv = dtm_.Get("queryKV", {{"cat", "topics"}, {"key", topic}});
  EXPECT_TRUE(kv.Json().as_object().at("kv").as_array().empty()) << kv.body;
}

TEST_F(TopicTest, ConcurrentSubscribes) {
  const std::string topic = "concurrent_topic_TestConcurrentUpdateTopic";
  constexpr int kConcurrent = 20;
  std::vector<int> statuses(kConcurrent);
  std::vector<std::thread> threads;
  for (int i = 0; i < kConcurrent; ++i) {
    threads.emplace_back([&, i] {
      statuses[i] =
          Http(dtm_.port(), "GET",
               WithQuery("/api/dtmsvr/subscribe", {{"topic", topic},
                                                   {"url", "http://dtm/test" + std::to_string(i)},
                                                   {"remark", "for test"}}))
              .status;
    });
  }
  for (auto& t : threads) t.join();
  std::vector<std::string> subscribed;
  for (int i = 0; i < kConcurrent; ++i) {
    EXPECT_TRUE(statuses[i] == 200 || statuses[i] == 500) << statuses[i];
    if (statuses[i] == 200) subscribed.push_back("http://dtm/test" + std::to_string(i));
  }
  ASSERT_FALSE(subscribed.empty());
  for (const auto& url : subscribed) EXPECT_EQ(Unsubscribe(topic, url), 200) << url;
  auto res = dtm_.Get("queryKV", {{"cat", "topics"}, {"key", topic}});
  bj::value v = res.Json();
  ASSERT_TRUE(v.is_object()) << res.body;
  const bj::array& kv = v.as_object().at("kv").as_array();
  ASSERT_EQ(kv.size(), 1u);
  EXPECT_EQ(kv[0].as_object().at("version").to_number<int64_t>(),
            2 * static_cast<int64_t>(subscribed.size()));
  EXPECT_EQ(kv[0].as_object().at("v").as_string(), "[]");
}

TEST_F(TopicTest, MsgUsesNewSubscriberImmediately) {
  const std::string gid = TestName();
  ASSERT_EQ(Subscribe("one_sub", busi_.Url("TransIn")), 200);
  TransRequest msg;
  msg.gid = gid;
  msg.trans_type = "msg";
  msg.AddMsg("topic://one_sub", BusiPayload());
  msg.query_prepared = busi_.Url("QueryPrepared");
  ASSERT_EQ(Submit(msg).status, 200);
  ASSERT_TRUE(dtm_.WaitPasses(gid, 1));
  EXPECT_EQ(dtm_.Status(gid), kSucceed);
  // A topic with exactly one subscriber yields a plain branch id.
  auto calls = busi_.Calls("TransIn", gid);
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].Query("branch_id"), "01");
}

}  // namespace
}  // namespace lynx::it
