// PostgresStore properties beyond the contract (two instances racing on one schema are in
// store_contract_test.cc, SharedStoreTest): schema creation by several instances, recovery from
// connections the server dropped, query plans and schemas made by DTM. Runs against the server of
// scripts/lib/databases.sh (skipped when it is not started, failed under LYNX_TEST_REQUIRE_DBS=1).
#include <gtest/gtest.h>
#include <libpq-fe.h>

#include <atomic>
#include <latch>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "../../support/test_databases.h"
#include "store/postgres/postgres_store.h"

namespace lynx::store {
namespace {

constexpr UnixMs kNow = 1'700'000'000'000;

class PostgresStoreTest : public testing::Test {
 protected:
  void SetUp() override {
    auto conf = testing_dbs::ServerConf("postgres");
    LYNX_REQUIRE_SERVER(conf.has_value(), "PostgreSQL");
    options_.host = conf->host;
    options_.port = conf->port;
    options_.user = conf->user;
    options_.db = conf->db;
    options_.schema = "lynx_pg_test_" + testing_dbs::UniqueSuffix();
    a_ = Open();
    b_ = Open();
    ASSERT_NE(a_, nullptr);
    ASSERT_NE(b_, nullptr);
  }
  void TearDown() override {
    if (a_ != nullptr) {
      EXPECT_TRUE(a_->DropSchema().ok());
    }
  }

  std::unique_ptr<PostgresStore> Open() {
    auto s = PostgresStore::Open(options_);
    EXPECT_TRUE(s.ok()) << s.status().message();
    return s.ok() ? std::move(*s) : nullptr;
  }

  void Save(Store& s, const std::string& gid, UnixMs next_cron_time) {
    TransGlobal g;
    g.gid = gid;
    g.trans_type = "saga";
    g.status = kStatusPrepared;
    g.protocol = "http";
    g.create_time = g.update_time = kNow;
    g.next_cron_interval = 10;
    g.next_cron_time = next_cron_time;
    std::vector<TransBranch> none;
    ASSERT_TRUE(s.MaySaveNewTrans(g, none).ok()) << gid;
  }

  // Terminates every dtmd connection to the test database, as a server restart would.
  void DropServerConnections() {
    std::string info = "host=" + options_.host + " port=" + std::to_string(options_.port) +
                       " user=" + options_.user + " dbname=" + options_.db;
    PGconn* conn = PQconnectdb(info.c_str());
    ASSERT_EQ(PQstatus(conn), CONNECTION_OK) << PQerrorMessage(conn);
    PGresult* r = PQexec(conn,
                         "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity"
                         " WHERE application_name = 'dtmd' AND pid <> pg_backend_pid()");
    EXPECT_EQ(PQresultStatus(r), PGRES_TUPLES_OK) << PQerrorMessage(conn);
    EXPECT_GT(PQntuples(r), 0);
    PQclear(r);
    PQfinish(conn);
  }

  // Statements on a connection of its own, in the test's schema; the last one's first column,
  // rows joined by newlines.
  std::string Sql(const std::string& sql) {
    std::string info = "host=" + options_.host + " port=" + std::to_string(options_.port) +
                       " user=" + options_.user + " dbname=" + options_.db +
                       " options='-c search_path=" + options_.schema + "'";
    PGconn* conn = PQconnectdb(info.c_str());
    EXPECT_EQ(PQstatus(conn), CONNECTION_OK) << PQerrorMessage(conn);
    PGresult* r = PQexec(conn, sql.c_str());
    EXPECT_TRUE(PQresultStatus(r) == PGRES_TUPLES_OK || PQresultStatus(r) == PGRES_COMMAND_OK)
        << sql << ": " << PQerrorMessage(conn);
    std::string out;
    for (int i = 0; i < PQntuples(r); ++i)
      out += std::string(i > 0 ? "\n" : "") + PQgetvalue(r, i, 0);
    PQclear(r);
    PQfinish(conn);
    return out;
  }

  PostgresOptions options_;
  std::unique_ptr<PostgresStore> a_, b_;
};

TEST_F(PostgresStoreTest, ReadsRetryOnAFreshConnectionWritesReportUnavailable) {
  Save(*a_, "g1", kNow);
  ASSERT_TRUE(a_->Ping().ok());  // a pooled connection exists

  DropServerConnections();
  auto found = a_->FindGlobal("g1");  // broken pooled connection: retried on a new one
  ASSERT_TRUE(found.ok()) << found.status().message();
  EXPECT_TRUE(found->has_value());

  DropServerConnections();
  StatusChange c;
  c.new_status = kStatusSubmitted;
  c.now = kNow + 1;
  // The outcome of a write on a lost connection is unknown: reported, not retried.
  EXPECT_EQ(a_->ChangeGlobalStatus("g1", kStatusPrepared, c).code(), StatusCode::kUnavailable);
  // The pool reconnects for the next call.
  EXPECT_TRUE(a_->ChangeGlobalStatus("g1", kStatusPrepared, c).ok());
  auto after = a_->FindGlobal("g1");
  ASSERT_TRUE(after.ok() && after->has_value());
  EXPECT_EQ((*after)->status, kStatusSubmitted);
}

TEST_F(PostgresStoreTest, PopulateSchemaIsIdempotentAcrossInstances) {
  std::atomic<int> errors{0};
  std::vector<std::thread> threads;
  for (Store* s : {static_cast<Store*>(a_.get()), static_cast<Store*>(b_.get())}) {
    threads.emplace_back([&, s] {
      for (int i = 0; i < 3; ++i) {
        if (!s->PopulateSchema().ok()) ++errors;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(errors.load(), 0);
  Save(*b_, "g1", kNow);
  auto found = a_->FindGlobal("g1");
  ASSERT_TRUE(found.ok() && found->has_value());
}

// A schema made by DTM lacks the retention index; opening it adds the index.
TEST_F(PostgresStoreTest, OpenAddsTheRetentionIndexToADtmSchema) {
  const std::string exists = "SELECT to_regclass('status_update_time') IS NOT NULL";
  EXPECT_EQ(Sql(exists), "t");
  Sql("DROP INDEX status_update_time");
  EXPECT_EQ(Sql(exists), "f");
  auto reopened = Open();
  ASSERT_NE(reopened, nullptr);
  EXPECT_EQ(Sql(exists), "t");
  // The retention query can walk it (with sequential scans ruled out, the plan names it).
  const std::string plan =
      Sql("SET enable_seqscan = off; EXPLAIN SELECT id FROM trans_global"
          " WHERE status IN ('succeed', 'failed') AND update_time < now() LIMIT 10");
  EXPECT_NE(plan.find("status_update_time"), std::string::npos) << plan;
}

// The lease query reads unfinished transactions through an index leading with status, so finished
// history does not add to its cost: with 2000 finished rows and sequential scans allowed, the
// planner picks an index scan once statistics are current.
TEST_F(PostgresStoreTest, LeaseQueryUsesTheCronIndexAsHistoryGrows) {
  Sql("INSERT INTO trans_global (gid, trans_type, status, query_prepared, protocol,"
      " next_cron_time, update_time) SELECT 'old-' || i, 'saga', 'succeed', '', 'http',"
      " now(), now() FROM generate_series(1, 2000) AS i");
  Save(*a_, "live", kNow);
  Sql("ANALYZE trans_global");
  const std::string plan =
      Sql("EXPLAIN SELECT id FROM trans_global WHERE status IN ('prepared', 'submitted',"
          " 'aborting') AND next_cron_time <= now() ORDER BY next_cron_time, id LIMIT 1"
          " FOR UPDATE SKIP LOCKED");
  // Either index leading with status will do (the planner may pick status_update_time).
  EXPECT_NE(plan.find("Index Scan using status_"), std::string::npos) << plan;
  EXPECT_EQ(plan.find("Seq Scan"), std::string::npos) << plan;
  auto leased = a_->LockOneGlobalTrans(kNow + 1000, 0, 10, "me");
  ASSERT_TRUE(leased.ok() && leased->has_value());
  EXPECT_EQ((*leased)->gid, "live");
}

TEST_F(PostgresStoreTest, UnreachableServerIsUnavailable) {
  PostgresOptions bad = options_;
  bad.host = "127.0.0.1";
  bad.port = 1;  // nothing listens there
  bad.connect_timeout_s = 2;
  auto s = PostgresStore::Open(bad);
  EXPECT_EQ(s.status().code(), StatusCode::kUnavailable) << s.status().message();
}

}  // namespace
}  // namespace lynx::store
