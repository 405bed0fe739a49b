// The sub-transaction barrier on every SQL driver (dtm-protocol.md §8.3-8.4), against SQLite and
// the real PostgreSQL and MariaDB servers of scripts/test.sh: normal, duplicate, empty
// compensation, hanging action, rollback on error and exception, barrier ids, msg back-check,
// concurrent compensations.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <atomic>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <thread>

#include <lynx/dtm/barrier.h>
#include <lynx/dtm/sql.h>

#include "../../support/test_databases.h"

namespace lynx::dtm {
namespace {

namespace fs = std::filesystem;

class BarrierSqlTest : public testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    const std::string suffix = testing_dbs::UniqueSuffix();
    if (GetParam() == "sqlite") {
      std::string pattern = (fs::path(testing::TempDir()) / "barrier_test_XXXXXX").string();
      char* dir = mkdtemp(pattern.data());
      ASSERT_NE(dir, nullptr);
      dir_ = dir;
      conf_ = DBConf{.driver = "sqlite", .db = (fs::path(dir_) / "busi.sqlite").string()};
    } else {
      auto conf = testing_dbs::ServerConf(GetParam());
      LYNX_REQUIRE_SERVER(conf.has_value(), GetParam());
      conf_ = *conf;
    }
    gid_ = "barrier-" + suffix;
    account_ = suffix.substr(0, 9);
    table_ = GetParam() == "mysql" ? "test.account_barrier" : "account_barrier";
    auto db = OpenSqlDb(conf_);
    ASSERT_TRUE(db.ok()) << db.status().message();
    db_ = std::move(*db);
    ASSERT_TRUE(CreateBarrierTable(*db_).ok());
    if (GetParam() == "mysql") {
      ASSERT_TRUE(db_->Exec("CREATE DATABASE IF NOT EXISTS test").ok());
    }
    Status created = db_->Exec("CREATE TABLE IF NOT EXISTS " + table_ +
                               " (id BIGINT PRIMARY KEY, balance BIGINT)");
    ASSERT_TRUE(created.ok()) << created.message();
    ASSERT_TRUE(
        db_->Execute("INSERT INTO " + table_ + " (id, balance) VALUES (?, 100)", {account_}).ok());
  }
  void TearDown() override {
    db_.reset();
    if (!dir_.empty()) fs::remove_all(dir_);
  }

  BranchBarrier Make(const std::string& trans_type, const std::string& op,
                     const std::string& branch_id = "01") {
    auto bb = BranchBarrier::From(trans_type, gid_, branch_id, op);
    EXPECT_TRUE(bb.ok());
    return *bb;
  }

  // busi that adds `delta` to the balance and counts its calls.
  std::function<Status(SqlDb&)> Adjust(int delta, int* calls) {
    return [this, delta, calls](SqlDb& tx) {
      ++*calls;
      auto changed = tx.Execute("UPDATE " + table_ + " SET balance = balance + ? WHERE id = ?",
                                {std::to_string(delta), account_});
      return changed.ok() ? Status::Ok() : changed.status();
    };
  }

  std::string Balance() {
    auto rows = db_->Query("SELECT balance FROM " + table_ + " WHERE id = ?", {account_});
    return rows.ok() && !rows->empty() ? (*rows)[0][0] : "?";
  }

  // This test's barrier rows as "branch_id/op/barrier_id/reason", in insertion order.
  std::vector<std::string> BarrierRows() {
    auto rows = db_->Query("SELECT branch_id, op, barrier_id, reason FROM " +
                               BarrierTableName(db_->driver()) + " WHERE gid = ? ORDER BY id",
                           {gid_});
    std::vector<std::string> out;
    if (!rows.ok()) return {"error: " + rows.status().message()};
    for (const auto& r : *rows) out.push_back(r[0] + "/" + r[1] + "/" + r[2] + "/" + r[3]);
    return out;
  }

  std::string dir_;
  DBConf conf_;
  std::string gid_;
  std::string account_;
  std::string table_;
  std::unique_ptr<SqlDb> db_;
};

using Rows = std::vector<std::string>;

TEST_P(BarrierSqlTest, ActionRunsOnceAndARepeatDoesNothing) {
  int calls = 0;
  BranchBarrier bb = Make("saga", "action");
  ASSERT_TRUE(bb.CallWithDB(*db_, Adjust(-30, &calls)).ok());
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(Balance(), "70");
  EXPECT_EQ(bb.barrier_id(), 1);

  BranchBarrier again = Make("saga", "action");  // DTM retries the same branch call
  Status st = again.CallWithDB(*db_, Adjust(-30, &calls));
  EXPECT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(Balance(), "70");
  EXPECT_EQ(BarrierRows(), (Rows{"01/action/01/action"}));
  EXPECT_TRUE(!db_->InTransaction());
}

TEST_P(BarrierSqlTest, CompensateBeforeActionIsEmptyAndTheLateActionHangs) {
  int calls = 0;
  BranchBarrier compensate = Make("saga", "compensate");
  ASSERT_TRUE(compensate.CallWithDB(*db_, Adjust(30, &calls)).ok());
  EXPECT_EQ(calls, 0);
  EXPECT_EQ(BarrierRows(), (Rows{"01/action/01/compensate", "01/compensate/01/compensate"}));

  BranchBarrier action = Make("saga", "action");
  ASSERT_TRUE(action.CallWithDB(*db_, Adjust(-30, &calls)).ok());
  EXPECT_EQ(calls, 0);
  EXPECT_EQ(Balance(), "100");
  EXPECT_EQ(BarrierRows().size(), 2u);
}

TEST_P(BarrierSqlTest, CancelAfterTryRunsBusi) {
  int calls = 0;
  BranchBarrier try_bb = Make("tcc", "try");
  ASSERT_TRUE(try_bb.CallWithDB(*db_, Adjust(-30, &calls)).ok());
  BranchBarrier cancel = Make("tcc", "cancel");
  ASSERT_TRUE(cancel.CallWithDB(*db_, Adjust(30, &calls)).ok());
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(Balance(), "100");
  EXPECT_EQ(BarrierRows(), (Rows{"01/try/01/try", "01/cancel/01/cancel"}));

  BranchBarrier cancel_again = Make("tcc", "cancel");
  ASSERT_TRUE(cancel_again.CallWithDB(*db_, Adjust(30, &calls)).ok());
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(Balance(), "100");
}

TEST_P(BarrierSqlTest, XaRollbackMapsToAction) {
  int calls = 0;
  BranchBarrier rollback = Make("xa", "rollback");
  ASSERT_TRUE(rollback.CallWithDB(*db_, Adjust(30, &calls)).ok());
  EXPECT_EQ(calls, 0);
  EXPECT_EQ(BarrierRows(), (Rows{"01/action/01/rollback", "01/rollback/01/rollback"}));
}

TEST_P(BarrierSqlTest, BusiErrorRollsBackBothRowsSoARetryRuns) {
  int calls = 0;
  BranchBarrier try_bb = Make("tcc", "try");
  ASSERT_TRUE(try_bb.CallWithDB(*db_, Adjust(-30, &calls)).ok());
  EXPECT_EQ(Balance(), "70");

  BranchBarrier failing = Make("tcc", "cancel");
  Status st = failing.CallWithDB(*db_, [&](SqlDb& tx) {
    ++calls;
    EXPECT_TRUE(tx.Execute("UPDATE " + table_ + " SET balance = 0 WHERE id = ?", {account_}).ok());
    return Status::Unavailable("downstream is down");
  });
  EXPECT_EQ(st.code(), StatusCode::kUnavailable);
  EXPECT_EQ(st.message(), "downstream is down");
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(Balance(), "70");
  // Neither the origin row (try, already present) nor the cancel row was kept.
  EXPECT_EQ(BarrierRows(), (Rows{"01/try/01/try"}));
  EXPECT_TRUE(!db_->InTransaction());

  // DTM retries the cancel with a fresh barrier: it runs.
  BranchBarrier retry = Make("tcc", "cancel");
  ASSERT_TRUE(retry.CallWithDB(*db_, Adjust(30, &calls)).ok());
  EXPECT_EQ(calls, 3);
  EXPECT_EQ(Balance(), "100");
  EXPECT_EQ(BarrierRows(), (Rows{"01/try/01/try", "01/cancel/01/cancel"}));
}

TEST_P(BarrierSqlTest, BusiErrorOnACompensationRollsBackTheOriginRowToo) {
  int calls = 0;
  BranchBarrier action = Make("saga", "action");
  ASSERT_TRUE(action.CallWithDB(*db_, Adjust(-30, &calls)).ok());
  BranchBarrier compensate = Make("saga", "compensate", "02");
  BranchBarrier failing_action = Make("saga", "action", "02");
  Status st = failing_action.CallWithDB(*db_, [&](SqlDb&) {
    ++calls;
    return Status::Failure("insufficient balance");
  });
  EXPECT_TRUE(st.IsFailure());
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(BarrierRows(), (Rows{"01/action/01/action"}));
  // The failed action left no row, so its compensation is empty and writes both rows.
  ASSERT_TRUE(compensate.CallWithDB(*db_, Adjust(30, &calls)).ok());
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(BarrierRows(), (Rows{"01/action/01/action", "02/action/01/compensate",
                                 "02/compensate/01/compensate"}));
  EXPECT_EQ(Balance(), "70");
}

TEST_P(BarrierSqlTest, ExceptionPropagatesAfterRollback) {
  BranchBarrier bb = Make("saga", "action");
  EXPECT_THROW(
      bb.CallWithDB(
          *db_,
          [this](SqlDb& tx) -> Status {
            EXPECT_TRUE(
                tx.Execute("UPDATE " + table_ + " SET balance = 0 WHERE id = ?", {account_}).ok());
            throw std::runtime_error("boom");
          }),
      std::runtime_error);
  EXPECT_TRUE(!db_->InTransaction());
  EXPECT_EQ(Balance(), "100");
  EXPECT_TRUE(BarrierRows().empty());

  int calls = 0;
  BranchBarrier retry = Make("saga", "action");
  ASSERT_TRUE(retry.CallWithDB(*db_, Adjust(-30, &calls)).ok());
  EXPECT_EQ(calls, 1);
}

TEST_P(BarrierSqlTest, TwoCallsInOneHandlerUseBarrierIds01And02) {
  int calls = 0;
  BranchBarrier bb = Make("saga", "action");
  ASSERT_TRUE(bb.CallWithDB(*db_, Adjust(-10, &calls)).ok());
  ASSERT_TRUE(bb.CallWithDB(*db_, Adjust(-20, &calls)).ok());
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(bb.barrier_id(), 2);
  EXPECT_EQ(Balance(), "70");
  EXPECT_EQ(BarrierRows(), (Rows{"01/action/01/action", "01/action/02/action"}));
}

TEST_P(BarrierSqlTest, CallRefusesAnOpenTransaction) {
  ASSERT_TRUE(db_->Exec("BEGIN").ok());
  int calls = 0;
  BranchBarrier bb = Make("saga", "action");
  EXPECT_EQ(bb.CallWithDB(*db_, Adjust(-10, &calls)).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(calls, 0);
  ASSERT_TRUE(db_->Exec("ROLLBACK").ok());
}

TEST_P(BarrierSqlTest, QueryPreparedBeforeTheLocalTransactionFailsIt) {
  BranchBarrier check = Make("msg", "msg", "00");
  Status queried = check.QueryPrepared(*db_);
  EXPECT_TRUE(queried.IsFailure()) << queried.message();
  EXPECT_EQ(BarrierRows(), (Rows{"00/msg/01/rollback"}));

  int calls = 0;
  BranchBarrier local = Make("msg", "msg", "00");
  Status st = local.CallWithDB(*db_, Adjust(-30, &calls));
  EXPECT_TRUE(IsDuplicated(st)) << st.message();
  EXPECT_EQ(st.message(), "DUPLICATED");
  EXPECT_FALSE(st.ok());
  EXPECT_FALSE(st.IsFailure());
  EXPECT_EQ(calls, 0);
  EXPECT_EQ(Balance(), "100");
  EXPECT_TRUE(!db_->InTransaction());

  // The answer does not change on a repeated back-check.
  EXPECT_TRUE(check.QueryPrepared(*db_).IsFailure());
}

TEST_P(BarrierSqlTest, LocalTransactionFirstMakesQueryPreparedSucceed) {
  int calls = 0;
  BranchBarrier local = Make("msg", "msg", "00");
  ASSERT_TRUE(local.CallWithDB(*db_, Adjust(-30, &calls)).ok());
  EXPECT_EQ(calls, 1);
  BranchBarrier check = Make("msg", "msg", "00");
  Status queried = check.QueryPrepared(*db_);
  EXPECT_TRUE(queried.ok()) << queried.message();
  EXPECT_EQ(BarrierRows(), (Rows{"00/msg/01/msg"}));
  EXPECT_EQ(Balance(), "70");
}

TEST_P(BarrierSqlTest, CreateBarrierTableIsIdempotentAndErrorsAreReported) {
  EXPECT_TRUE(CreateBarrierTable(*db_).ok());
  EXPECT_FALSE(db_->Exec("NOT SQL").ok());
  auto wrong_count = db_->Execute("UPDATE " + table_ + " SET balance = ? WHERE id = ?", {"1"});
  EXPECT_EQ(wrong_count.status().code(), StatusCode::kInvalidArgument);
  // A '?' inside a literal is not a placeholder.
  auto literal = db_->Query("SELECT 'a?b'", {});
  ASSERT_TRUE(literal.ok()) << literal.status().message();
  EXPECT_EQ((*literal)[0][0], "a?b");
}

// Two cancels racing on two connections before the try (DTM's "disorder" case): each is an empty
// compensation or a duplicate, busi never runs, and the late try is a hanging action. On MySQL
// InnoDB may resolve the race as a deadlock: the victim gets a retryable error (Unavailable; DTM
// retries the call) and its retry is a duplicate.
TEST_P(BarrierSqlTest, ConcurrentCancelsBeforeTryNeverRunBusi) {
  if (GetParam() == "sqlite")
    GTEST_SKIP() << "one writer at a time; covered by the sequential tests";
  auto other = OpenSqlDb(conf_);
  ASSERT_TRUE(other.ok()) << other.status().message();
  std::atomic<int> calls = 0;
  auto cancel = [&](SqlDb& db) {
    BranchBarrier bb = Make("tcc", "cancel");
    return bb.CallWithDB(db, [&](SqlDb&) {
      ++calls;
      return Status::Ok();
    });
  };
  Status first, second;
  std::thread t([&] { second = cancel(**other); });
  first = cancel(*db_);
  t.join();
  for (Status* st : {&first, &second}) {
    if (st->code() == StatusCode::kUnavailable && GetParam() == "mysql") *st = cancel(*db_);
    EXPECT_TRUE(st->ok()) << st->message();
  }
  EXPECT_EQ(calls.load(), 0);
  int busi_calls = 0;
  BranchBarrier late_try = Make("tcc", "try");
  ASSERT_TRUE(late_try.CallWithDB(*db_, Adjust(-30, &busi_calls)).ok());
  EXPECT_EQ(busi_calls, 0);
  EXPECT_EQ(Balance(), "100");
  EXPECT_EQ(BarrierRows(), (Rows{"01/try/01/cancel", "01/cancel/01/cancel"}));
}

std::string DriverName(const testing::TestParamInfo<std::string>& info) { return info.param; }

// Retention of barrier rows: rows older than the age go, in batches; younger rows stay.
TEST_P(BarrierSqlTest, PurgeBarriersDeletesOldRowsInBatches) {
  const std::string table = BarrierTableName(db_->driver());
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(
        InsertBarrier(*db_, "saga", gid_, "0" + std::to_string(i), "action", "01", "action").ok());
  }
  ASSERT_TRUE(InsertBarrier(*db_, "saga", gid_, "10", "action", "01", "action").ok());
  const std::string two_days_ago = GetParam() == "sqlite"     ? "datetime('now', '-2 days')"
                                   : GetParam() == "postgres" ? "now() - interval '2 days'"
                                                              : "NOW() - INTERVAL 2 DAY";
  auto aged = db_->Execute("UPDATE " + table + " SET create_time = " + two_days_ago +
                               " WHERE gid = ? AND branch_id <> '10'",
                           {gid_});
  ASSERT_TRUE(aged.ok()) << aged.status().message();
  ASSERT_EQ(*aged, 5);

  auto none = PurgeBarriers(*db_, 3 * 86400, 2);
  ASSERT_TRUE(none.ok()) << none.status().message();
  EXPECT_EQ(*none, 0);
  auto purged = PurgeBarriers(*db_, 86400, 2);  // three statements: 2 + 2 + 1
  ASSERT_TRUE(purged.ok()) << purged.status().message();
  EXPECT_EQ(*purged, 5);
  EXPECT_EQ(BarrierRows(), Rows({"10/action/01/action"}));

  EXPECT_FALSE(PurgeBarriers(*db_, -1).ok());
  EXPECT_FALSE(PurgeBarriers(*db_, 86400, 0).ok());
  ASSERT_TRUE(db_->Begin().ok());
  EXPECT_FALSE(PurgeBarriers(*db_, 86400).ok()) << "inside a transaction";
  ASSERT_TRUE(db_->Rollback().ok());
}

INSTANTIATE_TEST_SUITE_P(Drivers, BarrierSqlTest, testing::Values("sqlite", "postgres", "mysql"),
                         DriverName);

}  // namespace
}  // namespace lynx::dtm
