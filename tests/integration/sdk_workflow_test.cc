// The C++ workflow API (include/lynx/dtm/workflow.h) against the real dtmd (and, in
// reference_sdk_test, the reference DTM server): recorded HTTP and gRPC steps, rollback and
// commit callbacks in reverse order, a workflow whose run stops mid-way resumed by the server
// through the client's HTTP or gRPC callback with each step run once, DoXa on PostgreSQL and
// MariaDB, replay divergence, misuse, and dtmd's timeout_to_fail.
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>

#include "account_fixture.h"
#include "proto/busi.pb.h"

namespace lynx::it {
namespace {

using StepFn = std::function<StatusOr<std::string>(dtm::Workflow&, const std::string&)>;

class WorkflowSdkTest : public SdkTest {
 protected:
  void SetUp() override {
    SdkTest::SetUp();
    if (HasFatalFailure()) return;
  }
  void TearDown() override {
    if (server_) server_->Stop();
    if (grpc_server_) grpc_server_->Stop();
    SdkTest::TearDown();
  }

  // An engine whose callback is served on a port known before the server starts (its routes
  // are fixed at Start, the callback URL goes into the engine).
  dtm::WorkflowEngine& HttpEngine() {
    server_ = std::make_unique<dtm::HttpBranchServer>(
        dtm::HttpBranchServer::Options{.port = UnusedPort()});
    engine_ = std::make_unique<dtm::WorkflowEngine>(
        client_->NewWorkflowEngine(server_->Url("/workflow/resume")));
    engine_->ServeHttp(*server_, "/workflow/resume");
    Status st = server_->Start();
    EXPECT_TRUE(st.ok()) << st.message();
    return *engine_;
  }
  dtm::WorkflowEngine& GrpcEngine() {
    const uint16_t port = UnusedPort();
    grpc_server_ =
        std::make_unique<dtm::GrpcBranchServer>(dtm::GrpcBranchServer::Options{.port = port});
    engine_ = std::make_unique<dtm::WorkflowEngine>(
        client_->NewWorkflowEngineGrpc("127.0.0.1:" + std::to_string(port)));
    engine_->ServeGrpc(*grpc_server_);
    Status st = grpc_server_->Start();
    EXPECT_TRUE(st.ok()) << st.message();
    return *engine_;
  }

  // Options that let the reference server's own cron resume within seconds.
  static dtm::WorkflowOptions FastRetry() {
    dtm::WorkflowOptions o;
    o.trans.retry_interval = kReferenceRetryInterval;
    o.trans.request_timeout = 10;
    return o;
  }

  // The server resumes gid through the callback, which must finish it as `final_status`.
  void ResumeByServer(const std::string& gid, const std::string& final_status) {
    if (kReferenceServer) {
      dtm_.WaitStatus(gid, final_status, std::chrono::seconds(20));
    } else {
      EXPECT_EQ(dtm_.CronOnce(60), gid);
      EXPECT_EQ(dtm_.Status(gid), final_status);
    }
  }

  std::unique_ptr<dtm::HttpBranchServer> server_;
  std::unique_ptr<dtm::GrpcBranchServer> grpc_server_;
  std::unique_ptr<dtm::WorkflowEngine> engine_;
};

// The saga-shaped transfer of the tests: TransOut then TransIn on busi_server, each compensated.
StepFn Transfer(const std::function<std::string(const std::string&)>& url,
                std::atomic<int>* crash_after_first = nullptr) {
  return [url, crash_after_first](dtm::Workflow& wf,
                                  const std::string& input) -> StatusOr<std::string> {
    wf.NewBranch().OnRollback([&wf, url, input](dtm::BranchBarrier&) {
      return wf.CallHttp("POST", url("TransOutRevert"), input).status();
    });
    auto out = wf.CallHttp("POST", url("TransOut"), input);
    if (!out.ok()) return out.status();
    if (crash_after_first && crash_after_first->fetch_sub(1) > 0) {
      return Status::Unavailable("simulated crash after the first step");
    }
    wf.NewBranch().OnRollback([&wf, url, input](dtm::BranchBarrier&) {
      return wf.CallHttp("POST", url("TransInRevert"), input).status();
    });
    auto in = wf.CallHttp("POST", url("TransIn"), input);
    if (!in.ok()) return in.status();
    return "moved:" + input;
  };
}

TEST_F(WorkflowSdkTest, HttpStepsSucceedOrRollBackInReverseOrder) {
  dtm::WorkflowEngine& engine = HttpEngine();
  ASSERT_TRUE(engine.Register("transfer", Transfer([&](auto r) { return B(r); })).ok());
  const std::string gid = client_->GenerateGid();
  auto res = engine.Execute("transfer", gid, R"({"amount":30})");
  ASSERT_TRUE(res.ok()) << res.status().message();
  EXPECT_EQ(*res, R"(moved:{"amount":30})");
  EXPECT_EQ(dtm_.Status(gid), "succeed");
  EXPECT_EQ(CallLog(gid), (std::vector<std::string>{"TransOut/01/action", "TransIn/02/action"}));
  EXPECT_EQ(busi_.Calls("TransOut", gid)[0].body, R"({"amount":30})");
  EXPECT_EQ(busi_.Calls("TransOut", gid)[0].Query("trans_type"), "workflow");
  // Executing it again returns the recorded result without running a step.
  auto again = engine.Execute("transfer", gid, R"({"amount":30})");
  ASSERT_TRUE(again.ok()) << again.status().message();
  EXPECT_EQ(*again, *res);
  EXPECT_EQ(CallLog(gid).size(), 2u);

  // TransIn fails: both branches roll back, last first; the failed one is not compensated
  // (compensate_error_branch is off) and the workflow ends failed with the branch's message.
  const std::string gid2 = client_->GenerateGid();
  busi_.Script("TransIn", {"FAILURE"});
  auto failed = engine.Execute("transfer", gid2, R"({"amount":30})");
  EXPECT_TRUE(failed.status().IsFailure()) << failed.status().message();
  EXPECT_EQ(dtm_.Status(gid2), "failed");
  EXPECT_EQ(CallLog(gid2), (std::vector<std::string>{"TransOut/01/action", "TransIn/02/action",
                                                     "TransOutRevert/01/rollback"}));
}

TEST_F(WorkflowSdkTest, CommitAndRollbackCallbacksRunLastRegisteredFirst) {
  dtm::WorkflowEngine& engine = HttpEngine();
  std::mutex mu;
  std::vector<std::string> phase2;
  auto record = [&](dtm::BranchBarrier& bb) {
    std::lock_guard lock(mu);
    phase2.push_back(bb.branch_id() + "/" + bb.op());
    return Status::Ok();
  };
  std::atomic<bool> fail_last{false};
  ASSERT_TRUE(engine
                  .Register("three",
                            [&](dtm::Workflow& wf, const std::string&) -> StatusOr<std::string> {
                              for (int i = 0; i < 3; ++i) {
                                wf.NewBranch().OnCommit(record).OnRollback(record);
                                auto r =
                                    wf.Do([&](dtm::BranchBarrier& bb) -> StatusOr<std::string> {
                                      if (i == 2 && fail_last) return Status::Failure("no");
                                      return "did " + bb.branch_id();
                                    });
                                if (!r.ok()) return r.status();
                              }
                              return std::string("ok");
                            })
                  .ok());
  ASSERT_TRUE(engine.Execute("three", client_->GenerateGid(), "").ok());
  EXPECT_EQ(phase2, (std::vector<std::string>{"03/commit", "02/commit", "01/commit"}));
  phase2.clear();
  fail_last = true;
  const std::string gid = client_->GenerateGid();
  EXPECT_TRUE(engine.Execute("three", gid, "").status().IsFailure());
  EXPECT_EQ(phase2, (std::vector<std::string>{"02/rollback", "01/rollback"}));
  EXPECT_EQ(dtm_.Status(gid), "failed");
}

TEST_F(WorkflowSdkTest, AStoppedRunIsResumedByTheServerOverHttpWithEachStepOnce) {
  dtm::WorkflowEngine& engine = HttpEngine();
  std::atomic<int> crash{1};
  ASSERT_TRUE(
      engine.Register("transfer", Transfer([&](auto r) { return B(r); }, &crash), FastRetry())
          .ok());
  const std::string gid = client_->GenerateGid();
  auto first = engine.Execute("transfer", gid, R"({"amount":30})");
  EXPECT_EQ(first.status().code(), StatusCode::kUnavailable) << first.status().message();
  EXPECT_EQ(dtm_.Status(gid), "prepared");
  ResumeByServer(gid, "succeed");
  // TransOut ran once (replayed from its record on resume), TransIn once.
  EXPECT_EQ(CallLog(gid), (std::vector<std::string>{"TransOut/01/action", "TransIn/02/action"}));
}

TEST_F(WorkflowSdkTest, AStoppedRunIsResumedByTheServerOverGrpc) {
  dtm::WorkflowEngine& engine = GrpcEngine();
  std::atomic<int> crash{1};
  auto fn = [&](dtm::Workflow& wf, const std::string& input) -> StatusOr<std::string> {
    busi::ReqGrpc req;
    req.set_amount(30);
    google::protobuf::Empty unused;
    wf.NewBranch().OnRollback([&wf, this, req](dtm::BranchBarrier&) {
      return wf.CallGrpc(busi_.GrpcUrl("TransOutRevert"), req.SerializeAsString()).status();
    });
    if (Status st = wf.CallGrpc(busi_.GrpcUrl("TransOut"), req.SerializeAsString()).status();
        !st.ok()) {
      return st;
    }
    if (crash.fetch_sub(1) > 0) return Status::Unavailable("simulated crash");
    wf.NewBranch();
    auto in = wf.CallGrpc(busi_.GrpcUrl("TransIn"), req.SerializeAsString());
    if (!in.ok()) return in.status();
    return "input was " + input;
  };
  ASSERT_TRUE(engine.Register("grpc-transfer", fn, FastRetry()).ok());
  const std::string gid = client_->GenerateGid();
  EXPECT_FALSE(engine.Execute("grpc-transfer", gid, "in").ok());
  ResumeByServer(gid, "succeed");
  EXPECT_EQ(CallLog(gid),
            (std::vector<std::string>{"grpc:TransOut/01/action", "grpc:TransIn/02/action"}));
  EXPECT_EQ(busi_.Calls("grpc:TransOut", gid)[0].Header("dtm-op"), "action");
  // The result survives: a later Execute reads it back from the server. DTM's gRPC
  // PrepareWorkflow reply leaves the result out (docs/compatibility.md), so there it is lost.
  auto res = engine.Execute("grpc-transfer", gid, "in");
  ASSERT_TRUE(res.ok()) << res.status().message();
  EXPECT_EQ(*res, kReferenceServer ? "" : "input was in");

  // An ABORTED step is a recorded failure: the workflow rolls back over gRPC.
  const std::string gid2 = client_->GenerateGid();
  crash = 0;
  busi_.Script("grpc:TransIn", {"FAILURE"});
  EXPECT_TRUE(engine.Execute("grpc-transfer", gid2, "in").status().IsFailure());
  EXPECT_EQ(dtm_.Status(gid2), "failed");
  EXPECT_EQ(CallLog(gid2),
            (std::vector<std::string>{"grpc:TransOut/01/action", "grpc:TransIn/02/action",
                                      "grpc:TransOutRevert/01/rollback"}));
}

TEST_F(WorkflowSdkTest, AResumeThatTakesAnotherStepStopsBeforeIt) {
  dtm::WorkflowEngine& engine = HttpEngine();
  std::atomic<bool> changed{false};
  auto fn = [&](dtm::Workflow& wf, const std::string&) -> StatusOr<std::string> {
    wf.NewBranch();
    // The "new version" calls TransIn where the recorded run called TransOut.
    auto r = wf.CallHttp("POST", B(changed ? "TransIn" : "TransOut"), "{}");
    if (!r.ok()) return r.status();
    if (!changed) return Status::Unavailable("stop here");
    return std::string("done");
  };
  ASSERT_TRUE(engine.Register("changing", fn).ok());
  const std::string gid = client_->GenerateGid();
  EXPECT_FALSE(engine.Execute("changing", gid, "").ok());
  changed = true;
  auto res = engine.Execute("changing", gid, "");
  EXPECT_EQ(res.status().code(), StatusCode::kInternal);
  EXPECT_NE(res.status().message().find("diverged"), std::string::npos) << res.status().message();
  EXPECT_TRUE(busi_.Calls("TransIn", gid).empty());  // the divergent step did not run
  EXPECT_EQ(dtm_.Status(gid), "prepared");           // nothing submitted

  // A run that finishes without replaying a recorded step is refused too.
  auto skipping = [&](dtm::Workflow&, const std::string&) -> StatusOr<std::string> {
    return std::string("skipped everything");
  };
  ASSERT_TRUE(engine.Register("skipping", skipping).ok());
  const std::string gid2 = client_->GenerateGid();
  ASSERT_TRUE(engine.Register("first-step", fn).ok());
  changed = false;
  EXPECT_FALSE(engine.Execute("first-step", gid2, "").ok());
  auto skipped = engine.Execute("skipping", gid2, "");
  EXPECT_NE(skipped.status().message().find("did not take the recorded step 01-action"),
            std::string::npos)
      << skipped.status().message();
  EXPECT_EQ(dtm_.Status(gid2), "prepared");
}

TEST_F(WorkflowSdkTest, MisuseIsAnErrorNotACrash) {
  dtm::WorkflowEngine& engine = HttpEngine();
  auto two_actions = [&](dtm::Workflow& wf, const std::string&) -> StatusOr<std::string> {
    wf.NewBranch();
    auto a = wf.Do([](dtm::BranchBarrier&) -> StatusOr<std::string> { return std::string("a"); });
    auto b = wf.Do([](dtm::BranchBarrier&) -> StatusOr<std::string> { return std::string("b"); });
    EXPECT_TRUE(a.ok());
    EXPECT_EQ(b.status().code(), StatusCode::kInternal);
    return std::string("ignored the error");
  };
  ASSERT_TRUE(engine.Register("two-actions", two_actions).ok());
  EXPECT_FALSE(engine.Register("two-actions", two_actions).ok());  // a name is registered once
  const std::string gid = client_->GenerateGid();
  auto res = engine.Execute("two-actions", gid, "");
  EXPECT_NE(res.status().message().find("second action"), std::string::npos)
      << res.status().message();
  EXPECT_EQ(dtm_.Status(gid), "prepared");
  EXPECT_FALSE(engine.Execute("not-registered", gid, "").ok());
  EXPECT_FALSE(engine.Execute("two-actions", "", "").ok());
}

TEST_F(WorkflowSdkTest, ATimedOutWorkflowRollsBackWhenResumed) {
  LYNX_DTMD_ONLY("DTM never times a workflow out");
  dtm::WorkflowEngine& engine = HttpEngine();
  std::atomic<int> crash{1};
  dtm::WorkflowOptions o;
  o.trans.timeout_to_fail = 30;
  ASSERT_TRUE(engine.Register("transfer", Transfer([&](auto r) { return B(r); }, &crash), o).ok());
  const std::string gid = client_->GenerateGid();
  EXPECT_FALSE(engine.Execute("transfer", gid, "{}").ok());
  EXPECT_EQ(dtm_.CronOnce(60), gid);  // past 30 s: aborting, resumed, rolled back
  EXPECT_EQ(dtm_.Status(gid), "failed");
  EXPECT_EQ(CallLog(gid),
            (std::vector<std::string>{"TransOut/01/action", "TransOutRevert/01/rollback"}));
}

// DoXa on the account service's database (PostgreSQL, MariaDB): the work is prepared as the
// step and committed or rolled back with the workflow.
class WorkflowXaTest : public AccountTest {
 protected:
  void SetUp() override {
    SdkTest::SetUp();
    if (HasFatalFailure()) return;
    StartService("lynx_wf_xa");
    if (HasFatalFailure() || IsSkipped()) return;
    server_ = std::make_unique<dtm::HttpBranchServer>();
    engine_ = std::make_unique<dtm::WorkflowEngine>(client_->NewWorkflowEngine(""));
  }
  void TearDown() override {
    if (server_) server_->Stop();
    SdkTest::TearDown();
  }
  std::unique_ptr<dtm::HttpBranchServer> server_;
  std::unique_ptr<dtm::WorkflowEngine> engine_;
};

TEST_P(WorkflowXaTest, DoXaCommitsOrRollsBackWithTheWorkflow) {
  const dtm::DBConf conf = service_->conf();
  auto adjust = [](int user, int64_t delta) {
    return [user, delta](dtm::SqlDb& db) -> StatusOr<std::string> {
      auto n = db.Execute(
          "UPDATE user_account SET balance = balance + ? WHERE user_id = ? AND balance + ? >= 0",
          {std::to_string(delta), std::to_string(user), std::to_string(delta)});
      if (!n.ok()) return n.status();
      if (*n != 1) return Status::Failure("insufficient balance");
      return std::to_string(delta);
    };
  };
  ASSERT_TRUE(
      engine_
          ->Register("xa-transfer",
                     [&](dtm::Workflow& wf, const std::string& in) -> StatusOr<std::string> {
                       const int64_t amount = std::stoll(in);
                       wf.NewBranch();
                       auto out = wf.DoXa(conf, adjust(kTransOutUser, -amount));
                       if (!out.ok()) return out.status();
                       wf.NewBranch();
                       auto got = wf.DoXa(conf, adjust(kTransInUser, amount));
                       if (!got.ok()) return got.status();
                       return *out + "/" + *got;
                     })
          .ok());
  const std::string gid = client_->GenerateGid();
  auto res = engine_->Execute("xa-transfer", gid, "30");
  ASSERT_TRUE(res.ok()) << res.status().message();
  EXPECT_EQ(*res, "-30/30");
  EXPECT_EQ(dtm_.Status(gid), "succeed");
  ExpectBalances(kStartBalance - 30, kStartBalance + 30);

  // 5000 is more than account 1 has: its prepared-nothing step fails, the workflow rolls back
  // and no balance moves.
  const std::string gid2 = client_->GenerateGid();
  EXPECT_TRUE(engine_->Execute("xa-transfer", gid2, "5000").status().IsFailure());
  EXPECT_EQ(dtm_.Status(gid2), "failed");
  ExpectBalances(kStartBalance - 30, kStartBalance + 30);
}

INSTANTIATE_TEST_SUITE_P(Drivers, WorkflowXaTest, testing::Values("postgres", "mysql"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace lynx::it
