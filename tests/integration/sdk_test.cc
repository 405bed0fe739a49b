// The C++ client SDK (include/lynx/dtm) against the real dtmd and busi_server: every transaction
// mode over HTTP — saga (also concurrent), msg (prepare/submit, DoAndSubmit), TCC (also nested),
// XA.
//
// busi_server answers branch calls as scripted and records them; it does not register XA branches
// or keep barriers, so the XA tests play the branch's registration (what XaLocalTransaction does)
// from the recorded action call.
#include <stdexcept>

#include "sdk_fixture.h"

namespace lynx::it {
namespace {

// ---------------------------------------------------------------------------------------------
// Saga

TEST_F(SdkTest, SagaSuccess) {
  const std::string gid = client_->GenerateGid();
  ExpectServerGid(gid);
  dtm::Saga saga = client_->NewSaga(gid);
  saga.Add(B("TransOut"), B("TransOutRevert"), BusiPayload())
      .Add(B("TransIn"), B("TransInRevert"), {{"amount", 30}});
  Status st = saga.Submit();
  ASSERT_TRUE(st.ok()) << st.message();
  ASSERT_TRUE(dtm_.WaitPasses(gid, 1));
  EXPECT_EQ(dtm_.Status(gid), kSucceed);
  EXPECT_EQ(dtm_.BranchStatuses(gid), Statuses({kPrepared, kSucceed, kPrepared, kSucceed}));
  EXPECT_EQ(CallLog(gid), (std::vector<std::string>{"TransOut/01/action", "TransIn/02/action"}));
  EXPECT_EQ(busi_.Calls("TransOut", gid)[0].body, BusiPayload());
  EXPECT_EQ(busi_.Calls("TransIn", gid)[0].body, R"({"amount":30})");
  // On the reference server the branch calls come from its Go HTTP client.
  if (kReferenceServer) {
    EXPECT_NE(busi_.Calls("TransIn", gid)[0].Header("user-agent").find("go-resty/"),
              std::string::npos);
  }
  // The client's configuration went with the transaction.
  {
    auto q = dtm_.Query(gid);
    const auto& t = q.as_object().at("transaction").as_object();
    EXPECT_EQ(t.at("timeout_to_fail").to_number<int64_t>(), 60);
    EXPECT_EQ(t.at("request_timeout").to_number<int64_t>(), 10);
    EXPECT_EQ(t.at("retry_interval").to_number<int64_t>(), 10);
  }
}

TEST_F(SdkTest, SagaRollback) {
  const std::string gid = TestName();
  dtm::Saga saga = client_->NewSaga(gid);
  saga.Add(B("TransOut"), B("TransOutRevert"), BusiPayload())
      .Add(B("TransIn"), B("TransInRevert"), BusiPayload("", "FAILURE"));
  ASSERT_TRUE(saga.Submit().ok());
  ASSERT_TRUE(dtm_.WaitPasses(gid, 1));
  EXPECT_EQ(dtm_.Status(gid), kFailed);
  EXPECT_EQ(dtm_.BranchStatuses(gid), Statuses({kSucceed, kSucceed, kSucceed, kFailed}));
  EXPECT_EQ(
      dtm_.RollbackReason(gid),
      "url:" + B("TransIn") + R"( return failed: {"error":"TransIn returned FAILURE"} FAILURE)");
  EXPECT_EQ(CallLog(gid), (std::vector<std::string>{"TransOut/01/action", "TransIn/02/action",
                                                    "TransInRevert/02/compensate",
                                                    "TransOutRevert/01/compensate"}));
}

TEST_F(SdkTest, SagaWaitResultReportsTheRollback) {
  const std::string gid = TestName();
  dtm::Saga saga = client_->NewSaga(gid);
  saga.Add(B("TransOut"), B("TransOutRevert"), BusiPayload("FAILURE")).SetWaitResult();
  Status st = saga.Submit();
  EXPECT_TRUE(st.IsFailure()) << st.message();
  EXPECT_EQ(dtm_.Status(gid), kFailed);
}

TEST_F(SdkTest, ConcurrentSagaHonoursBranchOrders) {
  const std::string gid = TestName();
  dtm::Saga saga = client_->NewSaga(gid);
  busi_.Script("TransOut", {"SLEEP:200"});
  saga.Add(B("TransOut"), B("TransOutRevert"), BusiPayload())
      .Add(B("TransIn"), B("TransInRevert"), BusiPayload())
      .Add(B("TransInOther"), B("TransInOtherRevert"), BusiPayload())
      .EnableConcurrent()
      .AddBranchOrder(1, {0});
  ASSERT_TRUE(saga.Submit().ok());
  ASSERT_TRUE(dtm_.WaitPasses(gid, 1));
  EXPECT_EQ(dtm_.Status(gid), kSucceed);
  auto q = dtm_.Query(gid);
  const auto& t = q.as_object().at("transaction").as_object();
  EXPECT_EQ(t.at("custom_data").as_string(), R"({"concurrent":true,"orders":{"1":[0]}})");
  // TransIn waited for TransOut (which slept); TransInOther did not.
  auto out = busi_.Calls("TransOut", gid), in = busi_.Calls("TransIn", gid),
       other = busi_.Calls("TransInOther", gid);
  ASSERT_EQ(out.size(), 1u);
  ASSERT_EQ(in.size(), 1u);
  ASSERT_EQ(other.size(), 1u);
  EXPECT_GT(in[0].seq, out[0].seq);
  EXPECT_LT(other[0].seq, in[0].seq);
}

// ---------------------------------------------------------------------------------------------
// Msg

TEST_F(SdkTest, MsgPrepareThenSubmit) {
  const std::string gid = TestName();
  dtm::Msg msg = client_->NewMsg(gid);
  msg.Add(B("TransOut"), BusiPayload()).Add(B("TransIn"), BusiPayload());
  ASSERT_TRUE(msg.Prepare(B("QueryPrepared")).ok());
  EXPECT_EQ(dtm_.Status(gid), kPrepared);
  dtm::TransactionHelper helper(*client_);
  EXPECT_EQ(*helper.CheckTransactionStatus(gid), kPrepared);
  ASSERT_TRUE(msg.Submit().ok());
  ASSERT_TRUE(dtm_.WaitPasses(gid, 1));
  EXPECT_EQ(dtm_.Status(gid), kSucceed);
  EXPECT_EQ(CallLog(gid), (std::vector<std::string>{"TransOut/01/action", "TransIn/02/action"}));
}

TEST_F(SdkTest, MsgDoAndSubmitSuccess) {
  const std::string gid = TestName();
  dtm::Msg msg = client_->NewMsg(gid);
  msg.Add(B("TransIn"), BusiPayload());
  std::string seen;
  Status st = msg.DoAndSubmit(B("QueryPrepared"), [&](dtm::BranchBarrier& bb) {
    seen = bb.ToString();
    // The message is prepared while the local transaction runs.
    EXPECT_EQ(dtm_.Status(gid), kPrepared);
    return Status::Ok();
  });
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(seen, "transInfo: msg " + gid + " 00 msg");
  ASSERT_TRUE(dtm_.WaitPasses(gid, 1));
  EXPECT_EQ(dtm_.Status(gid), kSucceed);
  EXPECT_TRUE(busi_.Calls("QueryPrepared", gid).empty());
}

TEST_F(SdkTest, MsgDoAndSubmitBusinessFailureAborts) {
  const std::string gid = TestName();
  dtm::Msg msg = client_->NewMsg(gid);
  msg.Add(B("TransIn"), BusiPayload());
  Status st = msg.DoAndSubmit(B("QueryPrepared"), [](dtm::BranchBarrier&) {
    return Status::Failure("insufficient balance FAILURE");
  });
  EXPECT_TRUE(st.IsFailure());
  EXPECT_EQ(st.message(), "insufficient balance FAILURE");
  EXPECT_EQ(dtm_.Status(gid), kFailed);
  EXPECT_TRUE(busi_.Calls("TransIn", gid).empty());
  EXPECT_TRUE(busi_.Calls("QueryPrepared", gid).empty());
}

TEST_F(SdkTest, MsgDoAndSubmitUnknownOutcomeAsksQueryPrepared) {
  // The local transaction's outcome is unknown (an error that is not FAILURE): the SDK asks
  // QueryPrepared. Committed -> submit.
  const std::string committed = TestName() + "-committed";
  dtm::Msg msg = client_->NewMsg(committed);
  msg.Add(B("TransIn"), BusiPayload());
  Status st = msg.DoAndSubmit(
      B("QueryPrepared"), [](dtm::BranchBarrier&) { return Status::Unavailable("lost reply"); });
  EXPECT_EQ(st.message(), "lost reply");
  ASSERT_TRUE(dtm_.WaitPasses(committed, 1));
  EXPECT_EQ(dtm_.Status(committed), kSucceed);
  auto checks = busi_.Calls("QueryPrepared", committed);
  ASSERT_EQ(checks.size(), 1u);
  EXPECT_EQ(checks[0].method, "GET");
  EXPECT_EQ(checks[0].Query("branch_id"), "00");
  EXPECT_EQ(checks[0].Query("op"), "msg");
  EXPECT_EQ(checks[0].Query("trans_type"), "msg");
  EXPECT_EQ(checks[0].Query("dtm"), dtm_.Url());

  // Rolled back -> abort.
  const std::string rolled_back = TestName() + "-rolled-back";
  busi_.Script("QueryPrepared", {"FAILURE"});
  dtm::Msg msg2 = client_->NewMsg(rolled_back);
  msg2.Add(B("TransIn"), BusiPayload());
  st = msg2.DoAndSubmit(B("QueryPrepared"),
                        [](dtm::BranchBarrier&) { return Status::Internal("db error"); });
  EXPECT_EQ(st.message(), "db error");
  EXPECT_EQ(dtm_.Status(rolled_back), kFailed);
  EXPECT_TRUE(busi_.Calls("TransIn", rolled_back).empty());
}

// ---------------------------------------------------------------------------------------------
// TCC

TEST_F(SdkTest, TccSuccess) {
  const std::string gid = TestName();
  std::string try_reply;
  Status st = dtm::TccGlobalTransaction(dtm_.Url(), gid, [&](dtm::Tcc& tcc) {
    auto out =
        tcc.CallBranch(BusiPayload(), B("TransOut"), B("TransOutConfirm"), B("TransOutRevert"));
    if (!out.ok()) return out.status();
    try_reply = *out;
    return tcc.CallBranch({{"amount", 30}}, B("TransIn"), B("TransInConfirm"), B("TransInRevert"))
        .status();
  });
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(try_reply, R"({"dtm_result":"SUCCESS"})");
  ASSERT_TRUE(dtm_.WaitPasses(gid, 1));
  EXPECT_EQ(dtm_.Status(gid), kSucceed);
  EXPECT_EQ(dtm_.BranchStatuses(gid), Statuses({kPrepared, kSucceed, kPrepared, kSucceed}));
  EXPECT_EQ(CallLog(gid),
            (std::vector<std::string>{"TransOut/01/try", "TransIn/02/try",
                                      "TransInConfirm/02/confirm", "TransOutConfirm/01/confirm"}));
  auto tried = busi_.Calls("TransOut", gid);
  ASSERT_EQ(tried.size(), 1u);
  EXPECT_EQ(tried[0].method, "POST");
  EXPECT_EQ(tried[0].Query("dtm"), dtm_.Url());
  EXPECT_EQ(tried[0].Query("trans_type"), "tcc");
  EXPECT_EQ(tried[0].body, BusiPayload());
  EXPECT_EQ(busi_.Calls("TransInConfirm", gid)[0].body, R"({"amount":30})");
}

TEST_F(SdkTest, TccTryFailureCancels) {
  const std::string gid = TestName();
  Status st = dtm::TccGlobalTransaction(dtm_.Url(), gid, [&](dtm::Tcc& tcc) {
    auto out =
        tcc.CallBranch(BusiPayload(), B("TransOut"), B("TransOutConfirm"), B("TransOutRevert"));
    if (!out.ok()) return out.status();
    return tcc
        .CallBranch(BusiPayload("", "FAILURE"), B("TransIn"), B("TransInConfirm"),
                    B("TransInRevert"))
        .status();
  });
  EXPECT_TRUE(st.IsFailure()) << st.message();
  ASSERT_TRUE(dtm_.WaitPasses(gid, 1));
  EXPECT_EQ(dtm_.Status(gid), kFailed);
  EXPECT_EQ(dtm_.BranchStatuses(gid), Statuses({kSucceed, kPrepared, kSucceed, kPrepared}));
  EXPECT_EQ(dtm_.RollbackReason(gid), st.message());
  EXPECT_EQ(CallLog(gid),
            (std::vector<std::string>{"TransOut/01/try", "TransIn/02/try",
                                      "TransInRevert/02/cancel", "TransOutRevert/01/cancel"}));
}

TEST_F(SdkTest, TccExceptionAbortsAndRethrows) {
  const std::string gid = TestName();
  EXPECT_THROW(dtm::TccGlobalTransaction(dtm_.Url(), gid,
                                         [&](dtm::Tcc& tcc) -> Status {
                                           auto out = tcc.CallBranch(BusiPayload(), B("TransOut"),
                                                                     B("TransOutConfirm"),
                                                                     B("TransOutRevert"));
                                           if (out.ok()) throw std::runtime_error("out of memory");
                                           return out.status();
                                         }),
               std::runtime_error);
  ASSERT_TRUE(dtm_.WaitPasses(gid, 1));
  EXPECT_EQ(dtm_.Status(gid), kFailed);
  EXPECT_EQ(dtm_.RollbackReason(gid), "out of memory");
  EXPECT_EQ(CallLog(gid),
            (std::vector<std::string>{"TransOut/01/try", "TransOutRevert/01/cancel"}));
}

TEST_F(SdkTest, NestedTccBranch0101) {
  const std::string gid = TestName();
  Status st = dtm::TccGlobalTransaction(dtm_.Url(), gid, [&](dtm::Tcc& tcc) {
    auto out =
        tcc.CallBranch(BusiPayload(), B("TransOut"), B("TransOutConfirm"), B("TransOutRevert"));
    if (!out.ok()) return out.status();
    // Inside branch 01 the business service opens a sub-branch from its request's query.
    auto tried = busi_.Calls("TransOut", gid);
    if (tried.size() != 1u) return Status::Internal("no try recorded");
    auto nested = dtm::TccFromQuery(tried[0].query);
    if (!nested.ok()) return nested.status();
    EXPECT_EQ(nested->branch_id(), "01");
    return nested->CallBranch(BusiPayload(), B("TransIn"), B("TransInConfirm"), B("TransInRevert"))
        .status();
  });
  ASSERT_TRUE(st.ok()) << st.message();
  ASSERT_TRUE(dtm_.WaitPasses(gid, 1));
  EXPECT_EQ(dtm_.Status(gid), kSucceed);
  EXPECT_EQ(CallLog(gid), (std::vector<std::string>{"TransOut/01/try", "TransIn/0101/try",
                                                    "TransInConfirm/0101/confirm",
                                                    "TransOutConfirm/01/confirm"}));
}

// ---------------------------------------------------------------------------------------------
// XA

TEST_F(SdkTest, XaSuccess) {
  const std::string gid = TestName();
  Status st = dtm::XaGlobalTransaction(dtm_.Url(), gid, [&](dtm::Xa& xa) {
    for (const char* route : {"TransOutXa", "TransInXa"}) {
      auto res = xa.CallBranch(B(route), BusiPayload());
      if (!res.ok()) return res.status();
      RegisterXaBranchAsTheBusiWould(gid, route);
    }
    return Status::Ok();
  });
  ASSERT_TRUE(st.ok()) << st.message();
  ASSERT_TRUE(dtm_.WaitPasses(gid, 1));
  EXPECT_EQ(dtm_.Status(gid), kSucceed);
  EXPECT_EQ(dtm_.BranchStatuses(gid), Statuses({kPrepared, kSucceed, kPrepared, kSucceed}));
  // DTM commits XA branches in registration order (TCC confirms run in reverse).
  EXPECT_EQ(CallLog(gid),
            (std::vector<std::string>{"TransOutXa/01/action", "TransInXa/02/action",
                                      "TransOutXa/01/commit", "TransInXa/02/commit"}));
  auto action = busi_.Calls("TransOutXa", gid)[0];
  EXPECT_EQ(action.method, "POST");
  EXPECT_EQ(action.Query("phase2_url"), B("TransOutXa"));
  EXPECT_EQ(action.Query("dtm"), dtm_.Url());
  EXPECT_EQ(action.Query("trans_type"), "xa");
  EXPECT_EQ(action.body, BusiPayload());
}

TEST_F(SdkTest, XaRollback) {
  const std::string gid = TestName();
  busi_.Script("TransInXa", {"FAILURE"});
  Status st = dtm::XaGlobalTransaction(dtm_.Url(), gid, [&](dtm::Xa& xa) {
    for (const char* route : {"TransOutXa", "TransInXa"}) {
      auto res = xa.CallBranch(B(route), BusiPayload());
      if (!res.ok()) return res.status();
      RegisterXaBranchAsTheBusiWould(gid, route);
    }
    return Status::Ok();
  });
  EXPECT_TRUE(st.IsFailure()) << st.message();
  ASSERT_TRUE(dtm_.WaitPasses(gid, 1));
  EXPECT_EQ(dtm_.Status(gid), kFailed);
  EXPECT_EQ(CallLog(gid), (std::vector<std::string>{"TransOutXa/01/action", "TransInXa/02/action",
                                                    "TransOutXa/01/rollback"}));
  EXPECT_EQ(dtm_.RollbackReason(gid), st.message());
}

}  // namespace
}  // namespace lynx::it

namespace lynx::it {
namespace {

// The trace id in a busi call's traceparent ("" without one).
std::string TraceIdOf(const BusiCall& c) {
  const std::string tp = c.Header("traceparent");
  return tp.size() == 55 ? tp.substr(3, 32) : "";
}

// SDK traces (include/lynx/dtm/trace.h): a transaction without a trace in its context starts one,
// sends it to DTM, and dtmd's calls to the branches carry it; a context with one continues it.
TEST_F(SdkTest, ASagaStartsATraceOrContinuesItsContexts) {
  LYNX_DTMD_ONLY("dtmd passes the trace to the branches");
  const std::string gid = client_->GenerateGid();
  dtm::Saga saga = client_->NewSaga(gid);
  saga.Add(B("TransOut"), B("TransOutRevert"), BusiPayload());
  const TraceParent started = saga.trace();
  ASSERT_EQ(started.trace_id.size(), 32u);
  ASSERT_TRUE(saga.Submit().ok());
  ASSERT_TRUE(dtm_.WaitStatus(gid, kSucceed));
  ASSERT_EQ(busi_.Calls("TransOut", gid).size(), 1u);
  EXPECT_EQ(TraceIdOf(busi_.Calls("TransOut", gid)[0]), started.trace_id);

  // Continued: the context's trace (e.g. a branch handler's request context).
  const auto caller = ParseTraceParent("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
  ASSERT_TRUE(caller.has_value());
  const std::string gid2 = client_->GenerateGid();
  dtm::Saga saga2 = client_->NewSaga(gid2);
  saga2.SetContext(dtm::WithTrace(Context::Background(), *caller));
  saga2.Add(B("TransOut"), B("TransOutRevert"), BusiPayload());
  EXPECT_EQ(saga2.trace().trace_id, caller->trace_id);
  ASSERT_TRUE(saga2.Submit().ok());
  ASSERT_TRUE(dtm_.WaitStatus(gid2, kSucceed));
  ASSERT_EQ(busi_.Calls("TransOut", gid2).size(), 1u);
  EXPECT_EQ(TraceIdOf(busi_.Calls("TransOut", gid2)[0]), caller->trace_id);
  EXPECT_NE(busi_.Calls("TransOut", gid2)[0].Header("traceparent").substr(36, 16), caller->span_id)
      << "dtmd's call is a span of its own";
}

// The SDK's own branch calls (a TCC try) carry the transaction's trace as well.
TEST_F(SdkTest, TccTryCallsCarryTheTransactionsTrace) {
  const std::string gid = client_->GenerateGid();
  std::string trace_id;
  Status st = dtm::TccGlobalTransaction(dtm_.Url(), gid, [&](dtm::Tcc& tcc) {
    trace_id = tcc.trace().trace_id;
    return tcc.CallBranch(BusiPayload(), B("TransOut"), B("TransOutConfirm"), B("TransOutRevert"))
        .status();
  });
  ASSERT_TRUE(st.ok()) << st.message();
  ASSERT_EQ(busi_.Calls("TransOut", gid).size(), 1u);
  EXPECT_EQ(trace_id.size(), 32u);
  EXPECT_EQ(TraceIdOf(busi_.Calls("TransOut", gid)[0]), trace_id);
}

}  // namespace
}  // namespace lynx::it
