// GrpcBranchServer against real gRPC clients (grpc::GenericStub) on port 0: the status mapping,
// metadata and barrier, request parsing, concurrency on the worker threads, stopping, TLS, and a
// raw HTTP/2 call with DTM's "application/grpc+dtm_raw" content-type.
#include <lynx/dtm/grpc_branch_server.h>

#include <grpc/support/log.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "proto/busi.pb.h"
#include "raw_grpc_call.h"

namespace lynx::dtm {
namespace {

constexpr char kTransOut[] = "/busi.Busi/TransOut";

static_assert(kGrpcOk == grpc::StatusCode::OK);
static_assert(kGrpcInvalidArgument == grpc::StatusCode::INVALID_ARGUMENT);
static_assert(kGrpcFailedPrecondition == grpc::StatusCode::FAILED_PRECONDITION);
static_assert(kGrpcAborted == grpc::StatusCode::ABORTED);
static_assert(kGrpcUnimplemented == grpc::StatusCode::UNIMPLEMENTED);
static_assert(kGrpcInternal == grpc::StatusCode::INTERNAL);
static_assert(kGrpcUnavailable == grpc::StatusCode::UNAVAILABLE);

struct CallResult {
  grpc::Status status;
  std::string reply;
};

std::string HostPort(uint16_t port) { return "127.0.0.1:" + std::to_string(port); }

// One unary call through the generic stub, waited for (bounded by a 10 s deadline).
CallResult Call(const std::shared_ptr<grpc::Channel>& channel, const std::string& method,
                const std::string& body, const std::map<std::string, std::string>& metadata = {}) {
  grpc::GenericStub stub(channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  for (const auto& [k, v] : metadata) ctx.AddMetadata(k, v);
  grpc::Slice slice(body);
  grpc::ByteBuffer request(&slice, 1);
  grpc::ByteBuffer response;
  std::promise<grpc::Status> done;
  stub.UnaryCall(&ctx, method, grpc::StubOptions(), &request, &response,
                 [&done](grpc::Status st) { done.set_value(std::move(st)); });
  CallResult result{done.get_future().get(), ""};
  std::vector<grpc::Slice> slices;
  if (result.status.ok() && response.Dump(&slices).ok()) {
    for (const auto& s : slices) {
      result.reply.append(reinterpret_cast<const char*>(s.begin()), s.size());
    }
  }
  return result;
}

CallResult Call(uint16_t port, const std::string& method, const std::string& body,
                const std::map<std::string, std::string>& metadata = {}) {
  return Call(grpc::CreateChannel(HostPort(port), grpc::InsecureChannelCredentials()), method, body,
              metadata);
}

std::map<std::string, std::string> DtmMetadata() {
  return {{"dtm-trans_type", "saga"},
          {"dtm-gid", "gid-1"},
          {"dtm-branch_id", "01"},
          {"dtm-op", "action"},
          {"dtm-dtm", ""}};
}

TEST(GrpcCodeForTest, MapsEachResultAsDtmExpects) {
  EXPECT_EQ(GrpcCodeFor(Status::Ok()), kGrpcOk);
  EXPECT_EQ(GrpcCodeFor(Status::Failure("x")), kGrpcAborted);
  EXPECT_EQ(GrpcCodeFor(Status::Ongoing("x")), kGrpcFailedPrecondition);
  EXPECT_EQ(GrpcCodeFor(Status::InvalidArgument("x")), kGrpcInvalidArgument);
  EXPECT_EQ(GrpcCodeFor(Status::Unavailable("x")), kGrpcInternal);
  EXPECT_EQ(GrpcCodeFor(Status::UniqueConflict("DUPLICATED")), kGrpcInternal);
  EXPECT_EQ(GrpcCodeFor(Status::Internal("x")), kGrpcInternal);
}

class GrpcBranchServerTest : public ::testing::Test {
 protected:
  void StartServer(GrpcBranchServer::Options options = {}) {
    server_ = std::make_unique<GrpcBranchServer>(options);
    for (auto& [method, handler] : handlers_) server_->Handle(method, handler);
    Status st = server_->Start();
    ASSERT_TRUE(st.ok()) << st.message();
    ASSERT_NE(server_->port(), 0);
  }
  void TearDown() override {
    if (server_) server_->Stop();
  }

  std::map<std::string, GrpcBranchServer::Handler> handlers_;
  std::unique_ptr<GrpcBranchServer> server_;
};

TEST_F(GrpcBranchServerTest, OkAnswersWithTheReplyBytes) {
  handlers_[kTransOut] = [](const GrpcBranchRequest& req) -> StatusOr<std::string> {
    busi::ReqGrpc in;
    if (Status st = req.ParseBody(&in); !st.ok()) return st;
    busi::BusiReply out;
    out.set_message("moved " + std::to_string(in.amount()) + " via " + req.method);
    return out.SerializeAsString();
  };
  StartServer();
  busi::ReqGrpc req;
  req.set_amount(30);
  CallResult r = Call(server_->port(), kTransOut, req.SerializeAsString());
  ASSERT_TRUE(r.status.ok()) << r.status.error_message();
  busi::BusiReply reply;
  ASSERT_TRUE(reply.ParseFromString(r.reply));
  EXPECT_EQ(reply.message(), "moved 30 via /busi.Busi/TransOut");
}

TEST_F(GrpcBranchServerTest, EmptyReplyIsAnEmptyMessage) {
  handlers_[kTransOut] = [](const GrpcBranchRequest&) -> StatusOr<std::string> {
    return std::string();
  };
  StartServer();
  CallResult r = Call(server_->port(), kTransOut, "");
  ASSERT_TRUE(r.status.ok()) << r.status.error_message();
  EXPECT_EQ(r.reply, "");
}

TEST_F(GrpcBranchServerTest, StatusesMapToGrpcCodes) {
  handlers_["/busi.Busi/Failure"] = [](const GrpcBranchRequest&) -> StatusOr<std::string> {
    return Status::Failure("insufficient balance");
  };
  handlers_["/busi.Busi/Ongoing"] = [](const GrpcBranchRequest&) -> StatusOr<std::string> {
    return Status::Ongoing("not yet");
  };
  handlers_["/busi.Busi/Invalid"] = [](const GrpcBranchRequest&) -> StatusOr<std::string> {
    return Status::InvalidArgument("bad amount");
  };
  handlers_["/busi.Busi/Unavailable"] = [](const GrpcBranchRequest&) -> StatusOr<std::string> {
    return Status::Unavailable("database down");
  };
  handlers_["/busi.Busi/Throws"] = [](const GrpcBranchRequest&) -> StatusOr<std::string> {
    throw std::runtime_error("boom");
  };
  StartServer();
  struct Case {
    std::string method;
    grpc::StatusCode code;
    std::string message_part;
  };
  for (const Case& c : {Case{"/busi.Busi/Failure", grpc::ABORTED, "insufficient balance"},
                        Case{"/busi.Busi/Ongoing", grpc::FAILED_PRECONDITION, "not yet"},
                        Case{"/busi.Busi/Invalid", grpc::INVALID_ARGUMENT, "bad amount"},
                        Case{"/busi.Busi/Unavailable", grpc::INTERNAL, "database down"},
                        Case{"/busi.Busi/Throws", grpc::INTERNAL, "boom"},
                        Case{"/busi.Busi/Nope", grpc::UNIMPLEMENTED, "/busi.Busi/Nope"}}) {
    CallResult r = Call(server_->port(), c.method, "");
    EXPECT_EQ(r.status.error_code(), c.code) << c.method << ": " << r.status.error_message();
    EXPECT_NE(r.status.error_message().find(c.message_part), std::string::npos)
        << c.method << ": " << r.status.error_message();
  }
  // The Failure message is exactly the handler's: DTM's Go SDK reads it (an Aborted "ONGOING"
  // means ONGOING to pre-1.10 servers).
  EXPECT_EQ(Call(server_->port(), "/busi.Busi/Failure", "").status.error_message(),
            "insufficient balance");
}

TEST_F(GrpcBranchServerTest, MetadataReachesTheHandlerAndNamesTheBarrier) {
  std::promise<GrpcBranchRequest> seen;
  handlers_[kTransOut] = [&seen](const GrpcBranchRequest& req) -> StatusOr<std::string> {
    seen.set_value(req);
    auto bb = req.Barrier();
    if (!bb.ok()) return bb.status();
    return bb->ToString();
  };
  StartServer();
  auto md = DtmMetadata();
  md["x-request-id"] = "req-7";
  md["trace-bin"] = std::string("\x00\x01\xff", 3);
  CallResult r = Call(server_->port(), kTransOut, "body", md);
  ASSERT_TRUE(r.status.ok()) << r.status.error_message();
  EXPECT_EQ(r.reply, "transInfo: saga gid-1 01 action");

  GrpcBranchRequest req = seen.get_future().get();
  EXPECT_EQ(req.method, kTransOut);
  EXPECT_EQ(req.body, "body");
  EXPECT_EQ(req.metadata["dtm-gid"], "gid-1");
  EXPECT_EQ(req.metadata["dtm-dtm"], "");
  EXPECT_EQ(req.metadata["x-request-id"], "req-7");
  EXPECT_EQ(req.metadata["trace-bin"], std::string("\x00\x01\xff", 3));  // decoded bytes
  // The context carries the text metadata as headers (for pass-through), not the binary ones.
  EXPECT_EQ(req.context.Headers().at("x-request-id"), "req-7");
  EXPECT_EQ(req.context.Headers().at("dtm-gid"), "gid-1");
  EXPECT_EQ(req.context.Headers().count("trace-bin"), 0u);
  // ... and the caller's deadline (10 s in Call; grpc-timeout on the wire is coarse, rounded up).
  ASSERT_TRUE(req.context.Deadline().has_value());
  EXPECT_LE(*req.context.Remaining(), std::chrono::seconds(11));
  EXPECT_GT(*req.context.Remaining(), std::chrono::seconds(8));
}

TEST_F(GrpcBranchServerTest, MissingBarrierMetadataIsInvalidArgumentNamingTheKey) {
  handlers_[kTransOut] = [](const GrpcBranchRequest& req) -> StatusOr<std::string> {
    auto bb = req.Barrier();
    if (!bb.ok()) return bb.status();
    return std::string();
  };
  StartServer();
  auto md = DtmMetadata();
  md.erase("dtm-op");
  CallResult r = Call(server_->port(), kTransOut, "", md);
  EXPECT_EQ(r.status.error_code(), grpc::INVALID_ARGUMENT);
  EXPECT_NE(r.status.error_message().find("dtm-op"), std::string::npos) << r.status.error_message();
}

TEST_F(GrpcBranchServerTest, MalformedRequestMessageIsInvalidArgument) {
  handlers_[kTransOut] = [](const GrpcBranchRequest& req) -> StatusOr<std::string> {
    busi::ReqGrpc in;
    if (Status st = req.ParseBody(&in); !st.ok()) return st;
    return std::string();
  };
  StartServer();
  // Field 1 as a varint whose bytes never end: not a protobuf encoding.
  CallResult r = Call(server_->port(), kTransOut, std::string("\x08\xff\xff", 3));
  EXPECT_EQ(r.status.error_code(), grpc::INVALID_ARGUMENT);
  EXPECT_EQ(r.status.error_message(), "malformed request message for /busi.Busi/TransOut");
}

TEST_F(GrpcBranchServerTest, OversizedRequestIsRefused) {
  std::atomic<int> calls{0};
  handlers_[kTransOut] = [&calls](const GrpcBranchRequest&) -> StatusOr<std::string> {
    ++calls;
    return std::string();
  };
  StartServer({.max_message_bytes = 1024});
  EXPECT_EQ(Call(server_->port(), kTransOut, std::string(2048, 'x')).status.error_code(),
            grpc::RESOURCE_EXHAUSTED);
  EXPECT_TRUE(Call(server_->port(), kTransOut, std::string(512, 'x')).status.ok());
  EXPECT_EQ(calls.load(), 1);
}

// Each handler waits until all of them have started: only possible when they run at once, on
// the server's workers. The wait is bounded so that a serialising server fails instead of hanging.
TEST_F(GrpcBranchServerTest, HandlersRunConcurrentlyOnTheWorkers) {
  constexpr int kCalls = 4;
  std::mutex mu;
  std::condition_variable cv;
  int started = 0;
  handlers_[kTransOut] = [&](const GrpcBranchRequest&) -> StatusOr<std::string> {
    std::unique_lock lock(mu);
    ++started;
    cv.notify_all();
    if (!cv.wait_for(lock, std::chrono::seconds(10), [&] { return started == kCalls; })) {
      return Status::Internal("only " + std::to_string(started) + " handlers ran at once");
    }
    return std::string("done");
  };
  StartServer({.threads = kCalls});
  auto channel = grpc::CreateChannel(HostPort(server_->port()), grpc::InsecureChannelCredentials());
  std::vector<std::future<CallResult>> calls;
  for (int i = 0; i < kCalls; ++i) {
    calls.push_back(std::async(std::launch::async, [&] { return Call(channel, kTransOut, ""); }));
  }
  for (auto& c : calls) {
    CallResult r = c.get();
    EXPECT_TRUE(r.status.ok()) << r.status.error_message();
    EXPECT_EQ(r.reply, "done");
  }
}

TEST_F(GrpcBranchServerTest, StopWaitsForTheHandlerInProgress) {
  std::promise<void> handler_started;
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<bool> handler_finished{false};
  handlers_[kTransOut] = [&](const GrpcBranchRequest&) -> StatusOr<std::string> {
    handler_started.set_value();
    released.wait();
    handler_finished = true;
    return std::string("late");
  };
  StartServer();
  auto call = std::async(std::launch::async, [&] { return Call(server_->port(), kTransOut, ""); });
  handler_started.get_future().wait();
  std::thread stopper([&] {
    release.set_value();  // from the stopping thread, right before Stop
    server_->Stop();
    EXPECT_TRUE(handler_finished.load());
  });
  stopper.join();
  CallResult r = call.get();
  EXPECT_TRUE(r.status.ok()) << r.status.error_message();
  EXPECT_EQ(r.reply, "late");
}

TEST(GrpcBranchServerLifecycleTest, StopWithoutTrafficIsIdempotent) {
  GrpcBranchServer server;
  server.Stop();  // never started
  ASSERT_TRUE(server.Start().ok());
  uint16_t port = server.port();
  EXPECT_NE(port, 0);
  EXPECT_EQ(server.Target(kTransOut), "127.0.0.1:" + std::to_string(port) + kTransOut);
  EXPECT_FALSE(server.Start().ok());  // already started
  server.Stop();
  server.Stop();
  EXPECT_EQ(server.port(), port);
  // Nothing listens any more.
  EXPECT_EQ(Call(port, kTransOut, "").status.error_code(), grpc::UNAVAILABLE);
}

TEST(GrpcBranchServerLifecycleTest, PortInUseIsAnErrorNamingTheAddress) {
  GrpcBranchServer first;
  ASSERT_TRUE(first.Start().ok());
  GrpcBranchServer second({.port = first.port()});
  Status st = second.Start();
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("127.0.0.1:" + std::to_string(first.port())), std::string::npos)
      << st.message();
}

TEST(GrpcBranchServerLifecycleTest, BadOptionsAreInvalidArgument) {
  GrpcBranchServer no_threads({.threads = 0});
  EXPECT_EQ(no_threads.Start().code(), StatusCode::kInvalidArgument);

  GrpcBranchServer missing_cert({.cert_file = "/nonexistent/server.pem", .key_file = "/dev/null"});
  Status st = missing_cert.Start();
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("/nonexistent/server.pem"), std::string::npos) << st.message();

  GrpcBranchServer cert_without_key({.cert_file = "/dev/null"});
  EXPECT_EQ(cert_without_key.Start().code(), StatusCode::kInvalidArgument);
  GrpcBranchServer ca_alone({.ca_file = "/dev/null"});
  EXPECT_EQ(ca_alone.Start().code(), StatusCode::kInvalidArgument);
}

// grpc-core's log lines, to see what it made of a request's headers.
std::mutex grpc_log_mu;
std::vector<std::string> grpc_log;
void RecordGrpcLog(gpr_log_func_args* args) {
  {
    std::lock_guard lock(grpc_log_mu);
    grpc_log.emplace_back(args->message);
  }
  std::fprintf(stderr, "grpc %s:%d %s\n", args->file, args->line, args->message);
}

// DTM's Go server calls branches through a forced raw codec, so its requests carry
// "content-type: application/grpc+dtm_raw"; grpc++ cannot send that, the raw HTTP/2 client can.
// grpc-core takes any "application/grpc+<subtype>" as gRPC; other values are dropped with an
// "Error parsing metadata ... content-type" log line (1.51 still serves the call), so the test
// also checks that no such line was logged.
TEST_F(GrpcBranchServerTest, AcceptsDtmRawContentSubtype) {
  gpr_set_log_function(RecordGrpcLog);
  {
    std::lock_guard lock(grpc_log_mu);
    grpc_log.clear();
  }
  std::promise<GrpcBranchRequest> seen;
  handlers_[kTransOut] = [&seen](const GrpcBranchRequest& req) -> StatusOr<std::string> {
    seen.set_value(req);
    return std::string("raw reply");
  };
  handlers_["/busi.Busi/Failure"] = [](const GrpcBranchRequest&) -> StatusOr<std::string> {
    return Status::Failure("refused");
  };
  StartServer();
  auto r = testing::RawGrpcCall(server_->port(), kTransOut, "application/grpc+dtm_raw",
                                {{"dtm-gid", "gid-raw"}}, "raw body");
  ASSERT_EQ(r.error, "");
  EXPECT_EQ(r.headers[":status"], "200");
  EXPECT_EQ(r.headers["grpc-status"], "0");
  EXPECT_EQ(r.message, "raw reply");
  GrpcBranchRequest req = seen.get_future().get();
  EXPECT_EQ(req.body, "raw body");
  EXPECT_EQ(req.metadata["dtm-gid"], "gid-raw");
  {
    std::lock_guard lock(grpc_log_mu);
    for (const auto& line : grpc_log) {
      EXPECT_TRUE(line.find("content-type") == std::string::npos) << "grpc-core: " << line;
    }
  }

  auto failed = testing::RawGrpcCall(server_->port(), "/busi.Busi/Failure",
                                     "application/grpc+dtm_raw", {}, "");
  ASSERT_EQ(failed.error, "");
  EXPECT_EQ(failed.headers["grpc-status"], std::to_string(kGrpcAborted));
  EXPECT_EQ(failed.headers["grpc-message"], "refused");
}

}  // namespace
}  // namespace lynx::dtm
