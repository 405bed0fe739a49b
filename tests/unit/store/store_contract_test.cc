// The Store contract (dtm-protocol.md §7.1, §13.7) run against every backend, plus the SQLite
// store's durability and group-commit properties. Times are passed explicitly: nothing sleeps.
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <future>
#include <latch>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "../../support/io_thread.h"
#include "../../support/test_databases.h"
#include "store/memory/memory_store.h"
#include "store/mysql/mysql_store.h"
#include "store/postgres/postgres_store.h"
#include "store/redis/redis_store.h"
#include "store/sqlite/sqlite_store.h"

namespace lynx::store {
namespace {

namespace fs = std::filesystem;

constexpr UnixMs kNow = 1'700'000'000'000;
constexpr int64_t kRetryS = 10;  // RetryInterval
constexpr int64_t kRetryMs = kRetryS * 1000;

std::string MakeTempDir() {
  std::string pattern = (fs::path(testing::TempDir()) / "store_test_XXXXXX").string();
  char* dir = mkdtemp(pattern.data());
  return dir == nullptr ? std::string() : std::string(dir);
}

std::unique_ptr<SqliteStore> OpenSqlite(const std::string& dir) {
  SqliteOptions options;
  options.path = (fs::path(dir) / "dtmd.sqlite").string();
  auto store = SqliteStore::Open(options);
  EXPECT_TRUE(store.ok()) << store.status().message();
  return store.ok() ? std::move(*store) : nullptr;
}

// The schema / database / key-prefix suffix of the test whose temp dir is `dir`: tests never see
// each other's rows, and a second store opened for the same test (SharedStoreTest) shares them.
std::string ScopeFor(const std::string& dir) {
  static std::mutex mu;
  static std::map<std::string, std::string> scopes;
  std::lock_guard lock(mu);
  auto [it, added] = scopes.emplace(dir, "");
  if (added) it->second = testing_dbs::UniqueSuffix();
  return it->second;
}

// A store in a schema of its own on the test server; nullptr when the server is not running
// (the test is then skipped or failed by SetUp).
std::unique_ptr<Store> OpenPostgres(const std::string& dir) {
  auto conf = testing_dbs::ServerConf("postgres");
  if (!conf) return nullptr;
  PostgresOptions options;
  options.host = conf->host;
  options.port = conf->port;
  options.user = conf->user;
  options.db = conf->db;
  options.schema = "lynx_store_test_" + ScopeFor(dir);
  auto store = PostgresStore::Open(options);
  EXPECT_TRUE(store.ok()) << store.status().message();
  return store.ok() ? std::move(*store) : nullptr;
}

struct Backend {
  std::string name;
  std::function<std::unique_ptr<Store>(const std::string& dir)> open;
  // The server of scripts/lib/databases.sh the backend runs against ("postgres", "mysql",
  // "redis"), "" for none.
  std::string server;
  // Removes what the test stored on the server (its own schema / database / key prefix).
  std::function<Status(Store*)> drop;
};

Status DropPostgres(Store* store) { return static_cast<PostgresStore*>(store)->DropSchema(); }

// A store in a database of its own on the test server (created by Open).
std::unique_ptr<Store> OpenMysql(const std::string& dir) {
  auto conf = testing_dbs::ServerConf("mysql");
  if (!conf) return nullptr;
  MysqlOptions options;
  options.host = conf->host;
  options.port = conf->port;
  options.user = conf->user;
  options.password = conf->password;
  options.db = "lynx_store_test_" + ScopeFor(dir);
  auto store = MysqlStore::Open(options);
  EXPECT_TRUE(store.ok()) << store.status().message();
  return store.ok() ? std::move(*store) : nullptr;
}

Status DropMysql(Store* store) { return static_cast<MysqlStore*>(store)->DropDatabase(); }

// A store under a key prefix of its own on the test server (a hash tag, as in production).
std::unique_ptr<Store> OpenRedisIn(const std::string& dir, RedisLayout layout) {
  auto port = testing_dbs::RedisPort();
  if (!port) return nullptr;
  RedisOptions options;
  options.host = testing_dbs::Host();
  options.port = *port;
  options.prefix = "{t" + ScopeFor(dir) + "}";
  options.layout = layout;
  auto store = RedisStore::Open(options);
  EXPECT_TRUE(store.ok()) << store.status().message();
  return store.ok() ? std::move(*store) : nullptr;
}

std::unique_ptr<Store> OpenRedis(const std::string& dir) {
  return OpenRedisIn(dir, RedisLayout::kDtm);
}

std::unique_ptr<Store> OpenRedisCompact(const std::string& dir) {
  return OpenRedisIn(dir, RedisLayout::kCompact);
}

Status DropRedis(Store* store) { return static_cast<RedisStore*>(store)->DropAll(); }

TransGlobal NewGlobal(const std::string& gid, UnixMs next_cron_time = kNow + kRetryMs) {
  TransGlobal g;
  g.gid = gid;
  g.trans_type = "saga";
  g.status = kStatusPrepared;
  g.protocol = "http";
  g.create_time = g.update_time = kNow;
  g.options = R"({"wait_result":true})";
  g.custom_data = R"({"orders":{}})";
  g.next_cron_interval = kRetryS;
  g.next_cron_time = next_cron_time;
  g.ext_data = "ext";
  return g;
}

BranchAttempt Attempt(const std::string& gid, const std::string& branch_id, const std::string& op,
                      const std::string& outcome) {
  BranchAttempt a;
  a.gid = gid;
  a.branch_id = branch_id;
  a.op = op;
  a.start_time = kNow;
  a.duration_ms = 42;
  a.target = "http://busi/" + op;
  a.outcome = outcome;
  a.code = 503;
  a.detail = "reply";
  a.owner = "instance-1";
  return a;
}

TransBranch NewBranch(const std::string& gid, const std::string& branch_id, const std::string& op) {
  TransBranch b;
  b.gid = gid;
  b.url = "http://busi/" + op;
  b.bin_data = std::string("bin\0data", 8);  // bytes, not text
  b.branch_id = branch_id;
  b.op = op;
  b.status = kStatusPrepared;
  b.create_time = b.update_time = kNow;
  return b;
}

StatusChange Change(const char* status, UnixMs now,
                    std::optional<std::string> rollback_reason = std::nullopt) {
  StatusChange c;
  c.new_status = status;
  c.now = now;
  c.rollback_reason = std::move(rollback_reason);
  return c;
}

auto Tie(const TransGlobal& g) {
  return std::tie(g.id, g.gid, g.trans_type, g.status, g.query_prepared, g.protocol, g.create_time,
                  g.update_time, g.finish_time, g.rollback_time, g.result, g.rollback_reason,
                  g.options, g.custom_data, g.next_cron_interval, g.next_cron_time, g.owner,
                  g.ext_data);
}

auto Tie(const TransBranch& b) {
  return std::tie(b.id, b.gid, b.url, b.bin_data, b.branch_id, b.op, b.status, b.create_time,
                  b.update_time, b.finish_time, b.rollback_time);
}

std::vector<std::string> Keys(const std::vector<TransBranch>& rows) {
  std::vector<std::string> out;
  for (const auto& b : rows) out.push_back(b.branch_id + "/" + b.op + "/" + b.status);
  return out;
}

class StoreContractTest : public testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    if (!GetParam().server.empty()) {
      LYNX_REQUIRE_SERVER(testing_dbs::Started(GetParam().server), GetParam().server);
    }
    dir_ = MakeTempDir();
    ASSERT_FALSE(dir_.empty());
    store_ = GetParam().open(dir_);
    ASSERT_NE(store_, nullptr);
  }
  void TearDown() override {
    if (store_ && GetParam().drop) {
      Status st = GetParam().drop(store_.get());
      EXPECT_TRUE(st.ok()) << st.message();
    }
    store_.reset();
    if (!dir_.empty()) fs::remove_all(dir_);
  }

  // Saves a prepared saga with one branch (01, action).
  TransGlobal Save(const std::string& gid, UnixMs next_cron_time = kNow + kRetryMs) {
    TransGlobal g = NewGlobal(gid, next_cron_time);
    std::vector<TransBranch> branches{NewBranch(gid, "01", "action")};
    EXPECT_TRUE(store_->MaySaveNewTrans(g, branches).ok());
    return g;
  }
  TransGlobal Find(const std::string& gid) {
    auto g = store_->FindGlobal(gid);
    EXPECT_TRUE(g.ok() && g->has_value()) << gid;
    return g.ok() && g->has_value() ? **g : TransGlobal{};
  }
  // Stops the io thread a test gave the store (AttachIo), then drops and closes the store: the
  // store goes before the io_context it was given, once no thread runs it.
  void CloseAfter(testing_io::IoThread& io) {
    io.Stop();
    if (GetParam().drop) {
      EXPECT_TRUE(GetParam().drop(store_.get()).ok());
    }
    store_.reset();
  }
  std::vector<TransBranch> Branches(const std::string& gid) {
    auto rows = store_->FindBranches(gid);
    EXPECT_TRUE(rows.ok());
    return rows.ok() ? *rows : std::vector<TransBranch>{};
  }
  std::optional<TransGlobal> Lock(int64_t expire_in_ms, UnixMs now = kNow) {
    auto g = store_->LockOneGlobalTrans(now, expire_in_ms, kRetryS, "owner-1");
    EXPECT_TRUE(g.ok()) << g.status().message();
    return g.ok() ? *g : std::nullopt;
  }
  StatusOr<ResetCronResult> Reset(int64_t after_s, int64_t limit) {
    return store_->ResetCronTime(kNow, after_s * 1000, limit);
  }

  std::string dir_;
  std::unique_ptr<Store> store_;
};

TEST_P(StoreContractTest, SaveAndFind) {
  EXPECT_TRUE(store_->Ping().ok());
  EXPECT_TRUE(store_->PopulateSchema().ok());  // idempotent
  TransGlobal g = NewGlobal("g1");
  g.query_prepared = "http://busi/query";
  std::vector<TransBranch> branches{NewBranch("g1", "01", "action")};
  ASSERT_TRUE(store_->MaySaveNewTrans(g, branches).ok());
  EXPECT_GT(g.id, 0);
  EXPECT_GT(branches[0].id, 0);
  EXPECT_EQ(Tie(Find("g1")), Tie(g));
  auto rows = Branches("g1");
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(Tie(rows[0]), Tie(branches[0]));

  auto missing = store_->FindGlobal("nope");
  ASSERT_TRUE(missing.ok());
  EXPECT_FALSE(missing->has_value());
  EXPECT_TRUE(Branches("nope").empty());
}

TEST_P(StoreContractTest, AppendKeepsInsertionOrderAndRejectsDuplicates) {
  Save("g1");
  ASSERT_TRUE(
      store_->LockGlobalSaveBranches("g1", kStatusPrepared, {NewBranch("g1", "02", "action")}, true)
          .ok());
  EXPECT_EQ(Keys(Branches("g1")),
            (std::vector<std::string>{"01/action/prepared", "02/action/prepared"}));

  // A new row next to a duplicate: all or nothing.
  std::vector<TransBranch> rows{NewBranch("g1", "03", "action"), NewBranch("g1", "01", "action")};
  EXPECT_EQ(store_->LockGlobalSaveBranches("g1", kStatusPrepared, rows, true).code(),
            StatusCode::kUniqueConflict);
  EXPECT_EQ(Branches("g1").size(), 2u);
}

// Attempt history: every call of a branch, oldest first, the newest `keep` per (branch_id, op),
// with text that reads back exactly.
TEST_P(StoreContractTest, AttemptsKeepTheNewestPerBranchOp) {
  Save("g1");
  std::vector<BranchAttempt> batch;
  for (int i = 0; i < 5; ++i) {
    BranchAttempt a = Attempt("g1", "01", "action", i < 4 ? "ERROR" : "SUCCESS");
    a.start_time = kNow + i;
    a.detail = "try " + std::to_string(i) + ": caf\xc3\xa9 \"quoted\" \\ {json}";
    batch.push_back(a);
  }
  batch.push_back(Attempt("g1", "02", "action", "FAILURE"));
  ASSERT_TRUE(store_->AddAttempts(batch, 3).ok());
  ASSERT_TRUE(store_->AddAttempts({Attempt("g1", "01", "compensate", "ONGOING")}, 3).ok());
  ASSERT_TRUE(store_->AddAttempts({Attempt("other", "01", "action", "SUCCESS")}, 3).ok());
  auto got = store_->FindAttempts("g1");
  ASSERT_TRUE(got.ok()) << got.status().message();
  std::vector<std::string> keys;
  for (const auto& a : *got) {
    keys.push_back(a.branch_id + "/" + a.op + "/" + a.outcome + "/" + std::to_string(a.start_time));
  }
  EXPECT_EQ(keys, (std::vector<std::string>{"01/action/ERROR/" + std::to_string(kNow + 2),
                                            "01/action/ERROR/" + std::to_string(kNow + 3),
                                            "01/action/SUCCESS/" + std::to_string(kNow + 4),
                                            "02/action/FAILURE/" + std::to_string(kNow),
                                            "01/compensate/ONGOING/" + std::to_string(kNow)}));
  for (size_t i = 1; i < got->size(); ++i) EXPECT_GT((*got)[i].id, (*got)[i - 1].id);
  const BranchAttempt& last = (*got)[2];
  EXPECT_EQ(last.detail, batch[4].detail);
  EXPECT_EQ(last.target, "http://busi/action");
  EXPECT_EQ(last.code, 503);
  EXPECT_EQ(last.duration_ms, 42);
  EXPECT_EQ(last.owner, "instance-1");
  EXPECT_EQ(last.gid, "g1");
  EXPECT_TRUE(store_->FindAttempts("nope")->empty());
}

// A batch as large as the writer sends (several multi-row statements and a remainder).
TEST_P(StoreContractTest, ALargeBatchOfAttemptsIsStoredInOrder) {
  std::vector<BranchAttempt> batch;
  for (int i = 0; i < 37; ++i) {
    char branch[8];
    snprintf(branch, sizeof branch, "%02d", i + 1);
    BranchAttempt a = Attempt("big", branch, "action", "SUCCESS");
    a.final = i % 2 == 0;
    a.start_time = kNow + i;
    batch.push_back(a);
  }
  ASSERT_TRUE(store_->AddAttempts(batch, 20).ok());
  auto got = store_->FindAttempts("big");
  ASSERT_TRUE(got.ok());
  ASSERT_EQ(got->size(), batch.size());
  for (size_t i = 0; i < batch.size(); ++i) {
    EXPECT_EQ((*got)[i].branch_id, batch[i].branch_id);
    EXPECT_EQ((*got)[i].start_time, batch[i].start_time);
    if (i > 0) {
      EXPECT_GT((*got)[i].id, (*got)[i - 1].id);
    }
  }
}

// A final attempt (a success: nothing follows it) is added without trimming its key: a key holds
// at most `keep` retries and its final call. A later non-final one trims again.
TEST_P(StoreContractTest, FinalAttemptsAreAddedWithoutTrimming) {
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(store_->AddAttempts({Attempt("g2", "01", "action", "ERROR")}, 2).ok());
  }
  EXPECT_EQ(store_->FindAttempts("g2")->size(), 2u);
  BranchAttempt done = Attempt("g2", "01", "action", "SUCCESS");
  done.final = true;
  ASSERT_TRUE(store_->AddAttempts({done}, 2).ok());
  EXPECT_EQ(store_->FindAttempts("g2")->size(), 3u);
  ASSERT_TRUE(store_->AddAttempts({Attempt("g2", "01", "action", "ERROR")}, 2).ok());
  auto got = store_->FindAttempts("g2");
  ASSERT_EQ(got->size(), 2u);
  EXPECT_EQ(got->at(0).outcome, "SUCCESS");
  EXPECT_EQ(got->at(1).outcome, "ERROR");
}

// A workflow (dtm-protocol.md §5.6): created without branches, its steps appended one by one with
// their outcome and raw result bytes; once timed out (aborting) only its rollback steps, saved
// under the aborting status; the submit writes the outcome and the base64 result.
// Text that would break a statement built by hand (quotes, a '?' and a "$1", a ';', a
// backslash, non-ASCII) is stored and matched exactly through every write path, the MySQL
// store's one-round-trip scripts included.
TEST_P(StoreContractTest, TextThatLooksLikeSqlRoundTripsExactly) {
  const std::string gid = "g'\";\" ? $1 \\ caf\xc3\xa9 -- x";
  TransGlobal g = NewGlobal(gid);
  g.custom_data = R"({"q":"it's ? $2; DROP TABLE trans_global; --"})";
  std::vector<TransBranch> branches{NewBranch(gid, "01'?", "action")};
  branches[0].url = "http://busi/a?x='1';--$1";
  ASSERT_TRUE(store_->MaySaveNewTrans(g, branches).ok());
  TransBranch done = branches[0];
  done.status = kStatusSucceed;
  ASSERT_TRUE(store_->LockGlobalSaveBranches(gid, kStatusPrepared, {done}, false).ok());
  EXPECT_EQ(store_->LockGlobalSaveBranches(gid + "x", kStatusPrepared, {done}, false).code(),
            StatusCode::kNotFound);
  EXPECT_EQ(store_->LockGlobalSaveBranches(gid, kStatusPrepared, {done}, true).code(),
            StatusCode::kUniqueConflict);
  TransGlobal found = Find(gid);
  EXPECT_EQ(found.gid, gid);
  EXPECT_EQ(found.custom_data, g.custom_data);
  auto rows = Branches(gid);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].branch_id, "01'?");
  EXPECT_EQ(rows[0].url, branches[0].url);
  EXPECT_EQ(rows[0].status, kStatusSucceed);
}

TEST_P(StoreContractTest, WorkflowStepsAreRecordedExactly) {
  TransGlobal g = NewGlobal("wf");
  g.trans_type = "workflow";
  g.custom_data = R"({"data":"aW5wdXQ=","name":"transfer"})";
  std::vector<TransBranch> none;
  ASSERT_TRUE(store_->MaySaveNewTrans(g, none).ok());
  EXPECT_TRUE(Branches("wf").empty());
  TransBranch step = NewBranch("wf", "01", "action");
  step.status = kStatusSucceed;
  step.bin_data = std::string("lynx-wf http POST http://a/b\n\0\xff{}", 33);  // any bytes
  ASSERT_TRUE(store_->LockGlobalSaveBranches("wf", kStatusPrepared, {step}, true).ok());
  EXPECT_EQ(store_->LockGlobalSaveBranches("wf", kStatusPrepared, {step}, true).code(),
            StatusCode::kUniqueConflict);  // one record per (branch, op)
  ASSERT_TRUE(store_
                  ->ChangeGlobalStatus("wf", kStatusPrepared,
                                       {kStatusAborting, kNow + 1, "Timeout", std::nullopt})
                  .ok());
  TransBranch rollback = NewBranch("wf", "01", "rollback");
  rollback.status = kStatusSucceed;
  EXPECT_EQ(store_->LockGlobalSaveBranches("wf", kStatusPrepared, {rollback}, true).code(),
            StatusCode::kNotFound);
  ASSERT_TRUE(store_->LockGlobalSaveBranches("wf", kStatusAborting, {rollback}, true).ok());
  auto rows = Branches("wf");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].bin_data, step.bin_data);
  EXPECT_EQ(Keys(rows), (std::vector<std::string>{"01/action/succeed", "01/rollback/succeed"}));
  ASSERT_TRUE(store_
                  ->ChangeGlobalStatus("wf", kStatusAborting,
                                       {kStatusFailed, kNow + 2, "Timeout", "cmVzdWx0"})
                  .ok());
  TransGlobal done = Find("wf");
  EXPECT_EQ(done.status, kStatusFailed);
  EXPECT_EQ(done.rollback_reason, "Timeout");
  EXPECT_EQ(done.result, "cmVzdWx0");
}

TEST_P(StoreContractTest, SaveBranchesNeedsTheExpectedStatus) {
  Save("g1");
  auto rows = std::vector<TransBranch>{NewBranch("g1", "02", "action")};
  EXPECT_EQ(store_->LockGlobalSaveBranches("g1", kStatusSubmitted, rows, true).code(),
            StatusCode::kNotFound);
  EXPECT_EQ(store_->LockGlobalSaveBranches("g1", kStatusSubmitted, rows, false).code(),
            StatusCode::kNotFound);
  EXPECT_EQ(store_->LockGlobalSaveBranches("nope", kStatusPrepared, rows, true).code(),
            StatusCode::kNotFound);
  EXPECT_EQ(Branches("g1").size(), 1u);
}

TEST_P(StoreContractTest, UpsertUpdatesExistingRowsAndAppendsNewOnes) {
  Save("g1");
  TransBranch before = Branches("g1")[0];
  TransBranch done = NewBranch("g1", "01", "action");
  done.url = "ignored";  // only status and times of an existing row change
  done.status = kStatusSucceed;
  done.finish_time = done.update_time = kNow + 5;
  TransBranch added = NewBranch("g1", "01", "compensate");
  ASSERT_TRUE(store_->LockGlobalSaveBranches("g1", kStatusPrepared, {done, added}, false).ok());
  auto rows = Branches("g1");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].id, before.id);
  EXPECT_EQ(rows[0].url, before.url);
  EXPECT_EQ(rows[0].status, kStatusSucceed);
  EXPECT_EQ(rows[0].finish_time, kNow + 5);
  EXPECT_EQ(rows[0].update_time, kNow + 5);
  EXPECT_EQ(rows[0].create_time, kNow);
  EXPECT_EQ(rows[1].op, "compensate");
  EXPECT_EQ(rows[1].bin_data, added.bin_data);

  // One key twice in an upsert: the later row wins.
  TransBranch again = done;
  again.status = kStatusFailed;
  ASSERT_TRUE(store_->LockGlobalSaveBranches("g1", kStatusPrepared, {done, again}, false).ok());
  EXPECT_EQ(Keys(Branches("g1")),
            (std::vector<std::string>{"01/action/failed", "01/compensate/prepared"}));
}

TEST_P(StoreContractTest, MaySaveNewTransIsInsertIfAbsent) {
  TransGlobal first = Save("g1");
  TransGlobal again = NewGlobal("g1");
  again.status = kStatusSubmitted;
  std::vector<TransBranch> more{NewBranch("g1", "02", "action")};
  EXPECT_EQ(store_->MaySaveNewTrans(again, more).code(), StatusCode::kUniqueConflict);
  EXPECT_EQ(Tie(Find("g1")), Tie(first));
  EXPECT_EQ(Branches("g1").size(), 1u);

  // Duplicate branches within one new transaction: nothing of it is written.
  TransGlobal g2 = NewGlobal("g2");
  std::vector<TransBranch> dup{NewBranch("g2", "01", "action"), NewBranch("g2", "01", "action")};
  EXPECT_EQ(store_->MaySaveNewTrans(g2, dup).code(), StatusCode::kUniqueConflict);
  auto absent = store_->FindGlobal("g2");
  ASSERT_TRUE(absent.ok());
  EXPECT_FALSE(absent->has_value());
  EXPECT_TRUE(Branches("g2").empty());
}

// The completion forms the server calls where a store has them (the embedded store's writer
// thread, Redis' pipelined connection and PostgreSQL's non-blocking connections on an io thread)
// give the blocking forms' results: ids, conflicts, compare-and-set misses. Many at once, so the
// embedded store's writer batches them.
TEST_P(StoreContractTest, CompletionFormsGiveTheBlockingFormsResults) {
  testing_io::IoThread io;
  store_->AttachIo(io.io());
  struct Call {
    std::promise<Status> promise;
    Store::Completion<Status> Done() {
      return [this](Status st) { promise.set_value(std::move(st)); };
    }
    // A store without the completion form: the blocking form's result.
    void Blocking(Status st) { promise.set_value(std::move(st)); }
    Status Get() {
      auto f = promise.get_future();
      if (f.wait_for(std::chrono::seconds(20)) != std::future_status::ready) {
        return Status::Internal("no completion within 20 s");
      }
      return f.get();
    }
  };
  constexpr int kN = 40;
  std::vector<TransGlobal> globals;
  std::vector<std::vector<TransBranch>> branches(kN);
  for (int i = 0; i < kN; ++i) {
    globals.push_back(NewGlobal("ga" + std::to_string(i)));
    branches[i] = {NewBranch(globals[i].gid, "01", "compensate"),
                   NewBranch(globals[i].gid, "01", "action")};
  }
  std::vector<Call> saves(kN);
  for (int i = 0; i < kN; ++i) {
    if (!store_->MaySaveNewTransAsync(globals[i], branches[i], saves[i].Done())) {
      saves[i].Blocking(store_->MaySaveNewTrans(globals[i], branches[i]));
    }
  }
  std::set<int64_t> global_ids, branch_ids;  // unique per table
  for (int i = 0; i < kN; ++i) {
    ASSERT_TRUE(saves[i].Get().ok()) << i;
    EXPECT_GT(globals[i].id, 0);
    EXPECT_TRUE(global_ids.insert(globals[i].id).second);
    for (const auto& b : branches[i]) EXPECT_TRUE(branch_ids.insert(b.id).second);
  }
  TransGlobal again = NewGlobal("ga0");
  std::vector<TransBranch> none;
  Call conflict;
  if (!store_->MaySaveNewTransAsync(again, none, conflict.Done())) {
    conflict.Blocking(store_->MaySaveNewTrans(again, none));
  }
  EXPECT_EQ(conflict.Get().code(), StatusCode::kUniqueConflict);

  TransBranch row = NewBranch("ga1", "01", "action");
  row.status = kStatusSucceed;
  row.finish_time = row.update_time = kNow + 2;
  const std::vector<TransBranch> rows{row};
  const std::string gid = "ga1", prepared = kStatusPrepared, submitted = kStatusSubmitted;
  Call wrong_status, saved;
  if (!store_->LockGlobalSaveBranchesAsync(gid, submitted, rows, false, wrong_status.Done())) {
    wrong_status.Blocking(store_->LockGlobalSaveBranches(gid, submitted, rows, false));
  }
  EXPECT_EQ(wrong_status.Get().code(), StatusCode::kNotFound);
  if (!store_->LockGlobalSaveBranchesAsync(gid, prepared, rows, false, saved.Done())) {
    saved.Blocking(store_->LockGlobalSaveBranches(gid, prepared, rows, false));
  }
  ASSERT_TRUE(saved.Get().ok());

  const StatusChange change = Change(kStatusSucceed, kNow + 3);
  Call changed, missed;
  if (!store_->ChangeGlobalStatusAsync(gid, prepared, change, changed.Done())) {
    changed.Blocking(store_->ChangeGlobalStatus(gid, prepared, change));
  }
  ASSERT_TRUE(changed.Get().ok());
  if (!store_->ChangeGlobalStatusAsync(gid, prepared, change, missed.Done())) {
    missed.Blocking(store_->ChangeGlobalStatus(gid, prepared, change));
  }
  EXPECT_EQ(missed.Get().code(), StatusCode::kNotFound);

  EXPECT_EQ(Find("ga1").status, kStatusSucceed);
  EXPECT_EQ(Find("ga1").finish_time, kNow + 3);
  auto found = Branches("ga1");
  ASSERT_EQ(found.size(), 2u);
  EXPECT_EQ(found[1].status, kStatusSucceed);
  EXPECT_EQ(found[0].status, kStatusPrepared);
  EXPECT_EQ(Find("ga7").id, globals[7].id);

  CloseAfter(io);
}

// A pass's last branch result with the status change it leads to, in both forms: both are
// written, or (a wrong old status) neither.
TEST_P(StoreContractTest, SaveBranchesChangeStatusWritesBothOrNeither) {
  testing_io::IoThread io;
  store_->AttachIo(io.io());
  auto combined = [&](const std::string& gid, const std::string& old,
                      const std::vector<TransBranch>& rows, const StatusChange& change) {
    std::promise<Status> promise;
    if (!store_->SaveBranchesChangeStatusAsync(
            gid, old, rows, change, [&promise](Status st) { promise.set_value(std::move(st)); })) {
      promise.set_value(store_->SaveBranchesChangeStatus(gid, old, rows, change));
    }
    auto f = promise.get_future();
    if (f.wait_for(std::chrono::seconds(20)) != std::future_status::ready) {
      return Status::Internal("no completion within 20 s");
    }
    return f.get();
  };
  for (const char* gid : {"c1", "c2"}) {
    TransGlobal g = NewGlobal(gid);
    g.status = kStatusSubmitted;
    std::vector<TransBranch> branches{NewBranch(gid, "01", "compensate"),
                                      NewBranch(gid, "01", "action")};
    ASSERT_TRUE(store_->MaySaveNewTrans(g, branches).ok());
  }
  TransBranch done = NewBranch("c1", "01", "action");
  done.status = kStatusSucceed;
  done.finish_time = done.update_time = kNow + 2;
  StatusChange change = Change(kStatusSucceed, kNow + 3);
  change.result = "r";

  EXPECT_EQ(combined("c1", kStatusPrepared, {done}, change).code(), StatusCode::kNotFound);
  EXPECT_EQ(Find("c1").status, kStatusSubmitted);
  EXPECT_EQ(Branches("c1")[1].status, kStatusPrepared);

  ASSERT_TRUE(combined("c1", kStatusSubmitted, {done}, change).ok());
  TransGlobal g = Find("c1");
  EXPECT_EQ(g.status, kStatusSucceed);
  EXPECT_EQ(g.finish_time, kNow + 3);
  EXPECT_EQ(g.result, "r");
  auto rows = Branches("c1");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].status, kStatusPrepared);
  EXPECT_EQ(rows[1].status, kStatusSucceed);
  EXPECT_EQ(rows[1].finish_time, kNow + 2);
  EXPECT_EQ(combined("c1", kStatusSubmitted, {done}, change).code(), StatusCode::kNotFound);
  // The other transaction is untouched; a finished one left the lease index.
  EXPECT_EQ(Find("c2").status, kStatusSubmitted);
  EXPECT_EQ(Branches("c2")[1].status, kStatusPrepared);
  auto leased = Lock(2 * kRetryMs);
  ASSERT_TRUE(leased.has_value());
  EXPECT_EQ(leased->gid, "c2");

  CloseAfter(io);
}

TEST_P(StoreContractTest, ChangeGlobalStatusIsCompareAndSet) {
  Save("g1");
  StatusChange submit = Change(kStatusSubmitted, kNow + 1);
  EXPECT_EQ(store_->ChangeGlobalStatus("g1", kStatusAborting, submit).code(),
            StatusCode::kNotFound);
  EXPECT_EQ(store_->ChangeGlobalStatus("nope", kStatusPrepared, submit).code(),
            StatusCode::kNotFound);
  EXPECT_EQ(Find("g1").status, kStatusPrepared);

  ASSERT_TRUE(store_->ChangeGlobalStatus("g1", kStatusPrepared, submit).ok());
  TransGlobal g = Find("g1");
  EXPECT_EQ(g.status, kStatusSubmitted);
  EXPECT_EQ(g.update_time, kNow + 1);
  EXPECT_EQ(g.finish_time, 0);

  StatusChange succeed = Change(kStatusSucceed, kNow + 2);
  succeed.result = "done";
  ASSERT_TRUE(store_->ChangeGlobalStatus("g1", kStatusSubmitted, succeed).ok());
  g = Find("g1");
  EXPECT_EQ(g.status, kStatusSucceed);
  EXPECT_EQ(g.finish_time, kNow + 2);
  EXPECT_EQ(g.update_time, kNow + 2);
  EXPECT_EQ(g.rollback_time, 0);
  EXPECT_EQ(g.result, "done");
  EXPECT_EQ(g.rollback_reason, "");  // unset fields are left alone
}

TEST_P(StoreContractTest, FailedSetsRollbackTimeAndReason) {
  Save("g1");
  ASSERT_TRUE(
      store_->ChangeGlobalStatus("g1", kStatusPrepared, Change(kStatusAborting, kNow + 1, "boom"))
          .ok());
  ASSERT_TRUE(
      store_->ChangeGlobalStatus("g1", kStatusAborting, Change(kStatusFailed, kNow + 2)).ok());
  TransGlobal g = Find("g1");
  EXPECT_EQ(g.status, kStatusFailed);
  EXPECT_EQ(g.rollback_time, kNow + 2);
  EXPECT_EQ(g.finish_time, 0);
  EXPECT_EQ(g.rollback_reason, "boom");
}

TEST_P(StoreContractTest, LockFollowsTheCronSchedule) {
  Save("g1", kNow + kRetryMs);
  auto locked = Lock(2 * kRetryMs);
  ASSERT_TRUE(locked.has_value());
  EXPECT_EQ(locked->gid, "g1");
  EXPECT_EQ(locked->owner, "owner-1");
  EXPECT_EQ(locked->next_cron_time, kNow + kRetryMs);  // now + lease
  EXPECT_EQ(locked->update_time, kNow);
  EXPECT_EQ(Tie(Find("g1")), Tie(*locked));

  ASSERT_TRUE(
      store_->TouchCronTime("g1", kStatusPrepared, 2 * kRetryS, kNow + 3 * kRetryMs, kNow).ok());
  TransGlobal g = Find("g1");
  EXPECT_EQ(g.next_cron_interval, 2 * kRetryS);
  EXPECT_EQ(g.next_cron_time, kNow + 3 * kRetryMs);
  EXPECT_FALSE(Lock(2 * kRetryMs).has_value());

  ASSERT_TRUE(
      store_->TouchCronTime("g1", kStatusPrepared, kRetryS, kNow + kRetryMs, kNow + 1).ok());
  EXPECT_TRUE(Lock(2 * kRetryMs).has_value());

  ASSERT_TRUE(store_->ChangeGlobalStatus("g1", kStatusPrepared, Change(kStatusSucceed, kNow)).ok());
  EXPECT_FALSE(Lock(1000 * kRetryMs).has_value());
  EXPECT_FALSE(Lock(0, kNow + 1000 * kRetryMs).has_value());
}

TEST_P(StoreContractTest, LockTakesTheEarliestDueFirst) {
  Save("late", kNow - 1000);
  Save("early", kNow - 5000);
  Save("future", kNow + 5000);
  EXPECT_EQ(Lock(0)->gid, "early");
  EXPECT_EQ(Lock(0)->gid, "late");
  EXPECT_FALSE(Lock(0).has_value());  // leased rows are now + lease, the last is not due
}

TEST_P(StoreContractTest, TouchCronTimeNeedsTheExpectedStatus) {
  TransGlobal saved = Save("g1");
  EXPECT_EQ(store_->TouchCronTime("g1", kStatusSubmitted, 20, kNow + 99, kNow + 1).code(),
            StatusCode::kNotFound);
  EXPECT_EQ(store_->TouchCronTime("nope", kStatusPrepared, 20, kNow + 99, kNow + 1).code(),
            StatusCode::kNotFound);
  EXPECT_EQ(Tie(Find("g1")), Tie(saved));
}

TEST_P(StoreContractTest, ResetCronTimeSequence) {
  for (int i = 0; i < 10; ++i) Save("due110-" + std::to_string(i), kNow + 110'000);
  Save("due90", kNow + 90'000);
  TransGlobal done = Save("finished", kNow + 500'000);
  ASSERT_TRUE(
      store_->ChangeGlobalStatus("finished", kStatusPrepared, Change(kStatusSucceed, kNow)).ok());

  auto r = Reset(100, 9);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->succeed_count, 9);
  EXPECT_TRUE(r->has_remaining);
  // Reset rows are due at the very instant of the reset (no look-ahead needed).
  auto first = Lock(0);
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->gid.rfind("due110-", 0), 0u) << first->gid;
  for (int i = 1; i < 9; ++i) {
    auto g = Lock(2000);
    ASSERT_TRUE(g.has_value()) << i;
    EXPECT_EQ(g->gid.rfind("due110-", 0), 0u) << g->gid;
  }
  EXPECT_FALSE(Lock(2000).has_value());

  r = Reset(100, 9);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->succeed_count, 1);
  EXPECT_FALSE(r->has_remaining);
  r = Reset(88, 9);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->succeed_count, 1);
  EXPECT_EQ(Find("due90").next_cron_time, kNow);
  EXPECT_EQ(Find("due90").update_time, kNow);
  r = Reset(88, 9);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->succeed_count, 0);
  EXPECT_FALSE(r->has_remaining);
  EXPECT_EQ(Find("finished").next_cron_time, kNow + 500'000);  // finished rows are left alone
}

TEST_P(StoreContractTest, ResetTransGlobalCronTime) {
  Save("g1", kNow + 80'000);
  Save("g2", kNow + 80'000);
  ASSERT_TRUE(store_->ChangeGlobalStatus("g2", kStatusPrepared, Change(kStatusFailed, kNow)).ok());
  for (const char* gid : {"g1", "g2"}) {
    ASSERT_TRUE(store_->ResetTransGlobalCronTime(gid, kNow + 7).ok()) << gid;
    TransGlobal g = Find(gid);
    EXPECT_EQ(g.next_cron_time, kNow + 7);
    EXPECT_EQ(g.update_time, kNow + 7);
  }
  EXPECT_EQ(store_->ResetTransGlobalCronTime("nope", kNow).code(), StatusCode::kNotFound);
  EXPECT_EQ(Lock(0, kNow + 8)->gid, "g1");
  EXPECT_FALSE(Lock(0, kNow + 8).has_value());  // g2 is finished
}

TEST_P(StoreContractTest, ScanGlobalsPagesNewestFirst) {
  std::vector<int64_t> ids;
  for (int i = 0; i < 5; ++i) ids.push_back(Save("g" + std::to_string(i)).id);
  std::reverse(ids.begin(), ids.end());

  std::vector<int64_t> seen;
  std::string position;
  std::vector<TransGlobal> page;
  for (int pages = 0; pages < 10; ++pages) {
    ASSERT_TRUE(store_->ScanGlobals(&position, 1, {}, &page).ok());
    for (const auto& g : page) seen.push_back(g.id);
    if (position.empty()) break;
    EXPECT_EQ(page.size(), 1u);
  }
  EXPECT_EQ(seen, ids);

  position.clear();
  ASSERT_TRUE(store_->ScanGlobals(&position, 100, {}, &page).ok());
  EXPECT_EQ(page.size(), 5u);
  EXPECT_EQ(position, "");

  // Exactly `limit` rows: the cursor is handed out, and the next page is empty and final.
  ASSERT_TRUE(store_->ScanGlobals(&position, 5, {}, &page).ok());
  ASSERT_EQ(position, std::to_string(ids.back()));
  ASSERT_TRUE(store_->ScanGlobals(&position, 5, {}, &page).ok());
  EXPECT_TRUE(page.empty());
  EXPECT_EQ(position, "");

  position = "not-a-number";
  EXPECT_EQ(store_->ScanGlobals(&position, 5, {}, &page).code(), StatusCode::kInvalidArgument);
}

TEST_P(StoreContractTest, ScanGlobalsFilters) {
  auto save = [&](const std::string& gid, const std::string& type, const char* status,
                  UnixMs created) {
    TransGlobal g = NewGlobal(gid);
    g.trans_type = type;
    g.status = status;
    g.create_time = created;
    std::vector<TransBranch> none;
    ASSERT_TRUE(store_->MaySaveNewTrans(g, none).ok());
  };
  save("m1", "msg", kStatusSucceed, kNow - 2000);
  save("m2", "msg", kStatusSucceed, kNow);
  save("m3", "msg", kStatusSubmitted, kNow);
  save("s1", "saga", kStatusSucceed, kNow);
  auto scan = [&](const ScanCondition& cond) {
    std::string position;
    std::vector<TransGlobal> page;
    EXPECT_TRUE(store_->ScanGlobals(&position, 100, cond, &page).ok());
    EXPECT_EQ(position, "");
    std::vector<std::string> gids;
    for (const auto& g : page) gids.push_back(g.gid);
    return gids;
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(scan({kStatusSucceed, "", 0, 0, "", 0}), (V{"s1", "m2", "m1"}));
  EXPECT_EQ(scan({"", "msg", 0, 0, "", 0}), (V{"m3", "m2", "m1"}));
  EXPECT_EQ(scan({kStatusSucceed, "msg", kNow - 1000, kNow + 1000, "", 0}), (V{"m2"}));
  EXPECT_EQ(scan({kStatusSucceed, "msg", kNow - 2000, kNow - 2000, "", 0}),
            (V{"m1"}));  // inclusive
  EXPECT_EQ(scan({"", "", kNow - 10'000, kNow - 5000, "", 0}), V{});
  EXPECT_EQ(scan({"", "", kNow + 1, 0, "", 0}), V{});
}

// The console's filters (not in DTM): an exact gid prefix (LIKE's % and _ are plain bytes) and
// the overdue view (unfinished, next_cron_time already past).
TEST_P(StoreContractTest, ScanGlobalsByGidPrefixAndOverdue) {
  auto save = [&](const std::string& gid, const char* status, UnixMs next_cron_time) {
    TransGlobal g = NewGlobal(gid, next_cron_time);
    g.status = status;
    std::vector<TransBranch> none;
    ASSERT_TRUE(store_->MaySaveNewTrans(g, none).ok());
  };
  save("order-1", kStatusSubmitted, kNow - 5000);
  save("order-2", kStatusSucceed, kNow - 5000);
  save("order%x", kStatusPrepared, kNow + 5000);
  save("orderXy", kStatusAborting, kNow - 1);
  save("pay-1", kStatusSubmitted, kNow - 5000);
  auto scan = [&](const ScanCondition& cond) {
    std::string position;
    std::vector<TransGlobal> page;
    EXPECT_TRUE(store_->ScanGlobals(&position, 100, cond, &page).ok());
    std::vector<std::string> gids;
    for (const auto& g : page) gids.push_back(g.gid);
    return gids;
  };
  using V = std::vector<std::string>;
  ScanCondition prefix;
  prefix.gid_prefix = "order-";
  EXPECT_EQ(scan(prefix), (V{"order-2", "order-1"}));
  prefix.gid_prefix = "order%";
  EXPECT_EQ(scan(prefix), (V{"order%x"}));
  prefix.gid_prefix = "order_";
  EXPECT_EQ(scan(prefix), V{});
  prefix.gid_prefix = "order-1-longer";
  EXPECT_EQ(scan(prefix), V{});
  ScanCondition overdue;
  overdue.overdue_before = kNow;
  EXPECT_EQ(scan(overdue), (V{"pay-1", "orderXy", "order-1"}));
  overdue.gid_prefix = "order";
  overdue.status = kStatusAborting;
  EXPECT_EQ(scan(overdue), (V{"orderXy"}));
}

TEST_P(StoreContractTest, KeyValue) {
  ASSERT_TRUE(store_->CreateKV("topics", "t1", "v1", kNow).ok());
  EXPECT_EQ(store_->CreateKV("topics", "t1", "other", kNow).code(), StatusCode::kUniqueConflict);
  ASSERT_TRUE(store_->CreateKV("topics", "t2", "v2", kNow).ok());
  ASSERT_TRUE(store_->CreateKV("other", "t1", "x", kNow).ok());

  auto one = store_->FindKV("topics", "t1");
  ASSERT_TRUE(one.ok());
  ASSERT_EQ(one->size(), 1u);
  KV kv = (*one)[0];
  EXPECT_EQ(std::tie(kv.cat, kv.k, kv.v, kv.version, kv.create_time, kv.update_time),
            std::make_tuple("topics", "t1", "v1", 1, kNow, kNow));
  EXPECT_TRUE(store_->FindKV("topics", "absent")->empty());
  auto all = store_->FindKV("topics", "");
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].k, "t1");
  EXPECT_EQ((*all)[1].k, "t2");

  KV stale = kv;
  kv.v = "v1b";
  ASSERT_TRUE(store_->UpdateKV(kv, kNow + 1).ok());
  EXPECT_EQ(kv.version, 2);
  stale.v = "lost";
  EXPECT_EQ(store_->UpdateKV(stale, kNow + 2).code(), StatusCode::kNotFound);
  EXPECT_EQ(stale.version, 1);
  KV stored = (*store_->FindKV("topics", "t1"))[0];
  EXPECT_EQ(std::tie(stored.v, stored.version, stored.update_time),
            std::make_tuple("v1b", 2, kNow + 1));

  ASSERT_TRUE(store_->DeleteKV("topics", "t1").ok());
  EXPECT_EQ(store_->DeleteKV("topics", "t1").code(), StatusCode::kNotFound);
  EXPECT_TRUE(store_->FindKV("topics", "t1")->empty());
  EXPECT_EQ(store_->UpdateKV(kv, kNow).code(), StatusCode::kNotFound);
}

TEST_P(StoreContractTest, ScanKVPagesByIdAscending) {
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(store_->CreateKV("topics", "t" + std::to_string(i), "v", kNow).ok());
    ASSERT_TRUE(store_->CreateKV("other", "o" + std::to_string(i), "v", kNow).ok());
  }
  std::vector<std::string> seen;
  std::string position;
  std::vector<KV> page;
  for (int pages = 0; pages < 10; ++pages) {
    ASSERT_TRUE(store_->ScanKV("topics", &position, 1, &page).ok());
    for (const auto& kv : page) seen.push_back(kv.k);
    if (position.empty()) break;
    EXPECT_EQ(page.size(), 1u);
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"t0", "t1", "t2"}));
  position.clear();
  ASSERT_TRUE(store_->ScanKV("topics", &position, 100, &page).ok());
  EXPECT_EQ(page.size(), 3u);
  EXPECT_EQ(position, "");
}

TEST_P(StoreContractTest, RacingStatusChangesHaveOneWinner) {
  constexpr int kTrans = 20;
  for (int i = 0; i < kTrans; ++i) Save("g" + std::to_string(i));
  std::atomic<int> wins[kTrans] = {};
  std::atomic<int> errors{0};
  std::latch start(2);
  auto race = [&] {
    start.arrive_and_wait();
    for (int i = 0; i < kTrans; ++i) {
      Status st = store_->ChangeGlobalStatus("g" + std::to_string(i), kStatusPrepared,
                                             Change(kStatusSubmitted, kNow));
      if (st.ok()) {
        ++wins[i];
      } else if (!st.IsNotFound()) {
        ++errors;
      }
    }
  };
  std::thread a(race), b(race);
  a.join();
  b.join();
  EXPECT_EQ(errors.load(), 0);
  for (int i = 0; i < kTrans; ++i) EXPECT_EQ(wins[i].load(), 1) << i;
}

TEST_P(StoreContractTest, ConcurrentLeasesTakeEachRowOnce) {
  constexpr int kRows = 50;
  for (int i = 0; i < kRows; ++i) Save("g" + std::to_string(i), kNow - 1000);
  std::mutex mu;
  std::map<std::string, int> leased;
  std::atomic<int> errors{0};
  std::latch start(8);
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      start.arrive_and_wait();
      while (true) {
        auto g = store_->LockOneGlobalTrans(kNow, 0, kRetryS, "owner");
        if (!g.ok()) ++errors;
        if (!g.ok() || !g->has_value()) return;
        std::lock_guard lock(mu);
        ++leased[(*g)->gid];
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(leased.size(), static_cast<size_t>(kRows));
  for (const auto& [gid, n] : leased) EXPECT_EQ(n, 1) << gid;
}

// Retention: only finished transactions whose update_time (= finish time) is older than the
// cut-off go, with their branches; a full batch means "call again".
TEST_P(StoreContractTest, PurgeFinishedDeletesOldFinishedTransactionsInBatches) {
  constexpr UnixMs kDay = 86'400'000;
  const auto finish = [&](const std::string& gid, const char* final_status, UnixMs at) {
    Save(gid);
    ASSERT_TRUE(
        store_->ChangeGlobalStatus(gid, kStatusPrepared, Change(kStatusSubmitted, at)).ok());
    ASSERT_TRUE(store_->ChangeGlobalStatus(gid, kStatusSubmitted, Change(final_status, at)).ok());
  };
  finish("old-ok", kStatusSucceed, kNow);
  finish("old-failed", kStatusFailed, kNow + 1);
  finish("recent", kStatusSucceed, kNow + kDay);
  Save("unfinished");  // prepared since kNow: old, but never purged
  ASSERT_TRUE(store_->CreateKV("topics", "t", "v", kNow).ok());
  for (const char* gid : {"old-ok", "recent"}) {
    ASSERT_TRUE(store_->AddAttempts({Attempt(gid, "01", "action", "ERROR")}, 20).ok());
  }

  const UnixMs cutoff = kNow + kDay / 2;
  auto first = store_->PurgeFinished(cutoff, 1);
  ASSERT_TRUE(first.ok()) << first.status().message();
  EXPECT_EQ(*first, 1);
  auto second = store_->PurgeFinished(cutoff, 1);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(*second, 1);
  auto third = store_->PurgeFinished(cutoff, 100);
  ASSERT_TRUE(third.ok());
  EXPECT_EQ(*third, 0);

  for (const char* gone : {"old-ok", "old-failed"}) {
    auto g = store_->FindGlobal(gone);
    ASSERT_TRUE(g.ok());
    EXPECT_FALSE(g->has_value()) << gone;
    EXPECT_TRUE(Branches(gone).empty()) << gone;
    EXPECT_TRUE(store_->FindAttempts(gone)->empty()) << gone;
  }
  EXPECT_EQ(store_->FindAttempts("recent")->size(), 1u);
  for (const char* kept : {"recent", "unfinished"}) {
    EXPECT_EQ(Find(kept).gid, kept);
    EXPECT_EQ(Branches(kept).size(), 1u) << kept;
  }
  EXPECT_EQ(store_->FindKV("topics", "t")->size(), 1u);
  // The unfinished one is still leased as before.
  auto leased = Lock(2 * kRetryMs);
  ASSERT_TRUE(leased.has_value());
  EXPECT_EQ(leased->gid, "unfinished");
  // The gid of a purged transaction can be used again.
  Save("old-ok");
  EXPECT_EQ(Find("old-ok").status, kStatusPrepared);
}

TEST_P(StoreContractTest, ConcurrentPurgesDeleteEachTransactionOnce) {
  constexpr int kRows = 40;
  for (int i = 0; i < kRows; ++i) {
    const std::string gid = "p" + std::to_string(i);
    Save(gid);
    ASSERT_TRUE(
        store_->ChangeGlobalStatus(gid, kStatusPrepared, Change(kStatusSucceed, kNow)).ok());
  }
  std::atomic<int64_t> purged{0};
  std::atomic<int> errors{0};
  std::latch start(4);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      start.arrive_and_wait();
      while (true) {
        auto n = store_->PurgeFinished(kNow + 1, 3);
        if (!n.ok()) ++errors;
        if (!n.ok() || *n == 0) return;
        purged += *n;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(purged.load(), kRows);
  std::string position;
  std::vector<TransGlobal> rest;
  ASSERT_TRUE(store_->ScanGlobals(&position, 100, {}, &rest).ok());
  EXPECT_TRUE(rest.empty());
}

const Backend kPostgres{"Postgres", OpenPostgres, "postgres", DropPostgres};
const Backend kMysql{"Mysql", OpenMysql, "mysql", DropMysql};
const Backend kRedis{"Redis", OpenRedis, "redis", DropRedis};
const Backend kRedisCompact{"RedisCompact", OpenRedisCompact, "redis", DropRedis};

INSTANTIATE_TEST_SUITE_P(
    Backends, StoreContractTest,
    testing::Values(Backend{"Memory",
                            [](const std::string&) -> std::unique_ptr<Store> {
                              return std::make_unique<MemoryStore>();
                            },
                            "", nullptr},
                    Backend{"Sqlite",
                            [](const std::string& dir) -> std::unique_ptr<Store> {
                              return OpenSqlite(dir);
                            },
                            "", nullptr},
                    kPostgres, kMysql, kRedis, kRedisCompact),
    [](const testing::TestParamInfo<Backend>& info) { return info.param.name; });

// Two store objects on one server scope: two dtmd instances sharing a database (the backends that
// support several instances).
class SharedStoreTest : public StoreContractTest {
 protected:
  void SetUp() override {
    StoreContractTest::SetUp();
    if (HasFatalFailure() || IsSkipped()) return;
    other_ = GetParam().open(dir_);
    ASSERT_NE(other_, nullptr);
  }
  void TearDown() override {
    other_.reset();
    StoreContractTest::TearDown();
  }

  std::unique_ptr<Store> other_;
};

TEST_P(SharedStoreTest, TwoInstancesRacingOnAStatusChangeHaveOneWinner) {
  constexpr int kTrans = 30;
  for (int i = 0; i < kTrans; ++i) Save("g" + std::to_string(i), kNow);
  std::atomic<int> wins[kTrans] = {};
  std::atomic<int> errors{0};
  std::latch start(2);
  auto race = [&](Store* s) {
    start.arrive_and_wait();
    for (int i = 0; i < kTrans; ++i) {
      Status st = s->ChangeGlobalStatus("g" + std::to_string(i), kStatusPrepared,
                                        Change(kStatusSubmitted, kNow + 1));
      if (st.ok()) {
        ++wins[i];
      } else if (!st.IsNotFound()) {
        ++errors;
      }
    }
  };
  std::thread ta(race, store_.get()), tb(race, other_.get());
  ta.join();
  tb.join();
  EXPECT_EQ(errors.load(), 0);
  for (int i = 0; i < kTrans; ++i) EXPECT_EQ(wins[i].load(), 1) << i;
}

TEST_P(SharedStoreTest, TwoInstancesLeasingNeverTakeTheSameRow) {
  constexpr int kRows = 60;
  for (int i = 0; i < kRows; ++i) Save("g" + std::to_string(i), kNow - 1000 - i);
  // Other unfinished statuses take part in the lease too.
  for (int i = 0; i < kRows; i += 3) {
    const char* status = i % 2 == 0 ? kStatusSubmitted : kStatusAborting;
    ASSERT_TRUE(
        store_->ChangeGlobalStatus("g" + std::to_string(i), kStatusPrepared, Change(status, kNow))
            .ok());
  }
  std::mutex mu;
  std::map<std::string, int> leased;
  std::atomic<int> errors{0};
  std::latch start(8);
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    Store* s = t % 2 == 0 ? store_.get() : other_.get();
    threads.emplace_back([&, s, t] {
      start.arrive_and_wait();
      while (true) {
        auto g = s->LockOneGlobalTrans(kNow, 0, kRetryS, "owner-" + std::to_string(t % 2));
        if (!g.ok()) {
          ADD_FAILURE() << g.status().message();
          ++errors;
        }
        if (!g.ok() || !g->has_value()) return;
        std::lock_guard lock(mu);
        ++leased[(*g)->gid];
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(leased.size(), static_cast<size_t>(kRows));
  for (const auto& [gid, n] : leased) EXPECT_EQ(n, 1) << gid;
}

INSTANTIATE_TEST_SUITE_P(Servers, SharedStoreTest,
                         testing::Values(kPostgres, kMysql, kRedis, kRedisCompact),
                         [](const testing::TestParamInfo<Backend>& info) {
                           return info.param.name;
                         });

// Properties only a durable backend has.
class SqliteStoreTest : public testing::Test {
 protected:
  void SetUp() override {
    dir_ = MakeTempDir();
    ASSERT_FALSE(dir_.empty());
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string dir_;
};

TEST_F(SqliteStoreTest, DataSurvivesReopening) {
  TransGlobal g = NewGlobal("g1");
  std::vector<TransBranch> branches{NewBranch("g1", "01", "action")};
  {
    auto store = OpenSqlite(dir_);
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->MaySaveNewTrans(g, branches).ok());
    ASSERT_TRUE(store->CreateKV("topics", "t1", "v1", kNow).ok());
  }
  auto store = OpenSqlite(dir_);
  ASSERT_NE(store, nullptr);
  auto found = store->FindGlobal("g1");
  ASSERT_TRUE(found.ok() && found->has_value());
  EXPECT_EQ(Tie(**found), Tie(g));
  auto rows = store->FindBranches("g1");
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ(Tie((*rows)[0]), Tie(branches[0]));
  EXPECT_EQ(store->FindKV("topics", "t1")->size(), 1u);
  // Ids keep growing after a restart, so cursors stay valid.
  TransGlobal g2 = NewGlobal("g2");
  std::vector<TransBranch> none;
  ASSERT_TRUE(store->MaySaveNewTrans(g2, none).ok());
  EXPECT_GT(g2.id, g.id);
}

TEST_F(SqliteStoreTest, CronQueriesUseThePartialIndex) {
  auto store = OpenSqlite(dir_);
  ASSERT_NE(store, nullptr);
  auto plan = store->CronQueryPlan();
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  // Both the lease and the reset candidates: a range search of the unfinished-only index.
  size_t uses = 0;
  for (size_t at = 0;
       (at = plan->find("USING INDEX trans_global_cron (next_cron_time", at)) != std::string::npos;
       ++at) {
    ++uses;
  }
  EXPECT_EQ(uses, 2u) << *plan;
  EXPECT_EQ(plan->find("SCAN trans_global\n"), std::string::npos) << *plan;
  EXPECT_EQ(plan->find("TEMP B-TREE"), std::string::npos) << *plan;
}

// 32 writers share fsyncs; every 10th write is a refused duplicate, which must roll back alone
// inside its batch without taking its neighbours with it.
TEST_F(SqliteStoreTest, ConcurrentWritesShareCommits) {
  auto store = OpenSqlite(dir_);
  ASSERT_NE(store, nullptr);
  constexpr int kThreads = 32;
  constexpr int kWritesPerThread = 200;
  uint64_t writes_before = store->writes();
  uint64_t commits_before = store->commits();
  std::atomic<int> failures{0};
  std::latch start(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      start.arrive_and_wait();
      for (int i = 0; i < kWritesPerThread; ++i) {
        bool duplicate = i % 10 == 9;
        std::string gid = "g" + std::to_string(t) + "-" + std::to_string(duplicate ? i - 1 : i);
        TransGlobal g = NewGlobal(gid);
        std::vector<TransBranch> branches{NewBranch(gid, duplicate ? "02" : "01", "action")};
        Status st = store->MaySaveNewTrans(g, branches);
        if (st.code() != (duplicate ? StatusCode::kUniqueConflict : StatusCode::kOk)) ++failures;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  uint64_t writes = store->writes() - writes_before;
  uint64_t commits = store->commits() - commits_before;
  EXPECT_EQ(writes, static_cast<uint64_t>(kThreads * kWritesPerThread));
  EXPECT_LT(commits, writes);
  RecordProperty("writes", std::to_string(writes));
  RecordProperty("commits", std::to_string(commits));
  std::printf("group commit: %llu writes in %llu commits\n",
              static_cast<unsigned long long>(writes), static_cast<unsigned long long>(commits));

  std::string position;
  std::vector<TransGlobal> all;
  ASSERT_TRUE(store->ScanGlobals(&position, 1'000'000, {}, &all).ok());
  EXPECT_EQ(all.size(), static_cast<size_t>(kThreads * kWritesPerThread * 9 / 10));
  for (const auto& g : all) {
    auto rows = store->FindBranches(g.gid);
    ASSERT_TRUE(rows.ok());
    ASSERT_EQ(rows->size(), 1u) << g.gid;
    EXPECT_EQ((*rows)[0].branch_id, "01") << g.gid;
  }
}

// A child process writes transactions and reports each acknowledged gid through a pipe; it is
// killed with SIGKILL mid-load. Every acknowledged transaction must then be there, and no
// transaction may be there in part.
TEST_F(SqliteStoreTest, AcknowledgedWritesSurviveKill9) {
  constexpr int kBranches = 3;
  constexpr int kWriters = 4;
  constexpr size_t kAcksBeforeKill = 300;
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    close(fds[0]);
    auto store = OpenSqlite(dir_);
    if (store == nullptr) _exit(2);
    std::vector<std::thread> writers;
    for (int w = 0; w < kWriters; ++w) {
      writers.emplace_back([&store, w, fd = fds[1]] {
        for (int i = 0;; ++i) {
          std::string gid = "crash-" + std::to_string(w) + "-" + std::to_string(i);
          TransGlobal g = NewGlobal(gid);
          std::vector<TransBranch> branches;
          for (int b = 0; b < kBranches; ++b) {
            branches.push_back(NewBranch(gid, "0" + std::to_string(b), "action"));
          }
          if (!store->MaySaveNewTrans(g, branches).ok()) _exit(3);
          std::string line = gid + "\n";  // below PIPE_BUF: written atomically
          if (write(fd, line.data(), line.size()) != static_cast<ssize_t>(line.size())) _exit(4);
        }
      });
    }
    for (auto& t : writers) t.join();
    _exit(0);
  }
  close(fds[1]);
  std::set<std::string> acked;
  std::string buffer;
  bool killed = false;
  char chunk[4096];
  while (true) {
    // A safety net against a hung child, not a timing assertion.
    pollfd readable{fds[0], POLLIN, 0};
    if (poll(&readable, 1, 60'000) != 1) {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
      FAIL() << "no progress from the writer process after " << acked.size() << " acks";
    }
    ssize_t n = read(fds[0], chunk, sizeof chunk);
    if (n <= 0) break;  // EOF once the killed child's end is closed
    buffer.append(chunk, static_cast<size_t>(n));
    for (size_t nl; (nl = buffer.find('\n')) != std::string::npos; buffer.erase(0, nl + 1)) {
      acked.insert(buffer.substr(0, nl));
    }
    if (!killed && acked.size() >= kAcksBeforeKill) {
      kill(pid, SIGKILL);
      killed = true;
    }
  }
  close(fds[0]);
  int wstatus = 0;
  ASSERT_EQ(waitpid(pid, &wstatus, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(wstatus) && WTERMSIG(wstatus) == SIGKILL)
      << "the writer ended on its own, status " << wstatus << ", after " << acked.size() << " acks";
  ASSERT_GE(acked.size(), kAcksBeforeKill);

  auto store = OpenSqlite(dir_);
  ASSERT_NE(store, nullptr);
  for (const auto& gid : acked) {
    auto g = store->FindGlobal(gid);
    ASSERT_TRUE(g.ok() && g->has_value()) << "acknowledged but lost: " << gid;
  }
  std::string position;
  std::vector<TransGlobal> all;
  ASSERT_TRUE(store->ScanGlobals(&position, 1'000'000, {}, &all).ok());
  EXPECT_GE(all.size(), acked.size());
  for (const auto& g : all) {
    auto rows = store->FindBranches(g.gid);
    ASSERT_TRUE(rows.ok());
    EXPECT_EQ(rows->size(), static_cast<size_t>(kBranches)) << "partial transaction " << g.gid;
  }
  std::printf("crash: %zu acknowledged, %zu stored\n", acked.size(), all.size());
}

}  // namespace
}  // namespace lynx::store
