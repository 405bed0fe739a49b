// MysqlStore properties beyond the contract (two instances racing on one database are in
// store_contract_test.cc, SharedStoreTest): recovery from connections the server dropped, the
// query plans of the cron lease and the purge, retention on a large table, and databases created
// by DTM. Runs against the MariaDB of scripts/lib/databases.sh (skipped when it is not started,
// failed under LYNX_TEST_REQUIRE_DBS=1).
#include <gtest/gtest.h>
#include <mysql.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <latch>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "../../support/test_databases.h"
#include "store/mysql/mysql_store.h"

namespace lynx::store {
namespace {

constexpr UnixMs kNow = 1'700'000'000'000;

using Rows = std::vector<std::vector<std::string>>;

class MysqlStoreTest : public testing::Test {
 protected:
  void SetUp() override {
    auto conf = testing_dbs::ServerConf("mysql");
    LYNX_REQUIRE_SERVER(conf.has_value(), "MariaDB");
    options_.host = conf->host;
    options_.port = conf->port;
    options_.user = conf->user;
    options_.password = conf->password;
    options_.db = "lynx_my_test_" + testing_dbs::UniqueSuffix();
    a_ = Open();
    b_ = Open();
    ASSERT_NE(a_, nullptr);
    ASSERT_NE(b_, nullptr);
  }
  void TearDown() override {
    if (a_ != nullptr) {
      Status st = a_->DropDatabase();
      EXPECT_TRUE(st.ok()) << st.message();
    }
  }

  std::unique_ptr<MysqlStore> Open(const MysqlOptions& options) {
    auto s = MysqlStore::Open(options);
    EXPECT_TRUE(s.ok()) << s.status().message();
    return s.ok() ? std::move(*s) : nullptr;
  }
  std::unique_ptr<MysqlStore> Open() { return Open(options_); }

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

  // Runs `sql` on a connection of the test's own (not the store's), with `db` as the default
  // database ("" for none); the rows as text, NULL as "NULL".
  Rows Sql(const std::string& sql, const std::string& db) {
    Rows rows;
    MYSQL* conn = mysql_init(nullptr);
    unsigned int protocol = MYSQL_PROTOCOL_TCP;
    mysql_optionsv(conn, MYSQL_OPT_PROTOCOL, &protocol);
    if (mysql_real_connect(conn, options_.host.c_str(), options_.user.c_str(),
                           options_.password.c_str(), db.empty() ? nullptr : db.c_str(),
                           static_cast<unsigned int>(options_.port), nullptr, 0) == nullptr) {
      ADD_FAILURE() << "connect: " << mysql_error(conn);
      mysql_close(conn);
      return rows;
    }
    if (mysql_real_query(conn, sql.data(), sql.size()) != 0) {
      ADD_FAILURE() << mysql_error(conn) << " in: " << sql.substr(0, 200);
    } else if (MYSQL_RES* r = mysql_store_result(conn)) {
      const unsigned int cols = mysql_num_fields(r);
      while (MYSQL_ROW row = mysql_fetch_row(r)) {
        unsigned long* lengths = mysql_fetch_lengths(r);
        std::vector<std::string> out;
        for (unsigned int c = 0; c < cols; ++c) {
          out.push_back(row[c] != nullptr ? std::string(row[c], lengths[c]) : "NULL");
        }
        rows.push_back(std::move(out));
      }
      mysql_free_result(r);
    }
    mysql_close(conn);
    return rows;
  }
  Rows Sql(const std::string& sql) { return Sql(sql, options_.db); }
  int64_t Count(const std::string& sql) {
    Rows r = Sql(sql);
    return r.empty() ? -1 : std::stoll(r[0][0]);
  }

  // Kills every connection to the test database but the caller's, as a server restart would.
  void DropServerConnections() {
    Rows ids = Sql("SELECT id FROM information_schema.processlist WHERE db = '" + options_.db +
                   "' AND id <> CONNECTION_ID()");
    ASSERT_FALSE(ids.empty());
    for (const auto& id : ids) Sql("KILL CONNECTION " + id[0]);
  }

  // Appends `n` transactions to the test database in multi-row INSERTs (far faster than one
  // store call each), with one branch each. Times are SQL datetime literals.
  void BulkInsert(int n, const std::string& prefix, const std::string& status,
                  const std::string& update_time, const std::string& next_cron_time) {
    constexpr int kChunk = 500;
    for (int from = 0; from < n; from += kChunk) {
      std::ostringstream globals, branches;
      globals << "INSERT INTO trans_global (gid, trans_type, status, query_prepared, protocol,"
                 " create_time, update_time, next_cron_interval, next_cron_time) VALUES ";
      branches << "INSERT INTO trans_branch_op (gid, url, bin_data, branch_id, op, status,"
                  " create_time, update_time) VALUES ";
      for (int i = from; i < std::min(n, from + kChunk); ++i) {
        const std::string gid = "'" + prefix + std::to_string(i) + "'";
        const char* sep = i > from ? "," : "";
        globals << sep << "(" << gid << ", 'saga', '" << status << "', '', 'http', '" << update_time
                << "', '" << update_time << "', 10, '" << next_cron_time << "')";
        branches << sep << "(" << gid << ", 'http://busi/action', 'x', '01', 'action', '" << status
                 << "', '" << update_time << "', '" << update_time << "')";
      }
      Sql(globals.str());
      Sql(branches.str());
    }
  }

  MysqlOptions options_;
  std::unique_ptr<MysqlStore> a_, b_;
};

TEST_F(MysqlStoreTest, ReadsRetryOnAFreshConnectionWritesReportUnavailable) {
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
  Status lost = a_->ChangeGlobalStatus("g1", kStatusPrepared, c);
  EXPECT_EQ(lost.code(), StatusCode::kUnavailable) << lost.message();
  // The pool reconnects for the next call.
  EXPECT_TRUE(a_->ChangeGlobalStatus("g1", kStatusPrepared, c).ok());
  auto after = a_->FindGlobal("g1");
  ASSERT_TRUE(after.ok() && after->has_value());
  EXPECT_EQ((*after)->status, kStatusSubmitted);
}

TEST_F(MysqlStoreTest, PopulateSchemaIsIdempotentAcrossInstances) {
  std::atomic<int> errors{0};
  std::vector<std::thread> threads;
  for (Store* s : {static_cast<Store*>(a_.get()), static_cast<Store*>(b_.get())}) {
    threads.emplace_back([&, s] {
      for (int i = 0; i < 3; ++i) {
        if (Status st = s->PopulateSchema(); !st.ok()) {
          ADD_FAILURE() << st.message();
          ++errors;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(errors.load(), 0);
  Save(*b_, "g1", kNow);
  auto found = a_->FindGlobal("g1");
  ASSERT_TRUE(found.ok() && found->has_value());
}

// Several instances starting at once on an empty server all create (or find) the schema.
TEST_F(MysqlStoreTest, ConcurrentOpensOfANewDatabaseAllSucceed) {
  MysqlOptions fresh = options_;
  fresh.db = options_.db + "_new";
  std::atomic<int> errors{0};
  std::latch start(4);
  std::vector<std::thread> threads;
  std::vector<std::unique_ptr<MysqlStore>> stores(4);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      start.arrive_and_wait();
      auto s = MysqlStore::Open(fresh);
      if (!s.ok()) {
        ADD_FAILURE() << s.status().message();
        ++errors;
        return;
      }
      stores[static_cast<size_t>(t)] = std::move(*s);
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(errors.load(), 0);
  if (stores[0] != nullptr) {
    Save(*stores[0], "g1", kNow);
    EXPECT_TRUE(stores[0]->DropDatabase().ok());
  }
}

TEST_F(MysqlStoreTest, UnreachableServerIsUnavailable) {
  MysqlOptions bad = options_;
  bad.host = "127.0.0.1";
  bad.port = 1;  // nothing listens there
  bad.connect_timeout_s = 2;
  auto s = MysqlStore::Open(bad);
  EXPECT_EQ(s.status().code(), StatusCode::kUnavailable) << s.status().message();
  EXPECT_NE(s.status().message().find("127.0.0.1:1"), std::string::npos) << s.status().message();

  MysqlOptions denied = options_;
  denied.user = "nobody_" + testing_dbs::UniqueSuffix();
  denied.password = "wrong";
  s = MysqlStore::Open(denied);
  EXPECT_EQ(s.status().code(), StatusCode::kUnavailable) << s.status().message();
  const std::string where = options_.host + ":" + std::to_string(options_.port);
  EXPECT_NE(s.status().message().find(where), std::string::npos) << s.status().message();
  EXPECT_NE(s.status().message().find("denied"), std::string::npos) << s.status().message();

  MysqlOptions missing = options_;
  missing.db = options_.db + "_absent";
  missing.create_schema = false;
  s = MysqlStore::Open(missing);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find(missing.db), std::string::npos) << s.status().message();
}

// The lease and the purge read index ranges in index order, however large the table: no
// filesort, no full scan. Checked on a table with a realistic mix of statuses.
TEST_F(MysqlStoreTest, LeaseAndPurgeQueriesUseTheirIndexesWithoutFilesort) {
  BulkInsert(2000, "done-", "succeed", "2023-11-14 00:00:00", "2023-11-14 00:00:00");
  BulkInsert(300, "failed-", "failed", "2023-11-14 00:00:00", "2023-11-14 00:00:00");
  BulkInsert(200, "prep-", "prepared", "2023-11-14 00:00:00", "2023-11-14 00:01:00");
  BulkInsert(100, "sub-", "submitted", "2023-11-14 00:00:00", "2023-11-14 00:02:00");
  BulkInsert(100, "abort-", "aborting", "2023-11-14 00:00:00", "2023-11-14 00:03:00");
  Sql("ANALYZE TABLE trans_global");

  auto lease = a_->CronQueryPlan();
  ASSERT_TRUE(lease.ok()) << lease.status().message();
  std::printf("lease plan:\n%s", lease->c_str());
  int parts = 0;
  std::istringstream lines(*lease);
  for (std::string line; std::getline(lines, line);) {
    if (line.find("table=trans_global") == std::string::npos) continue;
    ++parts;
    EXPECT_NE(line.find("type=range"), std::string::npos) << line;
    EXPECT_NE(line.find("key=status_next_cron_time |"), std::string::npos) << line;
  }
  EXPECT_EQ(parts, 3) << *lease;  // one range per unfinished status
  EXPECT_EQ(lease->find("filesort"), std::string::npos) << *lease;
  EXPECT_EQ(lease->find("temporary"), std::string::npos) << *lease;

  auto purge = a_->PurgeQueryPlan();
  ASSERT_TRUE(purge.ok()) << purge.status().message();
  std::printf("purge plan:\n%s", purge->c_str());
  // range, or ref on status with the update_time bound checked in the index (when every row
  // of the status is older than the cut-off): either way a walk of status_update_time.
  EXPECT_TRUE(purge->find("type=range") != std::string::npos ||
              purge->find("type=ref") != std::string::npos)
      << *purge;
  EXPECT_NE(purge->find("key=status_update_time |"), std::string::npos) << *purge;
  EXPECT_EQ(purge->find("filesort"), std::string::npos) << *purge;

  // And the lease works on that table: the earliest due unfinished row.
  auto g = a_->LockOneGlobalTrans(kNow + 1000LL * 86400 * 365 * 10, 0, 10, "o");
  ASSERT_TRUE(g.ok() && g->has_value()) << g.status().message();
  EXPECT_EQ((*g)->status, kStatusPrepared);
}

TEST_F(MysqlStoreTest, PurgeOnAManyRowTable) {
  constexpr int kOld = 5000;
  BulkInsert(kOld, "old-", "succeed", "2001-01-01 00:00:00", "2001-01-01 00:00:00");
  BulkInsert(1000, "oldf-", "failed", "2001-01-01 00:00:00", "2001-01-01 00:00:00");
  BulkInsert(1000, "new-", "succeed", "2037-01-01 00:00:00", "2037-01-01 00:00:00");
  BulkInsert(1000, "open-", "submitted", "2001-01-01 00:00:00", "2001-01-01 00:00:00");
  Sql("ANALYZE TABLE trans_global");

  // Two instances purge concurrently in batches of 500, as two dtmd's retention loops would.
  std::atomic<int64_t> purged{0};
  std::atomic<int> errors{0};
  std::atomic<int> calls{0};
  const auto started = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (MysqlStore* s : {a_.get(), b_.get()}) {
    threads.emplace_back([&, s] {
      while (true) {
        auto n = s->PurgeFinished(kNow, 500);
        ++calls;
        if (!n.ok()) {
          ADD_FAILURE() << n.status().message();
          ++errors;
        }
        if (!n.ok() || *n == 0) return;
        purged += *n;
      }
    });
  }
  for (auto& t : threads) t.join();
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now() - started)
                      .count();
  std::printf("purged %lld transactions in %d calls, %lld ms\n",
              static_cast<long long>(purged.load()), calls.load(), static_cast<long long>(ms));
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(purged.load(), kOld + 1000);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM trans_global"), 2000);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM trans_global WHERE gid LIKE 'old%'"), 0);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM trans_branch_op"), 2000);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM trans_branch_op WHERE gid LIKE 'old%'"), 0);
}

// A database DTM created (datetime without fractions, no retention index) works unchanged: Open
// adds the index, and times are kept to the second.
TEST_F(MysqlStoreTest, OpenAddsThePurgeIndexToADtmDatabase) {
  const std::string db = options_.db + "_dtm";
  Sql("CREATE DATABASE " + db + " DEFAULT CHARACTER SET utf8mb4", "");
  Sql("CREATE TABLE " + db +
          ".trans_global (id bigint(22) NOT NULL AUTO_INCREMENT, gid varchar(128) NOT NULL,"
          " trans_type varchar(45) NOT NULL, status varchar(12) NOT NULL,"
          " query_prepared varchar(1024) NOT NULL, protocol varchar(45) NOT NULL,"
          " create_time datetime DEFAULT NULL, update_time datetime DEFAULT NULL,"
          " finish_time datetime DEFAULT NULL, rollback_time datetime DEFAULT NULL,"
          " options varchar(1024) DEFAULT '', custom_data varchar(1024) DEFAULT '',"
          " next_cron_interval int(11) DEFAULT NULL, next_cron_time datetime DEFAULT NULL,"
          " owner varchar(128) NOT NULL DEFAULT '', ext_data TEXT,"
          " result varchar(1024) DEFAULT '', rollback_reason varchar(1024) DEFAULT '',"
          " PRIMARY KEY (id), UNIQUE KEY gid (gid), KEY owner (owner),"
          " KEY status_next_cron_time (status, next_cron_time))"
          " ENGINE = InnoDB DEFAULT CHARSET = utf8mb4",
      "");
  Sql("CREATE TABLE " + db +
          ".trans_branch_op (id bigint(22) NOT NULL AUTO_INCREMENT, gid varchar(128) NOT NULL,"
          " url varchar(1024) NOT NULL, data TEXT, bin_data BLOB,"
          " branch_id VARCHAR(128) NOT NULL, op varchar(45) NOT NULL,"
          " status varchar(45) NOT NULL, finish_time datetime DEFAULT NULL,"
          " rollback_time datetime DEFAULT NULL, create_time datetime DEFAULT NULL,"
          " update_time datetime DEFAULT NULL, PRIMARY KEY (id),"
          " UNIQUE KEY gid_uniq (gid, branch_id, op)) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4",
      "");
  Sql("CREATE TABLE " + db +
          ".kv (id bigint(22) NOT NULL AUTO_INCREMENT, cat varchar(45) NOT NULL,"
          " k varchar(128) NOT NULL, v TEXT, version bigint(22) DEFAULT 1,"
          " create_time datetime DEFAULT NULL, update_time datetime DEFAULT NULL,"
          " PRIMARY KEY (id), UNIQUE KEY uniq_k (cat, k)) ENGINE = InnoDB DEFAULT CHARSET = "
          "utf8mb4",
      "");
  MysqlOptions dtm = options_;
  dtm.db = db;
  auto s = Open(dtm);
  ASSERT_NE(s, nullptr);
  Rows index =
      Sql("SELECT column_name FROM information_schema.statistics WHERE table_schema = '" + db +
              "' AND table_name = 'trans_global' AND index_name = 'status_update_time'"
              " ORDER BY seq_in_index",
          "");
  EXPECT_EQ(index, (Rows{{"status"}, {"update_time"}}));
  Save(*s, "g1", kNow + 1234);
  auto g = s->FindGlobal("g1");
  ASSERT_TRUE(g.ok() && g->has_value());
  EXPECT_EQ((*g)->create_time, kNow);            // whole seconds survive
  EXPECT_EQ((*g)->next_cron_time, kNow + 1000);  // the fraction is cut by the server
  // Opening again finds the index in place.
  EXPECT_NE(Open(dtm), nullptr);
  EXPECT_TRUE(s->DropDatabase().ok());
}

// The datetime columns hold the process's local time, as DTM writes them.
TEST_F(MysqlStoreTest, TimesAreStoredAsLocalTime) {
  Save(*a_, "g1", kNow);
  time_t t = static_cast<time_t>(kNow / 1000);
  struct tm tm {};
  localtime_r(&t, &tm);
  char local[32];
  strftime(local, sizeof local, "%Y-%m-%d %H:%M:%S.000", &tm);
  EXPECT_EQ(Sql("SELECT create_time FROM trans_global WHERE gid = 'g1'"), (Rows{{local}}));
}

}  // namespace
}  // namespace lynx::store
