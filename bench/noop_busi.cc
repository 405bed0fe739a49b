// bench_busi: the no-op business service of the benchmark. Every request under /api/busi/...
// (saga actions and compensations, msg steps and QueryPrepared, TCC try / confirm / cancel) is
// answered 200 {"dtm_result":"SUCCESS"} at once, so a benchmark measures the DTM server and not
// the branches. Keep-alive HTTP/1.1 through lynx::http::Server; nothing is logged per request.
//
// With --track-completions it also notes each transaction's last forward action — TransIn
// (saga's second action, msg's step) or TransInConfirm (tcc) — by its gid, and answers
// GET /bench/await?gid=G once G's has arrived (408 after --await-timeout-ms): how the load
// generator learns a transaction finished from servers without wait_result (dtmrs), measuring
// every server alike (dtm_loadgen --complete-at busi).
//
//   bench_busi --port 0 --port-file F [--threads N] [--address 127.0.0.1] [--track-completions]
#include <CLI/CLI.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/http_server.h"

namespace {

namespace asio = boost::asio;

constexpr std::string_view kBusiPrefix = "/api/busi/";

// The gids whose last forward action arrived, and the awaits waiting for one. An arrival before
// its await is kept until the await comes; an await whose arrival comes first is woken by
// cancelling its timer (posted to the timer's executor: timers are not thread-safe).
class Completions {
 public:
  void Arrived(const std::string& gid) {
    std::shared_ptr<asio::steady_timer> waiter;
    {
      std::lock_guard lock(mu_);
      Entry& e = entries_[gid];
      e.done = true;
      waiter = std::move(e.waiter);
    }
    if (waiter) asio::post(waiter->get_executor(), [waiter] { waiter->cancel(); });
  }

  // True once gid's last forward action arrived (within `timeout`).
  asio::awaitable<bool> Await(const std::string& gid, std::chrono::milliseconds timeout) {
    auto timer = std::make_shared<asio::steady_timer>(co_await asio::this_coro::executor, timeout);
    {
      std::lock_guard lock(mu_);
      Entry& e = entries_[gid];
      if (e.done) {
        entries_.erase(gid);
        co_return true;
      }
      e.waiter = timer;
    }
    co_await timer->async_wait(asio::as_tuple(asio::use_awaitable));
    std::lock_guard lock(mu_);
    auto it = entries_.find(gid);
    const bool done = it != entries_.end() && it->second.done;
    if (it != entries_.end()) entries_.erase(it);
    co_return done;
  }

 private:
  struct Entry {
    bool done = false;
    std::shared_ptr<asio::steady_timer> waiter;
  };
  std::mutex mu_;
  std::unordered_map<std::string, Entry> entries_;
};

Completions* completions = nullptr;  // set with --track-completions
std::chrono::milliseconds await_timeout{30000};

asio::awaitable<lynx::http::ServerReply> Answer(lynx::http::ServerRequest& req) {
  if (req.path.compare(0, kBusiPrefix.size(), kBusiPrefix) == 0) {
    if (completions != nullptr) {
      const std::string_view route = std::string_view(req.path).substr(kBusiPrefix.size());
      auto gid = req.query.find("gid");
      if ((route == "TransIn" || route == "TransInConfirm") && gid != req.query.end()) {
        completions->Arrived(gid->second);
      }
    }
    co_return lynx::http::ServerReply{200, R"({"dtm_result":"SUCCESS"})"};
  }
  if (req.path == "/bench/await" && completions != nullptr) {
    auto gid = req.query.find("gid");
    if (gid == req.query.end()) co_return lynx::http::JsonMessage(400, "gid is required");
    if (co_await completions->Await(gid->second, await_timeout)) {
      co_return lynx::http::ServerReply{200, R"({"completed":true})"};
    }
    co_return lynx::http::JsonMessage(408, "no last forward action of " + gid->second);
  }
  co_return lynx::http::JsonMessage(404, "no such route: " + req.path);
}

// Written to a temp file and renamed, so a reader polling the file never sees a partial port.
bool WritePortFile(const std::string& path, uint16_t port) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << port << "\n";
    if (!out) return false;
  }
  return std::rename(tmp.c_str(), path.c_str()) == 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"bench_busi: no-op DTM business service (every /api/busi/* call succeeds)"};
  std::string address = "127.0.0.1";
  uint16_t port = 0;
  std::string port_file;
  int threads = 1;
  app.add_option("--address", address, "listen address");
  app.add_option("--port", port, "listen port (0 = any free port)");
  app.add_option("--port-file", port_file, "write the bound port to this file once listening");
  app.add_option("--threads", threads, "io threads")->check(CLI::Range(1, 256));
  bool track = false;
  int64_t await_ms = 30000;
  app.add_flag("--track-completions", track,
               "answer GET /bench/await?gid= once the gid's last forward action arrived");
  app.add_option("--await-timeout-ms", await_ms, "how long /bench/await waits")
      ->check(CLI::Range(1, 600000));
  CLI11_PARSE(app, argc, argv);
  Completions tracked;
  if (track) completions = &tracked;
  await_timeout = std::chrono::milliseconds(await_ms);

  asio::io_context io(threads);
  lynx::http::Server server(io, lynx::http::ServerOptions{}, Answer);
  if (auto st = server.Listen(address, port); !st.ok()) {
    std::cerr << "bench_busi: " << st.message() << "\n";
    return 1;
  }
  server.Start();
  if (!port_file.empty() && !WritePortFile(port_file, server.port())) {
    std::cerr << "bench_busi: cannot write " << port_file << "\n";
    return 1;
  }
  std::cout << "bench_busi listening on " << address << ":" << server.port() << " (" << threads
            << " threads)" << std::endl;

  // The signal handler runs on an io thread, where Server::Stop must be called.
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code&, int) {
    server.Stop();
    io.stop();
  });

  std::vector<std::thread> pool;
  for (int i = 1; i < threads; ++i) pool.emplace_back([&io] { io.run(); });
  io.run();
  for (auto& t : pool) t.join();
  return 0;
}
