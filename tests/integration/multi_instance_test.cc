// Several dtmd instances on one shared store (issue: scale-out). Three dtmd processes run their
// own cron loops on the same PostgreSQL schema / MySQL database / Redis prefix while clients
// submit a mixed load to all three; one instance is killed (SIGKILL) in the middle. The survivors
// must finish every acknowledged transaction, and no branch may be called more often than the
// lease rules allow: a branch that answered SUCCESS is called again only when the instance that
// called it died before it could record the result.
#include <boost/json.hpp>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <iostream>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "../support/test_databases.h"
#include "harness.h"

namespace lynx::it {
namespace {

constexpr int kInstances = 3;

class MultiInstanceTest : public testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    const std::string& store = GetParam();
    // redis-compact: the Redis server, with the compact layout.
    const std::string server = store == "redis-compact" ? "redis" : store;
    LYNX_REQUIRE_SERVER(testing_dbs::Started(server), server);
    dir_ = std::make_unique<TempDir>("dtmd-multi");
    std::string err;
    ASSERT_TRUE(busi_.Start(dir_->path(), &err)) << err;
    DtmdOptions o;
    o.store = store;
    o.store_scope = "multi_" + testing_dbs::UniqueSuffix();
    o.cron = true;
    for (int i = 0; i < kInstances; ++i) {
      const std::string sub = dir_->path() + "/dtmd" + std::to_string(i);
      std::filesystem::create_directories(sub);
      ASSERT_TRUE(dtm_[i].Start(sub, o, &err)) << "instance " << i << ": " << err;
    }
  }
  void TearDown() override {
    if (HasFailure()) {
      for (int i = 0; i < kInstances; ++i) {
        std::cerr << "---- dtmd " << i << " ----\n" << dtm_[i].LogTail() << "\n";
      }
    }
  }

  TransRequest Saga(const std::string& gid) const {
    TransRequest r;
    r.gid = gid;
    r.trans_type = "saga";
    r.retry_interval = 1;  // cron retries within a second, on whichever instance leases first
    r.Add(busi_.Url("TransOut"), busi_.Url("TransOutRevert"), BusiPayload());
    r.Add(busi_.Url("TransIn"), busi_.Url("TransInRevert"), BusiPayload());
    return r;
  }
  TransRequest Msg(const std::string& gid) const {
    TransRequest r;
    r.gid = gid;
    r.trans_type = "msg";
    r.retry_interval = 1;
    r.AddMsg(busi_.Url("TransOut"), BusiPayload());
    r.AddMsg(busi_.Url("TransIn"), BusiPayload());
    r.query_prepared = busi_.Url("QueryPrepared");
    return r;
  }

  std::unique_ptr<TempDir> dir_;
  Busi busi_;
  Dtmd dtm_[kInstances];
};

TEST_P(MultiInstanceTest, KillOneInstanceUnderLoad) {
  LYNX_DTMD_ONLY("runs several dtmd processes on one store");
  constexpr int kThreads = 6;
  constexpr int kPerThread = 40;
  constexpr int kKillAfter = 90;  // acknowledged submits before instance 0 dies
  // Work in flight and work for the crons: every TransOut takes 5 ms, the first 60 TransIn
  // calls answer ONGOING (retried by the cron of any instance).
  busi_.SetDefault("TransOut", "SLEEP:5");
  busi_.Script("TransIn", std::vector<std::string>(60, "ONGOING"));

  std::mutex mu;
  std::map<std::string, std::string> acked;  // gid -> type, answered 200
  std::set<std::string> uncertain;           // the submit was cut by the kill
  std::atomic<int> acked_count{0};
  std::atomic<int> unexpected{0};
  std::atomic<bool> killed{false};
  const uint16_t ports[kInstances] = {dtm_[0].port(), dtm_[1].port(), dtm_[2].port()};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const std::string gid = "multi-" + std::to_string(t) + "-" + std::to_string(i);
        TransRequest r = (i + t) % 2 == 0 ? Saga(gid) : Msg(gid);
        int target = (t + i) % kInstances;
        if (killed && target == 0) target = 1 + i % 2;
        auto res = Http(ports[target], "POST", "/api/dtmsvr/submit", r.Json(), {},
                        std::chrono::seconds(20));
        std::lock_guard lock(mu);
        if (res.status == 200) {
          acked[gid] = r.trans_type;
          ++acked_count;
        } else if (res.status == 0 && target == 0) {
          uncertain.insert(gid);
        } else {
          ++unexpected;
          ADD_FAILURE() << gid << " on instance " << target << ": " << res.status << " " << res.body
                        << res.error;
        }
      }
    });
  }
  ASSERT_TRUE(WaitUntil([&] { return acked_count >= kKillAfter; }, std::chrono::seconds(60)));
  const size_t calls_before_kill = busi_.Calls().size();
  dtm_[0].Kill9();
  killed = true;
  // Every call recorded from here on was made by a survivor.
  const int64_t last_seq_before_kill = busi_.Calls().back().seq;
  for (auto& th : threads) th.join();
  EXPECT_EQ(unexpected.load(), 0);
  EXPECT_GT(calls_before_kill, 0u);

  // The survivors finish everything (the killed instance's leases run out after RetryInterval).
  const Dtmd& survivor = dtm_[1];
  for (const auto& [gid, type] : acked) {
    EXPECT_TRUE(survivor.WaitStatus(gid, kSucceed, std::chrono::seconds(60))) << gid;
  }
  for (const auto& gid : uncertain) {
    const std::string st = survivor.Status(gid);
    if (!st.empty() && st != kSucceed) {
      EXPECT_TRUE(survivor.WaitStatus(gid, kSucceed, std::chrono::seconds(60))) << gid;
    }
  }

  // Lease rules: per (gid, route), SUCCESS answers beyond the first only when the first came
  // before the kill (made by the dead instance, whose result was never recorded).
  std::map<std::string, std::vector<int64_t>> successes;  // gid/route -> seqs of SUCCESS calls
  int repeated = 0;
  for (const auto& c : busi_.Calls()) {
    if (c.route != "TransOut" && c.route != "TransIn") {
      EXPECT_EQ(c.route, "QueryPrepared") << "unexpected call " << c.route << " " << c.Query("gid");
      continue;
    }
    if (c.result == "SUCCESS" || c.result.rfind("SLEEP", 0) == 0) {
      successes[c.Query("gid") + "/" + c.route].push_back(c.seq);
    }
  }
  for (const auto& [gid, type] : acked) {
    for (const char* route : {"TransOut", "TransIn"}) {
      const auto& seqs = successes[gid + "/" + route];
      ASSERT_GE(seqs.size(), 1u) << gid << " " << route << " never succeeded";
      EXPECT_LE(seqs.size(), 2u) << gid << " " << route;
      if (seqs.size() > 1) {
        ++repeated;
        EXPECT_LE(seqs[0], last_seq_before_kill)
            << gid << " " << route
            << " was repeated although its first success came after the kill";
        EXPECT_GT(seqs[1], last_seq_before_kill)
            << gid << " " << route << " succeeded twice while every instance was alive";
      }
    }
    EXPECT_EQ(survivor.BranchStatuses(gid).back(), kSucceed) << gid;
  }
  std::cout << "[ stats    ] " << GetParam() << ": acknowledged " << acked.size() << ", uncertain "
            << uncertain.size() << ", branch calls repeated after the kill " << repeated << "\n";
  // The survivors are healthy and agree.
  EXPECT_TRUE(dtm_[1].Ping());
  EXPECT_TRUE(dtm_[2].Ping());
  EXPECT_EQ(dtm_[2].Status(acked.begin()->first), kSucceed);
}

INSTANTIATE_TEST_SUITE_P(Stores, MultiInstanceTest,
                         testing::Values("postgres", "mysql", "redis", "redis-compact"),
                         [](const testing::TestParamInfo<std::string>& info) {
                           std::string name = info.param;  // test names allow no '-'
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

}  // namespace
}  // namespace lynx::it
