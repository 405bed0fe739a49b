// The C++ client SDK against the real dtmd and busi_server: TransactionHelper (every Execute* with
// wait_result, CheckTransactionStatus), header pass-through as observed at the branch, the
// dtm.server plugin in a lynx App, an unreachable server, and invalid configurations.
#include <lynx/app.h>

#include <chrono>

#include "sdk_fixture.h"

namespace lynx::it {
namespace {

// ---------------------------------------------------------------------------------------------
// TransactionHelper

TEST_F(SdkTest, HelperExecutesEveryModeWithWaitResult) {
  dtm::TransactionHelper helper(*client_);
  const dtm::TransactionOptions wait{.wait_result = true};
  Context ctx = Context::Background().WithTimeout(std::chrono::seconds(30));

  std::string gid = helper.MustGenGid();
  ASSERT_FALSE(gid.empty());
  Status st = helper.ExecuteSAGA(
      ctx, gid,
      {{.action = B("TransOut"), .compensate = B("TransOutRevert"), .data = BusiPayload()},
       {.action = B("TransIn"), .compensate = B("TransInRevert"), .data = BusiPayload()}},
      wait);
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(dtm_.Status(gid), kSucceed);  // no waiting here: the call already did

  auto gen = helper.GenGid();
  ASSERT_TRUE(gen.ok()) << gen.status().message();
  gid = *gen;
  st = helper.ExecuteTCC(ctx, gid,
                         {{.try_url = B("TransOut"),
                           .confirm_url = B("TransOutConfirm"),
                           .cancel_url = B("TransOutRevert"),
                           .data = {{"amount", 30}}}},
                         wait);
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(dtm_.Status(gid), kSucceed);
  EXPECT_EQ(busi_.Calls("TransOutConfirm", gid).size(), 1u);

  gid = helper.MustGenGid();
  st = helper.ExecuteXA(ctx, gid, {{.action = B("TransOutXa"), .data = R"({"amount":30})"}}, wait);
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(dtm_.Status(gid), kSucceed);
  EXPECT_EQ(busi_.Calls("TransOutXa", gid).size(), 1u);

  gid = helper.MustGenGid();
  st = helper.ExecuteMsg(ctx, gid, B("QueryPrepared"),
                         {{.action = B("TransOut"), .data = BusiPayload()},
                          {.action = B("TransIn"), .data = BusiPayload()}},
                         wait);
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(dtm_.Status(gid), kSucceed);
}

TEST_F(SdkTest, HelperReportsFailuresWithWaitResult) {
  dtm::TransactionHelper helper(*client_);
  const dtm::TransactionOptions wait{.wait_result = true};
  Context ctx = Context::Background().WithTimeout(std::chrono::seconds(30));

  std::string gid = TestName() + "-saga";
  Status st = helper.ExecuteSAGA(
      ctx, gid,
      {{.action = B("TransOut"), .compensate = B("TransOutRevert"), .data = BusiPayload()},
       {.action = B("TransIn"),
        .compensate = B("TransInRevert"),
        .data = BusiPayload("", "FAILURE")}},
      wait);
  EXPECT_TRUE(st.IsFailure()) << st.message();
  EXPECT_EQ(dtm_.Status(gid), kFailed);

  gid = TestName() + "-tcc";
  st = helper.ExecuteTCC(ctx, gid,
                         {{.try_url = B("TransOut"),
                           .confirm_url = B("TransOutConfirm"),
                           .cancel_url = B("TransOutRevert"),
                           .data = BusiPayload("FAILURE")}},
                         wait);
  EXPECT_TRUE(st.IsFailure()) << st.message();
  ASSERT_TRUE(dtm_.WaitPasses(gid, 1));
  EXPECT_EQ(dtm_.Status(gid), kFailed);

  // A msg step that keeps failing is retried by DTM forever: the wait ends with the context.
  gid = TestName() + "-msg";
  busi_.SetDefault("TransIn", "ERROR");
  st = helper.ExecuteMsg(Context::Background().WithTimeout(std::chrono::milliseconds(1500)), gid,
                         B("QueryPrepared"), {{.action = B("TransIn"), .data = BusiPayload()}},
                         wait);
  EXPECT_TRUE(st.IsOngoing()) << st.message();
  EXPECT_EQ(dtm_.Status(gid), kSubmitted);
}

TEST_F(SdkTest, CheckTransactionStatusOfEveryState) {
  dtm::TransactionHelper helper(*client_);
  // prepared
  dtm::Msg prepared = client_->NewMsg(TestName() + "-prepared");
  prepared.Add(B("TransIn"), BusiPayload());
  ASSERT_TRUE(prepared.Prepare(B("QueryPrepared")).ok());
  EXPECT_EQ(*helper.CheckTransactionStatus(prepared.gid()), "prepared");
  // submitted: a saga step stays ONGOING
  busi_.SetDefault("TransIn", "ONGOING");
  dtm::Saga submitted = client_->NewSaga(TestName() + "-submitted");
  submitted.Add(B("TransIn"), B("TransInRevert"), BusiPayload());
  ASSERT_TRUE(submitted.Submit().ok());
  ASSERT_TRUE(WaitFirstPass(submitted.gid(), "TransIn"));
  EXPECT_EQ(*helper.CheckTransactionStatus(submitted.gid()), "submitted");
  // aborting: a TCC whose cancel stays ONGOING
  busi_.SetDefault("TransOutRevert", "ONGOING");
  const std::string aborting = TestName() + "-aborting";
  Status st = dtm::TccGlobalTransaction(dtm_.Url(), aborting, [&](dtm::Tcc& tcc) {
    return tcc
        .CallBranch(BusiPayload("FAILURE"), B("TransOut"), B("TransOutConfirm"),
                    B("TransOutRevert"))
        .status();
  });
  EXPECT_TRUE(st.IsFailure());
  ASSERT_TRUE(WaitFirstPass(aborting, "TransOutRevert"));
  EXPECT_EQ(*helper.CheckTransactionStatus(aborting), "aborting");
  // succeed and failed
  busi_.SetDefault("TransOutRevert", "");
  dtm::Saga ok = client_->NewSaga(TestName() + "-succeed");
  ok.Add(B("TransOut"), B("TransOutRevert"), BusiPayload()).SetWaitResult();
  ASSERT_TRUE(ok.Submit().ok());
  EXPECT_EQ(*helper.CheckTransactionStatus(ok.gid()), "succeed");
  dtm::Saga bad = client_->NewSaga(TestName() + "-failed");
  bad.Add(B("TransOut"), B("TransOutRevert"), BusiPayload("FAILURE")).SetWaitResult();
  EXPECT_TRUE(bad.Submit().IsFailure());
  EXPECT_EQ(*helper.CheckTransactionStatus(bad.gid()), "failed");
  // unknown gid
  EXPECT_TRUE(helper.CheckTransactionStatus("no-such-gid").status().IsNotFound());
}

// ---------------------------------------------------------------------------------------------
// Header pass-through

TEST_F(SdkTest, PassThroughHeadersReachEveryBranchCall) {
  dtm::TransactionHelper helper(*client_);
  Context ctx = Context::Background().WithHeaders({{"x-request-id", "req-42"},
                                                   {"test_header", "yes"},
                                                   {"Authorization", "Bearer incoming"},
                                                   {"x-not-listed", "1"}});
  const dtm::TransactionOptions opts{
      .custom_headers = {{"authorization", "Bearer custom"}, {"x-custom", "c"}},
      .wait_result = true};
  // Saga: the server's calls (TransOutHeaderYes refuses calls without test_header).
  std::string gid = TestName() + "-saga";
  Status st = helper.ExecuteSAGA(ctx, gid,
                                 {{.action = B("TransOutHeaderYes"),
                                   .compensate = B("TransOutRevert"),
                                   .data = BusiPayload()}},
                                 opts);
  ASSERT_TRUE(st.ok()) << st.message();
  auto calls = busi_.Calls("TransOutHeaderYes", gid);
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].Header("x-request-id"), "req-42");
  EXPECT_EQ(calls[0].Header("test_header"), "yes");
  EXPECT_EQ(calls[0].Header("authorization"), "Bearer custom");  // explicit custom headers win
  EXPECT_EQ(calls[0].Header("x-custom"), "c");
  EXPECT_EQ(calls[0].Header("x-not-listed"), "");

  // TCC: the SDK's own try call and the server's confirm call.
  gid = TestName() + "-tcc";
  st = helper.ExecuteTCC(ctx, gid,
                         {{.try_url = B("TransOutHeaderYes"),
                           .confirm_url = B("TransOutConfirm"),
                           .cancel_url = B("TransOutRevert"),
                           .data = BusiPayload()}},
                         opts);
  ASSERT_TRUE(st.ok()) << st.message();
  for (const char* route : {"TransOutHeaderYes", "TransOutConfirm"}) {
    auto c = busi_.Calls(route, gid);
    ASSERT_EQ(c.size(), 1u) << route;
    EXPECT_EQ(c[0].Header("x-request-id"), "req-42") << route;
    EXPECT_EQ(c[0].Header("authorization"), "Bearer custom") << route;
  }

  // Without the headers in the context nothing is added: TransOutHeaderNo accepts the call.
  gid = TestName() + "-none";
  st = helper.ExecuteSAGA(
      Context::Background(), gid,
      {{.action = B("TransOutHeaderNo"), .compensate = B("TransOutRevert"), .data = BusiPayload()}},
      {.wait_result = true});
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(busi_.Calls("TransOutHeaderNo", gid)[0].Header("x-request-id"), "");

  // DTMClient::NewXa(gid, ctx) also carries them to the SDK's action call.
  gid = TestName() + "-xa";
  dtm::Xa xa = client_->NewXa(gid, ctx);
  st = dtm::XaGlobalTransaction(
      xa, [&](dtm::Xa& x) { return x.CallBranch(B("TransOutHeaderYes"), BusiPayload()).status(); });
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(busi_.Calls("TransOutHeaderYes", gid)[0].Header("authorization"), "Bearer incoming");
}

// ---------------------------------------------------------------------------------------------
// The plugin in a lynx App, an unreachable server, invalid configuration

TEST_F(SdkTest, PluginInALynxApp) {
  lynx::App app =
      lynx::App::FromString("lynx:\n  dtm:\n    enabled: true\n    server_url: " + dtm_.Url() +
                            "\n    max_connection_retries: 1\n");
  dtm::RegisterPlugin(app.registry());
  Status st = app.Start();
  ASSERT_TRUE(st.ok()) << st.message();
  auto& client = app.GetPlugin<dtm::DTMClient>("dtm.server");
  EXPECT_TRUE(client.IsEnabled());
  EXPECT_EQ(client.GetServerURL(), dtm_.Url());
  EXPECT_TRUE(client.CheckHealth().ok());
  const std::string gid = client.GenerateGid();
  ASSERT_FALSE(gid.empty());
  dtm::TransactionHelper helper(client);
  st = helper.ExecuteSAGA(Context::Background(), gid,
                          {{.action = B("TransOut"), .compensate = B("TransOutRevert")}},
                          {.wait_result = true});
  EXPECT_TRUE(st.ok()) << st.message();
  app.Stop();

  lynx::App disabled = lynx::App::FromString("lynx:\n  dtm:\n    enabled: false\n");
  dtm::RegisterPlugin(disabled.registry());
  ASSERT_TRUE(disabled.Start().ok());
  auto& off = disabled.GetPlugin<dtm::DTMClient>("dtm.server");
  EXPECT_FALSE(off.IsEnabled());
  EXPECT_TRUE(off.CheckHealth().ok());
  EXPECT_EQ(off.GenerateGid(), "");
}

TEST_F(SdkTest, StartUpAndHealthOverHttpAndGrpc) {
  // SetUp's StartupTasks already reached newGid over HTTP and NewGid over gRPC.
  EXPECT_TRUE(client_->CheckHealth().ok());
  auto gid = client_->NewGid();
  ASSERT_TRUE(gid.ok()) << gid.status().message();
  ExpectServerGid(*gid);
  EXPECT_NE(client_->GenerateGid(), *gid);
  const std::string metrics = client_->Metrics().Serialize();
  EXPECT_NE(metrics.find("lynx_dtm_"), std::string::npos) << metrics;

  // grpc_server naming the HTTP port: no gRPC there, start-up fails naming the key.
  dtm::DtmConfig c = Config();
  c.grpc_server = "127.0.0.1:" + std::to_string(dtm_.port());
  dtm::DTMClient wrong(c);
  Status st = wrong.StartupTasks();
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("lynx.dtm.grpc_server"), std::string::npos) << st.message();
  EXPECT_FALSE(wrong.CheckHealth().ok());
}

TEST_F(SdkTest, UnreachableServerIsAClearError) {
  dtm::DtmConfig c = Config();
  c.server_url = "http://127.0.0.1:" + std::to_string(UnusedPort()) + "/api/dtmsvr";
  dtm::DTMClient client(c);
  Status st = client.StartupTasks();
  EXPECT_EQ(st.code(), StatusCode::kUnavailable);
  EXPECT_NE(st.message().find("cannot reach the DTM server at " + c.server_url), std::string::npos)
      << st.message();
  EXPECT_FALSE(client.CheckHealth().ok());
  EXPECT_EQ(client.GenerateGid(), "");
  dtm::TransactionHelper helper(client);
  EXPECT_EQ(helper.MustGenGid(), "");
  EXPECT_EQ(helper.GenGid().status().code(), StatusCode::kUnavailable);
  Status submit = client.NewSaga("g").Add(B("TransOut"), B("TransOutRevert")).Submit();
  EXPECT_EQ(submit.code(), StatusCode::kUnavailable);
  EXPECT_NE(submit.message().find("submit: cannot reach the DTM server"), std::string::npos)
      << submit.message();
  bool called = false;
  st = dtm::TccGlobalTransaction(c.server_url, "g", [&](dtm::Tcc&) {
    called = true;
    return Status::Ok();
  });
  EXPECT_EQ(st.code(), StatusCode::kUnavailable);
  EXPECT_FALSE(called);

  lynx::App app =
      lynx::App::FromString("lynx:\n  dtm:\n    enabled: true\n    server_url: " + c.server_url +
                            "\n    max_connection_retries: 1\n");
  dtm::RegisterPlugin(app.registry());
  st = app.Start();
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("cannot reach the DTM server"), std::string::npos) << st.message();
}

TEST_F(SdkTest, InvalidConfigurationNamesTheKey) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"    enabled: true\n    server_url: ''\n", "lynx.dtm.server_url is required when enabled"},
      {"    enabled: true\n    server_url: grpc://x:1\n",
       "lynx.dtm.server_url must use the http or https scheme: 'grpc://x:1'"},
      {"    timeout: -1\n", "lynx.dtm.timeout cannot be negative (got -1)"},
      {"    retry_interval: -2\n", "lynx.dtm.retry_interval cannot be negative (got -2)"},
      {"    transaction_timeout: -3\n", "lynx.dtm.transaction_timeout cannot be negative (got -3)"},
      {"    branch_timeout: -4\n", "lynx.dtm.branch_timeout cannot be negative (got -4)"},
      {"    max_connection_retries: -5\n",
       "lynx.dtm.max_connection_retries cannot be negative (got -5)"},
      {"    grpc_tls_enabled: true\n    grpc_key_file: k.pem\n",
       "lynx.dtm.grpc_cert_file is required when grpc_tls_enabled is true"},
      {"    grpc_tls_enabled: true\n    grpc_cert_file: c.pem\n",
       "lynx.dtm.grpc_key_file is required when grpc_tls_enabled is true"},
      {"    timeout: soon\n", "lynx.dtm.timeout"},
  };
  for (const auto& [yaml, message] : cases) {
    lynx::App app = lynx::App::FromString("lynx:\n  dtm:\n" + yaml);
    dtm::RegisterPlugin(app.registry());
    Status st = app.Start();
    EXPECT_FALSE(st.ok()) << yaml;
    EXPECT_NE(st.message().find(message), std::string::npos) << st.message();
  }
}

}  // namespace
}  // namespace lynx::it
