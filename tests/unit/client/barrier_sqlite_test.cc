// The sub-transaction barrier on SQLite (dtm-protocol.md §8.3-8.4): normal, duplicate, empty
// compensation, hanging action, rollback on error and exception, barrier ids, msg back-check.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <stdexcept>
#include <string>

#include <lynx/dtm/barrier_sqlite.h>

namespace lynx::dtm {
namespace {

namespace fs = std::filesystem;

class BarrierSqliteTest : public testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::path(testing::TempDir()) / "barrier_test_XXXXXX").string();
    char* dir = mkdtemp(pattern.data());
    ASSERT_NE(dir, nullptr);
    dir_ = dir;
    auto db = SqliteDb::Open((fs::path(dir_) / "busi.sqlite").string());
    ASSERT_TRUE(db.ok()) << db.status().message();
    db_ = std::make_unique<SqliteDb>(std::move(*db));
    ASSERT_TRUE(CreateBarrierTable(*db_).ok());
    ASSERT_TRUE(db_->Exec("CREATE TABLE account (id INTEGER PRIMARY KEY, balance INTEGER);"
                          "INSERT INTO account VALUES (1, 100);")
                    .ok());
  }
  void TearDown() override {
    db_.reset();
    fs::remove_all(dir_);
  }

  static BranchBarrier Make(const std::string& trans_type, const std::string& op,
                            const std::string& branch_id = "01") {
    auto bb = BranchBarrier::From(trans_type, "gid-1", branch_id, op);
    EXPECT_TRUE(bb.ok());
    return *bb;
  }

  // busi that adds `delta` to the balance and counts its calls.
  std::function<Status(SqliteDb&)> Adjust(int delta, int* calls) {
    return [delta, calls](SqliteDb& tx) {
      ++*calls;
      auto changed = tx.Execute("UPDATE account SET balance = balance + ?1 WHERE id = 1",
                                {std::to_string(delta)});
      return changed.ok() ? Status::Ok() : changed.status();
    };
  }

  std::string Balance() {
    auto rows = db_->Query("SELECT balance FROM account WHERE id = 1");
    return rows.ok() && !rows->empty() ? (*rows)[0][0] : "?";
  }

  // The barrier rows as "branch_id/op/barrier_id/reason", in insertion order.
  std::vector<std::string> BarrierRows() {
    auto rows = db_->Query("SELECT branch_id, op, barrier_id, reason FROM barrier ORDER BY id");
    std::vector<std::string> out;
    if (!rows.ok()) return {"error: " + rows.status().message()};
    for (const auto& r : *rows) out.push_back(r[0] + "/" + r[1] + "/" + r[2] + "/" + r[3]);
    return out;
  }

  std::string dir_;
  std::unique_ptr<SqliteDb> db_;
};

using Rows = std::vector<std::string>;

TEST_F(BarrierSqliteTest, ActionRunsOnceAndARepeatDoesNothing) {
  int calls = 0;
  BranchBarrier bb = Make("saga", "action");
  ASSERT_TRUE(BarrierCall(bb, *db_, Adjust(-30, &calls)).ok());
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(Balance(), "70");
  EXPECT_EQ(bb.barrier_id(), 1);

  BranchBarrier again = Make("saga", "action");  // DTM retries the same branch call
  Status st = BarrierCall(again, *db_, Adjust(-30, &calls));
  EXPECT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(Balance(), "70");
  EXPECT_EQ(BarrierRows(), (Rows{"01/action/01/action"}));
  EXPECT_TRUE(db_->InAutocommit());
}

TEST_F(BarrierSqliteTest, CompensateBeforeActionIsEmptyAndTheLateActionHangs) {
  int calls = 0;
  BranchBarrier compensate = Make("saga", "compensate");
  ASSERT_TRUE(BarrierCall(compensate, *db_, Adjust(30, &calls)).ok());
  EXPECT_EQ(calls, 0);
  EXPECT_EQ(BarrierRows(), (Rows{"01/action/01/compensate", "01/compensate/01/compensate"}));

  BranchBarrier action = Make("saga", "action");
  ASSERT_TRUE(BarrierCall(action, *db_, Adjust(-30, &calls)).ok());
  EXPECT_EQ(calls, 0);
  EXPECT_EQ(Balance(), "100");
  EXPECT_EQ(BarrierRows().size(), 2u);
}

TEST_F(BarrierSqliteTest, CancelAfterTryRunsBusi) {
  int calls = 0;
  BranchBarrier try_bb = Make("tcc", "try");
  ASSERT_TRUE(BarrierCall(try_bb, *db_, Adjust(-30, &calls)).ok());
  BranchBarrier cancel = Make("tcc", "cancel");
  ASSERT_TRUE(BarrierCall(cancel, *db_, Adjust(30, &calls)).ok());
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(Balance(), "100");
  EXPECT_EQ(BarrierRows(), (Rows{"01/try/01/try", "01/cancel/01/cancel"}));

  BranchBarrier cancel_again = Make("tcc", "cancel");
  ASSERT_TRUE(BarrierCall(cancel_again, *db_, Adjust(30, &calls)).ok());
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(Balance(), "100");
}

TEST_F(BarrierSqliteTest, XaRollbackMapsToAction) {
  int calls = 0;
  BranchBarrier rollback = Make("xa", "rollback");
  ASSERT_TRUE(BarrierCall(rollback, *db_, Adjust(30, &calls)).ok());
  EXPECT_EQ(calls, 0);
  EXPECT_EQ(BarrierRows(), (Rows{"01/action/01/rollback", "01/rollback/01/rollback"}));
}

TEST_F(BarrierSqliteTest, BusiErrorRollsBackBothRowsSoARetryRuns) {
  int calls = 0;
  BranchBarrier try_bb = Make("tcc", "try");
  ASSERT_TRUE(BarrierCall(try_bb, *db_, Adjust(-30, &calls)).ok());
  EXPECT_EQ(Balance(), "70");

  BranchBarrier failing = Make("tcc", "cancel");
  Status st = BarrierCall(failing, *db_, [&](SqliteDb& tx) {
    ++calls;
    EXPECT_TRUE(tx.Exec("UPDATE account SET balance = 0").ok());
    return Status::Unavailable("downstream is down");
  });
  EXPECT_EQ(st.code(), StatusCode::kUnavailable);
  EXPECT_EQ(st.message(), "downstream is down");
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(Balance(), "70");
  // Neither the origin row (try, already present) nor the cancel row was kept.
  EXPECT_EQ(BarrierRows(), (Rows{"01/try/01/try"}));
  EXPECT_TRUE(db_->InAutocommit());

  // DTM retries the cancel with a fresh barrier: it runs.
  BranchBarrier retry = Make("tcc", "cancel");
  ASSERT_TRUE(BarrierCall(retry, *db_, Adjust(30, &calls)).ok());
  EXPECT_EQ(calls, 3);
  EXPECT_EQ(Balance(), "100");
  EXPECT_EQ(BarrierRows(), (Rows{"01/try/01/try", "01/cancel/01/cancel"}));
}

TEST_F(BarrierSqliteTest, BusiErrorOnACompensationRollsBackTheOriginRowToo) {
  int calls = 0;
  BranchBarrier action = Make("saga", "action");
  ASSERT_TRUE(BarrierCall(action, *db_, Adjust(-30, &calls)).ok());
  BranchBarrier compensate = Make("saga", "compensate", "02");
  BranchBarrier failing_action = Make("saga", "action", "02");
  Status st = BarrierCall(failing_action, *db_, [&](SqliteDb&) {
    ++calls;
    return Status::Failure("insufficient balance");
  });
  EXPECT_TRUE(st.IsFailure());
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(BarrierRows(), (Rows{"01/action/01/action"}));
  // The failed action left no row, so its compensation is empty and writes both rows.
  ASSERT_TRUE(BarrierCall(compensate, *db_, Adjust(30, &calls)).ok());
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(BarrierRows(), (Rows{"01/action/01/action", "02/action/01/compensate",
                                 "02/compensate/01/compensate"}));
  EXPECT_EQ(Balance(), "70");
}

TEST_F(BarrierSqliteTest, ExceptionPropagatesAfterRollback) {
  BranchBarrier bb = Make("saga", "action");
  EXPECT_THROW(BarrierCall(bb, *db_,
                           [](SqliteDb& tx) -> Status {
                             EXPECT_TRUE(tx.Exec("UPDATE account SET balance = 0").ok());
                             throw std::runtime_error("boom");
                           }),
               std::runtime_error);
  EXPECT_TRUE(db_->InAutocommit());
  EXPECT_EQ(Balance(), "100");
  EXPECT_TRUE(BarrierRows().empty());

  int calls = 0;
  BranchBarrier retry = Make("saga", "action");
  ASSERT_TRUE(BarrierCall(retry, *db_, Adjust(-30, &calls)).ok());
  EXPECT_EQ(calls, 1);
}

TEST_F(BarrierSqliteTest, TwoCallsInOneHandlerUseBarrierIds01And02) {
  int calls = 0;
  BranchBarrier bb = Make("saga", "action");
  ASSERT_TRUE(BarrierCall(bb, *db_, Adjust(-10, &calls)).ok());
  ASSERT_TRUE(BarrierCall(bb, *db_, Adjust(-20, &calls)).ok());
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(bb.barrier_id(), 2);
  EXPECT_EQ(Balance(), "70");
  EXPECT_EQ(BarrierRows(), (Rows{"01/action/01/action", "01/action/02/action"}));
}

TEST_F(BarrierSqliteTest, CallRefusesAnOpenTransaction) {
  ASSERT_TRUE(db_->Exec("BEGIN").ok());
  int calls = 0;
  BranchBarrier bb = Make("saga", "action");
  EXPECT_EQ(BarrierCall(bb, *db_, Adjust(-10, &calls)).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(calls, 0);
  ASSERT_TRUE(db_->Exec("ROLLBACK").ok());
}

TEST_F(BarrierSqliteTest, QueryPreparedBeforeTheLocalTransactionFailsIt) {
  BranchBarrier check = Make("msg", "msg", "00");
  Status queried = BarrierQueryPrepared(check, *db_);
  EXPECT_TRUE(queried.IsFailure()) << queried.message();
  EXPECT_EQ(BarrierRows(), (Rows{"00/msg/01/rollback"}));

  int calls = 0;
  BranchBarrier local = Make("msg", "msg", "00");
  Status st = BarrierCall(local, *db_, Adjust(-30, &calls));
  EXPECT_TRUE(IsDuplicated(st)) << st.message();
  EXPECT_EQ(st.message(), "DUPLICATED");
  EXPECT_FALSE(st.ok());
  EXPECT_FALSE(st.IsFailure());
  EXPECT_EQ(calls, 0);
  EXPECT_EQ(Balance(), "100");
  EXPECT_TRUE(db_->InAutocommit());

  // The answer does not change on a repeated back-check.
  EXPECT_TRUE(BarrierQueryPrepared(check, *db_).IsFailure());
}

TEST_F(BarrierSqliteTest, LocalTransactionFirstMakesQueryPreparedSucceed) {
  int calls = 0;
  BranchBarrier local = Make("msg", "msg", "00");
  ASSERT_TRUE(BarrierCall(local, *db_, Adjust(-30, &calls)).ok());
  EXPECT_EQ(calls, 1);
  BranchBarrier check = Make("msg", "msg", "00");
  Status queried = BarrierQueryPrepared(check, *db_);
  EXPECT_TRUE(queried.ok()) << queried.message();
  EXPECT_EQ(BarrierRows(), (Rows{"00/msg/01/msg"}));
  EXPECT_EQ(Balance(), "70");
}

TEST_F(BarrierSqliteTest, CreateBarrierTableIsIdempotentAndOpenReportsErrors) {
  EXPECT_TRUE(CreateBarrierTable(*db_).ok());
  auto bad = SqliteDb::Open((fs::path(dir_) / "missing-dir" / "x.sqlite").string());
  EXPECT_FALSE(bad.ok());
  EXPECT_FALSE(db_->Exec("NOT SQL").ok());
}

}  // namespace
}  // namespace lynx::dtm
