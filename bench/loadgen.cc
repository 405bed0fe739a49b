// dtm_loadgen: closed-loop load against a DTM server (dtmd or DTM itself) in DTM's benchmark
// shapes (shapes.h). N client coroutines each run one transaction after another through one
// pooled keep-alive client, so N is the number of transactions in flight. After a warm-up, the
// transactions that finish inside the measured window are counted with their latency (the whole
// transaction as the client sees it); afterwards a sample of the counted gids is queried back,
// so a 200 that did not leave a succeeded transaction cannot pass unnoticed.
//
// --complete-at reply (default): the submit carries wait_result, so its reply means finished.
// --complete-at busi: the submit does not wait; the client then waits at bench_busi
// (--track-completions) until the transaction's last forward action arrived there — the only way
// to see the end of a dtmrs transaction (no wait_result), and the same measure for every server.
// --dialect dtmrs sends dtmrs's request shapes (shapes.h) and reads its /query reply.
//
//   dtm_loadgen --dtm http://127.0.0.1:36789/api/dtmsvr --busi http://127.0.0.1:PORT/api/busi
//               --mode saga --concurrency 32 --duration 10 [--server-pid PID] [--json]
//
// Exit status: 0 when every transaction succeeded and was verified; 1 after printing when there
// were errors, unverified gids or no transaction at all.
#include <unistd.h>
#include <CLI/CLI.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json/parse.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <future>
#include <iostream>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "common/http_client.h"
#include "proc_stats.h"
#include "report.h"
#include "shapes.h"

namespace {

namespace asio = boost::asio;
namespace bj = boost::json;
namespace bench = lynx::bench;
using Clock = std::chrono::steady_clock;

struct Options {
  std::string dtm = "http://127.0.0.1:36789/api/dtmsvr";
  std::string busi;
  std::string mode = "saga";
  int concurrency = 32;
  int threads = 1;
  double duration_s = 10;
  double warmup_s = 1;
  int64_t count = 0;        // > 0: measure this many transactions instead of a duration
  std::string server_pids;  // comma-separated; their CPU is summed, peak RSS is the largest
  int64_t timeout_ms = 30000;
  int verify = 200;
  bool json = false;
  std::string complete_at = "reply";  // or "busi"
  std::string dialect = "dtm";        // or "dtmrs"
  std::string token;  // bearer token for the DTM server's calls (dtmd with Auth.Enabled)
};

// State shared by the client coroutines (which may run on several io threads).
struct Run {
  Run(const Options& opt, const std::vector<bench::Shapes>& shapes,
      std::vector<std::string> dtm_urls, lynx::http::ClientPool& pool, std::string gid_prefix)
      : opt(opt),
        shapes(shapes),
        dtm_urls(std::move(dtm_urls)),
        pool(pool),
        gid_prefix(std::move(gid_prefix)) {}

  const Options& opt;
  // One per server (--dtm lists several instances sharing one store: client i uses i % n).
  const std::vector<bench::Shapes>& shapes;
  const std::vector<std::string> dtm_urls;
  lynx::http::ClientPool& pool;
  std::string gid_prefix;
  std::string await_url;  // --complete-at busi: bench_busi's /bench/await?gid=
  Clock::time_point measure_from;
  Clock::time_point measure_until;  // duration mode only
  std::atomic<uint64_t> next_gid{0};
  std::atomic<int64_t> tickets{0};  // count mode: measured transactions started
  std::atomic<int64_t> errors{0};
  std::mutex mu;
  std::string first_error;

  // Fixed width, so that no gid is a prefix of another: DTM's BoltDB store finds a transaction's
  // branches by gid prefix and mixes "…-1" with "…-10" (seen here: its tcc never finished).
  std::string Gid(uint64_t n) const {
    std::string digits = std::to_string(n);
    return gid_prefix + std::string(digits.size() < 12 ? 12 - digits.size() : 0, '0') + digits;
  }

  void Error(std::string message) {
    if (errors.fetch_add(1) == 0) {
      std::lock_guard lock(mu);
      first_error = std::move(message);
    }
  }
};

// What one client coroutine measured; merged after the run (no sharing while running).
struct WorkerResult {
  std::vector<int64_t> latency_ns;
  std::vector<uint64_t> gids;  // the counted transactions' gid numbers
};

std::string Truncated(const std::string& s, size_t max = 300) {
  return s.size() <= max ? s : s.substr(0, max) + "...";
}

// Runs one transaction's calls in order; "" when all answered 200, else what went wrong.
asio::awaitable<std::string> RunTransaction(Run& run, const bench::Shapes& shapes,
                                            const std::string& gid) {
  for (auto& call : shapes.Transaction(gid)) {
    lynx::http::ClientRequest req;
    req.method = call.method;
    req.url = std::move(call.url);
    req.body = std::move(call.body);
    req.headers = {{"Content-Type", "application/json"}};
    if (!run.opt.token.empty() &&
        std::any_of(run.dtm_urls.begin(), run.dtm_urls.end(),
                    [&req](const std::string& dtm) { return req.url.rfind(dtm, 0) == 0; })) {
      req.headers.emplace_back("Authorization", "Bearer " + run.opt.token);
    }
    req.timeout_ms = run.opt.timeout_ms;
    auto res = co_await run.pool.Send(std::move(req));
    if (!res.ok()) co_return std::string(call.what) + " " + gid + ": " + res.status().message();
    // The Go SDK's rule (TransCallDtmExt): an error when not 200 or when the body says FAILURE.
    if (res->status != 200 || res->body.find("FAILURE") != std::string::npos) {
      co_return std::string(call.what) + " " + gid + ": HTTP " + std::to_string(res->status) + " " +
          Truncated(res->body);
    }
  }
  if (run.opt.complete_at == "busi") {
    lynx::http::ClientRequest req;
    req.url = run.await_url + gid;
    req.timeout_ms = run.opt.timeout_ms + 5000;  // bench_busi answers 408 first
    auto res = co_await run.pool.Send(std::move(req));
    if (!res.ok()) co_return "await " + gid + ": " + res.status().message();
    if (res->status != 200) {
      co_return "await " + gid + ": HTTP " + std::to_string(res->status) + " " +
          Truncated(res->body);
    }
  }
  co_return "";
}

asio::awaitable<void> Worker(Run& run, const bench::Shapes& shapes, WorkerResult& out) {
  const bool count_mode = run.opt.count > 0;
  asio::steady_timer backoff(co_await asio::this_coro::executor);
  for (;;) {
    const auto start = Clock::now();
    if (!count_mode && start >= run.measure_until) break;
    // Count mode: a transaction is measured when it starts after the warm-up and gets one of
    // the `count` tickets; the run ends when the tickets are gone and the last one finished.
    bool ticket = false;
    if (count_mode && start >= run.measure_from) {
      if (run.tickets.fetch_add(1) >= run.opt.count) break;
      ticket = true;
    }
    const uint64_t n = run.next_gid.fetch_add(1, std::memory_order_relaxed);
    std::string error = co_await RunTransaction(run, shapes, run.Gid(n));
    const auto end = Clock::now();
    if (!error.empty()) {
      run.Error(std::move(error));
      // Keeps a dead server from turning the run into a hot loop of connection errors.
      backoff.expires_after(std::chrono::milliseconds(10));
      co_await backoff.async_wait(asio::use_awaitable);
      continue;
    }
    // Duration mode: a transaction counts when it finished inside the window.
    const bool counted =
        count_mode ? ticket : (end >= run.measure_from && end <= run.measure_until);
    if (counted) {
      out.latency_ns.push_back(
          std::chrono::duration_cast<std::chrono::nanoseconds>(end - start).count());
      out.gids.push_back(n);
    }
  }
}

// Queries up to opt.verify counted gids, spread evenly over the run, and counts those whose
// global status is not "succeed".
asio::awaitable<void> Verify(Run& run, std::vector<uint64_t> gids, bench::Report* report) {
  std::sort(gids.begin(), gids.end());
  const size_t k = std::min(gids.size(), static_cast<size_t>(std::max(run.opt.verify, 0)));
  for (size_t i = 0; i < k; ++i) {
    const std::string gid = run.Gid(gids[i * gids.size() / k]);
    lynx::http::ClientRequest req;
    req.url = run.shapes.front().QueryUrl(gid);
    if (!run.opt.token.empty())
      req.headers.emplace_back("Authorization", "Bearer " + run.opt.token);
    req.timeout_ms = run.opt.timeout_ms;
    auto res = co_await run.pool.Send(std::move(req));
    std::string status;
    if (res.ok() && res->status == 200) {
      boost::system::error_code ec;
      bj::value v = bj::parse(res->body, ec);
      // DTM's reply nests the record under "transaction"; dtmrs's is the record itself.
      const bj::value* t =
          !ec && v.is_object()
              ? (run.opt.dialect == "dtmrs" ? &v : v.get_object().if_contains("transaction"))
              : nullptr;
      const bj::value* s =
          t != nullptr && t->is_object() ? t->get_object().if_contains("status") : nullptr;
      status = s != nullptr && s->is_string() ? std::string(s->get_string()) : "(no status)";
    } else {
      status = res.ok() ? "query HTTP " + std::to_string(res->status) : res.status().message();
    }
    ++report->verified;
    if (status != "succeed") {
      if (report->unverified++ == 0) report->first_unverified = gid + ": " + Truncated(status);
    }
  }
}

// Letters, digits and '-' only, unique per process and start time, so runs against one store
// never collide (gids are at most 128 characters).
std::string GidPrefix(const std::string& mode) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
  return "lg-" + mode + "-" + std::to_string(getpid()) + "-" + std::to_string(ms) + "-";
}

std::vector<std::string> SplitCommas(const std::string& list) {
  std::vector<std::string> out;
  size_t from = 0;
  while (from <= list.size()) {
    const size_t comma = std::min(list.find(',', from), list.size());
    if (comma > from) out.push_back(list.substr(from, comma - from));
    from = comma + 1;
  }
  return out;
}

std::string StripSlash(std::string url) {
  while (!url.empty() && url.back() == '/') url.pop_back();
  return url;
}

}  // namespace

int main(int argc, char** argv) {
  Options opt;
  CLI::App app{"dtm_loadgen: closed-loop saga / msg / tcc load against a DTM server"};
  app.add_option("--dtm", opt.dtm,
                 "DTM server API URL; several, comma-separated, for instances sharing one store "
                 "(client i uses the i-th modulo their number)")
      ->capture_default_str();
  app.add_option("--busi", opt.busi,
                 "business service URL (bench_busi), e.g. "
                 "http://127.0.0.1:PORT/api/busi")
      ->required();
  app.add_option("--mode", opt.mode, "transaction shape")
      ->check(CLI::IsMember({"saga", "msg", "tcc"}))
      ->capture_default_str();
  app.add_option("--concurrency", opt.concurrency, "client coroutines (transactions in flight)")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  app.add_option("--threads", opt.threads, "io threads")->check(CLI::Range(1, 256));
  app.add_option("--duration", opt.duration_s, "measured seconds")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--warmup", opt.warmup_s, "seconds before measuring (not counted)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--count", opt.count,
                 "measure this many transactions instead of --duration (e.g. to fill a store)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--server-pid", opt.server_pids,
                 "the DTM server's pid: report its CPU time and memory (several, comma-separated: "
                 "CPU summed, the largest peak RSS)");
  app.add_option("--timeout-ms", opt.timeout_ms, "per HTTP call")->capture_default_str();
  app.add_option("--token", opt.token,
                 "bearer token sent to the DTM server (dtmd with Auth.Enabled; client role)");
  app.add_option("--verify", opt.verify, "counted gids queried back after the run")
      ->capture_default_str();
  app.add_flag("--json", opt.json, "one JSON line instead of a human line");
  app.add_option("--complete-at", opt.complete_at,
                 "reply: the submit waits for the result; busi: await the last forward action "
                 "at bench_busi --track-completions")
      ->check(CLI::IsMember({"reply", "busi"}))
      ->capture_default_str();
  app.add_option("--dialect", opt.dialect, "request shapes of the server")
      ->check(CLI::IsMember({"dtm", "dtmrs"}))
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  bench::Mode mode{};
  bench::ParseMode(opt.mode, &mode);
  const bool dtmrs = opt.dialect == "dtmrs";
  if (dtmrs && (mode == bench::Mode::kTcc || opt.complete_at != "busi")) {
    std::cerr << "dtm_loadgen: --dialect dtmrs runs saga and msg with --complete-at busi only\n";
    return 2;
  }
  std::vector<std::string> dtm_urls;
  std::vector<bench::Shapes> shapes;
  for (const std::string& url : SplitCommas(opt.dtm)) {
    dtm_urls.push_back(StripSlash(url));
    shapes.emplace_back(mode, dtm_urls.back(), StripSlash(opt.busi),
                        dtmrs ? bench::Dialect::kDtmrs : bench::Dialect::kDtm,
                        opt.complete_at == "reply");
  }
  if (shapes.empty()) {
    std::cerr << "dtm_loadgen: --dtm names no server\n";
    return 2;
  }
  std::vector<pid_t> server_pids;
  for (const std::string& pid : SplitCommas(opt.server_pids)) {
    server_pids.push_back(static_cast<pid_t>(std::atoi(pid.c_str())));
    if (server_pids.back() <= 0 || !bench::ReadProc(server_pids.back())) {
      std::cerr << "dtm_loadgen: no process " << pid << " to measure\n";
      return 2;
    }
  }
  // The servers' CPU summed and their largest peak RSS; nullopt when one is gone.
  const auto sample = [&server_pids]() -> std::optional<bench::ProcSample> {
    if (server_pids.empty()) return std::nullopt;
    bench::ProcSample sum;
    for (pid_t pid : server_pids) {
      auto one = bench::ReadProc(pid);
      if (!one) return std::nullopt;
      sum.cpu_seconds += one->cpu_seconds;
      sum.peak_rss_kb = std::max(sum.peak_rss_kb, one->peak_rss_kb);
      sum.rss_kb = std::max(sum.rss_kb, one->rss_kb);
    }
    return sum;
  };
  std::optional<bench::ProcSample> server_before;

  asio::io_context io(opt.threads);
  auto work = asio::make_work_guard(io);
  std::vector<std::thread> threads;
  for (int i = 0; i < opt.threads; ++i) threads.emplace_back([&io] { io.run(); });

  // One idle slot per client and host: fewer would close and reopen connections every round.
  lynx::http::ClientOptions client_options;
  client_options.max_conns_per_host =
      std::max<size_t>(client_options.max_conns_per_host, static_cast<size_t>(opt.concurrency));
  lynx::http::ClientPool pool(io.get_executor(), client_options);

  const auto start = Clock::now();
  const auto seconds = [](double s) {
    return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s));
  };
  Run run(opt, shapes, dtm_urls, pool, GidPrefix(opt.mode));
  {
    // http://host:port/api/busi -> http://host:port/bench/await?gid=
    std::string base = StripSlash(opt.busi);
    const size_t api = base.rfind("/api/");
    run.await_url = (api == std::string::npos ? base : base.substr(0, api)) + "/bench/await?gid=";
  }
  run.measure_from = start + seconds(opt.warmup_s);
  run.measure_until = run.measure_from + seconds(opt.duration_s);

  std::vector<WorkerResult> results(static_cast<size_t>(opt.concurrency));
  std::vector<std::future<void>> done;
  for (size_t i = 0; i < results.size(); ++i) {
    done.push_back(
        asio::co_spawn(io, Worker(run, shapes[i % shapes.size()], results[i]), asio::use_future));
  }

  // The server's CPU time over the measured window (the main thread only watches the clock).
  std::this_thread::sleep_until(run.measure_from);
  server_before = sample();
  Clock::time_point window_end = run.measure_until;
  std::optional<bench::ProcSample> server_after;
  if (opt.count == 0) {
    std::this_thread::sleep_until(run.measure_until);
    server_after = sample();
  }
  for (auto& f : done) f.get();
  if (opt.count > 0) {
    window_end = Clock::now();
    server_after = sample();
  }

  bench::Report report;
  report.mode = opt.mode;
  report.concurrency = opt.concurrency;
  report.threads = opt.threads;
  report.warmup_s = opt.warmup_s;
  report.window_s = std::chrono::duration<double>(window_end - run.measure_from).count();
  std::vector<int64_t> latency;
  std::vector<uint64_t> gids;
  for (auto& r : results) {
    latency.insert(latency.end(), r.latency_ns.begin(), r.latency_ns.end());
    gids.insert(gids.end(), r.gids.begin(), r.gids.end());
  }
  bench::Summarize(latency, &report);
  report.tps = report.window_s > 0 ? static_cast<double>(report.count) / report.window_s : 0;
  report.errors = run.errors.load();
  {
    std::lock_guard lock(run.mu);
    report.first_error = run.first_error;
  }
  if (server_before && server_after) {
    report.server_cpu_s = server_after->cpu_seconds - server_before->cpu_seconds;
    report.server_cpu_pct =
        report.window_s > 0 ? 100.0 * *report.server_cpu_s / report.window_s : 0.0;
    report.server_end = server_after;
  }

  asio::co_spawn(io, Verify(run, std::move(gids), &report), asio::use_future).get();
  work.reset();
  pool.CloseIdle();
  for (auto& t : threads) t.join();

  std::cout << (opt.json ? bench::ToJson(report) : bench::ToHuman(report)) << std::endl;
  return report.errors == 0 && report.unverified == 0 && report.count > 0 ? 0 : 1;
}
