// The SDK over gRPC against the real dtmd (dtm-protocol.md §9.3 and the gRPC lines of
// §13.2-13.5): transactions sent to dtmd's dtmgimp.Dtm service, branches that are gRPC methods —
// of busi_server (scripted results, recorded calls) and of the example's account service on a
// GrpcBranchServer (balances, barrier from gRPC metadata, XA local transactions on PostgreSQL and
// MariaDB) — every mode succeeding and rolling back, mixed HTTP + gRPC steps, nested TCC, branch
// headers on the first call and on dtmd's retries, TLS with certificates made by the test.
#include <gtest/gtest.h>

#include "../support/test_certs.h"
#include "account_fixture.h"
#include "proto/busi.pb.h"

namespace lynx::it {
namespace {

using Statuses = std::vector<std::string>;

busi::ReqGrpc Req(int64_t amount, const std::string& out_result = "",
                  const std::string& in_result = "") {
  busi::ReqGrpc r;
  r.set_amount(amount);
  r.set_transoutresult(out_result);
  r.set_transinresult(in_result);
  return r;
}

class SdkGrpcTest : public SdkTest {
 protected:
  std::string G(const std::string& method) const { return busi_.GrpcUrl(method); }

  // "<route>/<branch_id>/<op>" of the busi calls of gid, in arrival order.
  std::vector<std::string> Log(const std::string& gid) const { return CallLog(gid); }
};

TEST_F(SdkGrpcTest, SagaSucceeds) {
  std::string gid = client_->GenerateGid();
  dtm::Saga saga = client_->NewSagaGrpc(gid);
  EXPECT_EQ(saga.protocol(), "grpc");
  saga.Add(G("TransOut"), G("TransOutRevert"), Req(30))
      .Add(G("TransIn"), G("TransInRevert"), Req(30))
      .SetWaitResult(true);
  Status st = saga.Submit();
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(dtm_.Status(gid), "succeed");
  EXPECT_EQ(Log(gid), (Statuses{"grpc:TransOut/01/action", "grpc:TransIn/02/action"}));
  for (const auto& c : busi_.Calls("", gid)) {
    EXPECT_NE(c.body.find("\"Amount\":30"), std::string::npos) << c.body;
    EXPECT_EQ(c.Header("dtm-trans_type"), "saga");
    // The reference server's calls come from grpc-go with its raw codec: busi_server (a generic
    // C++ gRPC service, as GrpcBranchServer) accepts them.
    if (kReferenceServer) {
      EXPECT_NE(c.Header("user-agent").find("grpc-go/"), std::string::npos);
    }
  }
}

// Over gRPC too, the SDK sends its trace to DTM as metadata and dtmd's branch calls carry it.
TEST_F(SdkGrpcTest, ASagasTraceReachesItsBranches) {
  LYNX_DTMD_ONLY("dtmd passes the trace to the branches");
  std::string gid = client_->GenerateGid();
  dtm::Saga saga = client_->NewSagaGrpc(gid);
  saga.Add(G("TransOut"), G("TransOutRevert"), Req(30)).SetWaitResult(true);
  const std::string trace_id = saga.trace().trace_id;
  ASSERT_TRUE(saga.Submit().ok());
  auto calls = busi_.Calls("", gid);
  ASSERT_EQ(calls.size(), 1u);
  const std::string tp = calls[0].Header("traceparent");
  ASSERT_EQ(tp.size(), 55u) << tp;
  EXPECT_EQ(tp.substr(3, 32), trace_id);
}

TEST_F(SdkGrpcTest, SagaRollsBack) {
  std::string gid = client_->GenerateGid();
  dtm::Saga saga = client_->NewSagaGrpc(gid);
  saga.Add(G("TransOut"), G("TransOutRevert"), Req(30, "", "FAILURE"))
      .Add(G("TransIn"), G("TransInRevert"), Req(30, "", "FAILURE"))
      .SetWaitResult(true);
  Status st = saga.Submit();
  EXPECT_TRUE(st.IsFailure()) << st.message();
  EXPECT_EQ(dtm_.Status(gid), "failed");
  EXPECT_EQ(dtm_.BranchStatuses(gid), (Statuses{"succeed", "succeed", "succeed", "failed"}));
  EXPECT_EQ(Log(gid),
            (Statuses{"grpc:TransOut/01/action", "grpc:TransIn/02/action",
                      "grpc:TransInRevert/02/compensate", "grpc:TransOutRevert/01/compensate"}));
}

TEST_F(SdkGrpcTest, MixedHttpAndGrpcSteps) {
  std::string gid = client_->GenerateGid();
  dtm::Saga saga = client_->NewSagaGrpc(gid);
  saga.Add(B("TransOut"), B("TransOutRevert"), dtm::Payload::Bytes(R"({"amount":30})"))
      .Add(G("TransIn"), G("TransInRevert"), Req(30))
      .SetWaitResult(true);
  Status st = saga.Submit();
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(Log(gid), (Statuses{"TransOut/01/action", "grpc:TransIn/02/action"}));
  auto http = busi_.Calls("TransOut", gid);
  ASSERT_EQ(http.size(), 1u);
  EXPECT_EQ(http[0].body, R"({"amount":30})");
}

TEST_F(SdkGrpcTest, BranchHeadersReachTheBranchOnFirstCallAndOnRetry) {
  busi_.Script("grpc:TransOut", {"ERROR"});
  std::string gid = client_->GenerateGid();
  Context ctx =
      Context::Background().WithHeaders({{"X-Request-Id", "req-7"}, {"X-Not-Passed", "no"}});
  dtm::Saga saga = client_->NewSagaGrpc(gid, ctx);
  saga.Add(G("TransOut"), G("TransOutRevert"), Req(30))
      .Add(G("TransIn"), G("TransInRevert"), Req(30));
  if (kReferenceServer) saga.SetRetryInterval(kReferenceRetryInterval);
  ASSERT_TRUE(saga.Submit().ok());
  ASSERT_TRUE(WaitFirstPass(gid, "grpc:TransOut"));
  EXPECT_EQ(dtm_.Status(gid), "submitted");
  // Past the back-off (retry_interval 10 s), before timeout_to_fail (60 s).
  RetryLater(gid, 25, "succeed");
  auto calls = busi_.Calls("grpc:TransOut", gid);
  ASSERT_EQ(calls.size(), 2u);
  for (const auto& c : calls) {
    EXPECT_EQ(c.Header("x-request-id"), "req-7");
    EXPECT_EQ(c.headers.count("x-not-passed"), 0u);
  }
}

TEST_F(SdkGrpcTest, MsgPrepareSubmitAndDoAndSubmit) {
  std::string gid = client_->GenerateGid();
  dtm::Msg msg = client_->NewMsgGrpc(gid);
  msg.Add(G("TransIn"), Req(30)).SetWaitResult(true);
  ASSERT_TRUE(msg.Prepare(G("QueryPrepared")).ok());
  EXPECT_EQ(dtm_.Status(gid), "prepared");
  Status st = msg.Submit();
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(dtm_.Status(gid), "succeed");

  // The local transaction fails for good: the message is aborted, TransIn never called.
  std::string gid2 = client_->GenerateGid();
  dtm::Msg failing = client_->NewMsgGrpc(gid2);
  failing.Add(G("TransIn"), Req(30));
  st = failing.DoAndSubmit(G("QueryPrepared"), [](dtm::BranchBarrier&) {
    return Status::Failure("local business failed");
  });
  EXPECT_TRUE(st.IsFailure()) << st.message();
  EXPECT_EQ(dtm_.Status(gid2), "failed");
  EXPECT_TRUE(busi_.Calls("grpc:TransIn", gid2).empty());

  // The local outcome is unknown: the SDK asks QueryPrepared over gRPC, which says it committed.
  std::string gid3 = client_->GenerateGid();
  dtm::Msg unknown = client_->NewMsgGrpc(gid3);
  unknown.Add(G("TransIn"), Req(30)).SetWaitResult(true);
  st = unknown.DoAndSubmit(G("QueryPrepared"), [](dtm::BranchBarrier&) {
    return Status::Unavailable("connection to the local database lost");
  });
  EXPECT_FALSE(st.ok()) << "the local error is returned";
  auto qp = busi_.Calls("grpc:QueryPrepared", gid3);
  ASSERT_EQ(qp.size(), 1u);
  EXPECT_EQ(qp[0].Header("dtm-op"), "msg");
  EXPECT_EQ(qp[0].Header("dtm-branch_id"), "00");
  EXPECT_EQ(qp[0].Header("dtm-dtm"), dtm_.GrpcServer()) << "SDK calls carry the DTM address";
  EXPECT_EQ(dtm_.Status(gid3), "succeed");
}

TEST_F(SdkGrpcTest, TccConfirmsOrCancels) {
  std::string gid = client_->GenerateGid();
  Status st = dtm::TccGlobalTransactionGrpc(dtm_.GrpcServer(), gid, [&](dtm::Tcc& tcc) {
    auto out = tcc.CallBranch(Req(30), G("TransOutTry"), G("TransOutConfirm"), G("TransOutRevert"));
    if (!out.ok()) return out.status();
    return tcc.CallBranch(Req(30), G("TransInTry"), G("TransInConfirm"), G("TransInRevert"))
        .status();
  });
  ASSERT_TRUE(st.ok()) << st.message();
  ASSERT_TRUE(dtm_.WaitPasses(gid, 1));
  EXPECT_EQ(dtm_.Status(gid), "succeed");
  auto tries = busi_.Calls("grpc:TransOutTry", gid);
  ASSERT_EQ(tries.size(), 1u);
  EXPECT_EQ(tries[0].Header("dtm-op"), "try");
  EXPECT_EQ(tries[0].Header("dtm-dtm"), dtm_.GrpcServer());
  auto confirm = busi_.Calls("grpc:TransInConfirm", gid);
  ASSERT_EQ(confirm.size(), 1u);
  EXPECT_EQ(confirm[0].Header("dtm-op"), "confirm");
  EXPECT_NE(confirm[0].body.find("\"Amount\":30"), std::string::npos) << "the registered payload";

  busi_.Script("grpc:TransInTry", {"FAILURE"});
  std::string gid2 = client_->GenerateGid();
  st = dtm::TccGlobalTransactionGrpc(dtm_.GrpcServer(), gid2, [&](dtm::Tcc& tcc) {
    auto out = tcc.CallBranch(Req(30), G("TransOutTry"), G("TransOutConfirm"), G("TransOutRevert"));
    if (!out.ok()) return out.status();
    return tcc.CallBranch(Req(30), G("TransInTry"), G("TransInConfirm"), G("TransInRevert"))
        .status();
  });
  EXPECT_TRUE(st.IsFailure()) << st.message();
  ASSERT_TRUE(dtm_.WaitPasses(gid2, 1));
  EXPECT_EQ(dtm_.Status(gid2), "failed");
  EXPECT_EQ(busi_.Calls("grpc:TransOutRevert", gid2).size(), 1u);
  EXPECT_EQ(busi_.Calls("grpc:TransInRevert", gid2).size(), 1u);
  EXPECT_TRUE(busi_.Calls("grpc:TransOutConfirm", gid2).empty());
}

TEST_F(SdkGrpcTest, NestedTccFromGrpcMetadata) {
  // A gRPC try handler that opens a sub-branch of its own branch (ids 01 -> 0101).
  dtm::GrpcBranchServer nested;
  std::string seen_branch;
  nested.Handle(
      "/nested.Nested/Try", [&](const dtm::GrpcBranchRequest& req) -> StatusOr<std::string> {
        auto tcc = dtm::TccFromGrpc(req.metadata);
        if (!tcc.ok()) return tcc.status();
        seen_branch = tcc->branch_id();
        auto in =
            tcc->CallBranch(Req(30), G("TransInTry"), G("TransInConfirm"), G("TransInRevert"));
        if (!in.ok()) return in.status();
        return std::string();
      });
  ASSERT_TRUE(nested.Start().ok());
  std::string gid = client_->GenerateGid();
  Status st = dtm::TccGlobalTransactionGrpc(dtm_.GrpcServer(), gid, [&](dtm::Tcc& tcc) {
    return tcc
        .CallBranch(Req(30), nested.Target("/nested.Nested/Try"), G("TransOutConfirm"),
                    G("TransOutRevert"))
        .status();
  });
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(seen_branch, "01");
  ASSERT_TRUE(dtm_.WaitPasses(gid, 1));
  EXPECT_EQ(dtm_.Status(gid), "succeed");
  auto in_try = busi_.Calls("grpc:TransInTry", gid);
  ASSERT_EQ(in_try.size(), 1u);
  EXPECT_EQ(in_try[0].Header("dtm-branch_id"), "0101");
  EXPECT_EQ(busi_.Calls("grpc:TransInConfirm", gid).size(), 1u);
  EXPECT_EQ(busi_.Calls("grpc:TransOutConfirm", gid).size(), 1u);
  nested.Stop();

  // Without the dtm-* metadata there is no transaction to nest in.
  EXPECT_FALSE(dtm::TccFromGrpc({{"dtm-gid", gid}}).ok());
}

TEST_F(SdkGrpcTest, HelperRunsEveryModeOverGrpc) {
  dtm::TransactionHelper helper(*client_);
  dtm::TransactionOptions opts{.wait_result = true};
  std::string gid = helper.MustGenGid();
  Status st = helper.ExecuteSAGA(
      Context::Background(), gid,
      {{.action = G("TransOut"), .compensate = G("TransOutRevert"), .data = Req(10)},
       {.action = G("TransIn"), .compensate = G("TransInRevert"), .data = Req(10)}},
      opts);
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(dtm_.Query(gid).at("transaction").at("protocol").as_string(), "grpc");
  EXPECT_EQ(dtm_.Status(gid), "succeed");

  std::string gid2 = helper.MustGenGid();
  st = helper.ExecuteTCC(Context::Background(), gid2,
                         {{.try_url = G("TransOutTry"),
                           .confirm_url = G("TransOutConfirm"),
                           .cancel_url = G("TransOutRevert"),
                           .data = Req(10)}},
                         opts);
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(dtm_.Status(gid2), "succeed");

  std::string gid3 = helper.MustGenGid();
  st = helper.ExecuteMsg(Context::Background(), gid3, G("QueryPrepared"),
                         {{.action = G("TransIn"), .data = Req(10)}}, opts);
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(dtm_.Status(gid3), "succeed");
}

TEST_F(SdkGrpcTest, UnreachableOrWrongDtmIsAnError) {
  const std::string nowhere = "127.0.0.1:" + std::to_string(UnusedPort());
  Status st = dtm::TccGlobalTransactionGrpc(nowhere, "g-unreachable",
                                            [](dtm::Tcc&) { return Status::Ok(); });
  EXPECT_FALSE(st.ok());
  dtm::Saga saga = dtm::NewSagaGrpc(nowhere, "g-unreachable");
  saga.Add(G("TransOut"), G("TransOutRevert"), Req(1));
  EXPECT_EQ(saga.Submit().code(), StatusCode::kUnavailable);
  // A gRPC transaction whose DTM address is an HTTP URL is refused before any call.
  dtm::Saga wrong = dtm::NewSagaGrpc(dtm_.Url(), "g-wrong");
  wrong.Add(G("TransOut"), G("TransOutRevert"), Req(1));
  EXPECT_FALSE(wrong.Submit().ok());
  EXPECT_FALSE(dtm_.Exists("g-wrong"));
}

// The example's account service on a GrpcBranchServer: barrier from gRPC metadata, balances in a
// real database, XA local transactions registered over gRPC.
class GrpcBusinessTest : public AccountTest {
 protected:
  void SetUp() override {
    SdkTest::SetUp();
    if (HasFatalFailure()) return;
    StartService("lynx_busi_grpc");
    if (HasFatalFailure() || IsSkipped()) return;
    server_ = std::make_unique<dtm::GrpcBranchServer>();
    service_->RegisterGrpc(*server_);
    Status st = server_->Start();
    ASSERT_TRUE(st.ok()) << st.message();
  }
  void TearDown() override {
    if (server_) server_->Stop();
    SdkTest::TearDown();
  }

  std::string A(const std::string& method) const { return server_->Target("/busi.Busi/" + method); }

  std::unique_ptr<dtm::GrpcBranchServer> server_;
};

TEST_P(GrpcBusinessTest, SagaMovesTheMoneyOrCompensates) {
  std::string gid = client_->GenerateGid();
  dtm::Saga saga = client_->NewSagaGrpc(gid);
  saga.Add(A("TransOut"), A("TransOutRevert"), Req(30))
      .Add(A("TransIn"), A("TransInRevert"), Req(30))
      .SetWaitResult(true);
  Status st = saga.Submit();
  ASSERT_TRUE(st.ok()) << st.message();
  ExpectBalances(970, 1030);

  std::string gid2 = client_->GenerateGid();
  dtm::Saga failing = client_->NewSagaGrpc(gid2);
  failing.Add(A("TransIn"), A("TransInRevert"), Req(5000))
      .Add(A("TransOut"), A("TransOutRevert"), Req(5000))  // insufficient balance: FAILURE
      .SetWaitResult(true);
  st = failing.Submit();
  EXPECT_TRUE(st.IsFailure());
  const std::string why =
      "url:" + A("TransOut") + " return failed: insufficient balance in account 1";
  EXPECT_EQ(st.message(), why + " FAILURE");
  EXPECT_EQ(dtm_.Status(gid2), "failed");
  // Both servers store the branch's ABORTED message with " FAILURE" appended once
  // (GrpcError2DtmError).
  EXPECT_EQ(dtm_.RollbackReason(gid2), why + " FAILURE");
  ExpectBalances(970, 1030);
}

TEST_P(GrpcBusinessTest, TccConfirmsOrCancelsAndUnfreezes) {
  dtm::TransactionHelper helper(*client_);
  auto branches = [&](int64_t amount) {
    return std::vector<dtm::TCCBranch>{{.try_url = A("TransOutTry"),
                                        .confirm_url = A("TransOutConfirm"),
                                        .cancel_url = A("TransOutCancel"),
                                        .data = Req(amount)},
                                       {.try_url = A("TransInTry"),
                                        .confirm_url = A("TransInConfirm"),
                                        .cancel_url = A("TransInCancel"),
                                        .data = Req(amount)}};
  };
  dtm::TransactionOptions opts{.wait_result = true};
  std::string gid = helper.MustGenGid();
  Status st = helper.ExecuteTCC(Context::Background(), gid, branches(40), opts);
  ASSERT_TRUE(st.ok()) << st.message();
  ExpectBalances(960, 1040);
  std::string gid2 = helper.MustGenGid();
  EXPECT_TRUE(helper.ExecuteTCC(Context::Background(), gid2, branches(5000), opts).IsFailure());
  EXPECT_EQ(dtm_.Status(gid2), "failed");
  ExpectBalances(960, 1040);
  EXPECT_EQ(*service_->Frozen(kTransOutUser), 0);
  EXPECT_EQ(*service_->Frozen(kTransInUser), 0);
}

TEST_P(GrpcBusinessTest, XaCommitsOrRollsBack) {
  if (GetParam() == "sqlite") GTEST_SKIP() << "SQLite has no XA";
  std::string gid = client_->GenerateGid();
  Status st = dtm::XaGlobalTransactionGrpc(dtm_.GrpcServer(), gid, [&](dtm::Xa& xa) {
    auto out = xa.CallBranch(A("TransOut"), Req(50));
    if (!out.ok()) return out.status();
    return xa.CallBranch(A("TransIn"), Req(50)).status();
  });
  ASSERT_TRUE(st.ok()) << st.message();
  ASSERT_TRUE(dtm_.WaitPasses(gid, 1));
  EXPECT_EQ(dtm_.Status(gid), "succeed");
  EXPECT_EQ(dtm_.BranchStatuses(gid), (Statuses{"prepared", "succeed", "prepared", "succeed"}));
  ExpectBalances(950, 1050);

  // Branch 2's local work fails (insufficient balance when paying 5000 back): both roll back.
  std::string gid2 = client_->GenerateGid();
  st = dtm::XaGlobalTransactionGrpc(dtm_.GrpcServer(), gid2, [&](dtm::Xa& xa) {
    auto in = xa.CallBranch(A("TransIn"), Req(5000));
    if (!in.ok()) return in.status();
    return xa.CallBranch(A("TransOut"), Req(5000)).status();
  });
  EXPECT_TRUE(st.IsFailure()) << st.message();
  ASSERT_TRUE(dtm_.WaitPasses(gid2, 1));
  EXPECT_EQ(dtm_.Status(gid2), "failed");
  ExpectBalances(950, 1050);
}

TEST_P(GrpcBusinessTest, DoAndSubmitDBWithGrpcBackCheck) {
  auto db = dtm::OpenSqlDb(service_->conf());
  ASSERT_TRUE(db.ok()) << db.status().message();
  auto pay = [](int64_t amount) {
    return [amount](dtm::SqlDb& tx) -> Status {
      auto changed = tx.Execute(
          "UPDATE user_account SET balance = balance - ? WHERE user_id = ? AND balance >= ?",
          {std::to_string(amount), std::to_string(kTransOutUser), std::to_string(amount)});
      if (!changed.ok()) return changed.status();
      return *changed == 1 ? Status::Ok() : Status::Failure("insufficient balance");
    };
  };
  std::string gid = client_->GenerateGid();
  dtm::Msg msg = client_->NewMsgGrpc(gid);
  msg.Add(A("TransIn"), Req(20)).SetWaitResult(true);
  Status st = msg.DoAndSubmitDB(A("QueryPrepared"), **db, pay(20));
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(dtm_.Status(gid), "succeed");
  ExpectBalances(980, 1020);

  std::string gid2 = client_->GenerateGid();
  dtm::Msg failing = client_->NewMsgGrpc(gid2);
  failing.Add(A("TransIn"), Req(5000));
  EXPECT_TRUE(failing.DoAndSubmitDB(A("QueryPrepared"), **db, pay(5000)).IsFailure());
  EXPECT_EQ(dtm_.Status(gid2), "failed");
  ExpectBalances(980, 1020);

  // A message prepared but never submitted: after its timeout dtmd asks the account service's
  // QueryPrepared over gRPC; the local transaction never committed, so it is aborted.
  std::string gid3 = client_->GenerateGid();
  dtm::Msg lost = client_->NewMsgGrpc(gid3);
  lost.Add(A("TransIn"), Req(20));
  BackCheckSoonOnReference(lost);
  ASSERT_TRUE(lost.Prepare(A("QueryPrepared")).ok());
  RetryLater(gid3, 70, "failed");
  ExpectBalances(980, 1020);
}

INSTANTIATE_TEST_SUITE_P(Drivers, GrpcBusinessTest, testing::Values("sqlite", "postgres", "mysql"),
                         [](const auto& info) { return info.param; });

// dtmd serving gRPC over mutual TLS; the DTMClient's grpc_tls_* settings.
class SdkGrpcTlsTest : public SdkTest {
 protected:
  void SetUp() override {
    LYNX_DTMD_ONLY("DTM's gRPC port is plaintext only (GrpcCertFile/GrpcCaFile are dtmd's keys)");
    cert_dir_ = std::make_unique<TempDir>("lynx-sdk-certs");
    std::string err;
    ASSERT_TRUE(lynx::test_support::MakeTestCerts(cert_dir_->path(), &certs_, &err)) << err;
    SdkTest::SetUp();
  }
  DtmdOptions Options() const override {
    DtmdOptions o;
    o.extra_yaml = "GrpcCertFile: " + certs_.server_cert + "\nGrpcKeyFile: " + certs_.server_key +
                   "\nGrpcCaFile: " + certs_.ca_file + "\n";
    return o;
  }
  dtm::DtmConfig Config() const override {
    dtm::DtmConfig c = SdkTest::Config();
    c.grpc_tls_enabled = true;
    c.grpc_cert_file = certs_.client_cert;
    c.grpc_key_file = certs_.client_key;
    c.grpc_ca_file = certs_.ca_file;
    return c;
  }

  std::unique_ptr<TempDir> cert_dir_;
  lynx::test_support::TestCerts certs_;
};

TEST_F(SdkGrpcTlsTest, TransactionsOverMutualTls) {
  std::string gid = client_->GenerateGid();
  dtm::Saga saga = client_->NewSagaGrpc(gid);
  saga.Add(busi_.GrpcUrl("TransOut"), busi_.GrpcUrl("TransOutRevert"), Req(30)).SetWaitResult(true);
  Status st = saga.Submit();
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(dtm_.Status(gid), "succeed");
  EXPECT_TRUE(client_->CheckHealth().ok());
}

TEST_F(SdkGrpcTlsTest, TlsMismatchesFailStartUpWithAClearError) {
  struct Case {
    const char* name;
    std::function<void(dtm::DtmConfig&)> change;
  } cases[] = {
      {"plaintext client", [](dtm::DtmConfig& c) { c.grpc_tls_enabled = false; }},
      {"wrong CA", [this](dtm::DtmConfig& c) { c.grpc_ca_file = certs_.other_ca_file; }},
      {"server cert as client cert",
       [this](dtm::DtmConfig& c) {
         c.grpc_cert_file = certs_.other_ca_file;  // not signed by the server's CA
         c.grpc_key_file = cert_dir_->path() + "/other-ca.key";
       }},
  };
  for (const auto& k : cases) {
    dtm::DtmConfig c = Config();
    k.change(c);
    dtm::DTMClient client(c);
    Status st = client.StartupTasks();
    EXPECT_FALSE(st.ok()) << k.name;
    EXPECT_NE(st.message().find(dtm_.GrpcServer()), std::string::npos)
        << k.name << ": " << st.message();
  }
  // A certificate file that does not exist is named.
  dtm::DtmConfig c = Config();
  c.grpc_cert_file = cert_dir_->path() + "/absent.pem";
  dtm::DTMClient client(c);
  Status st = client.StartupTasks();
  EXPECT_NE(st.message().find("absent.pem"), std::string::npos) << st.message();
  EXPECT_TRUE(dtm_.Ping());
}

}  // namespace
}  // namespace lynx::it
