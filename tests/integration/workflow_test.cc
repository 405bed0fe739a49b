// Workflow on the server side (dtm-protocol.md §2.8, §5.6): prepareWorkflow creates or returns
// the progress, recorded steps (registerBranch with status and op), the final submit with
// req_extra, and the resume callback of the cron — driven here as the workflow SDKs drive them,
// with busi_server as the client's callback.
#include <grpcpp/grpcpp.h>
#include <boost/json.hpp>

#include <thread>

#include "harness.h"
#include "proto/dtmgimp.grpc.pb.h"

namespace lynx::it {
namespace {

namespace bj = boost::json;

std::string S(const bj::value& v) { return v.is_string() ? std::string(v.get_string()) : ""; }

class WorkflowTest : public IntegrationTest {
 protected:
  // The request body of prepareWorkflow / submit for workflow `name` with base64 input `data`.
  bj::object Body(const std::string& gid, const std::string& data_b64 = "aW5wdXQ=") const {
    return bj::object{{"gid", gid},
                      {"trans_type", "workflow"},
                      {"protocol", "http"},
                      {"query_prepared", busi_.Url("WorkflowResume")},
                      {"custom_data", R"({"name":"transfer","data":")" + data_b64 + R"("})"}};
  }
  HttpResponse PrepareWorkflow(const bj::object& body) const {
    return dtm_.Post("prepareWorkflow", bj::serialize(body));
  }
  HttpResponse Step(const std::string& gid, const std::string& branch_id, const std::string& op,
                    const std::string& status, const std::string& data) const {
    bj::object reg{{"gid", gid}, {"trans_type", "workflow"}, {"branch_id", branch_id},
                   {"op", op},   {"status", status},         {"data", data}};
    return dtm_.Post("registerBranch", bj::serialize(reg));
  }
  HttpResponse SubmitWorkflow(const std::string& gid, const std::string& status,
                              const std::string& result_b64 = "") const {
    bj::object b = Body(gid);
    bj::object extra{{"status", status}};
    if (!result_b64.empty()) extra["result"] = result_b64;
    if (status == kFailed) extra["rollback_reason"] = "insufficient balance";
    b["req_extra"] = std::move(extra);
    return dtm_.Post("submit", bj::serialize(b));
  }
};

TEST_F(WorkflowTest, PrepareCreatesThenReturnsTheProgress) {
  const std::string gid = TestName();
  auto first = PrepareWorkflow(Body(gid));
  ASSERT_EQ(first.status, 200) << first.body;
  bj::value v = first.Json();
  EXPECT_EQ(S(v.at("transaction").at("gid")), gid);
  EXPECT_EQ(S(v.at("transaction").at("status")), kPrepared);
  EXPECT_TRUE(v.at("progresses").as_array().empty());
  ASSERT_EQ(Step(gid, "01", "action", kSucceed, "out-done").status, 200);
  ASSERT_EQ(Step(gid, "02", "action", kFailed, "insufficient").status, 200);
  auto again = PrepareWorkflow(Body(gid));
  ASSERT_EQ(again.status, 200) << again.body;
  bj::value p = again.Json().at("progresses");
  ASSERT_EQ(p.as_array().size(), 2u) << again.body;
  EXPECT_EQ(p.at(0).at("branch_id"), "01");
  EXPECT_EQ(p.at(0).at("op"), "action");
  EXPECT_EQ(S(p.at(0).at("status")), kSucceed);
  EXPECT_EQ(p.at(0).at("bin_data"), "b3V0LWRvbmU=");  // base64("out-done")
  EXPECT_EQ(S(p.at(1).at("status")), kFailed);
  // Over gRPC: the same progress as DtmProgressesReply.
  auto stub = dtmgimp::Dtm::NewStub(
      grpc::CreateChannel(dtm_.GrpcServer(), grpc::InsecureChannelCredentials()));
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  dtmgimp::DtmRequest req;
  req.set_gid(gid);
  req.set_transtype("workflow");
  req.set_customeddata(R"({"name":"transfer","data":"aW5wdXQ="})");
  dtmgimp::DtmProgressesReply reply;
  ASSERT_TRUE(stub->PrepareWorkflow(&ctx, req, &reply).ok());
  EXPECT_EQ(reply.transaction().gid(), gid);
  EXPECT_EQ(reply.transaction().status(), kPrepared);
  ASSERT_EQ(reply.progresses_size(), 2);
  EXPECT_EQ(reply.progresses(0).bindata(), "out-done");
}

TEST_F(WorkflowTest, StepsAreIdempotentAndDivergenceIsRefused) {
  const std::string gid = TestName();
  ASSERT_EQ(PrepareWorkflow(Body(gid)).status, 200);
  EXPECT_EQ(Step(gid, "01", "action", kSucceed, "r").status, 200);
  EXPECT_EQ(Step(gid, "01", "action", kSucceed, "r").status, 200);  // a retried request
  auto diverged = Step(gid, "01", "action", kFailed, "boom");
  EXPECT_EQ(diverged.status, 409) << diverged.body;
  EXPECT_NE(diverged.body.find("already recorded as succeed"), std::string::npos) << diverged.body;
  EXPECT_EQ(Step(gid, "01", "nope", kSucceed, "").status, 400);
  EXPECT_EQ(Step(gid, "01", "commit", "prepared", "").status, 400);
  EXPECT_EQ(dtm_.BranchStatuses(gid), Statuses({kSucceed}));
}

TEST_F(WorkflowTest, SubmitRecordsTheOutcomeOnce) {
  const std::string gid = TestName();
  ASSERT_EQ(PrepareWorkflow(Body(gid)).status, 200);
  ASSERT_EQ(Step(gid, "01", "action", kSucceed, "r").status, 200);
  EXPECT_EQ(SubmitWorkflow(gid, "bogus").status, 400);
  // The outcome must fit every store (1 KiB, the SQL columns).
  EXPECT_EQ(SubmitWorkflow(gid, kSucceed, std::string(1028, 'A')).status, 400);
  auto done = SubmitWorkflow(gid, kSucceed, "cmVzdWx0");
  ASSERT_EQ(done.status, 200) << done.body;
  EXPECT_EQ(dtm_.Status(gid), kSucceed);
  EXPECT_EQ(dtm_.Query(gid).at("transaction").at("result"), "cmVzdWx0");
  EXPECT_EQ(SubmitWorkflow(gid, kSucceed, "cmVzdWx0").status, 200);  // repeated
  EXPECT_EQ(SubmitWorkflow(gid, kFailed).status, 409);
  // A finished workflow takes no more steps.
  EXPECT_EQ(Step(gid, "02", "action", kSucceed, "late").status, 409);
  // Failed workflows keep their reason.
  const std::string gid2 = gid + "-failed";
  ASSERT_EQ(PrepareWorkflow(Body(gid2)).status, 200);
  ASSERT_EQ(SubmitWorkflow(gid2, kFailed).status, 200);
  EXPECT_EQ(dtm_.Status(gid2), kFailed);
  EXPECT_EQ(dtm_.RollbackReason(gid2), "insufficient balance");
}

TEST_F(WorkflowTest, CronResumesAnUnfinishedWorkflowThroughItsCallback) {
  const std::string gid = TestName();
  ASSERT_EQ(PrepareWorkflow(Body(gid)).status, 200);
  EXPECT_EQ(dtm_.CronOnce(0), "");  // not due before its interval
  EXPECT_EQ(dtm_.CronOnce(60), gid);
  auto calls = busi_.Calls("WorkflowResume", gid);
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].method, "POST");
  EXPECT_EQ(calls[0].body, "input");  // the decoded input
  EXPECT_EQ(calls[0].Query("op"), "transfer");
  EXPECT_EQ(calls[0].Query("branch_id"), "00");
  EXPECT_EQ(calls[0].Query("trans_type"), "workflow");
  EXPECT_EQ(dtm_.Status(gid), kPrepared);  // busi does not submit: resumed again later
  // A failing callback backs off: 10 s after it nothing is due, 20 s after it is.
  busi_.Script("WorkflowResume", {"ERROR"});
  EXPECT_EQ(dtm_.CronOnce(120), gid);
  EXPECT_EQ(dtm_.CronOnce(120 + 15), "");
  EXPECT_EQ(dtm_.CronOnce(120 + 25), gid);
  EXPECT_EQ(busi_.Calls("WorkflowResume", gid).size(), 3u);
  // Once submitted, no more resumes.
  ASSERT_EQ(SubmitWorkflow(gid, kSucceed).status, 200);
  EXPECT_EQ(dtm_.CronOnce(3600), "");
}

TEST_F(WorkflowTest, ASlowResumeHoldsItsLease) {
  const std::string gid = TestName();
  bj::object b = Body(gid);
  b["request_timeout"] = 30;  // the callback may take 30 s: longer than the cron's 10 s lease
  ASSERT_EQ(PrepareWorkflow(b).status, 200);
  busi_.Script("WorkflowResume", {"HOLD:resume"});
  std::string first;
  std::thread pass([&] { first = dtm_.CronOnce(60); });
  ASSERT_TRUE(WaitUntil([&] { return busi_.Calls("WorkflowResume", gid).size() == 1; }));
  // The test clock is shared: this pass sees 60 + 15 s, past the cron's lease (60 + 10) but
  // within the callback's (60 + 30 + 10).
  EXPECT_EQ(dtm_.CronOnce(15), "");
  busi_.Release("resume");
  pass.join();
  EXPECT_EQ(first, gid);
  EXPECT_EQ(busi_.Calls("WorkflowResume", gid).size(), 1u);
}

TEST_F(WorkflowTest, ATimedOutWorkflowIsResumedToRollBack) {
  const std::string gid = TestName();
  bj::object b = Body(gid);
  b["timeout_to_fail"] = 30;
  ASSERT_EQ(PrepareWorkflow(b).status, 200);
  ASSERT_EQ(Step(gid, "01", "action", kSucceed, "out-done").status, 200);
  EXPECT_EQ(dtm_.CronOnce(20), gid);  // resumed, not yet timed out
  EXPECT_EQ(dtm_.Status(gid), kPrepared);
  EXPECT_EQ(dtm_.CronOnce(60), gid);  // past its 30 s: aborting, and resumed to roll back
  EXPECT_EQ(dtm_.Status(gid), kAborting);
  EXPECT_EQ(busi_.Calls("WorkflowResume", gid).size(), 2u);
  auto progress = PrepareWorkflow(Body(gid)).Json();
  EXPECT_EQ(S(progress.at("transaction").at("status")), kAborting);
  EXPECT_EQ(S(progress.at("transaction").at("rollback_reason")), "Timeout after 30 seconds");
  // No new action; the rollbacks are recorded; it can only end failed.
  EXPECT_EQ(Step(gid, "02", "action", kSucceed, "in-done").status, 409);
  EXPECT_EQ(Step(gid, "01", "commit", kSucceed, "").status, 409);
  EXPECT_EQ(Step(gid, "01", "rollback", kSucceed, "").status, 200);
  EXPECT_EQ(SubmitWorkflow(gid, kSucceed).status, 409);
  ASSERT_EQ(SubmitWorkflow(gid, kFailed).status, 200);
  EXPECT_EQ(dtm_.Status(gid), kFailed);
}

TEST_F(WorkflowTest, BadWorkflowRequestsAreRefused) {
  bj::object no_name = Body(TestName());
  no_name["custom_data"] = R"({"data":""})";
  EXPECT_EQ(PrepareWorkflow(no_name).status, 400);
  bj::object bad_data = Body(TestName());
  bad_data["custom_data"] = R"({"name":"x","data":"not base64!"})";
  EXPECT_EQ(PrepareWorkflow(bad_data).status, 400);
  bj::object saga = Body(TestName());
  saga["trans_type"] = "saga";
  EXPECT_EQ(PrepareWorkflow(saga).status, 400);
  bj::object metadata = Body(TestName());
  metadata["query_prepared"] = "http://169.254.169.254/resume";
  auto refused = PrepareWorkflow(metadata);
  EXPECT_EQ(refused.status, 400);
  EXPECT_NE(refused.body.find("BranchUrlPolicy"), std::string::npos);
  EXPECT_FALSE(dtm_.Exists(TestName()));
}

}  // namespace
}  // namespace lynx::it
