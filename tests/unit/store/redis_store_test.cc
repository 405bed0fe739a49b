// RedisStore properties beyond the contract: DTM's key layout and JSON (read back raw with
// hiredis, and DTM-written data read by the store), TTLs and recovery from connections the server
// dropped (two instances racing on one prefix: store_contract_test.cc, SharedStoreTest). Runs
// against the server of scripts/lib/databases.sh (skipped when it is not started, failed under
// LYNX_TEST_REQUIRE_DBS=1).
#include <gtest/gtest.h>
#include <hiredis/hiredis.h>

#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <atomic>
#include <future>
#include <latch>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "../../support/test_databases.h"
#include "common/time_format.h"
#include "redis_raw.h"
#include "store/redis/redis_store.h"

namespace lynx::store {
namespace {

using testing_redis::Raw;

namespace bj = boost::json;

constexpr UnixMs kNow = 1'700'000'000'123;
constexpr int64_t kDataExpire = 5000;     // s, distinct from the finished one
constexpr int64_t kFinishedExpire = 700;  // s

bj::object Json(const std::string& text) {
  bj::value v = bj::parse(text);
  EXPECT_TRUE(v.is_object()) << text;
  return v.is_object() ? v.as_object() : bj::object();
}

std::string JsonStr(const bj::object& o, const char* key) {
  auto it = o.find(key);
  return it != o.end() && it->value().is_string() ? std::string(it->value().get_string()) : "";
}

UnixMs JsonTime(const bj::object& o, const char* key) {
  auto t = ParseRfc3339(JsonStr(o, key));
  return t ? *t : -1;
}

TransGlobal NewGlobal(const std::string& gid, UnixMs next_cron_time = kNow + 10'000) {
  TransGlobal g;
  g.gid = gid;
  g.trans_type = "saga";
  g.status = kStatusPrepared;
  g.protocol = "http";
  g.create_time = g.update_time = kNow;
  g.options = R"({"wait_result":true,"branch_headers":{"h":"v"},"concurrent":false})";
  g.custom_data = R"({"orders":{}})";
  g.next_cron_interval = 10;
  g.next_cron_time = next_cron_time;
  return g;
}

TransBranch NewBranch(const std::string& branch_id, const std::string& op) {
  TransBranch b;
  b.url = "http://busi/" + op;
  b.bin_data = std::string("bin\0data", 8);
  b.branch_id = branch_id;
  b.op = op;
  b.status = kStatusPrepared;
  b.create_time = b.update_time = kNow;
  return b;
}

StatusChange Change(const char* status, UnixMs now) {
  StatusChange c;
  c.new_status = status;
  c.now = now;
  return c;
}

class RedisStoreTest : public testing::Test {
 protected:
  void SetUp() override {
    auto port = testing_dbs::RedisPort();
    LYNX_REQUIRE_SERVER(port.has_value(), "Redis");
    raw_ = std::make_unique<Raw>(*port);
    options_.host = testing_dbs::Host();
    options_.port = *port;
    options_.prefix = "{r" + testing_dbs::UniqueSuffix() + "}";
    options_.data_expire_s = kDataExpire;
    options_.finished_data_expire_s = kFinishedExpire;
    // Names this test's connections, so it can kill them without touching other clients.
    options_.client_name = "lynx-test-" + testing_dbs::UniqueSuffix();
    a_ = Open();
    b_ = Open();
    ASSERT_NE(a_, nullptr);
    ASSERT_NE(b_, nullptr);
  }
  void TearDown() override {
    if (a_ != nullptr) {
      EXPECT_TRUE(a_->DropAll().ok());
    }
  }

  std::unique_ptr<RedisStore> Open() {
    auto s = RedisStore::Open(options_);
    EXPECT_TRUE(s.ok()) << s.status().message();
    return s.ok() ? std::move(*s) : nullptr;
  }
  std::string K(const std::string& suffix) const { return options_.prefix + "_" + suffix; }
  // Kills the stores' connections (CLIENT KILL by id of every client with our name); returns
  // how many.
  int KillStoreConnections() {
    int killed = 0;
    std::string list = raw_->Cmd({"CLIENT", "LIST"});
    for (size_t at = 0; at < list.size();) {
      size_t end = list.find('\n', at);
      if (end == std::string::npos) end = list.size();
      std::string line = list.substr(at, end - at);
      at = end + 1;
      if (line.find(" name=" + options_.client_name + " ") == std::string::npos) continue;
      std::string id = line.substr(3, line.find(' ') - 3);  // "id=<n> addr=..."
      if (raw_->Cmd({"CLIENT", "KILL", "ID", id}) == "1") ++killed;
    }
    return killed;
  }

  TransGlobal Save(Store& s, const std::string& gid, UnixMs next_cron_time = kNow + 10'000) {
    TransGlobal g = NewGlobal(gid, next_cron_time);
    std::vector<TransBranch> branches{NewBranch("01", "compensate"), NewBranch("01", "action")};
    EXPECT_TRUE(s.MaySaveNewTrans(g, branches).ok());
    return g;
  }

  // Aborts `g` (saved by Save as g1) with `reason` and marks its (01, action) succeed — a
  // decode and re-encode of the global and of a branch row in the scripts — then reads both
  // back: the reason, the options and the row's JSON are exact.
  void ExpectEditsKeepText(const TransGlobal& g, const std::string& reason) {
    StatusChange abort = Change(kStatusAborting, kNow);
    abort.rollback_reason = reason;
    ASSERT_TRUE(a_->ChangeGlobalStatus("g1", kStatusPrepared, abort).ok());
    TransBranch done = NewBranch("01", "action");
    done.status = kStatusSucceed;
    ASSERT_TRUE(a_->LockGlobalSaveBranches("g1", kStatusAborting, {done}, false).ok());
    auto found = a_->FindGlobal("g1");
    ASSERT_TRUE(found.ok() && found->has_value());
    EXPECT_EQ((*found)->id, g.id);
    EXPECT_EQ((*found)->rollback_reason, reason);
    EXPECT_EQ((*found)->options, g.options);
    auto rows = a_->FindBranches("g1");
    ASSERT_TRUE(rows.ok());
    ASSERT_EQ(rows->size(), 2u);
    EXPECT_EQ((*rows)[1].status, kStatusSucceed);
    EXPECT_NE(raw_->Cmd({"LINDEX", K("b_g1"), "1"}).find("\"url\":\"http://busi/action\""),
              std::string::npos);
  }

  RedisOptions options_;
  std::unique_ptr<Raw> raw_;
  std::unique_ptr<RedisStore> a_, b_;
};

TEST_F(RedisStoreTest, WritesDtmLayoutAndJson) {
  TransGlobal g = Save(*a_, "g1");
  const std::string gkey = K("g_g1"), bkey = K("b_g1"), skey = K("s_g1");

  bj::object j = Json(raw_->Cmd({"GET", gkey}));
  EXPECT_EQ(j.at("id").as_int64(), g.id);
  EXPECT_EQ(JsonStr(j, "gid"), "g1");
  EXPECT_EQ(JsonStr(j, "trans_type"), "saga");
  EXPECT_EQ(JsonStr(j, "status"), "prepared");
  EXPECT_EQ(JsonStr(j, "protocol"), "http");
  EXPECT_EQ(JsonStr(j, "options"), g.options);
  EXPECT_EQ(JsonStr(j, "custom_data"), g.custom_data);
  EXPECT_EQ(j.at("next_cron_interval").as_int64(), 10);
  EXPECT_EQ(JsonTime(j, "create_time"), kNow);
  EXPECT_EQ(JsonTime(j, "update_time"), kNow);
  EXPECT_EQ(JsonTime(j, "next_cron_time"), kNow + 10'000);
  // RFC 3339 as Go writes it, with our milliseconds.
  EXPECT_NE(JsonStr(j, "create_time").find(".123"), std::string::npos) << JsonStr(j, "create_time");
  // TransOptions are embedded in DTM's struct: flattened next to the "options" text.
  EXPECT_EQ(j.at("wait_result"), bj::value(true));
  EXPECT_EQ(j.at("concurrent"), bj::value(false));
  EXPECT_EQ(JsonStr(j.at("branch_headers").as_object(), "h"), "v");
  // omitempty members are absent.
  for (const char* absent : {"finish_time", "rollback_time", "result", "owner", "query_prepared"}) {
    EXPECT_FALSE(j.contains(absent)) << absent;
  }

  EXPECT_EQ(raw_->Int({"LLEN", bkey}), 2);
  bj::object b0 = Json(raw_->Cmd({"LINDEX", bkey, "0"}));
  EXPECT_EQ(JsonStr(b0, "gid"), "g1");
  EXPECT_EQ(JsonStr(b0, "branch_id"), "01");
  EXPECT_EQ(JsonStr(b0, "op"), "compensate");
  EXPECT_EQ(JsonStr(b0, "status"), "prepared");
  EXPECT_EQ(JsonStr(b0, "url"), "http://busi/compensate");
  EXPECT_EQ(JsonStr(b0, "bin_data"), "YmluAGRhdGE=");  // Go's []byte: standard base64
  EXPECT_EQ(b0.at("id").as_int64(), g.id + 1);
  EXPECT_EQ(JsonStr(Json(raw_->Cmd({"LINDEX", bkey, "1"})), "op"), "action");

  EXPECT_EQ(raw_->Cmd({"GET", skey}), "prepared");
  // Unix seconds, with the milliseconds as a fraction.
  EXPECT_EQ(std::stod(raw_->Cmd({"ZSCORE", K("u"), "g1"})), (kNow + 10'000) / 1000.0);
  for (const auto& key : {gkey, bkey, skey}) {
    int64_t ttl = raw_->Int({"PTTL", key});
    EXPECT_GT(ttl, (kDataExpire - 60) * 1000) << key;
    EXPECT_LE(ttl, kDataExpire * 1000) << key;
  }

  ASSERT_TRUE(
      a_->ChangeGlobalStatus("g1", kStatusPrepared, Change(kStatusSubmitted, kNow + 1)).ok());
  ASSERT_TRUE(
      a_->ChangeGlobalStatus("g1", kStatusSubmitted, Change(kStatusSucceed, kNow + 2)).ok());
  j = Json(raw_->Cmd({"GET", gkey}));
  EXPECT_EQ(JsonStr(j, "status"), "succeed");
  EXPECT_EQ(JsonTime(j, "finish_time"), kNow + 2);
  EXPECT_EQ(JsonTime(j, "update_time"), kNow + 2);
  EXPECT_EQ(j.at("id").as_int64(), g.id);
  EXPECT_EQ(j.at("concurrent"), bj::value(false));  // Lua's re-encoding keeps every member
  EXPECT_EQ(JsonStr(j.at("branch_headers").as_object(), "h"), "v");
  EXPECT_EQ(raw_->Cmd({"GET", skey}), "succeed");
  EXPECT_EQ(raw_->Cmd({"ZSCORE", K("u"), "g1"}), "(nil)");
  EXPECT_EQ(raw_->Cmd({"ZSCORE", K("f"), "g1"}), std::to_string(kNow + 2));
  for (const auto& key : {gkey, bkey, skey}) {
    int64_t ttl = raw_->Int({"PTTL", key});
    EXPECT_GT(ttl, (kFinishedExpire - 60) * 1000) << key;
    EXPECT_LE(ttl, kFinishedExpire * 1000) << key;
  }
}

// The compact layout (Store.RedisLayout: compact) on a prefix of its own: hashes, no JSON
// rewritten by a write, and the same transaction read back as in DTM's layout.
TEST_F(RedisStoreTest, WritesCompactLayout) {
  RedisOptions compact = options_;
  compact.prefix = "{c" + testing_dbs::UniqueSuffix() + "}";
  compact.layout = RedisLayout::kCompact;
  auto opened = RedisStore::Open(compact);
  ASSERT_TRUE(opened.ok()) << opened.status().message();
  RedisStore& c = **opened;
  auto key = [&](const std::string& suffix) { return compact.prefix + "_" + suffix; };
  EXPECT_EQ(raw_->Cmd({"GET", key("layout")}), "compact");

  TransGlobal g = Save(c, "g1");
  const std::string gkey = key("g_g1"), bkey = key("b_g1");
  // One key per transaction: the global's fields and its rows in one hash.
  EXPECT_EQ(raw_->Cmd({"TYPE", gkey}), "hash");
  EXPECT_EQ(raw_->Cmd({"EXISTS", bkey}), "0");
  EXPECT_EQ(raw_->Cmd({"EXISTS", key("s_g1")}), "0");
  EXPECT_EQ(raw_->Cmd({"HGET", gkey, "status"}), "prepared");
  const std::string j_text = raw_->Cmd({"HGET", gkey, "j"});
  bj::object j = Json(j_text);
  EXPECT_EQ(j.at("id").as_int64(), g.id);
  EXPECT_EQ(JsonStr(j, "options"), g.options);
  EXPECT_EQ(raw_->Int({"HLEN", gkey}), 4);  // j, status, 2 rows
  // Rows are keyed by length-prefixed (branch_id, op).
  bj::object row = Json(raw_->Cmd({"HGET", gkey, "r2:01action"}));
  EXPECT_EQ(row.at("id").as_int64(), g.id + 2);
  EXPECT_EQ(JsonStr(row, "url"), "http://busi/action");
  int64_t ttl = raw_->Int({"PTTL", gkey});
  EXPECT_GT(ttl, (kDataExpire - 60) * 1000);
  EXPECT_LE(ttl, kDataExpire * 1000);
  EXPECT_EQ(std::stod(raw_->Cmd({"ZSCORE", key("u"), "g1"})), (kNow + 10'000) / 1000.0);

  // A branch result writes the row's state field only; the row's JSON stays as created.
  const std::string row_text = raw_->Cmd({"HGET", gkey, "r2:01action"});
  TransBranch done = NewBranch("01", "action");
  done.status = kStatusSucceed;
  done.update_time = done.finish_time = kNow + 1;
  ASSERT_TRUE(c.LockGlobalSaveBranches("g1", kStatusPrepared, {done}, false).ok());
  EXPECT_EQ(raw_->Cmd({"HGET", gkey, "r2:01action"}), row_text);
  EXPECT_EQ(raw_->Cmd({"HGET", gkey, "s2:01action"}),
            "succeed\x1f" + FormatRfc3339(kNow + 1) + "\x1f" + FormatRfc3339(kNow + 1) + "\x1f");
  auto rows = c.FindBranches("g1");
  ASSERT_TRUE(rows.ok()) << rows.status().message();
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ((*rows)[0].op, "compensate");  // insertion order
  EXPECT_EQ((*rows)[0].status, kStatusPrepared);
  EXPECT_EQ((*rows)[1].op, "action");
  EXPECT_EQ((*rows)[1].status, kStatusSucceed);
  EXPECT_EQ((*rows)[1].finish_time, kNow + 1);
  EXPECT_EQ((*rows)[1].bin_data, std::string("bin\0data", 8));
  // A wrong expected status writes nothing.
  done.status = kStatusFailed;
  EXPECT_EQ(c.LockGlobalSaveBranches("g1", kStatusSubmitted, {done}, false).code(),
            StatusCode::kNotFound);
  EXPECT_EQ(c.LockGlobalSaveBranches("g1", kStatusPrepared, {done}, true).code(),
            StatusCode::kUniqueConflict);

  StatusChange abort = Change(kStatusAborting, kNow + 2);
  abort.rollback_reason = "a \"quoted\" reason";
  ASSERT_TRUE(c.ChangeGlobalStatus("g1", kStatusPrepared, abort).ok());
  EXPECT_EQ(raw_->Cmd({"HGET", gkey, "j"}), j_text);  // never rewritten
  ASSERT_TRUE(c.ChangeGlobalStatus("g1", kStatusAborting, Change(kStatusFailed, kNow + 3)).ok());
  EXPECT_EQ(raw_->Cmd({"HGET", gkey, "status"}), "failed");
  auto found = c.FindGlobal("g1");
  ASSERT_TRUE(found.ok() && found->has_value());
  EXPECT_EQ((*found)->status, kStatusFailed);
  EXPECT_EQ((*found)->rollback_reason, "a \"quoted\" reason");
  EXPECT_EQ((*found)->rollback_time, kNow + 3);
  EXPECT_EQ((*found)->update_time, kNow + 3);
  EXPECT_EQ((*found)->options, g.options);
  EXPECT_EQ((*found)->id, g.id);
  ttl = raw_->Int({"PTTL", gkey});
  EXPECT_GT(ttl, (kFinishedExpire - 60) * 1000);
  EXPECT_LE(ttl, kFinishedExpire * 1000);
  EXPECT_EQ(raw_->Cmd({"EXISTS", bkey}), "0");
  EXPECT_EQ(raw_->Cmd({"ZSCORE", key("u"), "g1"}), "(nil)");

  // The combined last write: the row's state and the new status land in the same hash.
  Save(c, "g2");
  TransBranch last = NewBranch("01", "action");
  last.status = kStatusSucceed;
  last.update_time = last.finish_time = kNow + 4;
  ASSERT_TRUE(
      c.SaveBranchesChangeStatus("g2", kStatusPrepared, {last}, Change(kStatusSucceed, kNow + 4))
          .ok());
  const std::string g2key = key("g_g2");
  EXPECT_EQ(raw_->Cmd({"HGET", g2key, "status"}), "succeed");
  EXPECT_EQ(raw_->Cmd({"HGET", g2key, "s2:01action"}).substr(0, 8), "succeed\x1f");
  EXPECT_EQ(raw_->Int({"HLEN", g2key}), 7);  // j, status, update_time, finish_time, 2 rows, 1 state
  EXPECT_EQ(raw_->Cmd({"EXISTS", key("b_g2")}), "0");
  EXPECT_GT(raw_->Int({"PTTL", g2key}), (kFinishedExpire - 60) * 1000);
  auto g2rows = c.FindBranches("g2");
  ASSERT_TRUE(g2rows.ok()) << g2rows.status().message();
  ASSERT_EQ(g2rows->size(), 2u);
  EXPECT_EQ((*g2rows)[1].status, kStatusSucceed);
  EXPECT_TRUE(c.DropAll().ok());
}

// A prefix keeps the layout it was first opened with; DTM's transactions keep the compact one
// away.
TEST_F(RedisStoreTest, PrefixKeepsItsLayout) {
  EXPECT_EQ(raw_->Cmd({"GET", K("layout")}), "1");
  RedisOptions compact = options_;
  compact.layout = RedisLayout::kCompact;
  auto refused = RedisStore::Open(compact);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(refused.status().message().find("Store.RedisLayout"), std::string::npos)
      << refused.status().message();

  RedisOptions other = compact;
  other.prefix = "{c" + testing_dbs::UniqueSuffix() + "}";
  auto opened = RedisStore::Open(other);
  ASSERT_TRUE(opened.ok()) << opened.status().message();
  RedisOptions dtm = other;
  dtm.layout = RedisLayout::kDtm;
  auto back = RedisStore::Open(dtm);
  ASSERT_FALSE(back.ok());
  EXPECT_NE(back.status().message().find("holds the compact layout"), std::string::npos)
      << back.status().message();
  EXPECT_TRUE((*opened)->DropAll().ok());

  // A prefix where DTM left a transaction (and no layout key, as DTM writes none).
  RedisOptions dtm_data = compact;
  dtm_data.prefix = "{d" + testing_dbs::UniqueSuffix() + "}";
  raw_->Cmd({"SET", dtm_data.prefix + "_g_old", R"({"gid":"old","status":"succeed"})"});
  auto over_dtm = RedisStore::Open(dtm_data);
  ASSERT_FALSE(over_dtm.ok());
  EXPECT_NE(over_dtm.status().message().find("transactions in DTM's layout"), std::string::npos)
      << over_dtm.status().message();
  raw_->Cmd({"DEL", dtm_data.prefix + "_g_old"});
  EXPECT_EQ(raw_->Cmd({"EXISTS", dtm_data.prefix + "_layout"}), "0");
}

TEST_F(RedisStoreTest, ZeroFinishedExpireKeepsFinishedTransactions) {
  options_.finished_data_expire_s = 0;
  auto store = Open();
  ASSERT_NE(store, nullptr);
  Save(*store, "g1");
  ASSERT_TRUE(
      store->ChangeGlobalStatus("g1", kStatusPrepared, Change(kStatusFailed, kNow + 1)).ok());
  for (const char* key : {"g_g1", "b_g1", "s_g1"}) EXPECT_EQ(raw_->Int({"PTTL", K(key)}), -1);
}

// Small ids take the scripts' one-call cjson encoding (no member needs the member-by-member
// way): slashes still come out unescaped and awkward strings round-trip.
TEST_F(RedisStoreTest, LuaFastEncodingKeepsTextExact) {
  TransGlobal g = Save(*a_, "g1");
  ASSERT_LT(g.id, 100000);
  ExpectEditsKeepText(g, "a\\/b \"q\" \xc3\xa9 \x01 </tag> {}[] http://x/y");
  const std::string stored = raw_->Cmd({"GET", K("g_g1")});
  EXPECT_NE(stored.find("http://x/y"), std::string::npos) << stored;
  EXPECT_EQ(stored.find("\\/\\/x"), std::string::npos) << stored;
}

// The scripts decode and re-encode JSON with cjson: ids past its 14 significant digits stay
// exact, slashes are not escaped (Go does not), and awkward strings round-trip.
TEST_F(RedisStoreTest, LuaReencodingKeepsValuesExact) {
  // Below 2^53: Lua numbers are doubles.
  raw_->Cmd({"SET", K("id"), "1234567890123450"});
  TransGlobal g = Save(*a_, "g1");
  EXPECT_EQ(g.id, 1234567890123451);
  ExpectEditsKeepText(g, "a\\/b \"q\" \xc3\xa9 \x01 </tag> {}[]");
  auto rows = a_->FindBranches("g1");
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ((*rows)[1].id, g.id + 2);
  EXPECT_EQ((*rows)[1].url, "http://busi/action");
  EXPECT_NE(raw_->Cmd({"GET", K("g_g1")}).find("\"id\":1234567890123451"), std::string::npos);
}

// Data in the exact form DTM writes (Go's encoding/json of TransGlobalStore / TransBranchStore /
// KVStore: ids 0, nanosecond local times, steps and payloads, integer-second scores).
TEST_F(RedisStoreTest, ReadsAndAdoptsWhatDtmWrote) {
  const std::string global =
      R"({"id":0,"create_time":"2023-11-15T06:13:20.123456789+08:00",)"
      R"("update_time":"2023-11-15T06:13:20.123456789+08:00","gid":"dtm-1","trans_type":"saga",)"
      R"("steps":[{"action":"http://busi/a","compensate":"http://busi/c"}],)"
      R"("payloads":["{\"amount\":30}"],"status":"submitted","protocol":"http",)"
      R"("options":"{\"wait_result\":true,\"concurrent\":false}",)"
      R"("custom_data":"{\"concurrent\":false}","next_cron_interval":10,)"
      R"("next_cron_time":"2023-11-15T06:13:30.5+08:00","wait_result":true,"concurrent":false})";
  const std::string branch =
      R"({"id":0,"create_time":"2023-11-14T22:13:20.123456789Z",)"
      R"("update_time":"2023-11-14T22:13:20.123456789Z","gid":"dtm-1","url":"http://busi/a",)"
      R"("bin_data":"eyJhbW91bnQiOjMwfQ==","branch_id":"01","op":"action","status":"prepared"})";
  raw_->Cmd({"SET", K("g_dtm-1"), global, "EX", "604800"});
  raw_->Cmd({"SET", K("s_dtm-1"), "submitted", "EX", "604800"});
  raw_->Cmd({"RPUSH", K("b_dtm-1"), branch});
  raw_->Cmd({"ZADD", K("u"), "1700000010", "dtm-1"});

  auto g = a_->FindGlobal("dtm-1");
  ASSERT_TRUE(g.ok()) << g.status().message();
  ASSERT_TRUE(g->has_value());
  const UnixMs created = 1'700'000'000'123;
  EXPECT_EQ((*g)->id, 0);
  EXPECT_EQ((*g)->status, kStatusSubmitted);
  EXPECT_EQ((*g)->create_time, created);
  EXPECT_EQ((*g)->next_cron_time, 1'700'000'010'500);
  EXPECT_EQ((*g)->options, R"({"wait_result":true,"concurrent":false})");
  EXPECT_EQ((*g)->next_cron_interval, 10);
  EXPECT_EQ((*g)->finish_time, 0);
  auto rows = a_->FindBranches("dtm-1");
  ASSERT_TRUE(rows.ok()) << rows.status().message();
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].bin_data, R"({"amount":30})");
  EXPECT_EQ((*rows)[0].create_time, created);
  EXPECT_EQ((*rows)[0].gid, "dtm-1");

  // The cron leases it from DTM's zset and numbers it, so it joins the scans.
  auto leased = a_->LockOneGlobalTrans(kNow + 60'000, 0, 10, "me");
  ASSERT_TRUE(leased.ok() && leased->has_value());
  EXPECT_EQ((*leased)->gid, "dtm-1");
  EXPECT_GT((*leased)->id, 0);
  std::string position;
  std::vector<TransGlobal> all;
  ASSERT_TRUE(a_->ScanGlobals(&position, 10, {}, &all).ok());
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].gid, "dtm-1");
  // DTM's members survive the rewrite, arrays as arrays.
  bj::object j = Json(raw_->Cmd({"GET", K("g_dtm-1")}));
  EXPECT_TRUE(j.at("steps").is_array());
  EXPECT_EQ(j.at("payloads").as_array().at(0), bj::value(R"({"amount":30})"));
  EXPECT_EQ(JsonStr(j, "owner"), "me");

  TransBranch done = NewBranch("01", "action");
  done.status = kStatusSucceed;
  done.finish_time = done.update_time = kNow;
  ASSERT_TRUE(a_->LockGlobalSaveBranches("dtm-1", kStatusSubmitted, {done}, false).ok());
  rows = a_->FindBranches("dtm-1");
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].status, kStatusSucceed);
  EXPECT_EQ((*rows)[0].bin_data, R"({"amount":30})");
  ASSERT_TRUE(a_->ChangeGlobalStatus("dtm-1", kStatusSubmitted, Change(kStatusSucceed, kNow)).ok());
  auto purged = a_->PurgeFinished(kNow + 1, 10);
  ASSERT_TRUE(purged.ok());
  EXPECT_EQ(*purged, 1);
  EXPECT_EQ(raw_->Int({"EXISTS", K("g_dtm-1"), K("b_dtm-1"), K("s_dtm-1")}), 0);
}

TEST_F(RedisStoreTest, IndexesKVEntriesDtmWroteOnFirstOpen) {
  options_.prefix = "{r" + testing_dbs::UniqueSuffix() + "}";
  raw_->Cmd(
      {"SET", K("kv_topics_t1"),
       R"({"id":0,"create_time":"2023-11-14T22:13:20.1Z","update_time":)"
       R"("2023-11-14T22:13:20.1Z","cat":"topics","k":"t1","v":"[\"http://a\"]","version":3})"});
  auto store = Open();
  ASSERT_NE(store, nullptr);
  auto all = store->FindKV("topics", "");
  ASSERT_TRUE(all.ok()) << all.status().message();
  ASSERT_EQ(all->size(), 1u);
  KV kv = (*all)[0];
  EXPECT_GT(kv.id, 0);
  EXPECT_EQ(kv.version, 3);
  EXPECT_EQ(kv.v, R"(["http://a"])");
  kv.v = "[]";
  ASSERT_TRUE(store->UpdateKV(kv, kNow).ok());
  EXPECT_EQ(kv.version, 4);
  bj::object j = Json(raw_->Cmd({"GET", K("kv_topics_t1")}));
  EXPECT_EQ(j.at("version").as_int64(), 4);
  EXPECT_EQ(JsonStr(j, "v"), "[]");
  EXPECT_EQ(JsonTime(j, "update_time"), kNow);
  EXPECT_TRUE(store->DropAll().ok());
}

TEST_F(RedisStoreTest, PopulateSchemaKeepsOtherData) {
  const std::string foreign = "lynx_redis_store_test_" + testing_dbs::UniqueSuffix();
  raw_->Cmd({"SET", foreign, "x"});
  Save(*a_, "g1");
  ASSERT_TRUE(a_->PopulateSchema().ok());
  EXPECT_EQ(raw_->Cmd({"GET", foreign}), "x");
  EXPECT_EQ(raw_->Int({"EXISTS", K("g_g1")}), 1);
  raw_->Cmd({"DEL", foreign});
}

// Keys gone by TTL (deleted by hand here) leave index entries behind: skipped and cleaned.
TEST_F(RedisStoreTest, ExpiredKeysDoNotBreakScansOrLeases) {
  Save(*a_, "gone", kNow - 5000);
  Save(*a_, "kept", kNow - 1000);
  raw_->Cmd({"DEL", K("g_gone"), K("b_gone"), K("s_gone")});
  std::string position;
  std::vector<TransGlobal> all;
  ASSERT_TRUE(a_->ScanGlobals(&position, 10, {}, &all).ok());
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].gid, "kept");
  EXPECT_EQ(raw_->Cmd({"ZSCORE", K("all"), "gone"}), "(nil)");
  auto leased = a_->LockOneGlobalTrans(kNow, 0, 10, "me");
  ASSERT_TRUE(leased.ok() && leased->has_value());
  EXPECT_EQ((*leased)->gid, "kept");
  EXPECT_EQ(raw_->Cmd({"ZSCORE", K("u"), "gone"}), "(nil)");

  ASSERT_TRUE(a_->CreateKV("topics", "t1", "v", kNow).ok());
  ASSERT_TRUE(a_->CreateKV("topics", "t2", "v", kNow).ok());
  raw_->Cmd({"DEL", K("kv_topics_t1")});
  auto kvs = a_->FindKV("topics", "");
  ASSERT_TRUE(kvs.ok());
  ASSERT_EQ(kvs->size(), 1u);
  EXPECT_EQ((*kvs)[0].k, "t2");
  EXPECT_EQ(raw_->Int({"ZCARD", K("kvc_topics")}), 1);

  // A gid saved again after its keys expired starts afresh.
  Save(*a_, "gone");
  auto rows = a_->FindBranches("gone");
  ASSERT_TRUE(rows.ok());
  EXPECT_EQ(rows->size(), 2u);
}

TEST_F(RedisStoreTest, RecoversFromKilledConnections) {
  // Several pooled connections, so more than one is dead after the kill.
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] { Save(*a_, "g" + std::to_string(t)); });
  }
  for (auto& t : threads) t.join();
  EXPECT_GE(KillStoreConnections(), 2);

  auto g = a_->FindGlobal("g0");
  ASSERT_TRUE(g.ok()) << g.status().message();
  EXPECT_TRUE(g->has_value());
  auto rows = a_->FindBranches("g1");
  ASSERT_TRUE(rows.ok()) << rows.status().message();
  EXPECT_EQ(rows->size(), 2u);
  EXPECT_TRUE(a_->Ping().ok());
  // A script on a connection the server had closed is sent on a fresh one.
  Status st = a_->ChangeGlobalStatus("g2", kStatusPrepared, Change(kStatusSubmitted, kNow));
  EXPECT_TRUE(st.ok()) << st.message();

  EXPECT_GE(KillStoreConnections(), 1);
  st = a_->ChangeGlobalStatus("g3", kStatusPrepared, Change(kStatusSubmitted, kNow));
  EXPECT_TRUE(st.ok()) << st.message();
  // A script cache flushed behind the store's back (restart): EVALSHA falls back to EVAL.
  raw_->Cmd({"SCRIPT", "FLUSH"});
  st = a_->ChangeGlobalStatus("g3", kStatusSubmitted, Change(kStatusSucceed, kNow));
  EXPECT_TRUE(st.ok()) << st.message();
}

// The completion forms the server uses once the store has its io_context: same results as the
// blocking forms (ids, conflicts, compare-and-set), EVAL after a flushed script cache, and a
// fresh connection after the pipelined one was killed.
TEST_F(RedisStoreTest, CompletionFormsOverThePipelinedConnection) {
  boost::asio::io_context io;
  auto work = boost::asio::make_work_guard(io);
  std::thread runner([&io] { io.run(); });
  auto store = Open();
  ASSERT_NE(store, nullptr);
  {
    // Without an io_context there is no completion form: the caller runs the blocking one.
    TransGlobal g = NewGlobal("g-before");
    std::vector<TransBranch> none;
    EXPECT_FALSE(store->MaySaveNewTransAsync(g, none, [](Status) { ADD_FAILURE(); }));
  }
  store->AttachIo(io);
  // Waits for one completion (bounded, so a lost completion fails instead of hanging).
  auto await = [](auto start) {
    std::promise<Status> p;
    auto f = p.get_future();
    if (!start([&p](Status st) { p.set_value(std::move(st)); })) {
      return Status::Internal("no completion form");
    }
    if (f.wait_for(std::chrono::seconds(10)) != std::future_status::ready) {
      return Status::Internal("no completion within 10 s");
    }
    return f.get();
  };
  TransGlobal g = NewGlobal("ga");
  std::vector<TransBranch> branches{NewBranch("01", "compensate"), NewBranch("01", "action")};
  ASSERT_TRUE(
      await([&](auto done) { return store->MaySaveNewTransAsync(g, branches, done); }).ok());
  EXPECT_GT(g.id, 0);
  EXPECT_EQ(branches[1].id, g.id + 2);
  TransGlobal again = NewGlobal("ga");
  std::vector<TransBranch> none;
  EXPECT_TRUE(await([&](auto done) {
                return store->MaySaveNewTransAsync(again, none, done);
              }).IsUniqueConflict());

  TransBranch done_row = NewBranch("01", "action");
  done_row.status = kStatusSucceed;
  std::vector<TransBranch> rows{done_row};
  const std::string gid = "ga", prepared = kStatusPrepared, submitted = kStatusSubmitted;
  EXPECT_TRUE(await([&](auto done) {
                return store->LockGlobalSaveBranchesAsync(gid, submitted, rows, false, done);
              }).IsNotFound());
  ASSERT_TRUE(await([&](auto done) {
                return store->LockGlobalSaveBranchesAsync(gid, prepared, rows, false, done);
              }).ok());
  StatusChange change = Change(kStatusSubmitted, kNow + 5);
  ASSERT_TRUE(await([&](auto done) {
                return store->ChangeGlobalStatusAsync(gid, prepared, change, done);
              }).ok());
  EXPECT_TRUE(await([&](auto done) {
                return store->ChangeGlobalStatusAsync(gid, prepared, change, done);
              }).IsNotFound());

  // A flushed script cache, then a killed connection: both recovered without the caller.
  raw_->Cmd({"SCRIPT", "FLUSH"});
  StatusChange finish = Change(kStatusSucceed, kNow + 6);
  ASSERT_TRUE(await([&](auto done) {
                return store->ChangeGlobalStatusAsync(gid, submitted, finish, done);
              }).ok());
  EXPECT_GE(KillStoreConnections(), 1);
  TransGlobal b = NewGlobal("gb");
  Status st = await([&](auto done) { return store->MaySaveNewTransAsync(b, branches, done); });
  // Killed while idle: the connection has usually seen the close and reconnects; if the command
  // went into the dead socket first, it fails kUnavailable (its fate unknown to the store) and
  // the next call runs on a new connection.
  if (st.code() == StatusCode::kUnavailable) {
    st = await([&](auto done) { return store->MaySaveNewTransAsync(b, branches, done); });
  }
  EXPECT_TRUE(st.ok()) << st.message();

  auto found = store->FindGlobal("ga");
  ASSERT_TRUE(found.ok() && found->has_value());
  EXPECT_EQ((*found)->status, kStatusSucceed);
  auto found_rows = store->FindBranches("ga");
  ASSERT_TRUE(found_rows.ok());
  EXPECT_EQ((*found_rows)[1].status, kStatusSucceed);
  work.reset();
  io.stop();
  runner.join();
  store.reset();  // after the io thread, as the server does
}

TEST_F(RedisStoreTest, UnreachableServerFailsClearly) {
  RedisOptions bad = options_;
  bad.port = 1;  // nothing listens there
  bad.connect_timeout_ms = 1000;
  auto s = RedisStore::Open(bad);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(s.status().message().find(testing_dbs::Host() + ":1"), std::string::npos)
      << s.status().message();

  bad = options_;
  // Refused credentials are a configuration error: dtmd stops instead of waiting for the store.
  bad.password = "wrong";
  s = RedisStore::Open(bad);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.status().message().find("AUTH"), std::string::npos) << s.status().message();
}

}  // namespace
}  // namespace lynx::store
