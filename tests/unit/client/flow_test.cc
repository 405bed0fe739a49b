// Client flows against a scripted transport: Msg::DoAndSubmit (dtm-protocol.md §9.2 steps 1-6),
// TCC/XA global transactions (submit, abort with rollback_reason on error and on exception),
// nested TCC from a query, DTMClient's preconfigured transactions and pass-through headers, and
// the helper's result waiting.
#include <gtest/gtest.h>

#include <lynx/dtm/dtm.h>

#include <stdexcept>

#include "fake_transport.h"

namespace lynx::dtm {
namespace {

using testing::FakeTransportTest;
using testing::kBusi;
using testing::kDtm;
using Calls = std::vector<std::string>;

const std::string kQp = std::string(kBusi) + "/QueryPrepared";

class DoAndSubmitTest : public FakeTransportTest {
 protected:
  Msg NewMsg() {
    Msg msg(kDtm, "m1");
    msg.Add(std::string(kBusi) + "/TransIn", {{"amount", 30}});
    return msg;
  }
};

TEST_F(DoAndSubmitTest, BusiOkSubmits) {
  Msg msg = NewMsg();
  std::string seen;
  Status st = msg.DoAndSubmit(kQp, [&](BranchBarrier& bb) {
    seen = bb.trans_type() + "/" + bb.gid() + "/" + bb.branch_id() + "/" + bb.op();
    return Status::Ok();
  });
  EXPECT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(seen, "msg/m1/00/msg");
  EXPECT_EQ(fake_->Calls(), (Calls{"POST /api/dtmsvr/prepare", "POST /api/dtmsvr/submit"}));
  EXPECT_EQ(Json::parse(fake_->Requests()[0].body).at("query_prepared"), kQp);
}

TEST_F(DoAndSubmitTest, BusiFailureAborts) {
  Msg msg = NewMsg();
  Status st =
      msg.DoAndSubmit(kQp, [](BranchBarrier&) { return Status::Failure("no stock FAILURE"); });
  EXPECT_TRUE(st.IsFailure());
  EXPECT_EQ(st.message(), "no stock FAILURE");
  EXPECT_EQ(fake_->Calls(), (Calls{"POST /api/dtmsvr/prepare", "POST /api/dtmsvr/abort"}));
  EXPECT_EQ(Json::parse(fake_->Requests()[1].body).at("trans_type"), "msg");
}

TEST_F(DoAndSubmitTest, BusiErrorAsksQueryPreparedThenSubmitsWhenCommitted) {
  Msg msg = NewMsg();
  Status st = msg.DoAndSubmit(kQp, [](BranchBarrier&) { return Status::Internal("lost reply"); });
  EXPECT_EQ(st.code(), StatusCode::kInternal);
  EXPECT_EQ(st.message(), "lost reply");
  EXPECT_EQ(fake_->Calls(), (Calls{"POST /api/dtmsvr/prepare", "GET /api/busi/QueryPrepared",
                                   "POST /api/dtmsvr/submit"}));
  auto reqs = fake_->Requests();
  const auto& q = reqs[1];
  EXPECT_EQ(q.body, "");
  EXPECT_EQ(QueryParam(q.url, "branch_id"), "00");
  EXPECT_EQ(QueryParam(q.url, "op"), "msg");
  EXPECT_EQ(QueryParam(q.url, "trans_type"), "msg");
  EXPECT_EQ(QueryParam(q.url, "gid"), "m1");
  EXPECT_EQ(QueryParam(q.url, "dtm"), "http%3A%2F%2Fdtm.test%3A36789%2Fapi%2Fdtmsvr");
}

TEST_F(DoAndSubmitTest, BusiErrorAndQueryFailureAborts) {
  fake_->Script("/QueryPrepared", 409, R"({"error":"rolled back"})");
  Msg msg = NewMsg();
  Status st = msg.DoAndSubmit(kQp, [](BranchBarrier&) { return Status::Unavailable("db down"); });
  EXPECT_EQ(st.message(), "db down");
  EXPECT_EQ(fake_->Calls(), (Calls{"POST /api/dtmsvr/prepare", "GET /api/busi/QueryPrepared",
                                   "POST /api/dtmsvr/abort"}));
}

TEST_F(DoAndSubmitTest, BusiErrorAndQueryErrorLeavesItToTheBackCheck) {
  fake_->Script("/QueryPrepared", 500, "busy");
  Msg msg = NewMsg();
  Status st = msg.DoAndSubmit(kQp, [](BranchBarrier&) { return Status::Internal("x"); });
  EXPECT_EQ(st.message(), "x");
  EXPECT_EQ(fake_->Calls(), (Calls{"POST /api/dtmsvr/prepare", "GET /api/busi/QueryPrepared"}));
}

TEST_F(DoAndSubmitTest, PrepareErrorSkipsBusi) {
  fake_->Script("/prepare", 409,
                R"({"message":"current status 'succeed', cannot prepare. FAILURE"})");
  Msg msg = NewMsg();
  bool called = false;
  Status st = msg.DoAndSubmit(kQp, [&](BranchBarrier&) {
    called = true;
    return Status::Ok();
  });
  EXPECT_TRUE(st.IsFailure());
  EXPECT_FALSE(called);
}

TEST_F(DoAndSubmitTest, SubmitErrorIsReturned) {
  fake_->Script("/submit", 500, "disk full");
  Msg msg = NewMsg();
  Status st = msg.DoAndSubmit(kQp, [](BranchBarrier&) { return Status::Ok(); });
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("disk full"), std::string::npos);
}

class GlobalTransactionTest : public FakeTransportTest {};

TEST_F(GlobalTransactionTest, TccSuccessSubmits) {
  Status st = TccGlobalTransaction(kDtm, "t1", [](Tcc& tcc) {
    auto r = tcc.CallBranch({{"a", 1}}, std::string(kBusi) + "/Try",
                            std::string(kBusi) + "/Confirm", std::string(kBusi) + "/Cancel");
    return r.status();
  });
  EXPECT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(fake_->Calls(), (Calls{"POST /api/dtmsvr/prepare", "POST /api/dtmsvr/registerBranch",
                                   "POST /api/busi/Try", "POST /api/dtmsvr/submit"}));
  EXPECT_EQ(fake_->Requests()[0].body,
            R"({"gid":"t1","trans_type":"tcc","concurrent":false,"protocol":""})");
}

TEST_F(GlobalTransactionTest, TccTryFailureAbortsWithTheReason) {
  fake_->Script("/Try", 409, R"({"error":"insufficient balance"})");
  Status st = TccGlobalTransaction(kDtm, "t2", [](Tcc& tcc) {
    return tcc
        .CallBranch({}, std::string(kBusi) + "/Try", std::string(kBusi) + "/Confirm",
                    std::string(kBusi) + "/Cancel")
        .status();
  });
  EXPECT_TRUE(st.IsFailure());
  auto reqs = fake_->Requests();
  ASSERT_EQ(fake_->Calls(), (Calls{"POST /api/dtmsvr/prepare", "POST /api/dtmsvr/registerBranch",
                                   "POST /api/busi/Try", "POST /api/dtmsvr/abort"}));
  EXPECT_EQ(reqs[3].body, R"({"gid":"t2","trans_type":"tcc","concurrent":false,"protocol":"",)"
                          R"("rollback_reason":"{\"error\":\"insufficient balance\"} FAILURE"})");
}

TEST_F(GlobalTransactionTest, TccExceptionAbortsAndRethrows) {
  EXPECT_THROW(
      TccGlobalTransaction(kDtm, "t3", [](Tcc&) -> Status { throw std::runtime_error("boom"); }),
      std::runtime_error);
  auto reqs = fake_->Requests();
  ASSERT_EQ(fake_->Calls(), (Calls{"POST /api/dtmsvr/prepare", "POST /api/dtmsvr/abort"}));
  EXPECT_EQ(Json::parse(reqs[1].body).at("rollback_reason"), "boom");
}

TEST_F(GlobalTransactionTest, PrepareFailureSkipsFn) {
  fake_->ScriptTransportError("/prepare");
  bool called = false;
  Status st = TccGlobalTransaction(kDtm, "t4", [&](Tcc&) {
    called = true;
    return Status::Ok();
  });
  EXPECT_EQ(st.code(), StatusCode::kUnavailable);
  EXPECT_FALSE(called);
}

TEST_F(GlobalTransactionTest, CustomSetsOptionsBeforePrepare) {
  Status st = TccGlobalTransaction(
      kDtm, "t5", [](Tcc& tcc) { tcc.SetTimeoutToFail(30).SetWaitResult(); },
      [](Tcc&) { return Status::Ok(); });
  ASSERT_TRUE(st.ok());
  auto body = Json::parse(fake_->Requests()[0].body);
  EXPECT_EQ(body.at("timeout_to_fail"), 30);
  EXPECT_EQ(body.at("wait_result"), true);
}

TEST_F(GlobalTransactionTest, NestedTccFromQueryUsesTheParentBranch) {
  std::map<std::string, std::string> query = {
      {"dtm", kDtm}, {"gid", "t6"}, {"trans_type", "tcc"}, {"branch_id", "01"}, {"op", "try"}};
  auto nested = TccFromQuery(query);
  ASSERT_TRUE(nested.ok()) << nested.status().message();
  EXPECT_EQ(nested->branch_id(), "01");
  EXPECT_EQ(nested->server_url(), kDtm);
  ASSERT_TRUE(nested->CallBranch({}, std::string(kBusi) + "/Try", "c", "x").ok());
  ASSERT_TRUE(nested->CallBranch({}, std::string(kBusi) + "/Try", "c", "x").ok());
  auto reqs = fake_->Requests();
  EXPECT_EQ(Json::parse(reqs[0].body).at("branch_id"), "0101");
  EXPECT_EQ(QueryParam(reqs[1].url, "branch_id"), "0101");
  EXPECT_EQ(Json::parse(reqs[2].body).at("branch_id"), "0102");
}

TEST_F(GlobalTransactionTest, TccFromQueryNeedsDtmAndGid) {
  auto missing = TccFromQuery({{"gid", "g"}, {"branch_id", "01"}});
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().message(), "bad tcc info. dtm: , gid: g parentID: 01");
  EXPECT_FALSE(TccFromQuery({{"dtm", kDtm}}).ok());
  auto escaped = TccFromQuery({{"dtm", kDtm}, {"gid", "g\n1;"}});
  ASSERT_TRUE(escaped.ok());
  EXPECT_EQ(escaped->gid(), "g1");
}

TEST_F(GlobalTransactionTest, XaErrorAbortsAndSuccessSubmits) {
  Status st = XaGlobalTransaction(kDtm, "x1", [](Xa& xa) {
    return xa.CallBranch(std::string(kBusi) + "/TransOutXa", {{"amount", 30}}).status();
  });
  EXPECT_TRUE(st.ok());
  EXPECT_EQ(fake_->Calls(), (Calls{"POST /api/dtmsvr/prepare", "POST /api/busi/TransOutXa",
                                   "POST /api/dtmsvr/submit"}));
  fake_->Script("/TransInXa", 409, R"({"error":"no"})");
  st = XaGlobalTransaction(
      kDtm, "x2", [](Xa& xa) { return xa.CallBranch(std::string(kBusi) + "/TransInXa").status(); });
  EXPECT_TRUE(st.IsFailure());
  auto calls = fake_->Calls();
  EXPECT_EQ(calls.back(), "POST /api/dtmsvr/abort");
  EXPECT_THROW(XaGlobalTransaction(kDtm, "x3", [](Xa&) -> Status { throw 42; }), int);
  EXPECT_EQ(Json::parse(fake_->Requests().back().body).at("rollback_reason"), "unknown exception");
}

class ClientTest : public FakeTransportTest {
 protected:
  static DtmConfig Enabled() {
    DtmConfig c;
    c.enabled = true;
    c.server_url = kDtm;
    c.timeout = 4;
    c.transaction_timeout = 45;
    c.retry_interval = 12;
    c.pass_through_headers = {"X-Request-Id", " authorization ", "x-missing"};
    return c;
  }
};

TEST_F(ClientTest, PluginIdentity) {
  DTMClient client;
  EXPECT_EQ(client.Name(), "dtm.server");
  EXPECT_EQ(client.ConfigPrefix(), "lynx.dtm");
  EXPECT_EQ(client.Weight(), 90);
}

TEST_F(ClientTest, NewTransactionsArePreconfigured) {
  DTMClient client(Enabled());
  Context ctx = Context::Background().WithHeaders(
      {{"x-request-id", "r-1"}, {"Authorization", "Bearer t"}, {"x-other", "no"}});
  Saga saga = client.NewSaga("g", ctx);
  EXPECT_EQ(saga.server_url(), kDtm);
  EXPECT_EQ(saga.options().timeout_to_fail, 45);
  EXPECT_EQ(saga.options().request_timeout, 4);
  EXPECT_EQ(saga.options().retry_interval, 12);
  EXPECT_EQ(
      saga.options().branch_headers,
      (std::map<std::string, std::string>{{"X-Request-Id", "r-1"}, {"authorization", "Bearer t"}}));
  Tcc tcc = client.NewTcc("t");
  EXPECT_EQ(tcc.trans_type(), "tcc");
  EXPECT_TRUE(tcc.options().branch_headers.empty());
  EXPECT_EQ(client.NewMsg("m").trans_type(), "msg");
  EXPECT_EQ(client.NewXa("x").options().timeout_to_fail, 45);
}

TEST_F(ClientTest, CustomHeadersWinOverPassThrough) {
  DTMClient client(Enabled());
  Context ctx = Context::Background().WithHeaders({{"x-request-id", "incoming"}});
  auto h = client.BranchHeaders(ctx, {{"x-REQUEST-id", "custom"}, {"x-extra", "1"}});
  EXPECT_EQ(h, (std::map<std::string, std::string>{{"x-REQUEST-id", "custom"}, {"x-extra", "1"}}));
}

TEST_F(ClientTest, GenerateGid) {
  DTMClient client(Enabled());
  fake_->Script("/newGid", 200, R"({"gid":"abc","dtm_result":"SUCCESS"})");
  EXPECT_EQ(client.GenerateGid(), "abc");
  fake_->ScriptTransportError("/newGid");
  EXPECT_EQ(client.GenerateGid(), "");
  fake_->Script("/newGid", 200, R"({"dtm_result":"SUCCESS"})");
  auto gid = client.NewGid();
  EXPECT_FALSE(gid.ok());
  EXPECT_EQ(fake_->Requests().back().method, "GET");
  EXPECT_EQ(fake_->Requests().back().timeout_ms, 4000);
}

TEST_F(ClientTest, DisabledStartsHealthyAndDoesNothing) {
  DTMClient client{DtmConfig{}};
  EXPECT_FALSE(client.IsEnabled());
  EXPECT_TRUE(client.StartupTasks().ok());
  EXPECT_TRUE(client.CheckHealth().ok());
  EXPECT_EQ(client.GetServerURL(), "");
  EXPECT_EQ(client.GenerateGid(), "");
  EXPECT_EQ(client.NewSaga("g").Submit().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(client.CleanupTasks().ok());
  EXPECT_TRUE(fake_->Requests().empty());
}

TEST_F(ClientTest, InvalidConfigFailsStartup) {
  DtmConfig c = Enabled();
  c.branch_timeout = -1;
  DTMClient client(c);
  Status st = client.StartupTasks();
  EXPECT_EQ(st.message(), "lynx.dtm.branch_timeout cannot be negative (got -1)");
}

TEST_F(ClientTest, HealthCheck) {
  DTMClient client(Enabled());
  fake_->Script("/newGid", 200, R"({"gid":"g"})");
  EXPECT_TRUE(client.CheckHealth().ok());
  EXPECT_EQ(fake_->Requests().back().timeout_ms, 5000);
  fake_->Script("/newGid", 200, "");
  EXPECT_FALSE(client.CheckHealth().ok());
  fake_->Script("/newGid", 503, "down");
  EXPECT_FALSE(client.CheckHealth().ok());
}

TEST_F(ClientTest, StartupRetriesThenFails) {
  DtmConfig c = Enabled();
  c.max_connection_retries = 1;
  DTMClient client(c);
  fake_->ScriptTransportError("/newGid");
  Status st = client.StartupTasks();
  EXPECT_EQ(st.code(), StatusCode::kUnavailable);
  EXPECT_NE(st.message().find("after 1 attempt(s)"), std::string::npos) << st.message();
  fake_->ScriptTransportError("/newGid");
  c.max_connection_retries = 2;  // one failure, 2 s back-off, then success
  DTMClient retrying(c);
  auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(retrying.StartupTasks().ok());
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(1900));
}

TEST_F(ClientTest, HelperPollsUntilFinal) {
  DTMClient client(Enabled());
  TransactionHelper helper(client);
  fake_->Script("/query", 200, R"({"transaction":{"status":"submitted"},"branches":[]})");
  fake_->Script("/query", 200, R"({"transaction":{"status":"succeed"},"branches":[]})");
  Status st = helper.ExecuteTCC(Context::Background(), "t",
                                {{.try_url = std::string(kBusi) + "/Try",
                                  .confirm_url = std::string(kBusi) + "/Confirm",
                                  .cancel_url = std::string(kBusi) + "/Cancel",
                                  .data = {{"n", 1}}}},
                                {.wait_result = true});
  EXPECT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(fake_->Calls(), (Calls{"POST /api/dtmsvr/prepare", "POST /api/dtmsvr/registerBranch",
                                   "POST /api/busi/Try", "POST /api/dtmsvr/submit",
                                   "GET /api/dtmsvr/query", "GET /api/dtmsvr/query"}));
  auto prepare = Json::parse(fake_->Requests()[0].body);
  EXPECT_EQ(prepare.at("timeout_to_fail"), 60);  // TransactionOptions' defaults
  EXPECT_EQ(prepare.at("request_timeout"), 30);
  EXPECT_EQ(prepare.at("retry_interval"), 10);
  // Stored with the transaction, so that dtmd finishes the submit or the abort before answering;
  // the helper still confirms the final status by query.
  EXPECT_EQ(prepare.at("wait_result"), true);
}

TEST_F(ClientTest, HelperWaitEndsWithTheContext) {
  DTMClient client(Enabled());
  TransactionHelper helper(client);
  fake_->Script("/query", 200, R"({"transaction":{"status":"submitted"}})");
  // Then unscripted replies: no transaction (yet), polling goes on until the deadline.
  Status st = helper.WaitTransactionResult(
      Context::Background().WithTimeout(std::chrono::milliseconds(150)), "t");
  EXPECT_TRUE(st.IsOngoing()) << st.message();
  fake_->Script("/query", 200,
                R"({"transaction":{"status":"failed","rollback_reason":"no money FAILURE"}})");
  st = helper.WaitTransactionResult(Context::Background(), "t2");
  EXPECT_TRUE(st.IsFailure());
  EXPECT_EQ(st.message(), "transaction t2 failed: no money FAILURE");
}

TEST_F(ClientTest, CheckTransactionStatus) {
  DTMClient client(Enabled());
  TransactionHelper helper(client);
  fake_->Script("/query", 200, R"({"transaction":{"status":"aborting"},"branches":[]})");
  auto s = helper.CheckTransactionStatus("a b");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(*s, "aborting");
  EXPECT_EQ(fake_->Requests().back().url, std::string(kDtm) + "/query?gid=a%20b");
  fake_->Script("/query", 200, R"({"transaction":null,"branches":[]})");
  EXPECT_TRUE(helper.CheckTransactionStatus("none").status().IsNotFound());
}

TEST_F(ClientTest, HelperSagaWaitsOnTheServerAndResolvesA409ByQuery) {
  DTMClient client(Enabled());
  TransactionHelper helper(client);
  // The server's wait answered 409 while the saga is still pending (a branch ONGOING).
  fake_->Script("/submit", 409, R"({"message":"wait result not return success: FAILURE"})");
  fake_->Script("/query", 200, R"({"transaction":{"status":"submitted"}})");
  fake_->Script("/query", 200, R"({"transaction":{"status":"submitted"}})");
  fake_->Script("/query", 200, R"({"transaction":{"status":"succeed"}})");
  Status st = helper.ExecuteSAGA(
      Context::Background(), "s",
      {{.action = "http://b/A", .compensate = "http://b/AR", .data = {{"n", 1}}}},
      {.wait_result = true, .concurrent = true});
  EXPECT_TRUE(st.ok()) << st.message();
  auto submit = Json::parse(fake_->Requests()[0].body);
  EXPECT_EQ(submit.at("wait_result"), true);
  EXPECT_EQ(submit.at("concurrent"), true);
  EXPECT_EQ(submit.at("custom_data"), R"({"concurrent":true,"orders":{}})");
}

}  // namespace
}  // namespace lynx::dtm
