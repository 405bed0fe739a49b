// Saga over HTTP (dtm-protocol.md §5.2, §13.2). Statuses are in storage order [c1,a1,c2,a2].
#include <boost/json.hpp>

#include <algorithm>
#include <regex>
#include <thread>

#include "harness.h"

namespace lynx::it {
namespace {

namespace bj = boost::json;

using SagaTest = IntegrationTest;

// The routes of the calls in arrival order.
std::vector<std::string> Routes(const std::vector<BusiCall>& calls) {
  std::vector<std::string> out;
  for (const auto& c : calls) out.push_back(c.route);
  return out;
}

TEST_F(SagaTest, Normal) {
  const std::string gid = TestName();
  auto res = Submit(Saga(gid));
  ASSERT_EQ(res.status, 200) << res.body;
  ASSERT_TRUE(dtm_.WaitPasses(gid, 1));
  EXPECT_EQ(dtm_.BranchStatuses(gid), Statuses({kPrepared, kSucceed, kPrepared, kSucceed}));
  EXPECT_EQ(dtm_.Status(gid), kSucceed);
  EXPECT_EQ(dtm_.RollbackReason(gid), "");

  auto calls = busi_.Calls("", gid);
  ASSERT_EQ(Routes(calls), (std::vector<std::string>{"TransOut", "TransIn"}));
  const char* ids[] = {"01", "02"};
  for (size_t i = 0; i < calls.size(); ++i) {
    const BusiCall& c = calls[i];
    EXPECT_EQ(c.method, "POST");
    EXPECT_EQ(c.Query("gid"), gid);
    EXPECT_EQ(c.Query("trans_type"), "saga");
    EXPECT_EQ(c.Query("branch_id"), ids[i]);
    EXPECT_EQ(c.Query("op"), "action");
    EXPECT_EQ(c.query.count("dtm"), 0u) << "the server never sends dtm";
    EXPECT_EQ(c.body, BusiPayload());
    EXPECT_NE(c.Header("content-type").find("application/json"), std::string::npos);
  }
}

TEST_F(SagaTest, RollbackWithReason) {
  const std::string gid = TestName();
  busi_.Script("TransIn", {"FAILURE:Insufficient balance"});
  ASSERT_EQ(Submit(Saga(gid)).status, 200);
  ASSERT_TRUE(dtm_.WaitPasses(gid, 1));
  EXPECT_EQ(dtm_.BranchStatuses(gid), Statuses({kSucceed, kSucceed, kSucceed, kFailed}));
  EXPECT_EQ(dtm_.Status(gid), kFailed);
  const std::string reason = dtm_.RollbackReason(gid);
  EXPECT_NE(reason.find("Insufficient balance"), std::string::npos) << reason;
  EXPECT_EQ(reason.rfind("url:" + busi_.Url("TransIn") + " return failed:", 0), 0u) << reason;
  // The failed action's compensation is called too, and compensations run in reverse order.
  EXPECT_EQ(Routes(busi_.Calls("", gid)),
            (std::vector<std::string>{"TransOut", "TransIn", "TransInRevert", "TransOutRevert"}));
  for (const auto& c : busi_.Calls("TransInRevert", gid)) {
    EXPECT_EQ(c.Query("op"), "compensate");
    EXPECT_EQ(c.Query("branch_id"), "02");
    EXPECT_EQ(c.body, BusiPayload());
  }
}

TEST_F(SagaTest, OngoingThenCron) {
  const std::string gid = TestName();
  busi_.Script("TransOut", {"ONGOING"});
  ASSERT_EQ(Submit(Saga(gid)).status, 200);
  ASSERT_TRUE(dtm_.WaitPasses(gid, 1));
  EXPECT_EQ(dtm_.BranchStatuses(gid), Statuses({kPrepared, kPrepared, kPrepared, kPrepared}));
  EXPECT_EQ(dtm_.Status(gid), kSubmitted);
  EXPECT_EQ(dtm_.CronOnce(180), gid);
  EXPECT_EQ(dtm_.BranchStatuses(gid), Statuses({kPrepared, kSucceed, kPrepared, kSucceed}));
  EXPECT_EQ(dtm_.Status(gid), kSucceed);
  EXPECT_EQ(dtm_.RollbackReason(gid), "");
  EXPECT_EQ(Routes(busi_.Calls("", gid)),
            (std::vector<std::string>{"TransOut", "TransOut", "TransIn"}));
}

TEST_F(SagaTest, RollbackWithCompensationErrorOnce) {
  const std::string gid = TestName();
  busi_.Script("TransOutRevert", {"ERROR"});
  ASSERT_EQ(Submit(Saga(gid, "", "FAILURE")).status, 200);
  ASSERT_TRUE(dtm_.WaitPasses(gid, 1));
  EXPECT_EQ(dtm_.Status(gid), kAborting);
  EXPECT_EQ(dtm_.CronOnce(180), gid);
  EXPECT_EQ(dtm_.Status(gid), kFailed);
  EXPECT_EQ(dtm_.BranchStatuses(gid), Statuses({kSucceed, kSucceed, kSucceed, kFailed}));
  EXPECT_EQ(busi_.Calls("TransOutRevert", gid).size(), 2u);
  EXPECT_EQ(busi_.Calls("TransInRevert", gid).size(), 1u);
}

TEST_F(SagaTest, DuplicateSubmit) {
  const std::string gid = TestName();
  auto saga = Saga(gid);
  busi_.Script("TransOut", {"ONGOING"});
  ASSERT_EQ(Submit(saga).status, 200);
  ASSERT_TRUE(dtm_.WaitPasses(gid, 1));
  ASSERT_EQ(dtm_.Status(gid), kSubmitted);
  auto again = Submit(saga);  // while submitted: accepted and processed again
  EXPECT_EQ(again.status, 200) << again.body;
  ASSERT_TRUE(dtm_.WaitPasses(gid, 2));
  EXPECT_EQ(dtm_.Status(gid), kSucceed);
  EXPECT_EQ(busi_.Calls("TransOut", gid).size(), 2u);
  auto late = Submit(saga);  // a succeeded transaction refuses submit
  EXPECT_EQ(late.status, 409) << late.body;
  EXPECT_EQ(dtm_.Status(gid), kSucceed);
}

TEST_F(SagaTest, EmptyActionUrl) {
  const std::string gid = TestName();
  TransRequest saga;
  saga.gid = gid;
  saga.trans_type = "saga";
  saga.Add(busi_.Url("TransOut"), "", BusiPayload());
  saga.Add("", busi_.Url("TransInRevert"), BusiPayload());
  ASSERT_EQ(Submit(saga).status, 200);
  ASSERT_TRUE(dtm_.WaitPasses(gid, 1));
  EXPECT_EQ(dtm_.BranchStatuses(gid), Statuses({kPrepared, kSucceed, kPrepared, kSucceed}));
  EXPECT_EQ(dtm_.Status(gid), kSucceed);
  EXPECT_EQ(Routes(busi_.Calls("", gid)), (std::vector<std::string>{"TransOut"}));
}

TEST_F(SagaTest, LegacyStepsData) {
  // Bodies from SDKs before payloads existed: the payload sits in steps[].data.
  const std::string gid = TestName();
  const std::string data = R"({\"amount\":30,\"transInResult\":\"SUCCESS\"})";
  std::string body = R"({"gid":")" + gid + R"(","trans_type":"saga","steps":[)";
  body += R"({"action":")" + busi_.Url("TransOut") + R"(","compensate":")" +
          busi_.Url("TransOutRevert") + R"(","data":")" + data + R"("},)";
  body += R"({"action":")" + busi_.Url("TransIn") + R"(","compensate":")" +
          busi_.Url("TransInRevert") + R"(","data":")" + data + R"("}]})";
  auto res = dtm_.Post("submit", body);
  ASSERT_EQ(res.status, 200) << res.body;
  ASSERT_TRUE(dtm_.WaitPasses(gid, 1));
  EXPECT_EQ(dtm_.BranchStatuses(gid), Statuses({kPrepared, kSucceed, kPrepared, kSucceed}));
  EXPECT_EQ(dtm_.Status(gid), kSucceed);
  auto calls = busi_.Calls("TransIn", gid);
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].body, R"({"amount":30,"transInResult":"SUCCESS"})");
}

TEST_F(SagaTest, ConcurrentNormal) {
  const std::string gid = TestName();
  auto saga = Saga(gid);
  saga.custom_data = R"({"orders":{},"concurrent":true})";
  ASSERT_EQ(Submit(saga).status, 200);
  ASSERT_TRUE(dtm_.WaitPasses(gid, 1));
  EXPECT_EQ(dtm_.BranchStatuses(gid), Statuses({kPrepared, kSucceed, kPrepared, kSucceed}));
  EXPECT_EQ(dtm_.Status(gid), kSucceed);
}

TEST_F(SagaTest, ConcurrentRollbackCompensationOngoingOnce) {
  const std::string gid = TestName();
  auto saga = Saga(gid, "FAILURE", "");
  saga.custom_data = R"({"orders":{},"concurrent":true})";
  busi_.Script("TransOutRevert", {"ONGOING"});
  ASSERT_EQ(Submit(saga).status, 200);
  ASSERT_TRUE(dtm_.WaitPasses(gid, 1));
  EXPECT_EQ(dtm_.Status(gid), kAborting);
  EXPECT_EQ(dtm_.CronOnce(180), gid);
  EXPECT_EQ(dtm_.Status(gid), kFailed);
  auto st = dtm_.BranchStatuses(gid);
  ASSERT_EQ(st.size(), 4u);
  // a2 ran concurrently with the failing a1, so both compensations must have succeeded.
  EXPECT_EQ(st[0], kSucceed);
  EXPECT_EQ(st[1], kFailed);
  EXPECT_EQ(st[2], kSucceed);
  EXPECT_EQ(busi_.Calls("TransInRevert", gid).size(), 1u);
  EXPECT_EQ(busi_.Calls("TransOutRevert", gid).size(), 2u);
}

TEST_F(SagaTest, ConcurrentOrderFirstActionFails) {
  const std::string gid = TestName();
  auto saga = Saga(gid, "FAILURE", "");
  saga.custom_data = R"({"orders":{"1":[0]},"concurrent":true})";
  ASSERT_EQ(Submit(saga).status, 200);
  ASSERT_TRUE(dtm_.WaitPasses(gid, 1));
  EXPECT_EQ(dtm_.Status(gid), kFailed);
  EXPECT_EQ(dtm_.BranchStatuses(gid), Statuses({kSucceed, kFailed, kPrepared, kPrepared}));
  EXPECT_TRUE(busi_.Calls("TransIn", gid).empty()) << "step 1 depends on step 0";
  EXPECT_TRUE(busi_.Calls("TransInRevert", gid).empty());
  EXPECT_EQ(busi_.Calls("TransOutRevert", gid).size(), 1u);
}

TEST_F(SagaTest, ConcurrentOrderSecondActionFails) {
  const std::string gid = TestName();
  auto saga = Saga(gid, "", "FAILURE");
  saga.custom_data = R"({"orders":{"1":[0]},"concurrent":true})";
  ASSERT_EQ(Submit(saga).status, 200);
  ASSERT_TRUE(dtm_.WaitPasses(gid, 1));
  EXPECT_EQ(dtm_.Status(gid), kFailed);
  EXPECT_EQ(dtm_.BranchStatuses(gid), Statuses({kSucceed, kSucceed, kSucceed, kFailed}));
  // With the order, compensation of step 0 waits for step 1's.
  EXPECT_EQ(Routes(busi_.Calls("", gid)),
            (std::vector<std::string>{"TransOut", "TransIn", "TransInRevert", "TransOutRevert"}));
}

TEST_F(SagaTest, ConcurrentCommittedOngoing) {
  const std::string gid = TestName();
  auto saga = Saga(gid);
  saga.custom_data = R"({"orders":{},"concurrent":true})";
  busi_.Script("TransOut", {"ONGOING"});
  ASSERT_EQ(Submit(saga).status, 200);
  ASSERT_TRUE(dtm_.WaitPasses(gid, 1));
  EXPECT_EQ(dtm_.BranchStatuses(gid), Statuses({kPrepared, kPrepared, kPrepared, kSucceed}));
  EXPECT_EQ(dtm_.Status(gid), kSubmitted);
  EXPECT_EQ(dtm_.CronOnce(180), gid);
  EXPECT_EQ(dtm_.BranchStatuses(gid), Statuses({kPrepared, kSucceed, kPrepared, kSucceed}));
  EXPECT_EQ(dtm_.Status(gid), kSucceed);
  EXPECT_EQ(busi_.Calls("TransIn", gid).size(), 1u) << "a succeeded action is not re-run";
}

// genSaga1: one step TransOut/TransOutRevert.
TransRequest OneStepSaga(const Busi& busi, const std::string& gid) {
  TransRequest r;
  r.gid = gid;
  r.trans_type = "saga";
  r.Add(busi.Url("TransOut"), busi.Url("TransOutRevert"), BusiPayload());
  return r;
}

TEST_F(SagaTest, RetryIntervalOngoing) {
  const std::string gid = TestName();
  auto saga = OneStepSaga(busi_, gid);
  saga.retry_interval = 150;
  busi_.Script("TransOut", {"ONGOING"});
  ASSERT_EQ(Submit(saga).status, 200);
  ASSERT_TRUE(dtm_.WaitPasses(gid, 1));
  EXPECT_EQ(dtm_.CronOnce(140), "") << "ONGOING keeps the 150 s interval";
  EXPECT_EQ(dtm_.CronOnce(180), gid);
  EXPECT_EQ(dtm_.Status(gid), kSucceed);
  EXPECT_EQ(dtm_.BranchStatuses(gid), Statuses({kPrepared, kSucceed}));
}

TEST_F(SagaTest, RetryIntervalError) {
  const std::string gid = TestName();
  auto saga = OneStepSaga(busi_, gid);
  saga.retry_interval = 150;
  busi_.Script("TransOut", {"ERROR"});
  ASSERT_EQ(Submit(saga).status, 200);
  ASSERT_TRUE(dtm_.WaitPasses(gid, 1));
  EXPECT_EQ(dtm_.Status(gid), kSubmitted);
  EXPECT_EQ(dtm_.BranchStatuses(gid), Statuses({kPrepared, kPrepared}));
  EXPECT_EQ(dtm_.CronOnce(180), "") << "an error backs off to 300 s";
  EXPECT_EQ(dtm_.CronOnce(360), gid);
  EXPECT_EQ(dtm_.Status(gid), kSucceed);
  EXPECT_EQ(dtm_.BranchStatuses(gid), Statuses({kPrepared, kSucceed}));
}

TEST_F(SagaTest, TimeoutToFail) {
  const std::string gid = TestName();
  auto saga = Saga(gid);
  saga.timeout_to_fail = 1800;
  busi_.Script("TransOut", {"ONGOING"});
  ASSERT_EQ(Submit(saga).status, 200);
  ASSERT_TRUE(dtm_.WaitPasses(gid, 1));
  EXPECT_EQ(dtm_.Status(gid), kSubmitted);
  EXPECT_EQ(dtm_.CronOnce(3600), gid);
  EXPECT_EQ(dtm_.Status(gid), kFailed);
  // c1 runs: the ONGOING a1 may have taken effect.
  EXPECT_EQ(dtm_.BranchStatuses(gid), Statuses({kSucceed, kPrepared, kPrepared, kPrepared}));
  const std::string reason = dtm_.RollbackReason(gid);
  EXPECT_TRUE(std::regex_match(reason, std::regex(R"(^Timeout after \d+ seconds$)"))) << reason;
  EXPECT_TRUE(busi_.Calls("TransIn", gid).empty());
}

TEST_F(SagaTest, RequestTimeoutWithWaitResult) {
  // The branch answers after 3.5 s: within request_timeout=6, beyond the default 3 s.
  const std::string gid = TestName();
  TransRequest saga;
  saga.gid = gid;
  saga.trans_type = "saga";
  saga.Add(busi_.Url("TransOut"), "", BusiPayload());
  saga.wait_result = true;
  saga.request_timeout = 6;
  busi_.Script("TransOut", {"SLEEP:3500"});
  auto res = Submit(saga);
  EXPECT_EQ(res.status, 200) << res.body;
  EXPECT_EQ(dtm_.Status(gid), kSucceed);

  const std::string gid2 = gid + "-default";
  saga.gid = gid2;
  saga.request_timeout = 0;
  busi_.Script("TransOut", {"SLEEP:3500"});
  auto res2 = Submit(saga);
  // Undecided (retried later): ONGOING, where DTM answers FAILURE (docs/compatibility.md).
  EXPECT_EQ(res2.status, 425) << "the default RequestTimeout (3 s) expires: " << res2.body;
  EXPECT_EQ(dtm_.Status(gid2), kSubmitted);
}

TEST_F(SagaTest, WaitResultNormal) {
  const std::string gid = TestName();
  auto saga = Saga(gid);
  saga.wait_result = true;
  auto res = Submit(saga);
  EXPECT_EQ(res.status, 200) << res.body;
  // Already final when submit returns.
  EXPECT_EQ(dtm_.BranchStatuses(gid), Statuses({kPrepared, kSucceed, kPrepared, kSucceed}));
  EXPECT_EQ(dtm_.Status(gid), kSucceed);
  EXPECT_TRUE(dtm_.WaitPasses(gid, 1));
}

TEST_F(SagaTest, WaitResultOngoing) {
  const std::string gid = TestName();
  auto saga = Saga(gid);
  saga.wait_result = true;
  busi_.Script("TransOut", {"ONGOING"});
  auto res = Submit(saga);
  EXPECT_EQ(res.status, 425) << "a pending saga with wait_result is ONGOING: " << res.body;
  EXPECT_NE(res.body.find("wait result not return success"), std::string::npos) << res.body;
  EXPECT_EQ(dtm_.BranchStatuses(gid), Statuses({kPrepared, kPrepared, kPrepared, kPrepared}));
  EXPECT_EQ(dtm_.Status(gid), kSubmitted);
  EXPECT_EQ(dtm_.CronOnce(180), gid);
  EXPECT_EQ(dtm_.BranchStatuses(gid), Statuses({kPrepared, kSucceed, kPrepared, kSucceed}));
  EXPECT_EQ(dtm_.Status(gid), kSucceed);
}

TEST_F(SagaTest, WaitResultRollback) {
  const std::string gid = TestName();
  auto saga = Saga(gid, "", "FAILURE");
  saga.wait_result = true;
  auto res = Submit(saga);
  EXPECT_EQ(res.status, 409) << res.body;
  EXPECT_NE(res.body.find("TransIn returned FAILURE"), std::string::npos) << res.body;
  EXPECT_EQ(dtm_.Status(gid), kFailed);
  EXPECT_EQ(dtm_.BranchStatuses(gid), Statuses({kSucceed, kSucceed, kSucceed, kFailed}));
  EXPECT_NE(dtm_.RollbackReason(gid).find("TransIn returned FAILURE"), std::string::npos);
}

TEST_F(SagaTest, BranchHeaders) {
  const std::string gid = TestName();
  TransRequest saga;
  saga.gid = gid;
  saga.trans_type = "saga";
  saga.branch_headers = {{"test_header", "test"}};
  saga.wait_result = true;
  saga.Add(busi_.Url("TransOutHeaderYes"), "", "");
  auto res = Submit(saga);
  EXPECT_EQ(res.status, 200) << res.body;
  EXPECT_EQ(dtm_.Status(gid), kSucceed);
  auto calls = busi_.Calls("TransOutHeaderYes", gid);
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].method, "GET") << "an empty body is sent with GET";

  // Without headers the header-free route is satisfied (and the header-checking one is not).
  TransRequest plain;
  plain.gid = gid + "-no";
  plain.trans_type = "saga";
  plain.wait_result = true;
  plain.Add(busi_.Url("TransOutHeaderNo"), "", "");
  EXPECT_EQ(Submit(plain).status, 200);
  EXPECT_EQ(dtm_.Status(plain.gid), kSucceed);
}

TEST_F(SagaTest, BranchHeadersOnCronRetry) {
  const std::string gid = TestName();
  TransRequest saga;
  saga.gid = gid;
  saga.trans_type = "saga";
  saga.branch_headers = {{"test_header", "test"}};
  saga.Add(busi_.Url("TransOutHeaderYes"), "", "");
  busi_.Script("TransOutHeaderYes", {"ONGOING"});
  ASSERT_EQ(Submit(saga).status, 200);
  ASSERT_TRUE(dtm_.WaitPasses(gid, 1));
  EXPECT_EQ(dtm_.Status(gid), kSubmitted);
  EXPECT_EQ(dtm_.CronOnce(180), gid);
  EXPECT_EQ(dtm_.Status(gid), kSucceed);
  auto calls = busi_.Calls("TransOutHeaderYes", gid);
  ASSERT_EQ(calls.size(), 2u);
  for (const auto& c : calls) EXPECT_EQ(c.Header("test_header"), "test");
}

TEST_F(SagaTest, RetryLimitEnough) {
  const std::string gid = TestName();
  auto saga = Saga(gid);
  saga.wait_result = true;
  saga.retry_limit = 3;
  busi_.Script("TransIn", {"ERROR", "ERROR", "ERROR"});
  auto res = Submit(saga);
  EXPECT_EQ(res.status, 200) << res.body;
  EXPECT_EQ(dtm_.Status(gid), kSucceed);
  EXPECT_EQ(dtm_.BranchStatuses(gid), Statuses({kPrepared, kSucceed, kPrepared, kSucceed}));
  EXPECT_EQ(busi_.Calls("TransIn", gid).size(), 4u);
}

TEST_F(SagaTest, RetryLimitExhausted) {
  const std::string gid = TestName();
  auto saga = Saga(gid);
  saga.wait_result = true;
  saga.retry_limit = 1;
  busi_.Script("TransIn", {"ERROR", "ERROR", "ERROR"});
  auto res = Submit(saga);
  EXPECT_NE(res.status, 200) << res.body;
  EXPECT_EQ(dtm_.Status(gid), kFailed);
  EXPECT_EQ(dtm_.BranchStatuses(gid), Statuses({kSucceed, kSucceed, kSucceed, kPrepared}));
  EXPECT_EQ(dtm_.RollbackReason(gid), "RetryCount is greater than RetryLimit, RetryLimit: 1");
  EXPECT_EQ(busi_.Calls("TransIn", gid).size(), 2u);
}

TEST_F(SagaTest, GidWithUrlSpecialCharacters) {
  // The gid travels in the branch URL's query: it must arrive percent-decoded, unchanged.
  const std::string gid = "a b&c=d%e?f/g+h#i\u00e9";
  auto saga = Saga(gid);
  saga.wait_result = true;
  auto res = Submit(saga);
  EXPECT_EQ(res.status, 200) << res.body;
  EXPECT_EQ(dtm_.Status(gid), kSucceed);
  auto calls = busi_.Calls("TransOut", gid);
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].Query("gid"), gid);
}

TEST_F(SagaTest, BranchUrlWithQuery) {
  // DTM merges its parameters into the URL's own query.
  const std::string gid = TestName();
  TransRequest saga;
  saga.gid = gid;
  saga.trans_type = "saga";
  saga.wait_result = true;
  saga.Add(busi_.Url("TransOut") + "?tenant=t1&x=a%20b", "", BusiPayload());
  ASSERT_EQ(Submit(saga).status, 200);
  auto calls = busi_.Calls("TransOut", gid);
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].Query("tenant"), "t1");
  EXPECT_EQ(calls[0].Query("x"), "a b");
  EXPECT_EQ(calls[0].Query("branch_id"), "01");
  EXPECT_EQ(calls[0].Query("op"), "action");
}

TEST_F(SagaTest, ManySteps) {
  const std::string gid = TestName();
  TransRequest saga;
  saga.gid = gid;
  saga.trans_type = "saga";
  for (int i = 0; i < 12; ++i) {
    saga.Add(busi_.Url("TransOut"), busi_.Url("TransOutRevert"), BusiPayload());
  }
  saga.wait_result = true;
  ASSERT_EQ(Submit(saga).status, 200);
  auto calls = busi_.Calls("TransOut", gid);
  ASSERT_EQ(calls.size(), 12u);
  for (size_t i = 0; i < calls.size(); ++i) {
    const std::string id = (i + 1 < 10 ? "0" : "") + std::to_string(i + 1);
    EXPECT_EQ(calls[i].Query("branch_id"), id) << "steps run in order";
  }
  EXPECT_EQ(dtm_.BranchStatuses(gid).size(), 24u);
}

TEST_F(SagaTest, WaitResultCompensationPending) {
  // a2 fails, c1 keeps erroring: the saga is aborting and submit reports the failure reason.
  const std::string gid = TestName();
  auto saga = Saga(gid, "", "FAILURE");
  saga.wait_result = true;
  busi_.SetDefault("TransOutRevert", "ERROR");
  auto res = Submit(saga);
  EXPECT_EQ(res.status, 409) << res.body;
  EXPECT_NE(res.body.find("TransIn returned FAILURE"), std::string::npos) << res.body;
  EXPECT_EQ(dtm_.Status(gid), kAborting);
  EXPECT_EQ(dtm_.BranchStatuses(gid), Statuses({kPrepared, kSucceed, kSucceed, kFailed}));
  busi_.SetDefault("TransOutRevert", "");
  EXPECT_EQ(dtm_.CronOnce(180), gid);
  EXPECT_EQ(dtm_.Status(gid), kFailed);
}

TEST_F(SagaTest, ConcurrentClients) {
  // Many clients at once, each waiting for its saga: every one succeeds and every branch runs
  // exactly once.
  constexpr int kThreads = 8;
  constexpr int kPerThread = 25;
  std::vector<std::thread> threads;
  std::vector<int> failures(kThreads, 0);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        auto saga = Saga("load-" + std::to_string(t) + "-" + std::to_string(i));
        saga.wait_result = true;
        if (Http(dtm_.port(), "POST", "/api/dtmsvr/submit", saga.Json()).status != 200) {
          ++failures[t];
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(failures[t], 0) << "thread " << t;
  EXPECT_EQ(busi_.Calls("TransOut").size(), size_t{kThreads * kPerThread});
  EXPECT_EQ(busi_.Calls("TransIn").size(), size_t{kThreads * kPerThread});
  EXPECT_TRUE(busi_.Calls("TransOutRevert").empty());
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_EQ(dtm_.Status("load-" + std::to_string(t) + "-0"), kSucceed);
  }
}

TEST_F(SagaTest, UnreachableBranchIsRetried) {
  // Connection refused is a retryable error: nothing is marked, the saga waits for the cron.
  const std::string gid = TestName();
  TransRequest saga;
  saga.gid = gid;
  saga.trans_type = "saga";
  saga.wait_result = true;
  saga.Add("http://127.0.0.1:" + std::to_string(UnusedPort()) + "/api/busi/TransOut", "",
           BusiPayload());
  auto res = Submit(saga);
  EXPECT_EQ(res.status, 425) << res.body;  // undecided: ONGOING
  EXPECT_EQ(dtm_.Status(gid), kSubmitted);
  EXPECT_EQ(dtm_.BranchStatuses(gid), Statuses({kPrepared, kPrepared}));
  EXPECT_EQ(dtm_.CronOnce(180), gid);
  EXPECT_EQ(dtm_.Status(gid), kSubmitted);
  EXPECT_TRUE(dtm_.Ping());
}

TEST_F(SagaTest, ConcurrentDuplicateSubmits) {
  // The same saga submitted by many clients at once: one insert wins, the others re-process or
  // are refused once it succeeded; the end state is one succeeded saga, never compensated.
  const std::string gid = TestName();
  const std::string body = Saga(gid).Json();
  constexpr int kClients = 10;
  std::vector<int> statuses(kClients);
  std::vector<std::thread> threads;
  for (int i = 0; i < kClients; ++i) {
    threads.emplace_back(
        [&, i] { statuses[i] = Http(dtm_.port(), "POST", "/api/dtmsvr/submit", body).status; });
  }
  for (auto& th : threads) th.join();
  for (int s : statuses) EXPECT_TRUE(s == 200 || s == 409) << s;
  EXPECT_TRUE(WaitUntil([&] { return dtm_.Status(gid) == kSucceed; }));
  // Let every accepted submit's pass finish before reading the branches.
  const int64_t accepted = std::count(statuses.begin(), statuses.end(), 200);
  EXPECT_TRUE(dtm_.WaitPasses(gid, accepted));
  EXPECT_EQ(dtm_.BranchStatuses(gid), Statuses({kPrepared, kSucceed, kPrepared, kSucceed}));
  EXPECT_GE(busi_.Calls("TransOut", gid).size(), 1u);
  EXPECT_TRUE(busi_.Calls("TransOutRevert", gid).empty());
  EXPECT_TRUE(busi_.Calls("TransInRevert", gid).empty());
  EXPECT_EQ(dtm_.CronOnce(3600), "");
}

TEST_F(SagaTest, GrpcProtocolWithHttpUrls) {
  // HTTP is used whenever the URL is http://, whatever the transaction's protocol.
  const std::string gid = TestName();
  auto saga = Saga(gid);
  saga.wait_result = true;
  bj::object body = bj::parse(saga.Json()).as_object();
  body["protocol"] = "grpc";
  auto res = dtm_.Post("submit", bj::serialize(body));
  EXPECT_EQ(res.status, 200) << res.body;
  EXPECT_EQ(dtm_.Status(gid), kSucceed);
  EXPECT_EQ(busi_.Calls("TransIn", gid).size(), 1u);
}

}  // namespace
}  // namespace lynx::it
