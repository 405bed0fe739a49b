// The business side of the SDK against the real dtmd and real databases: the example's account
// service (examples/transfer, balances in SQLite, PostgreSQL or MariaDB; Redis accounts) serving
// its branches through HttpBranchServer + BarrierHandler, every mode succeeding and rolling back
// with the balances checked in the database, XA on PostgreSQL and MariaDB (§13.5), DoAndSubmitDB
// (§13.3), the Redis barrier, the status -> HTTP mapping of the helper, and pass-through headers
// reaching the branches on the first call and on dtmd's retries.
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>

#include <boost/json/serialize.hpp>

#include "account_fixture.h"

namespace lynx::it {
namespace {

constexpr int64_t kStart = kStartBalance;

class BusinessTest : public AccountTest {
 protected:
  void SetUp() override {
    SdkTest::SetUp();
    if (HasFatalFailure()) return;
    StartService("lynx_busi");
    if (HasFatalFailure() || IsSkipped()) return;
    server_ = std::make_unique<dtm::HttpBranchServer>();
    service_->Register(*server_, "/api");
    Status st = server_->Start();
    ASSERT_TRUE(st.ok()) << st.message();
  }
  void TearDown() override {
    if (server_) server_->Stop();
    SdkTest::TearDown();
  }

  std::string U(const std::string& route) const { return server_->Url("/api/" + route); }

  std::unique_ptr<dtm::HttpBranchServer> server_;
};

TEST_P(BusinessTest, SagaMovesTheMoneyOrCompensates) {
  std::string gid = client_->GenerateGid();
  dtm::Saga saga = client_->NewSaga(gid);
  saga.Add(U("TransOut"), U("TransOutRevert"), {{"amount", 30}});
  saga.Add(U("TransIn"), U("TransInRevert"), {{"amount", 30}});
  saga.SetWaitResult(true);
  Status st = saga.Submit();
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(dtm_.Status(gid), "succeed");
  ExpectBalances(970, 1030);

  // TransIn to an unknown account fails: TransOut is compensated, TransIn's compensation is empty.
  std::string gid2 = client_->GenerateGid();
  dtm::Saga failing = client_->NewSaga(gid2);
  failing.Add(U("TransOut"), U("TransOutRevert"), {{"amount", 30}});
  failing.Add(U("TransIn"), U("TransInRevert"), {{"amount", 30}, {"user_id", 99}});
  failing.SetWaitResult(true);
  EXPECT_TRUE(failing.Submit().IsFailure());
  EXPECT_EQ(dtm_.Status(gid2), "failed");
  EXPECT_EQ(dtm_.BranchStatuses(gid2),
            (std::vector<std::string>{"succeed", "succeed", "succeed", "failed"}));
  ExpectBalances(970, 1030);
}

TEST_P(BusinessTest, TccHelperConfirmsOrCancelsAndUnfreezes) {
  dtm::TransactionHelper helper(*client_);
  auto branches = [&](int64_t amount) {
    return std::vector<dtm::TCCBranch>{{.try_url = U("TransOutTry"),
                                        .confirm_url = U("TransOutConfirm"),
                                        .cancel_url = U("TransOutCancel"),
                                        .data = {{"amount", amount}}},
                                       {.try_url = U("TransInTry"),
                                        .confirm_url = U("TransInConfirm"),
                                        .cancel_url = U("TransInCancel"),
                                        .data = {{"amount", amount}}}};
  };
  dtm::TransactionOptions opts{.wait_result = true};
  std::string gid = helper.MustGenGid();
  Status st = helper.ExecuteTCC(Context::Background(), gid, branches(40), opts);
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(dtm_.Status(gid), "succeed");
  ExpectBalances(960, 1040);
  EXPECT_EQ(*service_->Frozen(kTransOutUser), 0);
  EXPECT_EQ(*service_->Frozen(kTransInUser), 0);

  std::string gid2 = helper.MustGenGid();
  EXPECT_TRUE(helper.ExecuteTCC(Context::Background(), gid2, branches(5000), opts).IsFailure());
  EXPECT_EQ(dtm_.Status(gid2), "failed");
  ExpectBalances(960, 1040);
  EXPECT_EQ(*service_->Frozen(kTransOutUser), 0);
}

TEST_P(BusinessTest, XaCommitsOrRollsBackOnTheDatabase) {
  if (!IsXaDriver()) GTEST_SKIP() << "SQLite has no XA";
  dtm::TransactionHelper helper(*client_);
  dtm::TransactionOptions opts{.wait_result = true};
  std::string gid = helper.MustGenGid();
  Status st = helper.ExecuteXA(Context::Background(), gid,
                               {{.action = U("TransOut"), .data = R"({"amount": 50})"},
                                {.action = U("TransIn"), .data = R"({"amount": 50})"}},
                               opts);
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(dtm_.Status(gid), "succeed");
  EXPECT_EQ(dtm_.BranchStatuses(gid),
            (std::vector<std::string>{"prepared", "succeed", "prepared", "succeed"}));
  ExpectBalances(950, 1050);

  // A repeated phase-2 commit (the xid is gone) is a success, as in DTM.
  auto again =
      Http(server_->port(), "POST",
           WithQuery("/api/TransOut",
                     {{"gid", gid}, {"branch_id", "01"}, {"trans_type", "xa"}, {"op", "commit"}}));
  EXPECT_EQ(again.status, 200) << again.body;

  // Branch 2 fails locally (unknown account): only branch 1 registered, rolled back.
  std::string gid2 = helper.MustGenGid();
  st = helper.ExecuteXA(Context::Background(), gid2,
                        {{.action = U("TransOut"), .data = R"({"amount": 50})"},
                         {.action = U("TransIn"), .data = R"({"amount": 50, "user_id": 99})"}},
                        opts);
  EXPECT_TRUE(st.IsFailure()) << st.message();
  EXPECT_EQ(dtm_.Status(gid2), "failed");
  EXPECT_EQ(dtm_.BranchStatuses(gid2), (std::vector<std::string>{"succeed", "prepared"}));
  ExpectBalances(950, 1050);
}

TEST_P(BusinessTest, XaGidWithAQuoteIsALocalError) {
  if (!IsXaDriver()) GTEST_SKIP() << "SQLite has no XA";
  std::string gid = "xa-quote'" + testing_dbs::UniqueSuffix();
  Status st = dtm::XaGlobalTransaction(dtm_.Url(), gid, [&](dtm::Xa& xa) {
    return xa.CallBranch(U("TransOut"), {{"amount", 10}}).status();
  });
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("cannot be an XA id"), std::string::npos) << st.message();
  ExpectBalances(kStart, kStart);
}

TEST_P(BusinessTest, DoAndSubmitDBCommitsLocallyThenDelivers) {
  auto db = dtm::OpenSqlDb(service_->conf());
  ASSERT_TRUE(db.ok()) << db.status().message();
  auto pay = [&](int64_t amount) {
    return [amount](dtm::SqlDb& tx) -> Status {
      auto changed = tx.Execute(
          "UPDATE user_account SET balance = balance - ? WHERE user_id = ? AND balance >= ?",
          {std::to_string(amount), std::to_string(kTransOutUser), std::to_string(amount)});
      if (!changed.ok()) return changed.status();
      return *changed == 1 ? Status::Ok() : Status::Failure("insufficient balance");
    };
  };
  // Success: the local transaction commits, dtmd delivers TransIn.
  std::string gid = client_->GenerateGid();
  dtm::Msg msg = client_->NewMsg(gid);
  msg.Add(U("TransIn"), {{"amount", 20}});
  msg.SetWaitResult(true);
  Status st = msg.DoAndSubmitDB(U("QueryPrepared"), **db, pay(20));
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(dtm_.Status(gid), "succeed");
  ExpectBalances(980, 1020);

  // Busi failure: nothing changes, the message is aborted.
  std::string gid2 = client_->GenerateGid();
  dtm::Msg failing = client_->NewMsg(gid2);
  failing.Add(U("TransIn"), {{"amount", 5000}});
  EXPECT_TRUE(failing.DoAndSubmitDB(U("QueryPrepared"), **db, pay(5000)).IsFailure());
  EXPECT_EQ(dtm_.Status(gid2), "failed");
  ExpectBalances(980, 1020);

  // The back-check ran first (it wins): the late local transaction is DUPLICATED and changes
  // nothing.
  std::string gid3 = client_->GenerateGid();
  auto check =
      Http(server_->port(), "GET",
           WithQuery("/api/QueryPrepared",
                     {{"gid", gid3}, {"branch_id", "00"}, {"trans_type", "msg"}, {"op", "msg"}}));
  EXPECT_EQ(check.status, 409) << check.body;
  dtm::Msg late = client_->NewMsg(gid3);
  late.Add(U("TransIn"), {{"amount", 20}});
  st = late.DoAndSubmitDB(U("QueryPrepared"), **db, pay(20));
  EXPECT_TRUE(dtm::IsDuplicated(st)) << st.message();
  ExpectBalances(980, 1020);

  // DTM unreachable: an error, and the local transaction never ran.
  dtm::Msg unreachable("http://127.0.0.1:" + std::to_string(UnusedPort()) + "/api/dtmsvr",
                       client_->GenerateGid());
  unreachable.Add(U("TransIn"), {{"amount", 20}});
  EXPECT_FALSE(unreachable.DoAndSubmitDB(U("QueryPrepared"), **db, pay(20)).ok());
  ExpectBalances(980, 1020);
}

TEST_P(BusinessTest, PreparedMsgIsBackCheckedByTheServer) {
  // The DoAndSubmitDB steps done by hand, and the submit lost: the server asks the account
  // service's QueryPrepared (HTTP GET) once the message timed out. The local transaction
  // committed -> the server submits and delivers TransIn.
  auto db = dtm::OpenSqlDb(service_->conf());
  ASSERT_TRUE(db.ok()) << db.status().message();
  std::string gid = client_->GenerateGid();
  dtm::Msg committed = client_->NewMsg(gid);
  committed.Add(U("TransIn"), {{"amount", 20}});
  BackCheckSoonOnReference(committed);
  ASSERT_TRUE(committed.Prepare(U("QueryPrepared")).ok());
  auto bb = dtm::BranchBarrier::From("msg", gid, "00", "msg");
  ASSERT_TRUE(bb.ok());
  Status st = bb->CallWithDB(**db, [](dtm::SqlDb& tx) {
    return tx
        .Execute("UPDATE user_account SET balance = balance - 20 WHERE user_id = ?",
                 {std::to_string(kTransOutUser)})
        .status();
  });
  ASSERT_TRUE(st.ok()) << st.message();
  RetryLater(gid, 70, "succeed");
  ExpectBalances(980, 1020);

  // Never committed -> the back-check's barrier row blocks it for good, the message fails.
  std::string gid2 = client_->GenerateGid();
  dtm::Msg lost = client_->NewMsg(gid2);
  lost.Add(U("TransIn"), {{"amount", 20}});
  BackCheckSoonOnReference(lost);
  ASSERT_TRUE(lost.Prepare(U("QueryPrepared")).ok());
  RetryLater(gid2, 70, "failed");
  EXPECT_EQ(dtm_.BranchStatuses(gid2), (std::vector<std::string>{"prepared"}));
  ExpectBalances(980, 1020);
}

TEST_P(BusinessTest, BarrierHandlerRejectsTheWrongOp) {
  // A TCC try URL called as a saga action: a clear error naming both ops, nothing changes.
  auto res = Http(server_->port(), "POST",
                  WithQuery("/api/TransOutTry", {{"gid", "wrong-op-" + testing_dbs::UniqueSuffix()},
                                                 {"branch_id", "01"},
                                                 {"trans_type", "saga"},
                                                 {"op", "action"}}),
                  R"({"amount": 10})");
  EXPECT_EQ(res.status, 500);
  EXPECT_NE(res.body.find("op try called with op 'action'"), std::string::npos) << res.body;
  ExpectBalances(kStart, kStart);
  EXPECT_EQ(*service_->Frozen(kTransOutUser), 0);
}

std::string DriverName(const testing::TestParamInfo<std::string>& info) { return info.param; }

INSTANTIATE_TEST_SUITE_P(Drivers, BusinessTest, testing::Values("sqlite", "postgres", "mysql"),
                         DriverName);

// The Redis barrier through dtmd: saga and DoAndSubmit with Redis accounts.
class RedisBusinessTest : public SdkTest {
 protected:
  void SetUp() override {
    SdkTest::SetUp();
    if (HasFatalFailure()) return;
    auto port = testing_dbs::RedisPort();
    LYNX_REQUIRE_SERVER(port.has_value(), "redis");
    service_ = std::make_unique<AccountService>(
        dtm::DBConf{.driver = "sqlite", .db = dir_->path() + "/busi.sqlite"});
    ASSERT_TRUE(service_->Init().ok());
    ASSERT_TRUE(service_->UseRedis(testing_dbs::Host(), *port).ok());
    out_ = 100 + std::stoi(testing_dbs::UniqueSuffix().substr(0, 6));
    in_ = out_ + 1;
    ASSERT_TRUE(service_->SetRedisBalances({{out_, kStart}, {in_, kStart}}).ok());
    server_ = std::make_unique<dtm::HttpBranchServer>();
    service_->Register(*server_, "/api");
    ASSERT_TRUE(server_->Start().ok());
  }
  void TearDown() override {
    if (server_) server_->Stop();
    SdkTest::TearDown();
  }
  std::string U(const std::string& route) const { return server_->Url("/api/" + route); }
  void ExpectBalances(int64_t out, int64_t in) {
    EXPECT_EQ(*service_->RedisBalance(out_), out);
    EXPECT_EQ(*service_->RedisBalance(in_), in);
  }

  std::unique_ptr<AccountService> service_;
  std::unique_ptr<dtm::HttpBranchServer> server_;
  int out_ = 0;
  int in_ = 0;
};

TEST_F(RedisBusinessTest, SagaMovesTheMoneyOrFailsOnInsufficientBalance) {
  auto run = [&](int64_t amount) {
    std::string gid = client_->GenerateGid();
    dtm::Saga saga = client_->NewSaga(gid);
    saga.Add(U("TransOutRedis"), U("TransOutRevertRedis"), {{"amount", amount}, {"user_id", out_}});
    saga.Add(U("TransInRedis"), U("TransInRevertRedis"), {{"amount", amount}, {"user_id", in_}});
    saga.SetWaitResult(true);
    saga.Submit();
    return dtm_.Status(gid);
  };
  EXPECT_EQ(run(30), "succeed");
  ExpectBalances(970, 1030);
  // 5000 > 970: TransOut fails (FAILURE), its compensation is empty: balances unchanged.
  EXPECT_EQ(run(5000), "failed");
  ExpectBalances(970, 1030);
}

TEST_F(RedisBusinessTest, DoAndSubmitWithTheRedisBarrier) {
  auto port = testing_dbs::RedisPort();
  auto rd = dtm::RedisDb::Connect(testing_dbs::Host(), *port);
  ASSERT_TRUE(rd.ok());
  auto pay = [&](int64_t amount) {
    return [&, amount](dtm::BranchBarrier& bb) {
      return bb.RedisCheckAdjustAmount(*rd, "lynx-account-" + std::to_string(out_), -amount, 86400);
    };
  };
  std::string gid = client_->GenerateGid();
  dtm::Msg msg = client_->NewMsg(gid);
  msg.Add(U("TransInRedis"), {{"amount", 25}, {"user_id", in_}});
  msg.SetWaitResult(true);
  Status st = msg.DoAndSubmit(U("QueryPreparedRedis"), pay(25));
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(dtm_.Status(gid), "succeed");
  ExpectBalances(975, 1025);

  std::string gid2 = client_->GenerateGid();
  dtm::Msg failing = client_->NewMsg(gid2);
  failing.Add(U("TransInRedis"), {{"amount", 5000}, {"user_id", in_}});
  EXPECT_TRUE(failing.DoAndSubmit(U("QueryPreparedRedis"), pay(5000)).IsFailure());
  EXPECT_EQ(dtm_.Status(gid2), "failed");
  ExpectBalances(975, 1025);
}

// HttpBranchServer's mapping, and headers travelling: the incoming request's headers reach the
// handler's context, and the pass-through ones reach every branch call, including dtmd's retry.
class BranchServerTest : public SdkTest {
 protected:
  void SetUp() override {
    SdkTest::SetUp();
    if (HasFatalFailure()) return;
    server_ = std::make_unique<dtm::HttpBranchServer>();
    server_->Handle("POST", "/ok", [](const dtm::BranchRequest&) { return Status::Ok(); });
    server_->Handle("POST", "/failure",
                    [](const dtm::BranchRequest&) { return Status::Failure("no money"); });
    server_->Handle("POST", "/ongoing",
                    [](const dtm::BranchRequest&) { return Status::Ongoing("later"); });
    server_->Handle("POST", "/error",
                    [](const dtm::BranchRequest&) { return Status::Unavailable("db down"); });
    server_->Handle("POST", "/throws", [](const dtm::BranchRequest&) -> Status {
      throw std::runtime_error("handler bug");
    });
    server_->HandleJson("POST", "/json", [](const dtm::BranchRequest& r) -> StatusOr<dtm::Json> {
      auto body = r.JsonBody();
      if (!body.ok()) return body.status();
      return dtm::Json{{"echo", *body}};
    });
    // Records X-Request-Id of every call; fails the first call of each gid (dtmd retries).
    server_->Handle("POST", "/record", [this](const dtm::BranchRequest& r) {
      std::lock_guard lock(mu_);
      auto it = r.headers.find("x-request-id");
      seen_.push_back(it == r.headers.end() ? "<none>" : it->second);
      return seen_.size() == 1 ? Status::Unavailable("first call fails") : Status::Ok();
    });
    // A service that starts a saga from inside its handler, with the handler's context.
    server_->Handle("POST", "/start", [this](const dtm::BranchRequest& r) {
      dtm::Saga saga = client_->NewSaga(started_gid_, r.context);
      if (kReferenceServer) saga.SetRetryInterval(kReferenceRetryInterval);
      saga.Add(server_->Url("/record"), "", {{"n", 1}});
      return saga.Submit();
    });
    // Blocks until the test opens the gate (a try slower than the branch timeout).
    server_->Handle("POST", "/slow", [this](const dtm::BranchRequest&) {
      std::unique_lock lock(mu_);
      gate_cv_.wait(lock, [&] { return gate_open_; });
      return Status::Ok();
    });
    server_->Handle("POST", "/cancel", [this](const dtm::BranchRequest& r) {
      std::lock_guard lock(mu_);
      cancelled_.push_back(r.query.at("branch_id"));
      return Status::Ok();
    });
    ASSERT_TRUE(server_->Start().ok());
  }
  void TearDown() override {
    OpenGate();
    if (server_) server_->Stop();
    SdkTest::TearDown();
  }
  void OpenGate() {
    std::lock_guard lock(mu_);
    gate_open_ = true;
    gate_cv_.notify_all();
  }

  std::unique_ptr<dtm::HttpBranchServer> server_;
  std::condition_variable gate_cv_;
  bool gate_open_ = false;
  std::vector<std::string> cancelled_;
  std::mutex mu_;
  std::vector<std::string> seen_;
  std::string started_gid_;
};

TEST_F(BranchServerTest, StatusesMapToDtmHttpCodes) {
  const uint16_t p = server_->port();
  EXPECT_EQ(Http(p, "POST", "/ok").body, R"({"dtm_result":"SUCCESS"})");
  auto failure = Http(p, "POST", "/failure");
  EXPECT_EQ(failure.status, 409);
  EXPECT_NE(failure.body.find(R"("dtm_result":"FAILURE")"), std::string::npos);
  EXPECT_NE(failure.body.find("no money"), std::string::npos);
  EXPECT_EQ(Http(p, "POST", "/ongoing").status, 425);
  EXPECT_EQ(Http(p, "POST", "/error").status, 500);
  auto thrown = Http(p, "POST", "/throws");
  EXPECT_EQ(thrown.status, 500);
  EXPECT_NE(thrown.body.find("handler bug"), std::string::npos) << thrown.body;
  auto json = Http(p, "POST", "/json", R"({"a":1})");
  EXPECT_EQ(json.status, 200);
  EXPECT_EQ(json.body, R"({"echo":{"a":1}})");
  EXPECT_EQ(Http(p, "POST", "/json", "{not json").status, 500);
  EXPECT_EQ(Http(p, "POST", "/nowhere").status, 404);
  EXPECT_EQ(Http(p, "GET", "/ok").status, 404);  // routes are per method
}

TEST_F(BranchServerTest, PassThroughHeadersReachTheBranchAndDtmdsRetry) {
  started_gid_ = client_->GenerateGid();
  auto res = Http(server_->port(), "POST", "/start", "{}",
                  {{"X-Request-Id", "req-42"}, {"X-Not-Passed", "secret"}});
  ASSERT_EQ(res.status, 200) << res.body;
  // The first call failed (500): once that pass is over, the server retries it on its next cron
  // pass.
  if (kReferenceServer) {
    ASSERT_TRUE(WaitUntil([&] {
      std::lock_guard lock(mu_);
      return !seen_.empty();
    }));
  } else {
    ASSERT_TRUE(dtm_.WaitPasses(started_gid_, 1))
        << dtm_.Status(started_gid_) << " " << seen_.size() << " " << started_gid_ << " "
        << boost::json::serialize(dtm_.Query(started_gid_));
  }
  EXPECT_EQ(dtm_.Status(started_gid_), "submitted");
  // Past the retry interval (10 s), before the saga's timeout_to_fail (60 s).
  RetryLater(started_gid_, 25, "succeed");
  std::lock_guard lock(mu_);
  EXPECT_EQ(seen_, (std::vector<std::string>{"req-42", "req-42"}));
}

// A try slower than branch_timeout: the helper gets a timeout error, aborts, dtmd cancels the
// registered branch, and the client's active-transaction gauge is back to zero.
TEST_F(BranchServerTest, TryTimingOutAbortsAndCancels) {
  dtm::TransactionHelper helper(*client_);
  std::string gid = helper.MustGenGid();
  dtm::TransactionOptions opts{.branch_timeout = 1, .wait_result = true};
  Status st = helper.ExecuteTCC(Context::Background(), gid,
                                {{.try_url = server_->Url("/slow"),
                                  .confirm_url = server_->Url("/ok"),
                                  .cancel_url = server_->Url("/cancel"),
                                  .data = {{"n", 1}}}},
                                opts);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("/slow"), std::string::npos) << st.message();
  OpenGate();
  EXPECT_EQ(dtm_.Status(gid), "failed");
  {
    std::lock_guard lock(mu_);
    EXPECT_EQ(cancelled_, (std::vector<std::string>{"01"}));
  }
  const std::string metrics = client_->Metrics().Serialize();
  EXPECT_NE(metrics.find("lynx_dtm_active_transactions 0"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find(R"(lynx_dtm_transactions_total{type="tcc",status="failure"} 1)"),
            std::string::npos)
      << metrics;
}

}  // namespace
}  // namespace lynx::it
