// Unit tests of the hardening pieces that sit below the network (issue 13): the edge checks
// (validate.h, custom_data.h), the Limits config keys, the store runner's containment of store
// exceptions and SQL text, the gRPC caller's metadata check and channel cache bound, and the
// whole-buffer HTTP parsers the fuzz targets drive. The attacks on the real binary are in
// tests/integration/hostile_test.cc.
#include <gtest/gtest.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include <stdexcept>

#include "common/http_client.h"
#include "common/http_server.h"
#include "server/branch_caller.h"
#include "server/config.h"
#include "server/custom_data.h"
#include "server/grpc/grpc_branch_caller.h"
#include "server/store_runner.h"
#include "server/validate.h"
#include "store/memory/memory_store.h"

namespace lynx::server {
namespace {

namespace asio = boost::asio;

TEST(ValidateTest, Utf8) {
  EXPECT_TRUE(IsValidUtf8("plain"));
  EXPECT_TRUE(IsValidUtf8("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"));
  EXPECT_FALSE(IsValidUtf8("\xff\xfe"));
  EXPECT_FALSE(IsValidUtf8("\xc3"));              // truncated
  EXPECT_FALSE(IsValidUtf8("\xc0\xaf"));          // overlong '/'
  EXPECT_FALSE(IsValidUtf8("\xed\xa0\x80"));      // surrogate
  EXPECT_FALSE(IsValidUtf8("\xf4\x90\x80\x80"));  // above U+10FFFF
}

TEST(ValidateTest, IdsAndHeaders) {
  EXPECT_TRUE(CheckGid("caf\xc3\xa9").ok());  // DTM allows any text over HTTP
  EXPECT_FALSE(CheckGid("a\x01").ok());
  EXPECT_FALSE(CheckGid("\xff").ok());
  EXPECT_FALSE(CheckGid(std::string(129, 'g')).ok());
  EXPECT_TRUE(CheckId("branch_id", "01-02").ok());
  EXPECT_FALSE(CheckId("branch_id", "0\xc3\xa9").ok());
  Limits limits;
  EXPECT_TRUE(CheckBranchHeaders({{"X-Trace", "a b"}}, false, limits).ok());
  EXPECT_TRUE(CheckBranchHeaders({{"X-Trace", "a"}}, true, limits).ok());
  EXPECT_FALSE(CheckBranchHeaders({{"bad key", "v"}}, false, limits).ok());
  EXPECT_FALSE(CheckBranchHeaders({{"x", "a\r\nb"}}, false, limits).ok());
  EXPECT_FALSE(CheckBranchHeaders({{"x!", "v"}}, true, limits).ok());  // a token, not gRPC
  EXPECT_TRUE(CheckBranchHeaders({{"x!", "v"}}, false, limits).ok());
  EXPECT_FALSE(CheckBranchHeaders({{"grpc-timeout", "1S"}}, true, limits).ok());
  limits.max_branch_header_bytes = 10;
  EXPECT_FALSE(CheckBranchHeaders({{"x", std::string(10, 'v')}}, false, limits).ok());
}

TEST(ValidateTest, OptionRanges) {
  TransOptions o;
  o.retry_interval = kMaxOptionSeconds;
  EXPECT_TRUE(CheckOptions(o).ok());
  o.retry_interval = kMaxOptionSeconds + 1;
  EXPECT_FALSE(CheckOptions(o).ok());
  o.retry_interval = 0;
  o.timeout_to_fail = -1;
  EXPECT_FALSE(CheckOptions(o).ok());
}

TEST(ValidateTest, StepsAndGrpcGid) {
  Trans t;
  t.g.gid = "g\xc3\xa9";
  t.g.trans_type = "saga";
  t.g.protocol = "http";
  EXPECT_TRUE(CheckTrans(t, Limits{}).ok());
  t.g.protocol = "grpc";
  EXPECT_FALSE(CheckTrans(t, Limits{}).ok());
  t.g.gid = "g";
  Limits small;
  small.max_branches = 4;
  t.steps.resize(3);  // 6 saga rows
  EXPECT_FALSE(CheckTrans(t, small).ok());
  t.steps.resize(2);
  EXPECT_TRUE(CheckTrans(t, small).ok());
  t.steps[0]["action"] = "http://x/a b";
  EXPECT_FALSE(CheckTrans(t, small).ok());
}

TEST(CustomDataTest, SagaOrders) {
  auto ok = ParseSagaCustom(R"({"concurrent":true,"orders":{"1":[0],"2":[0,1]}})", 3);
  ASSERT_TRUE(ok.ok()) << ok.status().message();
  EXPECT_TRUE(ok->concurrent);
  EXPECT_EQ(ok->orders.at(2), (std::vector<int>{0, 1}));
  EXPECT_EQ(ok->corders.at(0), (std::vector<int>{1, 2}));
  for (const char* bad :
       {R"({"orders":{"1":[18446744073709551615]}})", R"({"orders":{"3":[0]}})",
        R"({"orders":{"-1":[0]}})", R"({"orders":{"1":[1.5]}})", R"({"orders":{"x":[0]}})",
        R"({"orders":[1]})", R"({"concurrent":1})", "[]", "{"}) {
    EXPECT_FALSE(ParseSagaCustom(bad, 3).ok()) << bad;
  }
  EXPECT_TRUE(ParseSagaCustom("", 0).ok());
}

TEST(CustomDataTest, MsgDelay) {
  EXPECT_EQ(*ParseMsgDelay(R"({"Delay":5})"), 5);
  EXPECT_EQ(*ParseMsgDelay(R"({"other":1})"), 0);
  EXPECT_EQ(*ParseMsgDelay(""), 0);
  for (const char* bad : {R"({"delay":18446744073709551615})", R"({"delay":-1})",
                          R"({"delay":"5"})", R"({"delay":2147483648})"}) {
    EXPECT_FALSE(ParseMsgDelay(bad).ok()) << bad;
  }
}

TEST(LimitsConfigTest, KeysAndBounds) {
  ServerConfig c;
  ASSERT_TRUE(LoadConfigText("Limits:\n  MaxBranches: 10\n  MaxConnsPerTarget: 3\n", &c).ok());
  EXPECT_EQ(c.limits.max_branches, 10);
  EXPECT_EQ(c.limits.max_conns_per_target, 3);
  ServerConfig d;
  auto st = LoadConfigText("Limits:\n  MaxPageSize: 0\n", &d);
  EXPECT_NE(st.message().find("Limits.MaxPageSize"), std::string::npos) << st.message();
  ServerConfig e;
  st = LoadConfigText("Limits:\n  MaxHttpHeaderBytes: 70000\n", &e);
  EXPECT_NE(st.message().find("MaxHttpHeaderBytes"), std::string::npos) << st.message();
  ServerConfig f;  // hostile nesting is a clear error, not a crash
  st = LoadConfigText(std::string(200, '[') + std::string(200, ']'), &f);
  EXPECT_FALSE(st.ok());
}

// A store whose reads fail with driver text, or throw.
class BrokenStore : public store::MemoryStore {
 public:
  explicit BrokenStore(bool blocking) : blocking_(blocking) {}
  bool IsBlocking() const override { return blocking_; }
  StatusOr<std::optional<store::TransGlobal>> FindGlobal(const std::string& gid) override {
    if (gid == "throw") throw std::runtime_error("driver exploded");
    return Status::Internal("SELECT * FROM dtm.trans_global WHERE gid=$1: relation missing");
  }

 private:
  bool blocking_;
};

TEST(StoreRunnerTest, StoreErrorsAndExceptionsReachTheCallerWithoutSqlText) {
  for (bool blocking : {false, true}) {
    BrokenStore store(blocking);
    StoreRunner runner(store, 2);
    asio::io_context io;
    auto call = [&](std::string gid) {
      auto f = asio::co_spawn(
          io,
          [&runner, gid]() -> asio::awaitable<Status> {
            // Captures by reference only: GCC 12 destroys an owning lambda temporary of a
            // co_await expression twice (see grpc_branch_caller.cc).
            const std::string* g = &gid;
            auto r = co_await runner.Run([g](store::Store& s) { return s.FindGlobal(*g); });
            co_return r.status();
          },
          asio::use_future);
      io.restart();
      io.run();
      return f.get();
    };
    Status failed = call("g");
    EXPECT_EQ(failed.code(), StatusCode::kInternal);
    EXPECT_EQ(failed.message().find("SELECT"), std::string::npos) << failed.message();
    Status thrown = call("throw");
    EXPECT_EQ(thrown.code(), StatusCode::kInternal) << thrown.message();
    runner.Stop();
  }
}

TEST(GrpcBranchCallerTest, RefusesMetadataBeforeTheCallAndBoundsItsChannels) {
  EXPECT_TRUE(IsValidGrpcMetadata("x-trace", "abc 1"));
  EXPECT_FALSE(IsValidGrpcMetadata("X-Trace", "a"));
  EXPECT_FALSE(IsValidGrpcMetadata(":path", "a"));
  EXPECT_FALSE(IsValidGrpcMetadata("grpc-timeout", "1S"));
  EXPECT_FALSE(IsValidGrpcMetadata("x", "caf\xc3\xa9"));
  EXPECT_FALSE(IsValidGrpcMetadata("x-bin", "a"));

  GrpcChannelOptions options;
  options.max_channels = 3;
  GrpcBranchCaller caller(options);
  asio::io_context io;
  auto call = [&](const std::string& url, const std::string& gid) {
    BranchCall c;
    c.url = url;
    c.gid = gid;
    c.trans_type = "saga";
    c.branch_id = "01";
    c.op = "action";
    c.timeout_ms = 50;
    auto f = asio::co_spawn(io, caller.Call(c), asio::use_future);
    io.restart();
    io.run();
    return f.get();
  };
  // Refused before anything reaches gRPC (which would abort the process).
  Status bad = call("127.0.0.1:1/a.B/C", "g\xc3\xa9");
  EXPECT_EQ(bad.code(), StatusCode::kInvalidArgument) << bad.message();
  EXPECT_EQ(caller.CachedChannels(), 0u);
  for (int port = 1; port <= 8; ++port) {
    Status st = call("127.0.0.1:" + std::to_string(port) + "/a.B/C", "g");
    EXPECT_FALSE(st.ok());
    EXPECT_LE(caller.CachedChannels(), 3u);
  }
  EXPECT_EQ(caller.CachedChannels(), 3u);
}

TEST(HttpParseTest, RequestBytes) {
  http::ServerOptions o;
  o.max_body_bytes = 10;
  auto ok = http::ParseRequestBytes(
      "POST /p?a=%20b HTTP/1.1\r\nHost: x\r\nX-A: 1\r\nContent-Length: 2\r\n\r\n{}", o);
  ASSERT_TRUE(ok.ok()) << ok.status().message();
  EXPECT_EQ(ok->query.at("a"), " b");
  EXPECT_EQ(ok->headers.at("x-a"), "1");
  EXPECT_EQ(ok->body, "{}");
  EXPECT_FALSE(
      http::ParseRequestBytes("POST /p HTTP/1.1\r\nContent-Length: 11\r\n\r\n01234567890", o).ok());
  EXPECT_FALSE(
      http::ParseRequestBytes("POST /p HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", o)
          .ok());
  o.max_header_bytes = 1024;
  EXPECT_FALSE(http::ParseRequestBytes("POST /p HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n"
                                       "X: " +
                                           std::string(100000, 'x') + "\r\n\r\n",
                                       o)
                   .ok());
}

TEST(HttpParseTest, ReplyBytesSkipInterimReplies) {
  auto r = http::ParseReplyBytes(
      "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 409 X\r\nContent-Length: 7\r\n\r\nFAILURE", 100);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->status, 409);
  EXPECT_EQ(r->body, "FAILURE");
  EXPECT_FALSE(http::ParseReplyBytes("HTTP/1.1 200 OK\r\nContent-Length: 200\r\n\r\n", 100).ok());
  EXPECT_FALSE(http::ParseReplyBytes("garbage\r\n\r\n", 100).ok());
}

}  // namespace
}  // namespace lynx::server
