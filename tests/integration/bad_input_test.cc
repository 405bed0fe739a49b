// Malformed and hostile requests: every one gets a JSON error (400, or 413 for an oversized body,
// 404 for an unknown route), dtmd stays up, and nothing is half-written for the gid involved.
#include <boost/json.hpp>

#include "harness.h"

namespace lynx::it {
namespace {

namespace bj = boost::json;

class BadInputTest : public IntegrationTest {
 protected:
  // The reply is `status` with a JSON body carrying a non-empty "message", and dtmd still
  // answers. When gid is given, no transaction with it exists afterwards.
  void ExpectRejected(const HttpResponse& res, int status, const std::string& what,
                      const std::string& gid = "") {
    EXPECT_EQ(res.status, status) << what << ": " << res.error << res.body;
    bj::value v = res.Json();
    const bj::value* msg = v.is_object() ? v.as_object().if_contains("message") : nullptr;
    EXPECT_TRUE(msg != nullptr && msg->is_string() && !msg->as_string().empty())
        << what << ": not a JSON error body: " << res.body;
    EXPECT_TRUE(dtm_.Ping()) << "dtmd stopped answering after " << what;
    if (!gid.empty()) {
      EXPECT_FALSE(dtm_.Exists(gid)) << what << " stored " << gid;
    }
  }

  // No transaction at all was stored.
  void ExpectNothingStored() {
    auto res = dtm_.Get("all", {{"limit", "100"}});
    ASSERT_EQ(res.status, 200) << res.body;
    bj::value v = res.Json();
    ASSERT_TRUE(v.is_object()) << res.body;
    const bj::value& ts = v.as_object().at("transactions");
    EXPECT_TRUE(ts.is_null() || ts.as_array().empty()) << res.body;
  }

  std::string TccRegistration(const std::string& gid) const {
    return bj::serialize(bj::object{{"gid", gid},
                                    {"trans_type", "tcc"},
                                    {"branch_id", "01"},
                                    {"data", BusiPayload()},
                                    {"confirm", busi_.Url("TransOutConfirm")},
                                    {"cancel", busi_.Url("TransOutRevert")}});
  }
};

TEST_F(BadInputTest, MalformedJson) {
  const std::string gid = "bad-json";
  const std::vector<std::string> bodies = {
      R"({"gid":"bad-json","trans_type":"saga","steps":[)",  // truncated
      "not json",
      "",
      "[1,2]",
      R"("bad-json")",
      R"({"gid":"bad-json",})"};
  for (const char* api : {"prepare", "submit", "abort", "registerBranch", "registerTccBranch",
                          "registerXaBranch", "forceStop", "resetNextCronTime"}) {
    for (const auto& body : bodies) {
      ExpectRejected(dtm_.Post(api, body), 400, std::string(api) + " <" + body + ">", gid);
    }
  }
  ExpectNothingStored();
}

TEST_F(BadInputTest, MissingGid) {
  auto saga = Saga("");
  ExpectRejected(Submit(saga), 400, "submit without gid");
  ExpectRejected(Prepare(saga), 400, "prepare without gid");
  ExpectRejected(dtm_.Post("submit", R"({"trans_type":"saga","steps":[],"payloads":[]})"), 400,
                 "submit with no gid key");
  ExpectRejected(dtm_.Post("abort", R"({"trans_type":"tcc"})"), 400, "abort without gid");
  ExpectRejected(dtm_.Post("registerBranch", R"({"trans_type":"tcc","branch_id":"01"})"), 400,
                 "registerBranch without gid");
  // A gid made only of characters DTM strips is empty too.
  ExpectRejected(Submit(Saga("\n;\r")), 400, "gid of stripped characters");
  ExpectNothingStored();
}

TEST_F(BadInputTest, UnknownTransType) {
  const std::string gid = TestName();
  auto saga = Saga(gid);
  saga.trans_type = "bogus";
  ExpectRejected(Submit(saga), 400, "submit bogus", gid);
  ExpectRejected(Prepare(saga), 400, "prepare bogus", gid);
  saga.trans_type = "";
  ExpectRejected(Submit(saga), 400, "submit without trans_type", gid);
  ExpectRejected(Prepare(saga), 400, "prepare without trans_type", gid);
  ExpectNothingStored();

  // registerBranch on a prepared tcc with an unknown type adds nothing.
  TransRequest tcc;
  tcc.gid = gid;
  tcc.trans_type = "tcc";
  ASSERT_EQ(Prepare(tcc).status, 200);
  bj::object reg = bj::parse(TccRegistration(gid)).as_object();
  reg["trans_type"] = "bogus";
  ExpectRejected(dtm_.Post("registerBranch", bj::serialize(reg)), 400, "registerBranch bogus");
  EXPECT_TRUE(dtm_.BranchStatuses(gid).empty());
  EXPECT_EQ(dtm_.Status(gid), kPrepared);
}

TEST_F(BadInputTest, StepsPayloadsMismatch) {
  const std::string gid = TestName();
  auto saga = Saga(gid);
  saga.payloads.pop_back();
  ExpectRejected(Submit(saga), 400, "2 steps, 1 payload", gid);
  saga.payloads.clear();
  ExpectRejected(Submit(saga), 400, "2 steps, no payload", gid);
  auto msg = Msg(gid);
  msg.payloads.clear();
  ExpectRejected(Prepare(msg), 400, "msg prepare without payload", gid);
  ExpectRejected(Submit(msg), 400, "msg submit without payload", gid);
  ExpectNothingStored();
  EXPECT_TRUE(busi_.Calls().empty());
}

TEST_F(BadInputTest, GidLength) {
  const std::string too_long(129, 'g');
  ExpectRejected(Submit(Saga(too_long)), 400, "submit 129-char gid", too_long);
  ExpectRejected(Prepare(Msg(too_long)), 400, "prepare 129-char gid", too_long);
  ExpectRejected(dtm_.Post("registerBranch", TccRegistration(too_long)), 400,
                 "registerBranch 129-char gid", too_long);
  ExpectNothingStored();
  const std::string longest(128, 'g');
  auto saga = Saga(longest);
  saga.wait_result = true;
  EXPECT_EQ(Submit(saga).status, 200) << "128 characters is allowed";
  EXPECT_EQ(dtm_.Status(longest), kSucceed);
}

TEST_F(BadInputTest, GidWithControlCharacters) {
  for (const std::string& gid : {std::string("bad\x01gid"), std::string("bad\tgid"),
                                 std::string("bad\x7fgid"), std::string("bad\x1bgid")}) {
    ExpectRejected(Submit(Saga(gid)), 400, "submit gid with a control character", gid);
    ExpectRejected(Prepare(Msg(gid)), 400, "prepare gid with a control character", gid);
    ExpectRejected(dtm_.Post("registerBranch", TccRegistration(gid)), 400,
                   "registerBranch gid with a control character", gid);
    TransRequest abort;
    abort.gid = gid;
    abort.trans_type = "tcc";
    ExpectRejected(dtm_.Post("abort", abort.Json()), 400, "abort gid with a control character");
  }
  ExpectNothingStored();
  EXPECT_TRUE(busi_.Calls().empty());
}

TEST_F(BadInputTest, GidNewlinesAndSemicolonsAreStripped) {
  // DTM's Escape: \n, \r and ; are removed from HTTP gids, the rest is kept.
  auto saga = Saga("a\nb;c\r");
  saga.wait_result = true;
  ASSERT_EQ(Submit(saga).status, 200);
  EXPECT_EQ(dtm_.Status("abc"), kSucceed);
  EXPECT_EQ(busi_.Calls("TransOut", "abc").size(), 1u);
}

TEST_F(BadInputTest, NonStringRegisterBranchValues) {
  const std::string gid = TestName();
  TransRequest tcc;
  tcc.gid = gid;
  tcc.trans_type = "tcc";
  ASSERT_EQ(Prepare(tcc).status, 200);
  const std::vector<std::pair<std::string, bj::value>> bad = {
      {"branch_id", 1},           {"data", bj::object{{"amount", 30}}},
      {"data", nullptr},          {"confirm", true},
      {"cancel", bj::array{"x"}}, {"trans_type", 3.5},
      {"gid", bj::array{gid}},    {"extra", 1}};
  for (const auto& [key, value] : bad) {
    bj::object reg = bj::parse(TccRegistration(gid)).as_object();
    reg[key] = value;
    ExpectRejected(dtm_.Post("registerBranch", bj::serialize(reg)), 400,
                   "registerBranch " + key + "=" + bj::serialize(value));
  }
  EXPECT_TRUE(dtm_.BranchStatuses(gid).empty()) << "nothing half-written";
  EXPECT_EQ(dtm_.Post("registerBranch", TccRegistration(gid)).status, 200);
  EXPECT_EQ(dtm_.BranchStatuses(gid), Statuses({kPrepared, kPrepared}));
}

TEST_F(BadInputTest, WrongFieldTypes) {
  const std::string gid = TestName();
  const std::string good = Saga(gid).Json();
  const std::vector<std::pair<std::string, bj::value>> bad = {
      {"wait_result", "yes"},
      {"timeout_to_fail", "10"},
      {"retry_interval", -1},
      {"request_timeout", 1.5},
      {"steps", "x"},
      {"steps", bj::array{1}},
      {"steps", bj::array{bj::object{{"action", 1}}}},
      {"payloads", bj::array{bj::object{}}},
      {"payloads", "x"},
      {"custom_data", "not json"},
      {"custom_data", bj::object{{"concurrent", true}}},
      {"branch_headers", bj::object{{"h", 1}}},
      {"branch_headers", "h"},
      {"gid", 12},
      {"trans_type", bj::array{}},
      {"protocol", "carrier-pigeon"}};
  for (const auto& [key, value] : bad) {
    bj::object body = bj::parse(good).as_object();
    body[key] = value;
    ExpectRejected(dtm_.Post("submit", bj::serialize(body)), 400,
                   "submit " + key + "=" + bj::serialize(value), gid);
  }
  ExpectNothingStored();
  EXPECT_TRUE(busi_.Calls().empty());
}

TEST_F(BadInputTest, UnknownRoutes) {
  for (const auto& [method, target] :
       std::vector<std::pair<std::string, std::string>>{{"GET", "/api/dtmsvr/nope"},
                                                        {"POST", "/api/dtmsvr/nope"},
                                                        {"GET", "/nope"},
                                                        {"GET", "/api/dtmsvr/submit"},
                                                        {"DELETE", "/api/dtmsvr/query"},
                                                        {"PUT", "/api/dtmsvr/prepare"},
                                                        {"DELETE", "/api/dtmsvr/topics/x"}}) {
    auto res = Http(dtm_.port(), method, target, R"({"gid":"x","trans_type":"saga"})");
    EXPECT_EQ(res.status, 404) << method << " " << target << ": " << res.body;
    EXPECT_TRUE(dtm_.Ping());
  }
  ExpectNothingStored();
}

TEST_F(BadInputTest, NotHttp) {
  std::string reply = RawExchange(dtm_.port(), "GARBAGE GARBAGE GARBAGE\r\n\r\n");
  EXPECT_EQ(reply.rfind("HTTP/1.1 400", 0), 0u) << reply;
  reply = RawExchange(dtm_.port(), std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11));
  EXPECT_TRUE(reply.empty() || reply.rfind("HTTP/1.1 400", 0) == 0) << reply;
  EXPECT_TRUE(dtm_.Ping());
}

TEST_F(BadInputTest, BadQueryParameters) {
  ExpectRejected(dtm_.Get("all", {{"limit", "abc"}}), 400, "all limit=abc");
  ExpectRejected(dtm_.Get("all", {{"limit", "0"}}), 400, "all limit=0");
  ExpectRejected(dtm_.Get("all", {{"createTimeStart", "yesterday"}}), 400, "all createTimeStart");
  ExpectRejected(dtm_.Get("resetCronTime", {{"timeout", "x"}}), 400, "resetCronTime timeout=x");
  ExpectRejected(dtm_.Get("scanKV", {{"cat", "topics"}, {"limit", "-"}}), 400, "scanKV limit");
  auto cron = Http(dtm_.port(), "POST", "/api/test/cronOnce?forward=soon");
  EXPECT_EQ(cron.status, 400) << cron.body;
  EXPECT_TRUE(dtm_.Ping());
}

TEST_F(BadInputTest, UnknownGid) {
  ExpectRejected(dtm_.Post("abort", R"({"gid":"nope","trans_type":"tcc"})"), 500, "abort");
  ExpectRejected(dtm_.Post("forceStop", R"({"gid":"nope"})"), 500, "forceStop");
  ExpectNothingStored();
}

class BodyLimitTest : public BadInputTest {
 protected:
  DtmdOptions Options() const override {
    DtmdOptions o;
    o.extra_yaml = "MaxBodyBytes: 4096\n";
    return o;
  }
};

TEST_F(BodyLimitTest, OversizedBody) {
  const std::string gid = TestName();
  auto saga = Saga(gid);
  saga.payloads[0] = BusiPayload() + std::string(5000, ' ');
  ASSERT_GT(saga.Json().size(), 4096u);
  ExpectRejected(Submit(saga), 413, "submit over MaxBodyBytes", gid);
  ExpectRejected(Prepare(saga), 413, "prepare over MaxBodyBytes", gid);
  ExpectNothingStored();
  EXPECT_TRUE(busi_.Calls().empty());

  auto small = Saga(gid);
  small.payloads[0] = BusiPayload() + std::string(2500, ' ');
  small.wait_result = true;
  ASSERT_LT(small.Json().size(), 4096u);
  EXPECT_EQ(Submit(small).status, 200);
  EXPECT_EQ(dtm_.Status(gid), kSucceed);
}

}  // namespace
}  // namespace lynx::it
