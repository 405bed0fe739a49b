// The gRPC side of the SDK without a server: which URLs are gRPC targets and how they split, DTM's
// mapping of gRPC codes to results (GrpcError2DtmError), the metadata of branch calls, the
// DtmRequest / DtmBranchRequest built from a transaction (dtm-protocol.md §3.1-3.4, §9.3),
// TLS file errors, Payload::Bytes / Proto, and the gRPC keys of the configuration.
#include <grpcpp/support/status.h>
#include <gtest/gtest.h>

#include <lynx/dtm/dtm.h>

#include <string>

#include "client/transports/grpc_request.h"
#include "client/transports/grpc_transport.h"
#include "proto/busi.pb.h"

namespace lynx::dtm {
namespace {

using internal::BranchCallMetadata;
using internal::FromGrpcStatus;

TEST(GrpcTargetTest, IsGrpcTargetAndSplit) {
  EXPECT_TRUE(IsGrpcTarget("localhost:58081/busi.Busi/TransOut"));
  EXPECT_FALSE(IsGrpcTarget("dns:///busi:1/busi.Busi/TransOut"));  // a scheme
  EXPECT_FALSE(IsGrpcTarget("http://localhost:8081/api/TransOut"));
  EXPECT_FALSE(IsGrpcTarget("https://b/api"));
  EXPECT_FALSE(IsGrpcTarget("topic://orders"));
  EXPECT_FALSE(IsGrpcTarget("localhost:58081"));
  EXPECT_FALSE(IsGrpcTarget(""));

  auto split = internal::SplitGrpcUrl("localhost:58081/busi.Busi/TransOut");
  ASSERT_TRUE(split.ok());
  EXPECT_EQ(split->target, "localhost:58081");
  EXPECT_EQ(split->method, "/busi.Busi/TransOut");
  // Split at the first '/', as Go's default driver does.
  auto nested = internal::SplitGrpcUrl("h:1/a.B/C/D");
  ASSERT_TRUE(nested.ok());
  EXPECT_EQ(nested->target, "h:1");
  EXPECT_EQ(nested->method, "/a.B/C/D");

  for (const char* bad : {"http://h:1/a.B/C", "discovery://svc/a.B/C", "h:1", "/a.B/C", ""}) {
    auto st = internal::SplitGrpcUrl(bad);
    EXPECT_EQ(st.status().code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(st.status().message().find(std::string("'") + bad + "'"), std::string::npos)
        << st.status().message();
  }
}

TEST(GrpcErrorTest, GrpcCodesMapToDtmResults) {
  const std::string what = "h:1/busi.Busi/TransOut";
  EXPECT_TRUE(FromGrpcStatus(grpc::Status::OK, what).ok());

  Status failure = FromGrpcStatus({grpc::StatusCode::ABORTED, "insufficient balance"}, what);
  EXPECT_TRUE(failure.IsFailure());
  EXPECT_EQ(failure.message(), "insufficient balance FAILURE");  // Go's ErrorMessage2Error
  EXPECT_EQ(FromGrpcStatus({grpc::StatusCode::ABORTED, "FAILURE"}, what).message(), "FAILURE");

  Status old_ongoing = FromGrpcStatus({grpc::StatusCode::ABORTED, "ONGOING"}, what);
  EXPECT_TRUE(old_ongoing.IsOngoing());  // DTM before v1.10
  Status not_exactly = FromGrpcStatus({grpc::StatusCode::ABORTED, "ONGOING soon"}, what);
  EXPECT_TRUE(not_exactly.IsFailure());

  Status ongoing = FromGrpcStatus({grpc::StatusCode::FAILED_PRECONDITION, "wait"}, what);
  EXPECT_TRUE(ongoing.IsOngoing());
  EXPECT_EQ(ongoing.message(), "wait ONGOING");

  for (auto code : {grpc::StatusCode::UNAVAILABLE, grpc::StatusCode::DEADLINE_EXCEEDED}) {
    Status st = FromGrpcStatus({code, "gone"}, what);
    EXPECT_EQ(st.code(), StatusCode::kUnavailable);
    EXPECT_NE(st.message().find(what), std::string::npos) << st.message();
    EXPECT_NE(st.message().find(internal::GrpcCodeName(code)), std::string::npos);
  }
  Status unimplemented = FromGrpcStatus({grpc::StatusCode::UNIMPLEMENTED, ""}, what);
  EXPECT_EQ(unimplemented.code(), StatusCode::kInternal);
  EXPECT_EQ(unimplemented.message(), what + ": gRPC UNIMPLEMENTED: ");
  Status internal = FromGrpcStatus({grpc::StatusCode::INTERNAL, "boom"}, what);
  EXPECT_EQ(internal.code(), StatusCode::kInternal);
  EXPECT_EQ(internal.message(), what + ": gRPC INTERNAL: boom");
  EXPECT_EQ(FromGrpcStatus({grpc::StatusCode::UNKNOWN, "x"}, what).code(), StatusCode::kInternal);
  EXPECT_EQ(FromGrpcStatus({grpc::StatusCode::INVALID_ARGUMENT, "x"}, what).code(),
            StatusCode::kInvalidArgument);
}

TEST(GrpcMetadataTest, BranchCallMetadata) {
  GrpcMetadata md = BranchCallMetadata("g1", "xa", "01", "action", "dtm:36790", "h:1/a.B/Xa",
                                       {{"X-Request-Id", "r1"}, {"dtm-gid", "spoofed"}});
  EXPECT_EQ(md, (GrpcMetadata{{"dtm-gid", "g1"},
                              {"dtm-trans_type", "xa"},
                              {"dtm-branch_id", "01"},
                              {"dtm-op", "action"},
                              {"dtm-dtm", "dtm:36790"},
                              {"dtm-phase2_url", "h:1/a.B/Xa"},
                              {"x-request-id", "r1"}}));
  GrpcMetadata tcc = BranchCallMetadata("g2", "tcc", "01", "try", "d:1", "", {});
  EXPECT_EQ(tcc.count("dtm-phase2_url"), 0u);
  EXPECT_EQ(tcc.size(), 5u);
}

TEST(GrpcMetadataTest, InvalidKeysAndValuesAreRefused) {
  EXPECT_TRUE(internal::ValidateGrpcMetadata({{"x-a_b.c-9", "printable value ~"}}).ok());
  EXPECT_TRUE(internal::ValidateGrpcMetadata({{"trace-bin", std::string("\0\xff", 2)}}).ok());
  Status bad_key = internal::ValidateGrpcMetadata({{"x y", "v"}});
  EXPECT_EQ(bad_key.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad_key.message().find("'x y'"), std::string::npos);
  EXPECT_FALSE(internal::ValidateGrpcMetadata({{"Upper", "v"}}).ok());
  EXPECT_FALSE(internal::ValidateGrpcMetadata({{"", "v"}}).ok());
  Status bad_value = internal::ValidateGrpcMetadata({{"x-a", "line\nbreak"}});
  EXPECT_EQ(bad_value.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad_value.message().find("'x-a'"), std::string::npos);
}

TEST(GrpcTlsFilesTest, UnreadableFilesAreNamed) {
  GrpcTlsOptions tls{.enabled = true, .ca_file = "/nonexistent/ca.pem"};
  auto channel = internal::GrpcChannel("127.0.0.1:1", tls);
  EXPECT_EQ(channel.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(channel.status().message().find("ca_file '/nonexistent/ca.pem'"), std::string::npos)
      << channel.status().message();

  tls = {.enabled = true, .cert_file = "/nonexistent/c.pem", .key_file = "/nonexistent/k.pem"};
  auto gid = GenGidGrpc("127.0.0.1:1", tls);
  EXPECT_EQ(gid.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(gid.status().message().find("cert_file '/nonexistent/c.pem'"), std::string::npos)
      << gid.status().message();

  tls = {.enabled = true, .cert_file = "/c.pem"};  // no key
  EXPECT_EQ(internal::GrpcChannel("127.0.0.1:2", tls).status().code(),
            StatusCode::kInvalidArgument);
  // TLS off: the file names are not read.
  tls.enabled = false;
  EXPECT_TRUE(internal::GrpcChannel("127.0.0.1:3", tls).ok());
}

TEST(DtmRequestTest, SagaFieldsAsGoSendsThem) {
  busi::ReqGrpc req;
  req.set_amount(30);
  const std::string with_nul("a\0b\xff", 4);
  Saga saga = NewSagaGrpc("dtm:36790", "g1");
  saga.Add("b:1/busi.Busi/TransOut", "b:1/busi.Busi/TransOutRevert", req)
      .Add("http://h/api/TransIn", "http://h/api/TransInRevert", Payload::Bytes(with_nul))
      .EnableConcurrent()
      .AddBranchOrder(1, {0})
      .SetWaitResult()
      .SetTimeoutToFail(60)
      .SetRequestTimeout(7)
      .SetRetryInterval(15)
      .SetRetryLimit(3)
      .SetBranchHeaders({{"x-b", "2"}, {"x-a", "1"}});
  EXPECT_TRUE(saga.uses_grpc());
  EXPECT_EQ(saga.protocol(), "grpc");

  dtmgimp::DtmRequest r = internal::BuildDtmRequest(saga);
  EXPECT_EQ(r.gid(), "g1");
  EXPECT_EQ(r.transtype(), "saga");
  EXPECT_TRUE(r.transoptions().waitresult());
  EXPECT_EQ(r.transoptions().timeouttofail(), 60);
  EXPECT_EQ(r.transoptions().requesttimeout(), 7);
  EXPECT_EQ(r.transoptions().retryinterval(), 15);
  EXPECT_EQ(r.transoptions().retrylimit(), 3);
  ASSERT_EQ(r.transoptions().branchheaders().size(), 2);
  EXPECT_EQ(r.transoptions().branchheaders().at("x-a"), "1");
  ASSERT_EQ(r.binpayloads_size(), 2);
  EXPECT_EQ(r.binpayloads(0), req.SerializeAsString());
  EXPECT_EQ(r.binpayloads(1), with_nul);
  EXPECT_EQ(r.steps(),
            R"([{"action":"b:1/busi.Busi/TransOut","compensate":"b:1/busi.Busi/TransOutRevert"},)"
            R"({"action":"http://h/api/TransIn","compensate":"http://h/api/TransInRevert"}])");
  EXPECT_EQ(r.customeddata(), "");  // set by Submit (Go's BuildCustomOptions)
  EXPECT_EQ(r.queryprepared(), "");
  EXPECT_EQ(r.rollbackreason(), "");
  EXPECT_TRUE(r.reqextra().empty());
}

TEST(DtmRequestTest, NoStepsIsJsonNullAndUnsetOptionsAreZero) {
  Tcc tcc = NewTccGrpc("dtm:36790", "t1");
  dtmgimp::DtmRequest r = internal::BuildDtmRequest(tcc);
  EXPECT_EQ(r.steps(), "null");  // Go's json of a nil slice
  EXPECT_EQ(r.transtype(), "tcc");
  EXPECT_EQ(r.binpayloads_size(), 0);
  EXPECT_FALSE(r.transoptions().waitresult());
  EXPECT_EQ(r.transoptions().timeouttofail(), 0);
  EXPECT_TRUE(r.transoptions().branchheaders().empty());
  EXPECT_EQ(internal::StepsJson({{{"action", "a"}}}), R"([{"action":"a"}])");
}

TEST(DtmRequestTest, BranchRequestFromRegisterBranchFields) {
  const std::string bytes("x\0y", 3);
  dtmgimp::DtmBranchRequest tcc = internal::BuildBranchRequest(
      "g", "tcc", {{"branch_id", "01"}, {"data", bytes}, {"confirm", "c"}, {"cancel", "k"}});
  EXPECT_EQ(tcc.gid(), "g");
  EXPECT_EQ(tcc.transtype(), "tcc");
  EXPECT_EQ(tcc.branchid(), "01");
  EXPECT_EQ(tcc.busipayload(), bytes);
  EXPECT_EQ(tcc.op(), "");  // DTM does not read it
  ASSERT_EQ(tcc.data().size(), 2);
  EXPECT_EQ(tcc.data().at("confirm"), "c");
  EXPECT_EQ(tcc.data().at("cancel"), "k");

  dtmgimp::DtmBranchRequest xa =
      internal::BuildBranchRequest("g", "xa", {{"branch_id", "02"}, {"url", "h:1/a.B/Xa"}});
  EXPECT_EQ(xa.branchid(), "02");
  EXPECT_EQ(xa.busipayload(), "");
  ASSERT_EQ(xa.data().size(), 1);
  EXPECT_EQ(xa.data().at("url"), "h:1/a.B/Xa");
}

TEST(DtmRequestTest, OperationNames) {
  EXPECT_EQ(internal::DtmGrpcMethod("prepare"), "Prepare");
  EXPECT_EQ(internal::DtmGrpcMethod("submit"), "Submit");
  EXPECT_EQ(internal::DtmGrpcMethod("abort"), "Abort");
  EXPECT_EQ(internal::DtmGrpcMethod("registerBranch"), "");
}

TEST(PayloadGrpcTest, BytesAndProtoMessages) {
  const std::string bytes("\0\x01\xfe", 3);
  EXPECT_EQ(Payload::Bytes(bytes).Serialize(), bytes);
  EXPECT_TRUE(Payload::Bytes(bytes).is_raw());

  busi::ReqGrpc req;
  req.set_amount(30);
  req.set_transoutresult("SUCCESS");
  EXPECT_EQ(Payload::Proto(req).Serialize(), req.SerializeAsString());
  Payload implicit = req;  // a protobuf message converts implicitly
  EXPECT_EQ(implicit.Serialize(), req.SerializeAsString());
  busi::ReqGrpc back;
  ASSERT_TRUE(back.ParseFromString(implicit.Serialize()));
  EXPECT_EQ(back.amount(), 30);
  // JSON payloads are unchanged by the new constructor.
  EXPECT_EQ(Payload({{"amount", 30}}).Serialize(), R"({"amount":30})");
  EXPECT_EQ(Payload(std::string("raw")).Serialize(), "raw");
}

TEST(GrpcConfigTest, TlsAndServerValidation) {
  DtmConfig c;
  c.grpc_tls_enabled = true;
  EXPECT_EQ(ValidateDtmConfig(c).message(),
            "lynx.dtm.grpc_cert_file is required when grpc_tls_enabled is true");
  c.grpc_cert_file = "/c.pem";
  EXPECT_EQ(ValidateDtmConfig(c).message(),
            "lynx.dtm.grpc_key_file is required when grpc_tls_enabled is true");
  c.grpc_key_file = "/k.pem";
  EXPECT_TRUE(ValidateDtmConfig(c).ok());  // ca_file is optional (system roots)

  DtmConfig url;
  url.grpc_server = "http://dtm:36790";
  Status st = ValidateDtmConfig(url);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(st.message(), "lynx.dtm.grpc_server must be host:port, not a URL: 'http://dtm:36790'");
  url.grpc_server = "dtm:36790/dtmgimp.Dtm";
  EXPECT_FALSE(ValidateDtmConfig(url).ok());
  url.grpc_server = "dtm:36790";
  EXPECT_TRUE(ValidateDtmConfig(url).ok());
}

}  // namespace
}  // namespace lynx::dtm
