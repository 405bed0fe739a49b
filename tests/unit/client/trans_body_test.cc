// What goes on the wire, compared with what Go's dtmcli sends for the same calls
// (dtm-protocol.md §2.3, §2.7, §9.1-9.2). The expected strings are Go's json.Marshal output
// (field order included; Go would escape <, > and & in strings, which these tests avoid).
#include <gtest/gtest.h>

#include <lynx/dtm/dtm.h>

#include "fake_transport.h"

namespace lynx::dtm {
namespace {

using testing::FakeTransportTest;
using testing::kBusi;
using testing::kDtm;

void ExpectSameJson(const std::string& got, const std::string& want) {
  EXPECT_EQ(got, want);
  EXPECT_EQ(Json::parse(got), Json::parse(want)) << got;
}

TEST(PayloadTest, ValuesAreSerializedRawTextIsVerbatim) {
  EXPECT_EQ(Payload({{"amount", 100}}).Serialize(), R"({"amount":100})");
  EXPECT_EQ(Payload(R"({"amount": 100})").Serialize(), R"({"amount": 100})");
  EXPECT_EQ(Payload(std::string("[1,2]")).Serialize(), "[1,2]");
  EXPECT_EQ(Payload(std::string_view("[3]")).Serialize(), "[3]");
  EXPECT_EQ(Payload(nullptr).Serialize(), "null");
  EXPECT_EQ(Payload(Json("text")).Serialize(), R"("text")");
  EXPECT_EQ(Payload().Serialize(), "null");  // Go's nil payload
  EXPECT_EQ(Payload(Json::array({1, 2})).Serialize(), "[1,2]");
  EXPECT_EQ(Payload({{"user", {{"id", 7}, {"tags", {"a", "b"}}}}}).Serialize(),
            R"({"user":{"id":7,"tags":["a","b"]}})");
  EXPECT_TRUE(Payload("x").is_raw());
  EXPECT_FALSE(Payload({{"a", 1}}).is_raw());
}

TEST(SagaBodyTest, TheProtocolExample) {
  Saga saga("http://d/api/dtmsvr", "g1");
  saga.Add("http://b/TransOut", "http://b/TransOutRevert", {{"amount", 30}})
      .Add("http://b/TransIn", "http://b/TransInRevert", R"({"amount":30})");
  ExpectSameJson(
      saga.SubmitBody(),
      R"({"gid":"g1","trans_type":"saga","concurrent":false,)"
      R"("steps":[{"action":"http://b/TransOut","compensate":"http://b/TransOutRevert"},)"
      R"({"action":"http://b/TransIn","compensate":"http://b/TransInRevert"}],)"
      R"("payloads":["{\"amount\":30}","{\"amount\":30}"],"protocol":""})");
}

TEST(SagaBodyTest, ConcurrentWithOrdersAndEveryOption) {
  Saga saga("http://d/api/dtmsvr", "g2");
  saga.Add("http://b/A", "http://b/ARevert", {{"n", 1}})
      .Add("http://b/B", "http://b/BRevert", {{"n", 2}})
      .Add("http://b/C", "http://b/CRevert", {{"n", 3}})
      .EnableConcurrent()
      .AddBranchOrder(2, {0, 1})
      .SetWaitResult()
      .SetTimeoutToFail(60)
      .SetRequestTimeout(10)
      .SetRetryInterval(15)
      .SetRetryLimit(3)
      .SetBranchHeaders({{"x-b", "2"}, {"x-a", "1"}});
  // Go: SetConcurrent(); AddBranchOrder(2, []int{0, 1}); the options set on TransOptions.
  ExpectSameJson(
      saga.SubmitBody(),
      R"({"gid":"g2","trans_type":"saga",)"
      R"("custom_data":"{\"concurrent\":true,\"orders\":{\"2\":[0,1]}}",)"
      R"("wait_result":true,"timeout_to_fail":60,"request_timeout":10,"retry_interval":15,)"
      R"("branch_headers":{"x-a":"1","x-b":"2"},"concurrent":true,"retry_limit":3,)"
      R"("steps":[{"action":"http://b/A","compensate":"http://b/ARevert"},)"
      R"({"action":"http://b/B","compensate":"http://b/BRevert"},)"
      R"({"action":"http://b/C","compensate":"http://b/CRevert"}],)"
      R"("payloads":["{\"n\":1}","{\"n\":2}","{\"n\":3}"],"protocol":""})");
}

TEST(SagaBodyTest, ConcurrentWithoutOrdersAndOrderKeysSortedAsStrings) {
  Saga saga("http://d/api/dtmsvr", "g3");
  saga.EnableConcurrent();
  EXPECT_EQ(saga.BuildCustomData(), R"({"concurrent":true,"orders":{}})");
  saga.AddBranchOrder(10, {9}).AddBranchOrder(2, {});
  EXPECT_EQ(saga.BuildCustomData(), R"({"concurrent":true,"orders":{"10":[9],"2":[]}})");
  Saga plain("http://d/api/dtmsvr", "g4");
  plain.AddBranchOrder(1, {0});  // only sent when concurrent
  EXPECT_EQ(plain.BuildCustomData(), "");
}

TEST(TccBodyTest, PrepareBodyHasNoStepsAndAlwaysConcurrentAndProtocol) {
  Tcc tcc("http://d/api/dtmsvr", "t1");
  tcc.SetTimeoutToFail(60).SetRequestTimeout(10).SetRetryInterval(10);
  ExpectSameJson(tcc.PrepareBody(),
                 R"({"gid":"t1","trans_type":"tcc","timeout_to_fail":60,"request_timeout":10,)"
                 R"("retry_interval":10,"concurrent":false,"protocol":""})");
  Xa xa("http://d/api/dtmsvr", "x1");
  ExpectSameJson(xa.PrepareBody(),
                 R"({"gid":"x1","trans_type":"xa","concurrent":false,"protocol":""})");
}

class WireTest : public FakeTransportTest {};

TEST_F(WireTest, MsgPrepareAndSubmitWithDelayAndConcurrency) {
  Msg msg("http://d/api/dtmsvr", "m1");
  msg.Add("http://b/TransIn", {{"amount", 30}}).AddTopic("orders", {{"id", 1}}).SetDelay(5);
  // Prepare: no custom_data (Go sets it in Submit); query_prepared set by Prepare.
  ASSERT_TRUE(msg.Prepare("http://b/QueryPrepared").ok());
  ExpectSameJson(msg.PrepareBody(),
                 R"({"gid":"m1","trans_type":"msg","concurrent":false,)"
                 R"("steps":[{"action":"http://b/TransIn"},{"action":"topic://orders"}],)"
                 R"("payloads":["{\"amount\":30}","{\"id\":1}"],)"
                 R"("query_prepared":"http://b/QueryPrepared","protocol":""})");
  EXPECT_EQ(fake_->Requests().back().body, msg.PrepareBody());
  msg.EnableConcurrent();
  ExpectSameJson(
      msg.SubmitBody(),
      R"({"gid":"m1","trans_type":"msg","custom_data":"{\"delay\":5}","concurrent":true,)"
      R"("steps":[{"action":"http://b/TransIn"},{"action":"topic://orders"}],)"
      R"("payloads":["{\"amount\":30}","{\"id\":1}"],)"
      R"("query_prepared":"http://b/QueryPrepared","protocol":""})");
  ASSERT_TRUE(msg.Submit().ok());
  EXPECT_EQ(fake_->Requests().back().body, msg.SubmitBody());
  EXPECT_EQ(fake_->Calls(),
            (std::vector<std::string>{"POST /api/dtmsvr/prepare", "POST /api/dtmsvr/submit"}));
}

TEST_F(WireTest, SagaSubmitIsAPostOfTheBodyToSubmit) {
  Saga saga(kDtm, "g1");
  saga.Add(std::string(kBusi) + "/TransOut", std::string(kBusi) + "/TransOutRevert",
           {{"amount", 30}});
  ASSERT_TRUE(saga.Submit().ok());
  auto reqs = fake_->Requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].method, "POST");
  EXPECT_EQ(reqs[0].url, std::string(kDtm) + "/submit");
  EXPECT_EQ(reqs[0].body, saga.SubmitBody());
  EXPECT_EQ(Header(reqs[0], "Content-Type"), "application/json");
}

TEST_F(WireTest, TccCallBranchRegistersThenCallsTry) {
  Tcc tcc(kDtm, "t1");
  tcc.AddBranchHeader("x-trace", "abc").SetRequestTimeout(7);
  fake_->Script("/TransOutTry", 200, R"({"dtm_result":"SUCCESS","reserved":1})");
  auto res = tcc.CallBranch({{"amount", 30}}, std::string(kBusi) + "/TransOutTry",
                            std::string(kBusi) + "/TransOutConfirm",
                            std::string(kBusi) + "/TransOutCancel");
  ASSERT_TRUE(res.ok()) << res.status().message();
  EXPECT_EQ(*res, R"({"dtm_result":"SUCCESS","reserved":1})");
  auto reqs = fake_->Requests();
  ASSERT_EQ(reqs.size(), 2u);
  EXPECT_EQ(reqs[0].url, std::string(kDtm) + "/registerBranch");
  // Go: a map[string]string, marshalled with sorted keys.
  ExpectSameJson(reqs[0].body,
                 R"({"branch_id":"01","cancel":"http://busi.test:8081/api/busi/TransOutCancel",)"
                 R"("confirm":"http://busi.test:8081/api/busi/TransOutConfirm",)"
                 R"("data":"{\"amount\":30}","gid":"t1","trans_type":"tcc"})");
  EXPECT_EQ(reqs[1].method, "POST");
  EXPECT_EQ(reqs[1].url, std::string(kBusi) +
                             "/TransOutTry?branch_id=01&dtm=http%3A%2F%2Fdtm.test%3A36789%2Fapi%"
                             "2Fdtmsvr&gid=t1&op=try&trans_type=tcc");
  EXPECT_EQ(reqs[1].body, R"({"amount":30})");
  EXPECT_EQ(Header(reqs[1], "x-trace"), "abc");
  EXPECT_EQ(reqs[1].timeout_ms, 7000);
  EXPECT_EQ(reqs[0].timeout_ms, 7000);
}

TEST_F(WireTest, XaCallBranchSendsActionAndPhase2Url) {
  Xa xa(kDtm, "x1");
  const std::string url = std::string(kBusi) + "/TransOutXa";
  ASSERT_TRUE(xa.CallBranch(url, R"({"amount":30})").ok());
  ASSERT_TRUE(xa.CallBranch(url).ok());
  auto reqs = fake_->Requests();
  ASSERT_EQ(reqs.size(), 2u);
  EXPECT_EQ(reqs[0].method, "POST");
  EXPECT_EQ(QueryParam(reqs[0].url, "branch_id"), "01");
  EXPECT_EQ(QueryParam(reqs[0].url, "op"), "action");
  EXPECT_EQ(QueryParam(reqs[0].url, "trans_type"), "xa");
  EXPECT_EQ(QueryParam(reqs[0].url, "gid"), "x1");
  EXPECT_EQ(QueryParam(reqs[0].url, "phase2_url"),
            "http%3A%2F%2Fbusi.test%3A8081%2Fapi%2Fbusi%2FTransOutXa");
  EXPECT_EQ(QueryParam(reqs[0].url, "dtm"), "http%3A%2F%2Fdtm.test%3A36789%2Fapi%2Fdtmsvr");
  EXPECT_EQ(reqs[0].body, R"({"amount":30})");
  EXPECT_EQ(QueryParam(reqs[1].url, "branch_id"), "02");
  EXPECT_EQ(reqs[1].body, "null");
}

TEST_F(WireTest, DtmReplyRules) {
  Saga saga(kDtm, "g");
  fake_->Script("/submit", 409, R"({"dtm_result":"FAILURE","message":"cannot submit FAILURE"})");
  Status st = saga.Submit();
  EXPECT_TRUE(st.IsFailure()) << st.message();
  EXPECT_EQ(st.message(), R"({"dtm_result":"FAILURE","message":"cannot submit FAILURE"} FAILURE)");
  fake_->Script("/submit", 425, R"({"dtm_result":"ONGOING"})");
  EXPECT_TRUE(saga.Submit().IsOngoing());
  fake_->Script("/submit", 200, R"({"dtm_result":"FAILURE"})");  // pre-1.10 servers
  EXPECT_TRUE(saga.Submit().IsFailure());
  fake_->Script("/submit", 500, R"({"message":"boom"})");
  st = saga.Submit();
  EXPECT_FALSE(st.ok());
  EXPECT_FALSE(st.IsFailure());
  EXPECT_NE(st.message().find("500"), std::string::npos);
  fake_->ScriptTransportError("/submit");
  st = saga.Submit();
  EXPECT_EQ(st.code(), StatusCode::kUnavailable);
  EXPECT_NE(st.message().find("cannot reach the DTM server at " + std::string(kDtm)),
            std::string::npos)
      << st.message();
}

TEST_F(WireTest, BranchReplyRulesForTry) {
  Tcc tcc(kDtm, "t");
  const std::string u = std::string(kBusi) + "/Try";
  fake_->Script("/Try", 409, R"({"error":"no money"})");
  auto r = tcc.CallBranch({}, u, u, u);
  EXPECT_TRUE(r.status().IsFailure());
  EXPECT_EQ(r.status().message(), R"({"error":"no money"} FAILURE)");
  fake_->Script("/Try", 425, "{}");
  EXPECT_TRUE(tcc.CallBranch({}, u, u, u).status().IsOngoing());
  fake_->Script("/Try", 200, R"({"dtm_result":"ONGOING"})");
  EXPECT_TRUE(tcc.CallBranch({}, u, u, u).status().IsOngoing());
  fake_->Script("/Try", 500, "oops");
  r = tcc.CallBranch({}, u, u, u);
  EXPECT_EQ(r.status().code(), StatusCode::kInternal);
}

TEST_F(WireTest, ServerUrlMissingIsAClearError) {
  Saga saga("", "g");
  Status st = saga.Submit();
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("DTM server URL is not configured"), std::string::npos);
  EXPECT_TRUE(fake_->Requests().empty());
}

TEST_F(WireTest, ContextBoundsTheCallTimeoutAndADoneContextSendsNothing) {
  Saga saga(kDtm, "g");
  saga.SetRequestTimeout(60).WithContext(
      Context::Background().WithTimeout(std::chrono::seconds(2)));
  ASSERT_TRUE(saga.Submit().ok());
  EXPECT_LE(fake_->Requests().back().timeout_ms, 2000);
  EXPECT_GT(fake_->Requests().back().timeout_ms, 1000);
  Context ctx = Context::Background();
  ctx.Cancel();
  saga.WithContext(ctx);
  Status st = saga.Submit();
  EXPECT_EQ(st.code(), StatusCode::kUnavailable);
  EXPECT_NE(st.message().find("context canceled"), std::string::npos) << st.message();
  EXPECT_EQ(fake_->Requests().size(), 1u);
}

}  // namespace
}  // namespace lynx::dtm
