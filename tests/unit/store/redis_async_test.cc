// AsyncConn (store/redis/redis_async.h): the pipelined Redis connection the store's hot writes
// use on dtmd's io threads. Against the Redis of scripts/lib/databases.sh for the real protocol,
// a killed connection and a slow command; against a hostile local server for replies nothing
// asked for and bytes that are not RESP.
#include "store/redis/redis_async.h"

#include <gtest/gtest.h>
#include <hiredis/hiredis.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "../../support/io_thread.h"
#include "../../support/test_databases.h"
#include "redis_raw.h"

namespace lynx::store::redis {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

// One command's outcome, awaited by the test thread.
struct Outcome {
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  Status status;
  std::string text;  // the reply as text when it is a string, status, integer or error
  bool sent = false;

  AsyncConn::Done Callback() {
    return [this](StatusOr<Reply> r, bool was_sent) {
      std::lock_guard lock(mu);
      done = true;
      sent = was_sent;
      status = r.status();
      if (r.ok()) {
        const redisReply& reply = **r;
        if (reply.type == REDIS_REPLY_INTEGER) {
          text = std::to_string(reply.integer);
        } else if (reply.str != nullptr) {
          text = std::string(reply.str, reply.len);
        }
      }
      cv.notify_all();
    };
  }
  bool Wait(std::chrono::milliseconds limit = 10s) {
    std::unique_lock lock(mu);
    return cv.wait_for(lock, limit, [&] { return done; });
  }
};

// An io_context run by one thread for the test's lifetime; stopped before the connection goes.
using testing_io::IoThread;

ConnOptions RedisOptions(const std::string& name) {
  ConnOptions o;
  o.host = testing_dbs::Host();
  o.port = testing_dbs::RedisPort().value_or(0);
  o.client_name = name;
  o.connect_timeout_ms = 2000;
  o.io_timeout_ms = 2000;
  return o;
}

// A plain blocking connection to the same server, to act behind the async one's back.
std::string RawCommand(const std::vector<std::string>& argv) {
  return testing_redis::Raw(*testing_dbs::RedisPort()).Cmd(argv);
}

// The id of the server-side client named `name` ("" when none).
std::string ClientId(const std::string& name) {
  const std::string list = RawCommand({"CLIENT", "LIST"});
  size_t at = list.find("name=" + name + " ");
  if (at == std::string::npos) return "";
  size_t line = list.rfind('\n', at);
  line = line == std::string::npos ? 0 : line + 1;
  size_t id = list.find("id=", line);
  return list.substr(id + 3, list.find(' ', id) - id - 3);
}

// AppendCommand writes what hiredis' own formatter writes (and RedisConn sends), for empty,
// binary and long arguments, appended after what the buffer held.
TEST(RedisAsyncConnTest, AppendCommandWritesHiredisBytes) {
  const std::vector<std::vector<std::string>> commands = {
      {"PING"},
      {"SET", "k", ""},
      {"EVALSHA", "0123456789abcdef", "0", std::string("a\0b\r\n", 5), std::string(70'000, 'x')},
      {"CLIENT", "SETNAME", "dtmd"}};
  std::string ours = "before";
  std::string theirs = "before";
  for (const auto& argv : commands) {
    AppendCommand(argv, &ours);
    std::vector<const char*> ptrs;
    std::vector<size_t> lengths;
    for (const auto& a : argv) {
      ptrs.push_back(a.data());
      lengths.push_back(a.size());
    }
    char* cmd = nullptr;
    const int len =
        redisFormatCommandArgv(&cmd, static_cast<int>(argv.size()), ptrs.data(), lengths.data());
    ASSERT_GT(len, 0);
    theirs.append(cmd, static_cast<size_t>(len));
    redisFreeCommand(cmd);
  }
  EXPECT_EQ(ours, theirs);
}

TEST(RedisAsyncConnTest, ManyCommandsFromManyThreadsGetTheirOwnReplies) {
  LYNX_REQUIRE_SERVER(testing_dbs::RedisPort().has_value(), "Redis");
  const std::string name = "lynx-async-" + testing_dbs::UniqueSuffix();
  IoThread io;
  std::optional<AsyncConn> conn(std::in_place, io.io(), RedisOptions(name));
  constexpr int kThreads = 4;
  constexpr int kPerThread = 500;
  std::vector<Outcome> outcomes(kThreads * kPerThread);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const int k = t * kPerThread + i;
        conn->Command({"ECHO", "payload-" + std::to_string(k) + std::string(k % 97, 'x')},
                      outcomes[k].Callback());
      }
    });
  }
  for (auto& t : threads) t.join();
  for (int k = 0; k < kThreads * kPerThread; ++k) {
    ASSERT_TRUE(outcomes[k].Wait()) << k;
    ASSERT_TRUE(outcomes[k].status.ok()) << outcomes[k].status.message();
    EXPECT_EQ(outcomes[k].text, "payload-" + std::to_string(k) + std::string(k % 97, 'x'));
    EXPECT_TRUE(outcomes[k].sent);
  }
  io.Stop();
}

TEST(RedisAsyncConnTest, KilledConnectionFailsWhatWasInFlightAndTheNextCommandReconnects) {
  LYNX_REQUIRE_SERVER(testing_dbs::RedisPort().has_value(), "Redis");
  const std::string name = "lynx-async-" + testing_dbs::UniqueSuffix();
  IoThread io;
  std::optional<AsyncConn> conn(std::in_place, io.io(), RedisOptions(name));
  Outcome ping;
  conn->Command({"PING"}, ping.Callback());
  ASSERT_TRUE(ping.Wait());
  ASSERT_TRUE(ping.status.ok());
  // A command the server holds (BLPOP on an empty list), then the connection is killed.
  Outcome blocked;
  conn->Command({"BLPOP", "lynx-async-test-empty-list", "30"}, blocked.Callback());
  std::string id;
  for (int i = 0; i < 200 && id.empty(); ++i) {
    std::this_thread::sleep_for(10ms);  // polling the server's client list, not a fixed wait
    if (RawCommand({"CLIENT", "LIST"}).find("cmd=blpop") != std::string::npos) {
      id = ClientId(name);
    }
  }
  ASSERT_FALSE(id.empty());
  EXPECT_EQ(RawCommand({"CLIENT", "KILL", "ID", id}), "1");
  ASSERT_TRUE(blocked.Wait());
  EXPECT_EQ(blocked.status.code(), StatusCode::kUnavailable) << blocked.status.message();
  EXPECT_TRUE(blocked.sent);  // its outcome is unknown: a write must not be sent again
  Outcome again;
  conn->Command({"ECHO", "back"}, again.Callback());
  ASSERT_TRUE(again.Wait());
  ASSERT_TRUE(again.status.ok()) << again.status.message();
  EXPECT_EQ(again.text, "back");
  io.Stop();
}

TEST(RedisAsyncConnTest, AReplyLaterThanTheTimeoutFailsTheConnection) {
  LYNX_REQUIRE_SERVER(testing_dbs::RedisPort().has_value(), "Redis");
  const std::string name = "lynx-async-" + testing_dbs::UniqueSuffix();
  IoThread io;
  ConnOptions o = RedisOptions(name);
  o.io_timeout_ms = 200;
  o.connect_timeout_ms = 100;
  std::optional<AsyncConn> conn(std::in_place, io.io(), o);
  Outcome slow;
  const auto start = std::chrono::steady_clock::now();
  conn->Command({"BLPOP", "lynx-async-test-empty-list", "5"}, slow.Callback());
  ASSERT_TRUE(slow.Wait(4s));  // well before BLPOP's own 5 s
  EXPECT_EQ(slow.status.code(), StatusCode::kUnavailable);
  EXPECT_NE(slow.status.message().find("timed out"), std::string::npos) << slow.status.message();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 4s);
  Outcome next;
  conn->Command({"PING"}, next.Callback());
  ASSERT_TRUE(next.Wait());
  EXPECT_TRUE(next.status.ok()) << next.status.message();
  io.Stop();
}

TEST(RedisAsyncConnTest, UnreachableServerFailsUnsent) {
  IoThread io;
  ConnOptions o;
  o.host = "127.0.0.1";
  o.port = 1;  // nothing listens there
  std::optional<AsyncConn> conn(std::in_place, io.io(), o);
  Outcome out;
  conn->Command({"PING"}, out.Callback());
  ASSERT_TRUE(out.Wait());
  EXPECT_EQ(out.status.code(), StatusCode::kUnavailable);
  EXPECT_FALSE(out.sent);
  io.Stop();
}

TEST(RedisAsyncConnTest, ClosingFailsWhatIsStillWaiting) {
  LYNX_REQUIRE_SERVER(testing_dbs::RedisPort().has_value(), "Redis");
  const std::string name = "lynx-async-" + testing_dbs::UniqueSuffix();
  IoThread io;
  std::optional<AsyncConn> conn(std::in_place, io.io(), RedisOptions(name));
  Outcome blocked;
  conn->Command({"BLPOP", "lynx-async-test-empty-list", "30"}, blocked.Callback());
  for (int i = 0; i < 200 && ClientId(name).empty(); ++i) {
    std::this_thread::sleep_for(10ms);  // polling the server's client list, not a fixed wait
  }
  io.Stop();
  conn.reset();
  ASSERT_TRUE(blocked.Wait(0ms));
  EXPECT_EQ(blocked.status.code(), StatusCode::kUnavailable);
}

// A "server" that answers its first connection's first request with `bytes`, then reads until
// the client gives up.
class HostileServer {
 public:
  explicit HostileServer(std::string bytes)
      : acceptor_(io_, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)),
        bytes_(std::move(bytes)),
        thread_([this] { Serve(); }) {}
  ~HostileServer() {
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    if (socket_) socket_->close(ignored);
    thread_.join();
  }
  int port() const { return acceptor_.local_endpoint().port(); }

 private:
  void Serve() {
    boost::system::error_code ec;
    socket_.emplace(io_);
    acceptor_.accept(*socket_, ec);
    if (ec) return;
    char buf[256];
    socket_->read_some(asio::buffer(buf), ec);
    if (ec) return;
    asio::write(*socket_, asio::buffer(bytes_), ec);
    while (!ec) socket_->read_some(asio::buffer(buf), ec);
  }

  asio::io_context io_;
  asio::ip::tcp::acceptor acceptor_;
  std::optional<asio::ip::tcp::socket> socket_;
  std::string bytes_;
  std::thread thread_;
};

void ExpectFailsOn(const std::string& bytes, const char* why) {
  HostileServer server(bytes);
  IoThread io;
  ConnOptions o;
  o.host = "127.0.0.1";
  o.port = server.port();
  o.io_timeout_ms = 300;
  o.connect_timeout_ms = 100;
  std::optional<AsyncConn> conn(std::in_place, io.io(), o);
  Outcome out;
  conn->Command({"PING"}, out.Callback());
  ASSERT_TRUE(out.Wait());
  EXPECT_EQ(out.status.code(), StatusCode::kUnavailable) << why;
  EXPECT_NE(out.status.message().find(why), std::string::npos) << out.status.message();
  EXPECT_TRUE(out.sent);
  io.Stop();
}

TEST(RedisAsyncConnTest, BytesThatAreNotRespFailTheConnection) {
  ExpectFailsOn("HTTP/1.1 400 Bad Request\r\n\r\n", "bad reply");
}

TEST(RedisAsyncConnTest, ARepliesNestedTooDeepFailTheConnection) {
  std::string nested;
  for (int i = 0; i < 12; ++i) nested += "*1\r\n";
  ExpectFailsOn(nested + ":1\r\n", "bad reply");
}

TEST(RedisAsyncConnTest, AReplyAnnouncedHugeButNeverSentTimesOut) {
  ExpectFailsOn("$1000000000\r\nabc", "timed out");
}

}  // namespace
}  // namespace lynx::store::redis
