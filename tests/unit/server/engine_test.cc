// Engine unit tests: the transaction state machines of dtm-protocol.md §5 and §13.2-13.5, on the
// memory store with an injected clock and a scripted branch caller (no network, no sleeps).
#include <gtest/gtest.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include <deque>
#include <map>
#include <mutex>

#include "server/api.h"
#include "server/engine.h"
#include "server/trans_codec.h"
#include "store/memory/memory_store.h"

namespace lynx::server {
namespace {

namespace asio = boost::asio;

constexpr UnixMs kStart = 1'700'000'000'000;

// Answers branch calls from per-URL scripts (default: success) and records every call.
class ScriptedCaller : public BranchCaller {
 public:
  void Script(const std::string& url, std::vector<Status> results) {
    std::lock_guard lock(mu_);
    for (auto& r : results) scripts_[url].push_back(std::move(r));
  }
  asio::awaitable<Status> Call(const BranchCall& c) override {
    std::lock_guard lock(mu_);
    calls_.push_back(c);
    calls_.back().headers = nullptr;
    if (c.headers) headers_.push_back(*c.headers);
    auto& q = scripts_[c.url];
    if (q.empty()) co_return Status::Ok();
    Status st = q.front();
    q.pop_front();
    co_return st;
  }
  std::vector<std::string> CalledUrls() {
    std::lock_guard lock(mu_);
    std::vector<std::string> out;
    for (const auto& c : calls_) out.push_back(c.url + "#" + c.op);
    return out;
  }
  std::vector<BranchCall> calls() {
    std::lock_guard lock(mu_);
    return calls_;
  }
  std::vector<std::map<std::string, std::string>> headers() {
    std::lock_guard lock(mu_);
    return headers_;
  }

 private:
  std::mutex mu_;
  std::map<std::string, std::deque<Status>> scripts_;
  std::vector<BranchCall> calls_;
  std::vector<std::map<std::string, std::string>> headers_;
};

class EngineTest : public ::testing::Test {
 protected:
  EngineTest() : clock_(kStart), runner_(store_, 1) {
    EngineDeps deps;
    deps.config = &cfg_;
    deps.clock = &clock_;
    deps.store = &runner_;
    deps.caller = &caller_;
    deps.topics = &topics_;
    deps.executor = io_.get_executor();
    engine_ = std::make_unique<Engine>(deps);
    api_ = std::make_unique<Api>(*engine_);
  }

  // Runs a coroutine and everything it spawned to completion.
  template <class T>
  T Run(asio::awaitable<T> a) {
    auto fut = asio::co_spawn(io_, std::move(a), asio::use_future);
    io_.restart();
    io_.run();
    return fut.get();
  }

  Trans Saga(const std::string& gid, int steps) {
    Trans t;
    t.g.gid = gid;
    t.g.trans_type = "saga";
    t.g.protocol = "http";
    for (int i = 1; i <= steps; ++i) {
      std::string n = std::to_string(i);
      t.steps.push_back({{"action", "http://b/a" + n}, {"compensate", "http://b/c" + n}});
      t.bin_payloads.push_back(R"({"amount":30})");
    }
    return t;
  }

  Status Submit(Trans t) { return Run(api_->Submit(std::move(t))); }

  store::TransGlobal Global(const std::string& gid) {
    auto g = store_.FindGlobal(gid);
    EXPECT_TRUE(g.ok() && g->has_value()) << gid;
    return g.ok() && g->has_value() ? **g : store::TransGlobal{};
  }
  std::vector<std::string> Statuses(const std::string& gid) {
    std::vector<std::string> out;
    auto branches = store_.FindBranches(gid);
    EXPECT_TRUE(branches.ok());
    for (const auto& b : branches.value()) out.push_back(b.status);
    return out;
  }
  std::string Cron(int64_t forward_s = 0) {
    clock_.Advance(forward_s * 1000);
    std::string gid = Run(engine_->CronOnce(0));
    clock_.Advance(-forward_s * 1000);
    return gid;
  }
  Status Register(const std::string& type, const std::string& gid, const std::string& id) {
    BranchRegistration r;
    r.gid = gid;
    r.trans_type = type;
    r.branch_id = id;
    if (type == "tcc") {
      r.data = {
          {"data", "{}"}, {"confirm", "http://b/confirm" + id}, {"cancel", "http://b/cancel" + id}};
    } else {
      r.data = {{"url", "http://b/xa" + id}};
    }
    return Run(api_->RegisterBranch(r));
  }
  Trans Global2pc(const std::string& type, const std::string& gid) {
    Trans t;
    t.g.gid = gid;
    t.g.trans_type = type;
    t.g.protocol = "http";
    return t;
  }

  using Strings = std::vector<std::string>;
  ServerConfig cfg_;
  ManualClock clock_;
  store::MemoryStore store_;
  StoreRunner runner_;
  ScriptedCaller caller_;
  Topics topics_;
  asio::io_context io_;
  std::unique_ptr<Engine> engine_;
  std::unique_ptr<Api> api_;
};

const Status kFail = Status::Failure("FAILURE");
const Status kOngoing = Status::Ongoing("ONGOING");
const Status kError = Status::Internal("http status 500");

TEST_F(EngineTest, SagaNormal) {
  ASSERT_TRUE(Submit(Saga("s1", 2)).ok());
  EXPECT_EQ(Statuses("s1"), (Strings{"prepared", "succeed", "prepared", "succeed"}));
  EXPECT_EQ(Global("s1").status, "succeed");
  EXPECT_EQ(Global("s1").rollback_reason, "");
  EXPECT_EQ(caller_.CalledUrls(), (Strings{"http://b/a1#action", "http://b/a2#action"}));
}

TEST_F(EngineTest, SagaSecondActionFailsCompensatesBothInReverse) {
  caller_.Script("http://b/a2", {Status::Failure("Insufficient balance FAILURE")});
  ASSERT_TRUE(Submit(Saga("s2", 2)).ok());
  EXPECT_EQ(Statuses("s2"), (Strings{"succeed", "succeed", "succeed", "failed"}));
  auto g = Global("s2");
  EXPECT_EQ(g.status, "failed");
  EXPECT_NE(g.rollback_reason.find("url:http://b/a2 return failed: Insufficient balance"),
            std::string::npos)
      << g.rollback_reason;
  EXPECT_EQ(caller_.CalledUrls(), (Strings{"http://b/a1#action", "http://b/a2#action",
                                           "http://b/c2#compensate", "http://b/c1#compensate"}));
}

TEST_F(EngineTest, SagaOngoingKeepsIntervalAndCronFinishes) {
  caller_.Script("http://b/a1", {kOngoing});
  ASSERT_TRUE(Submit(Saga("s3", 2)).ok());
  EXPECT_EQ(Statuses("s3"), (Strings{"prepared", "prepared", "prepared", "prepared"}));
  EXPECT_EQ(Global("s3").status, "submitted");
  EXPECT_EQ(Global("s3").next_cron_interval, 10);
  EXPECT_EQ(Cron(0), "");  // not due yet
  EXPECT_EQ(Cron(11), "s3");
  EXPECT_EQ(Statuses("s3"), (Strings{"prepared", "succeed", "prepared", "succeed"}));
  EXPECT_EQ(Global("s3").status, "succeed");
}

TEST_F(EngineTest, SagaErrorBacksOffDoublingTheInterval) {
  Trans t = Saga("s4", 1);
  t.opts.retry_interval = 150;
  caller_.Script("http://b/a1", {kError});
  ASSERT_TRUE(Submit(t).ok());
  EXPECT_EQ(Global("s4").next_cron_interval, 300);
  EXPECT_EQ(Cron(180), "");
  EXPECT_EQ(Cron(360), "s4");
  EXPECT_EQ(Global("s4").status, "succeed");
}

TEST_F(EngineTest, SagaTimeoutCompensatesPossiblyExecutedAction) {
  Trans t = Saga("s5", 2);
  t.opts.timeout_to_fail = 1800;
  caller_.Script("http://b/a1", {kOngoing, kOngoing});
  ASSERT_TRUE(Submit(t).ok());
  EXPECT_EQ(Global("s5").status, "submitted");
  EXPECT_EQ(Cron(3600), "s5");
  auto g = Global("s5");
  EXPECT_EQ(g.status, "failed");
  EXPECT_EQ(g.rollback_reason, "Timeout after 1800 seconds");
  EXPECT_EQ(Statuses("s5"), (Strings{"succeed", "prepared", "prepared", "prepared"}));
}

TEST_F(EngineTest, SagaRetryLimitExhaustedAborts) {
  Trans t = Saga("s6", 2);
  t.opts.retry_limit = 1;
  t.opts.wait_result = true;
  caller_.Script("http://b/a2", {kError, kError, kError});
  Status st = Submit(t);
  EXPECT_TRUE(st.IsFailure());
  EXPECT_EQ(st.message(), "RetryCount is greater than RetryLimit, RetryLimit: 1");
  EXPECT_EQ(Global("s6").status, "failed");
  EXPECT_EQ(Statuses("s6"), (Strings{"succeed", "succeed", "succeed", "prepared"}));
}

TEST_F(EngineTest, SagaRetryLimitRetriesInPlace) {
  Trans t = Saga("s7", 2);
  t.opts.retry_limit = 3;
  t.opts.wait_result = true;
  caller_.Script("http://b/a2", {kError, kError, kError});
  EXPECT_TRUE(Submit(t).ok());
  EXPECT_EQ(Global("s7").status, "succeed");
  EXPECT_EQ(Statuses("s7"), (Strings{"prepared", "succeed", "prepared", "succeed"}));
}

// DTM answers FAILURE here although nothing failed; dtmd answers ONGOING with DTM's text
// (docs/compatibility.md).
TEST_F(EngineTest, SagaWaitResultReportsAPendingSagaAsOngoing) {
  Trans t = Saga("s8", 2);
  t.opts.wait_result = true;
  caller_.Script("http://b/a1", {kOngoing});
  Status st = Submit(t);
  EXPECT_TRUE(st.IsOngoing());
  EXPECT_EQ(st.message().rfind("wait result not return success", 0), 0u) << st.message();
  EXPECT_EQ(Global("s8").status, "submitted");
}

TEST_F(EngineTest, ConcurrentSagaWithOrderFailureNeverStartsDependent) {
  Trans t = Saga("s9", 2);
  t.g.custom_data = R"({"concurrent":true,"orders":{"1":[0]}})";
  caller_.Script("http://b/a1", {kFail});
  ASSERT_TRUE(Submit(t).ok());
  EXPECT_EQ(Statuses("s9"), (Strings{"succeed", "failed", "prepared", "prepared"}));
  EXPECT_EQ(Global("s9").status, "failed");
}

TEST_F(EngineTest, ConcurrentSagaRunsIndependentStepsInParallel) {
  Trans t = Saga("s10", 2);
  t.g.custom_data = R"({"concurrent":true,"orders":{}})";
  caller_.Script("http://b/a1", {kOngoing});
  ASSERT_TRUE(Submit(t).ok());
  EXPECT_EQ(Statuses("s10"), (Strings{"prepared", "prepared", "prepared", "succeed"}));
  EXPECT_EQ(Cron(11), "s10");
  EXPECT_EQ(Global("s10").status, "succeed");
}

TEST_F(EngineTest, BranchHeadersAndRequestTimeoutReachEveryCall) {
  Trans t = Saga("s11", 1);
  t.opts.branch_headers = {{"test_header", "test"}};
  t.opts.request_timeout = 6;
  caller_.Script("http://b/a1", {kError});
  ASSERT_TRUE(Submit(t).ok());
  EXPECT_EQ(Cron(25), "s11");
  ASSERT_EQ(caller_.calls().size(), 2u);
  for (const auto& h : caller_.headers()) EXPECT_EQ(h.at("test_header"), "test");
  for (const auto& c : caller_.calls()) EXPECT_EQ(c.timeout_ms, 6000);
}

TEST_F(EngineTest, DuplicateSubmitAfterSucceedIsRefused) {
  ASSERT_TRUE(Submit(Saga("s12", 1)).ok());
  Status st = Submit(Saga("s12", 1));
  EXPECT_TRUE(st.IsFailure());
  EXPECT_EQ(st.message(), "current status 'succeed', cannot sumbmit.");
}

TEST_F(EngineTest, MsgBackCheckAfterTimeout) {
  Trans t = Global2pc("msg", "m1");
  t.steps = {{{"action", "http://b/a1"}}};
  t.bin_payloads = {"{}"};
  t.g.query_prepared = "http://b/qp";
  ASSERT_TRUE(Run(api_->Prepare(t)).ok());
  EXPECT_EQ(Cron(0), "");
  EXPECT_EQ(Cron(20), "m1");  // due (lease) but not timed out: nothing happens
  EXPECT_EQ(Global("m1").status, "prepared");
  EXPECT_EQ(Cron(60), "m1");
  EXPECT_EQ(Global("m1").status, "succeed");
  EXPECT_EQ(caller_.CalledUrls(), (Strings{"http://b/qp#msg", "http://b/a1#action"}));
  EXPECT_EQ(caller_.calls()[0].branch_id, "00");
}

TEST_F(EngineTest, MsgBackCheckFailureFailsWithoutCallingBranches) {
  Trans t = Global2pc("msg", "m2");
  t.steps = {{{"action", "http://b/a1"}}, {{"action", "http://b/a2"}}};
  t.bin_payloads = {"{}", "{}"};
  t.g.query_prepared = "http://b/qp";
  caller_.Script("http://b/qp", {kOngoing, kFail});
  ASSERT_TRUE(Run(api_->Prepare(t)).ok());
  EXPECT_EQ(Cron(360), "m2");
  EXPECT_EQ(Global("m2").status, "prepared");
  EXPECT_EQ(Cron(540), "m2");
  EXPECT_EQ(Global("m2").status, "failed");
  EXPECT_EQ(Statuses("m2"), (Strings{"prepared", "prepared"}));
}

TEST_F(EngineTest, MsgDelayPostponesBranches) {
  Trans t = Global2pc("msg", "m3");
  t.steps = {{{"action", "http://b/a1"}}};
  t.bin_payloads = {"{}"};
  t.g.custom_data = R"({"delay":10})";
  ASSERT_TRUE(Submit(t).ok());
  EXPECT_EQ(Statuses("m3"), (Strings{"prepared"}));
  EXPECT_EQ(Cron(8), "");
  EXPECT_EQ(Cron(12), "m3");
  EXPECT_EQ(Global("m3").status, "succeed");
}

TEST_F(EngineTest, TccConfirmsInReverseRegistrationOrder) {
  ASSERT_TRUE(Run(api_->Prepare(Global2pc("tcc", "t1"))).ok());
  ASSERT_TRUE(Register("tcc", "t1", "01").ok());
  ASSERT_TRUE(Register("tcc", "t1", "02").ok());
  EXPECT_EQ(Register("tcc", "t1", "02").code(), StatusCode::kInternal);  // duplicate: DTM's 500
  ASSERT_TRUE(Submit(Global2pc("tcc", "t1")).ok());
  EXPECT_EQ(Global("t1").status, "succeed");
  EXPECT_EQ(Statuses("t1"), (Strings{"prepared", "succeed", "prepared", "succeed"}));
  EXPECT_EQ(caller_.CalledUrls(),
            (Strings{"http://b/confirm02#confirm", "http://b/confirm01#confirm"}));
}

TEST_F(EngineTest, TccTimeoutCancelsAndRefusesLateRegistration) {
  ASSERT_TRUE(Run(api_->Prepare(Global2pc("tcc", "t2"))).ok());
  ASSERT_TRUE(Register("tcc", "t2", "01").ok());
  EXPECT_EQ(Cron(300), "t2");
  auto g = Global("t2");
  EXPECT_EQ(g.status, "failed");
  EXPECT_EQ(g.rollback_reason, "Timeout after 0 seconds");
  EXPECT_EQ(Statuses("t2"), (Strings{"succeed", "prepared"}));
  EXPECT_TRUE(Register("tcc", "t2", "02").IsFailure());
}

TEST_F(EngineTest, TccAbortCancelsWithReason) {
  ASSERT_TRUE(Run(api_->Prepare(Global2pc("tcc", "t3"))).ok());
  ASSERT_TRUE(Register("tcc", "t3", "01").ok());
  caller_.Script("http://b/cancel01", {kOngoing});
  Trans abort = Global2pc("tcc", "t3");
  abort.rollback_reason_request = "try failed";
  ASSERT_TRUE(Run(api_->Abort(abort)).ok());
  EXPECT_EQ(Global("t3").status, "aborting");
  EXPECT_EQ(Cron(11), "t3");
  EXPECT_EQ(Global("t3").status, "failed");
  EXPECT_EQ(Global("t3").rollback_reason, "try failed");
}

TEST_F(EngineTest, XaCommitOngoingThenCron) {
  ASSERT_TRUE(Run(api_->Prepare(Global2pc("xa", "x1"))).ok());
  ASSERT_TRUE(Register("xa", "x1", "01").ok());
  ASSERT_TRUE(Register("xa", "x1", "02").ok());
  caller_.Script("http://b/xa01", {kOngoing});
  ASSERT_TRUE(Submit(Global2pc("xa", "x1")).ok());
  EXPECT_EQ(Global("x1").status, "submitted");
  EXPECT_EQ(Cron(11), "x1");
  EXPECT_EQ(Global("x1").status, "succeed");
  EXPECT_EQ(Statuses("x1"), (Strings{"prepared", "succeed", "prepared", "succeed"}));
}

TEST_F(EngineTest, ForceStop) {
  caller_.Script("http://b/a1", {kOngoing});
  ASSERT_TRUE(Submit(Saga("f1", 1)).ok());
  EXPECT_TRUE(Run(api_->ForceStop("f1")).ok());
  EXPECT_EQ(Global("f1").status, "failed");
  EXPECT_TRUE(Run(api_->ForceStop("f1")).IsFailure());
  EXPECT_EQ(Cron(3600), "");  // finished: never leased again
}

}  // namespace
}  // namespace lynx::server
