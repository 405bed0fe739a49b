// DTM's JSON-RPC (dtm-protocol.md §2.13, §4.3; checklist §13.3-13.4 "JSON-RPC"): the endpoint
// POST /api/json-rpc on dtmd's HTTP port, and branches of protocol "json-rpc" (busi_server's
// /api/busi/json-rpc?method=<Route>, recorded as "jrpc:<Route>").
#include <boost/json.hpp>

#include "harness.h"

namespace lynx::it {
namespace {

namespace bj = boost::json;

class JsonRpcTest : public IntegrationTest {
 protected:
  // One JSON-RPC request; the parsed reply (HTTP status asserted 200).
  bj::object Rpc(const std::string& body) {
    auto res = Http(dtm_.port(), "POST", "/api/json-rpc", body, dtm_.AuthHeaders());
    EXPECT_EQ(res.status, 200) << res.body;
    bj::value v = res.Json();
    EXPECT_TRUE(v.is_object()) << res.body;
    return v.is_object() ? v.get_object() : bj::object{};
  }
  bj::object Call(const std::string& method, const bj::value& params) {
    bj::object req{{"jsonrpc", "2.0"}, {"id", "req-1"}, {"method", method}};
    req["params"] = params;
    return Rpc(bj::serialize(req));
  }
  static int64_t ErrorCode(const bj::object& reply) {
    const bj::value* e = reply.if_contains("error");
    if (e == nullptr || !e->is_object()) return 0;
    return e->get_object().at("code").to_number<int64_t>();
  }
  std::string Jrpc(const std::string& route) const {
    return busi_.Url("json-rpc") + "?method=" + route;
  }
  // A json-rpc msg (or saga) request as params.
  bj::object Trans(const std::string& gid, const std::string& type,
                   const std::vector<std::pair<std::string, std::string>>& steps) const {
    bj::array a, payloads;
    for (const auto& [action, compensate] : steps) {
      bj::object s{{"action", action}};
      if (!compensate.empty()) s["compensate"] = compensate;
      a.push_back(std::move(s));
      payloads.push_back(bj::string(R"({"amount":30})"));
    }
    bj::object o{{"gid", gid}, {"trans_type", type}, {"protocol", "json-rpc"}};
    o["steps"] = std::move(a);
    o["payloads"] = std::move(payloads);
    return o;
  }
};

TEST_F(JsonRpcTest, NewGidAndMalformedRequests) {
  bj::object gid = Call("newGid", nullptr);
  EXPECT_EQ(gid.at("id"), "req-1");
  EXPECT_TRUE(gid.at("error").is_null());
  EXPECT_EQ(gid.at("jsonrpc"), "2.0");
  ASSERT_TRUE(gid.at("result").is_object());
  EXPECT_EQ(gid.at("result").at("gid").as_string().size(), 22u);

  EXPECT_EQ(ErrorCode(Rpc("{not json")), -32700);
  EXPECT_EQ(ErrorCode(Rpc(R"({"jsonrpc":"2.0","id":7,"method":"newGid"})")), -32700);
  EXPECT_EQ(ErrorCode(Rpc(R"({"jsonrpc":"2.0","id":"","method":"newGid"})")), -32600);
  EXPECT_EQ(ErrorCode(Rpc(R"({"jsonrpc":"1.0","id":"a","method":"newGid"})")), -32600);
  EXPECT_EQ(ErrorCode(Rpc(R"({"jsonrpc":"2.0","id":"a","method":"nope"})")), -32601);
  bj::object unknown_type =
      Call("registerBranch",
           bj::object{{"gid", TestName()}, {"branch_id", "01"}, {"trans_type", "nope"}});
  EXPECT_EQ(ErrorCode(unknown_type), -32603) << bj::serialize(unknown_type);
  EXPECT_EQ(ErrorCode(Call("submit", "not an object")), -32603);
  EXPECT_TRUE(dtm_.Ping());
}

TEST_F(JsonRpcTest, MsgOverJsonRpc) {
  const std::string gid = TestName();
  bj::object t = Trans(gid, "msg", {{Jrpc("TransOut"), ""}, {Jrpc("TransIn"), ""}});
  t["query_prepared"] = Jrpc("QueryPrepared");
  bj::object prepared = Call("prepare", t);
  EXPECT_TRUE(prepared.at("error").is_null()) << bj::serialize(prepared);
  EXPECT_EQ(dtm_.Status(gid), kPrepared);
  bj::object submitted = Call("submit", t);
  EXPECT_TRUE(submitted.at("error").is_null()) << bj::serialize(submitted);
  ASSERT_TRUE(dtm_.WaitStatus(gid, kSucceed));
  auto calls = busi_.Calls("jrpc:TransOut", gid);
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].Query("op"), "action");
  EXPECT_EQ(calls[0].Query("branch_id"), "01");
  EXPECT_EQ(calls[0].Query("trans_type"), "msg");
  bj::value params = bj::parse(calls[0].body);
  EXPECT_EQ(params.at("amount"), 30);
  EXPECT_EQ(busi_.Calls("jrpc:TransIn", gid).size(), 1u);
  // A second submit of the finished msg is a FAILURE.
  EXPECT_EQ(ErrorCode(Call("submit", t)), -32901);
}

TEST_F(JsonRpcTest, BranchErrorCodesAreComparedAsNumbers) {
  // ERROR (-32603) and ONGOING (-32902) are retried; FAILURE (-32901, a message without the
  // word) rolls the saga back.
  busi_.Script("jrpc:TransIn", {"ERROR", "ONGOING", "FAILURE"});
  const std::string gid = TestName();
  bj::object t =
      Trans(gid, "saga",
            {{Jrpc("TransOut"), Jrpc("TransOutRevert")}, {Jrpc("TransIn"), Jrpc("TransInRevert")}});
  EXPECT_TRUE(Call("submit", t).at("error").is_null());
  ASSERT_TRUE(dtm_.WaitPasses(gid, 1));
  EXPECT_EQ(dtm_.Status(gid), kSubmitted);
  dtm_.CronOnce(3600);  // ONGOING
  EXPECT_EQ(dtm_.Status(gid), kSubmitted);
  dtm_.CronOnce(7200);  // FAILURE -> compensation
  EXPECT_EQ(dtm_.Status(gid), kFailed);
  EXPECT_EQ(busi_.Calls("jrpc:TransInRevert", gid).size(), 1u);
  EXPECT_EQ(busi_.Calls("jrpc:TransOutRevert", gid).size(), 1u);
  EXPECT_NE(dtm_.RollbackReason(gid).find("-32901"), std::string::npos) << dtm_.RollbackReason(gid);
}

TEST_F(JsonRpcTest, TccOverJsonRpc) {
  const std::string gid = TestName();
  bj::object t{{"gid", gid}, {"trans_type", "tcc"}, {"protocol", "json-rpc"}};
  ASSERT_TRUE(Call("prepare", t).at("error").is_null());
  for (const char* id : {"01", "02"}) {
    bj::object reg{{"gid", gid},
                   {"branch_id", id},
                   {"trans_type", "tcc"},
                   {"data", R"({"amount":30})"},
                   {"confirm", Jrpc("TransInConfirm")},
                   {"cancel", Jrpc("TransInRevert")}};
    bj::object r = Call("registerBranch", reg);
    EXPECT_TRUE(r.at("error").is_null()) << bj::serialize(r);
  }
  ASSERT_TRUE(Call("submit", t).at("error").is_null());
  ASSERT_TRUE(dtm_.WaitStatus(gid, kSucceed));
  auto confirms = busi_.Calls("jrpc:TransInConfirm", gid);
  ASSERT_EQ(confirms.size(), 2u);
  EXPECT_EQ(confirms[0].Query("op"), "confirm");
  EXPECT_EQ(bj::parse(confirms[0].body).at("amount"), 30);
  EXPECT_TRUE(busi_.Calls("jrpc:TransInRevert", gid).empty());
}

TEST_F(JsonRpcTest, NonObjectPayloadIsABranchErrorNotACrash) {
  const std::string gid = TestName();
  bj::object t = Trans(gid, "msg", {{Jrpc("TransOut"), ""}});
  t["payloads"] = bj::array{"[1,2,3]"};
  EXPECT_TRUE(Call("submit", t).at("error").is_null());
  ASSERT_TRUE(dtm_.WaitPasses(gid, 1));
  EXPECT_EQ(dtm_.Status(gid), kSubmitted);
  EXPECT_TRUE(busi_.Calls("jrpc:TransOut", gid).empty());
  EXPECT_TRUE(dtm_.Ping());
}

}  // namespace
}  // namespace lynx::it
