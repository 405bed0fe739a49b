// API and admin routes (dtm-protocol.md §13.1): version, newGid, query, all, scanKV, queryKV,
// resetCronTime, forceStop, resetNextCronTime, metrics.
#include <boost/json.hpp>

#include <chrono>
#include <set>

#include "common/time_format.h"
#include "harness.h"

namespace lynx::it {
namespace {

namespace bj = boost::json;

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The "transactions" array of an /all reply (null counts as empty, as in DTM).
std::vector<bj::object> Transactions(const HttpResponse& res) {
  std::vector<bj::object> out;
  bj::value v = res.Json();
  if (!v.is_object()) return out;
  const bj::value* ts = v.get_object().if_contains("transactions");
  if (ts == nullptr || !ts->is_array()) return out;
  for (const auto& t : ts->get_array()) out.push_back(t.get_object());
  return out;
}

std::string NextPosition(const HttpResponse& res) {
  bj::value v = res.Json();
  if (!v.is_object() || !v.get_object().contains("next_position")) return "<missing>";
  return std::string(v.get_object().at("next_position").as_string());
}

std::string Base64(const std::string& in) {
  static const char* tbl = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  for (size_t i = 0; i < in.size(); i += 3) {
    uint32_t v = static_cast<uint8_t>(in[i]) << 16;
    if (i + 1 < in.size()) v |= static_cast<uint8_t>(in[i + 1]) << 8;
    if (i + 2 < in.size()) v |= static_cast<uint8_t>(in[i + 2]);
    out += tbl[v >> 18];
    out += tbl[(v >> 12) & 63];
    out += i + 1 < in.size() ? tbl[(v >> 6) & 63] : '=';
    out += i + 2 < in.size() ? tbl[v & 63] : '=';
  }
  return out;
}

std::string Str(const bj::object& o, const char* key) {
  const bj::value* v = o.if_contains(key);
  return v != nullptr && v->is_string() ? std::string(v->get_string()) : "";
}

class ApiTest : public IntegrationTest {
 protected:
  // Submits a msg and awaits its first pass (DTM's genMsg + waitTransProcessed).
  void SubmitMsgAndWait(const std::string& gid) {
    auto res = Submit(Msg(gid));
    ASSERT_EQ(res.status, 200) << res.body;
    ASSERT_TRUE(dtm_.WaitPasses(gid, 1));
    ASSERT_EQ(dtm_.Status(gid), kSucceed);
  }
};

TEST_F(ApiTest, Version) {
  auto res = dtm_.Get("version");
  EXPECT_EQ(res.status, 200);
  const bj::value v = res.Json();
  ASSERT_TRUE(v.is_object()) << res.body;
  EXPECT_FALSE(Str(v.as_object(), "version").empty()) << res.body;
}

TEST_F(ApiTest, NewGid) {
  auto a = dtm_.Get("newGid");
  auto b = dtm_.Get("newGid");
  ASSERT_EQ(a.status, 200);
  ASSERT_EQ(b.status, 200);
  const bj::value va = a.Json();
  ASSERT_TRUE(va.is_object()) << a.body;
  const bj::object& ja = va.as_object();
  EXPECT_EQ(Str(ja, "dtm_result"), "SUCCESS");
  EXPECT_EQ(Str(ja, "gid").size(), 22u) << a.body;  // shortuuid
  EXPECT_NE(Str(ja, "gid"), Str(b.Json().as_object(), "gid"));
}

TEST_F(ApiTest, PingAndMetrics) {
  EXPECT_TRUE(dtm_.Ping());
  auto res = Http(dtm_.port(), "GET", "/api/metrics");
  EXPECT_EQ(res.status, 200);
}

TEST_F(ApiTest, QueryMsgWithTwoSubscribers) {
  const std::string gid = TestName();
  SubmitMsgAndWait(gid);
  bj::value q = dtm_.Query(gid);
  ASSERT_TRUE(q.is_object());
  ASSERT_TRUE(q.as_object().at("transaction").is_object());
  const bj::array& branches = q.as_object().at("branches").as_array();
  ASSERT_EQ(branches.size(), 2u);
  EXPECT_EQ(Str(branches[0].as_object(), "branch_id"), "01-01");
  EXPECT_EQ(Str(branches[1].as_object(), "branch_id"), "01-02");
  EXPECT_EQ(Str(branches[0].as_object(), "url"), busi_.Url("TransOut"));
  EXPECT_EQ(Str(branches[1].as_object(), "url"), busi_.Url("TransIn"));
  // Branch bodies are shown base64-encoded (Go's []byte), the global as DTM stores it.
  EXPECT_EQ(Str(branches[0].as_object(), "bin_data"), Base64(BusiPayload()));
  EXPECT_EQ(Str(branches[0].as_object(), "op"), "action");
  EXPECT_EQ(Str(branches[0].as_object(), "status"), "succeed");
  const bj::object& g = q.as_object().at("transaction").as_object();
  EXPECT_EQ(Str(g, "gid"), gid);
  EXPECT_EQ(Str(g, "trans_type"), "msg");
  EXPECT_EQ(Str(g, "status"), "succeed");
  EXPECT_EQ(Str(g, "protocol"), "http");
  EXPECT_EQ(Str(g, "query_prepared"), busi_.Url("QueryPrepared"));
  EXPECT_EQ(Str(g, "options"), R"({"concurrent":false})");
  EXPECT_FALSE(Str(g, "finish_time").empty());
  EXPECT_TRUE(g.contains("concurrent"));
  EXPECT_TRUE(g.at("id").is_number());
}

TEST_F(ApiTest, QueryEmptyAndUnknownGid) {
  auto empty = dtm_.Get("query", {{"gid", ""}});
  EXPECT_EQ(empty.status, 500) << empty.body;
  auto unknown = dtm_.Get("query", {{"gid", "1"}});
  ASSERT_EQ(unknown.status, 200);
  bj::value v = unknown.Json();
  ASSERT_TRUE(v.is_object()) << unknown.body;
  EXPECT_TRUE(v.as_object().at("transaction").is_null());
  EXPECT_TRUE(v.as_object().at("branches").as_array().empty());
}

TEST_F(ApiTest, AllPagingAndGidFilter) {
  const std::string base = TestName();
  for (int i = 0; i < 3; ++i) SubmitMsgAndWait(base + std::to_string(i));

  auto first = dtm_.Get("all", {{"limit", "1"}});
  ASSERT_EQ(first.status, 200);
  ASSERT_EQ(Transactions(first).size(), 1u) << first.body;
  const std::string pos1 = NextPosition(first);
  EXPECT_NE(pos1, "");

  auto by_gid = dtm_.Get("all", {{"gid", base + "1"}});
  ASSERT_EQ(Transactions(by_gid).size(), 1u) << by_gid.body;
  EXPECT_EQ(Str(Transactions(by_gid)[0], "gid"), base + "1");
  EXPECT_FALSE(dtm_.Exists(base + "-unknown"));
  auto unknown = dtm_.Get("all", {{"gid", base + "-unknown"}});
  EXPECT_TRUE(unknown.Json().as_object().at("transactions").is_null()) << unknown.body;

  auto second = dtm_.Get("all", {{"limit", "1"}, {"position", pos1}});
  ASSERT_EQ(Transactions(second).size(), 1u) << second.body;
  const std::string pos2 = NextPosition(second);
  EXPECT_NE(pos2, "");
  EXPECT_NE(pos2, pos1);

  auto rest = dtm_.Get("all", {{"limit", "1000"}, {"position", pos1}});
  EXPECT_EQ(NextPosition(rest), "");
  EXPECT_EQ(Transactions(rest).size(), 2u) << rest.body;

  // Paging with limit=1 visits every transaction once, newest first, and terminates.
  std::vector<std::string> seen;
  std::string pos;
  for (int page = 0; page < 10; ++page) {
    Params params = {{"limit", "1"}};
    if (!pos.empty()) params.emplace_back("position", pos);
    auto res = dtm_.Get("all", params);
    for (const auto& t : Transactions(res)) seen.push_back(Str(t, "gid"));
    pos = NextPosition(res);
    if (pos.empty()) break;
  }
  EXPECT_EQ(pos, "");
  EXPECT_EQ(seen, (std::vector<std::string>{base + "2", base + "1", base + "0"}));
}

TEST_F(ApiTest, AllFilters) {
  const std::string base = TestName();
  const int64_t start = NowMs();
  for (int i = 0; i < 3; ++i) SubmitMsgAndWait(base + std::to_string(i));
  // Rows the filters must leave out: a succeeded saga and a failed msg.
  auto saga = Saga(base + "-saga");
  saga.wait_result = true;
  ASSERT_EQ(Submit(saga).status, 200);
  auto failed_msg = Msg(base + "-failed");
  ASSERT_EQ(Prepare(failed_msg).status, 200);
  ASSERT_EQ(Abort(failed_msg).status, 200);
  ASSERT_EQ(dtm_.Status(base + "-failed"), kFailed);
  const int64_t end = NowMs();

  auto res = dtm_.Get("all", {{"limit", "10"},
                              {"status", "succeed"},
                              {"transType", "msg"},
                              {"createTimeStart", std::to_string(start - 60000)},
                              {"createTimeEnd", std::to_string(end + 60000)}});
  ASSERT_EQ(res.status, 200) << res.body;
  auto rows = Transactions(res);
  EXPECT_EQ(rows.size(), 3u) << res.body;
  for (const auto& t : rows) {
    EXPECT_EQ(Str(t, "trans_type"), "msg");
    EXPECT_EQ(Str(t, "status"), "succeed");
  }
  EXPECT_EQ(NextPosition(res), "");

  auto past = dtm_.Get("all", {{"limit", "10"},
                               {"status", "succeed"},
                               {"transType", "msg"},
                               {"createTimeStart", std::to_string(start - 10 * 60000)},
                               {"createTimeEnd", std::to_string(end - 5 * 60000)}});
  ASSERT_EQ(past.status, 200) << past.body;
  EXPECT_TRUE(Transactions(past).empty()) << past.body;
  EXPECT_EQ(NextPosition(past), "");
}

TEST_F(ApiTest, ScanKvPaging) {
  for (int i = 0; i < 3; ++i) {
    auto res = dtm_.Get("subscribe", {{"topic", "test_topic" + std::to_string(i)},
                                      {"url", "http://dtm/test1"},
                                      {"remark", "for test"}});
    ASSERT_EQ(res.status, 200) << res.body;
  }
  auto first = dtm_.Get("scanKV", {{"cat", "topics"}, {"limit", "1"}});
  ASSERT_EQ(first.status, 200);
  EXPECT_EQ(first.Json().as_object().at("kv").as_array().size(), 1u) << first.body;
  const std::string pos1 = NextPosition(first);
  EXPECT_NE(pos1, "");

  auto second = dtm_.Get("scanKV", {{"cat", "topics"}, {"limit", "1"}, {"position", pos1}});
  ASSERT_EQ(second.status, 200);
  EXPECT_EQ(second.Json().as_object().at("kv").as_array().size(), 1u) << second.body;
  const std::string pos2 = NextPosition(second);
  EXPECT_NE(pos2, "");
  EXPECT_NE(pos2, pos1);

  auto rest = dtm_.Get("scanKV", {{"cat", "topics"}, {"limit", "1000"}, {"position", pos1}});
  ASSERT_EQ(rest.status, 200);
  EXPECT_EQ(NextPosition(rest), "");
  EXPECT_EQ(rest.Json().as_object().at("kv").as_array().size(), 2u) << rest.body;
}

TEST_F(ApiTest, QueryKv) {
  const std::string topic = "test_topic_TestAPIQueryKV";
  ASSERT_EQ(dtm_.Get("subscribe", {{"topic", topic}, {"url", "http://dtm/test1"}, {"remark", "r"}})
                .status,
            200);
  auto found = dtm_.Get("queryKV", {{"cat", "topics"}, {"key", topic}});
  ASSERT_EQ(found.status, 200);
  const bj::value fv = found.Json();
  ASSERT_TRUE(fv.is_object()) << found.body;
  const bj::array& kv = fv.as_object().at("kv").as_array();
  ASSERT_EQ(kv.size(), 1u) << found.body;
  EXPECT_EQ(Str(kv[0].as_object(), "k"), topic);
  EXPECT_EQ(Str(kv[0].as_object(), "cat"), "topics");

  auto missing = dtm_.Get("queryKV", {{"cat", "topics"}, {"key", "non_existent_topic"}});
  ASSERT_EQ(missing.status, 200);
  ASSERT_TRUE(missing.Json().as_object().at("kv").is_array()) << missing.body;
  EXPECT_TRUE(missing.Json().as_object().at("kv").as_array().empty());
}

TEST_F(ApiTest, ResetCronTime) {
  // Unfinished transactions whose next cron time lies 110 s (10 of them) and 90 s (1) ahead: a
  // prepared tcc is scheduled at create time + its retry_interval.
  const std::string base = TestName();
  std::set<std::string> far;
  for (int i = 0; i < 11; ++i) {
    TransRequest r;
    r.gid = base + std::to_string(i);
    r.trans_type = "tcc";
    r.retry_interval = i < 10 ? 110 : 90;
    ASSERT_EQ(Prepare(r).status, 200);
    if (i < 10) far.insert(r.gid);
  }
  auto reset = [&](int timeout, int limit) {
    auto res = dtm_.Get("resetCronTime",
                        {{"timeout", std::to_string(timeout)}, {"limit", std::to_string(limit)}});
    EXPECT_EQ(res.status, 200) << res.body;
    bj::value v = res.Json();
    EXPECT_TRUE(v.is_object() && v.as_object().at("has_remaining").is_bool()) << res.body;
    return std::make_pair(v.as_object().at("succeed_count").to_number<int64_t>(),
                          v.as_object().at("has_remaining").as_bool());
  };
  EXPECT_EQ(dtm_.CronOnce(2), "");  // nothing due yet

  EXPECT_EQ(reset(100, 9), std::make_pair(int64_t{9}, true));
  std::set<std::string> locked;
  for (int i = 0; i < 9; ++i) {
    std::string gid = dtm_.CronOnce(2);
    EXPECT_TRUE(far.count(gid)) << "unexpected gid '" << gid << "'";
    locked.insert(gid);
  }
  EXPECT_EQ(locked.size(), 9u);
  EXPECT_EQ(dtm_.CronOnce(2), "");

  EXPECT_EQ(reset(100, 10), std::make_pair(int64_t{1}, false));
  std::string last_far = dtm_.CronOnce(2);
  EXPECT_TRUE(far.count(last_far) && !locked.count(last_far)) << last_far;
  EXPECT_EQ(dtm_.CronOnce(2), "");

  EXPECT_EQ(reset(88, 10), std::make_pair(int64_t{1}, false));
  EXPECT_EQ(dtm_.CronOnce(2), base + "10");
  EXPECT_EQ(dtm_.CronOnce(2), "");
  EXPECT_EQ(reset(88, 10), std::make_pair(int64_t{0}, false));
}

TEST_F(ApiTest, ForceStopOngoingSaga) {
  const std::string gid = TestName();
  busi_.Script("TransOut", {"ONGOING"});
  ASSERT_EQ(Submit(Saga(gid)).status, 200);
  ASSERT_TRUE(dtm_.WaitPasses(gid, 1));
  ASSERT_EQ(dtm_.Status(gid), kSubmitted);

  auto res = dtm_.Post("forceStop", R"({"gid":")" + gid + R"("})");
  EXPECT_EQ(res.status, 200) << res.body;
  EXPECT_EQ(dtm_.Status(gid), kFailed);
  auto again = dtm_.Post("forceStop", R"({"gid":")" + gid + R"("})");
  EXPECT_EQ(again.status, 409) << again.body;
  // A stopped transaction is never picked up again.
  EXPECT_EQ(dtm_.CronOnce(3600), "");
  EXPECT_EQ(busi_.Calls("TransOut", gid).size(), 1u);
}

TEST_F(ApiTest, ForceStopSucceededSaga) {
  const std::string gid = TestName();
  ASSERT_EQ(Submit(Saga(gid)).status, 200);
  ASSERT_TRUE(dtm_.WaitPasses(gid, 1));
  EXPECT_EQ(dtm_.BranchStatuses(gid), Statuses({kPrepared, kSucceed, kPrepared, kSucceed}));
  EXPECT_EQ(dtm_.Status(gid), kSucceed);
  auto res = dtm_.Post("forceStop", R"({"gid":")" + gid + R"("})");
  EXPECT_EQ(res.status, 409) << res.body;
  EXPECT_EQ(dtm_.Status(gid), kSucceed);
}

TEST_F(ApiTest, ResetNextCronTime) {
  const std::string gid = TestName();
  ASSERT_EQ(Submit(Saga(gid)).status, 200);
  ASSERT_TRUE(dtm_.WaitPasses(gid, 1));
  ASSERT_EQ(dtm_.Status(gid), kSucceed);
  auto next_cron_time = [&]() -> std::string {
    bj::value q = dtm_.Query(gid);
    return Str(q.as_object().at("transaction").as_object(), "next_cron_time");
  };
  const std::string before = next_cron_time();
  ASSERT_TRUE(ParseRfc3339(before).has_value()) << before;

  auto res = dtm_.Post("resetNextCronTime", R"({"gid":")" + gid + R"("})");
  EXPECT_EQ(res.status, 200) << res.body;
  const std::string after = next_cron_time();
  auto parsed = ParseRfc3339(after);
  ASSERT_TRUE(parsed.has_value()) << after;
  EXPECT_LT(*parsed, NowMs() + 3000);
  EXPECT_NE(after, before);

  auto missing = dtm_.Post("resetNextCronTime", R"({"gid":"no-such-gid"})");
  EXPECT_EQ(missing.status, 500) << missing.body;
}

TEST_F(ApiTest, KeepAliveAndPipelining) {
  const std::string reply = RawExchange(dtm_.port(),
                                        "GET /api/ping HTTP/1.1\r\nHost: t\r\n\r\n"
                                        "GET /api/dtmsvr/version HTTP/1.1\r\nHost: t\r\n\r\n"
                                        "GET /api/dtmsvr/newGid HTTP/1.1\r\nHost: t\r\n"
                                        "Connection: close\r\n\r\n");
  size_t count = 0;
  for (size_t pos = reply.find("HTTP/1.1 200"); pos != std::string::npos;
       pos = reply.find("HTTP/1.1 200", pos + 1)) {
    ++count;
  }
  EXPECT_EQ(count, 3u) << reply;
  EXPECT_NE(reply.find("pong"), std::string::npos);
  EXPECT_NE(reply.find("\"version\""), std::string::npos);
  EXPECT_NE(reply.find("\"gid\""), std::string::npos);
}

TEST_F(ApiTest, ShiftTimeMovesTheClock) {
  // A permanent shift makes a prepared tcc time out for a plain cron pass.
  const std::string gid = TestName();
  TransRequest tcc;
  tcc.gid = gid;
  tcc.trans_type = "tcc";
  ASSERT_EQ(Prepare(tcc).status, 200);
  EXPECT_EQ(dtm_.CronOnce(0), "");
  auto res = Http(dtm_.port(), "POST", "/api/test/shiftTime?seconds=300");
  ASSERT_EQ(res.status, 200) << res.body;
  EXPECT_EQ(dtm_.CronOnce(0), gid);
  EXPECT_EQ(dtm_.Status(gid), kFailed);
}

}  // namespace
}  // namespace lynx::it
