// AsyncPgPool (store/postgres/pg_async.h): the non-blocking PostgreSQL connections the store's
// hot writes use on dtmd's io threads. Against the PostgreSQL of scripts/lib/databases.sh for
// results, errors, killed connections and a slow statement; against a local listener that never
// answers for the connect timeout.
#include "store/postgres/pg_async.h"

#include <gtest/gtest.h>
#include <libpq-fe.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "../../support/io_thread.h"
#include "../../support/test_databases.h"
#include "common/pg_status.h"

namespace lynx::store::pg {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

constexpr char kEcho[] = "SELECT $1::text";
constexpr char kDivide[] = "SELECT 10 / $1::int";
constexpr char kSleep[] = "SELECT pg_sleep($1::float8)";

struct Outcome {
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  Status status;
  std::string text;  // first column of the first row
  bool sent = false;

  AsyncPgPool::Done Callback() {
    return [this](StatusOr<PgResult> r, bool was_sent) {
      std::lock_guard lock(mu);
      done = true;
      sent = was_sent;
      status = r.status();
      if (r.ok() && r->rows() > 0) text = r->Text(0, 0);
      cv.notify_all();
    };
  }
  bool Wait(std::chrono::milliseconds limit = 20s) {
    std::unique_lock lock(mu);
    return cv.wait_for(lock, limit, [&] { return done; });
  }
};

using testing_io::IoThread;

std::string ConnInfo(const std::string& app) {
  auto conf = testing_dbs::ServerConf("postgres");
  return "host=" + PgConnValue(conf->host) + " port=" + std::to_string(conf->port) +
         " user=" + PgConnValue(conf->user) + " dbname=" + PgConnValue(conf->db) +
         " application_name=" + PgConnValue(app);
}

// Statements on a connection of its own; the first column of the first row.
std::string Side(const std::string& sql) {
  PGconn* conn = PQconnectdb(ConnInfo("lynx-async-side").c_str());
  PGresult* r = PQexec(conn, sql.c_str());
  std::string out = PQntuples(r) > 0 ? PQgetvalue(r, 0, 0) : "";
  PQclear(r);
  PQfinish(conn);
  return out;
}

PgParams One(std::string v) {
  PgParams p;
  p.Text(std::move(v));
  return p;
}

#define LYNX_REQUIRE_PG() \
  LYNX_REQUIRE_SERVER(testing_dbs::ServerConf("postgres").has_value(), "PostgreSQL")

TEST(PgAsyncPoolTest, ManyStatementsOnFewConnectionsGetTheirOwnResults) {
  LYNX_REQUIRE_PG();
  IoThread io;
  std::optional<AsyncPgPool> pool(std::in_place, io.io(), ConnInfo("lynx-async-many"), 3, 5000ms,
                                  0s);
  constexpr int kN = 300;
  std::vector<Outcome> out(kN);
  for (int i = 0; i < kN; ++i) pool->Run(kEcho, One("v" + std::to_string(i)), out[i].Callback());
  for (int i = 0; i < kN; ++i) {
    ASSERT_TRUE(out[i].Wait()) << i;
    ASSERT_TRUE(out[i].status.ok()) << out[i].status.message();
    EXPECT_EQ(out[i].text, "v" + std::to_string(i));
  }
  // Never more connections than allowed.
  EXPECT_LE(std::stoi(Side("SELECT count(*) FROM pg_stat_activity WHERE application_name = "
                           "'lynx-async-many'")),
            3);
  io.Stop();
}

TEST(PgAsyncPoolTest, AStatementErrorFailsItAloneAndTheConnectionGoesOn) {
  LYNX_REQUIRE_PG();
  IoThread io;
  std::optional<AsyncPgPool> pool(std::in_place, io.io(), ConnInfo("lynx-async-error"), 1, 5000ms,
                                  0s);
  Outcome bad, good;
  pool->Run(kDivide, One("0"), bad.Callback());
  pool->Run(kDivide, One("5"), good.Callback());
  ASSERT_TRUE(bad.Wait());
  EXPECT_EQ(bad.status.code(), StatusCode::kInternal);
  EXPECT_NE(bad.status.message().find("22012"), std::string::npos) << bad.status.message();
  ASSERT_TRUE(good.Wait());
  ASSERT_TRUE(good.status.ok()) << good.status.message();
  EXPECT_EQ(good.text, "2");
  io.Stop();
}

// Polls pg_stat_activity (up to 5 s) until a statement of application `app` is running: the
// server's state, not a fixed wait.
void AwaitActive(const std::string& app) {
  for (int i = 0; i < 500; ++i) {
    if (Side("SELECT count(*) FROM pg_stat_activity WHERE application_name = '" + app +
             "' AND state = 'active'") == "1") {
      return;
    }
    std::this_thread::sleep_for(10ms);
  }
}

TEST(PgAsyncPoolTest, AKilledConnectionFailsItsStatementAndTheNextOneReconnects) {
  LYNX_REQUIRE_PG();
  IoThread io;
  const std::string app = "lynx-async-kill-" + testing_dbs::UniqueSuffix();
  std::optional<AsyncPgPool> pool(std::in_place, io.io(), ConnInfo(app), 2, 5000ms, 0s);
  Outcome slow;
  pool->Run(kSleep, One("30"), slow.Callback());
  AwaitActive(app);
  const std::string killed = Side(
      "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = '" +
      app + "' AND state = 'active'");
  ASSERT_EQ(killed, "1");
  ASSERT_TRUE(slow.Wait());
  EXPECT_EQ(slow.status.code(), StatusCode::kUnavailable) << slow.status.message();
  EXPECT_TRUE(slow.sent);  // its fate is unknown to the caller
  Outcome next;
  pool->Run(kEcho, One("again"), next.Callback());
  ASSERT_TRUE(next.Wait());
  ASSERT_TRUE(next.status.ok()) << next.status.message();
  EXPECT_EQ(next.text, "again");
  io.Stop();
}

TEST(PgAsyncPoolTest, AnUnreachableServerFailsWhatWaitsUnsent) {
  IoThread io;
  std::optional<AsyncPgPool> pool(std::in_place, io.io(), "host=127.0.0.1 port=1 user=x dbname=x",
                                  2, 5000ms, 0s);
  Outcome a, b;
  pool->Run(kEcho, One("a"), a.Callback());
  pool->Run(kEcho, One("b"), b.Callback());
  ASSERT_TRUE(a.Wait());
  ASSERT_TRUE(b.Wait());
  EXPECT_EQ(a.status.code(), StatusCode::kUnavailable);
  EXPECT_EQ(b.status.code(), StatusCode::kUnavailable);
  EXPECT_FALSE(a.sent);
  EXPECT_FALSE(b.sent);
  io.Stop();
}

TEST(PgAsyncPoolTest, AServerThatNeverAnswersTimesOutTheConnect) {
  // Accepts the connection and says nothing: libpq waits for the server's first message.
  asio::io_context quiet;
  asio::ip::tcp::acceptor acceptor(quiet,
                                   asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  asio::ip::tcp::socket held(quiet);
  std::thread accept([&] {
    boost::system::error_code ec;
    acceptor.accept(held, ec);
  });
  IoThread io;
  std::optional<AsyncPgPool> pool(
      std::in_place, io.io(),
      "host=127.0.0.1 port=" + std::to_string(acceptor.local_endpoint().port()) +
          " user=x dbname=x sslmode=disable",
      1, 300ms, 0s);
  Outcome out;
  const auto start = std::chrono::steady_clock::now();
  pool->Run(kEcho, One("x"), out.Callback());
  ASSERT_TRUE(out.Wait(10s));
  EXPECT_EQ(out.status.code(), StatusCode::kUnavailable);
  EXPECT_NE(out.status.message().find("timed out"), std::string::npos) << out.status.message();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  io.Stop();
  accept.join();
}

TEST(PgAsyncPoolTest, ClosingFailsWhatIsStillRunning) {
  LYNX_REQUIRE_PG();
  IoThread io;
  const std::string app = "lynx-async-close-" + testing_dbs::UniqueSuffix();
  std::optional<AsyncPgPool> pool(std::in_place, io.io(), ConnInfo(app), 1, 5000ms, 0s);
  Outcome slow;
  pool->Run(kSleep, One("30"), slow.Callback());
  AwaitActive(app);
  io.Stop();
  pool.reset();
  ASSERT_TRUE(slow.Wait(0ms));
  EXPECT_EQ(slow.status.code(), StatusCode::kUnavailable);
}

}  // namespace
}  // namespace lynx::store::pg
