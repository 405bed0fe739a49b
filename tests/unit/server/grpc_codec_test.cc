// The gRPC front-end's decoding (dtm-protocol.md §3.1) and the gRPC branch reply rules (§3.2,
// §3.4, §4.4).
#include <grpcpp/support/status.h>
#include <gtest/gtest.h>

#include "proto/dtmgimp.pb.h"
#include "server/grpc/grpc_branch_caller.h"
#include "server/grpc/grpc_codec.h"

namespace lynx::server {
namespace {

dtmgimp::DtmRequest GoSdkSaga() {
  // What dtmgrpc's SagaGrpc.Submit sends.
  dtmgimp::DtmRequest r;
  r.set_gid("g1");
  r.set_transtype("saga");
  r.set_steps(
      R"([{"action":"localhost:1/busi.Busi/TransOut","compensate":"localhost:1/busi.Busi/TransOutRevert"}])");
  r.add_binpayloads(std::string("\x08\x1e\x00\x01", 4));  // binary, with a NUL byte
  auto* o = r.mutable_transoptions();
  o->set_waitresult(true);
  o->set_timeouttofail(60);
  o->set_retryinterval(10);
  o->set_requesttimeout(3);
  o->set_retrylimit(2);
  (*o->mutable_branchheaders())["x-h"] = "v";
  (*r.mutable_reqextra())["k"] = "e";
  r.set_customeddata(R"({"concurrent":false})");
  return r;
}

TEST(GrpcCodecTest, MapsEveryField) {
  auto t = TransFromGrpc(GoSdkSaga(), true);
  ASSERT_TRUE(t.ok()) << t.status().message();
  EXPECT_EQ(t->g.gid, "g1");
  EXPECT_EQ(t->g.trans_type, "saga");
  EXPECT_EQ(t->g.protocol, "grpc");
  EXPECT_EQ(t->g.custom_data, R"({"concurrent":false})");
  ASSERT_EQ(t->steps.size(), 1u);
  EXPECT_EQ(t->steps[0].at("action"), "localhost:1/busi.Busi/TransOut");
  ASSERT_EQ(t->bin_payloads.size(), 1u);
  EXPECT_EQ(t->bin_payloads[0], std::string("\x08\x1e\x00\x01", 4));
  EXPECT_TRUE(t->opts.wait_result);
  EXPECT_EQ(t->opts.timeout_to_fail, 60);
  EXPECT_EQ(t->opts.retry_interval, 10);
  EXPECT_EQ(t->opts.request_timeout, 3);
  EXPECT_EQ(t->opts.retry_limit, 2);
  EXPECT_EQ(t->opts.branch_headers.at("x-h"), "v");
  EXPECT_EQ(t->req_extra.at("k"), "e");
}

TEST(GrpcCodecTest, NullOrEmptyStepsAreNoSteps) {
  for (const char* steps : {"null", ""}) {
    auto r = GoSdkSaga();
    r.set_transtype("tcc");
    r.set_steps(steps);
    r.clear_binpayloads();
    auto t = TransFromGrpc(r, true);
    ASSERT_TRUE(t.ok()) << steps << ": " << t.status().message();
    EXPECT_TRUE(t->steps.empty());
  }
}

TEST(GrpcCodecTest, RefusesWhatHttpRefuses) {
  auto r = GoSdkSaga();
  r.clear_transtype();
  EXPECT_TRUE(TransFromGrpc(r, true).status().code() == StatusCode::kInvalidArgument);
  EXPECT_TRUE(TransFromGrpc(r, false).ok()) << "abort does not need the type";
  r = GoSdkSaga();
  r.set_steps("[{");
  EXPECT_NE(TransFromGrpc(r, true).status().message().find("Steps"), std::string::npos);
  r = GoSdkSaga();
  r.clear_binpayloads();
  EXPECT_NE(TransFromGrpc(r, true).status().message().find("payloads"), std::string::npos);
  r = GoSdkSaga();
  r.mutable_transoptions()->set_retryinterval(-1);
  EXPECT_TRUE(TransFromGrpc(r, true).status().code() == StatusCode::kInvalidArgument);
  r = GoSdkSaga();
  r.set_customeddata("[1]");
  EXPECT_TRUE(TransFromGrpc(r, true).status().code() == StatusCode::kInvalidArgument);
  r = GoSdkSaga();
  r.set_gid("");
  EXPECT_TRUE(TransFromGrpc(r, true).status().code() == StatusCode::kInvalidArgument);
  r.set_gid("a;b\n");  // DTM's escaping removes ';' and newlines
  auto t = TransFromGrpc(r, true);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->g.gid, "ab");
}

TEST(GrpcCodecTest, RegisterBranchPayloadIsTheBranchBody) {
  dtmgimp::DtmBranchRequest b;
  b.set_gid("g");
  b.set_transtype("tcc");
  b.set_branchid("01");
  b.set_busipayload(std::string("\x00\xff", 2));
  (*b.mutable_data())["confirm"] = "h:1/s.S/C";
  (*b.mutable_data())["cancel"] = "h:1/s.S/X";
  auto r = BranchRegistrationFromGrpc(b);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->data.at("data"), std::string("\x00\xff", 2));
  EXPECT_EQ(r->data.at("confirm"), "h:1/s.S/C");
  b.clear_branchid();
  EXPECT_TRUE(BranchRegistrationFromGrpc(b).status().code() == StatusCode::kInvalidArgument);
}

TEST(GrpcBranchReplyTest, GrpcError2DtmError) {
  using C = grpc::StatusCode;
  EXPECT_TRUE(ClassifyGrpcReply(C::OK, "", "u").ok());
  EXPECT_TRUE(ClassifyGrpcReply(C::ABORTED, "no money", "u").IsFailure());
  EXPECT_EQ(ClassifyGrpcReply(C::ABORTED, "no money", "u").message(), "no money FAILURE");
  EXPECT_EQ(ClassifyGrpcReply(C::ABORTED, "no money FAILURE", "u").message(), "no money FAILURE")
      << "the suffix is added once";
  EXPECT_TRUE(ClassifyGrpcReply(C::ABORTED, "ONGOING", "u").IsOngoing()) << "pre-1.10 servers";
  EXPECT_TRUE(ClassifyGrpcReply(C::FAILED_PRECONDITION, "", "u").IsOngoing());
  for (C c : {C::UNAVAILABLE, C::DEADLINE_EXCEEDED, C::INTERNAL, C::UNKNOWN, C::UNIMPLEMENTED,
              C::INVALID_ARGUMENT}) {
    Status st = ClassifyGrpcReply(c, "m", "h:1/s.S/M");
    EXPECT_FALSE(st.ok() || st.IsFailure() || st.IsOngoing()) << c;
    EXPECT_NE(st.message().find("h:1/s.S/M"), std::string::npos);
  }
}

TEST(GrpcBranchReplyTest, SplitsTargetAndMethod) {
  std::string target, method;
  ASSERT_TRUE(SplitGrpcUrl("localhost:58081/busi.Busi/TransOut", &target, &method).ok());
  EXPECT_EQ(target, "localhost:58081");
  EXPECT_EQ(method, "/busi.Busi/TransOut");
  for (const char* bad :
       {"localhost:58081", "http://h/x", "discovery://x/y.Z/M", "/a.B/C", "host:1/"}) {
    EXPECT_TRUE(SplitGrpcUrl(bad, &target, &method).code() == StatusCode::kInvalidArgument) << bad;
  }
}

}  // namespace
}  // namespace lynx::server
