// The SDK's gRPC transactions against an in-process test double of DTM's gRPC server and of a
// busi.Busi service (fake_dtm_grpc.h): what reaches DTM (DtmRequest, DtmBranchRequest), the
// metadata and bytes of the SDK's own branch calls (TCC try, XA action, msg query-prepared), the
// deadlines, DTM's result mapping on replies, nested TCC / XA from metadata, TLS, and DTMClient /
// TransactionHelper choosing gRPC (dtm-protocol.md §3, §9.3).
#include <gtest/gtest.h>
#include <stdlib.h>

#include <lynx/dtm/dtm.h>

#include <filesystem>
#include <stdexcept>
#include <string>

#include "../../support/test_certs.h"
#include "../../support/test_databases.h"
#include "fake_dtm_grpc.h"
#include "fake_transport.h"
#include "proto/busi.pb.h"

namespace lynx::dtm {
namespace {

using testing::FakeGrpcServer;
using Methods = std::vector<std::string>;

// Nothing listens there: connections are refused at once.
constexpr char kClosedPort[] = "127.0.0.1:1";
// gRPC carries a deadline as a duration and rebuilds it on the server's clock: the server may see
// a few milliseconds more than was set.
constexpr int64_t kClockSlackMs = 100;

busi::ReqGrpc Req(int64_t amount) {
  busi::ReqGrpc req;
  req.set_amount(amount);
  return req;
}

class GrpcFlowTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(server_.started()); }
  std::string Dtm() const { return server_.address(); }
  std::string Url(const std::string& method) const { return server_.Url(method); }

  FakeGrpcServer server_;
};

TEST_F(GrpcFlowTest, SagaSubmitSendsTheDtmRequest) {
  const std::string with_nul("a\0b", 3);
  Saga saga = NewSagaGrpc(Dtm(), "s1");
  saga.Add(Url("TransOut"), Url("TransOutRevert"), Req(30))
      .Add("http://h/api/TransIn", "http://h/api/TransInRevert", Payload::Bytes(with_nul))
      .EnableConcurrent()
      .AddBranchOrder(1, {0})
      .SetRequestTimeout(7)
      .SetBranchHeaders({{"x-a", "1"}});
  Status st = saga.Submit();
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(server_.Methods(), Methods{"Submit"});
  auto r = server_.Request<dtmgimp::DtmRequest>("Submit");
  EXPECT_EQ(r.gid(), "s1");
  EXPECT_EQ(r.transtype(), "saga");
  EXPECT_EQ(r.customeddata(), R"({"concurrent":true,"orders":{"1":[0]}})");
  ASSERT_EQ(r.binpayloads_size(), 2);
  EXPECT_EQ(r.binpayloads(0), Req(30).SerializeAsString());
  EXPECT_EQ(r.binpayloads(1), with_nul);
  EXPECT_EQ(r.steps(), R"([{"action":")" + Url("TransOut") + R"(","compensate":")" +
                           Url("TransOutRevert") +
                           R"("},{"action":"http://h/api/TransIn","compensate":)"
                           R"("http://h/api/TransInRevert"}])");
  EXPECT_EQ(r.transoptions().requesttimeout(), 7);
  EXPECT_EQ(r.transoptions().branchheaders().at("x-a"), "1");
  // The deadline is the transaction's request_timeout.
  auto left = server_.Call("Submit").deadline_left;
  EXPECT_LE(left.count(), 7000 + kClockSlackMs);
  EXPECT_GT(left.count(), 5000);
}

TEST_F(GrpcFlowTest, ContextDeadlineBoundsTheCall) {
  Saga saga = NewSagaGrpc(Dtm(), "s2");
  saga.SetRequestTimeout(30).WithContext(Context().WithTimeout(std::chrono::seconds(2)));
  ASSERT_TRUE(saga.Submit().ok());
  auto left = server_.Call("Submit").deadline_left;
  EXPECT_LE(left.count(), 2000 + kClockSlackMs);
  EXPECT_GT(left.count(), 0);

  Context done;
  done.Cancel();
  Saga cancelled = NewSagaGrpc(Dtm(), "s3");
  cancelled.WithContext(done);
  EXPECT_EQ(cancelled.Submit().code(), StatusCode::kUnavailable);
  EXPECT_EQ(server_.Methods(), Methods{"Submit"});  // nothing sent for the cancelled one
}

TEST_F(GrpcFlowTest, DtmRepliesMapToResults) {
  server_.Script("Submit", {grpc::StatusCode::ABORTED, "saga refused"});
  Status failure = NewSagaGrpc(Dtm(), "e1").Submit();
  EXPECT_TRUE(failure.IsFailure());
  EXPECT_EQ(failure.message(), "saga refused FAILURE");
  server_.Script("Submit", {grpc::StatusCode::FAILED_PRECONDITION, "not yet"});
  EXPECT_TRUE(NewSagaGrpc(Dtm(), "e2").Submit().IsOngoing());
  server_.Script("Submit", {grpc::StatusCode::UNKNOWN, "store down"});
  Status other = NewSagaGrpc(Dtm(), "e3").Submit();
  EXPECT_EQ(other.code(), StatusCode::kInternal);
  EXPECT_NE(other.message().find(Dtm() + "/dtmgimp.Dtm/Submit"), std::string::npos)
      << other.message();
  EXPECT_NE(other.message().find("UNKNOWN: store down"), std::string::npos);

  Status unreachable = NewSagaGrpc(kClosedPort, "e4").Submit();
  EXPECT_EQ(unreachable.code(), StatusCode::kUnavailable);
  EXPECT_NE(unreachable.message().find(kClosedPort), std::string::npos) << unreachable.message();
  Status empty = NewSagaGrpc("", "e5").Submit();
  EXPECT_EQ(empty.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(empty.message().find("grpc_server"), std::string::npos);
}

TEST_F(GrpcFlowTest, GenGidGrpc) {
  auto gid = GenGidGrpc(Dtm());
  ASSERT_TRUE(gid.ok()) << gid.status().message();
  EXPECT_EQ(*gid, "fake-gid-1");
  EXPECT_EQ(GenGidGrpc(kClosedPort).status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(GenGidGrpc("").status().code(), StatusCode::kInvalidArgument);
}

TEST_F(GrpcFlowTest, TccRegistersThenCallsTryWithMetadata) {
  std::string reply;
  Status st = TccGlobalTransactionGrpc(
      Dtm(), "t1",
      [](Tcc& tcc) {
        tcc.SetBranchHeaders({{"X-Trace", "abc"}});
        tcc.SetRequestTimeout(9);
      },
      [&](Tcc& tcc) {
        auto out = tcc.CallBranch(Req(30), Url("TransOutTcc"), Url("TransOutConfirm"),
                                  Url("TransOutRevert"));
        if (!out.ok()) return out.status();
        // The try's reply message comes back as bytes.
        auto qp = tcc.CallBranch(Req(1), Url("QueryPrepared"), "", "");
        if (!qp.ok()) return qp.status();
        busi::BusiReply r;
        EXPECT_TRUE(r.ParseFromString(*qp));
        reply = r.message();
        return Status::Ok();
      });
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(reply, "prepared t1");
  EXPECT_EQ(server_.Methods(), (Methods{"Prepare", "RegisterBranch", "/busi.Busi/TransOutTcc",
                                        "RegisterBranch", "/busi.Busi/QueryPrepared", "Submit"}));

  auto prepare = server_.Request<dtmgimp::DtmRequest>("Prepare");
  EXPECT_EQ(prepare.transtype(), "tcc");
  EXPECT_EQ(prepare.steps(), "null");
  EXPECT_EQ(prepare.transoptions().requesttimeout(), 9);

  auto reg = server_.Request<dtmgimp::DtmBranchRequest>("RegisterBranch");
  EXPECT_EQ(reg.gid(), "t1");
  EXPECT_EQ(reg.transtype(), "tcc");
  EXPECT_EQ(reg.branchid(), "01");
  EXPECT_EQ(reg.busipayload(), Req(30).SerializeAsString());
  ASSERT_EQ(reg.data().size(), 2);
  EXPECT_EQ(reg.data().at("confirm"), Url("TransOutConfirm"));
  EXPECT_EQ(reg.data().at("cancel"), Url("TransOutRevert"));
  EXPECT_EQ(server_.Request<dtmgimp::DtmBranchRequest>("RegisterBranch", 1).branchid(), "02");

  auto try_call = server_.Call("/busi.Busi/TransOutTcc");
  EXPECT_EQ(try_call.body, Req(30).SerializeAsString());
  EXPECT_EQ(try_call.metadata.at("dtm-gid"), "t1");
  EXPECT_EQ(try_call.metadata.at("dtm-trans_type"), "tcc");
  EXPECT_EQ(try_call.metadata.at("dtm-branch_id"), "01");
  EXPECT_EQ(try_call.metadata.at("dtm-op"), "try");
  EXPECT_EQ(try_call.metadata.at("dtm-dtm"), Dtm());
  EXPECT_EQ(try_call.metadata.at("x-trace"), "abc");  // lower-cased
  EXPECT_EQ(try_call.metadata.count("dtm-phase2_url"), 0u);
  EXPECT_LE(try_call.deadline_left.count(), 9000 + kClockSlackMs);
  EXPECT_GT(try_call.deadline_left.count(), 7000);
}

TEST_F(GrpcFlowTest, TccTryResultsMapAndAbortCarriesTheReason) {
  struct Case {
    grpc::Status reply;
    StatusCode want;
  };
  const Case cases[] = {
      {{grpc::StatusCode::ABORTED, "insufficient balance"}, StatusCode::kFailure},
      {{grpc::StatusCode::ABORTED, "ONGOING"}, StatusCode::kOngoing},
      {{grpc::StatusCode::FAILED_PRECONDITION, "locked"}, StatusCode::kOngoing},
      {{grpc::StatusCode::UNAVAILABLE, "busy"}, StatusCode::kUnavailable},
      {{grpc::StatusCode::INTERNAL, "bug"}, StatusCode::kInternal},
  };
  int n = 0;
  for (const auto& c : cases) {
    const std::string gid = "ta" + std::to_string(n++);
    server_.Script("/busi.Busi/TransOutTcc", c.reply);
    Status st = TccGlobalTransactionGrpc(Dtm(), gid, [&](Tcc& tcc) {
      return tcc
          .CallBranch(Req(1), Url("TransOutTcc"), Url("TransOutConfirm"), Url("TransOutRevert"))
          .status();
    });
    EXPECT_EQ(st.code(), c.want) << gid << ": " << st.message();
    auto calls = server_.Calls();
    ASSERT_FALSE(calls.empty());
    EXPECT_EQ(calls.back().method, "Abort") << gid;
    dtmgimp::DtmRequest abort;
    ASSERT_TRUE(abort.ParseFromString(calls.back().body));
    EXPECT_EQ(abort.gid(), gid);
    EXPECT_EQ(abort.rollbackreason(), st.message());
  }
  auto first_abort = server_.Request<dtmgimp::DtmRequest>("Abort");
  EXPECT_EQ(first_abort.rollbackreason(), "insufficient balance FAILURE");

  // An unknown method: UNIMPLEMENTED, an error naming the URL.
  Status st = TccGlobalTransactionGrpc(Dtm(), "tb", [&](Tcc& tcc) {
    return tcc.CallBranch(Req(1), Dtm() + "/busi.Busi/Nope", "", "").status();
  });
  EXPECT_EQ(st.code(), StatusCode::kInternal);
  EXPECT_NE(st.message().find(Dtm() + "/busi.Busi/Nope: gRPC UNIMPLEMENTED"), std::string::npos)
      << st.message();
}

TEST_F(GrpcFlowTest, TccPrepareRefusedRunsNothing) {
  server_.Script("Prepare", {grpc::StatusCode::ABORTED, "duplicate gid"});
  bool ran = false;
  Status st = TccGlobalTransactionGrpc(Dtm(), "tp", [&](Tcc&) {
    ran = true;
    return Status::Ok();
  });
  EXPECT_TRUE(st.IsFailure());
  EXPECT_FALSE(ran);
  EXPECT_EQ(server_.Methods(), Methods{"Prepare"});
}

TEST_F(GrpcFlowTest, TccExceptionAbortsAndRethrows) {
  EXPECT_THROW(TccGlobalTransactionGrpc(Dtm(), "tx",
                                        [](Tcc&) -> Status { throw std::runtime_error("boom"); }),
               std::runtime_error);
  EXPECT_EQ(server_.Methods(), (Methods{"Prepare", "Abort"}));
  EXPECT_EQ(server_.Request<dtmgimp::DtmRequest>("Abort").rollbackreason(), "boom");
}

TEST_F(GrpcFlowTest, TccMixedWithAnHttpTryUsesHttpForIt) {
  auto fake = std::make_shared<testing::FakeTransport>();
  internal::Transport::SetDefaultForTest(fake);
  Status st = TccGlobalTransactionGrpc(Dtm(), "tm", [&](Tcc& tcc) {
    return tcc
        .CallBranch({{"n", 1}}, "http://busi.test/api/Try", "http://busi.test/api/Confirm",
                    "http://busi.test/api/Cancel")
        .status();
  });
  internal::Transport::SetDefaultForTest(nullptr);
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(server_.Methods(), (Methods{"Prepare", "RegisterBranch", "Submit"}));
  ASSERT_EQ(fake->Requests().size(), 1u);
  EXPECT_EQ(fake->Calls()[0], "POST /api/Try");
  EXPECT_NE(fake->Requests()[0].url.find("dtm=" + std::string("127.0.0.1%3A")), std::string::npos)
      << fake->Requests()[0].url;
}

TEST_F(GrpcFlowTest, HttpTransactionRefusesAGrpcUrl) {
  auto fake = std::make_shared<testing::FakeTransport>();
  internal::Transport::SetDefaultForTest(fake);
  Status st = TccGlobalTransaction(testing::kDtm, "th", [&](Tcc& tcc) {
    return tcc.CallBranch(Req(1), Url("TransOutTcc"), Url("TransOutConfirm"), Url("TransOutRevert"))
        .status();
  });
  internal::Transport::SetDefaultForTest(nullptr);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("is a gRPC branch URL"), std::string::npos) << st.message();
  EXPECT_TRUE(server_.Calls().empty());
}

TEST_F(GrpcFlowTest, XaActionCarriesPhase2Url) {
  Status st = XaGlobalTransactionGrpc(
      Dtm(), "x1", [&](Xa& xa) { return xa.CallBranch(Url("TransInXa"), Req(5)).status(); });
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(server_.Methods(), (Methods{"Prepare", "/busi.Busi/TransInXa", "Submit"}));
  EXPECT_EQ(server_.Request<dtmgimp::DtmRequest>("Prepare").transtype(), "xa");
  auto call = server_.Call("/busi.Busi/TransInXa");
  EXPECT_EQ(call.body, Req(5).SerializeAsString());
  EXPECT_EQ(call.metadata.at("dtm-trans_type"), "xa");
  EXPECT_EQ(call.metadata.at("dtm-op"), "action");
  EXPECT_EQ(call.metadata.at("dtm-branch_id"), "01");
  EXPECT_EQ(call.metadata.at("dtm-phase2_url"), Url("TransInXa"));
  EXPECT_EQ(call.metadata.at("dtm-dtm"), Dtm());

  server_.Script("/busi.Busi/TransInXa", {grpc::StatusCode::ABORTED, "no"});
  Status failed = XaGlobalTransactionGrpc(
      Dtm(), "x2", [](Xa& xa) { xa.SetTimeoutToFail(30); },
      [&](Xa& xa) { return xa.CallBranch(Url("TransInXa"), Req(5)).status(); });
  EXPECT_TRUE(failed.IsFailure());
  auto abort = server_.Request<dtmgimp::DtmRequest>("Abort");
  EXPECT_EQ(abort.gid(), "x2");
  EXPECT_EQ(abort.transoptions().timeouttofail(), 30);
}

class GrpcMsgTest : public GrpcFlowTest {
 protected:
  Msg NewMsg(const std::string& gid) {
    Msg msg = NewMsgGrpc(Dtm(), gid);
    msg.Add(Url("TransIn"), Req(30));
    return msg;
  }
};

TEST_F(GrpcMsgTest, PrepareAndSubmitWithDelay) {
  Msg msg = NewMsg("m1");
  msg.SetDelay(5);
  ASSERT_TRUE(msg.Prepare(Url("QueryPrepared")).ok());
  ASSERT_TRUE(msg.Submit().ok());
  EXPECT_EQ(server_.Methods(), (Methods{"Prepare", "Submit"}));
  auto prepare = server_.Request<dtmgimp::DtmRequest>("Prepare");
  EXPECT_EQ(prepare.transtype(), "msg");
  EXPECT_EQ(prepare.queryprepared(), Url("QueryPrepared"));
  EXPECT_EQ(prepare.steps(), R"([{"action":")" + Url("TransIn") + R"("}])");
  EXPECT_EQ(prepare.customeddata(), "");  // the delay goes with the submit
  ASSERT_EQ(prepare.binpayloads_size(), 1);
  EXPECT_EQ(prepare.binpayloads(0), Req(30).SerializeAsString());
  EXPECT_EQ(server_.Request<dtmgimp::DtmRequest>("Submit").customeddata(), R"({"delay":5})");
}

TEST_F(GrpcMsgTest, ConcurrentIsRefused) {
  Msg msg = NewMsg("m2");
  msg.EnableConcurrent();
  Status st = msg.Prepare(Url("QueryPrepared"));
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("cannot be concurrent"), std::string::npos);
  EXPECT_EQ(msg.Submit().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(server_.Calls().empty());
}

TEST_F(GrpcMsgTest, DoAndSubmitBackCheckOverGrpc) {
  Msg msg = NewMsg("m3");
  Status st = msg.DoAndSubmit(Url("QueryPrepared"),
                              [](BranchBarrier&) { return Status::Internal("lost reply"); });
  EXPECT_EQ(st.message(), "lost reply");
  EXPECT_EQ(server_.Methods(), (Methods{"Prepare", "/busi.Busi/QueryPrepared", "Submit"}));
  auto qp = server_.Call("/busi.Busi/QueryPrepared");
  EXPECT_EQ(qp.body, "");  // an empty request message
  EXPECT_EQ(qp.metadata.at("dtm-gid"), "m3");
  EXPECT_EQ(qp.metadata.at("dtm-trans_type"), "msg");
  EXPECT_EQ(qp.metadata.at("dtm-branch_id"), "00");
  EXPECT_EQ(qp.metadata.at("dtm-op"), "msg");
  EXPECT_EQ(qp.metadata.at("dtm-dtm"), Dtm());
}

TEST_F(GrpcMsgTest, DoAndSubmitAbortsWhenTheBackCheckSaysFailure) {
  server_.Script("/busi.Busi/QueryPrepared", {grpc::StatusCode::ABORTED, "rolled back"});
  Msg msg = NewMsg("m4");
  Status st = msg.DoAndSubmit(Url("QueryPrepared"),
                              [](BranchBarrier&) { return Status::Unavailable("db down"); });
  EXPECT_EQ(st.message(), "db down");
  EXPECT_EQ(server_.Methods(), (Methods{"Prepare", "/busi.Busi/QueryPrepared", "Abort"}));

  // Busi's own Failure aborts without asking; its Ok submits without asking.
  Msg refused = NewMsg("m5");
  EXPECT_TRUE(refused
                  .DoAndSubmit(Url("QueryPrepared"),
                               [](BranchBarrier&) { return Status::Failure("no stock"); })
                  .IsFailure());
  Msg done = NewMsg("m6");
  EXPECT_TRUE(
      done.DoAndSubmit(Url("QueryPrepared"), [](BranchBarrier&) { return Status::Ok(); }).ok());
  EXPECT_EQ(server_.Methods(), (Methods{"Prepare", "/busi.Busi/QueryPrepared", "Abort", "Prepare",
                                        "Abort", "Prepare", "Submit"}));
}

TEST_F(GrpcMsgTest, DoAndSubmitKeepsAnUnansweredBackCheckPrepared) {
  server_.Script("/busi.Busi/QueryPrepared", {grpc::StatusCode::UNAVAILABLE, "down"});
  Msg msg = NewMsg("m7");
  Status st =
      msg.DoAndSubmit(Url("QueryPrepared"), [](BranchBarrier&) { return Status::Internal("?"); });
  EXPECT_EQ(st.message(), "?");
  // Neither submit nor abort: DTM's own back-check decides later.
  EXPECT_EQ(server_.Methods(), (Methods{"Prepare", "/busi.Busi/QueryPrepared"}));
}

TEST(GrpcFromMetadataTest, TccFromGrpcNeedsDtmAndGid) {
  auto no_dtm = TccFromGrpc({{"dtm-gid", "g"}});
  EXPECT_EQ(no_dtm.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(no_dtm.status().message().find("bad tcc info"), std::string::npos);
  EXPECT_EQ(TccFromGrpc({{"dtm-dtm", "d:1"}}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(TccFromGrpc({{"dtm-dtm", "d:1"}, {"dtm-gid", ""}}).status().code(),
            StatusCode::kInvalidArgument);
  auto tcc = TccFromGrpc({{"dtm-dtm", "d:1"}, {"dtm-gid", "g"}, {"dtm-branch_id", "01"}});
  ASSERT_TRUE(tcc.ok());
  EXPECT_EQ(tcc->trans_type(), "tcc");
  EXPECT_EQ(tcc->server_url(), "d:1");
  EXPECT_EQ(tcc->branch_id(), "01");
  EXPECT_TRUE(tcc->uses_grpc());
}

TEST(GrpcFromMetadataTest, XaFromGrpcNeedsGidBranchAndOp) {
  const GrpcMetadata full = {{"dtm-dtm", "d:1"},
                             {"dtm-gid", "g"},
                             {"dtm-branch_id", "01"},
                             {"dtm-op", "commit"},
                             {"dtm-phase2_url", "b:1/busi.Busi/TransInXa"}};
  for (const char* missing : {"dtm-gid", "dtm-branch_id", "dtm-op"}) {
    GrpcMetadata md = full;
    md.erase(missing);
    auto xa = XaFromGrpc(md);
    EXPECT_EQ(xa.status().code(), StatusCode::kInvalidArgument) << missing;
    EXPECT_NE(xa.status().message().find("bad xa info"), std::string::npos);
  }
  auto xa = XaFromGrpc(full);
  ASSERT_TRUE(xa.ok());
  EXPECT_EQ(xa->gid(), "g");
  EXPECT_EQ(xa->branch_id(), "01");
  EXPECT_EQ(xa->op(), "commit");
  EXPECT_EQ(xa->phase2_url(), "b:1/busi.Busi/TransInXa");
  EXPECT_EQ(xa->server_url(), "d:1");
  EXPECT_TRUE(xa->uses_grpc());

  // XaLocalTransactionGrpc checks the metadata and the driver before touching a database.
  int ran = 0;
  auto fn = [&](SqlDb&, Xa&) {
    ++ran;
    return Status::Ok();
  };
  EXPECT_EQ(XaLocalTransactionGrpc({{"dtm-gid", "g"}}, DBConf{.driver = "postgres"}, fn).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(XaLocalTransactionGrpc(full, DBConf{.driver = "sqlite"}, fn).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(ran, 0);
}

TEST_F(GrpcFlowTest, NestedTccFromGrpcRegistersSubBranchesWithItsDtm) {
  auto tcc = TccFromGrpc({{"dtm-dtm", Dtm()},
                          {"dtm-gid", "n1"},
                          {"dtm-trans_type", "tcc"},
                          {"dtm-branch_id", "01"},
                          {"dtm-op", "try"}});
  ASSERT_TRUE(tcc.ok());
  auto out =
      tcc->CallBranch(Req(2), Url("TransInTcc"), Url("TransInConfirm"), Url("TransInRevert"));
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ(server_.Methods(), (Methods{"RegisterBranch", "/busi.Busi/TransInTcc"}));
  EXPECT_EQ(server_.Request<dtmgimp::DtmBranchRequest>("RegisterBranch").branchid(), "0101");
  EXPECT_EQ(server_.Call("/busi.Busi/TransInTcc").metadata.at("dtm-branch_id"), "0101");
}

TEST_F(GrpcFlowTest, XaLocalTransactionGrpcRegistersOverGrpc) {
  auto conf = testing_dbs::ServerConf("postgres");
  LYNX_REQUIRE_SERVER(conf.has_value(), "postgres");
  {
    auto db = OpenSqlDb(*conf);
    ASSERT_TRUE(db.ok()) << db.status().message();
    ASSERT_TRUE(CreateBarrierTable(**db).ok());
  }
  const std::string gid = "xag-" + testing_dbs::UniqueSuffix();
  GrpcMetadata md = {{"dtm-dtm", Dtm()},       {"dtm-gid", gid},
                     {"dtm-trans_type", "xa"}, {"dtm-branch_id", "01"},
                     {"dtm-op", "action"},     {"dtm-phase2_url", Url("TransInXa")}};
  Status st = XaLocalTransactionGrpc(md, *conf, [](SqlDb& db, Xa& xa) {
    EXPECT_EQ(xa.phase2_url().substr(xa.phase2_url().find('/')), "/busi.Busi/TransInXa");
    return db.Exec("SELECT 1");
  });
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(server_.Methods(), Methods{"RegisterBranch"});
  auto reg = server_.Request<dtmgimp::DtmBranchRequest>("RegisterBranch");
  EXPECT_EQ(reg.gid(), gid);
  EXPECT_EQ(reg.transtype(), "xa");
  EXPECT_EQ(reg.branchid(), "01");
  EXPECT_EQ(reg.busipayload(), "");
  ASSERT_EQ(reg.data().size(), 1);
  EXPECT_EQ(reg.data().at("url"), Url("TransInXa"));
  // Phase 2 from DTM's call commits the prepared transaction; no further DTM call.
  md["dtm-op"] = "commit";
  md["dtm-dtm"] = "";  // DTM sends an empty dtm-dtm on its own calls
  st = XaLocalTransactionGrpc(md, *conf, [](SqlDb&, Xa&) { return Status::Ok(); });
  EXPECT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(server_.Methods(), Methods{"RegisterBranch"});

  // A refused registration rolls the local work back and is returned.
  md["dtm-op"] = "action";
  md["dtm-dtm"] = Dtm();
  md["dtm-branch_id"] = "02";
  server_.Script("RegisterBranch", {grpc::StatusCode::ABORTED, "trans is not prepared"});
  st = XaLocalTransactionGrpc(md, *conf, [](SqlDb&, Xa&) { return Status::Ok(); });
  EXPECT_TRUE(st.IsFailure()) << st.message();
}

class GrpcTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern =
        (std::filesystem::path(::testing::TempDir()) / "grpc_tls_XXXXXX").string();
    char* dir = mkdtemp(pattern.data());
    ASSERT_NE(dir, nullptr);
    dir_ = dir;
    std::string err;
    ASSERT_TRUE(lynx::test_support::MakeTestCerts(dir_, &certs_, &err)) << err;
  }
  void TearDown() override {
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }
  std::string dir_;
  lynx::test_support::TestCerts certs_;
};

TEST_F(GrpcTlsTest, MutualTlsToDtm) {
  using lynx::test_support::TestCerts;
  FakeGrpcServer server(TestCerts::Read(certs_.server_cert), TestCerts::Read(certs_.server_key),
                        TestCerts::Read(certs_.ca_file));
  ASSERT_TRUE(server.started());
  const GrpcTlsOptions tls{.enabled = true,
                           .cert_file = certs_.client_cert,
                           .key_file = certs_.client_key,
                           .ca_file = certs_.ca_file};
  auto gid = GenGidGrpc(server.address(), tls);
  ASSERT_TRUE(gid.ok()) << gid.status().message();
  Saga saga = NewSagaGrpc(server.address(), "tls1", tls);
  ASSERT_TRUE(saga.Submit().ok());
  EXPECT_EQ(server.Methods(), (Methods{"NewGid", "Submit"}));

  // Without a client certificate, with the wrong CA, or in plaintext, the call does not go
  // through.
  EXPECT_FALSE(GenGidGrpc(server.address(), {.enabled = true, .ca_file = certs_.ca_file}).ok());
  GrpcTlsOptions wrong_ca = tls;
  wrong_ca.ca_file = certs_.other_ca_file;
  EXPECT_FALSE(GenGidGrpc(server.address(), wrong_ca).ok());
  EXPECT_FALSE(GenGidGrpc(server.address()).ok());
  EXPECT_EQ(server.Methods(), (Methods{"NewGid", "Submit"}));
}

// DTMClient and TransactionHelper with grpc_server set; HTTP calls (newGid, query) go to the
// scripted HTTP transport.
class GrpcClientTest : public testing::FakeTransportTest {
 protected:
  void SetUp() override {
    FakeTransportTest::SetUp();
    ASSERT_TRUE(server_.started());
  }
  DtmConfig Config(std::string grpc_server) {
    DtmConfig c;
    c.enabled = true;
    c.server_url = testing::kDtm;
    c.grpc_server = std::move(grpc_server);
    c.max_connection_retries = 1;
    c.pass_through_headers = {"X-Request-Id"};
    return c;
  }
  std::string Url(const std::string& method) const { return server_.Url(method); }

  FakeGrpcServer server_;
};

TEST_F(GrpcClientTest, PreconfiguredGrpcTransactions) {
  DTMClient client(Config(server_.address()));
  Context ctx = Context().WithHeaders({{"x-request-id", "req-1"}});
  Saga saga = client.NewSagaGrpc("cs1", ctx);
  EXPECT_TRUE(saga.uses_grpc());
  EXPECT_EQ(saga.server_url(), server_.address());
  saga.Add(Url("TransOut"), Url("TransOutRevert"), Req(1));
  ASSERT_TRUE(saga.Submit().ok());
  auto r = server_.Request<dtmgimp::DtmRequest>("Submit");
  EXPECT_EQ(r.transoptions().timeouttofail(), 60);
  EXPECT_EQ(r.transoptions().requesttimeout(), 10);
  EXPECT_EQ(r.transoptions().retryinterval(), 10);
  EXPECT_EQ(r.transoptions().branchheaders().at("X-Request-Id"), "req-1");
  EXPECT_TRUE(client.NewMsgGrpc("cm1").uses_grpc());
  EXPECT_TRUE(client.NewTccGrpc("ct1").uses_grpc());
  EXPECT_TRUE(client.NewXaGrpc("cx1").uses_grpc());
  EXPECT_TRUE(fake_->Requests().empty());

  DTMClient without(Config(""));
  EXPECT_EQ(without.NewSagaGrpc("cs2").Submit().code(), StatusCode::kInvalidArgument);
  DTMClient disabled{DtmConfig{}};
  EXPECT_EQ(disabled.NewTccGrpc("ct2").server_url(), "");
  Tcc tcc = disabled.NewTccGrpc("ct2");
  EXPECT_EQ(TccGlobalTransaction(tcc, [](Tcc&) { return Status::Ok(); }).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(server_.Methods(), Methods{"Submit"});
}

TEST_F(GrpcClientTest, StartupAndHealthProbeTheGrpcServer) {
  DTMClient client(Config(server_.address()));
  fake_->Script("/newGid", 200, R"({"gid":"h1"})");
  Status st = client.StartupTasks();
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(server_.Methods(), Methods{"NewGid"});
  fake_->Script("/newGid", 200, R"({"gid":"h2"})");
  EXPECT_TRUE(client.CheckHealth().ok());
  EXPECT_EQ(server_.Methods(), (Methods{"NewGid", "NewGid"}));
  EXPECT_TRUE(client.CleanupTasks().ok());

  DTMClient down(Config(kClosedPort));
  fake_->Script("/newGid", 200, R"({"gid":"h3"})");
  st = down.StartupTasks();
  EXPECT_EQ(st.code(), StatusCode::kUnavailable);
  EXPECT_NE(st.message().find(std::string("DTM gRPC server at ") + kClosedPort +
                              " (lynx.dtm.grpc_server) after 1 attempt(s)"),
            std::string::npos)
      << st.message();
  fake_->Script("/newGid", 200, R"({"gid":"h4"})");
  Status health = down.CheckHealth();
  EXPECT_EQ(health.code(), StatusCode::kUnavailable);
  EXPECT_NE(health.message().find(kClosedPort), std::string::npos) << health.message();

  // A TLS file that does not exist fails at once, naming the file.
  DtmConfig bad_tls = Config(server_.address());
  bad_tls.grpc_tls_enabled = true;
  bad_tls.grpc_cert_file = "/nonexistent/client.pem";
  bad_tls.grpc_key_file = "/nonexistent/client.key";
  bad_tls.max_connection_retries = 3;  // not retried: no back-off sleep
  DTMClient tls_client(bad_tls);
  fake_->Script("/newGid", 200, R"({"gid":"h5"})");
  st = tls_client.StartupTasks();
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("'/nonexistent/client.pem'"), std::string::npos) << st.message();
}

TEST_F(GrpcClientTest, HelperChoosesGrpcWhenAnyUrlIsAGrpcTarget) {
  DTMClient client(Config(server_.address()));
  TransactionHelper helper(client);
  Context ctx;
  // All HTTP: HTTP.
  ASSERT_TRUE(helper
                  .ExecuteSAGA(ctx, "h1",
                               {{.action = "http://busi.test/api/Out",
                                 .compensate = "http://busi.test/api/OutRevert"}})
                  .ok());
  EXPECT_EQ(fake_->Calls(), std::vector<std::string>{"POST /api/dtmsvr/submit"});
  EXPECT_TRUE(server_.Calls().empty());

  // Mixed: gRPC, with the http step's URL kept for dtmd to call over HTTP.
  Status st = helper.ExecuteSAGA(
      ctx, "h2",
      {{.action = Url("TransOut"), .compensate = Url("TransOutRevert"), .data = Req(7)},
       {.action = "http://busi.test/api/In", .compensate = "http://busi.test/api/InRevert"}},
      {.branch_timeout = 4});
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(server_.Methods(), Methods{"Submit"});
  auto submit = server_.Request<dtmgimp::DtmRequest>("Submit");
  EXPECT_EQ(submit.gid(), "h2");
  EXPECT_EQ(submit.binpayloads(0), Req(7).SerializeAsString());
  EXPECT_EQ(submit.binpayloads(1), "null");  // the default payload
  EXPECT_EQ(submit.transoptions().requesttimeout(), 4);
  EXPECT_EQ(fake_->Requests().size(), 1u);

  st = helper.ExecuteTCC(ctx, "h3",
                         {{.try_url = Url("TransOutTcc"),
                           .confirm_url = Url("TransOutConfirm"),
                           .cancel_url = Url("TransOutRevert"),
                           .data = Req(3)}});
  ASSERT_TRUE(st.ok()) << st.message();
  st = helper.ExecuteXA(ctx, "h4", {{.action = Url("TransInXa"), .data = Req(4)}});
  ASSERT_TRUE(st.ok()) << st.message();
  // Only the query-prepared URL is gRPC: still a gRPC msg.
  st = helper.ExecuteMsg(ctx, "h5", Url("QueryPrepared"),
                         {{.action = "http://busi.test/api/In", .data = {{"n", 1}}}});
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(server_.Methods(),
            (Methods{"Submit", "Prepare", "RegisterBranch", "/busi.Busi/TransOutTcc", "Submit",
                     "Prepare", "/busi.Busi/TransInXa", "Submit", "Prepare", "Submit"}));
  EXPECT_EQ(server_.Request<dtmgimp::DtmRequest>("Prepare", 2).queryprepared(),
            Url("QueryPrepared"));
  EXPECT_EQ(server_.Request<dtmgimp::DtmRequest>("Prepare", 2).binpayloads(0), R"({"n":1})");
  EXPECT_EQ(fake_->Requests().size(), 1u);
}

TEST_F(GrpcClientTest, HelperNeedsGrpcServerForGrpcUrls) {
  DTMClient client(Config(""));
  TransactionHelper helper(client);
  Status st = helper.ExecuteSAGA(
      Context(), "n1",
      {{.action = "http://busi.test/api/Out", .compensate = "http://busi.test/api/OutRevert"},
       {.action = Url("TransIn"), .compensate = Url("TransInRevert")}});
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(st.message(), "branch URL '" + Url("TransIn") +
                              "' is a gRPC target but lynx.dtm.grpc_server is not configured");
  EXPECT_EQ(helper.ExecuteMsg(Context(), "n2", Url("QueryPrepared"), {}).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(helper.ExecuteTCC(Context(), "n3", {{.try_url = Url("TransOutTcc")}}).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(helper.ExecuteXA(Context(), "n4", {{.action = Url("TransInXa")}}).code(),
            StatusCode::kInvalidArgument);
  EXPECT_TRUE(fake_->Requests().empty());
  EXPECT_TRUE(server_.Calls().empty());
}

}  // namespace
}  // namespace lynx::dtm
