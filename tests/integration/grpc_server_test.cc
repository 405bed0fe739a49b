// dtmd's gRPC API (dtm-protocol.md §3, §4.4; the gRPC lines of §13.2-13.5), driven with the
// generated dtmgimp stubs — what any DTM SDK sends — against gRPC branches of busi_server
// (busi.Busi/<Route>, recorded as "grpc:<Route>"). The SDK's own gRPC transport is tested in
// sdk_grpc_test.cc.
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <boost/json.hpp>

#include <filesystem>
#include <future>

#include "../support/test_certs.h"
#include "harness.h"
#include "proto/busi.pb.h"
#include "proto/dtmgimp.grpc.pb.h"

namespace lynx::it {
namespace {

namespace bj = boost::json;
using google::protobuf::Empty;

constexpr const char* kPrepared = "prepared";
constexpr const char* kSucceed = "succeed";
constexpr const char* kFailed = "failed";

std::string ReqBytes(int64_t amount, const std::string& out_result = "",
                     const std::string& in_result = "") {
  busi::ReqGrpc r;
  r.set_amount(amount);
  r.set_transoutresult(out_result);
  r.set_transinresult(in_result);
  return r.SerializeAsString();
}

std::string Steps(const std::vector<std::pair<std::string, std::string>>& steps) {
  bj::array a;
  for (const auto& [action, compensate] : steps) {
    bj::object o{{"action", action}};
    if (!compensate.empty()) o["compensate"] = compensate;
    a.push_back(std::move(o));
  }
  return bj::serialize(a);
}

class GrpcServerTest : public IntegrationTest {
 protected:
  void SetUp() override {
    IntegrationTest::SetUp();
    channel_ = grpc::CreateChannel(dtm_.GrpcServer(), grpc::InsecureChannelCredentials());
    stub_ = dtmgimp::Dtm::NewStub(channel_);
  }

  static std::unique_ptr<grpc::ClientContext> Ctx() {
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    return ctx;
  }

  // A 2-step saga over gRPC branches TransOut/TransIn (DTM's genSagaGrpc).
  dtmgimp::DtmRequest Saga(const std::string& gid, const std::string& out_result = "",
                           const std::string& in_result = "") const {
    dtmgimp::DtmRequest r;
    r.set_gid(gid);
    r.set_transtype("saga");
    r.set_steps(Steps({{busi_.GrpcUrl("TransOut"), busi_.GrpcUrl("TransOutRevert")},
                       {busi_.GrpcUrl("TransIn"), busi_.GrpcUrl("TransInRevert")}}));
    r.add_binpayloads(ReqBytes(30, out_result, in_result));
    r.add_binpayloads(ReqBytes(30, out_result, in_result));
    return r;
  }

  grpc::Status Call(grpc::Status (dtmgimp::Dtm::Stub::*op)(grpc::ClientContext*,
                                                           const dtmgimp::DtmRequest&, Empty*),
                    const dtmgimp::DtmRequest& req) {
    Empty reply;
    return (stub_.get()->*op)(Ctx().get(), req, &reply);
  }
  grpc::Status Submit(const dtmgimp::DtmRequest& r) { return Call(&dtmgimp::Dtm::Stub::Submit, r); }
  grpc::Status Prepare(const dtmgimp::DtmRequest& r) {
    return Call(&dtmgimp::Dtm::Stub::Prepare, r);
  }
  grpc::Status Abort(const dtmgimp::DtmRequest& r) { return Call(&dtmgimp::Dtm::Stub::Abort, r); }
  grpc::Status Register(const dtmgimp::DtmBranchRequest& r) {
    Empty reply;
    return stub_->RegisterBranch(Ctx().get(), r, &reply);
  }

  std::vector<std::string> Routes(const std::string& gid) const {
    std::vector<std::string> out;
    for (const auto& c : busi_.Calls("", gid)) out.push_back(c.route + "/" + c.Query("op"));
    return out;
  }

  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<dtmgimp::Dtm::Stub> stub_;
};

TEST_F(GrpcServerTest, NewGid) {
  dtmgimp::DtmGidReply a, b;
  ASSERT_TRUE(stub_->NewGid(Ctx().get(), Empty(), &a).ok());
  ASSERT_TRUE(stub_->NewGid(Ctx().get(), Empty(), &b).ok());
  EXPECT_FALSE(a.gid().empty());
  EXPECT_NE(a.gid(), b.gid());
}

TEST_F(GrpcServerTest, SubmitWithOnlyGidIsRefused) {
  const std::string gid = TestName();
  dtmgimp::DtmRequest r;
  r.set_gid(gid);
  grpc::Status st = Submit(r);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(st.error_message().find("trans_type"), std::string::npos) << st.error_message();
  EXPECT_FALSE(dtm_.Exists(gid));
}

TEST_F(GrpcServerTest, SagaNormal) {
  const std::string gid = TestName();
  auto req = Saga(gid);
  req.mutable_transoptions()->set_waitresult(true);
  ASSERT_TRUE(Submit(req).ok());
  EXPECT_EQ(dtm_.Status(gid), kSucceed);
  EXPECT_EQ(dtm_.BranchStatuses(gid), Statuses({kPrepared, kSucceed, kPrepared, kSucceed}));
  auto calls = busi_.Calls("", gid);
  ASSERT_EQ(calls.size(), 2u);
  const char* routes[] = {"grpc:TransOut", "grpc:TransIn"};
  const char* ids[] = {"01", "02"};
  for (size_t i = 0; i < calls.size(); ++i) {
    EXPECT_EQ(calls[i].route, routes[i]);
    EXPECT_EQ(calls[i].Header("dtm-gid"), gid);
    EXPECT_EQ(calls[i].Header("dtm-trans_type"), "saga");
    EXPECT_EQ(calls[i].Header("dtm-branch_id"), ids[i]);
    EXPECT_EQ(calls[i].Header("dtm-op"), "action");
    EXPECT_EQ(calls[i].headers.count("dtm-dtm"), 1u) << "sent, empty, as DTM";
    EXPECT_EQ(calls[i].Header("dtm-dtm"), "");
    EXPECT_NE(calls[i].body.find("\"Amount\":30"), std::string::npos) << calls[i].body;
  }
  // The stored branch data is the proto bytes, shown base64 by /query.
  auto q = dtm_.Query(gid);
  EXPECT_EQ(q.at("transaction").at("protocol").as_string(), "grpc");
}

TEST_F(GrpcServerTest, SagaRollbackAnswersAborted) {
  const std::string gid = TestName();
  auto req = Saga(gid, "", "FAILURE");
  req.mutable_transoptions()->set_waitresult(true);
  grpc::Status st = Submit(req);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::ABORTED) << st.error_message();
  EXPECT_EQ(dtm_.Status(gid), kFailed);
  EXPECT_EQ(dtm_.BranchStatuses(gid), Statuses({kSucceed, kSucceed, kSucceed, kFailed}));
  EXPECT_EQ(Routes(gid), (std::vector<std::string>{"grpc:TransOut/action", "grpc:TransIn/action",
                                                   "grpc:TransInRevert/compensate",
                                                   "grpc:TransOutRevert/compensate"}));
}

TEST_F(GrpcServerTest, SagaRollbackWithCompensationOngoingOnce) {
  const std::string gid = TestName();
  busi_.Script("grpc:TransOutRevert", {"ONGOING"});
  ASSERT_TRUE(Submit(Saga(gid, "", "FAILURE")).ok());
  ASSERT_TRUE(dtm_.WaitPasses(gid, 1));
  EXPECT_EQ(dtm_.Status(gid), "aborting");
  EXPECT_EQ(dtm_.CronOnce(180), gid);
  EXPECT_EQ(dtm_.Status(gid), kFailed);
  EXPECT_NE(dtm_.RollbackReason(gid).find("FAILURE"), std::string::npos)
      << dtm_.RollbackReason(gid);
}

TEST_F(GrpcServerTest, BranchErrorIsRetriedByCronWithHeaders) {
  const std::string gid = TestName();
  busi_.Script("grpc:TransOut", {"ERROR"});
  auto req = Saga(gid);
  (*req.mutable_transoptions()->mutable_branchheaders())["test_header"] = "test";
  (*req.mutable_transoptions()->mutable_branchheaders())["X-Upper"] = "kept";
  ASSERT_TRUE(Submit(req).ok());
  ASSERT_TRUE(dtm_.WaitPasses(gid, 1));
  EXPECT_EQ(dtm_.Status(gid), "submitted");
  EXPECT_EQ(dtm_.CronOnce(180), gid);
  EXPECT_EQ(dtm_.Status(gid), kSucceed);
  auto out = busi_.Calls("grpc:TransOut", gid);
  ASSERT_EQ(out.size(), 2u) << "first call and the cron's retry";
  for (const auto& c : out) {
    EXPECT_EQ(c.Header("test_header"), "test");
    EXPECT_EQ(c.Header("x-upper"), "kept") << "metadata keys are sent lower-case";
  }
}

TEST_F(GrpcServerTest, BranchSlowerThanRequestTimeoutIsAnError) {
  const std::string gid = TestName();
  busi_.Script("grpc:TransOut", {"SLEEP:3000"});
  auto req = Saga(gid);
  req.mutable_transoptions()->set_requesttimeout(1);
  ASSERT_TRUE(Submit(req).ok());
  ASSERT_TRUE(dtm_.WaitPasses(gid, 1));
  EXPECT_EQ(dtm_.Status(gid), "submitted");
  EXPECT_EQ(dtm_.BranchStatuses(gid), Statuses({kPrepared, kPrepared, kPrepared, kPrepared}));
}

TEST_F(GrpcServerTest, MixedHttpAndGrpcSaga) {
  const std::string gid = TestName();
  dtmgimp::DtmRequest r;
  r.set_gid(gid);
  r.set_transtype("saga");
  r.set_steps(Steps({{busi_.Url("TransOut"), busi_.Url("TransOutRevert")},
                     {busi_.GrpcUrl("TransIn"), busi_.GrpcUrl("TransInRevert")}}));
  r.add_binpayloads(R"({"amount":30})");
  r.add_binpayloads(ReqBytes(30));
  r.mutable_transoptions()->set_waitresult(true);
  ASSERT_TRUE(Submit(r).ok());
  EXPECT_EQ(dtm_.Status(gid), kSucceed);
  EXPECT_EQ(Routes(gid), (std::vector<std::string>{"TransOut/action", "grpc:TransIn/action"}));
  auto http_call = busi_.Calls("TransOut", gid);
  ASSERT_EQ(http_call.size(), 1u);
  EXPECT_EQ(http_call[0].body, R"({"amount":30})");
}

TEST_F(GrpcServerTest, MsgNormalAndQueryPreparedOverGrpc) {
  const std::string gid = TestName();
  dtmgimp::DtmRequest r;
  r.set_gid(gid);
  r.set_transtype("msg");
  r.set_steps(Steps({{busi_.GrpcUrl("TransIn"), ""}}));
  r.add_binpayloads(ReqBytes(30));
  r.set_queryprepared(busi_.GrpcUrl("QueryPrepared"));
  ASSERT_TRUE(Prepare(r).ok());
  EXPECT_EQ(dtm_.Status(gid), kPrepared);
  ASSERT_TRUE(Submit(r).ok());
  ASSERT_TRUE(dtm_.WaitPasses(gid, 1));
  EXPECT_EQ(dtm_.Status(gid), kSucceed);

  // A message never submitted: after its timeout dtmd asks QueryPrepared over gRPC.
  const std::string gid2 = gid + "-timeout";
  r.set_gid(gid2);
  busi_.Script("grpc:QueryPrepared", {"FAILURE"});
  ASSERT_TRUE(Prepare(r).ok());
  EXPECT_EQ(dtm_.CronOnce(40), gid2);
  EXPECT_EQ(dtm_.Status(gid2), kFailed);
  auto qp = busi_.Calls("grpc:QueryPrepared", gid2);
  ASSERT_EQ(qp.size(), 1u);
  EXPECT_EQ(qp[0].Header("dtm-op"), "msg");
  EXPECT_EQ(qp[0].Header("dtm-branch_id"), "00");
}

TEST_F(GrpcServerTest, TccConfirmAndCancelWithStoredPayload) {
  for (bool commit : {true, false}) {
    const std::string gid = TestName() + (commit ? "-confirm" : "-cancel");
    dtmgimp::DtmRequest g;
    g.set_gid(gid);
    g.set_transtype("tcc");
    g.mutable_transoptions()->set_waitresult(true);  // stored: abort waits as submit does
    ASSERT_TRUE(Prepare(g).ok());
    dtmgimp::DtmBranchRequest b;
    b.set_gid(gid);
    b.set_transtype("tcc");
    b.set_branchid("01");
    b.set_busipayload(ReqBytes(77));
    (*b.mutable_data())["confirm"] = busi_.GrpcUrl("TransOutConfirm");
    (*b.mutable_data())["cancel"] = busi_.GrpcUrl("TransOutRevert");
    ASSERT_TRUE(Register(b).ok());
    if (commit) {
      ASSERT_TRUE(Submit(g).ok());
      EXPECT_EQ(dtm_.Status(gid), kSucceed);
    } else {
      ASSERT_TRUE(Abort(g).ok());
      EXPECT_EQ(dtm_.Status(gid), kFailed);
    }
    auto calls = busi_.Calls("", gid);
    ASSERT_EQ(calls.size(), 1u);
    EXPECT_EQ(calls[0].route, commit ? "grpc:TransOutConfirm" : "grpc:TransOutRevert");
    EXPECT_EQ(calls[0].Header("dtm-op"), commit ? "confirm" : "cancel");
    EXPECT_NE(calls[0].body.find("\"Amount\":77"), std::string::npos) << calls[0].body;
  }
}

TEST_F(GrpcServerTest, XaCommitAndRollback) {
  for (bool commit : {true, false}) {
    const std::string gid = TestName() + (commit ? "-commit" : "-rollback");
    dtmgimp::DtmRequest g;
    g.set_gid(gid);
    g.set_transtype("xa");
    g.mutable_transoptions()->set_waitresult(true);  // stored: abort waits as submit does
    ASSERT_TRUE(Prepare(g).ok());
    dtmgimp::DtmBranchRequest b;
    b.set_gid(gid);
    b.set_transtype("xa");
    b.set_branchid("01");
    (*b.mutable_data())["url"] = busi_.GrpcUrl("TransOutXa");
    ASSERT_TRUE(Register(b).ok());
    ASSERT_TRUE((commit ? Submit(g) : Abort(g)).ok());
    EXPECT_EQ(dtm_.Status(gid), commit ? kSucceed : kFailed);
    auto calls = busi_.Calls("grpc:TransOutXa", gid);
    ASSERT_EQ(calls.size(), 1u);
    EXPECT_EQ(calls[0].Header("dtm-op"), commit ? "commit" : "rollback");
  }
}

TEST_F(GrpcServerTest, RegisterBranchOfUnknownGidIsAborted) {
  dtmgimp::DtmBranchRequest b;
  b.set_gid(TestName());
  b.set_transtype("tcc");
  b.set_branchid("01");
  grpc::Status st = Register(b);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::ABORTED) << st.error_message();
}

TEST_F(GrpcServerTest, Topics) {
  auto topic = [](const std::string& t, const std::string& url) {
    dtmgimp::DtmTopicRequest r;
    r.set_topic(t);
    r.set_url(url);
    r.set_remark("r");
    return r;
  };
  Empty e;
  const std::string t = "grpc_topic";
  EXPECT_TRUE(stub_->Subscribe(Ctx().get(), topic(t, busi_.GrpcUrl("TransIn")), &e).ok());
  EXPECT_FALSE(stub_->Subscribe(Ctx().get(), topic(t, busi_.GrpcUrl("TransIn")), &e).ok())
      << "a second subscription of the same URL is an error";
  EXPECT_FALSE(stub_->Unsubscribe(Ctx().get(), topic(t, "127.0.0.1:1/x.Y/Z"), &e).ok());
  EXPECT_FALSE(stub_->DeleteTopic(Ctx().get(), topic("no_such_topic", ""), &e).ok());
  EXPECT_TRUE(stub_->Unsubscribe(Ctx().get(), topic(t, busi_.GrpcUrl("TransIn")), &e).ok());
  EXPECT_TRUE(stub_->Subscribe(Ctx().get(), topic(t, busi_.GrpcUrl("TransIn")), &e).ok());
  EXPECT_TRUE(stub_->DeleteTopic(Ctx().get(), topic(t, ""), &e).ok());
}

TEST_F(GrpcServerTest, PrepareWorkflowCreatesOrReturnsTheProgress) {
  dtmgimp::DtmRequest r;
  r.set_gid(TestName());
  r.set_transtype("workflow");
  dtmgimp::DtmProgressesReply reply;
  // A workflow names its function in custom_data.
  EXPECT_EQ(stub_->PrepareWorkflow(Ctx().get(), r, &reply).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  r.set_customeddata(R"({"name":"wf","data":""})");
  ASSERT_TRUE(stub_->PrepareWorkflow(Ctx().get(), r, &reply).ok());
  EXPECT_EQ(reply.transaction().gid(), TestName());
  EXPECT_EQ(reply.transaction().status(), kPrepared);
  EXPECT_EQ(reply.progresses_size(), 0);
}

// Raw bytes to a dtmd method: what a broken client could send.
grpc::Status RawCall(const std::shared_ptr<grpc::Channel>& channel, const std::string& method,
                     const std::string& bytes, std::string* reply_bytes = nullptr) {
  grpc::GenericStub stub(channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  grpc::Slice slice(bytes.data(), bytes.size());
  grpc::ByteBuffer req(&slice, 1), resp;
  std::promise<grpc::Status> done;
  stub.UnaryCall(&ctx, method, grpc::StubOptions(), &req, &resp,
                 [&done](grpc::Status st) { done.set_value(std::move(st)); });
  grpc::Status st = done.get_future().get();
  if (reply_bytes != nullptr) {
    std::vector<grpc::Slice> slices;
    reply_bytes->clear();
    if (resp.Dump(&slices).ok()) {
      for (const auto& s : slices)
        reply_bytes->append(reinterpret_cast<const char*>(s.begin()), s.size());
    }
  }
  return st;
}

TEST_F(GrpcServerTest, BadInputIsAnsweredAndNothingIsStored) {
  const std::string gid = TestName();
  // Not a protobuf message at all.
  grpc::Status st = RawCall(channel_, "/dtmgimp.Dtm/Submit", std::string("\xff\xff\xff\xff", 4));
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.error_code(), grpc::StatusCode::UNAVAILABLE) << "dtmd must answer, not die";
  // Unknown method.
  st = RawCall(channel_, "/dtmgimp.Dtm/NoSuchMethod", "");
  EXPECT_EQ(st.error_code(), grpc::StatusCode::UNIMPLEMENTED);
  // Steps that are not JSON; more steps than payloads; a negative option.
  auto bad_steps = Saga(gid);
  bad_steps.set_steps("[{not json");
  st = Submit(bad_steps);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(st.error_message().find("Steps"), std::string::npos) << st.error_message();
  auto missing_payload = Saga(gid);
  missing_payload.mutable_binpayloads()->RemoveLast();
  st = Submit(missing_payload);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(st.error_message().find("payloads"), std::string::npos) << st.error_message();
  auto negative = Saga(gid);
  negative.mutable_transoptions()->set_timeouttofail(-1);
  EXPECT_EQ(Submit(negative).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  auto gid_with_control = Saga(std::string("bad\x01gid"));
  EXPECT_EQ(Submit(gid_with_control).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_FALSE(dtm_.Exists(gid));
  EXPECT_TRUE(dtm_.Ping());
  // A gRPC branch URL that is not host:port/Service/Method is refused by the branch-URL policy.
  const std::string gid2 = gid + "-badurl";
  dtmgimp::DtmRequest r;
  r.set_gid(gid2);
  r.set_transtype("saga");
  r.set_steps(Steps({{"no-slash-here", "127.0.0.1:1/x.Y/Z"}}));
  r.add_binpayloads("");
  st = Submit(r);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(st.error_message().find("refused by BranchUrlPolicy"), std::string::npos)
      << st.error_message();
  EXPECT_FALSE(dtm_.Exists(gid2));
  EXPECT_TRUE(dtm_.Ping());
}

TEST_F(GrpcServerTest, HealthServiceServes) {
  std::string reply;
  // grpc.health.v1.HealthCheckRequest{service: ""} is the empty message; the reply
  // HealthCheckResponse{status: SERVING (1)} is the two bytes 08 01.
  grpc::Status st = RawCall(channel_, "/grpc.health.v1.Health/Check", "", &reply);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(reply, std::string("\x08\x01", 2));
}

TEST_F(GrpcServerTest, ReflectionListsTheDtmService) {
  // ServerReflectionRequest{list_services: ""} (field 7) on the bidi reflection stream.
  grpc::GenericStub stub(channel_);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  grpc::CompletionQueue cq;
  auto call =
      stub.PrepareCall(&ctx, "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", &cq);
  void* tag = nullptr;
  bool ok = false;
  auto step = [&](int id) {
    EXPECT_TRUE(cq.Next(&tag, &ok));
    EXPECT_EQ(tag, reinterpret_cast<void*>(static_cast<intptr_t>(id)));
    return ok;
  };
  call->StartCall(reinterpret_cast<void*>(1));
  ASSERT_TRUE(step(1));
  const std::string req("\x3a\x00", 2);
  grpc::Slice slice(req.data(), req.size());
  grpc::ByteBuffer out(&slice, 1), in;
  call->Write(out, reinterpret_cast<void*>(2));
  ASSERT_TRUE(step(2));
  call->Read(&in, reinterpret_cast<void*>(3));
  ASSERT_TRUE(step(3));
  call->WritesDone(reinterpret_cast<void*>(4));
  step(4);
  grpc::Status st;
  call->Finish(&st, reinterpret_cast<void*>(5));
  step(5);
  std::vector<grpc::Slice> slices;
  std::string bytes;
  ASSERT_TRUE(in.Dump(&slices).ok());
  for (const auto& s : slices) bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  EXPECT_NE(bytes.find("dtmgimp.Dtm"), std::string::npos);
  EXPECT_NE(bytes.find("grpc.health.v1.Health"), std::string::npos);
}

// dtmd serving gRPC over mutual TLS, with certificates made by the test.
class GrpcTlsTest : public IntegrationTest {
 protected:
  DtmdOptions Options() const override {
    DtmdOptions o;
    o.extra_yaml = "GrpcCertFile: " + certs_.server_cert + "\nGrpcKeyFile: " + certs_.server_key +
                   "\nGrpcCaFile: " + certs_.ca_file + "\n";
    return o;
  }
  void SetUp() override {
    cert_dir_ = std::make_unique<TempDir>("lynx-certs");
    std::string err;
    ASSERT_TRUE(lynx::test_support::MakeTestCerts(cert_dir_->path(), &certs_, &err)) << err;
    IntegrationTest::SetUp();
  }

  grpc::Status NewGidWith(const std::shared_ptr<grpc::ChannelCredentials>& creds) {
    grpc::ChannelArguments args;
    auto stub = dtmgimp::Dtm::NewStub(grpc::CreateCustomChannel(dtm_.GrpcServer(), creds, args));
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    dtmgimp::DtmGidReply reply;
    grpc::Status st = stub->NewGid(&ctx, Empty(), &reply);
    if (st.ok()) {
      EXPECT_FALSE(reply.gid().empty());
    }
    return st;
  }

  std::unique_ptr<TempDir> cert_dir_;
  lynx::test_support::TestCerts certs_;
};

TEST_F(GrpcTlsTest, ClientCertificateRequired) {
  using lynx::test_support::TestCerts;
  grpc::SslCredentialsOptions full;
  full.pem_root_certs = TestCerts::Read(certs_.ca_file);
  full.pem_private_key = TestCerts::Read(certs_.client_key);
  full.pem_cert_chain = TestCerts::Read(certs_.client_cert);
  EXPECT_TRUE(NewGidWith(grpc::SslCredentials(full)).ok());

  grpc::SslCredentialsOptions no_client_cert;
  no_client_cert.pem_root_certs = full.pem_root_certs;
  EXPECT_FALSE(NewGidWith(grpc::SslCredentials(no_client_cert)).ok());

  grpc::SslCredentialsOptions wrong_ca = full;
  wrong_ca.pem_root_certs = TestCerts::Read(certs_.other_ca_file);
  EXPECT_FALSE(NewGidWith(grpc::SslCredentials(wrong_ca)).ok());

  EXPECT_EQ(NewGidWith(grpc::InsecureChannelCredentials()).error_code(),
            grpc::StatusCode::UNAVAILABLE);
  EXPECT_TRUE(dtm_.Ping()) << "TLS mismatches never take dtmd down";
}

TEST(GrpcTlsConfigTest, UnreadableCertificateIsAClearStartError) {
  TempDir dir("lynx-grpc-tls-bad");
  Dtmd dtm;
  DtmdOptions o;
  o.extra_yaml =
      "GrpcCertFile: " + dir.path() + "/missing.pem\nGrpcKeyFile: " + dir.path() + "/missing.key\n";
  std::string err;
  EXPECT_FALSE(dtm.Start(dir.path(), o, &err));
  EXPECT_NE(dtm.LogTail().find("GrpcCertFile"), std::string::npos) << dtm.LogTail();
}

}  // namespace
}  // namespace lynx::it
